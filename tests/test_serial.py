"""The SQLite store's one thread: a decision's work before a command's, each lane in its order, errors handed
back, and what is queued finished at the end."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import pytest

from bot.calls import LANE, Lane
from bot.storage.serial import SerialThread


def noting(ran: list[str], name: str, after: threading.Event | None = None) -> Callable[[], str]:
    """Work that waits for ``after`` (if any), then notes that it ran."""

    def work() -> str:
        if after is not None:
            after.wait(5)
        ran.append(name)
        return name

    return work


def in_lane(lane: Lane, thread: SerialThread, work: Callable[[], str]) -> asyncio.Task[str]:
    async def run() -> str:
        LANE.set(lane)
        return await thread.run(work)

    return asyncio.create_task(run())


async def test_queued_decisions_run_before_queued_commands_and_each_lane_in_its_order() -> None:
    thread, busy, ran = SerialThread("test"), threading.Event(), list[str]()
    blocker = in_lane(Lane.COMMANDS, thread, noting([], "blocker", after=busy))
    await asyncio.sleep(0.05)  # the thread is busy with it
    tasks = [
        in_lane(lane, thread, noting(ran, name))
        for lane, name in [
            (Lane.COMMANDS, "command 1"),
            (Lane.DECISIONS, "decision 1"),
            (Lane.COMMANDS, "command 2"),
            (Lane.DECISIONS, "decision 2"),
        ]
    ]
    await asyncio.sleep(0.05)
    busy.set()

    assert await asyncio.gather(blocker, *tasks) == ["blocker", "command 1", "decision 1", "command 2", "decision 2"]
    assert ran == ["decision 1", "decision 2", "command 1", "command 2"]
    thread.stop()


async def test_an_error_reaches_the_caller_and_the_thread_goes_on() -> None:
    thread = SerialThread("test")

    def fails() -> str:
        raise ValueError("no such table")

    with pytest.raises(ValueError, match="no such table"):
        await thread.run(fails)
    assert await thread.run(lambda: "still here") == "still here"
    thread.stop()


async def test_a_caller_that_stops_waiting_leaves_the_work_to_finish_and_stop_waits_for_what_is_queued() -> None:
    thread, busy, ran = SerialThread("test"), threading.Event(), list[str]()
    first = asyncio.create_task(thread.run(noting(ran, "first", after=busy)))
    second = asyncio.create_task(thread.run(noting(ran, "second")))
    await asyncio.sleep(0.05)
    first.cancel()
    busy.set()
    await asyncio.sleep(0.05)
    thread.stop()

    assert ran == ["first", "second"] and first.cancelled() and second.done()
    with pytest.raises(RuntimeError, match="stopped"):
        await thread.run(lambda: None)
