"""What an Extend or End now asks 3CX (``bot.domain.allow_life``), and how its answers are read: never twice after
a lost answer or a stopped holder, without looking first, and only while the claim is surely held; how its record
is written; and how an allow whose entry 3CX no longer lists ended."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable

from .. import calls
from .allows import GRACE, Allow, AllowEntries, How
from .entries import CallFailed
from .model import State, Timing, UnblockRequest
from .outcomes import Outcome
from .ports import StoreUnreachable

log = logging.getLogger(__name__)


def token(owner: str) -> str:
    """A token unique to one claim or one end, naming the process ``owner``."""
    return f"{owner} {uuid.uuid4().hex}"


def permit(started: float, timing: Timing) -> calls.Permit:
    """Calls to 3CX start only within two heartbeats of ``started`` (``time.monotonic()`` just before the claim was
    written), so that each has ended before the claim may be taken over (``Timing.takeover_after``)."""
    return calls.Permit(started + 2 * timing.heartbeat)


async def retried(timing: Timing, write: Callable[[], Awaitable[Allow | None]], until: float) -> Allow | None:
    """``write``, tried again while the database is away until ``until`` (``time.monotonic()``; past: once)."""
    pause = timing.store_retry
    while True:
        try:
            return await write()
        except StoreUnreachable:
            if time.monotonic() + pause >= until:
                raise
            log.warning("keeping 3CX's answer about an allow entry until the database is back")
            await asyncio.sleep(pause)
            pause = min(2 * pause, 15.0)


async def extend(entries: AllowEntries, allow: Allow, again: bool) -> bool:
    """Move the entry's end to ``extend_to``: False when 3CX no longer lists the entry. After a stop
    (``again``) or a failure, 3CX is asked first whether its end is already that one."""
    assert allow.extend_to is not None  # an Extend's claim names the end it asks for
    if again:
        done = await _extended(entries, allow)
        if done is not None:
            return done
    try:
        await entries.extend(allow.entry_id, allow.extend_to)
    except CallFailed as error:
        if error.reason is Outcome.NOT_FOUND:
            return False
        try:
            done = await _extended(entries, allow)
        except CallFailed:
            done = None
        if done is None:
            raise
        return done
    return True


async def _extended(entries: AllowEntries, allow: Allow) -> bool | None:
    """True when 3CX lists the entry until ``extend_to``, False when it lists it no more, None otherwise."""
    found = await entries.allow_entry(allow.entry_id)
    if found is None:
        return False
    ends, to = found.ends_at, allow.extend_to
    return True if ends is not None and to is not None and abs(ends - to) < 1 else None


async def remove(entries: AllowEntries, allow: Allow, again: bool) -> bool:
    """Delete the entry: whether this End now removed it (a try whose answer was lost, or a stopped holder's,
    did; False: 3CX no longer had it). After a lost answer, 3CX is asked."""
    try:
        removal = await entries.remove_entry(allow.entry_id)
    except CallFailed as error:
        if not error.maybe_applied or await entries.allow_entry(allow.entry_id) is not None:
            raise
        return True
    return removal.deleted or removal.answer_lost or again


async def gone(
    entries: AllowEntries, allow: Allow, request: UnblockRequest, now: float
) -> tuple[How, str | None, float]:
    """How an allow whose entry 3CX no longer lists ended: its expiry near its end, its request's Undo, or
    removed by someone."""
    if now >= allow.ends_at - GRACE:
        return How.EXPIRED, None, min(now, allow.ends_at)
    if await undone(entries, allow, request, gone=True):
        return How.UNDONE, request.done.undone_by, now
    return How.REMOVED, None, now


async def undone(entries: AllowEntries, allow: Allow, request: UnblockRequest, *, gone: bool = False) -> bool:
    """Whether the request's Undo removed its allow entry, or is removing it (an Undo that failed: when 3CX no
    longer lists the entry; ``gone``: it does not)."""
    if request.state in (State.UNDOING, State.UNDONE):
        return True
    return request.state is State.UNDO_FAILED and (gone or await entries.allow_entry(allow.entry_id) is None)
