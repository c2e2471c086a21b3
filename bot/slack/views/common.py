"""Pieces every view uses: dates, entries described, and the budgets for text from elsewhere."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from datetime import UTC, datetime, tzinfo

from ...domain.actions import UNBLOCK, Action, Does
from ...domain.allowing import duration_words
from ...domain.entries import BlocklistEntry, Target, expiry
from ...domain.model import WATCHER, Result, State, UnblockRequest
from ...domain.outcomes import Outcome
from ...domain.recurrence import WINDOW
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
RECURRENCE_DAYS = int(WINDOW // 86400)


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
    return fit(request.decision.rule, budget) if request.decision.rule else "its rule"


def by_rule(request: UnblockRequest) -> str:
    """``automatically by rule 'Branch offices'``: who carried out a request nobody approved."""
    return (
        f"automatically by rule '{fit(request.decision.rule, RULE)}'"
        if request.decision.rule
        else "automatically by its rule"
    )


def carried_out_by_rule(request: UnblockRequest) -> bool:
    """Its rule carried it out without approval (and its words say so: "…automatically by rule 'X'")."""
    return request.decision.auto and request.decision.by is None and request.state not in _NOT_CARRIED_OUT


_NOT_CARRIED_OUT = frozenset({State.PENDING, State.DENIED, State.CANCELLED, State.EXPIRED})


def unblocker(request: UnblockRequest) -> str:
    """Who unblocked what a request was about: ``<@U1>``, or ``rule 'Branch offices'`` (``its rule``) when its rule
    carried it out."""
    if carried_out_by_rule(request):
        return f"rule '{fit(request.decision.rule, RULE)}'" if request.decision.rule else "its rule"
    return mention(request.decision.by)


def approvals_so_far(request: UnblockRequest, *, names: bool = True) -> str | None:
    """A pending request that needs several approvals: ``1 of 2 approvals: <@U1>`` (``names``: who approved)."""
    if request.state is not State.PENDING or request.decision.needed < 2:
        return None
    count = f"{len(request.decision.approvals)} of {request.decision.needed} approvals"
    return f"{count}: {approved(request)}" if names and request.decision.approvals else count


def approved(request: UnblockRequest) -> str:
    """Who approved a request that needs several approvals, and what each approved, unless every one approved a
    plain Approve: ``<@U1> and <@U2>``, ``<@U1> (allow only 192.0.2.130 for 1 hour) and <@U2> (unblock)``."""
    if all(approval.action == UNBLOCK for approval in request.decision.approvals):
        return people(request.decision.approved_by)
    return listed([f"{mention(a.user)} ({action_words(request, a.action)})" for a in request.decision.approvals])


def action_words(request: UnblockRequest, action: Action) -> str:
    """What an action does: ``unblock``, ``unblock and allow for 1 hour``, ``allow only 192.0.2.130 for 1
    hour``."""
    duration = duration_words(action.allow_for) if action.allow_for is not None else ""
    return {
        Does.UNBLOCK: "unblock",
        Does.UNBLOCK_AND_ALLOW: f"unblock and allow for {duration}",
        Does.ALLOW_ONLY: f"allow only {fit(request.what.address or '', LABEL)} for {duration}",
    }[action.does]


def under_rule(request: UnblockRequest, budget: int = RULE_IN_LIST, *, names: bool = False) -> list[str]:
    """For a line of a list: the rule that decides (unless the words already name it) and the approvals so far:
    ``rule 'Wide networks'``, ``1 of 2 approvals`` (``names``: ``1 of 2 approvals: <@U1>``)."""
    parts = (
        [f"rule '{fit(request.decision.rule, budget)}'"]
        if request.decision.rule and not carried_out_by_rule(request)
        else []
    )
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
        parts += [
            f"entry {target.id}",
            *([addresses(net)] if net is not None else []),
            *filter(None, [block_type(target)]),
            f"added by {fit(target.added_by or 'unknown', 40)}",
            f"expires {entry_expiry(target.expires_at)}",
        ]
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


#: where a request stands, by state (and two variants), as the end of "Request to unblock X …": as approved by
#: someone, as carried out by its rule, and as carried out as Allow only ("": as approved by someone)
_ENDED: dict[State | str, tuple[str, str, str]] = {
    State.PENDING: ("is waiting for approval", "", ""),
    State.EXECUTING: (
        "was approved by {approver}; unblocking…",
        "is being unblocked {by}…",
        "was approved by {approver} {only}; allowing it…",
    ),
    "already gone": (
        "was approved by {approver}; {it} {was} already gone from 3CX",
        "was carried out {by}; {it} {was} already gone from 3CX",
        "",
    ),
    State.UNBLOCKED: (
        "was approved by {approver}, and {it} {is_} unblocked",
        "was carried out {by}, and {it} {is_} unblocked",
        "was approved by {approver} {only}",
    ),
    State.FAILED: (
        "was approved by {approver}, but {it} could not be unblocked",
        "was carried out {by}, but {it} could not be unblocked",
        "was approved by {approver} {only}, but it could not be allowed",
    ),
    State.DENIED: ("was denied by {approver}", "", ""),
    "withdrawn": ("was withdrawn: its card could not be posted", "", ""),
    State.CANCELLED: ("was cancelled by {asker}", "", ""),
    State.EXPIRED: ("expired without approval", "", ""),
    State.UNDOING: (
        "is being undone by {undoer}: blocking {them} again…",
        "",
        "is being undone by {undoer}: removing the allow entry…",
    ),
    State.UNDONE: (
        "was undone by {undoer}: {it} {is_} blocked again",
        "",
        "was undone by {undoer}: {address} is blocked again",
    ),
    State.UNDO_FAILED: (
        "was approved by {approver}; the undo by {undoer} could not block {them} again",
        "was carried out {by}; the undo by {undoer} could not block {them} again",
        "was approved by {approver} {only}; the undo by {undoer} could not remove the allow entry",
    ),
}


def ended(request: UnblockRequest) -> str:
    """Where a request stands, as the end of "Request to unblock X …": the one pattern of every outcome, on the
    card, in history, in the Home tab, in the direct message and in the channel where it was asked."""
    state = request.state
    # an undo of what a rule carried out reads as any other
    by_its_rule = carried_out_by_rule(request) and state not in (State.UNDOING, State.UNDONE)
    voice = 1 if by_its_rule else 2 if request.done.action.does is Does.ALLOW_ONLY else 0
    key: State | str = state
    if state is State.UNBLOCKED and voice < 2 and _already_gone(request):
        key = "already gone"
    elif state is State.CANCELLED and request.withdrawn:
        key = "withdrawn"
    row = _ENDED[key]
    several = len(request.what.targets) > 1
    it, is_, was, them = ("they", "are", "were", "them") if several else ("it", "is", "was", "it")
    address = fit(request.what.address or "", LABEL)
    return (row[voice] or row[0]).format(
        approver=mention(request.decision.by),
        asker=mention(request.asked.by),
        undoer=mention(request.done.undone_by),
        it=it,
        is_=is_,
        was=was,
        them=them,
        by=by_rule(request),
        address=address,
        only=f"to allow only {address}",
    )


def _already_gone(request: UnblockRequest) -> bool:
    """3CX had none of the request's entries any more when it was carried out."""
    return bool(request.done.results) and all(r.outcome is Outcome.ALREADY_GONE for r in request.done.results)


#: why each failure happened, in plain words for the people in the channel (no setting names), and what Allow
#: only did, which is no failure, though the block stays
_EXPLANATIONS: dict[Outcome, str] = {
    Outcome.ALLOWED: "An allow entry lets the address asked for in; the block on its network stays.",
    Outcome.NOT_FOUND: "3CX has no such entry.",
    Outcome.CHANGED: "It was changed in 3CX after the request was made, so the bot left it alone; ask again to see it "
    "as it is now.",
    Outcome.CREDENTIALS: "3CX rejected the bot's login; an admin needs to check the bot's 3CX credentials.",
    Outcome.FORBIDDEN: "3CX did not give the bot the right to do this; an admin needs to give its 3CX API client the "
    "System Admin role.",
    Outcome.UNAVAILABLE: "3CX could not be reached, was unavailable or did not answer in time, even after retries.",
    Outcome.INTERNAL: "Something went wrong inside the bot; it was logged for an admin.",
}


def explained(outcome: Outcome) -> str:
    """Why a call to 3CX failed, in plain words."""
    return _EXPLANATIONS.get(outcome, "3CX refused it.")
