"""Pieces every view uses: dates, entries described, where a request stands, and the budgets for text from
elsewhere."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, tzinfo

from ...domain.actions import UNBLOCK, Action, Does, Result
from ...domain.allowing import duration_words
from ...domain.entries import BlocklistEntry, Kind, Target, expiry
from ...domain.lookup import read_network
from ...domain.model import WATCHER, State, UnblockRequest
from ...domain.outcomes import Outcome
from ...domain.recurrence import WINDOW
from ..blocks import Block, button, fields, fit, section

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
#: how many entries a card or a chooser lists before it says "and N more"
SHOWN_ENTRIES = 10
#: who asked for what the bot's watch of the IP blocklist unblocked by its rule (no Slack user did)
WATCH = "the bot, watching the IP blocklist"
#: a PBX's name, in characters (the PBXes file allows none longer)
PBX_NAME = 24


#: the 3CX list that entries of a kind are on
_LISTS = {Kind.ADDRESS: "the IP blocklist", Kind.NUMBER: "the caller-number blacklist"}


def list_of(kinds: Iterable[Kind]) -> str:
    unique = set(kinds)
    return _LISTS[unique.pop()] if len(unique) == 1 else "the 3CX lists"


def slack_date(epoch: float, zone: tzinfo = UTC) -> str:
    """A time every reader sees in their own time zone (in ``zone`` as the fallback text)."""
    shown = datetime.fromtimestamp(epoch, zone).strftime("%Y-%m-%d %H:%M %Z")
    return f"<!date^{int(epoch)}^{{date_short_pretty}} at {{time}}|{shown}>"


def entry_expiry(value: str | None) -> str:
    try:
        moment = expiry(value)
    except ValueError:
        return fit(value or "", 60)
    return "never" if moment is None else slack_date(moment.timestamp())


def pbx_name(pbx: str) -> str:
    """A PBX's name, as text."""
    return fit(pbx, PBX_NAME)


def pbx_tag(pbx: str) -> str:
    """The PBX a message is about, named before what it says: ``acme · ``; nothing for the one PBX of a bot that
    serves one (named "")."""
    return f"{pbx_name(pbx)} · " if pbx else ""


def label(target: Target) -> str:
    return fit(target.label, LABEL)


def title(request: UnblockRequest) -> str:
    return fit(request.title, LABEL)


def mention(user: str | None) -> str:
    if user == WATCHER:
        return WATCH
    return f"<@{user}>" if user else "the bot"


def listed(names: Sequence[str], last: str = "and") -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} {last} {names[-1]}"


def times(count: int) -> str:
    return "once" if count == 1 else f"{count} times"


def time_since(seconds: float) -> str:
    """A time gone by, or to come, in its largest whole unit (``2 hours``), or ``moments``."""
    for size in (86400, 3600, 60):
        if seconds >= size:
            return duration_words(seconds // size * size)
    return "moments"


def counted(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def sentence(words: str) -> str:
    """Words that end a sentence: with a full stop, unless they trail off (``unblocking…``)."""
    return words if words.endswith("…") else f"{words}."


def its_rule(request: UnblockRequest, budget: int = RULE) -> str:
    return f"rule '{fit(request.decision.rule, budget)}'" if request.decision.rule else "its rule"


def carried_out_by_rule(request: UnblockRequest) -> bool:
    """Its rule carried it out without approval (and its words say so: "…automatically by rule 'X'")."""
    not_carried_out = (State.PENDING, State.DENIED, State.CANCELLED, State.EXPIRED)
    return request.decision.auto and request.decision.by is None and request.state not in not_carried_out


def unblocker(request: UnblockRequest) -> str:
    return its_rule(request) if carried_out_by_rule(request) else mention(request.decision.by)


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
        return listed([mention(user) for user in request.decision.approved_by])
    return listed([f"{mention(a.user)} ({action_words(request, a.action)})" for a in request.decision.approvals])


def action_words(request: UnblockRequest, action: Action) -> str:
    duration = duration_words(action.allow_for) if action.allow_for is not None else ""
    return {
        Does.UNBLOCK: "unblock",
        Does.UNBLOCK_AND_ALLOW: f"unblock and allow for {duration}",
        Does.ALLOW_ONLY: f"allow only {fit(request.what.address or '', LABEL)} for {duration}",
    }[action.does]


def under_rule(request: UnblockRequest, *, names: bool = False) -> list[str]:
    """For a line of a list: the rule that decides (unless the words already name it) and the approvals so far:
    ``rule 'Wide networks'``, ``1 of 2 approvals`` (``names``: ``1 of 2 approvals: <@U1>``)."""
    parts = [its_rule(request, RULE_IN_LIST)] if request.decision.rule and not carried_out_by_rule(request) else []
    return parts + list(filter(None, [approvals_so_far(request, names=names)]))


def _covers(entry: BlocklistEntry) -> str | None:
    net = read_network(entry.address)
    if net is None or net.prefixlen == net.max_prefixlen:
        return None
    bits = net.max_prefixlen - net.prefixlen
    return f"{net.num_addresses:,} addresses" if bits <= 32 else f"2^{bits} addresses"


def _facts(entry: BlocklistEntry) -> dict[str, str | None]:
    """What 3CX says of an IP entry beyond its address (None: nothing worth saying): its block type says something
    for every blocking entry but ``Block``."""
    kind = (entry.block_type or "").strip()
    return {
        "Covers": _covers(entry),
        "Block type": fit(kind, 40) if kind and kind != "Block" else None,
        "Added by": fit(entry.added_by or "unknown", 40),
        "Expires": entry_expiry(entry.expires_at),
    }


def describe(target: Target, description: int = DESCRIPTION) -> str:
    parts = [f"`{label(target)}`"]
    if isinstance(target, BlocklistEntry):  # an IP entry says more about itself than a number
        facts = _facts(target)
        parts += [f"entry {target.id}", *filter(None, [facts["Covers"], facts["Block type"]])]
        parts += [f"added by {facts['Added by']}", f"expires {facts['Expires']}"]
    if target.description:
        parts.append(f"_{fit(target.description, description)}_")
    return " · ".join(parts)


def entry_fields(target: Target) -> dict[str, object]:
    described = fit(target.description, 1500) if target.description else "_none_"
    if not isinstance(target, BlocklistEntry):
        return fields([("List", "Caller-number blacklist"), ("Description", described)])
    facts = [(name, value) for name, value in _facts(target).items() if value is not None]
    return fields([("List", f"IP blocklist, entry {target.id}"), ("Description", described), *facts])


def pickable(target: Target, action_id: str, value: str) -> Block:
    return section(describe(target, DESCRIPTION_IN_LIST), accessory=button("Request unblock", action_id, value))


def target_lines(targets: Sequence[Target], results: Sequence[Result] = ()) -> str:
    """One line per entry (at most ``SHOWN_ENTRIES``), marked with how 3CX answered for it, when it has."""
    marks = [":white_check_mark: " if r.outcome.gone or r.outcome is Outcome.RESTORED else ":x: " for r in results]
    shown = zip(targets[:SHOWN_ENTRIES], marks + [""] * len(targets), strict=False)
    lines = [f"• {mark}{describe(target, DESCRIPTION_IN_LIST)}" for target, mark in shown]
    more = [f"…and {len(targets) - SHOWN_ENTRIES} more"] if len(targets) > SHOWN_ENTRIES else []
    return "\n".join(lines + more)


#: where a request stands, by state (and two variants): the emoji before its headline, and the end of "Request
#: to unblock X …" as approved by someone, as carried out by its rule, and as carried out as Allow only ("": as
#: approved by someone)
_ENDED: dict[State | str, tuple[str, str, str, str]] = {
    State.PENDING: ("", "is waiting for approval", "", ""),
    State.EXECUTING: (
        ":gear:",
        "was approved by {approver}; unblocking…",
        "is being unblocked {by}…",
        "was approved by {approver} {only}; allowing it…",
    ),
    "already gone": (
        ":white_check_mark:",
        "was approved by {approver}; {it} {was} already gone from 3CX",
        "was carried out {by}; {it} {was} already gone from 3CX",
        "",
    ),
    State.UNBLOCKED: (
        ":white_check_mark:",
        "was approved by {approver}, and {it} {is_} unblocked",
        "was carried out {by}, and {it} {is_} unblocked",
        "was approved by {approver} {only}",
    ),
    State.FAILED: (
        ":x:",
        "was approved by {approver}, but {it} could not be unblocked",
        "was carried out {by}, but {it} could not be unblocked",
        "was approved by {approver} {only}, but it could not be allowed",
    ),
    State.DENIED: (":no_entry_sign:", "was denied by {approver}", "", ""),
    "withdrawn": (":leftwards_arrow_with_hook:", "was withdrawn: its card could not be posted", "", ""),
    State.CANCELLED: (":leftwards_arrow_with_hook:", "was cancelled by {asker}", "", ""),
    State.EXPIRED: (":alarm_clock:", "expired without approval", "", ""),
    State.UNDOING: (
        ":gear:",
        "is being undone by {undoer}: blocking {them} again…",
        "",
        "is being undone by {undoer}: removing the allow entry…",
    ),
    State.UNDONE: (
        ":rewind:",
        "was undone by {undoer}: {it} {is_} blocked again",
        "",
        "was undone by {undoer}: {address} is blocked again",
    ),
    State.UNDO_FAILED: (
        ":warning:",
        "was approved by {approver}; the undo by {undoer} could not block {them} again",
        "was carried out {by}; the undo by {undoer} could not block {them} again",
        "was approved by {approver} {only}; the undo by {undoer} could not remove the allow entry",
    ),
}


def ended(request: UnblockRequest) -> tuple[str, str]:
    """(emoji, words): where a request stands, as the end of "Request to unblock X …", the one pattern of every
    outcome, on the card, in history, in the Home tab, in the direct message and in the channel where it was
    asked."""
    state, results = request.state, request.done.results
    # an undo of what a rule carried out reads as any other
    by_its_rule = carried_out_by_rule(request) and state not in (State.UNDOING, State.UNDONE)
    voice = 2 if by_its_rule else 3 if request.done.action.does is Does.ALLOW_ONLY else 1
    key: State | str = state
    if state is State.UNBLOCKED and voice < 3 and results and all(r.outcome is Outcome.ALREADY_GONE for r in results):
        key = "already gone"
    elif state is State.CANCELLED and request.withdrawn:
        key = "withdrawn"
    row = _ENDED[key]
    it, is_, was, them = ("they", "are", "were", "them") if len(request.what.targets) > 1 else ("it", "is", "was", "it")
    address = fit(request.what.address or "", LABEL)
    words = (row[voice] or row[1]).format(
        approver=mention(request.decision.by),
        asker=mention(request.asked.by),
        undoer=mention(request.done.undone_by),
        it=it,
        is_=is_,
        was=was,
        them=them,
        by=f"automatically by {its_rule(request)}",
        address=address,
        only=f"to allow only {address}",
    )
    return row[0], words


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


def explained(outcome: Outcome, refused: str = "3CX refused it.") -> str:
    return refused if outcome is Outcome.OTHER else _EXPLANATIONS.get(outcome, refused)
