"""The blocklist watcher's rows, the same SQL for both databases (``?`` for each parameter): its lease and
high-water mark (a row of ``watch_state`` per PBX), the processes that share the watches (``watchers``), and its
announcements (keyed by PBX and entry Id: two PBXes may both announce their entry 42). Moving the mark and keeping
what it found is each store's own transaction (``advance_watch``)."""

from __future__ import annotations

from collections.abc import Sequence

from ..domain.ports import Announcement, Found
from . import rows
from .scoping import Scoped

#: (name, holder, at, stale_before): take or renew the lease; returns the mark when held, no row when not
HOLD = (
    "INSERT INTO watch_state (name, holder, heartbeat_at) VALUES (?, ?, ?)"
    " ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, heartbeat_at = excluded.heartbeat_at"
    " WHERE watch_state.holder IS NULL OR watch_state.holder = excluded.holder OR watch_state.heartbeat_at < ?"
    " RETURNING high_water"
)
#: (holder, at, name, holder, stale_before): renew the lease, or take it from a holder that stopped renewing it
RENEW = (
    "UPDATE watch_state SET holder = ?, heartbeat_at = ? WHERE name = ? AND (holder = ? OR heartbeat_at < ?)"
    " RETURNING high_water"
)
#: (new_mark, at, name, holder, mark): move the mark, only while ``holder`` holds the lease and it is ``mark``
ADVANCE = (
    "UPDATE watch_state SET high_water = ?, heartbeat_at = ?"
    " WHERE name = ? AND holder = ? AND high_water IS NOT DISTINCT FROM ?"
)
#: (holder, at): the process ``holder`` is there (``bot.domain.sharing``)
PRESENT = (
    "INSERT INTO watchers (holder, seen_at) VALUES (?, ?) ON CONFLICT (holder) DO UPDATE SET seen_at = excluded.seen_at"
)
#: (pbx, entry_id, entry, channel, at) of ``announced``: a new announcement, not yet posted
ANNOUNCE = (
    "INSERT INTO announcements (pbx, entry_id, entry, channel, at) VALUES (?, ?, ?, ?, ?)"
    " ON CONFLICT (pbx, entry_id) DO NOTHING"
)


class WatchRows(Scoped):
    """The ``WatchStore`` of a store (but ``advance_watch``), for its PBX, and the ``Roster`` of the processes that
    share the watches (of every PBX)."""

    def _announced(self, announce: Sequence[Announcement], at: float) -> list[tuple[object, ...]]:
        """The values of ``ANNOUNCE`` for each of ``announce``, found at ``at``, kept for this store's PBX."""
        return [(self._own, *rows.announcement_row(a, at)) for a in announce]

    async def _announcements(self, where: str, tail: str, *params: object) -> list[Announcement]:
        found = await self._fetch(
            f"SELECT {rows.ANNOUNCEMENT_COLUMNS} FROM announcements WHERE {self._mine} AND {where} {tail}",
            *(self.pbx, *params),
        )
        return [rows.announcement_from_row(row) for row in found]

    async def hold_watch(
        self, holder: str, at: float, stale_before: float, *, take_free: bool = True
    ) -> tuple[bool, int | None]:
        # one statement: of two processes taking the lease at once, the second waits for the first, then finds
        # it freshly held
        if take_free:
            held = await self._fetch(HOLD, self._watcher, holder, at, stale_before)
        else:
            held = await self._fetch(RENEW, holder, at, self._watcher, holder, stale_before)
        return (True, held[0][0]) if held else (False, None)

    async def present(self, holder: str, at: float, seen_since: float) -> int:
        await self._write("DELETE FROM watchers WHERE seen_at < ?", seen_since)
        await self._write(PRESENT, holder, at)
        return int((await self._fetch("SELECT count(*) FROM watchers WHERE seen_at >= ?", seen_since))[0][0])

    async def absent(self, holder: str) -> None:
        await self._write("DELETE FROM watchers WHERE holder = ?", holder)

    async def release_watch(self, holder: str) -> None:
        sql = "UPDATE watch_state SET holder = NULL WHERE name = ? AND holder = ?"
        await self._write(sql, self._watcher, holder)

    async def unposted(self, limit: int) -> list[Announcement]:
        return await self._announcements("message_ts IS NULL AND NOT gone", "ORDER BY entry_id LIMIT ?", limit)

    async def posted(self, entry_ids: Sequence[int], ref: str, *, in_summary: bool) -> None:
        if entry_ids:
            marks = ", ".join("?" * len(entry_ids))
            sql = f"UPDATE announcements SET message_ts = ?, in_summary = ? WHERE pbx = ? AND entry_id IN ({marks})"
            await self._write(sql, ref, in_summary, self._own, *entry_ids)

    async def showing(self, limit: int) -> list[Announcement]:
        return await self._announcements(
            "message_ts IS NOT NULL AND NOT in_summary AND NOT gone", "ORDER BY checked_at, entry_id LIMIT ?", limit
        )

    async def checked(self, entry_ids: Sequence[int], at: float) -> None:
        if entry_ids:
            marks = ", ".join("?" * len(entry_ids))
            sql = f"UPDATE announcements SET checked_at = ? WHERE pbx = ? AND entry_id IN ({marks})"
            await self._write(sql, at, self._own, *entry_ids)

    async def found_between(self, since: float, until: float, limit: int) -> list[Found]:
        sql = (
            f"SELECT entry, at, pbx FROM announcements WHERE {self._mine} AND at >= ? AND at < ?"
            " ORDER BY at, entry_id LIMIT ?"
        )
        return [rows.found_from_row(row) for row in await self._fetch(sql, self.pbx, since, until, limit)]

    async def mark_gone(self, entry_id: int) -> bool:
        # every announcement of the entry, gone already or not: a try whose answer was lost gets the same answer again
        sql = "UPDATE announcements SET gone = TRUE WHERE pbx = ? AND entry_id = ?"
        return await self._write(sql, self._own, entry_id) == 1
