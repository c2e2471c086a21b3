"""The card once a request was decided, in each state: no decision buttons; Undo while it may be used."""

from __future__ import annotations

import re
from collections.abc import Sequence

from ...domain.allowing import duration_words
from ...domain.entries import BlocklistEntry, Kind, Target
from ...domain.model import Result, State, UnblockRequest
from ...domain.outcomes import Outcome
from ..blocks import Blocks, actions, button, clip, confirm, context, fallback, fit, section
from ..buttons import UNDO, RequestButton
from .card import request_card
from .common import (
    ANSWER,
    DESCRIPTION,
    approved,
    by_rule,
    carried_out_by_rule,
    ended,
    entry_expiry,
    explained,
    label,
    mention,
    people,
    rule_name,
    slack_date,
    target_lines,
    title,
)

NOTHING_CHANGED = "Nothing was changed in 3CX."


def outcome_card(
    request: UnblockRequest,
    now: float,
    approvers: str = "an approver",
    durations: Sequence[float] = (),
    chosen: float | None = None,
) -> tuple[str, Blocks]:
    if request.state is State.PENDING:
        return request_card(request, approvers, durations, chosen)
    emoji, headline, why = summary(request)
    first = f"{emoji} *{headline}* {why}".rstrip()
    blocks: Blocks = [section("\n".join(filter(None, [first, _who(request)])))]
    allowed = allow_sentence(request)
    if allowed:
        blocks.append(section(allowed))
    if len(request.what.targets) > 1:
        undo_phase = request.state.undo_phase
        lines = target_lines(
            request.removed if undo_phase else request.what.targets,
            request.done.undo_results if undo_phase else request.done.results,
        )
        if lines:
            blocks.append(section(lines))
    blocks.append(context(" · ".join(_details(request))))
    if undo_open(request, now):
        assert request.done.undo_until is not None
        if request.done.action.removes:
            back = f"put {clip(request.title, 150)} back on the {_list_of(request)} as it was?"
            added = any(r.added_allow is not None for r in request.done.results)
            back = f"Remove the allow entry and {back}" if added else back[0].upper() + back[1:]
        else:
            back = allow_only_undo_question(request)
        blocks.append(actions("unblock_undo", undo_button(request, back)))
        blocks.append(context(f"An approver can undo this until {slack_date(request.done.undo_until)}."))
    return fallback(f"{headline} {clip(why, 300)}".strip()), blocks


def undo_button(request: UnblockRequest, question: str) -> dict[str, object]:
    """**Undo**, asking ``question`` once more."""
    ask = confirm("Block again?", question, "Block again", "Go back")
    return button("Undo", UNDO, RequestButton(request.id).encode(), confirm=ask)


def _who(request: UnblockRequest) -> str:
    """Who asked, and who approved what an undo took back (the headline names who decided)."""
    if request.state is State.CANCELLED and request.decision.by is not None:
        return ""  # the one who cancelled is the one who asked
    if request.state.undo_phase and carried_out_by_rule(request):
        return f"Unblocked {by_rule(request)}, requested by {mention(request.asked.by)}."
    if request.state.undo_phase:
        return f"Approved by {_approvers(request)}, requested by {mention(request.asked.by)}."
    return f"Requested by {mention(request.asked.by)}."


def _approvers(request: UnblockRequest) -> str:
    """Who approved what was carried out: each of several (and what each approved), else the one who decided."""
    return approved(request) if len(request.decision.approvals) > 1 else people((request.decision.by,))


def decided_under(request: UnblockRequest) -> list[str]:
    """The rule a decided request followed (unless its headline names it), and who approved when it took several:
    ``Rule: Wide networks``, ``Approved by <@U1> and <@U2>``."""
    parts = [f"Rule: {rule_name(request)}"] if request.decision.rule and not carried_out_by_rule(request) else []
    # in the undo phase the card's second line names them; a denied request names no partial approvals
    if len(request.decision.approvals) > 1 and request.state in (State.EXECUTING, State.UNBLOCKED, State.FAILED):
        parts.append(f"Approved by {approved(request)}")
    return parts


def _list_of(request: UnblockRequest) -> str:
    kinds = {t.kind for t in request.removed or request.what.targets}
    if kinds == {Kind.ADDRESS}:
        return "IP blocklist"
    return "caller-number blacklist" if kinds == {Kind.NUMBER} else "3CX lists"


def undo_open(request: UnblockRequest, now: float) -> bool:
    return (
        request.state in (State.UNBLOCKED, State.FAILED)
        and request.done.undo_until is not None
        and now <= request.done.undo_until
        and request.undoable
    )


def stale_undo_button(request: UnblockRequest, now: float) -> bool:
    """The card still shows Undo although its time is up: redraw it without."""
    decided = request.state in (State.UNBLOCKED, State.FAILED)
    return decided and request.done.undo_until is not None and not undo_open(request, now)


def allow_sentence(request: UnblockRequest) -> str | None:
    """Approve and allow: until when the address is allowed, or that it is not (None: not asked for, or
    undone since)."""
    action = request.done.action
    if action.allow_for is None or request.state.undo_phase or not request.done.results:
        return None
    if not action.removes:
        return allow_only_sentence(request)
    result = request.done.results[0]
    if not result.outcome.gone:
        return None
    until = slack_date(result.allowed_until) if result.allowed_until is not None else "without an end date"
    if result.allow_id is None:  # why is in 3CX's answer, in the record
        what, duration = title(request), duration_words(action.allow_for)
        return (
            f":warning: The allow entry could not be added, so 3CX may block {what} again. To keep it in, an admin "
            f"can add it by hand in 3CX's IP blocklist: {what}, type Allow, for {duration}; or ask again with "
            "`/unblock` and choose Approve and allow."
        )
    if result.allow_existed:
        return (
            f":shield: {title(request)} was already allowed, until {until}, by 3CX entry {result.allow_id}, "
            "so no second allow entry was added."
        )
    return f":shield: Allowed until {until} by 3CX allow entry {result.allow_id}."


def summary(request: UnblockRequest, whose: str = "Request") -> tuple[str, str, str]:
    """(emoji, headline, why) for the request's state: the headline in the one pattern of every outcome,
    "Request to unblock X was denied by @bob." (``whose``: "Your request" in the requester's direct message),
    and, for a failure, why, in plain words."""
    words = ended(request)
    headline = f"{whose} to unblock {title(request)} {words}{'' if words.endswith('…') else '.'}"
    key: State | str = request.state
    if request.state is State.UNBLOCKED and all(r.outcome is Outcome.ALREADY_GONE for r in request.done.results):
        key = "already gone"  # 3CX answered 404: gone, but not by this request's hand
    whys: dict[State | str, str] = {
        State.FAILED: failure_sentence(request),
        State.UNDO_FAILED: _undo_failure(request),
        State.DENIED: NOTHING_CHANGED,
        State.CANCELLED: NOTHING_CHANGED,
        State.EXPIRED: f"{NOTHING_CHANGED} Ask again with `/unblock`.",
    }
    why = whys.get(key, "")
    return _EMOJI[key], headline, why


#: the emoji before a headline, by state (and one variant)
_EMOJI: dict[State | str, str] = {
    State.EXECUTING: ":gear:",
    "already gone": ":white_check_mark:",
    State.UNBLOCKED: ":white_check_mark:",
    State.FAILED: ":x:",
    State.DENIED: ":no_entry_sign:",
    State.CANCELLED: ":leftwards_arrow_with_hook:",
    State.EXPIRED: ":alarm_clock:",
    State.UNDOING: ":gear:",
    State.UNDONE: ":rewind:",
    State.UNDO_FAILED: ":warning:",
}


def _details(request: UnblockRequest) -> list[str]:
    only = request.what.targets[0] if len(request.what.targets) == 1 else None
    details = []
    if only is not None and only.description:
        details.append(f"3CX description: {fit(only.description, DESCRIPTION)}")
    if request.asked.reason:
        details.insert(0, f"Reason: {fit(request.asked.reason, DESCRIPTION)}")
    details += decided_under(request)
    if request.state is State.EXPIRED:
        details.append(slack_date(request.decision.expires_at))
    elif request.state.undo_phase and request.done.undone_at is not None:
        details.append(slack_date(request.done.undone_at))
    elif request.decision.at is not None:
        details.append(slack_date(request.decision.at))
    answers = request.done.undo_results if request.state.undo_phase else request.done.results
    said = _answered(answers[0]) if len(answers) == 1 else None
    if said:
        details.append(f"3CX answered: {said}")
    if any(r.after_restart for r in answers):
        details.append("finished after a restart of the bot")
    details.append(f"Request `{request.id}`")
    return details


def _answered(result: Result) -> str | None:
    """3CX's answer, as far as the headline does not already say it: whole for a success and for a refusal the
    bot has no words of its own for; only its status for a failure the headline explains (None: no status)."""
    if result.outcome.gone or result.outcome in (Outcome.RESTORED, Outcome.ALLOWED, Outcome.OTHER):
        return fit(result.answer, ANSWER)
    status = re.match(r"HTTP [0-9]{3}", result.answer)
    return status.group(0) if status else None


def failure_sentence(request: UnblockRequest) -> str:
    """Why an approved unblock did not (fully) happen, in plain words, and what that leaves."""
    kind = request.outcome or Outcome.OTHER
    refused = "3CX refused to remove it." if request.done.action.removes else "3CX refused to add the allow entry."
    sentence = refused if kind is Outcome.OTHER else explained(kind)
    removed = len(request.removed)
    if removed and len(request.what.targets) > 1:
        were = "was" if removed == 1 else "were"
        sentence = f"{removed} of {len(request.what.targets)} entries {were} removed. {sentence}"
    if kind is Outcome.UNAVAILABLE:
        return f"{sentence} It is not certain what 3CX did: check the entry in 3CX, and ask again if needed."
    return sentence if removed else f"{sentence} {NOTHING_CHANGED}"


def _undo_failure(request: UnblockRequest) -> str:
    if not request.done.action.removes:
        return allow_only_undo_failure(request)
    failed = [
        (t, r)
        for t, r in zip(request.removed, request.done.undo_results, strict=False)
        if r.outcome is not Outcome.RESTORED
    ]
    if not failed:
        return ""
    kind = failed[0][1].outcome
    reason = "3CX refused to add it back." if kind is Outcome.OTHER else explained(kind)
    values = "; ".join(as_it_was(t) for t, _ in failed[:3])
    more = f" (and {len(failed) - 3} more)" if len(failed) > 3 else ""
    them = "it" if len(failed) == 1 else "them"
    return f"{reason} An admin can add {them} again by hand in 3CX: {values}{more}."


def as_it_was(target: Target) -> str:
    """An entry as an admin adds it again by hand in 3CX's form: ``203.0.113.7`` on the IP blocklist, type Block,
    no expiry, description _Failed SIP registrations_."""
    described = f"description _{fit(target.description, DESCRIPTION)}_" if target.description else "no description"
    if not isinstance(target, BlocklistEntry):
        return f"`{label(target)}` on the caller-number blacklist, {described}"
    expires = entry_expiry(target.expires_at)
    until = "no expiry" if expires == "never" else f"expiring {expires}"
    kind = fit(target.block_type or "Block", 40)
    return f"`{label(target)}` on the IP blocklist, type {kind}, {until}, {described}"


# -- Allow only: an allow entry for the address asked for, the network's block left in place ---------------


def allow_only_sentence(request: UnblockRequest) -> str | None:
    """``203.0.113.7 is allowed until …; the block on 203.0.113.0/24 stays.`` (None: it was not allowed, which
    the headline says)."""
    result = request.done.results[0]
    if result.outcome is not Outcome.ALLOWED or result.allow_id is None:
        return None
    address, network = fit(request.what.address or "", 60), title(request)
    until = slack_date(result.allowed_until) if result.allowed_until is not None else "without an end date"
    if result.allow_existed:
        return (
            f":shield: {address} was already allowed, until {until}, by 3CX entry {result.allow_id}, so no "
            f"allow entry was added; the block on {network} stays."
        )
    return f":shield: {address} is allowed until {until}; the block on {network} stays."


def allow_only_undo_question(request: UnblockRequest) -> str:
    """What Undo asks once more of a request carried out as Allow only."""
    address = fit(request.what.address or "", 60)
    return f"Remove the allow entry for {address}? The block on {clip(request.title, 120)} then applies to it again."


def allow_only_undo_failure(request: UnblockRequest) -> str:
    """Why the undo of Allow only did not remove its allow entry, and what that leaves."""
    failed = [r for r in request.done.undo_results if not r.outcome.gone]
    if not failed:
        return ""
    kind = failed[0].outcome
    reason = "3CX refused to remove the allow entry." if kind is Outcome.OTHER else explained(kind)
    entry = next((f"entry {r.added_allow}" for r in request.done.results if r.added_allow is not None), "the entry")
    return f"{reason} {fit(request.what.address or '', 60)} is still allowed; an admin can remove {entry} in 3CX."
