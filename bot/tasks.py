"""BackgroundWork: the work that runs after Slack has been acknowledged.

Tasks are tracked (nothing is fire-and-forget), run at most ``concurrency``
at a time, refused beyond ``max_pending`` so a burst cannot pile up without
bound, and drained on shutdown. A failing task is logged, never fatal.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger(__name__)


class BackgroundWork:
    def __init__(self, *, concurrency: int = 64, max_pending: int = 2000) -> None:
        self._slots = asyncio.Semaphore(concurrency)
        self._max_pending = max_pending
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False
        self._idle = asyncio.Event()
        self._idle.set()

    def spawn(self, work: Coroutine[Any, Any, None], *, name: str) -> bool:
        """Start ``work``; False (and ``work`` is dropped) when shutting down or too much is pending."""
        if self._closed or len(self._tasks) >= self._max_pending:
            work.close()
            log.warning("background work refused", extra={"task": name, "pending": len(self._tasks)})
            return False
        task = asyncio.get_running_loop().create_task(self._run(work, name), name=name)
        self._tasks.add(task)
        self._idle.clear()
        task.add_done_callback(self._done)
        return True

    async def idle(self) -> None:
        """Wait until no task is running (tasks may start others; this waits for those too)."""
        while self._tasks:
            await self._idle.wait()

    async def drain(self, timeout: float = 30.0) -> None:
        """Refuse new work and wait up to ``timeout`` seconds for what is running; cancel the rest."""
        self._closed = True
        if not self._tasks:
            return
        log.info("waiting for background work to finish", extra={"pending": len(self._tasks)})
        _, late = await asyncio.wait(set(self._tasks), timeout=timeout)
        for task in late:
            log.error("background work still running at shutdown; cancelling", extra={"task": task.get_name()})
            task.cancel()
        if late:
            await asyncio.wait(late)

    async def _run(self, work: Coroutine[Any, Any, None], name: str) -> None:
        async with self._slots:
            try:
                await work
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("background work failed", extra={"task": name})

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not self._tasks:
            self._idle.set()
