"""In-memory stand-ins for what the blocklist watcher needs: its store (``bot.domain.ports.WatchStore``),
the PBX's list as it reads it (``bot.domain.watch.WatchedList``), where it says what it found (``Announcer``);
the clock is ``fakes.FakeClock``.

``WatchStore`` keeps the contract every real store keeps (``bot.storage.contract``): one holder at a time,
taken over when its last renewal is older than ``stale_before``; the mark moved only by the holder and only
from the mark it read, in one step with the announcements kept (an entry kept before stays as it is);
``mark_gone`` true for every call about an announcement kept (gone already or not). No method awaits anything
before it has done its work, so each is one step, as a transaction is.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace

from bot.domain.entries import BlocklistEntry
from bot.domain.model import UnblockRequest
from bot.domain.ports import Announcement
from bot.domain.recurrence import Recurrence


def blocked(
    entry_id: int, ip: str = "203.0.113.7", *, added_by: str | None = "AutoBlacklist", block_type: str | None = "Block"
) -> BlocklistEntry:
    """A blocklist entry as the PBX lists it."""
    return BlocklistEntry(entry_id, ip, f"Failed SIP registrations from {ip}", block_type, added_by, None, None)


@dataclass(frozen=True, slots=True)
class Advance:
    """One ``advance_watch`` call and what the store answered."""

    holder: str
    mark: int | None
    new_mark: int
    announce: tuple[int, ...]
    moved: bool


@dataclass
class WatchStore:
    """The watcher's store, in memory."""

    #: None until a first ``hold_watch`` (the store's row)
    holder: str | None = None
    heartbeat_at: float | None = None
    mark: int | None = None
    #: each announcement kept, and when its entry was last checked, by entry Id
    kept: dict[int, Announcement] = field(default_factory=dict)
    checked_at: dict[int, float] = field(default_factory=dict)
    advances: list[Advance] = field(default_factory=list)

    async def hold_watch(self, holder: str, at: float, stale_before: float) -> tuple[bool, int | None]:
        free = self.holder is None or self.holder == holder
        if free or (self.heartbeat_at is not None and self.heartbeat_at < stale_before):
            self.holder, self.heartbeat_at = holder, at
            return True, self.mark
        return False, self.mark

    async def release_watch(self, holder: str) -> None:
        if self.holder == holder:
            self.holder = None

    async def advance_watch(
        self, holder: str, mark: int | None, new_mark: int, announce: Sequence[Announcement], at: float
    ) -> bool:
        moved = self.holder == holder and self.mark == mark
        self.advances.append(Advance(holder, mark, new_mark, tuple(a.entry.id for a in announce), moved))
        if moved:
            self.mark, self.heartbeat_at = new_mark, at
            for announcement in announce:
                self.kept.setdefault(announcement.entry.id, announcement)
        return moved

    async def unposted(self, limit: int) -> list[Announcement]:
        return [a for a in self.announced().values() if a.ref is None and not a.gone][:limit]

    async def posted(self, entry_ids: Sequence[int], ref: str, *, in_summary: bool) -> None:
        for entry_id in entry_ids:
            if entry_id in self.kept:
                self.kept[entry_id] = replace(self.kept[entry_id], ref=ref, in_summary=in_summary)

    async def showing(self, limit: int) -> list[Announcement]:
        shown = [a for a in self.announced().values() if a.ref is not None and not a.in_summary and not a.gone]
        return sorted(shown, key=lambda a: (self.checked_at.get(a.entry.id, 0.0), a.entry.id))[:limit]

    async def checked(self, entry_ids: Sequence[int], at: float) -> None:
        self.checked_at.update(dict.fromkeys(entry_ids, at))

    async def mark_gone(self, entry_id: int) -> bool:
        if entry_id not in self.kept:
            return False
        self.kept[entry_id] = replace(self.kept[entry_id], gone=True)
        return True

    def announced(self) -> dict[int, Announcement]:
        """Every announcement kept, by entry Id, lowest first."""
        return dict(sorted(self.kept.items()))


@dataclass
class WatchedList:
    """3CX's IP blocklist as the watcher reads it. ``during_read``, when set, runs inside ``added_after``
    (after the list was read, before the answer arrives): what another process does meanwhile."""

    entries: dict[int, BlocklistEntry] = field(default_factory=dict)
    #: each call: ("highest_id",), ("added_after", mark, top), ("still_listed", ids)
    calls: list[tuple[object, ...]] = field(default_factory=list)
    during_read: Callable[[], Awaitable[None]] | None = None

    def put(self, *entries: BlocklistEntry) -> None:
        for entry in entries:
            self.entries[entry.id] = entry

    def drop(self, *entry_ids: int) -> None:
        for entry_id in entry_ids:
            del self.entries[entry_id]

    def called(self, method: str) -> list[tuple[object, ...]]:
        return [c[1:] for c in self.calls if c[0] == method]

    async def highest_id(self) -> int | None:
        self.calls.append(("highest_id",))
        return max(self.entries, default=None)

    async def added_after(self, mark: int, top: int) -> list[BlocklistEntry]:
        self.calls.append(("added_after", mark, top))
        found = [self.entries[i] for i in sorted(self.entries) if i > mark][:top]
        if self.during_read is not None:
            during, self.during_read = self.during_read, None
            await during()
        return found

    async def still_listed(self, ids: Sequence[int]) -> set[int]:
        self.calls.append(("still_listed", list(ids)))
        return {i for i in ids if i in self.entries}


@dataclass
class Announcer:
    """Where the watcher says what it found: each post is the message ``2000000000.<n>``, or none while it does
    not ``deliver`` (each try is in ``posts``)."""

    deliver: bool = True
    posts: list[tuple[str, list[int]]] = field(default_factory=list)
    unblocked_in: dict[str, list[UnblockRequest]] = field(default_factory=dict)
    gone_ids: list[int] = field(default_factory=list)

    def _post(self, kind: str, found: Sequence[Announcement]) -> str | None:
        self.posts.append((kind, [a.entry.id for a in found]))
        return f"2000000000.{len(self.posts):06d}" if self.deliver else None

    async def new_block(self, found: Announcement, again: Recurrence | None, now: float) -> str | None:
        return self._post("new", [found])

    async def burst(self, found: Sequence[Announcement]) -> str | None:
        return self._post("burst", found)

    async def unblocking(self, found: Sequence[Announcement], rules: Sequence[str | None]) -> str | None:
        return self._post("unblocking", found)

    def unblocked(self, ref: str, found: Sequence[Announcement], requests: Sequence[UnblockRequest]) -> None:
        self.unblocked_in[ref] = list(requests)

    def gone(self, found: Announcement) -> None:
        self.gone_ids.append(found.entry.id)
