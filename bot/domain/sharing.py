"""The watches of several PBXes shared among the processes that serve them: each holds an even share.

Each process says it is there (a :class:`Roster`) every ``every`` seconds, and counts the processes seen since
twice that: once at its start, then in the background, so that no watch waits for it to renew its hold (with the
database slow, a round that waited for the count could let a hold go stale). Its share is the watches it serves
divided among them, rounded up. A process below its share
takes a watch nobody holds; one above it hands a watch on when that watch's look falls due, so that the next
holder looks about an interval after the last look, never twice in one. A watch whose holder stopped renewing it
is taken whatever the share: that holder is gone. Alone, a process holds every watch it serves.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from .ports import StoreUnreachable

log = logging.getLogger(__name__)


class Roster(Protocol):
    """Who serves the watches: each process's last word that it is there. Every method may raise
    :class:`~bot.domain.ports.StoreUnreachable`."""

    async def present(self, holder: str, at: float, seen_since: float) -> int:
        """``holder`` is there at ``at``; how many processes were seen since ``seen_since``, ``holder`` too."""

    async def absent(self, holder: str) -> None:
        """``holder`` stops: it no longer counts."""


@dataclass(eq=False)
class Seat:
    """One watch of the process, in its share."""

    share: WatchShare
    held: bool = False


@dataclass(eq=False)
class WatchShare:
    """This process's share of the watches, as the module says."""

    roster: Roster
    holder: str
    clock: Callable[[], float]
    #: how often the process says it is there (as often as its watches' holds are renewed)
    every: float
    _seats: list[Seat] = field(default_factory=list, init=False)
    #: the processes counted last, and when (None: not yet)
    _processes: int = field(default=1, init=False)
    _counted_at: float | None = field(default=None, init=False)
    #: the count under way in the background
    _counting: asyncio.Task[None] | None = field(default=None, init=False)
    #: held while a watch nobody holds is tried, so that each try counts what the others took
    taking: asyncio.Lock = field(default_factory=asyncio.Lock, init=False)

    def seat(self) -> Seat:
        """A seat for one more watch this process serves."""
        seat = Seat(self)
        self._seats.append(seat)
        return seat

    async def count(self) -> None:
        """Say this process is there, and count the processes (at the start); a database that does not answer
        leaves the last count."""
        now = self.clock()
        self._counted_at = now
        try:
            self._processes = max(1, await self.roster.present(self.holder, now, seen_since=now - 2 * self.every))
        except StoreUnreachable as error:
            log.warning("could not count the processes that share the watches", extra={"problem": str(error)})

    def count_soon(self) -> None:
        """``count`` in the background when the last count started ``every`` seconds ago or more (and none is under
        way)."""
        if self._counting is not None and not self._counting.done():
            return
        if self._counted_at is not None and self.clock() - self._counted_at < self.every:
            return
        self._counting = asyncio.get_running_loop().create_task(self.count())

    @property
    def share(self) -> int:
        return math.ceil(len(self._seats) / self._processes)

    def may_take(self) -> bool:
        """Whether this process may take a watch nobody holds."""
        return self._held() < self.share

    def too_many(self) -> bool:
        """Whether this process holds more watches than its share."""
        return self._held() > self.share

    async def leave(self) -> None:
        """This process stops: the others count without it at once (once it said it was there)."""
        if self._counting is not None:
            self._counting.cancel()
            await asyncio.wait((self._counting,))
        if self._counted_at is not None:
            await self.roster.absent(self.holder)

    def _held(self) -> int:
        return sum(seat.held for seat in self._seats)
