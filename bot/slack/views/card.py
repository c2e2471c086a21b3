"""The card asking for approval, and the replies in its thread while it waits: a reminder to whoever may approve
it, and its escalation to more people."""

from __future__ import annotations

from collections.abc import Sequence

from ...domain.actions import UNBLOCK, WIDEST_ALLOWED, Action, Does, allowable, network
from ...domain.allowing import duration_words
from ...domain.model import Approval, Escalation, UnblockRequest, agreed
from ...domain.recurrence import Recurrence
from ...domain.rules import Approvers
from ..blocks import Block, Blocks, actions, button, clip, confirm, context, fallback, fit, section, select
from ..buttons import ALLOW_FOR, ALLOW_ONLY, APPROVE, APPROVE_ALLOW, CANCEL, DENY, AllowButton, RequestButton, of_pbx
from .common import (
    RECURRENCE_DAYS,
    RULE,
    action_words,
    approvals_so_far,
    entry_fields,
    list_of,
    listed,
    mention,
    pbx_tag,
    slack_date,
    target_lines,
    times,
    title,
    unblocker,
)
from .evidence import evidence_blocks
from .notes import who_approves


def request_card(
    request: UnblockRequest,
    approvers: str,
    durations: Sequence[float] = (),
    chosen: float | None = None,
    recurring: Recurrence | None = None,
    now: float | None = None,
) -> tuple[str, Blocks]:
    """The card asking ``approvers`` (named as in a sentence) to approve ``request``; with ``durations``, a
    request about one IP address (or a narrow network) also offers Approve and allow (for ``chosen``, else the
    first duration). ``recurring``: what the request is about was unblocked before, and the card says so. What
    3CX knew about the address is shown as at ``now`` (by default, when the request was made)."""
    value = of_pbx(request.pbx, RequestButton(request.id).encode())
    # Approve is the main action, asked once more; Approve and allow, which opens more, is the red one
    decision = actions(
        "unblock_decision",
        button("Approve", APPROVE, value, "primary", approve_confirm(request)),
        button("Deny", DENY, value),
        button("Cancel", CANCEL, value),
    )
    asked = f" in <#{request.asked.elsewhere}>" if request.asked.elsewhere else ""
    asks = f"{pbx_tag(request.pbx)}{mention(request.asked.by)} asks to unblock"
    blocks: Blocks = [section(f":unlock: *{asks} {title(request)}*{asked}")]
    targets = request.what.targets
    blocks.append(entry_fields(targets[0]) if len(targets) == 1 else section(target_lines(targets)))
    blocks += evidence_blocks(request, request.asked.at if now is None else now)
    if request.asked.reason:
        blocks.append(section(f"*Reason:* {fit(request.asked.reason, 1000)}"))
    until = slack_date(request.decision.expires_at)
    blocks.append(context(f"Waiting for {approvers} to approve, until {until}. Request `{request.id}`."))
    so_far = approvals_so_far(request) if request.decision.approvals else None
    again = recurrence_line(recurring) if recurring is not None else None
    lines = (rule_line(request, approvers), so_far, again, escalation_line(request))
    blocks += [context(line) for line in lines if line]
    if durations and allowable(request.what.targets):
        # what keeps coming back is likely to come back again: Approve and allow is offered first, for the
        # longest duration unless another was chosen
        default = max(durations) if recurring is not None else durations[0]
        seconds = next((d for d in durations if d == chosen), default)
        allow = allow_choice(request, durations, seconds, Does.UNBLOCK_AND_ALLOW)
        blocks += [allow, decision] if recurring is not None else [decision, allow]
    elif durations and network(request.what.targets) is not None:
        widest = f"/{WIDEST_ALLOWED[4]} (IPv6: /{WIDEST_ALLOWED[6]})"
        blocks += [decision, context(f"Approve and allow is offered only for one address or a network up to {widest}.")]
    else:
        blocks.append(decision)
    if durations and request.what.address:
        seconds = next((d for d in durations if d == chosen), durations[0])
        blocks.append(allow_choice(request, durations, seconds, Does.ALLOW_ONLY))
    return fallback(f"{asks} {fit(request.title, 200)}"), blocks


def recurrence_line(recurring: Recurrence) -> str:
    last = f"last: {slack_date(recurring.last_at)}, by {unblocker(recurring.last)}"
    return f"Unblocked {times(recurring.count)} in the last {RECURRENCE_DAYS} days ({last})"


def rule_line(request: UnblockRequest, approvers: str) -> str | None:
    if not request.decision.rule:
        return None
    needed = "approval" if request.decision.needed < 2 else f"{request.decision.needed} approvals"
    asks = "carried out without approval" if request.decision.auto else f"{needed} from {approvers}"
    return f"Rule: {fit(request.decision.rule, RULE)}, {asks}"


def approve_confirm(request: UnblockRequest) -> Block:
    them = "it" if len(request.what.targets) == 1 else "them"
    question = f"Unblock {clip(request.title, 150)}? Calls from {them} will reach the PBX again."
    where = list_of(target.kind for target in request.what.targets)
    return confirm(f"Remove from {where}?", narrower(request, UNBLOCK) + question, "Unblock", "Go back")


def narrower(request: UnblockRequest, clicked: Action) -> str:
    """Before a confirmation's question: when this approval completes those so far and they agree only on a
    narrower action, that this is what will be carried out (empty otherwise)."""
    carried_out = agreed((*request.decision.approvals, Approval("", clicked)), request.decision.needed)
    if request.decision.needed < 2 or carried_out is None or carried_out.action.breadth == clicked.breadth:
        return ""
    action = action_words(request, carried_out.action)
    return f"With the approvals so far, yours carries out only what each approved: {action}. "


def allow_choice(request: UnblockRequest, durations: Sequence[float], seconds: float, does: Does) -> Block:
    """**Approve and allow** for ``seconds``, or **Allow only** the one address asked for inside the blocked
    network, and beside it the select of the duration (one select for both: choosing in either redraws the card,
    so that each button and its confirmation always name what will be done)."""
    duration = duration_words(seconds)
    if does is Does.ALLOW_ONLY:
        address, blocked = clip(request.what.address or "", 60), clip(request.title, 120)
        question = (
            f"Add an allow entry for {address} alone for {duration}? The block on {blocked} stays for every other "
            "address."
        )
        ask = confirm("Allow only this address?", question, "Allow it", "Go back")
        block_id, words, action_id = "unblock_allow_only", f"Allow only {address} for {duration}", ALLOW_ONLY
    else:
        question = narrower(request, Action(does, seconds)) + (
            f"Remove the block on {clip(request.title, 120)} and add an allow entry for it for {duration}, so that "
            "3CX does not block it again meanwhile?"
        )
        ask = confirm("Unblock and allow?", question, "Unblock and allow", "Go back")
        block_id, words, action_id = "unblock_allow", f"Approve and allow for {duration}", APPROVE_ALLOW
    options = [(f"Allow for {duration_words(d)}", _allow(request, d)) for d in durations]
    current = _allow(request, seconds)
    return actions(
        block_id, select(ALLOW_FOR, options, current, "Allow for…"), button(words, action_id, current, "danger", ask)
    )


def reminder_reply(request: UnblockRequest, deciders: Approvers, now: float) -> tuple[str, Blocks]:
    seconds = max(0.0, now - request.asked.at)
    waited = duration_words(seconds // 60 * 60 if seconds >= 60 else int(seconds))  # whole minutes, but under one
    line = (
        f"{pbx_tag(request.pbx)}{who_approves(deciders)}: {mention(request.asked.by)}'s request to unblock "
        f"`{title(request)}` has waited {waited} for a decision. Please approve or deny it on the card."
    )
    return fallback(line), [section(f":bell: {line}")]


def _escalated(escalation: Escalation) -> str:
    """``Escalated to <@U9> and <!subteam^S1> after 1 hour``, naming each one it is escalated to once."""
    names = [f"<@{user}>" for user in escalation.users] + [f"<!subteam^{group}>" for group in escalation.groups]
    return f"Escalated to {listed(list(dict.fromkeys(names)))} after {duration_words(escalation.after)}"


def escalation_reply(request: UnblockRequest, escalation: Escalation) -> tuple[str, Blocks]:
    line = (
        f"{pbx_tag(request.pbx)}{_escalated(escalation)}: {mention(request.asked.by)}'s request to unblock "
        f"`{title(request)}` still waits for a decision. You may now approve or deny it on the card, like its "
        "approvers."
    )
    return fallback(line), [section(f":rotating_light: {line}")]


def escalation_line(request: UnblockRequest) -> str | None:
    escalation = request.decision.escalation
    return f":rotating_light: {_escalated(escalation)}." if escalation is not None else None


def _allow(request: UnblockRequest, seconds: float) -> str:
    """The value of Approve and allow (or Allow only) for ``seconds``, and of its option in the select."""
    return of_pbx(request.pbx, AllowButton(request.id, int(seconds)).encode())
