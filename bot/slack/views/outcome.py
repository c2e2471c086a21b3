"""The card once a request was decided, in each state (no decision buttons; Undo while it may be used), and what
the requester, and the channel where they asked, are told about it."""

from __future__ import annotations

import re

from ...domain.actions import Result
from ...domain.allowing import duration_words
from ...domain.entries import BlocklistEntry, Target
from ...domain.model import State, UnblockRequest
from ...domain.outcomes import Outcome
from ..blocks import Blocks, actions, button, clip, confirm, context, fallback, fit, section
from ..buttons import UNDO, RequestButton, of_pbx
from .common import (
    ANSWER,
    DESCRIPTION,
    RULE,
    approved,
    carried_out_by_rule,
    ended,
    entry_expiry,
    explained,
    its_rule,
    label,
    list_of,
    mention,
    pbx_tag,
    sentence,
    slack_date,
    target_lines,
    title,
)
from .evidence import what_to_fix

NOTHING_CHANGED = "Nothing was changed in 3CX."


def outcome_card(request: UnblockRequest, now: float) -> tuple[str, Blocks]:
    emoji, headline, why = summary(request)
    first = f"{emoji} *{headline}* {why}".rstrip()
    blocks: Blocks = [section("\n".join(filter(None, [first, _who(request)])))]
    more = [allow_sentence(request), fix(request)]
    blocks += [section(line) for line in more if line]
    if len(request.what.targets) > 1:
        undo_phase = request.state.undo_phase
        lines = target_lines(
            request.removed if undo_phase else request.what.targets,
            request.done.undo_results if undo_phase else request.done.results,
        )
        if lines:  # an undo of what removed nothing lists nothing
            blocks.append(section(lines))
    blocks.append(context(" · ".join(_details(request))))
    if undo_open(request, now):
        assert request.done.undo_until is not None
        blocks.append(actions("unblock_undo", undo_button(request)))
        blocks.append(context(f"An approver can undo this until {slack_date(request.done.undo_until)}."))
    return fallback(f"{headline} {clip(why, 300)}".strip()), blocks


def undo_button(request: UnblockRequest) -> dict[str, object]:
    if not request.done.action.removes:
        address, network = fit(request.what.address or "", 60), clip(request.title, 120)
        question = f"Remove the allow entry for {address}? The block on {network} then applies to it again."
    else:
        where = list_of(t.kind for t in request.removed or request.what.targets)
        back = f"put {clip(request.title, 150)} back on {where} as it was?"
        added = any(r.added_allow is not None for r in request.done.results)
        question = f"Remove the allow entry and {back}" if added else back[0].upper() + back[1:]
    ask = confirm("Block again?", question, "Block again", "Go back")
    return button("Undo", UNDO, of_pbx(request.pbx, RequestButton(request.id).encode()), confirm=ask)


def _who(request: UnblockRequest) -> str:
    """Who asked, and who approved what an undo took back (the headline names who decided)."""
    if request.state is State.CANCELLED and request.decision.by is not None:
        return ""  # the one who cancelled is the one who asked
    asked = mention(request.asked.by)
    if not request.state.undo_phase:
        return f"Requested by {asked}."
    if carried_out_by_rule(request):
        return f"Unblocked automatically by {its_rule(request)}, requested by {asked}."
    several = len(request.decision.approvals) > 1
    return f"Approved by {approved(request) if several else mention(request.decision.by)}, requested by {asked}."


def decided_under(request: UnblockRequest) -> list[str]:
    """The rule a decided request followed (unless its headline names it), and who approved when it took several."""
    rule = request.decision.rule if not carried_out_by_rule(request) else None
    parts = [f"Rule: {fit(rule, RULE)}"] if rule else []
    # in the undo phase the card's second line names them; a denied request names no partial approvals
    if len(request.decision.approvals) > 1 and request.state in (State.EXECUTING, State.UNBLOCKED, State.FAILED):
        parts.append(f"Approved by {approved(request)}")
    return parts


def undo_open(request: UnblockRequest, now: float) -> bool:
    return (
        request.state in (State.UNBLOCKED, State.FAILED)
        and request.done.undo_until is not None
        and now <= request.done.undo_until
        and request.undoable
    )


def stale_undo_button(request: UnblockRequest, now: float) -> bool:
    decided = request.state in (State.UNBLOCKED, State.FAILED)
    return decided and request.done.undo_until is not None and not undo_open(request, now)


def allow_sentence(request: UnblockRequest) -> str | None:
    """Approve and allow, or Allow only: until when the address is allowed, or that it is not (None: not asked
    for, undone since, or not allowed as Allow only, which the headline says)."""
    action = request.done.action
    if action.allow_for is None or request.state.undo_phase or not request.done.results:
        return None
    result, what = request.done.results[0], title(request)
    until = slack_date(result.allowed_until) if result.allowed_until is not None else "without an end date"
    if not action.removes:  # Allow only: the block on the network stays
        address = fit(request.what.address or "", 60)
        if result.outcome is not Outcome.ALLOWED or result.allow_id is None:
            return None
        if result.allow_existed:
            return (
                f":shield: {address} was already allowed, until {until}, by 3CX entry {result.allow_id}, so no "
                f"allow entry was added; the block on {what} stays."
            )
        return f":shield: {address} is allowed until {until}; the block on {what} stays."
    if not result.outcome.gone:
        return None
    if result.allow_id is None:  # why is in 3CX's answer, in the record
        return (
            f":warning: The allow entry could not be added, so 3CX may block {what} again. To keep it in, an admin "
            f"can add it by hand in 3CX's IP blocklist: {what}, type Allow, for {duration_words(action.allow_for)}; "
            "or ask again with `/unblock` and choose Approve and allow."
        )
    if result.allow_existed:
        return (
            f":shield: {what} was already allowed, until {until}, by 3CX entry {result.allow_id}, "
            "so no second allow entry was added."
        )
    return f":shield: Allowed until {until} by 3CX allow entry {result.allow_id}."


def summary(request: UnblockRequest, whose: str = "Request") -> tuple[str, str, str]:
    """(emoji, headline, why) for the request's state: the headline in the one pattern of every outcome,
    "Request to unblock X was denied by @bob." (``whose``: "Your request" in the requester's direct message;
    after its PBX's name, when it has one), and, for a failure, why, in plain words."""
    emoji, words = ended(request)
    whys: dict[State, str] = {
        State.FAILED: failure_sentence(request),
        State.UNDO_FAILED: _undo_failure(request),
        State.DENIED: NOTHING_CHANGED,
        State.CANCELLED: NOTHING_CHANGED,
        State.EXPIRED: f"{NOTHING_CHANGED} Ask again with `/unblock`.",
    }
    headline = f"{pbx_tag(request.pbx)}{whose} to unblock {title(request)} {sentence(words)}"
    return emoji, headline, whys.get(request.state, "")


def _details(request: UnblockRequest) -> list[str]:
    only = request.what.targets[0] if len(request.what.targets) == 1 else None
    undo_phase = request.state.undo_phase
    answers = request.done.undo_results if undo_phase else request.done.results
    said = _answered(answers[0]) if len(answers) == 1 else None
    when = request.decision.at
    if request.state is State.EXPIRED:
        when = request.decision.expires_at
    elif undo_phase and request.done.undone_at is not None:
        when = request.done.undone_at
    details = [
        f"Reason: {fit(request.asked.reason, DESCRIPTION)}" if request.asked.reason else None,
        f"3CX description: {fit(only.description, DESCRIPTION)}" if only is not None and only.description else None,
        *decided_under(request),
        slack_date(when) if when is not None else None,
        f"3CX answered: {said}" if said else None,
        "finished after a restart of the bot" if any(r.after_restart for r in answers) else None,
        f"Request `{request.id}`",
    ]
    return [detail for detail in details if detail]


def _answered(result: Result) -> str | None:
    """3CX's answer, as far as the headline does not already say it: whole for a success and for a refusal the
    bot has no words of its own for; only its status for a failure the headline explains (None: no status)."""
    if result.outcome.gone or result.outcome in (Outcome.RESTORED, Outcome.ALLOWED, Outcome.OTHER):
        return fit(result.answer, ANSWER)
    status = re.match(r"HTTP [0-9]{3}", result.answer)
    return status.group(0) if status else None


def failure_sentence(request: UnblockRequest) -> str:
    kind = request.outcome or Outcome.OTHER
    refused = "3CX refused to remove it." if request.done.action.removes else "3CX refused to add the allow entry."
    why = explained(kind, refused)
    removed = len(request.removed)
    if removed and len(request.what.targets) > 1:
        were = "was" if removed == 1 else "were"
        why = f"{removed} of {len(request.what.targets)} entries {were} removed. {why}"
    if kind is Outcome.UNAVAILABLE:
        return f"{why} It is not certain what 3CX did: check the entry in 3CX, and ask again if needed."
    return why if removed else f"{why} {NOTHING_CHANGED}"


def _undo_failure(request: UnblockRequest) -> str:
    if not request.done.action.removes:  # Allow only: its allow entry stays
        kept = [r for r in request.done.undo_results if not r.outcome.gone]
        if not kept:
            return ""
        why = explained(kept[0].outcome, "3CX refused to remove the allow entry.")
        entry = next((f"entry {r.added_allow}" for r in request.done.results if r.added_allow is not None), "the entry")
        return f"{why} {fit(request.what.address or '', 60)} is still allowed; an admin can remove {entry} in 3CX."
    pairs = zip(request.removed, request.done.undo_results, strict=False)
    failed = [(t, r) for t, r in pairs if r.outcome is not Outcome.RESTORED]
    if not failed:
        return ""
    why = explained(failed[0][1].outcome, "3CX refused to add it back.")
    values = "; ".join(_as_it_was(t) for t, _ in failed[:3])
    more = f" (and {len(failed) - 3} more)" if len(failed) > 3 else ""
    them = "it" if len(failed) == 1 else "them"
    return f"{why} An admin can add {them} again by hand in 3CX: {values}{more}."


def _as_it_was(target: Target) -> str:
    """An entry as an admin adds it again by hand in 3CX's form: ``203.0.113.7`` on the IP blocklist, type Block,
    no expiry, description _Failed SIP registrations_."""
    described = f"description _{fit(target.description, DESCRIPTION)}_" if target.description else "no description"
    if not isinstance(target, BlocklistEntry):
        return f"`{label(target)}` on the caller-number blacklist, {described}"
    expires = entry_expiry(target.expires_at)
    until = "no expiry" if expires == "never" else f"expiring {expires}"
    kind = fit(target.block_type or "Block", 40)
    return f"`{label(target)}` on the IP blocklist, type {kind}, {until}, {described}"


#: the states the requester is told about (a direct message), and the channel where they asked (one line)
TOLD = frozenset({State.UNBLOCKED, State.FAILED, State.DENIED, State.EXPIRED, State.UNDONE, State.UNDO_FAILED})


def see(link: str | None, request: UnblockRequest) -> str:
    return f"<{link}|See the request>" if link else f"See the request in <#{request.asked.channel}>."


def waiting_in(request: UnblockRequest, link: str | None) -> str:
    card = f" (<{link}|see the card>)" if link else ""
    return (
        f"{pbx_tag(request.pbx)}Your request to unblock `{title(request)}` is waiting for approval in "
        f"<#{request.asked.channel}>{card}. You will be told the outcome."
    )


def direct_message(request: UnblockRequest, link: str | None) -> tuple[str, Blocks]:
    emoji, headline, why = summary(request, "Your request")
    under = " · ".join(decided_under(request))
    lines = [f"{emoji} *{headline}* {why}".rstrip(), f"{under}." if under else None, allow_sentence(request)]
    lines.append(fix(request))
    return fallback(headline), [section("\n".join([*filter(None, lines), see(link, request)]))]


def fix(request: UnblockRequest) -> str | None:
    """Once unblocked (or let in): what 3CX logged about the address, and what usually fixes it."""
    return what_to_fix(request.what.evidence) if request.state is State.UNBLOCKED else None


def origin_line(request: UnblockRequest, link: str | None, *, name_requester: bool = False) -> tuple[str, Blocks]:
    """One short line in the channel where the request was asked for. The requester is told by a direct
    message, so the line names them only when ``name_requester`` (no direct message is sent)."""
    emoji, headline, _ = summary(request)
    asked = f" Requested by {mention(request.asked.by)}." if name_requester else ""
    return fallback(headline), [section(f"{emoji} *{headline}*{asked} {see(link, request)}")]
