"""Watching the IP blocklist: which entries are new since the last look, and which announced ones are gone.

One process at a time watches (a lease in the store, renewed at every look and
taken over when its holder has not renewed it for two intervals). Each look asks
3CX only for the entries above a high-water mark on ``Id`` (3CX's Ids only
grow), and the mark moves in the same transaction that keeps the new entries to
announce, so an entry is kept for announcing exactly once whoever looks and
whenever a process stops. Entries already listed when watching first starts are
not announced.

A new entry whose rule has ``auto_on_watch`` is not announced for a person to ask about: the watcher unblocks
it (``Requests.unblock_seen``), through the request service like any request, by :data:`WATCHER`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from .entries import BlocklistEntry
from .model import WATCHER, State, UnblockRequest
from .ports import Announcement, WatchStore
from .rules import Rules

__all__ = ["CHECKS", "PAGE", "WATCHER", "Look", "PutBack", "UndoneRequests", "WatchRules", "WatchedList", "Watching"]

log = logging.getLogger(__name__)

#: the most new entries one look reads from 3CX (more wait for the next look)
PAGE = 500
#: the most announced entries one look checks against 3CX (one short query's worth)
CHECKS = 24
MIN_INTERVAL = 5.0
#: how many of the last requests undone are asked whether their Undo put a new entry back
UNDONE_CHECKED = 100


@dataclass(frozen=True, slots=True)
class WatchRules:
    """``UNBLOCK_WATCH_*``: where new blocks are announced, how often 3CX is asked, and which."""

    channel: str
    interval: float = 60.0
    #: the ``AddedBy`` values announced; None: all
    added_by: frozenset[str] | None = frozenset({"AutoBlacklist"})
    #: more new entries than this in one look become one summary
    burst: int = 5

    def wants(self, entry: BlocklistEntry) -> bool:
        return entry.blocks and (self.added_by is None or (entry.added_by or "") in self.added_by)


class WatchedList(Protocol):
    """The IP blocklist, as the watcher reads it."""

    async def highest_id(self) -> int | None: ...

    async def added_after(self, mark: int, top: int) -> list[BlocklistEntry]: ...

    async def still_listed(self, ids: Sequence[int]) -> set[int]: ...


@dataclass(frozen=True, slots=True)
class Look:
    """What one look found: nothing when this process does not hold the watch."""

    held: bool
    #: new entries this look kept (each is also in ``unposted`` or in ``unblock``)
    new: int = 0
    #: every announcement not yet posted (this look's, and any a stopped process left)
    unposted: tuple[Announcement, ...] = ()
    #: announced entries 3CX no longer lists, each marked gone by this look
    gone: tuple[Announcement, ...] = ()
    #: of the entries not yet posted, those whose rule has the watcher unblock them (not in ``unposted``)
    unblock: tuple[Announcement, ...] = ()


@dataclass(frozen=True, slots=True)
class PutBack:
    """The new entry is one that an Undo of ``request`` (anyone's: a person's, or the watcher's own) put back: a
    person wants it blocked, so the watcher does not unblock it again (it is announced like any other)."""

    request: UnblockRequest


@dataclass(frozen=True, slots=True)
class UndoneRequests:
    """The last :data:`UNDONE_CHECKED` requests an Undo was claimed for, as one read of the store found them."""

    requests: tuple[UnblockRequest, ...] = ()

    def put_back(self, entry: BlocklistEntry) -> PutBack | None:
        """The request of these whose Undo put ``entry`` back, if any: 3CX gave the entry a new Id then, which the
        Undo recorded; or the Undo is still under way (its answers, with that Id, not recorded yet) and put back
        an entry for the same address."""
        for earlier in self.requests:
            if any(r.new_id == str(entry.id) for r in earlier.undo_results):
                return PutBack(earlier)
            under_way = earlier.state is State.UNDOING
            if under_way and any(isinstance(t, BlocklistEntry) and t.address == entry.address for t in earlier.removed):
                return PutBack(earlier)
        return None


@dataclass(frozen=True, slots=True)
class Watching:
    """Looking at the blocklist for ``holder`` (this process), by ``rules``."""

    store: WatchStore
    blocklist: WatchedList
    rules: WatchRules
    holder: str
    clock: Callable[[], float]
    #: the operator's rules: an entry whose rule has ``auto_on_watch`` is unblocked rather than announced
    #: (None: every entry is announced)
    unblocking: Rules | None = None

    async def look(self) -> Look:
        """One look: renew the watch, keep what is new, and find what is gone. Raises ThreeCXError or
        StoreUnreachable when 3CX or the database cannot be asked; nothing is lost, the next look goes on."""
        now = self.clock()
        held, mark = await self.store.hold_watch(self.holder, now, stale_before=now - 2 * self.rules.interval)
        if not held:
            return Look(held=False)
        new = 0
        if mark is None:  # watching starts: what is listed now is not news
            highest = await self.blocklist.highest_id()
            await self.store.advance_watch(self.holder, None, highest or 0, [], now)
            log.info("watching the blocklist starts", extra={"from_id": highest or 0})
        else:
            added = await self.blocklist.added_after(mark, PAGE)
            if added:
                keep = [Announcement(e, self.rules.channel) for e in added if self.rules.wants(e)]
                if await self.store.advance_watch(self.holder, mark, max(e.id for e in added), keep, now):
                    new = len(keep)
        unblock: list[Announcement] = []
        announce: list[Announcement] = []
        for found in await self.store.unposted(PAGE):
            (unblock if self.unblocks(found.entry) else announce).append(found)
        return Look(True, new, tuple(announce), tuple(await self._gone(now)), tuple(unblock))

    def unblocks(self, entry: BlocklistEntry) -> bool:
        """Whether ``entry``'s rule has the watcher unblock it as soon as it sees it (``auto_on_watch``)."""
        if self.unblocking is None:
            return False
        rule = self.unblocking.rule_for(entry)
        return rule.auto and rule.auto_on_watch

    async def shown_in_request(self, announcement: Announcement, message_ts: str) -> None:
        """The announcement is the card of a request for its entry, the message ``message_ts``: posted, and (like
        an entry in a summary) never checked or changed by the watcher, since the card follows the request."""
        await self.store.posted([announcement.entry.id], message_ts, in_summary=True)

    async def _gone(self, now: float) -> list[Announcement]:
        shown = await self.store.showing(CHECKS)
        if not shown:
            return []
        listed = await self.blocklist.still_listed([a.entry.id for a in shown])
        await self.store.checked([a.entry.id for a in shown], now)
        return [a for a in shown if a.entry.id not in listed and await self.store.mark_gone(a.entry.id)]

    async def posted(self, shown: Sequence[Announcement], message_ts: str, *, in_summary: bool) -> None:
        """These announcements are in the channel now, in the message ``message_ts``."""
        await self.store.posted([a.entry.id for a in shown], message_ts, in_summary=in_summary)

    async def hand_on(self) -> None:
        """This process stops watching: another may take the watch at once."""
        await self.store.release_watch(self.holder)
