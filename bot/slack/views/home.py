"""The bot's Home tab: for an approver, the requests waiting for a decision with Approve and Deny; for
everyone, their own last requests and how they ended."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ...domain.model import State, UnblockRequest
from ..blocks import MAX_BLOCKS, Blocks, actions, button, context, fit, section
from ..buttons import HOME_APPROVE, HOME_DENY, RequestButton
from .card import approve_confirm
from .common import ended, mention, slack_date, title, under_rule
from .lists import REASON_IN_LIST, how_it_ended

INTRO = (
    ":unlock: *unblock-bot* removes entries from 3CX's IP blocklist and caller-number blacklist once an approver "
    "agrees. Ask in a channel with "
    "`/unblock <entry id | address | number> [reason]`."
)
#: how many waiting requests, and how many of the person's own, the tab shows
WAITING_SHOWN = 10
OWN_SHOWN = 10


def home_view(
    waiting: Sequence[UnblockRequest] | None, own: Sequence[UnblockRequest], notice: str | None = None
) -> dict[str, Any]:
    """The Home tab: ``waiting`` requests for an approver (None for anyone else), ``own`` requests, newest
    first, and a ``notice`` about the person's last click there."""
    blocks: Blocks = [section(INTRO)]
    if notice:
        blocks.append(section(f":information_source: {notice}"))
    if waiting is not None:
        blocks.append({"type": "divider"})
        blocks.append(section("*Waiting for approval* (newest first)"))
        if not waiting:
            blocks.append(context("Nothing is waiting for approval."))
        for request in waiting[:WAITING_SHOWN]:
            blocks += _waiting(request)
        if len(waiting) > WAITING_SHOWN:
            blocks.append(context("…and more: see `/unblock history`."))
    blocks.append({"type": "divider"})
    blocks.append(section("*Your requests* (newest first)"))
    if not own:
        blocks.append(context("You have not asked for an unblock yet."))
    lines = [f"• {slack_date(r.asked.at)} {how_it_ended(r)} · `{r.id}`" for r in own[:OWN_SHOWN]]
    if lines:
        blocks.append(section("\n".join(lines)))
    return {"type": "home", "blocks": blocks[:MAX_BLOCKS]}


def _waiting(request: UnblockRequest) -> Blocks:
    """One waiting request: what, who, where, why, until when; Approve (asked once more, as on the card) and Deny."""
    line = f"{mention(request.asked.by)} asks to unblock *{title(request)}* in <#{request.asked.origin}>"
    decision = request.decision
    if decision.reminded_at is not None or decision.escalation is not None:  # its approvers were reminded
        line = f":hourglass_flowing_sand: *Waiting long{', escalated' if decision.escalation else ''}:* {line}"
    if request.asked.reason:
        line += f" · _{fit(request.asked.reason, REASON_IN_LIST)}_"
    under = under_rule(request, names=True)  # a waiting request: its rule is never the one that carried it out
    line += "\n" + " · ".join([f"Until {slack_date(decision.expires_at)}", *under, f"request `{request.id}`"])
    value = RequestButton(request.id).encode()
    decide = actions(
        f"home_{request.id}",
        button("Approve", HOME_APPROVE, value, "primary", approve_confirm(request)),
        button("Deny", HOME_DENY, value),
    )
    return [section(line), decide]


def decided_notice(request: UnblockRequest) -> str:
    """What a click in the Home tab did, for the person who clicked (an approval of several: that it counted)."""
    whose = f"{mention(request.asked.by)}'s request to unblock `{title(request)}`"
    if request.state is State.PENDING and request.decision.approvals:
        left = request.decision.needed - len(request.decision.approvals)
        more = "one more approver" if left == 1 else f"{left} more approvers"
        return f"Your approval of {whose} is recorded; it needs {more}."
    words = ended(request)
    return f"{whose} {words}{'' if words.endswith('…') else '.'}"
