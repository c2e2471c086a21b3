"""The card asking for approval."""

from __future__ import annotations

from ...domain.model import UnblockRequest
from ..blocks import Blocks, actions, button, clip, confirm, context, fallback, fit, section
from ..buttons import APPROVE, CANCEL, DENY, RequestButton
from .common import entry_fields, single_ip_entry, slack_date, target_lines, what


def request_card(request: UnblockRequest, approvers: str) -> tuple[str, Blocks]:
    """The card asking ``approvers`` (named as in a sentence) to approve ``request``."""
    them = "it" if len(request.targets) == 1 else "them"
    value = RequestButton(request.id).encode()
    question = f"Unblock {clip(request.title, 150)}? Calls from {them} will reach the PBX again."
    ask = confirm("Remove from the blocklist?", question, "Unblock", "Keep blocked")
    # Approve opens the phone system: red, and asked once more; Deny and Cancel change nothing
    decision = actions("unblock_decision", button("Approve", APPROVE, value, "danger", ask),
                       button("Deny", DENY, value), button("Cancel", CANCEL, value))  # fmt: skip
    blocks: Blocks = [section(f":unlock: *<@{request.requester}> asks to unblock {what(request)}*")]
    only = single_ip_entry(request)
    blocks.append(entry_fields(only) if only is not None else section(target_lines(request.targets)))
    if request.reason:
        blocks.append(section(f"*Reason:* {fit(request.reason, 1000)}"))
    blocks.append(context(f"Waiting for {approvers} to approve, until {slack_date(request.expires_at)}. "
                          f"Request `{request.id}`."))  # fmt: skip
    blocks.append(decision)
    return fallback(f"<@{request.requester}> asks to unblock {clip(request.title, 200)}"), blocks
