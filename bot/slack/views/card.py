"""The card asking for approval."""

from __future__ import annotations

from collections.abc import Sequence

from ...domain.model import UnblockRequest
from ...domain.requests import WIDEST_ALLOWED, allowable, duration_words, network
from ..blocks import Block, Blocks, actions, button, clip, confirm, context, fallback, fit, section, select
from ..buttons import ALLOW_FOR, APPROVE, APPROVE_ALLOW, CANCEL, DENY, AllowButton, RequestButton
from .common import entry_fields, single_entry, slack_date, target_lines, what


def request_card(
    request: UnblockRequest, approvers: str, durations: Sequence[float] = (), chosen: float | None = None
) -> tuple[str, Blocks]:
    """The card asking ``approvers`` (named as in a sentence) to approve ``request``; with ``durations``, a
    request about one IP address (or a narrow network) also offers Approve and allow (for ``chosen``, else the
    first duration)."""
    value = RequestButton(request.id).encode()
    # Approve is the main action, asked once more; Approve and allow, which opens more, is the red one
    decision = actions("unblock_decision", button("Approve", APPROVE, value, "primary", approve_confirm(request)),
                       button("Deny", DENY, value), button("Cancel", CANCEL, value))  # fmt: skip
    asked = f" in <#{request.asked_in}>" if request.asked_in else ""
    blocks: Blocks = [section(f":unlock: *<@{request.requester}> asks to unblock {what(request)}*{asked}")]
    only = single_entry(request)
    blocks.append(entry_fields(only) if only is not None else section(target_lines(request.targets)))
    if request.reason:
        blocks.append(section(f"*Reason:* {fit(request.reason, 1000)}"))
    blocks.append(context(f"Waiting for {approvers} to approve, until {slack_date(request.expires_at)}. "
                          f"Request `{request.id}`."))  # fmt: skip
    blocks.append(decision)
    if durations and allowable(request):
        blocks.append(allow_choice(request, durations, chosen if chosen is not None and chosen in durations
                                   else durations[0]))  # fmt: skip
    elif durations and network(request) is not None:
        widest = f"/{WIDEST_ALLOWED[4]} (IPv6: /{WIDEST_ALLOWED[6]})"
        blocks.append(context(f"Approve and allow is offered only for one address or a network up to {widest}."))
    return fallback(f"<@{request.requester}> asks to unblock {clip(request.title, 200)}"), blocks


def approve_confirm(request: UnblockRequest) -> Block:
    """What Approve asks once more (on the card and in the Home tab)."""
    them = "it" if len(request.targets) == 1 else "them"
    question = f"Unblock {clip(request.title, 150)}? Calls from {them} will reach the PBX again."
    return confirm("Remove from the blocklist?", question, "Unblock", "Go back")


def allow_choice(request: UnblockRequest, durations: Sequence[float], chosen: float) -> Block:
    """**Approve and allow** for ``chosen`` seconds, and the select of the duration beside it. Choosing another
    duration redraws the card, so that the button and its confirmation always name what will be done."""
    options = [(f"Allow for {duration_words(d)}", AllowButton(request.id, int(d)).encode()) for d in durations]
    current = AllowButton(request.id, int(chosen)).encode()
    question = (f"Remove the block on {clip(request.title, 120)} and add an allow entry for it for "
                f"{duration_words(chosen)}, so that 3CX does not block it again meanwhile?")  # fmt: skip
    ask = confirm("Unblock and allow?", question, "Unblock and allow", "Go back")
    return actions(
        "unblock_allow",
        select(ALLOW_FOR, options, current, "Allow for…"),
        button(f"Approve and allow for {duration_words(chosen)}", APPROVE_ALLOW, current, "danger", ask),
    )
