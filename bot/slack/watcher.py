"""Watcher: every interval, one look at the blocklist (see ``bot.domain.watch``), and what it found, said
in the watch channel: each new block with **Request unblock**, a burst as one summary, and an
announcement whose entry is gone changed to say so. A new block whose rule has the watcher unblock it
(``auto_on_watch``) is unblocked instead, as a request of the watcher's own whose card is its announcement
and then shows the outcome, with **Undo**; more of them in one look than ``UNBLOCK_WATCH_BURST`` are each
unblocked the same way, but said in one message for them all, whose **Show them all** lists them with Undo."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import ClassVar

from ..domain.model import WATCHER, CallFailed, UnblockRequest
from ..domain.requests import (
    AlreadyRequested,
    Announcement,
    HandedOver,
    NotShown,
    Opened,
    Resolved,
    Shown,
    StoreUnreachable,
    Unblocks,
    UndoneRequests,
    Watching,
    Withdrawn,
)
from ..tasks import Upkeep
from .outbox import Outbox
from .showing import Showing
from .views.unblocked_burst import unblocked, unblocking
from .views.watch import burst, new_block, unblocked_by_rule

log = logging.getLogger(__name__)


@dataclass(kw_only=True)
class Watcher(Upkeep):
    watching: Watching
    outbox: Outbox
    #: shows the requests the watcher opens for the entries it unblocks (their cards, the Home tabs)
    showing: Showing | None = None
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
            announce = list(look.unposted)
            earlier = UndoneRequests()
            if self.showing is not None and look.unblock:  # read once for all the entries this look unblocks
                earlier = await self.showing.requests.undone_requests()
            if self.showing is not None and len(look.unblock) > self.watching.rules.burst:
                announce += await self._unblock_burst(self.showing, list(look.unblock), earlier)
            else:
                for found in look.unblock:
                    if not await self._unblock(found, earlier):
                        announce.append(found)  # a person's request holds it, or a person's Undo put it back
            await self._announce(announce)
            for gone in look.gone:
                if gone.message_ts:
                    self.outbox.update(gone.channel, gone.message_ts, *new_block(gone.entry, gone=True))

    async def _unblock(self, announcement: Announcement, earlier: UndoneRequests) -> bool:
        """Unblock a new entry its rule has the watcher unblock; its announcement is the card of the request,
        shown as the request goes. False: it is announced as any other, since a person's open request holds it
        already or a person's Undo put it back."""
        showing = self.showing
        if showing is None:  # nothing to show a request with: announced for a person to ask
            return False
        entry, channel = announcement.entry, announcement.channel

        async def show(request: UnblockRequest) -> Shown | NotShown:
            rule = showing.policy.rule_for(request).name
            return await showing.post_card(request.id, channel, *unblocked_by_rule(entry, rule))

        opened = await showing.requests.unblock_seen(self.watching, announcement, show, earlier)
        if isinstance(opened, Opened):
            decided = opened.decided
            if isinstance(decided, Resolved):
                await showing.changed(decided.request)  # the outcome, with Undo
            elif not isinstance(decided, HandedOver):  # another process finishes it and shows the outcome
                log.warning("the rule could not carry out the watcher's request",
                            extra={"request": opened.request.id, "result": type(decided).__name__})  # fmt: skip
        elif isinstance(opened, AlreadyRequested):
            if opened.request.requester != WATCHER:
                return False
            ts = await showing.where(opened.request.id)  # another look of the watcher's was first
            if ts is not None:  # (else still unposted: the next look sees it again)
                await self.watching.shown_in_request(announcement, ts)
        elif isinstance(opened, Withdrawn):  # still unposted: the next look tries again
            log.error("could not announce an entry unblocked by its rule",
                      extra={"channel": channel, "entry": entry.id, "error": opened.reason})  # fmt: skip
        else:  # an Undo of the watcher's put it back (a person wants it blocked), or it blocks nothing
            return False
        return True

    async def _unblock_burst(
        self, showing: Showing, found: list[Announcement], earlier: UndoneRequests
    ) -> list[Announcement]:
        """More new entries to unblock by their rules than ``UNBLOCK_WATCH_BURST``: each is unblocked as its rule
        says, a request of its own (kept, audited, in history, with Undo), but the channel gets one message for
        them all instead of a card each (Slack takes about one message a second per channel). The ones to
        announce as any other: a person's open request holds them, or a person's Undo put them back."""
        channel, entries = found[0].channel, [a.entry for a in found]
        sent = await self.outbox.post(
            channel, *unblocking(entries, [showing.policy.rules.rule_for(e).name for e in entries])
        )
        if not sent.ok or not sent.ts:  # nothing unblocked, all still unposted: the next look tries again
            log.error(
                "could not announce new blocks to unblock by their rules",
                extra={"channel": channel, "error": sent.error},
            )
            return []
        ts = sent.ts

        async def show(request: UnblockRequest) -> Shown:
            return Shown(ts)  # the one message is the announcement of each request, which has no card of its own

        requests: list[UnblockRequest] = []
        announce: list[Announcement] = []
        for announcement in found:
            opened = await showing.requests.unblock_seen(self.watching, announcement, show, earlier)
            if isinstance(opened, Opened):
                requests.append(opened.decided.request if isinstance(opened.decided, Resolved) else opened.request)
            elif isinstance(opened, AlreadyRequested) and opened.request.requester == WATCHER:
                await self.watching.shown_in_request(announcement, ts)  # another look's request: said there
            else:
                announce.append(announcement)
        self.outbox.update(channel, ts, *unblocked(entries, requests, showing.clock()))
        return announce

    async def _unblocks(self) -> tuple[float, Unblocks | None]:
        """Now, and the bot's unblocks of the last days (one read of the store), so that an announcement says when
        what it blocks was unblocked before; None when there is nothing to read them with, or the store did not
        answer (announced without it)."""
        if self.showing is None:
            return time.time(), None
        now = self.showing.clock()
        try:
            return now, await self.showing.requests.unblocks(now)
        except StoreUnreachable:
            log.warning("could not read the earlier unblocks for announcements")
            return now, None

    async def _announce(self, unposted: list[Announcement]) -> None:
        if not unposted:
            return
        channel = unposted[0].channel
        summary = len(unposted) > self.watching.rules.burst
        if summary:
            posts = [(unposted, self.outbox.post(channel, *burst([a.entry for a in unposted])))]
        else:
            now, unblocks = await self._unblocks()
            again = [unblocks.of([a.entry]) if unblocks is not None else None for a in unposted]
            posts = [([a], self.outbox.post(channel, *new_block(a.entry, again=r, now=now)))
                     for a, r in zip(unposted, again, strict=True)]  # fmt: skip
        for shown, post in posts:
            sent = await post
            if sent.ok and sent.ts:
                await self.watching.posted(shown, sent.ts, in_summary=summary)
            else:  # still unposted: the next look tries again
                log.error("could not announce new blocks", extra={"channel": channel, "error": sent.error})
