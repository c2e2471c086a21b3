"""What the domain needs from outside, as protocols: a store for requests, and 3CX's lists."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from ..threecx.models import DeleteOutcome, Kind, Target
from .model import Move, Transition, UnblockRequest


class StoreUnreachable(Exception):
    """The database did not answer for as long as the bot waits; the operation did not complete (a write
    whose answer was lost may still have been made)."""


class AlreadyOpen(Exception):
    """An entry of a new request is already in an open request (the one named)."""

    def __init__(self, request_id: str) -> None:
        super().__init__(request_id)
        self.request_id = request_id


class RequestStore(Protocol):
    """Where requests and their transitions are kept (see ``bot.storage``). Every method may raise
    :class:`StoreUnreachable`."""

    async def add(self, request: UnblockRequest) -> None:
        """Keep a new pending request, and take its entries.

        Raises:
            AlreadyOpen: an entry is already taken by an open request; nothing was kept.
        """
        ...

    async def get(self, request_id: str) -> UnblockRequest | None: ...

    async def set_message_ts(self, request_id: str, message_ts: str) -> None: ...

    async def transition(self, move: Move) -> UnblockRequest | None:
        """Make ``move`` if its conditions hold, and log it; entering ``executing`` or ``undoing`` sets the
        owner and the heartbeat, leaving an open state frees the entries. The moved request, or None if
        another click or process moved it first."""
        ...

    async def renew(self, request_id: str, owner: str, at: float) -> bool:
        """Renew ``owner``'s claim; False when it no longer holds it."""
        ...

    async def take_over(self, request_id: str, owner: str, heartbeat_at: float, at: float) -> UnblockRequest | None:
        """Claim a request whose last heartbeat was ``heartbeat_at`` for ``owner``; None if it moved meanwhile."""
        ...

    async def abandoned(self, heartbeat_before: float) -> list[UnblockRequest]:
        """Requests in ``executing`` or ``undoing`` whose heartbeat is older than that moment."""
        ...

    async def transitions(self, request_id: str) -> list[Transition]: ...

    async def recent(self, count: int, channel: str | None = None) -> list[UnblockRequest]:
        """The newest requests (of one channel, when given), newest first."""
        ...

    async def pending_expired(self, now: float) -> list[UnblockRequest]: ...

    async def first_delivery(self, key: str, at: float, handler: str) -> bool:
        """Record that ``handler`` (one handling of a delivery) handles a Slack delivery; False if another
        did first (Slack's retry, a replay)."""
        ...

    async def forget_deliveries(self, before: float) -> None:
        """Forget the deliveries, and the choices offered, older than that moment."""
        ...

    async def keep_choice(self, choice_id: str, data: str, at: float) -> None:
        """Keep what a chooser offers, so that its buttons carry only an id."""
        ...

    async def choice(self, choice_id: str) -> str | None: ...


class EntryList(Protocol):
    """One of 3CX's lists (the IP blocklist, the caller-number blacklist), as the domain acts on it."""

    async def remove(self, target: Target) -> DeleteOutcome:
        """Delete the entry (conditional on its ETag when 3CX gave one)."""
        ...

    async def restore(self, target: Target) -> Target:
        """Add the entry back as it was; the new entry (3CX gives it a new Id). Never sent twice."""
        ...

    async def listed(self, target: Target) -> bool:
        """Whether 3CX still lists the entry (by its Id)."""
        ...

    async def find_restored(self, target: Target) -> str | None:
        """The Id of an entry that blocks what ``target`` blocked, if 3CX lists one now."""
        ...


#: 3CX's lists, by the kind of entry they hold
Lists = Mapping[Kind, EntryList]
