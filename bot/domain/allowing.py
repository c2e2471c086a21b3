"""Approve and allow: once a block is removed, an allow entry for the same address lets it in for a while,
so that a phone still sending a wrong password does not get its office blocked again minutes later. Allow
only: an allow entry for the one address asked for, inside a blocked network whose block stays (3CX lets the
most specific entry win).

The allow entry names the approver and the request in its description, so that the bot can find the
one it added when 3CX's answer to adding it was lost (it is never sent twice). An address that an
allow entry already covers (the address itself, or a network holding it, not yet expired) is not given
a second one.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from .actions import Result
from .entries import BlocklistEntry, Removal
from .lookup import Finder, read_network
from .model import UnblockRequest
from .outcomes import Outcome

log = logging.getLogger(__name__)


class AllowList(Protocol):
    """The IP list, as allowing writes it."""

    async def allow(self, address: str, until: float, note: str) -> tuple[int, str]:
        """Add an allow entry for ``address`` until ``until``, ``note`` as its description: its Id and 3CX's
        answer. Never sent twice."""

    async def remove_entry(self, entry_id: int) -> Removal: ...

    async def marked(self, mask: str, marker: str) -> list[BlocklistEntry]:
        """The entries for ``mask`` whose description contains ``marker``."""


class AllowKeeper(Protocol):
    """What keeps the allow entries' life (``bot.domain.allow_life.AllowLife``), told by execution."""

    async def added(self, request: UnblockRequest, mask: str, result: Result) -> None:
        """``request`` added the allow entry of ``result`` for ``mask``."""

    async def undone(self, request: UnblockRequest) -> None:
        """The Undo of ``request`` removed its allow entry."""


def marker(request: UnblockRequest) -> str:
    """What the allow entry's description says to be found again: the request's id."""
    return f"request {request.id}"


def duration_words(seconds: float) -> str:
    """``1 hour``, ``2 days``, ``90 minutes``, ``1 second``, ``2.5 seconds``: a duration as people say it, in the
    largest unit it is a whole number of; the one way every message writes a duration."""
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = int(seconds // size)
            return f"{count} {unit}{'s' if count != 1 else ''}"
    shown = format(round(seconds, 3), "f").rstrip("0").rstrip(".")
    return f"{shown} second{'s' if seconds != 1 else ''}"


def allowed(entry_id: int, until: float | None, answer: str, *, existed: bool = False) -> Result:
    """The allow entry that lets an address in: its Id, until when (None: without an end), whether it was there
    already, and 3CX's answer for the record."""
    return Result(Outcome.ALLOWED, answer, allow_id=entry_id, allowed_until=until, allow_existed=existed)


#: an allow entry's description, by default: for how long, who approved it, and the request's marker
DESCRIPTION = "Allowed for {duration} by unblock-bot: approved by {user}, {marker}"


@dataclass(frozen=True, slots=True)
class Allowing:
    """Allow entries in 3CX's IP list: written through ``entries``, looked up like any address (``finder``),
    described by ``description`` (a template of ``duration``, ``user`` and ``marker``)."""

    entries: AllowList
    finder: Finder
    clock: Callable[[], float]
    description: str = DESCRIPTION
    #: told of each allow entry added and taken back (None: their life is not kept)
    life: AllowKeeper | None = None

    async def kept(self, request: UnblockRequest, mask: str, result: Result) -> None:
        """Have the allow entry ``request`` added kept for its life (upkeep finds it later if this fails)."""
        if self.life is not None and result.added_allow is not None:
            try:
                await self.life.added(request, mask, result)
            except Exception:  # the request's outcome must not wait for this; upkeep adopts it later
                log.exception("could not keep an allow entry's life", extra={"request": request.id})

    async def ended(self, request: UnblockRequest) -> None:
        """The allow entry of ``request`` was taken back by its Undo."""
        if self.life is not None:
            try:
                await self.life.undone(request)
            except Exception:  # upkeep finds it gone from 3CX later
                log.exception("could not record an allow entry's end", extra={"request": request.id})

    async def covering(self, mask: str) -> BlocklistEntry | None:
        """An allow entry that lets ``mask`` in now (the one that holds longest), if 3CX lists one."""
        asked = read_network(mask)
        if asked is None:
            return None
        now = self.clock()
        live = [e for e in (await self.finder.address(asked)).allowing if e.ends_at is None or e.ends_at > now]
        return max(live, key=lambda e: math.inf if e.ends_at is None else e.ends_at, default=None)

    async def allow(self, request: UnblockRequest, mask: str, seconds: float) -> Result:
        """Let ``mask`` (an address or network) in for ``seconds``, unless an allow entry already does.

        Raises:
            CallFailed: 3CX refused, or could not be reached (``maybe_applied``: the entry may be added).
        """
        existing = await self.covering(mask)
        if existing is not None:
            return allowed(existing.id, existing.ends_at, f"already allowed by entry {existing.id}", existed=True)
        until = self.clock() + seconds
        user = request.decision.by or "unknown"
        note = self.description.format(duration=duration_words(seconds), user=user, marker=marker(request))
        entry_id, answer = await self.entries.allow(mask, until, note)
        return allowed(entry_id, until, f"allow entry {entry_id} added ({answer})")

    async def find_added(self, request: UnblockRequest, mask: str) -> Result | None:
        """The allow entry this request added for ``mask``, if 3CX lists it (after a lost answer, a restart)."""
        for found in await self.entries.marked(mask, marker(request)):
            if not found.blocks:
                return allowed(found.id, found.ends_at, f"3CX lists allow entry {found.id}")
        return None

    async def take_back(self, request: UnblockRequest, mask: str | None, prior: Result | None) -> Result | None:
        """Remove the allow entry ``request`` added for ``mask`` (``prior``: what it did there): as recorded, or,
        when it asked for one and none is recorded (3CX refused, or added it after its answer was lost and the
        bot had looked), the one 3CX lists with the request's marker. ``DELETED``, or ``ALREADY_GONE`` when 3CX
        no longer had it; None when it added none.

        Raises:
            CallFailed: 3CX refused, or could not be reached.
        """
        entry_id = prior.added_allow if prior is not None else None
        if prior is not None and prior.allow_id is None and mask and request.done.action.allow_for is not None:
            found = await self.find_added(request, mask)
            entry_id = found.allow_id if found is not None else None
        if entry_id is None:
            return None
        removal = await self.entries.remove_entry(entry_id)
        if removal.deleted:
            return Result(Outcome.DELETED, f"allow entry {entry_id} removed ({removal.answer})")
        return Result(Outcome.ALREADY_GONE, f"allow entry {entry_id} was already gone")
