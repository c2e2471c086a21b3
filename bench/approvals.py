"""Section 3: approvals, measured where the bot's own work ends: the DELETE that reaches 3CX.

The final card update is not the measure of an approval: each channel's updates go out through one queue,
one at a time, so against real Slack they are bound by Slack's rate limits, not by the bot. What the bot
controls is how soon a click becomes a DELETE at 3CX, and how close the DELETEs come to what its decisions'
connections to 3CX allow. The updates are counted too: every one must be delivered, none lost.

Clicks go out in waves: a wave's clicks are sent at once, and the next wave when 3CX has received every
DELETE of this one, so that at most a wave's worth of approvals is in flight.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from .load import Result, click_body, percentile
from .rig import DECISION_POOL, Rig, Server
from .scenarios import (
    APPROVE,
    Section,
    Sizes,
    entry_command,
    is_executing,
    is_failure,
    mark,
    ms,
    number,
    row,
    run_closed,  # fmt: skip
)

#: seconds the fake 3CX takes to answer in this section
PBX_DELAY = 0.05
#: approvals in flight at once
IN_FLIGHT = 50
#: DELETEs per second the decisions' connections allow at most: each carries one request per PBX_DELAY
POOL_LIMIT = DECISION_POOL / PBX_DELAY
#: the share of POOL_LIMIT the bot should reach
POOL_GOAL = 0.9
#: how long a wave's DELETEs may take to arrive
WAVE_TIMEOUT = 30.0


@dataclass
class Round:
    """One round: ``n`` requests made, then approved in waves of ``wave`` clicks (during a burst of commands
    or not)."""

    n: int
    wave: int
    created: Result
    cards: int
    clicked: Result = field(default_factory=Result)
    #: entry -> seconds from its click to its DELETE arriving at 3CX
    to_delete: dict[int, float] = field(default_factory=dict)
    #: the DELETE paths 3CX received in this round, and whether they are exactly the entries'
    deletes: list[str] = field(default_factory=list)
    exact: bool = False
    #: DELETEs per second while they flowed (within each wave, first to last arrival)
    delete_rate: float = float("nan")
    #: entries whose final card update (not "…unblocking…") the fake Slack received, and how many said failure
    updated: int = 0
    failed: int = 0
    #: the burst of commands sent during the clicks, if any
    burst: Result | None = None

    def p(self, q: float) -> float:
        return percentile(list(self.to_delete.values()), q)

    def figures(self) -> dict[str, Any]:
        found = {
            "asked": self.n,
            "wave": self.wave,
            "created": self.created.done,
            "create_errors": self.created.errors,
            "cards": self.cards,
            "clicks": self.clicked.done,
            "click_errors": self.clicked.errors,
            "deletes": len(self.deletes),
            "distinct_deletes": len(set(self.deletes)),
            "deletes_are_the_entries": self.exact,
            "click_to_delete_measured": len(self.to_delete),
            "click_to_delete_p50_ms": number(self.p(50) * 1000),
            "click_to_delete_p99_ms": number(self.p(99) * 1000),
            "deletes_per_s": number(self.delete_rate),
            "updates_delivered": self.updated,
            "failed": self.failed,
        }
        if self.burst is not None:
            found |= {"burst_sent": self.burst.done + self.burst.errors, "burst_answered": self.burst.done,
                      "burst_errors": self.burst.errors}  # fmt: skip
        return found


async def approval_round(rig: Rig, bot: Server, n: int, wave: int, burst: int = 0) -> Round:
    first = await rig.new_entries(n)
    entries = set(range(first, first + n))
    since = await rig.mark()
    created = await run_closed(bot, entry_command(rig, first), duration=120, limit=n)
    cards = await rig.wait_for_cards(entries, since, timeout=min(30, 5 + n / 10))
    found = Round(n, wave, created, len(cards))
    carded = sorted(cards)
    since = await rig.mark()

    burst_task = None
    if burst:
        burst_first = await rig.new_entries(burst)
        # the burst's commands are taken on first; the clicks come while their lookups are still running
        burst_task = asyncio.ensure_future(
            run_closed(bot, entry_command(rig, burst_first), duration=120, limit=burst, connections=IN_FLIGHT)
        )
        await asyncio.sleep(0)
    clicked_at: dict[int, float] = {}
    flowed, spans = 0, 0.0
    round_start = await rig.pbx_mark()
    for start in range(0, len(carded), wave):
        batch = carded[start : start + wave]
        pbx_since = await rig.pbx_mark()

        def click(i: int, batch: list[int] = batch) -> str:
            return click_body(APPROVE, cards[batch[i]]["request"], rig.response_url)

        result = await run_closed(bot, click, duration=120, limit=len(batch), connections=len(batch))
        found.clicked.add(result)
        clicked_at |= {batch[i]: t for i, t in result.sent.items()}
        arrived = await _deletes(rig, pbx_since, len(batch))
        for entry in batch:
            path = f"/xapi/v1/Blocklist({entry})"
            if path in arrived and entry in clicked_at:
                found.to_delete[entry] = arrived[path] - clicked_at[entry]
        times = sorted(arrived.values())
        if len(times) > 1:
            flowed, spans = flowed + len(times) - 1, spans + times[-1] - times[0]
    if burst_task is not None:
        found.burst = await burst_task

    found.updated, found.failed = await _final_updates(rig, since, clicked_at, timeout=min(60, 5 + n / 4))
    found.delete_rate = flowed / spans if spans > 0 else float("nan")
    # read once more when every wave is done and the updates are in: a second DELETE of an entry counts too
    _, received = await rig.pbx_requests(round_start)
    found.deletes, found.exact = deletes_of(received, entries)
    return found


def deletes_of(requests: list[dict[str, Any]], entries: set[int]) -> tuple[list[str], bool]:
    """Every DELETE path among ``requests`` as 3CX received them (a repeated one each time), and whether they
    are exactly one for each of ``entries``."""
    deletes = [r["path"] for r in requests if r["method"] == "DELETE"]
    expected = {f"/xapi/v1/Blocklist({e})" for e in entries}
    return deletes, len(deletes) == len(expected) and set(deletes) == expected


async def _deletes(rig: Rig, since: int, count: int) -> dict[str, float]:
    """The entries' paths 3CX receives a DELETE for from index ``since`` on, each with when its first DELETE
    arrived, once there are ``count`` of them."""
    arrived: dict[str, float] = {}
    deadline = time.monotonic() + WAVE_TIMEOUT
    while len(arrived) < count and time.monotonic() < deadline:
        since, requests = await rig.pbx_requests(since)
        for r in requests:
            if r["method"] == "DELETE":
                arrived.setdefault(r["path"], r["received"])
        if len(arrived) < count:
            await asyncio.sleep(0.01)
    return arrived


def deletes_row(rounds: dict[str, Round]) -> str:
    """The report's row of DELETEs: how many each round's entries got, how many distinct, and whether they were
    exactly one per entry in every round."""
    counts = [f"{len(r.deletes)} ({len(set(r.deletes))} distinct)" for r in rounds.values()]
    return row(
        "DELETEs (one per entry)", *counts, f"exactly the entries: {mark(all(r.exact for r in rounds.values()))}"
    )


async def _final_updates(rig: Rig, since: int, clicked_at: dict[int, float], timeout: float) -> tuple[int, int]:
    """How many clicked entries' cards got their final update at the fake Slack, and how many said failure."""
    finished: set[int] = set()
    failed = 0
    deadline = time.monotonic() + timeout
    while len(finished) < len(clicked_at) and time.monotonic() < deadline:
        since, messages = await rig.messages(since)
        for m in messages:
            e = m["entry"]
            if m["method"] == "chat.update" and e in clicked_at and e not in finished and not is_executing(m["text"]):
                finished.add(e)
                failed += is_failure(m["text"])
        await asyncio.sleep(0.05)
    return len(finished), failed


async def approvals(rig: Rig, sizes: Sizes) -> Section:
    n = sizes.approvals
    await rig.reset_fakes(pbx_delay=PBX_DELAY)
    bot = await rig.start_bot()
    single = await approval_round(rig, bot, sizes.single_clicks, wave=1)
    quiet = await approval_round(rig, bot, n, wave=IN_FLIGHT)
    busy = await approval_round(rig, bot, n, wave=IN_FLIGHT, burst=sizes.burst)
    pbx = await rig.pbx.get("/stats")
    rig.stop(bot)
    await rig.pbx.post("/delay", {"seconds": 0})

    rounds = {"one_at_a_time": single, "in_flight": quiet, "during_burst": busy}
    share = quiet.delete_rate / POOL_LIMIT
    figures = {
        **{name: r.figures() for name, r in rounds.items()},
        "pool_limit_per_s": number(POOL_LIMIT),
        "deletes_share_of_pool_limit": number(share, 2),
        "token_requests": pbx["token_requests"],
        "threecx_connections": pbx["connections"],
    }
    waiting = (IN_FLIGHT - 1) / 2 / POOL_LIMIT  # a wave's median click waits for half the wave's DELETEs before it
    all_updated = all(r.updated == r.n and not r.failed for r in rounds.values())

    def cells(value: Any) -> list[str]:
        return [value(r) for r in rounds.values()]

    lines = [
        "## 3. Approvals",
        "",
        f"Approve clicks by an approver who is not the requester, on cards made just before: {single.n} one at a "
        f"time; {n} in waves of {IN_FLIGHT} (a wave's clicks at once, the next wave once 3CX has every DELETE of "
        f"this one); and {n} in such waves while a burst of {sizes.burst} `/unblock <id>` commands is taken on. "
        f"The fake 3CX answers in {PBX_DELAY * 1000:g} ms. *Click to DELETE* is from the click being sent to the "
        f"DELETE arriving at the fake 3CX. The bot keeps {DECISION_POOL} connections to 3CX for decisions, so "
        f"{POOL_LIMIT:g} DELETEs a second is the most they can carry, and with {IN_FLIGHT} clicks at once the "
        f"median click waits about {waiting * 1000:.0f} ms for a connection. Outcome updates go out through the "
        "channel's Slack queue one at a time, as Slack's rate limits require; they are counted, not timed.",
        "",
        f"| metric | one at a time | {IN_FLIGHT} in flight | {IN_FLIGHT} in flight, during the burst | goal |",
        "| --- | ---: | ---: | ---: | --- |",
        row("click to DELETE p50 ms", *cells(lambda r: ms(r.p(50))), ""),
        row("click to DELETE p99 ms", *cells(lambda r: ms(r.p(99))), ""),
        row("clicks measured", *cells(lambda r: f"{len(r.to_delete)}/{r.n}"), "all"),
        row("click ack p50 / p99 ms",
            *cells(lambda r: f"{r.clicked.percentile_ms(50):.1f} / {r.clicked.percentile_ms(99):.1f}"), ""),
        row("DELETEs per second", "-", f"{quiet.delete_rate:.1f}", f"{busy.delete_rate:.1f}",
            f">= {POOL_GOAL:.0%} of {POOL_LIMIT:g}: {share:.0%} {mark(share >= POOL_GOAL)}"),
        deletes_row(rounds),
        row("outcome updates delivered", *cells(lambda r: f"{r.updated}/{r.n} ({r.failed} failed)"),
            f"all: {mark(all_updated)}"),
        row("burst commands answered", "-", "-", f"{busy.burst.done if busy.burst else 0}/{sizes.burst}", ""),
        row("3CX token requests (all rounds)", pbx["token_requests"], "", "", f"1: {mark(pbx['token_requests'] == 1)}"),
        "",
    ]  # fmt: skip
    return Section("approvals", lines, figures)
