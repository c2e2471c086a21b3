"""What 3CX knew about a request's address, as people read it: on the card, the newest lines of its event log, the
phones registered there and when 3CX lifts the block by itself; once unblocked, what usually fixes the cause."""

from __future__ import annotations

from ...domain.entries import BlocklistEntry
from ...domain.evidence import Evidence, Logged, Phone
from ...domain.model import UnblockRequest
from ...domain.recurrence import Recurrence
from ..blocks import Blocks, context, fallback, fit, section
from .common import counted, label, listed, mention, pbx_tag, slack_date, time_since, unblocker

#: characters of one event-log line, and of a phone's name or model
LOGGED = 200
PHONE = 60
#: how many phones a card names before it says how many more
PHONES_SHOWN = 5


def evidence_blocks(request: UnblockRequest, now: float) -> Blocks:
    """The card's lines of what 3CX knew when the request was made (none for what it did not tell)."""
    lines = [lifts_itself(request, now)]
    evidence = request.what.evidence
    if evidence is not None and evidence.phones:
        lines.append(phones_line(evidence.phones))
    blocks: Blocks = [context(line) for line in lines if line]
    if evidence is not None and evidence.logged:
        shown = "\n".join(f"• {logged_line(line)}" for line in evidence.logged)
        blocks.insert(0, section(f"*3CX logged:*\n{shown}"))
    return blocks


def lifts_itself(request: UnblockRequest, now: float) -> str | None:
    """``3CX lifts this block by itself at … (in 40 minutes)``, so that an approver may choose to wait; None when
    the request is about several entries or one without an end."""
    targets = request.what.targets
    ends = targets[0].ends_at if len(targets) == 1 and isinstance(targets[0], BlocklistEntry) else None
    if ends is None or ends <= now:
        return None
    when = f"{slack_date(ends)} (in {time_since(ends - now)})"
    return f":hourglass_flowing_sand: 3CX lifts this block by itself at {when}."


def phones_line(phones: tuple[Phone, ...]) -> str:
    named = [_phone(phone) for phone in phones[:PHONES_SHOWN]]
    more = len(phones) - PHONES_SHOWN
    if more > 0:
        named.append(f"{more} more")
    return f":telephone_receiver: Phones at this address: {listed(named)}"


def _phone(phone: Phone) -> str:
    words = " ".join(fit(part, PHONE) for part in (phone.extension, phone.name) if part) or "a phone"
    return f"{words} ({fit(phone.model, PHONE)})" if phone.model else words


def logged_line(line: Logged) -> str:
    """One line of 3CX's event log, as 3CX wrote it, clipped, with its time."""
    when = f"{slack_date(line.at)}: " if line.at is not None else ""
    return f"{when}{fit(line.text, LOGGED)}"


def what_to_fix(evidence: Evidence | None) -> str | None:
    """After an unblock: what 3CX logged about the address and what usually fixes it (None: it logged nothing)."""
    if evidence is None or not evidence.logged:
        return None
    if not evidence.failed_auth:
        return f":mag: 3CX logged about this address: {logged_line(evidence.logged[0])}"
    extension = evidence.extension
    tries = evidence.thresholds.failed_auth if evidence.thresholds is not None else None
    again = f"3CX will block it again after {counted(tries, 'try', 'tries')}" if tries else "3CX will block it again"
    if extension is None:
        return (
            ":wrench: 3CX logged failed registrations from this address: check the SIP password of the phones "
            f"there, or {again}."
        )
    return (
        f":wrench: 3CX logged failed registrations for extension {fit(extension, PHONE)} from this address: check "
        f"that phone's SIP password, or {again}."
    )


def blocked_again_reply(
    again: Recurrence, now: float, logged: tuple[Logged, ...] | None, *, asked_by: str | None, link: str | None
) -> tuple[str, Blocks]:
    """A reply in the thread of the card that unblocked what is blocked again (found at ``now``): who unblocked it
    and how long before, who asks again (``asked_by``; None: the watcher found it), a link to the new message, and
    the event-log lines 3CX wrote since."""
    what = label(again.last.what.targets[0]) if len(again.last.what.targets) == 1 else again.last.title
    since = f"{time_since(now - again.last_at)} after {unblocker(again.last)} unblocked it"
    found = f"{mention(asked_by)} asks to unblock it again" if asked_by else "3CX blocked it again"
    see = f" <{link}|See {'the new request' if asked_by else 'the announcement'}>." if link else ""
    blocked = f"{pbx_tag(again.last.pbx)}Blocked again: {what}"
    line = f":repeat: *{blocked}.* {found}, {since} ({slack_date(again.last_at)}).{see}"
    shown = "\n".join(f"• {logged_line(entry)}" for entry in logged or ())
    text = f"{line}\n*3CX logged:*\n{shown}" if shown else line
    return fallback(blocked), [section(text)]
