"""What the requester, and the channel where they asked, are told about a request decided elsewhere."""

from __future__ import annotations

from ...domain.model import State, UnblockRequest
from ..blocks import Blocks, fallback, section
from .common import mention, title
from .outcome import allow_sentence, decided_under, summary

#: the states the requester is told about (a direct message), and the channel where they asked (one line)
TOLD = frozenset({State.UNBLOCKED, State.FAILED, State.DENIED, State.EXPIRED, State.UNDONE, State.UNDO_FAILED})


def see(link: str | None, request: UnblockRequest) -> str:
    """A link to the card, or the channel it is in when Slack gave no link."""
    return f"<{link}|See the request>" if link else f"See the request in <#{request.asked.channel}>."


def waiting_in(request: UnblockRequest, link: str | None) -> str:
    """The private note to the requester when the card went to the approvals channel."""
    card = f" (<{link}|see the card>)" if link else ""
    return (
        f"Your request to unblock `{title(request)}` is waiting for approval in <#{request.asked.channel}>{card}. "
        "You will be told the outcome."
    )


def direct_message(request: UnblockRequest, link: str | None) -> tuple[str, Blocks]:
    """The direct message to the requester: how their request ended, and a link to its card."""
    emoji, headline, why = summary(request, "Your request")
    lines = [f"{emoji} *{headline}* {why}".rstrip()]
    under = decided_under(request)
    if under:
        lines.append(" · ".join(under) + ".")
    allowed = allow_sentence(request)
    if allowed:
        lines.append(allowed)
    lines.append(see(link, request))
    return fallback(headline), [section("\n".join(lines))]


def origin_line(request: UnblockRequest, link: str | None, *, name_requester: bool = False) -> tuple[str, Blocks]:
    """One short line in the channel where the request was asked for. The requester is told by a direct
    message, so the line names them only when ``name_requester`` (no direct message is sent)."""
    emoji, headline, _ = summary(request)
    asked = f" Requested by {mention(request.asked.by)}." if name_requester else ""
    return fallback(headline), [section(f"{emoji} *{headline}*{asked} {see(link, request)}")]
