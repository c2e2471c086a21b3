"""A store's work, one piece at a time: a decision's on the event loop's own thread, the rest on a thread of its own.

SQLite takes one writer at a time, so a store's pieces of work never overlap. Most run on one thread, so that the
event loop does not wait for the disk. A piece of a click that decides (the lane of decisions, ``bot.calls``) is
one request's rows, done in well under a millisecond; handed to that thread and back, it waited for two turns of
an event loop busy with a burst of commands (tens of milliseconds each), three times before the DELETE. So it runs
at once on the event loop's thread, waiting only for the piece the thread is running.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from ..calls import LANE, Lane

T = TypeVar("T")


class Serial:
    """Runs pieces of work one at a time, as the module says."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        #: a piece's turn; the thread takes it only while no decision waits for it
        self._turn = threading.Condition()
        self._deciding = False
        self._stopped = False

    async def run(self, work: Callable[[], T]) -> T:
        """``work()``: at once in the lane of decisions, else on the thread after what was queued before it."""
        if self._stopped:
            raise RuntimeError(f"{self._name} is stopped")
        if LANE.get() is Lane.DECISIONS:
            return self._now(work)
        return await asyncio.get_running_loop().run_in_executor(self._thread, self._after_decisions, work)

    def stop(self) -> None:
        """Finish what is queued, then end the thread (waiting for it); no work is taken after."""
        self._stopped = True
        self._thread.shutdown(wait=True)

    def _now(self, work: Callable[[], T]) -> T:
        """On the event loop's thread, once the piece the thread is running (if any) ends."""
        self._deciding = True
        with self._turn:
            try:
                return work()
            finally:
                self._deciding = False
                self._turn.notify()

    def _after_decisions(self, work: Callable[[], T]) -> T:
        """On the thread, once no decision waits for its turn."""
        with self._turn:
            self._turn.wait_for(lambda: not self._deciding)
            return work()
