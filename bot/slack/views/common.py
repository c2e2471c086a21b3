"""Pieces every view uses: dates, entries described, and the budgets for text from elsewhere."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from ...domain.model import Result, State, UnblockRequest
from ...domain.outcomes import Outcome
from ...threecx.models import BlocklistEntry, Kind, Target, expiry
from ..blocks import fields, fit

#: budgets for text from elsewhere, in characters before escaping
LABEL = 120
DESCRIPTION = 300
DESCRIPTION_IN_LIST = 150
ANSWER = 500


def slack_date(epoch: float) -> str:
    """A time every reader sees in their own time zone (UTC as the fallback text)."""
    shown = datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(epoch)}^{{date_short_pretty}} at {{time}}|{shown}>"


def entry_expiry(value: str | None) -> str:
    """3CX's ``ExpiresAt``: a readable date, ``never`` for its empty dates."""
    try:
        moment = expiry(value)
    except ValueError:
        return fit(value or "", 60)
    return "never" if moment is None else slack_date(moment.timestamp())


def label(target: Target) -> str:
    return fit(target.label, LABEL)


def title(request: UnblockRequest) -> str:
    return fit(request.title, LABEL)


def mention(user: str | None) -> str:
    return f"<@{user}>" if user else "the bot"


def describe(target: Target, description: int = DESCRIPTION) -> str:
    """One line about an entry: what it blocks and where it came from."""
    parts = [f"`{label(target)}`"]
    if isinstance(target, BlocklistEntry):  # an IP entry says more about itself than a number
        parts += [
            f"entry {target.id}",
            fit(target.block_type or "Block", 20),
            f"added by {fit(target.added_by or 'unknown', 40)}",
            f"expires {entry_expiry(target.expires_at)}",
        ]
    else:
        parts.append("blocked caller number")
    if target.description:
        parts.append(f"_{fit(target.description, description)}_")
    return " · ".join(parts)


def entry_fields(entry: BlocklistEntry) -> dict[str, object]:
    return fields(
        [
            ("Address", f"`{label(entry)}`"),
            ("Entry", str(entry.id)),
            ("Description", fit(entry.description, 1500) if entry.description else "_none_"),
            ("Block type", fit(entry.block_type or "unknown", 40)),
            ("Added by", fit(entry.added_by or "unknown", 40)),
            ("Expires", entry_expiry(entry.expires_at)),
        ]
    )


#: how many entries a card or a chooser lists before it says "and N more"
SHOWN_ENTRIES = 10


def target_lines(targets: Sequence[Target], results: Sequence[Result] = ()) -> str:
    """One line per entry (at most ``SHOWN_ENTRIES``), marked with how 3CX answered for it."""
    lines = []
    for n, target in enumerate(targets[:SHOWN_ENTRIES]):
        mark = ""
        if n < len(results):
            done = results[n].outcome.gone or results[n].outcome is Outcome.RESTORED
            mark = ":white_check_mark: " if done else ":x: "
        lines.append(f"• {mark}{describe(target, DESCRIPTION_IN_LIST)}")
    if len(targets) > SHOWN_ENTRIES:
        lines.append(f"…and {len(targets) - SHOWN_ENTRIES} more")
    return "\n".join(lines)


def what(request: UnblockRequest) -> str:
    """``203.0.113.7 (3CX blocklist entry 42)``, ``+15550100 (blocked caller number)`` or ``3 entries``."""
    if len(request.targets) > 1:
        return f"{len(request.targets)} blocklist entries"
    target = request.targets[0]
    if target.kind is Kind.ADDRESS:
        return f"{label(target)} (3CX blocklist entry {target.id})"
    return f"{label(target)} (blocked caller number)"


def single_ip_entry(request: UnblockRequest) -> BlocklistEntry | None:
    """The request's one IP entry, when it covers exactly one (its card shows it as fields)."""
    only = request.targets[0] if len(request.targets) == 1 else None
    return only if isinstance(only, BlocklistEntry) else None


#: a request's state in words, for history
STATE_WORDS = {
    State.PENDING: "waiting for approval",
    State.EXECUTING: "being unblocked",
    State.UNBLOCKED: "unblocked",
    State.FAILED: "could not be unblocked",
    State.DENIED: "denied",
    State.CANCELLED: "cancelled",
    State.EXPIRED: "expired without approval",
    State.UNDOING: "being blocked again",
    State.UNDONE: "blocked again",
    State.UNDO_FAILED: "unblocked; undo failed",
}
