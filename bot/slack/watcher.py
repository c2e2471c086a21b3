"""Watcher: every interval, one look at the blocklist (see ``bot.domain.watch``), and what it found, said
in the watch channel: each new block with **Request unblock**, a burst as one summary, and an
announcement whose entry is gone changed to say so."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import ClassVar

from ..domain.model import CallFailed
from ..domain.requests import Announcement, StoreUnreachable, Watching
from ..tasks import Upkeep
from .outbox import Outbox
from .views.watch import burst, new_block

log = logging.getLogger(__name__)


@dataclass(kw_only=True)
class Watcher(Upkeep):
    watching: Watching
    outbox: Outbox
    #: one look at a time in this process (across processes, the lease)
    _looking: asyncio.Lock = field(default_factory=asyncio.Lock, init=False)
    #: when this process last looked at 3CX's list (``time.monotonic()``; None: not yet, or another watches)
    last_look: float | None = field(default=None, init=False)

    WHAT: ClassVar[str] = "watching the blocklist"
    WAITS_FOR: ClassVar[tuple[type[Exception], ...]] = (CallFailed, StoreUnreachable)

    @property
    def every(self) -> float:
        return self.watching.rules.interval

    async def stop(self, timeout: float = 30.0) -> None:
        """Stop looking, and hand the watch on at once (a process that dies hands it on after two intervals)."""
        await super().stop(timeout)
        try:
            await self.watching.hand_on()
        except StoreUnreachable:
            log.warning("could not hand on the watch; another process takes it over after two intervals")

    async def tick(self) -> None:
        """One look, and what it found said in the channel."""
        async with self._looking:
            look = await self.watching.look()
            self.last_look = time.monotonic() if look.held else None  # None: another process watches
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
        summary = len(unposted) > self.watching.rules.burst
        if summary:
            posts = [(unposted, self.outbox.post(channel, *burst([a.entry for a in unposted])))]
        else:
            posts = [([a], self.outbox.post(channel, *new_block(a.entry))) for a in unposted]
        for shown, post in posts:
            sent = await post
            if sent.ok and sent.ts:
                await self.watching.posted(shown, sent.ts, in_summary=summary)
            else:  # still unposted: the next look tries again
                log.error("could not announce new blocks", extra={"channel": channel, "error": sent.error})
