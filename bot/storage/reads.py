"""The reads both stores run the same way: one request, abandoned claims, recent, open and expired requests, the
unblocks since a moment, who looks at the Home tab, and where a request's card is.

A store says how to run a query (``_select``, with ``?`` for each parameter) and
which column keeps the order requests were added in; the SQL is written once, here.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from ..domain.model import State, UnblockRequest
from ..domain.ports import UNBLOCKS_READ
from . import rows


class SharedReads(ABC):
    #: the column that keeps the order requests were added in, for requests made in the same instant
    ARRIVAL: ClassVar[str]

    @abstractmethod
    async def _select(self, tail: str, *params: object) -> list[UnblockRequest]:
        """The requests that ``tail`` (``WHERE``, ``ORDER BY``, ``LIMIT``) picks; ``?`` for each parameter."""

    @abstractmethod
    async def _column(self, sql: str, *params: object) -> list[object]:
        """The first column of each row ``sql`` selects; ``?`` for each parameter."""

    @abstractmethod
    async def _write(self, sql: str, *params: object) -> int:
        """Run one write; how many rows it changed."""

    async def get(self, request_id: str) -> UnblockRequest | None:
        found = await self._select("WHERE id = ?", request_id)
        return found[0] if found else None

    async def abandoned(self, heartbeat_before: float) -> list[UnblockRequest]:
        return await self._select(f"WHERE state IN {rows.CLAIMED} AND heartbeat_at < ?", heartbeat_before)

    def _newest(self) -> str:
        return f"ORDER BY created_at DESC, {self.ARRIVAL} DESC LIMIT ?"

    async def recent(self, count: int, channel: str | None = None) -> list[UnblockRequest]:
        if channel is None:
            return await self._select(self._newest(), count)
        # the channel where it was asked for (its card may be in the approvals channel)
        return await self._select(f"WHERE COALESCE(asked_in, channel) = ? {self._newest()}", channel, count)

    async def waiting(self, count: int) -> list[UnblockRequest]:
        return await self._select(f"WHERE state = ? {self._newest()}", State.PENDING.value, count)

    async def count_pending(self) -> int:
        [count] = await self._column("SELECT COUNT(*) FROM requests WHERE state = ?", State.PENDING.value)
        return int(str(count))

    async def requested_by(self, user: str, count: int) -> list[UnblockRequest]:
        return await self._select(f"WHERE requester = ? {self._newest()}", user, count)

    async def undone(self, count: int) -> list[UnblockRequest]:
        return await self._select(
            f"WHERE undone_at IS NOT NULL ORDER BY undone_at DESC, {self.ARRIVAL} DESC LIMIT ?", count
        )

    async def unblocked_since(self, since: float) -> list[UnblockRequest]:
        return await self._select(
            "WHERE state IN (?, ?) AND resolved_at >= ? ORDER BY resolved_at DESC LIMIT ?",
            State.UNBLOCKED.value,
            State.UNDO_FAILED.value,
            since,
            UNBLOCKS_READ,
        )

    async def between(self, since: float, until: float, count: int) -> list[UnblockRequest]:
        return await self._select(
            f"WHERE created_at >= ? AND created_at < ? ORDER BY created_at, {self.ARRIVAL} LIMIT ?", since, until, count
        )

    async def last_report(self) -> float | None:
        [last] = await self._column("SELECT MAX(due_at) FROM reports WHERE sent_at IS NOT NULL")
        return float(str(last)) if last is not None else None

    async def claim_report(self, due_at: float, holder: str, at: float, *, posted: bool, stale_before: float) -> bool:
        # sent_at stays NULL until Slack took the report (or, for a moment only recorded, is set at once)
        claimed = await self._write(
            "INSERT INTO reports (due_at, posted, holder, at, sent_at) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (due_at) DO UPDATE SET holder = excluded.holder, at = excluded.at"
            " WHERE reports.sent_at IS NULL AND reports.at < ?",
            int(due_at),
            posted,
            holder,
            at,
            None if posted else at,
            stale_before,
        )
        return claimed == 1

    async def report_sent(self, due_at: float, holder: str, at: float) -> None:
        sql = "UPDATE reports SET sent_at = ? WHERE due_at = ? AND holder = ? AND sent_at IS NULL"
        await self._write(sql, at, int(due_at), holder)

    async def release_report(self, due_at: float, holder: str) -> None:
        await self._write(
            "DELETE FROM reports WHERE due_at = ? AND holder = ? AND sent_at IS NULL", int(due_at), holder
        )

    async def home_opened(self, user: str, at: float) -> None:
        await self._write(
            "INSERT INTO home_viewers (user_id, opened_at) VALUES (?, ?)"
            " ON CONFLICT (user_id) DO UPDATE SET opened_at = excluded.opened_at",
            user,
            at,
        )

    async def home_viewers(self, since: float) -> list[str]:
        found = await self._column("SELECT user_id FROM home_viewers WHERE opened_at >= ? ORDER BY user_id", since)
        return [str(user) for user in found]

    async def card_posted(self, request_id: str, ts: str) -> None:
        await self._write("UPDATE requests SET message_ts = ? WHERE id = ?", ts, request_id)

    async def card_of(self, request_id: str) -> str | None:
        found = await self._column("SELECT message_ts FROM requests WHERE id = ?", request_id)
        return str(found[0]) if found and found[0] is not None else None

    async def pending_expired(self, now: float) -> list[UnblockRequest]:
        return await self._select(
            f"WHERE state = ? AND expires_at <= ? ORDER BY expires_at LIMIT {rows.EXPIRY_BATCH}",
            State.PENDING.value,
            now,
        )
