"""Private notes: what only the person who typed or clicked sees, and why a command or a click does nothing (the
policy and the service give the reason; each is worded here, once)."""

from __future__ import annotations

from collections.abc import Sequence

from ...domain.allowing import duration_words
from ...domain.entries import BlocklistEntry, CallFailed, Kind, Target
from ...domain.lookup import Matches, TooSlow
from ...domain.model import State, UnblockRequest
from ...domain.outcomes import Outcome
from ...domain.results import Refusal, Why
from ...domain.rules import Approvers
from ..blocks import escape, fit
from .common import (
    ANSWER,
    RULE,
    SHOWN_ENTRIES,
    carried_out_by_rule,
    explained,
    its_rule,
    label,
    list_of,
    listed,
    mention,
    pbx_tag,
    slack_date,
    title,
)

BUSY = "The bot is very busy right now and could not take this on. Please try again in a minute."
BUSY_CLICK = (
    "The bot is very busy right now and could not take this click; nothing was changed. Please click again in a minute."
)
OTHER_WORKSPACE = "This bot only takes requests from people of its own workspace, so nothing was done."
CHOICE_OUT_OF_DATE = "That choice is out of date; run the `/unblock` command again."
LISTING_OUT_OF_DATE = "That list is out of date; run `/unblock list` again."
UNKNOWN_ENTRY = (
    "That button does not name an IP blocklist entry, so nothing was done. Try `/unblock` and the entry's id."
)
NOTHING_CHOSEN_BLOCKS = "None of the chosen entries blocks anything any more."
DATABASE_AWAY = (
    "The bot could not reach its database just now, so it could not do this, and nothing was changed in 3CX. "
    "Please try again in a minute."
)
DURATION_NOT_OFFERED = "That duration is not offered; choose one on the card and try again."
UNKNOWN_REQUEST = "The bot has no record of this request, so nothing was done. Ask again with `/unblock`."
UNKNOWN_COMMAND = "This bot has one command, `/unblock`, so nothing was done. Try `/unblock help`."
FAULT = (
    "Something went wrong in the bot and it could not take this on. Please try again; if it happens again, tell the "
    "bot's admin."
)


def looking_up_entry(entry_id: int) -> str:
    return f"Still looking up IP blocklist entry {entry_id} in 3CX…"


def looking_for_address(shown: str) -> str:
    return f"Still looking for IP blocklist entries that block {escape(shown)} in 3CX…"


def looking_for_number(number: str) -> str:
    return f"Still looking for {escape(number)} on the caller-number blacklist in 3CX…"


def an_allow_entry(entry: BlocklistEntry) -> str:
    return f"Entry {entry.id} (`{label(entry)}`) is an allow entry, not a block; there is nothing to unblock."


def lookup_failure(error: CallFailed, what: str) -> str:
    if isinstance(error, TooSlow):
        return (
            f"3CX did not answer in time: the bot waited {duration_words(error.seconds)} for the {escape(what)}. "
            "Nothing was requested. Please try again in a few minutes."
        )
    kind = error.reason
    if kind is Outcome.NOT_FOUND:
        return f"There is no {escape(what)} in 3CX, so there is nothing to unblock. Check it with `/unblock list`."
    if kind is Outcome.OTHER:
        said = f" 3CX said: {fit(error.detail, ANSWER)}" if error.detail else ""
        return f"3CX could not show the {escape(what)}.{said} Nothing was requested."
    retry = " Please try again in a few minutes." if kind is Outcome.UNAVAILABLE else ""
    return f"{explained(kind)}{retry} Nothing was requested."


def no_match(asked: str, kind: Kind, matches: Matches) -> str:
    if matches.allowing:
        ids = ", ".join(f"`{label(e)}` (entry {e.id})" for e in matches.allowing[:SHOWN_ENTRIES])
        entries = "an allow entry" if len(matches.allowing) == 1 else "allow entries"
        return f"{escape(asked)} is not blocked: 3CX lets it in through {entries}: {ids}. Nothing was requested."
    return (
        f"{escape(asked)} is not on {list_of([kind])}, so 3CX is not blocking it there. "
        "Nothing was requested. If calls still fail, the cause is elsewhere (firewall, provider, credentials)."
    )


def asked_approvers(targets: Sequence[Target]) -> str:
    shown = f"`{label(targets[0])}`" if len(targets) == 1 else f"{len(targets)} entries"
    return f"Asked the approvers to unblock {shown}."


def already_requested(request: UnblockRequest, card_ts: str | None, workspace_url: str | None, user: str) -> str:
    """A new request (by ``user``) covers an entry that an open request already covers: where that one is (its
    card is the message ``card_ts``)."""
    where = f"<#{request.asked.channel}>"
    if workspace_url and card_ts:
        where = f"<{workspace_url}archives/{request.asked.channel}/p{card_ts.replace('.', '')}|this card>"
    state = "is already waiting for approval" if request.state is State.PENDING else "is already being carried out"
    asked = "you asked for it" if user == request.asked.by else f"asked by {mention(request.asked.by)}"
    request_to = f"{pbx_tag(request.pbx)}A request to unblock {title(request)}"
    return f"{request_to} ({asked}) {state}: see {where}. Nothing new was requested."


def card_not_posted(error: str) -> str:
    return (
        f"The bot could not post the request in this channel (Slack said: {fit(error, 100)}), so nothing was "
        "requested and nothing was changed in 3CX. If it happens again, please tell an admin."
    )


def already_resolved(request: UnblockRequest) -> str:
    if request.state is State.EXPIRED:
        return expired_notice(request)
    if request.state.undo_phase:
        when = slack_date(request.done.undone_at) if request.done.undone_at is not None else "earlier"
        return f"This unblock was already undone by {mention(request.done.undone_by)} {when}. Nothing more was done."
    when = slack_date(request.decision.at) if request.decision.at is not None else "earlier"
    if carried_out_by_rule(request):
        return f"This request was carried out automatically by {its_rule(request)} {when}. Nothing more was done."
    verb = {State.DENIED: "was denied", State.CANCELLED: "was cancelled"}.get(request.state, "was approved")
    return f"This request {verb} by {mention(request.decision.by)} {when}. Nothing more was done."


def expired_notice(request: UnblockRequest) -> str:
    expired = slack_date(request.decision.expires_at)
    return f"This request expired {expired}; nothing was changed in 3CX. Ask again with `/unblock`."


#: each reason, in words; ``refusal`` fills in what the refusal names
_WORDS: dict[Why, str] = {
    Why.CHANNEL_NOT_ENABLED: "/unblock is not enabled in this channel. Please use it in {channels}.",
    Why.NOT_APPROVER: "Only {whose} can {verb} {what}: {approvers}.",
    Why.OWN_REQUEST: "You asked for this unblock, so someone else has to {verb} it.",
    Why.USE_CANCEL: "You asked for this unblock, so you cannot deny it; to call it off, use Cancel.",
    Why.NOT_REQUESTER: "Only <@{requester}>, who asked, can cancel this request; an approver can deny it instead.",
    Why.OTHER_CHANNEL: "This button belongs to a request made in another channel, so it does nothing here.",
    Why.NOTHING_TO_UNDO: "There is nothing to undo: this request removed nothing from 3CX.",
    Why.TOO_LATE_TO_UNDO: "It is too late to undo this; if needed, an admin can add the entry again by hand in 3CX.",
    Why.NOT_ALLOWABLE: "Approve and allow is only for one IP address, or a network no wider than /24 (IPv6: /64); "
    "nothing was changed.",
    Why.ALREADY_APPROVED: "You have approved this already. It needs {needed} approvals, so another approver has to "
    "approve it too: {approvers}.",
}


def who_approves(approvers: Approvers) -> str:
    if approvers.anyone:
        return "anyone in this workspace"
    names = [f"<@{u}>" for u in sorted(approvers.users)]
    names += [f"a member of <!subteam^{g}>" for g in sorted(approvers.groups)]
    return listed(names, last="or")


def refusal(why: Refusal) -> str:
    return _WORDS[why.why].format(
        channels=", ".join(f"<#{c}>" for c in why.channels),
        verb=why.verb,
        what="an unblock request" if why.verb == "deny" else "an unblock",
        whose=f"the approvers of rule '{fit(why.rule, RULE)}'" if why.rule else "the approvers",
        approvers=who_approves(why.approvers) if why.approvers is not None else "",
        requester=why.requester,
        needed=why.approvals_needed,
    )


GUEST_NOT_APPROVER = (
    "Only the approvers this PBX names by user id may decide its requests from another workspace, so nothing was done."
)


def which_pbx(names: list[str]) -> str:
    """Where the channel says no PBX, or the name given is not one: the PBXes the person may ask about."""
    example = names[0] if names else "acme"
    return (
        f"Which PBX? Name it first, like `/unblock {example} 42`. You may ask about: "
        f"{', '.join(f'`{name}`' for name in names)}."
    )


REPORT_OWN_WORKSPACE = (
    "The report covers every PBX the bot serves, so it is only for people of the bot's own workspace. "
    "`/unblock history` lists this PBX's requests."
)


def only_this_pbx(pbx: str) -> str:
    """In a channel shared with a customer's workspace, another PBX was named."""
    return (
        f"This channel is shared with another workspace, so the bot takes requests about `{pbx}` only here, and "
        "nothing was done. Ask about other PBXes in a channel of your own workspace."
    )
