"""The reads both stores run the same way: one request, abandoned claims, recent and expired requests.

A store says how to run a query (``_select``, with ``?`` for each parameter) and
which column keeps the order requests were added in; the SQL is written once, here.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from ..domain.model import State, UnblockRequest
from . import rows


class SharedReads(ABC):
    #: the column that keeps the order requests were added in, for requests made in the same instant
    ARRIVAL: ClassVar[str]

    @abstractmethod
    async def _select(self, tail: str, *params: object) -> list[UnblockRequest]:
        """The requests that ``tail`` (``WHERE``, ``ORDER BY``, ``LIMIT``) picks; ``?`` for each parameter."""

    async def get(self, request_id: str) -> UnblockRequest | None:
        found = await self._select("WHERE id = ?", request_id)
        return found[0] if found else None

    async def abandoned(self, heartbeat_before: float) -> list[UnblockRequest]:
        return await self._select(f"WHERE state IN {rows.CLAIMED} AND heartbeat_at < ?", heartbeat_before)

    async def recent(self, count: int, channel: str | None = None) -> list[UnblockRequest]:
        newest = f"ORDER BY created_at DESC, {self.ARRIVAL} DESC LIMIT ?"
        if channel is None:
            return await self._select(newest, count)
        return await self._select(f"WHERE channel = ? {newest}", channel, count)

    async def pending_expired(self, now: float) -> list[UnblockRequest]:
        return await self._select(
            f"WHERE state = ? AND expires_at <= ? ORDER BY expires_at LIMIT {rows.EXPIRY_BATCH}",
            State.PENDING.value,
            now,
        )
