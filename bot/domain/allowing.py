"""Approve and allow: once a block is removed, an allow entry for the same address lets it in for a while,
so that a phone still sending a wrong password does not get its office blocked again minutes later.

The allow entry names the approver and the request in its ``Description``, so that the bot can find the
one it added when 3CX's answer to the ``POST`` was lost (it is never sent twice). An address that an
allow entry already covers (the address itself, or a network holding it, not yet expired) is not given
a second one.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from ..threecx.errors import NotFoundError, ThreeCXError
from ..threecx.models import ALLOW, BlocklistEntry, DeleteOutcome, expires_at, expiry
from .lookup import candidate_masks, containing_prefix
from .model import Result, UnblockRequest


class AllowList(Protocol):
    """The IP blocklist, as allowing needs it (``bot.threecx.lists.IpBlocklist``)."""

    async def with_masks(self, masks: Sequence[str], top: int) -> list[BlocklistEntry]: ...

    async def add(self, body: dict[str, Any]) -> BlocklistEntry: ...

    async def remove_entry(self, entry_id: int) -> DeleteOutcome: ...

    async def marked(self, mask: str, marker: str) -> list[BlocklistEntry]: ...


#: how a result's answer says that the allow entry could not be added
NOT_ALLOWED = "the allow entry was not added"


def marker(request: UnblockRequest) -> str:
    """What the allow entry's ``Description`` says to be found again: the request's id."""
    return f"request {request.id}"


def duration_words(seconds: float) -> str:
    """``1 hour``, ``2 days``, ``90 minutes``: a duration as people say it."""
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = int(seconds // size)
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{int(seconds)} seconds"


@dataclass(frozen=True, slots=True)
class Allowed:
    """The allow entry that lets an address in: its Id, until when (None: without an end), whether it was
    there already, and 3CX's answer for the record."""

    entry_id: int
    until: float | None
    existed: bool
    answer: str


@dataclass(frozen=True, slots=True)
class Allowing:
    """Allow entries in 3CX's IP list."""

    entries: AllowList
    clock: Callable[[], float]

    async def covering(self, mask: str) -> BlocklistEntry | None:
        """An allow entry that lets ``mask`` in now (the one that holds longest), if 3CX lists one."""
        try:
            network = ipaddress.ip_network(mask.strip(), strict=False)
        except ValueError:
            return None
        now = self.clock()
        found = await self.entries.with_masks(candidate_masks(network), 50)
        allowing = [e for e in found if not e.blocks and containing_prefix(e.ip_addr_mask, network) is not None
                    and e.lasts_beyond(now)]  # fmt: skip
        return max(allowing, key=_ends, default=None)

    async def allow(self, request: UnblockRequest, mask: str | None) -> Allowed | None:
        """Let ``mask`` (an address or network) in for ``request.allow_for`` seconds (None: the request asks
        for no allow entry, or there is no address).

        Raises:
            ThreeCXError: 3CX refused, or could not be reached (``maybe_applied``: the entry may be added).
        """
        if request.allow_for is None or not mask:
            return None
        existing = await self.covering(mask)
        if existing is not None:
            ends = _ends(existing)
            return Allowed(existing.id, ends if ends != _NEVER else None, True,
                           f"already allowed by entry {existing.id}")  # fmt: skip
        until = self.clock() + request.allow_for
        body = {
            "IPAddrMask": mask,
            "BlockType": ALLOW,
            "ExpiresAt": expires_at(until),
            "Description": f"Allowed for {duration_words(request.allow_for)} by unblock-bot: approved by Slack "
            f"user {request.resolved_by or 'unknown'}, {marker(request)}",
        }
        created = await self.entries.add(body)
        return Allowed(created.id, until, False, f"allow entry {created.id} added (HTTP 201)")

    async def find_added(self, request: UnblockRequest, mask: str | None) -> Allowed | None:
        """The allow entry this request added for ``mask``, if 3CX lists it (after a lost answer, a restart)."""
        if not mask:
            return None
        for found in await self.entries.marked(mask, marker(request)):
            if not found.blocks:
                ends = _ends(found)
                return Allowed(found.id, ends if ends != _NEVER else None, False,
                               f"3CX lists allow entry {found.id}")  # fmt: skip
        return None

    async def remove(self, entry_id: int) -> str:
        """Remove an allow entry this request added: 3CX's answer, for the record (gone already is fine).

        Raises:
            ThreeCXError: 3CX refused, or could not be reached.
        """
        try:
            outcome = await self.entries.remove_entry(entry_id)
        except NotFoundError:
            outcome = DeleteOutcome.ALREADY_GONE
        if outcome is DeleteOutcome.DELETED:
            return f"allow entry {entry_id} removed (HTTP 204)"
        return f"allow entry {entry_id} was already gone"


def merge(result: Result, allowed: Allowed | None) -> Result:
    """The unblock's ``result`` with what allowing did (its answer appended)."""
    if allowed is None:
        return result
    return replace(result, answer=f"{result.answer}; {allowed.answer}", allow_id=allowed.entry_id,
                   allowed_until=allowed.until, allow_existed=allowed.existed)  # fmt: skip


def failed(result: Result, error: Exception) -> Result:
    """The unblock's ``result`` when the allow entry could not be added."""
    why = error.answer() if isinstance(error, ThreeCXError) else f"internal error ({type(error).__name__})"
    return replace(result, answer=f"{result.answer}; {NOT_ALLOWED}: {why}")


_NEVER = float("inf")


def _ends(entry: BlocklistEntry) -> float:
    try:
        moment = expiry(entry.expires_at)
    except ValueError:
        return _NEVER
    return moment.timestamp() if moment is not None else _NEVER
