"""The card asking for approval."""

from __future__ import annotations

from collections.abc import Sequence

from ...domain.actions import UNBLOCK, WIDEST_ALLOWED, Action, Does, allowable, network
from ...domain.allowing import duration_words
from ...domain.entries import Kind
from ...domain.model import Approval, UnblockRequest, agreed
from ...domain.recurrence import Recurrence
from ..blocks import Block, Blocks, actions, button, clip, confirm, context, fallback, fit, section, select
from ..buttons import ALLOW_FOR, ALLOW_ONLY, APPROVE, APPROVE_ALLOW, CANCEL, DENY, AllowButton, RequestButton
from .common import (
    RECURRENCE_DAYS,
    action_words,
    approvals_so_far,
    entry_fields,
    mention,
    rule_name,
    slack_date,
    target_lines,
    times,
    title,
    unblocker,
)
from .reminders import escalation_line


def request_card(
    request: UnblockRequest,
    approvers: str,
    durations: Sequence[float] = (),
    chosen: float | None = None,
    recurring: Recurrence | None = None,
) -> tuple[str, Blocks]:
    """The card asking ``approvers`` (named as in a sentence) to approve ``request``; with ``durations``, a
    request about one IP address (or a narrow network) also offers Approve and allow (for ``chosen``, else the
    first duration). ``recurring``: what the request is about was unblocked before; the card says so, and puts
    Approve and allow first, for the longest duration unless another was chosen."""
    value = RequestButton(request.id).encode()
    # Approve is the main action, asked once more; Approve and allow, which opens more, is the red one
    decision = actions(
        "unblock_decision",
        button("Approve", APPROVE, value, "primary", approve_confirm(request)),
        button("Deny", DENY, value),
        button("Cancel", CANCEL, value),
    )
    asked = f" in <#{request.asked.elsewhere}>" if request.asked.elsewhere else ""
    blocks: Blocks = [section(f":unlock: *{mention(request.asked.by)} asks to unblock {title(request)}*{asked}")]
    targets = request.what.targets
    blocks.append(entry_fields(targets[0]) if len(targets) == 1 else section(target_lines(targets)))
    if request.asked.reason:
        blocks.append(section(f"*Reason:* {fit(request.asked.reason, 1000)}"))
    until = slack_date(request.decision.expires_at)
    blocks.append(context(f"Waiting for {approvers} to approve, until {until}. Request `{request.id}`."))
    so_far = approvals_so_far(request) if request.decision.approvals else None
    again = recurrence_line(recurring) if recurring is not None else None
    lines = (rule_line(request, approvers), so_far, again, escalation_line(request))
    blocks += [context(line) for line in lines if line]
    if durations and allowable(request):
        default = max(durations) if recurring is not None else durations[0]
        allow = allow_choice(request, durations, _duration(durations, chosen, default))
        # what keeps coming back is likely to come back again: Approve and allow is offered first
        blocks += [allow, decision] if recurring is not None else [decision, allow]
    elif durations and network(request) is not None:
        widest = f"/{WIDEST_ALLOWED[4]} (IPv6: /{WIDEST_ALLOWED[6]})"
        blocks += [decision, context(f"Approve and allow is offered only for one address or a network up to {widest}.")]
    else:
        blocks.append(decision)
    blocks += allow_only_choice(request, durations, chosen)
    return fallback(f"{mention(request.asked.by)} asks to unblock {fit(request.title, 200)}"), blocks


def recurrence_line(recurring: Recurrence) -> str:
    """``Unblocked 3 times in the last 30 days (last: <date>, by <@U1>)``: the earlier unblocks of what a request
    is about."""
    last = f"last: {slack_date(recurring.last_at)}, by {unblocker(recurring.last)}"
    return f"Unblocked {times(recurring.count)} in the last {RECURRENCE_DAYS} days ({last})"


def rule_line(request: UnblockRequest, approvers: str) -> str | None:
    """The rule that decides for the request, and what it asks: ``Rule: Wide networks, 2 approvals from <@U1> or
    <@U2>`` (None: the settings decide)."""
    if not request.decision.rule:
        return None
    if request.decision.auto:
        return f"Rule: {rule_name(request)}, carried out without approval"
    needed = "approval" if request.decision.needed < 2 else f"{request.decision.needed} approvals"
    return f"Rule: {rule_name(request)}, {needed} from {approvers}"


def approve_confirm(request: UnblockRequest) -> Block:
    """What Approve asks once more (on the card and in the Home tab)."""
    them = "it" if len(request.what.targets) == 1 else "them"
    question = f"Unblock {clip(request.title, 150)}? Calls from {them} will reach the PBX again."
    kinds = {target.kind for target in request.what.targets}
    where = _LISTS[kinds.pop()] if len(kinds) == 1 else "the 3CX lists"
    return confirm(f"Remove from {where}?", narrower(request, UNBLOCK) + question, "Unblock", "Go back")


def narrower(request: UnblockRequest, clicked: Action) -> str:
    """Before a confirmation's question: when this approval completes those so far and they agree only on a
    narrower action, that this is what will be carried out (empty otherwise)."""
    carried_out = agreed((*request.decision.approvals, Approval("", clicked)), request.decision.needed)
    if request.decision.needed < 2 or carried_out is None or carried_out.action.breadth == clicked.breadth:
        return ""
    action = action_words(request, carried_out.action)
    return f"With the approvals so far, yours carries out only what each approved: {action}. "


_LISTS = {Kind.ADDRESS: "the IP blocklist", Kind.NUMBER: "the caller-number blacklist"}


def _duration(durations: Sequence[float], chosen: float | None, default: float) -> float:
    """The duration the card offers: the one chosen, if it is still one of ``durations``; else ``default``."""
    return chosen if chosen is not None and chosen in durations else default


def _allow_for(
    block_id: str,
    request: UnblockRequest,
    durations: Sequence[float],
    seconds: float,
    words: str,
    action: str,
    ask: Block,
) -> Block:
    """The select of the duration, at ``seconds``, and beside it the red button that allows for that long."""
    options = [(f"Allow for {duration_words(d)}", AllowButton(request.id, int(d)).encode()) for d in durations]
    current = AllowButton(request.id, int(seconds)).encode()
    return actions(
        block_id, select(ALLOW_FOR, options, current, "Allow for…"), button(words, action, current, "danger", ask)
    )


def allow_choice(request: UnblockRequest, durations: Sequence[float], chosen: float) -> Block:
    """**Approve and allow** for ``chosen`` seconds, and the select of the duration beside it. Choosing another
    duration redraws the card, so that the button and its confirmation always name what will be done."""
    question = narrower(request, Action(Does.UNBLOCK_AND_ALLOW, chosen)) + (
        f"Remove the block on {clip(request.title, 120)} and add an allow entry for it for "
        f"{duration_words(chosen)}, so that 3CX does not block it again meanwhile?"
    )
    ask = confirm("Unblock and allow?", question, "Unblock and allow", "Go back")
    words = f"Approve and allow for {duration_words(chosen)}"
    return _allow_for("unblock_allow", request, durations, chosen, words, APPROVE_ALLOW, ask)


def allow_only_choice(request: UnblockRequest, durations: Sequence[float], chosen: float | None) -> Blocks:
    """**Allow only** the one address asked for, inside the blocked network, for ``chosen`` seconds (else the
    first duration), and the select of the duration beside it (the same select as Approve and allow's: choosing
    in either redraws both buttons). Nothing when no address was asked for inside a network, or the rule offers
    no duration."""
    if not durations or not request.what.address:
        return []
    seconds = _duration(durations, chosen, durations[0])
    address, blocked = clip(request.what.address, 60), clip(request.title, 120)
    question = (
        f"Add an allow entry for {address} alone for {duration_words(seconds)}? The block on {blocked} "
        "stays for every other address."
    )
    ask = confirm("Allow only this address?", question, "Allow it", "Go back")
    words = f"Allow only {address} for {duration_words(seconds)}"
    return [_allow_for("unblock_allow_only", request, durations, seconds, words, ALLOW_ONLY, ask)]
