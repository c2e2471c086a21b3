"""What approving a request carries out, and what its undo takes back: one :class:`Action`, of one kind.

Each kind says what it touches on 3CX's lists (``removes``: the request's entries, else only an allow entry),
how much it lets in (``breadth``), and, from what 3CX did with each target, whether carrying it out is done,
changed anything, and whether its undo is done. Carrying out follows the
same path for every kind, fresh or after a restart (:mod:`bot.domain.execution`).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from .entries import Target
from .lookup import Network
from .outcomes import Outcome
from .rules import entry_network


@dataclass(frozen=True, slots=True)
class Result:
    """What 3CX did with one target, and its answer for the record."""

    outcome: Outcome
    answer: str
    #: the Id of the entry that an undo created
    new_id: str | None = None
    #: the bot finished this after a restart (it had stopped while 3CX was working on it)
    after_restart: bool = False
    #: the allow entry that lets the address in now (this request's, or one already there)
    allow_id: int | None = None
    #: until when that entry allows the address (None: without an end, or no allow entry)
    allowed_until: float | None = None
    #: the allow entry was there already (an undo leaves it alone)
    allow_existed: bool = False

    @property
    def added_allow(self) -> int | None:
        """The allow entry this request added, which an undo removes."""
        return self.allow_id if not self.allow_existed else None


#: the widest network Unblock and allow lets in, by IP version: one click must never open a large range
WIDEST_ALLOWED = {4: 24, 6: 64}


class Does(enum.StrEnum):
    """The kinds of action, by the words the record keeps for them."""

    #: remove the entries
    UNBLOCK = "unblock"
    #: remove the entries, then add an allow entry for the address for a while
    UNBLOCK_AND_ALLOW = "unblock_and_allow"
    #: leave the network's block in place and add an allow entry for the one address asked for, for a while
    ALLOW_ONLY = "allow_only"


@dataclass(frozen=True, slots=True)
class Action:
    """One action and, for those that add an allow entry, for how many seconds it lets the address in."""

    does: Does = Does.UNBLOCK
    allow_for: float | None = None

    def __post_init__(self) -> None:
        if (self.does is Does.UNBLOCK) != (self.allow_for is None):
            raise ValueError(f"{self.does} takes a duration exactly when it adds an allow entry")

    @property
    def removes(self) -> bool:
        """It removes the request's entries (what an undo puts back)."""
        return self.does is not Does.ALLOW_ONLY

    @property
    def breadth(self) -> tuple[int, float]:
        """How much it lets in, to rank actions from the narrowest: Allow only (one address, the block left in
        place; shorter first), then Unblock (the whole entry removed), then Unblock and allow (shorter first)."""
        rank = {Does.ALLOW_ONLY: 0, Does.UNBLOCK: 1, Does.UNBLOCK_AND_ALLOW: 2}[self.does]
        return rank, self.allow_for or 0.0

    @property
    def record(self) -> dict[str, object]:
        """For the record: ``{"action": "allow_only", "allow_for": 3600.0}``."""
        duration = {} if self.allow_for is None else {"allow_for": float(self.allow_for)}
        return {"action": self.does.value, **duration}

    def offered(self, targets: Sequence[Target], address: str | None) -> bool:
        """It may be chosen for a request about ``targets`` (``address``: the one address asked for inside the
        entry's wider network): Unblock always; Unblock and allow when ``allowable``; Allow only with an address."""
        if self.does is Does.ALLOW_ONLY:
            return address is not None
        return self.does is Does.UNBLOCK or allowable(targets)

    def done(self, results: Sequence[Result]) -> bool:
        """Carried out in full: every entry gone, or the asked address allowed."""
        return all(r.outcome.gone if self.removes else r.outcome is Outcome.ALLOWED for r in results)

    def changed(self, results: Sequence[Result]) -> bool:
        """It changed 3CX, so Undo is offered: an entry this request removed, or an allow entry it added."""
        return any(r.outcome is Outcome.DELETED if self.removes else r.added_allow is not None for r in results)

    def undone(self, results: Sequence[Result]) -> bool:
        """Its undo is complete: every entry back, or the allow entry gone."""
        return all(r.outcome is Outcome.RESTORED if self.removes else r.outcome.gone for r in results)


#: Approve: remove the entries, and nothing more
UNBLOCK = Action()


def network(targets: Sequence[Target]) -> Network | None:
    """The address or network of a request about one IP blocklist entry (None: another kind, or unreadable)."""
    return entry_network(targets[0]) if len(targets) == 1 else None


def allowable(targets: Sequence[Target]) -> bool:
    """Unblock and allow is offered: the request is about one IP blocklist entry for one address or a network
    no wider than ``WIDEST_ALLOWED``."""
    net = network(targets)
    return net is not None and net.prefixlen >= WIDEST_ALLOWED[net.version]
