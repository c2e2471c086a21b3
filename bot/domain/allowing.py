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

import ipaddress
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol

from .actions import Result
from .entries import BlocklistEntry, CallFailed, Removal
from .lookup import Finder
from .model import UnblockRequest
from .outcomes import Outcome


class AllowList(Protocol):
    """The IP list, as allowing writes it."""

    async def allow(self, address: str, until: float, note: str) -> tuple[int, str]:
        """Add an allow entry for ``address`` until ``until``, ``note`` as its description: its Id and 3CX's
        answer. Never sent twice."""
        ...

    async def remove_entry(self, entry_id: int) -> Removal: ...

    async def marked(self, mask: str, marker: str) -> list[BlocklistEntry]:
        """The entries for ``mask`` whose description contains ``marker``."""
        ...


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


@dataclass(frozen=True, slots=True)
class Allowed:
    """The allow entry that lets an address in: its Id, until when (None: without an end), whether it was
    there already, and 3CX's answer for the record."""

    entry_id: int
    until: float | None
    existed: bool
    answer: str

    def result(self, unblocked: Result | None = None) -> Result:
        """For the record: the unblock's ``unblocked`` with what allowing did (its answer appended), or, for Allow
        only, what adding (or finding) the allow entry for the asked address did (no block was removed)."""
        answer = self.answer if unblocked is None else f"{unblocked.answer}; {self.answer}"
        return replace(
            unblocked or Result(Outcome.ALLOWED, ""),
            answer=answer,
            allow_id=self.entry_id,
            allowed_until=self.until,
            allow_existed=self.existed,
        )


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

    async def covering(self, mask: str) -> BlocklistEntry | None:
        """An allow entry that lets ``mask`` in now (the one that holds longest), if 3CX lists one."""
        try:
            network = ipaddress.ip_network(mask.strip(), strict=False)
        except ValueError:
            return None
        now = self.clock()
        live = [e for e in (await self.finder.address(network)).allowing if e.ends_at is None or e.ends_at > now]
        return max(live, key=lambda e: math.inf if e.ends_at is None else e.ends_at, default=None)

    async def allow(self, request: UnblockRequest, mask: str, seconds: float) -> Allowed:
        """Let ``mask`` (an address or network) in for ``seconds``, unless an allow entry already does.

        Raises:
            CallFailed: 3CX refused, or could not be reached (``maybe_applied``: the entry may be added).
        """
        existing = await self.covering(mask)
        if existing is not None:
            return Allowed(existing.id, existing.ends_at, True, f"already allowed by entry {existing.id}")
        until = self.clock() + seconds
        user = request.decision.by or "unknown"
        note = self.description.format(duration=duration_words(seconds), user=user, marker=marker(request))
        entry_id, answer = await self.entries.allow(mask, until, note)
        return Allowed(entry_id, until, False, f"allow entry {entry_id} added ({answer})")

    async def find_added(self, request: UnblockRequest, mask: str) -> Allowed | None:
        """The allow entry this request added for ``mask``, if 3CX lists it (after a lost answer, a restart)."""
        for found in await self.entries.marked(mask, marker(request)):
            if not found.blocks:
                return Allowed(found.id, found.ends_at, False, f"3CX lists allow entry {found.id}")
        return None

    async def added(self, request: UnblockRequest, mask: str | None, prior: Result | None) -> int | None:
        """The allow entry ``request`` added for ``mask`` (``prior``: what it did there): as recorded, or, when it
        asked for one and none is recorded (3CX refused, or added it after its answer was lost and the bot had
        looked), the one 3CX lists with the request's marker. None when it added none.

        Raises:
            CallFailed: 3CX could not be asked.
        """
        if prior is None or prior.added_allow is not None or prior.allow_id is not None:
            return prior.added_allow if prior is not None else None
        found = await self.find_added(request, mask) if mask and request.done.action.allow_for is not None else None
        return found.entry_id if found is not None else None

    async def take_back(self, entry_id: int) -> Result:
        """Remove an allow entry this request added: ``DELETED``, or ``ALREADY_GONE`` when 3CX no longer had it.

        Raises:
            CallFailed: 3CX refused, or could not be reached.
        """
        removal = await self.entries.remove_entry(entry_id)
        if removal.deleted:
            return Result(Outcome.DELETED, f"allow entry {entry_id} removed ({removal.answer})")
        return Result(Outcome.ALREADY_GONE, f"allow entry {entry_id} was already gone")


def failed(result: Result, error: Exception) -> Result:
    """The unblock's ``result`` when the allow entry could not be added."""
    why = error.answer() if isinstance(error, CallFailed) else f"internal error ({type(error).__name__})"
    return replace(result, answer=f"{result.answer}; the allow entry was not added: {why}")
