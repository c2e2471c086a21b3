"""One thread that runs a store's work in turn, a decision's before a command's.

SQLite takes one writer at a time, so all of a store's work runs on one thread. During a burst of commands
that thread has a queue, and a click that decides (in the lane of decisions, ``bot.calls``) would wait behind it
at each of its steps: so what is queued in that lane is taken first. Within a lane, work runs in the order it
came.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from ..calls import LANE, Lane

T = TypeVar("T")

#: the order of the lanes' work; the end of the thread comes after everything queued before it
_FIRST, _THEN, _LAST = 0, 1, 2

_Item = tuple[int, int, Callable[[], Any] | None, asyncio.Future[Any] | None]


class SerialThread:
    """Runs work, one piece at a time, on a thread of its own (started with the first piece)."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._queue: queue.PriorityQueue[_Item] = queue.PriorityQueue()
        self._arrival = itertools.count()
        self._thread: threading.Thread | None = None
        self._stopped = False

    async def run(self, work: Callable[[], T]) -> T:
        """``work()`` on the thread, after the work of the same lane queued before it."""
        if self._stopped:
            raise RuntimeError(f"{self._name} is stopped")
        if self._thread is None:
            self._thread = threading.Thread(target=self._serve, name=self._name, daemon=True)
            self._thread.start()
        done: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        order = _FIRST if LANE.get() is Lane.DECISIONS else _THEN
        self._queue.put((order, next(self._arrival), work, done))
        return await done

    def stop(self) -> None:
        """Finish what is queued, then end the thread (waiting for it)."""
        self._stopped = True
        if self._thread is not None:
            self._queue.put((_LAST, next(self._arrival), None, None))
            self._thread.join()

    def _serve(self) -> None:
        while True:
            _, _, work, done = self._queue.get()
            if work is None or done is None:
                return
            try:
                result = work()
            except BaseException as error:  # (handed to the waiting task, as an executor does)
                _answer(done, _fail, error)
            else:
                _answer(done, _succeed, result)


def _answer(done: asyncio.Future[Any], how: Callable[[asyncio.Future[Any], Any], None], what: Any) -> None:
    """Settle ``done`` on its event loop; nothing when that loop is closed (nobody waits any more)."""
    with contextlib.suppress(RuntimeError):
        done.get_loop().call_soon_threadsafe(how, done, what)


def _succeed(done: asyncio.Future[Any], result: Any) -> None:
    if not done.done():  # the waiting task may have been cancelled meanwhile
        done.set_result(result)


def _fail(done: asyncio.Future[Any], error: BaseException) -> None:
    if not done.done():
        done.set_exception(error)
