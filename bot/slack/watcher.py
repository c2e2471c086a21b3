"""Watcher: every interval, one look at the blocklist (see ``bot.domain.watch``), and what it found, said
in the watch channel: each new block with **Request unblock**, a burst as one summary, and an
announcement whose entry is gone changed to say so."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from ..domain.ports import Announcement, StoreUnreachable, WatchStore
from ..domain.watch import Watching
from ..tasks import Upkeep
from ..threecx.errors import ThreeCXError
from .outbox import Outbox
from .views.watch import burst, new_block

log = logging.getLogger(__name__)


@dataclass(kw_only=True)
class Watcher(Upkeep):
    watching: Watching
    store: WatchStore
    outbox: Outbox
    #: one look at a time in this process (across processes, the lease)
    _looking: asyncio.Lock = field(default_factory=asyncio.Lock, init=False)
    #: 3CX or the database could not be asked at the last look (said once in the log, until it can)
    _paused: bool = field(default=False, init=False)

    async def stop(self) -> None:
        """Stop looking, and hand the watch on at once (a process that dies hands it on after two intervals)."""
        await super().stop()
        try:
            await self.store.release_watch(self.watching.holder)
        except StoreUnreachable:
            log.warning("could not hand on the watch; another process takes it over after two intervals")

    async def tick(self) -> None:
        """One look, and what it found said in the channel."""
        async with self._looking:
            look = await self.watching.look()
            if not look.held:
                return
            await self._announce(list(look.unposted))
            for gone in look.gone:
                if gone.message_ts:
                    self.outbox.update(gone.channel, gone.message_ts, *new_block(gone.entry, gone=True))

    async def _announce(self, unposted: list[Announcement]) -> None:
        if not unposted:
            return
        channel = unposted[0].channel
        if len(unposted) > self.watching.rules.burst:
            sent = await self.outbox.post(channel, *burst([a.entry for a in unposted]))
            if sent.ok and sent.ts:
                await self.store.posted([a.entry.id for a in unposted], sent.ts, in_summary=True)
            return
        posts = [(a, self.outbox.post(channel, *new_block(a.entry))) for a in unposted]
        for announcement, post in posts:
            sent = await post
            if sent.ok and sent.ts:
                await self.store.posted([announcement.entry.id], sent.ts, in_summary=False)
            else:
                log.error("could not announce a new block", extra={"channel": channel, "error": sent.error})

    async def _loop(self) -> None:
        while True:
            try:
                await self.tick()
                if self._paused:
                    log.warning("watching the blocklist resumes")
                self._paused = False
            except (ThreeCXError, StoreUnreachable) as error:
                if not self._paused:
                    log.warning("watching the blocklist pauses until 3CX and the database answer",
                                extra={"problem": str(error)})  # fmt: skip
                self._paused = True
            except Exception:
                log.exception("watching the blocklist failed; will try again")
            await asyncio.sleep(self.watching.rules.interval)
