"""Who may unblock what: the operator's rules, in the domain's words.

A rule's conditions (the networks an entry lies in, how wide its network is, which list it is on, who added
it) must all hold for the rule to match an entry; a rule without conditions matches every entry. The first
rule that matches an entry decides for it: who may approve, how many distinct approvers must, which
Approve-and-allow durations are offered, whether it is carried out without approval at all, and when a request
still waiting is brought to its approvers' attention again (reminded) or to other people's (escalated). When no rule
matches, the settings decide (``Rules.default``, a rule without a name).

A request for several entries follows the strictest of their rules (:meth:`Rules.rule_for_all`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .entries import BlocklistEntry, Kind, Target
from .lookup import Network, contains, read_network


@dataclass(frozen=True, slots=True)
class Approvers:
    """Who may approve: user ids, user-group ids, or ``*`` for anyone."""

    users: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()
    anyone: bool = False


#: how wide an entry's network must be (its prefix shorter than this), by IP version, when a rule gives a width
#: for the other family only
DEFAULT_WIDER_THAN = {4: 24, 6: 64}
#: approvers of a rule built without any
NOBODY = Approvers()
#: how long an allow entry may last in all, counted from when it was added, when a rule does not say (``allow_max``)
DEFAULT_ALLOW_MAX = 30 * 86400.0


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule: its conditions, and what it decides for the entries it matches."""

    #: shown on cards, in history and in the audit record; None for the settings' default
    name: str | None = None
    #: the entry's address or network lies inside one of these; empty: no such condition
    networks: tuple[Network, ...] = ()
    #: an IPv4 entry's prefix is shorter than this (a /16 is wider than /24); with ``wider_than_v6``, if
    #: either is given both apply, the one left out at its default
    wider_than: int | None = None
    wider_than_v6: int | None = None
    #: which list the entry is on
    kind: Kind | None = None
    #: the entry's ``added_by`` equals this, ignoring case
    added_by: str | None = None
    #: who may approve (the settings' ``UNBLOCK_APPROVERS`` when the rule names none)
    approvers: Approvers = NOBODY
    #: distinct approvers needed, never the requester
    approvals: int = 1
    #: the durations Approve and allow offers, in seconds; empty: not offered
    allow: tuple[float, ...] = ()
    #: the longest an allow entry may last in all, counted from when it was added: Extend never goes past it
    allow_max: float = DEFAULT_ALLOW_MAX
    #: carried out without approval
    auto: bool = False
    #: (with ``auto``) the watcher unblocks such entries as soon as it sees them
    auto_on_watch: bool = False
    #: seconds a request may wait before its approvers are reminded, once (0: never)
    remind_after: float = 0.0
    #: seconds a request may wait before it is escalated to ``escalate_to``, once (0: never)
    escalate_after: float = 0.0
    #: who a request is escalated to: they may then approve or deny it like its approvers
    escalate_to: Approvers = NOBODY

    def matches(self, entry: Target) -> bool:
        """Whether every condition of the rule holds for ``entry``. A network is wider than the rule's width for
        its family when its prefix is shorter; a single address never is."""
        if self.kind is not None and entry.kind is not self.kind:
            return False
        if self.added_by is not None:
            added_by = entry.added_by if isinstance(entry, BlocklistEntry) else None
            if added_by is None or added_by.strip().casefold() != self.added_by.strip().casefold():
                return False
        widens = self.wider_than is not None or self.wider_than_v6 is not None
        if not (self.networks or widens):
            return True
        network = entry_network(entry)
        if network is None:  # a caller number, or an entry without an address that is one
            return False
        if self.networks and not any(contains(allowed, network) for allowed in self.networks):
            return False
        if not widens:
            return True
        width = self.wider_than if network.version == 4 else self.wider_than_v6
        if width is None:
            width = DEFAULT_WIDER_THAN[network.version]
        return network.prefixlen < min(width, network.max_prefixlen)


@dataclass(frozen=True, slots=True)
class Rules:
    """The rules in the order they were written, and the settings' default for entries none matches."""

    rules: tuple[Rule, ...]
    default: Rule

    @property
    def every(self) -> tuple[Rule, ...]:
        """The rules, then the default."""
        return (*self.rules, self.default)

    def rule_for(self, entry: Target) -> Rule:
        """The first rule that matches ``entry``, else the default."""
        return self._placed(entry)[1]

    def rule_for_all(self, entries: Iterable[Target]) -> Rule:
        """The strictest of the rules of ``entries`` (the default when there are none): the one that needs
        more approvals; then one that is not carried out without approval; then the one whose longest
        Approve-and-allow duration is shorter (none is shortest), then the one offering fewer, then the one whose
        ``allow_max`` is shorter; then the rule written first."""
        placed = [self._placed(entry) for entry in entries]
        if not placed:
            return self.default
        return min(placed, key=lambda found: (_strictness(found[1]), found[0]))[1]

    def _placed(self, entry: Target) -> tuple[int, Rule]:
        """The rule for ``entry`` and where it stands (the default after every rule)."""
        for position, rule in enumerate(self.rules):
            if rule.matches(entry):
                return position, rule
        return len(self.rules), self.default


def entry_network(entry: Target) -> Network | None:
    """The address or network an entry is about (3CX writes ``203.0.113.7``, ``203.0.113.0/24`` or
    ``203.0.113.0/255.255.255.0``); None for a caller number or text that is neither."""
    return read_network(entry.address)


def _strictness(rule: Rule) -> tuple[int, bool, float, int, float]:
    """Smaller is stricter."""
    return -rule.approvals, rule.auto, max(rule.allow, default=0.0), len(rule.allow), rule.allow_max
