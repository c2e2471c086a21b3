"""Watcher: every interval, one tick of the watch service (``bot.domain.watch.Watch``), said in the watch
channel: each new block with **Request unblock**, a burst as one summary, and an announcement whose entry is
gone changed to say so. A new block whose rule has the watcher unblock it (``auto_on_watch``) is unblocked
instead, as a request of the watcher's own whose card is its announcement and then shows the outcome, with
**Undo**; more of them in one look than ``UNBLOCK_WATCH_BURST`` are said in one message for them all, whose
**Show them all** lists them with Undo."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from ..domain.entries import CallFailed
from ..domain.evidence import Logged
from ..domain.model import UnblockRequest
from ..domain.ports import Announcement, StoreUnreachable
from ..domain.recurrence import Recurrence
from ..domain.watch import Watch, hold_every
from ..tasks import Upkeep
from .blocks import Blocks
from .outbox import Outbox
from .showing import Showing
from .views.watch import burst, new_block, unblocked, unblocking

log = logging.getLogger(__name__)


@dataclass(kw_only=True)
class Watcher(Upkeep):
    watch: Watch
    #: shows the requests the watcher's rules carried out (their cards, the Home tabs)
    showing: Showing
    #: one look at a time in this process (across processes, the lease)
    _looking: asyncio.Lock = field(default_factory=asyncio.Lock, init=False)
    #: when this process last looked at 3CX's list (``time.monotonic()``; None: not yet, or another watches)
    last_look: float | None = field(default=None, init=False)
    #: when the next look is due (``time.monotonic()``); until then, each round only holds the watch
    _next_look: float = field(default=0.0, init=False)

    WHAT: ClassVar[str] = "watching the blocklist"
    WAITS_FOR: ClassVar[tuple[type[Exception], ...]] = (CallFailed, StoreUnreachable)

    @property
    def every(self) -> float:
        """Between rounds: as often as the watch is held; twice as often while this process does not hold it, so
        that one whose holder died is taken at most half a hold after it went stale."""
        every = hold_every(self.watch.rules.interval)
        return every if self.last_look is not None else every / 2

    async def stop(self, timeout: float = 30.0) -> None:
        """Stop looking, and hand the watch on at once (a process that dies hands it on once its hold is stale)."""
        await super().stop(timeout)
        try:
            await self.watch.hand_on()
        except StoreUnreachable:
            log.warning("could not hand on the watch; another process takes it over once its hold is stale")

    async def tick(self) -> None:
        """A look when one is due; else the watch held again (once it is lost, the next round looks when it can
        take it back)."""
        if time.monotonic() < self._next_look:
            if not await self.watch.hold():
                self._next_look, self.last_look = 0.0, None
            return
        await self.look()

    async def look(self) -> None:
        """One look, and the requests it unblocked shown with their outcome."""
        async with self._looking:
            watched = await self.watch.tick()
            now = time.monotonic()
            self.last_look = now if watched.held else None  # None: another process watches
            self._next_look = now + self.watch.rules.interval if watched.held else 0.0
            for request in watched.unblocked:
                await self.showing.changed(request)  # the outcome, with Undo


@dataclass(frozen=True, slots=True)
class Announcements:
    """The watch service's :class:`~bot.domain.ports.Announcer`: messages in the watch channel."""

    outbox: Outbox
    clock: Callable[[], float]
    #: what is blocked again is also said in the thread of the card that unblocked it
    showing: Showing
    #: the PBX watched ("": the one PBX of a bot that serves one)
    pbx: str = ""

    async def new_block(
        self, found: Announcement, again: Recurrence | None, logged: tuple[Logged, ...] | None, now: float
    ) -> str | None:
        drawn = new_block(found.entry, again=again, now=now, pbx=self.pbx)
        ref = await self._post(found.channel, drawn, "could not announce new blocks")
        if ref is not None and again is not None:
            await self.showing.blocked_again(again, now, logged, asked_by=None, at=(found.channel, ref))
        return ref

    async def burst(self, found: Sequence[Announcement]) -> str | None:
        drawn = burst([a.entry for a in found], pbx=self.pbx)
        return await self._post(found[0].channel, drawn, "could not announce new blocks")

    async def unblocking(self, found: Sequence[Announcement], rules: Sequence[str | None]) -> str | None:
        drawn = unblocking([a.entry for a in found], rules, pbx=self.pbx)
        return await self._post(found[0].channel, drawn, "could not announce new blocks to unblock by their rules")

    def unblocked(self, ref: str, found: Sequence[Announcement], requests: Sequence[UnblockRequest]) -> None:
        drawn = unblocked([a.entry for a in found], requests, self.clock(), pbx=self.pbx)
        self.outbox.update(found[0].channel, ref, *drawn)

    def gone(self, found: Announcement) -> None:
        if found.ref is not None:
            self.outbox.update(found.channel, found.ref, *new_block(found.entry, gone=True, pbx=self.pbx))

    async def _post(self, channel: str, drawn: tuple[str, Blocks], failed: str) -> str | None:
        sent = await self.outbox.post(channel, *drawn)
        if sent.ok and sent.ts:
            return sent.ts
        log.error(failed, extra={"channel": channel, "error": sent.error})
        return None
