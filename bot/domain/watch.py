"""Watching the IP blocklist: which entries are new since the last look, and which announced ones are gone.

One process at a time watches (a lease in the store, renewed every :func:`hold_every` seconds, during a look too,
and taken over when its holder has not renewed it for twice that: within 30 seconds of its death, whatever the
interval between looks). Processes serving several PBXes share their watches evenly (``bot.domain.sharing``).
Each look asks
the PBX only for the entries above a high-water mark on their ids (which only
grow), and the mark moves in the same transaction that keeps the new entries to
announce, so an entry is kept for announcing exactly once whoever looks and
whenever a process stops. Entries already listed when watching first starts are
not announced.

A new entry whose rule has ``auto_on_watch`` is not announced for a person to ask about: the watcher unblocks
it, through the request service like any request, by :data:`~bot.domain.model.WATCHER`. The watch service
(:class:`Watch`) does one look and all that follows from it, said through its :class:`~bot.domain.ports.Announcer`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from .entries import BlocklistEntry
from .evidence import Logged
from .model import WATCHER, State, UnblockRequest
from .ports import Announcement, Announcer, Shown, StoreUnreachable, WatchStore
from .recurrence import Recurrence, Unblocks
from .requests import Requests
from .results import AlreadyRequested, HandedOver, Opened, OpenResult, Resolved, Withdrawn
from .sharing import Seat

log = logging.getLogger(__name__)

#: the most new entries one look reads from the PBX (more wait for the next look)
PAGE = 500
#: the most announced entries one look checks against the PBX (one short query's worth)
CHECKS = 24
MIN_INTERVAL = 5.0
#: how often the process that watches renews its hold on the watch, at most
HOLD_EVERY = 10.0
#: how many of the last requests undone are asked whether their Undo put a new entry back
UNDONE_CHECKED = 100


@dataclass(frozen=True, slots=True)
class WatchRules:
    """Where new blocks are announced, how often the PBX is asked, and which."""

    channel: str
    interval: float = 60.0
    #: who added the entries announced (as the PBX names them); None: all
    added_by: frozenset[str] | None = None
    #: more new entries than this in one look become one summary
    burst: int = 5

    def wants(self, entry: BlocklistEntry) -> bool:
        return entry.blocks and (self.added_by is None or (entry.added_by or "") in self.added_by)


class WatchedList(Protocol):
    """The IP blocklist, as the watcher reads it."""

    async def highest_id(self) -> int | None: ...

    async def added_after(self, mark: int, top: int) -> list[BlocklistEntry]: ...

    async def still_listed(self, ids: Sequence[int]) -> set[int]: ...


def hold_every(interval: float) -> float:
    """How often the watch is held again between looks ``interval`` seconds apart (taken over after twice that)."""
    return min(interval, HOLD_EVERY)


def put_back(undone: Sequence[UnblockRequest], entry: BlocklistEntry) -> UnblockRequest | None:
    """The request of ``undone`` (the last requests an Undo was claimed for) whose Undo put ``entry`` back, if any
    (anyone's: a person wants it blocked, so the watcher does not unblock it again): the PBX gave the entry a new
    id then, which the Undo recorded; or the Undo is still under way (its answers, with that id, not recorded yet)
    and put back an entry for the same address."""
    for earlier in undone:
        if any(r.new_id == str(entry.id) for r in earlier.done.undo_results):
            return earlier
        under_way = earlier.state is State.UNDOING
        if under_way and any(isinstance(t, BlocklistEntry) and t.address == entry.address for t in earlier.removed):
            return earlier
    return None


@dataclass(frozen=True, slots=True)
class Watched:
    """What one tick did: nothing when this process does not hold the watch."""

    held: bool
    #: the watcher's requests their rules carried out, to show as decided (with Undo)
    unblocked: tuple[UnblockRequest, ...] = ()


@dataclass(frozen=True, slots=True)
class Watch:
    """The watch service: one look at the blocklist per tick for ``holder`` (this process), by ``rules``, and all
    that follows from it. A new entry is said through ``announcer``; one whose rule says so is unblocked through
    ``requests``, as a request of the watcher's own whose card is its announcement; more of them in one look than
    a burst are each unblocked the same way, but said in one message for them all."""

    store: WatchStore
    blocklist: WatchedList
    rules: WatchRules
    holder: str
    clock: Callable[[], float]
    announcer: Announcer
    requests: Requests
    #: this watch's seat in the process's share of the watches (None: the process holds any it can)
    seat: Seat | None = None

    async def hold(self) -> bool:
        """Hold the watch again (or take it over from a holder that stopped holding it); whether this process holds
        it."""
        held, _ = await self._hold(self.clock())
        return held

    async def _hold(self, now: float) -> tuple[bool, int | None]:
        """Hold the watch: renew it, take it from a holder that stopped renewing it, or take it when nobody holds
        it and the process's share allows. Returns what ``WatchStore.hold_watch`` does. A hold the database
        answered late (half a hold after ``now`` or later) is made again at once: kept with the time it was asked
        at, it would go stale that much sooner, and another process could take the watch within an interval of
        this one's look."""
        held, mark = await self._hold_at(now)
        if held and self.clock() - now >= hold_every(self.rules.interval) / 2:
            held, mark = await self._hold_at(self.clock())
        return held, mark

    async def _hold_at(self, now: float) -> tuple[bool, int | None]:
        seat, stale = self.seat, self._stale(now)
        if seat is None:
            return await self.store.hold_watch(self.holder, now, stale_before=stale)
        seat.share.count_soon()
        if seat.held or not seat.share.may_take():  # its own renewed, or a stopped holder's taken
            held, mark = await self.store.hold_watch(self.holder, now, stale, take_free=False)
            seat.held = held
            return held, mark
        async with seat.share.taking:  # one try at a time, each counting what the others took
            held, mark = await self.store.hold_watch(self.holder, now, stale, take_free=seat.share.may_take())
            seat.held = held
            return held, mark

    def _stale(self, now: float) -> float:
        """Before when a holder's last hold means it stopped holding the watch."""
        return now - 2 * hold_every(self.rules.interval)

    async def tick(self) -> Watched:
        """One look: renew the watch (and keep renewing it while the look lasts), keep what is new, say it (every
        announcement not yet posted: this look's, and any a stopped process left), and say which announced entries
        are gone. Raises CallFailed or StoreUnreachable when the PBX or the database cannot be asked; nothing is
        lost, the next look goes on."""
        kept = self.seat is not None and self.seat.held
        held, mark = await self._hold(self.clock())
        if not held:
            return Watched(held=False)
        # held since its last look, which makes this one due: the next holder looks an interval after that
        # (one taken just now from a holder that stopped is kept for its first look)
        if kept and self.seat is not None and self.seat.share.too_many():
            await self.hand_on()
            log.info("handing the watch on: this process holds more than its share of the watches")
            return Watched(held=False)
        holding = asyncio.create_task(self._keep_holding())
        try:
            return await self._look(mark, self.clock())
        finally:
            holding.cancel()

    async def _keep_holding(self) -> None:
        """Renew the watch while a look lasts (a slow PBX may make one longer than the watch is held)."""
        while True:
            await asyncio.sleep(hold_every(self.rules.interval))
            try:
                await self.hold()
            except StoreUnreachable:
                log.warning("could not renew the watch during a look")

    async def _look(self, mark: int | None, now: float) -> Watched:
        if mark is None:  # watching starts: what is listed now is not news
            highest = await self.blocklist.highest_id()
            # (the time the mark moves, which renews the hold: never older than a hold renewed during the look)
            await self.store.advance_watch(self.holder, None, highest or 0, [], self.clock())
            log.info("watching the blocklist starts", extra={"from_id": highest or 0})
        elif added := await self.blocklist.added_after(mark, PAGE):
            keep = [Announcement(e, self.rules.channel) for e in added if self.rules.wants(e)]
            await self.store.advance_watch(self.holder, mark, max(e.id for e in added), keep, self.clock())
        unposted = await self.store.unposted(PAGE)
        gone = await self._gone(now)
        announce: list[Announcement] = []
        unblock: list[Announcement] = []
        for found in unposted:  # an entry whose rule has ``auto_on_watch`` is unblocked rather than announced
            rule = self.requests.policy.rules.rule_for(found.entry)
            (unblock if rule.auto and rule.auto_on_watch else announce).append(found)
        unblocked: list[UnblockRequest] = []
        if unblock:  # the requests undone read once for all the entries unblocked
            more, unblocked = await self._unblock(unblock, await self.requests.store.undone(UNDONE_CHECKED))
            announce += more  # a person's request holds them, or an Undo put them back
        await self._announce(announce)
        for one in gone:
            self.announcer.gone(one)
        return Watched(True, tuple(unblocked))

    async def hand_on(self) -> None:
        """This process stops watching: another may take the watch at once."""
        if self.seat is not None:
            self.seat.held = False  # (the process's other watches count without it at once)
        await self.store.release_watch(self.holder)

    async def _gone(self, now: float) -> list[Announcement]:
        """Announced entries the PBX no longer lists, each marked gone by this look."""
        shown = await self.store.showing(CHECKS)
        if not shown:
            return []
        listed = await self.blocklist.still_listed([a.entry.id for a in shown])
        await self.store.checked([a.entry.id for a in shown], now)
        return [a for a in shown if a.entry.id not in listed and await self.store.mark_gone(a.entry.id)]

    async def _open(self, found: Announcement, ref: str | None) -> OpenResult:
        """A request for the new entry, asked by the watcher in the watch channel, which its rule carries out at
        once, so that it has all a request has (one open request per entry, the audit line, history, recovery,
        Undo). Once its card is shown (``ref``: it is that message, shown already), the announcement counts as
        posted, so whoever looks next does not unblock the entry again."""
        log.info("unblocking a new entry by its rule", extra={"entry": found.entry.id, "channel": found.channel})
        shown = Shown(ref) if ref is not None else None
        opened = await self.requests.show_new([found.entry], WATCHER, found.channel, None, asked_in=None, shown=shown)
        if not isinstance(opened, Opened):
            return opened
        if opened.shown.ref is not None:  # (in a summary, or a card: never checked or changed by the watcher)
            await self.store.posted([found.entry.id], opened.shown.ref, in_summary=True)
        return await self.requests.carry_out_by_rule(opened)  # (its rule has ``auto``)

    async def _unblock(
        self, found: Sequence[Announcement], earlier: list[UnblockRequest]
    ) -> tuple[list[Announcement], list[UnblockRequest]]:
        """Unblock the new entries their rules have the watcher unblock, each as a request of its own; more of them
        than a burst are said in one message for them all instead of a card each. The ones to announce as any
        other (a person's open request holds them, or an Undo put them back), and the requests carried out, to
        show with their outcome on their cards."""
        burst, ref = len(found) > self.rules.burst, None
        if burst:
            names = [self.requests.policy.rules.rule_for(a.entry).name for a in found]
            ref = await self.announcer.unblocking(found, names)
            if ref is None:  # nothing unblocked, all still unposted: the next look tries again
                return [], []
        announce: list[Announcement] = []
        done: list[UnblockRequest] = []
        for one in found:
            opened = None if put_back(earlier, one.entry) else await self._open(one, ref)
            if isinstance(opened, Opened):
                decided = opened.decided
                if isinstance(decided, Resolved) or burst:
                    done.append(decided.request if isinstance(decided, Resolved) else opened.request)
                elif not isinstance(decided, HandedOver):  # (handed over: another process shows the outcome)
                    log.warning(
                        "the rule could not carry out the watcher's request",
                        extra={"request": opened.request.id, "result": type(decided).__name__},
                    )
            elif isinstance(opened, AlreadyRequested) and opened.request.asked.by == WATCHER:
                where = ref or await self.requests.cards.where(opened.request.id)  # another look's was first
                if where is not None:  # (else still unposted: the next look sees it again)
                    await self.store.posted([one.entry.id], where, in_summary=True)
            elif isinstance(opened, Withdrawn):  # still unposted: the next look tries again
                log.error(
                    "could not announce an entry unblocked by its rule",
                    extra={"channel": one.channel, "entry": one.entry.id, "error": opened.reason},
                )
            else:
                announce.append(one)
        if ref is None:
            return announce, done
        self.announcer.unblocked(ref, found, done)
        return announce, []

    async def _announce(self, unposted: list[Announcement]) -> None:
        if len(unposted) > self.rules.burst:
            ref = await self.announcer.burst(unposted)
            if ref is not None:
                await self.store.posted([a.entry.id for a in unposted], ref, in_summary=True)
            return
        now, unblocks = self.clock(), await self._unblocks()
        agains = [unblocks.of([a.entry]) if unblocks else None for a in unposted]
        # what is blocked again comes with what the PBX logged about it this time
        logged = await asyncio.gather(
            *(self._logged(a.entry, again) for a, again in zip(unposted, agains, strict=True))
        )
        refs = await asyncio.gather(
            *(self.announcer.new_block(*said, now) for said in zip(unposted, agains, logged, strict=True))
        )
        for one, ref in zip(unposted, refs, strict=True):
            if ref is not None:  # (else still unposted: the next look tries again)
                await self.store.posted([one.entry.id], ref, in_summary=False)

    async def _logged(self, entry: BlocklistEntry, again: Recurrence | None) -> tuple[Logged, ...] | None:
        """What the PBX logged about an entry blocked again (None: it is not, or the PBX did not tell)."""
        witness = self.requests.witness
        if again is None or witness is None or not entry.address:
            return None
        return await witness.logged(entry.address)

    async def _unblocks(self) -> Unblocks | None:
        """The bot's unblocks of the last days (one read of the store), so that an announcement says when what it
        blocks was unblocked before; None when the store did not answer (announced without it)."""
        try:
            return await self.requests.reads.unblocks(self.clock(), self.requests.pbx)
        except StoreUnreachable:
            log.warning("could not read the earlier unblocks for announcements")
            return None
