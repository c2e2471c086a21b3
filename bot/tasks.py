"""BackgroundWork: the work that runs after Slack has been acknowledged; Upkeep: a loop of its own.

Tasks are tracked (nothing is fire-and-forget), run in one of two lanes
(``bot.calls``), each with its own workers and its own bound on pending work,
so that a burst of commands can neither pile up without bound nor delay a
decision. Everything is drained on shutdown. A failing task is logged, never
fatal.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from abc import ABC, abstractmethod
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, ClassVar

from . import calls, metrics
from .calls import Lane

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Limits:
    #: tasks of the lane running at once
    concurrency: int
    #: tasks of the lane started or waiting; more are refused
    max_pending: int


DEFAULT_LIMITS = {Lane.COMMANDS: Limits(64, 2000), Lane.DECISIONS: Limits(16, 500)}


class BackgroundWork:
    """Each PBX's decisions have workers of their own (``pbx`` of :meth:`spawn`), so that clicks waiting for a PBX
    slow to answer never take another PBX's turn. Commands have one set of workers whatever the PBXes, so that a
    burst of them never takes the event loop from the clicks. What may wait is bounded for each lane as a whole."""

    def __init__(self, limits: dict[Lane, Limits] | None = None) -> None:
        self._limits = {**DEFAULT_LIMITS, **(limits or {})}
        #: by lane and PBX, made at the PBX's first work
        self._slots: dict[tuple[Lane, str], asyncio.Semaphore] = {}
        self._pending = dict.fromkeys(self._limits, 0)
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    def spawn(self, work: Coroutine[Any, Any, None], *, name: str, lane: Lane = Lane.COMMANDS, pbx: str = "") -> bool:
        """Start ``work`` in ``lane``, with the workers of the PBX ``pbx``; False (and ``work`` is dropped) when
        shutting down or the lane is full."""
        if self._closed or self._pending[lane] >= self._limits[lane].max_pending:
            work.close()
            metrics.WORK_REFUSED.labels(lane.value).inc()
            log.warning(
                "background work refused", extra={"task": name, "lane": lane.value, "pending": len(self._tasks)}
            )
            return False
        self._pending[lane] += 1
        key = (lane, pbx if lane is Lane.DECISIONS else "")
        slots = self._slots.get(key)
        if slots is None:
            slots = self._slots[key] = asyncio.Semaphore(self._limits[lane].concurrency)
        task = asyncio.get_running_loop().create_task(self._run(work, name, lane, slots), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    @property
    def busy(self) -> bool:
        return bool(self._tasks)

    async def idle(self) -> None:
        """Wait until no task is running (tasks may start others; this waits for those too)."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))

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

    async def _run(self, work: Coroutine[Any, Any, None], name: str, lane: Lane, slots: asyncio.Semaphore) -> None:
        calls.LANE.set(lane)
        try:
            async with slots:
                await work
        except Exception:  # (a cancellation is no Exception: it goes on)
            log.exception("background work failed", extra={"task": name})
        finally:
            self._pending[lane] -= 1


class Upkeep(ABC):
    """A background loop of the process (the sweeper, the watcher): ``tick`` every ``every`` seconds, started
    once, cancelled on stop. While ticks fail with one of ``WAITS_FOR`` (what the work needs does not answer:
    3CX, the database), the work pauses with one log line, and says so again once when it resumes."""

    #: what the work is called in the log
    WHAT: ClassVar[str]
    #: the errors that mean "not now", not a fault of the work
    WAITS_FOR: ClassVar[tuple[type[Exception], ...]] = ()
    _task: asyncio.Task[None] | None = None
    _stopping: asyncio.Event
    _paused: bool = False

    @property
    @abstractmethod
    def every(self) -> float:
        """Seconds between the end of one tick and the start of the next."""

    @abstractmethod
    async def tick(self) -> None:
        """One round of the work."""

    def start(self) -> None:
        self._stopping = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._loop(), name=type(self).__name__)

    async def stop(self, timeout: float = 30.0) -> None:
        """Start no more rounds; let the one under way finish (for up to ``timeout`` seconds, then cancel it), so
        that what it changed is also shown."""
        task = self._task
        if task is None:
            return
        self._stopping.set()
        finished, _ = await asyncio.wait((task,), timeout=timeout)
        if not finished:
            task.cancel()
            await asyncio.wait((task,))
        self._task = None

    async def _loop(self) -> None:
        log = logging.getLogger(type(self).__module__)
        while not self._stopping.is_set():
            try:
                await self.tick()
            except self.WAITS_FOR as error:
                if not self._paused:
                    log.warning(f"{self.WHAT} pauses until what it needs answers", extra={"problem": str(error)})
                self._paused = True
            except Exception:
                log.exception(f"{self.WHAT} failed; will try again")
            else:
                if self._paused:
                    log.warning(f"{self.WHAT} resumes")
                self._paused = False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.every)
