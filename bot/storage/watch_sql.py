"""What the blocklist watcher keeps (``bot.domain.ports.WatchStore``), the same for both stores: the SQL,
with ``?`` for each parameter, and the methods that only run one statement.

A store says how to read announcements (``_announcements``) and how to run a write that tells how many rows
it changed (``_write``); it writes ``hold_watch`` and ``advance_watch`` itself (its own transactions), with
the SQL below.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from ..domain.ports import Announcement
from . import rows

#: the watcher's row in ``watch_state`` (one watcher: the blocklist's)
WATCHER = "blocklist"

#: (name, holder, at, stale_before): take or renew the lease; returns the mark when held, no row when not
HOLD = (
    "INSERT INTO watch_state (name, holder, heartbeat_at) VALUES (?, ?, ?)"
    " ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, heartbeat_at = excluded.heartbeat_at"
    " WHERE watch_state.holder IS NULL OR watch_state.holder = excluded.holder OR watch_state.heartbeat_at < ?"
    " RETURNING high_water"
)
#: (name): the mark, when the lease was refused
MARK = "SELECT high_water FROM watch_state WHERE name = ?"
#: (new_mark, at, name, holder, mark): move the mark, only while ``holder`` holds the lease and it is ``mark``
ADVANCE = (
    "UPDATE watch_state SET high_water = ?, heartbeat_at = ?"
    " WHERE name = ? AND holder = ? AND high_water IS NOT DISTINCT FROM ?"
)
#: (entry_id, entry, channel, at) of ``rows.announcement_row``: a new announcement, not yet posted
ANNOUNCE = (
    "INSERT INTO announcements (entry_id, entry, channel, at) VALUES (?, ?, ?, ?) ON CONFLICT (entry_id) DO NOTHING"
)
SELECT = f"SELECT {rows.ANNOUNCEMENT_COLUMNS} FROM announcements"


class SharedWatch(ABC):
    @abstractmethod
    async def _announcements(self, tail: str, *params: object) -> list[Announcement]:
        """The announcements that ``tail`` (``WHERE``, ``ORDER BY``, ``LIMIT``) picks; ``?`` for each parameter."""

    @abstractmethod
    async def _write(self, sql: str, *params: object) -> int:
        """Run one statement (``?`` for each parameter); how many rows it changed."""

    async def release_watch(self, holder: str) -> None:
        await self._write("UPDATE watch_state SET holder = NULL WHERE name = ? AND holder = ?", WATCHER, holder)

    async def unposted(self, limit: int) -> list[Announcement]:
        return await self._announcements("WHERE message_ts IS NULL AND NOT gone ORDER BY entry_id LIMIT ?", limit)

    async def posted(self, entry_ids: Sequence[int], message_ts: str, *, in_summary: bool) -> None:
        if entry_ids:
            await self._write(
                f"UPDATE announcements SET message_ts = ?, in_summary = ? WHERE entry_id IN ({_marks(entry_ids)})",
                message_ts, in_summary, *entry_ids,
            )  # fmt: skip

    async def showing(self, limit: int) -> list[Announcement]:
        return await self._announcements(
            "WHERE message_ts IS NOT NULL AND NOT in_summary AND NOT gone ORDER BY checked_at, entry_id LIMIT ?", limit
        )

    async def checked(self, entry_ids: Sequence[int], at: float) -> None:
        if entry_ids:
            await self._write(f"UPDATE announcements SET checked_at = ? WHERE entry_id IN ({_marks(entry_ids)})",
                              at, *entry_ids)  # fmt: skip

    async def mark_gone(self, entry_id: int) -> bool:
        # every announcement of the entry, gone already or not: a try whose answer was lost gets the same answer again
        return await self._write("UPDATE announcements SET gone = TRUE WHERE entry_id = ?", entry_id) == 1


def _marks(values: Sequence[object]) -> str:
    """One ``?`` for each value."""
    return ", ".join("?" * len(values))
