"""The card asking for approval."""

from __future__ import annotations

from collections.abc import Sequence

from ...domain.model import Approval, Kind, UnblockRequest, agreed
from ...domain.requests import WIDEST_ALLOWED, Recurrence, allowable, duration_words, network
from ..blocks import Block, Blocks, actions, button, clip, confirm, context, fallback, fit, section, select
from ..buttons import ALLOW_FOR, ALLOW_ONLY, APPROVE, APPROVE_ALLOW, CANCEL, DENY, AllowButton, RequestButton
from .common import (
    RECURRENCE_DAYS,
    approvals_so_far,
    approved_action,
    entry_fields,
    mention,
    rule_name,
    single_entry,
    slack_date,
    target_lines,
    times,
    unblocker,
    what,
)
from .reminders import escalation_line


def request_card(
    request: UnblockRequest, approvers: str, durations: Sequence[float] = (), chosen: float | None = None,
    recurring: Recurrence | None = None,
) -> tuple[str, Blocks]:  # fmt: skip
    """The card asking ``approvers`` (named as in a sentence) to approve ``request``; with ``durations``, a
    request about one IP address (or a narrow network) also offers Approve and allow (for ``chosen``, else the
    first duration). ``recurring``: what the request is about was unblocked before; the card says so, and puts
    Approve and allow first, for the longest duration unless another was chosen."""
    value = RequestButton(request.id).encode()
    # Approve is the main action, asked once more; Approve and allow, which opens more, is the red one
    decision = actions("unblock_decision", button("Approve", APPROVE, value, "primary", approve_confirm(request)),
                       button("Deny", DENY, value), button("Cancel", CANCEL, value))  # fmt: skip
    asked = f" in <#{request.asked_in}>" if request.asked_in else ""
    blocks: Blocks = [section(f":unlock: *{mention(request.requester)} asks to unblock {what(request)}*{asked}")]
    only = single_entry(request)
    blocks.append(entry_fields(only) if only is not None else section(target_lines(request.targets)))
    if request.reason:
        blocks.append(section(f"*Reason:* {fit(request.reason, 1000)}"))
    blocks.append(context(f"Waiting for {approvers} to approve, until {slack_date(request.expires_at)}. "
                          f"Request `{request.id}`."))  # fmt: skip
    so_far = approvals_so_far(request) if request.approvals else None
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
    return fallback(f"{mention(request.requester)} asks to unblock {fit(request.title, 200)}"), blocks


def recurrence_line(recurring: Recurrence) -> str:
    """``Unblocked 3 times in the last 30 days (last: <date>, by <@U1>)``: the earlier unblocks of what a request
    is about."""
    last = f"last: {slack_date(recurring.last_at)}, by {unblocker(recurring.last)}"
    return f"Unblocked {times(recurring.count)} in the last {RECURRENCE_DAYS} days ({last})"


def rule_line(request: UnblockRequest, approvers: str) -> str | None:
    """The rule that decides for the request, and what it asks: ``Rule: Wide networks, 2 approvals from <@U1> or
    <@U2>`` (None: the settings decide)."""
    if not request.rule:
        return None
    if request.auto:
        return f"Rule: {rule_name(request)}, carried out without approval"
    needed = "approval" if request.approvals_needed < 2 else f"{request.approvals_needed} approvals"
    return f"Rule: {rule_name(request)}, {needed} from {approvers}"


def approve_confirm(request: UnblockRequest) -> Block:
    """What Approve asks once more (on the card and in the Home tab)."""
    them = "it" if len(request.targets) == 1 else "them"
    question = f"Unblock {clip(request.title, 150)}? Calls from {them} will reach the PBX again."
    kinds = {target.kind for target in request.targets}
    where = _LISTS[kinds.pop()] if len(kinds) == 1 else "the 3CX lists"
    return confirm(f"Remove from {where}?", narrower(request, Approval("")) + question, "Unblock", "Go back")


def narrower(request: UnblockRequest, clicked: Approval) -> str:
    """Before a confirmation's question: when this approval completes those so far and they agree only on a
    narrower action, that this is what will be carried out (empty otherwise)."""
    carried_out = agreed((*request.approvals, clicked), request.approvals_needed)
    if request.approvals_needed < 2 or carried_out is None or carried_out.breadth == clicked.breadth:
        return ""
    action = approved_action(request, carried_out)
    return f"With the approvals so far, yours carries out only what each approved: {action}. "


_LISTS = {Kind.ADDRESS: "the IP blocklist", Kind.NUMBER: "the caller-number blacklist"}


def _duration(durations: Sequence[float], chosen: float | None, default: float) -> float:
    """The duration the card offers: the one chosen, if it is still one of ``durations``; else ``default``."""
    return chosen if chosen is not None and chosen in durations else default


def _allow_for(
    block_id: str, request: UnblockRequest, durations: Sequence[float], seconds: float, words: str, action: str,
    ask: Block,
) -> Block:  # fmt: skip
    """The select of the duration, at ``seconds``, and beside it the red button that allows for that long."""
    options = [(f"Allow for {duration_words(d)}", AllowButton(request.id, int(d)).encode()) for d in durations]
    current = AllowButton(request.id, int(seconds)).encode()
    return actions(block_id, select(ALLOW_FOR, options, current, "Allow for…"),
                   button(words, action, current, "danger", ask))  # fmt: skip


def allow_choice(request: UnblockRequest, durations: Sequence[float], chosen: float) -> Block:
    """**Approve and allow** for ``chosen`` seconds, and the select of the duration beside it. Choosing another
    duration redraws the card, so that the button and its confirmation always name what will be done."""
    question = narrower(request, Approval("", chosen)) + (
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
    if not durations or not request.asked_address:
        return []
    seconds = _duration(durations, chosen, durations[0])
    address, blocked = clip(request.asked_address, 60), clip(request.title, 120)
    question = (f"Add an allow entry for {address} alone for {duration_words(seconds)}? The block on {blocked} "
                "stays for every other address.")  # fmt: skip
    ask = confirm("Allow only this address?", question, "Allow it", "Go back")
    words = f"Allow only {address} for {duration_words(seconds)}"
    return [_allow_for("unblock_allow_only", request, durations, seconds, words, ALLOW_ONLY, ask)]
