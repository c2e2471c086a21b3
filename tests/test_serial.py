"""A store's work one piece at a time: a decision's at once on the event loop's thread (after the piece the thread is
running), a command's on the thread in its order, errors handed back, and what is queued finished at the end."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import pytest

from bot.calls import LANE, Lane
from bot.storage.serial import Serial


def noting(
    ran: list[str], name: str, after: threading.Event | None = None, started: threading.Event | None = None
) -> Callable[[], str]:
    """Work that says it ``started``, waits for ``after`` (each if given), then notes that it ran; the name of the
    thread it ran on."""

    def work() -> str:
        if started is not None:
            started.set()
        if after is not None:
            after.wait(5)
        ran.append(name)
        return threading.current_thread().name

    return work


def in_lane(lane: Lane, serial: Serial, work: Callable[[], str]) -> asyncio.Task[str]:
    async def run() -> str:
        LANE.set(lane)
        return await serial.run(work)

    return asyncio.create_task(run())


async def test_a_decision_runs_at_once_on_the_loops_thread_after_the_piece_running_and_before_those_queued() -> None:
    serial, busy, started, ran = Serial("test"), threading.Event(), threading.Event(), list[str]()
    running = in_lane(Lane.COMMANDS, serial, noting(ran, "running", after=busy, started=started))
    await asyncio.to_thread(started.wait, 5)
    queued = in_lane(Lane.COMMANDS, serial, noting(ran, "queued"))
    await asyncio.sleep(0.05)
    threading.Timer(0.05, busy.set).start()  # the decision, on this thread, waits for the running piece to end

    LANE.set(Lane.DECISIONS)
    assert await serial.run(noting(ran, "decision")) == threading.current_thread().name
    assert ran == ["running", "decision"]
    assert (await running).startswith("test") and (await queued).startswith("test")
    assert ran == ["running", "decision", "queued"]
    serial.stop()


async def test_an_error_reaches_the_caller_and_the_work_goes_on_in_both_lanes() -> None:
    serial = Serial("test")

    def fails() -> str:
        raise ValueError("no such table")

    for lane in Lane:
        LANE.set(lane)
        with pytest.raises(ValueError, match="no such table"):
            await serial.run(fails)
        assert await serial.run(lambda: "still here") == "still here"
    serial.stop()


async def test_a_caller_that_stops_waiting_leaves_the_work_to_finish_and_stop_waits_for_what_is_queued() -> None:
    serial, busy, ran = Serial("test"), threading.Event(), list[str]()
    first = asyncio.create_task(serial.run(noting(ran, "first", after=busy)))
    second = asyncio.create_task(serial.run(noting(ran, "second")))
    await asyncio.sleep(0.05)
    first.cancel()
    busy.set()
    await asyncio.sleep(0.05)
    serial.stop()

    assert ran == ["first", "second"]  # both ran before ``stop`` returned
    assert first.cancelled() and (await second).startswith("test")
    for lane in Lane:
        LANE.set(lane)
        with pytest.raises(RuntimeError, match="stopped"):
            await serial.run(lambda: None)
