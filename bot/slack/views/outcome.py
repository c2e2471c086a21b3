"""The card once a request was decided, in each state: no decision buttons; Undo while it may be used."""

from __future__ import annotations

import json
from collections.abc import Sequence

from ...domain.model import State, UnblockRequest
from ...domain.outcomes import Outcome
from ...threecx.models import Kind
from ..blocks import Blocks, actions, button, clip, confirm, context, fallback, fit, section
from ..buttons import UNDO, RequestButton
from .card import request_card
from .common import ANSWER, DESCRIPTION, mention, slack_date, target_lines, title

NOTHING_CHANGED = "Nothing was changed in 3CX."


def outcome_card(
    request: UnblockRequest, now: float, approvers: str = "an approver", durations: Sequence[float] = (),
    chosen: float | None = None,
) -> tuple[str, Blocks]:  # fmt: skip
    if request.state is State.PENDING:
        return request_card(request, approvers, durations, chosen)
    emoji, headline, rest = summary(request)
    blocks: Blocks = [section(f"{emoji} *{headline}* {rest}")]
    allowed = allow_sentence(request)
    if allowed:
        blocks.append(section(allowed))
    if len(request.targets) > 1 or request.targets[0].kind is Kind.NUMBER:
        undo_phase = request.state.undo_phase
        lines = target_lines(request.removed if undo_phase else request.targets,
                             request.undo_results if undo_phase else request.results)  # fmt: skip
        if lines:
            blocks.append(section(lines))
    blocks.append(context(" · ".join(_details(request))))
    if undo_open(request, now):
        assert request.undo_until is not None
        question = f"Put {clip(request.title, 150)} back on the 3CX blocklist as it was?"
        if any(r.added_allow is not None for r in request.results):
            question = f"Remove the allow entry and put {clip(request.title, 150)} back on the 3CX blocklist as it was?"
        undo = button("Undo", UNDO, RequestButton(request.id).encode(),
                      confirm=confirm("Block again?", question, "Block again", "Leave it"))  # fmt: skip
        blocks.append(actions("unblock_undo", undo))
        blocks.append(context(f"An approver can undo this until {slack_date(request.undo_until)}."))
    return fallback(f"{headline} {clip(rest.split(chr(10))[0], 300)}"), blocks


def undo_open(request: UnblockRequest, now: float) -> bool:
    return (
        request.state in (State.UNBLOCKED, State.FAILED)
        and request.undo_until is not None
        and now <= request.undo_until
        and bool(request.removed)
    )


def stale_undo_button(request: UnblockRequest, now: float) -> bool:
    """The card still shows Undo although its time is up: redraw it without."""
    decided = request.state in (State.UNBLOCKED, State.FAILED)
    return decided and request.undo_until is not None and not undo_open(request, now)


#: what the card's first line says in each state (and in two variants): emoji, headline, the rest of the line;
#: ``{what}``, ``{approver}``, ``{asker}`` and ``{undoer}`` are filled in, ``{why}`` explains a failure
_SUMMARIES: dict[State | str, tuple[str, str, str]] = {
    State.EXECUTING: (":gear:", "Unblocking {what}…", "Approved by {approver}, requested by {asker}."),
    "already gone": (":white_check_mark:", "{what} is no longer on the blocklist:",
                     "3CX does not list it any more. Approved by {approver}, requested by {asker}."),
    State.UNBLOCKED: (":white_check_mark:", "{what} unblocked", "by {approver}, requested by {asker}."),
    State.FAILED: (":x:", "Could not unblock {what}.", "{why}\nApproved by {approver}, requested by {asker}."),
    State.DENIED: (":no_entry_sign:", "Request to unblock {what} denied",
                   f"by {{approver}}, requested by {{asker}}. {NOTHING_CHANGED}"),
    "withdrawn": (":leftwards_arrow_with_hook:", "Request to unblock {what} withdrawn",
                  f"(requested by {{asker}}). {NOTHING_CHANGED}"),
    State.CANCELLED: (":leftwards_arrow_with_hook:", "Request to unblock {what} cancelled",
                      f"by {{asker}}. {NOTHING_CHANGED}"),
    State.EXPIRED: (":alarm_clock:", "Request to unblock {what} expired",
                    f"without approval (requested by {{asker}}). {NOTHING_CHANGED} Ask again with `/unblock`."),
    State.UNDOING: (":gear:", "Putting {what} back on the blocklist…", "{undoer} asked for it to be blocked again."),
    State.UNDONE: (":rewind:", "{what} is blocked again.",
                   "{undoer} undid the unblock that {approver} approved for {asker}."),
    State.UNDO_FAILED: (":warning:", "Could not put {what} back on the blocklist.", "{why} (Undo asked by {undoer}.)"),
}  # fmt: skip


def allow_sentence(request: UnblockRequest) -> str | None:
    """Approve and allow: until when the address is allowed, or that it is not (None: not asked for, or
    undone since)."""
    if request.allow_for is None or request.state.undo_phase or not request.results:
        return None
    result = request.results[0]
    if not result.outcome.gone:
        return None
    until = slack_date(result.allowed_until) if result.allowed_until is not None else "without an end date"
    if result.allow_id is None:  # why is in 3CX's answer, in the record
        return f":warning: The allow entry could not be added, so 3CX may block {title(request)} again."
    if result.allow_existed:
        return (f":shield: {title(request)} was already allowed, until {until}, by 3CX entry {result.allow_id}, "
                "so no second allow entry was added.")  # fmt: skip
    return f":shield: Allowed until {until} by 3CX allow entry {result.allow_id}."


def summary(request: UnblockRequest) -> tuple[str, str, str]:
    """(emoji, headline, the rest of the first line) for the request's state."""
    key: State | str = request.state
    if request.state is State.UNBLOCKED and all(r.outcome is Outcome.ALREADY_GONE for r in request.results):
        key = "already gone"  # 3CX answered 404: gone, but not by this request's hand
    elif request.state is State.CANCELLED and request.resolved_by is None:
        key = "withdrawn"  # by the bot: its card could not be posted
    why = failure_sentence(request) if request.state is State.FAILED else _undo_failure(request)
    names = {"what": title(request), "approver": mention(request.resolved_by), "asker": mention(request.requester),
             "undoer": mention(request.undone_by), "why": why}  # fmt: skip
    emoji, headline, rest = _SUMMARIES[key]
    return emoji, headline.format(**names), rest.format(**names)


def _details(request: UnblockRequest) -> list[str]:
    only = request.targets[0] if len(request.targets) == 1 else None
    details = [fit(only.description, DESCRIPTION)] if only is not None and only.description else []
    if request.reason:
        details.insert(0, f"Reason: {fit(request.reason, DESCRIPTION)}")
    if request.resolved_at is not None and request.state is not State.EXPIRED:
        details.append(slack_date(request.resolved_at))
    answers = request.undo_results if request.state.undo_phase else request.results
    if len(answers) == 1:
        details.append(f"3CX answered: {fit(answers[0].answer, ANSWER)}")
    if any(r.after_restart for r in answers):
        details.append("finished after a restart of the bot")
    details.append(f"Request `{request.id}`")
    return details


def failure_sentence(request: UnblockRequest) -> str:
    """Why an approved unblock did not (fully) happen, in plain words, and what that leaves."""
    kind = request.outcome or Outcome.OTHER
    sentence = "3CX refused to remove it." if kind is Outcome.OTHER else kind.explanation.people
    removed = len(request.removed)
    if removed and len(request.targets) > 1:
        sentence = f"{removed} of {len(request.targets)} entries were removed. {sentence}"
    if kind is Outcome.UNAVAILABLE:
        return f"{sentence} It is not certain what 3CX did: check the blocklist, and ask again if needed."
    return sentence if removed else f"{sentence} {NOTHING_CHANGED}"


def _undo_failure(request: UnblockRequest) -> str:
    failed = [(t, r) for t, r in zip(request.removed, request.undo_results, strict=False)
              if r.outcome is not Outcome.RESTORED]  # fmt: skip
    if not failed:
        return ""
    kind = failed[0][1].outcome
    reason = "3CX refused to add it back." if kind is Outcome.OTHER else kind.explanation.people
    values = "; ".join(fit(json.dumps(t.creation_json(), ensure_ascii=False), 600) for t, _ in failed[:3])
    more = f" (and {len(failed) - 3} more)" if len(failed) > 3 else ""
    return f"{reason} An admin can re-add it in the 3CX console with: {values}{more}."
