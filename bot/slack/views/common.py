"""Pieces every view uses: dates, entries described, and the budgets for text from elsewhere."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from datetime import UTC, datetime, tzinfo

from ...domain.model import (
    WATCHER,
    Approval,
    BlocklistEntry,
    Outcome,
    Result,
    State,
    Target,
    UnblockRequest,
    expiry,
)
from ...domain.requests import RECURRENCE_WINDOW, duration_words
from ..blocks import fields, fit

#: budgets for text from elsewhere, in characters before escaping
LABEL = 120
DESCRIPTION = 300
DESCRIPTION_IN_LIST = 150
ANSWER = 500
#: an operator's rule name, on a card and in a message; in a line of a list
RULE = 200
RULE_IN_LIST = 60
#: how far back, in days, the earlier unblocks of what a request is about are counted
RECURRENCE_DAYS = int(RECURRENCE_WINDOW // 86400)


def slack_date(epoch: float, zone: tzinfo = UTC) -> str:
    """A time every reader sees in their own time zone (in ``zone`` as the fallback text)."""
    shown = datetime.fromtimestamp(epoch, zone).strftime("%Y-%m-%d %H:%M %Z")
    return f"<!date^{int(epoch)}^{{date_short_pretty}} at {{time}}|{shown}>"


def entry_expiry(value: str | None) -> str:
    """3CX's ``ExpiresAt``: a readable date, ``never`` for its empty dates."""
    try:
        moment = expiry(value)
    except ValueError:
        return fit(value or "", 60)
    return "never" if moment is None else slack_date(moment.timestamp())


def label(target: Target) -> str:
    return fit(target.label, LABEL)


def title(request: UnblockRequest) -> str:
    return fit(request.title, LABEL)


#: who asked for what the bot's watch of the IP blocklist unblocked by its rule (no Slack user did)
WATCH = "the bot, watching the IP blocklist"


def mention(user: str | None) -> str:
    if user == WATCHER:
        return WATCH
    return f"<@{user}>" if user else "the bot"


def listed(names: Sequence[str], last: str = "and") -> str:
    """Names for a sentence: ``a``, ``a and b``, ``a, b and c`` (``last``: the word before the last name)."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} {last} {names[-1]}"


def people(users: Sequence[str | None]) -> str:
    """Several people, for a sentence: ``<@U1>``, ``<@U1> and <@U2>``, ``<@U1>, <@U2> and <@U3>``."""
    return listed([mention(u) for u in users])


def times(count: int) -> str:
    """How often: ``once``, ``3 times``."""
    return "once" if count == 1 else f"{count} times"


def counted(count: int, one: str, many: str) -> str:
    """A count and its noun, in the right number: ``1 entry``, ``3 entries``, ``0 entries``."""
    return f"{count} {one if count == 1 else many}"


def rule_name(request: UnblockRequest, budget: int = RULE) -> str:
    """The name of the request's rule, for a sentence (``its rule`` when the rule has none)."""
    return fit(request.rule, budget) if request.rule else "its rule"


def by_rule(request: UnblockRequest) -> str:
    """``automatically by rule 'Branch offices'``: who carried out a request nobody approved."""
    return f"automatically by rule '{fit(request.rule, RULE)}'" if request.rule else "automatically by its rule"


def carried_out_by_rule(request: UnblockRequest) -> bool:
    """Its rule carried it out without approval (and its words say so: "…automatically by rule 'X'")."""
    return request.auto and request.resolved_by is None and request.state not in _NOT_CARRIED_OUT


_NOT_CARRIED_OUT = frozenset({State.PENDING, State.DENIED, State.CANCELLED, State.EXPIRED})


def unblocker(request: UnblockRequest) -> str:
    """Who unblocked what a request was about: ``<@U1>``, or ``rule 'Branch offices'`` (``its rule``) when its rule
    carried it out."""
    if carried_out_by_rule(request):
        return f"rule '{fit(request.rule, RULE)}'" if request.rule else "its rule"
    return mention(request.resolved_by)


def approvals_so_far(request: UnblockRequest, *, names: bool = True) -> str | None:
    """A pending request that needs several approvals: ``1 of 2 approvals: <@U1>`` (``names``: who approved)."""
    if request.state is not State.PENDING or request.approvals_needed < 2:
        return None
    count = f"{len(request.approvals)} of {request.approvals_needed} approvals"
    return f"{count}: {approved(request)}" if names and request.approvals else count


def approved(request: UnblockRequest) -> str:
    """Who approved a request that needs several approvals, and what each approved, unless every one approved a
    plain Approve: ``<@U1> and <@U2>``, ``<@U1> (allow only 192.0.2.130 for 1 hour) and <@U2> (unblock)``."""
    if all(approval.plain for approval in request.approvals):
        return people(request.approved_by)
    return listed([f"{mention(a.user)} ({approved_action(request, a)})" for a in request.approvals])


def approved_action(request: UnblockRequest, approval: Approval) -> str:
    """What one approval was for: ``unblock``, ``unblock and allow for 1 hour``, ``allow only 192.0.2.130 for 1
    hour``."""
    if approval.allow_for is None:
        return "unblock"
    duration = duration_words(approval.allow_for)
    if approval.allow_only:
        return f"allow only {fit(request.asked_address or '', LABEL)} for {duration}"
    return f"unblock and allow for {duration}"


def under_rule(request: UnblockRequest, budget: int = RULE_IN_LIST, *, names: bool = False) -> list[str]:
    """For a line of a list: the rule that decides (unless the words already name it) and the approvals so far:
    ``rule 'Wide networks'``, ``1 of 2 approvals`` (``names``: ``1 of 2 approvals: <@U1>``)."""
    parts = [f"rule '{fit(request.rule, budget)}'"] if request.rule and not carried_out_by_rule(request) else []
    return parts + list(filter(None, [approvals_so_far(request, names=names)]))


def block_type(entry: BlocklistEntry) -> str | None:
    """The entry's block type when it says something (every blocking entry but ``Block``); None otherwise."""
    kind = (entry.block_type or "").strip()
    return fit(kind, 40) if kind and kind != "Block" else None


def addresses(net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> str:
    """How many addresses a network covers, readably: ``65,536 addresses``, ``2^64 addresses``."""
    bits = net.max_prefixlen - net.prefixlen
    return f"{net.num_addresses:,} addresses" if bits <= 32 else f"2^{bits} addresses"


def _network(target: Target) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    """The network an IP entry names, when it is wider than one address."""
    try:
        net = ipaddress.ip_network((target.address or "").strip(), strict=False)
    except ValueError:
        return None
    return net if net.prefixlen < net.max_prefixlen else None


def describe(target: Target, description: int = DESCRIPTION) -> str:
    """One line about an entry: what it blocks and where it came from."""
    parts = [f"`{label(target)}`"]
    if isinstance(target, BlocklistEntry):  # an IP entry says more about itself than a number
        net = _network(target)
        parts += [f"entry {target.id}", *([addresses(net)] if net is not None else []),
                  *filter(None, [block_type(target)]), f"added by {fit(target.added_by or 'unknown', 40)}",
                  f"expires {entry_expiry(target.expires_at)}"]  # fmt: skip
    if target.description:
        parts.append(f"_{fit(target.description, description)}_")
    return " · ".join(parts)


def entry_fields(target: Target) -> dict[str, object]:
    """One entry, of either list, as the fields of a card: the list it is on and what 3CX says of it (its
    address or number is in the card's headline)."""
    described = fit(target.description, 1500) if target.description else "_none_"
    if not isinstance(target, BlocklistEntry):
        return fields([("List", "Caller-number blacklist"), ("Description", described)])
    pairs = [("List", f"IP blocklist, entry {target.id}"), ("Description", described)]
    net = _network(target)
    if net is not None:
        pairs.append(("Covers", addresses(net)))
    kind = block_type(target)
    if kind is not None:
        pairs.append(("Block type", kind))
    pairs += [("Added by", fit(target.added_by or "unknown", 40)), ("Expires", entry_expiry(target.expires_at))]
    return fields(pairs)


#: how many entries a card or a chooser lists before it says "and N more"
SHOWN_ENTRIES = 10


def target_lines(targets: Sequence[Target], results: Sequence[Result] = ()) -> str:
    """One line per entry (at most ``SHOWN_ENTRIES``), marked with how 3CX answered for it."""
    lines = []
    for n, target in enumerate(targets[:SHOWN_ENTRIES]):
        mark = ""
        if n < len(results):
            done = results[n].outcome.gone or results[n].outcome is Outcome.RESTORED
            mark = ":white_check_mark: " if done else ":x: "
        lines.append(f"• {mark}{describe(target, DESCRIPTION_IN_LIST)}")
    if len(targets) > SHOWN_ENTRIES:
        lines.append(f"…and {len(targets) - SHOWN_ENTRIES} more")
    return "\n".join(lines)


def what(request: UnblockRequest) -> str:
    """What a request is about, for a headline: ``203.0.113.7``, ``+15550100`` or ``3 entries``."""
    return title(request)


def single_entry(request: UnblockRequest) -> Target | None:
    """The request's one entry, when it covers exactly one (its card shows it as fields)."""
    return request.targets[0] if len(request.targets) == 1 else None


def ended(request: UnblockRequest) -> str:
    """Where a request stands, as the end of "Request to unblock X …": the one pattern of every outcome, on the
    card, in history, in the Home tab, in the direct message and in the channel where it was asked."""
    approver, asker, undoer = mention(request.resolved_by), mention(request.requester), mention(request.undone_by)
    it, is_, was, them = ("they", "are", "were", "them") if len(request.targets) > 1 else ("it", "is", "was", "it")
    if carried_out_by_rule(request) and request.state not in _UNDOING_OR_UNDONE:  # an undo reads as any other
        return _ended_by_rule(request, it, is_, was, them, undoer)
    if request.allow_only:
        return _ended_allow_only(request, approver, undoer)
    match request.state:
        case State.PENDING:
            return "is waiting for approval"
        case State.EXECUTING:
            return f"was approved by {approver}; unblocking…"
        case State.UNBLOCKED if _already_gone(request):
            return f"was approved by {approver}; {it} {was} already gone from 3CX"
        case State.UNBLOCKED:
            return f"was approved by {approver}, and {it} {is_} unblocked"
        case State.FAILED:
            return f"was approved by {approver}, but {it} could not be unblocked"
        case State.DENIED:
            return f"was denied by {approver}"
        case State.CANCELLED if request.withdrawn:
            return "was withdrawn: its card could not be posted"
        case State.CANCELLED:
            return f"was cancelled by {asker}"
        case State.EXPIRED:
            return "expired without approval"
        case State.UNDOING:
            return f"is being undone by {undoer}: blocking {them} again…"
        case State.UNDONE:
            return f"was undone by {undoer}: {it} {is_} blocked again"
        case _:
            return f"was approved by {approver}; the undo by {undoer} could not block {them} again"


_UNDOING_OR_UNDONE = frozenset({State.UNDOING, State.UNDONE})


def _already_gone(request: UnblockRequest) -> bool:
    """3CX had none of the request's entries any more when it was carried out."""
    return bool(request.results) and all(r.outcome is Outcome.ALREADY_GONE for r in request.results)


def _ended_by_rule(request: UnblockRequest, it: str, is_: str, was: str, them: str, undoer: str) -> str:
    """Where a request its rule carried out stands (nobody approved it), but for its undo under way or done."""
    by = by_rule(request)
    match request.state:
        case State.EXECUTING:
            return f"is being unblocked {by}…"
        case State.UNBLOCKED if _already_gone(request):
            return f"was carried out {by}; {it} {was} already gone from 3CX"
        case State.UNBLOCKED:
            return f"was carried out {by}, and {it} {is_} unblocked"
        case State.FAILED:
            return f"was carried out {by}, but {it} could not be unblocked"
        case _:
            return f"was carried out {by}; the undo by {undoer} could not block {them} again"


def _ended_allow_only(request: UnblockRequest, approver: str, undoer: str) -> str:
    """Where a request carried out as Allow only stands: the asked address allowed, the network's block kept."""
    address = fit(request.asked_address or "", LABEL)
    only = f"to allow only {address}"
    match request.state:
        case State.EXECUTING:
            return f"was approved by {approver} {only}; allowing it…"
        case State.UNBLOCKED:
            return f"was approved by {approver} {only}"
        case State.FAILED:
            return f"was approved by {approver} {only}, but it could not be allowed"
        case State.UNDOING:
            return f"is being undone by {undoer}: removing the allow entry…"
        case State.UNDONE:
            return f"was undone by {undoer}: {address} is blocked again"
        case _:
            return f"was approved by {approver} {only}; the undo by {undoer} could not remove the allow entry"
