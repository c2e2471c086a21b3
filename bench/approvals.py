"""Section 3: approvals, measured where the bot's own work ends: the DELETE that reaches 3CX.

The final card update is not the measure of an approval: each channel's updates go out through one queue,
one at a time, so against real Slack they are bound by Slack's rate limits, not by the bot. What the bot
controls is how soon a click becomes a DELETE at 3CX, and how close the DELETEs come to what its decisions'
connections to 3CX allow. The updates are counted too: every one must be delivered, none lost.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
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
#: clicks in flight at once
IN_FLIGHT = 50
#: DELETEs per second the decisions' connections allow at most: each carries one request per PBX_DELAY
POOL_LIMIT = DECISION_POOL / PBX_DELAY
#: the share of POOL_LIMIT the bot should reach
POOL_GOAL = 0.9


@dataclass
class Round:
    """One round: ``n`` requests made, then approved by ``n`` clicks (during a burst of commands or not)."""

    n: int
    created: Result
    cards: int
    clicked: Result
    #: entry -> seconds from its click to the DELETE arriving at 3CX
    to_delete: dict[int, float]
    #: the DELETE paths 3CX received in this round, and whether they are exactly the entries'
    deletes: list[str]
    exact: bool
    #: DELETEs per second while they flowed (first to last arrival)
    delete_rate: float
    #: entries whose final card update (not "Unblocking…") the fake Slack received, and how many said failure
    updated: int
    failed: int
    #: seconds from the first click to the last final update (bound by the channel's Slack queue)
    updates_span: float
    #: the burst of commands sent during the clicks, if any
    burst: Result | None = None

    def figures(self) -> dict[str, Any]:
        found = {
            "asked": self.n,
            "created": self.created.done,
            "create_errors": self.created.errors,
            "cards": self.cards,
            "clicks": self.clicked.done,
            "click_errors": self.clicked.errors,
            "deletes": len(self.deletes),
            "distinct_deletes": len(set(self.deletes)),
            "deletes_are_the_entries": self.exact,
            "click_to_delete_measured": len(self.to_delete),
            "click_to_delete_p50_ms": number(percentile(list(self.to_delete.values()), 50) * 1000),
            "click_to_delete_p99_ms": number(percentile(list(self.to_delete.values()), 99) * 1000),
            "deletes_per_s": number(self.delete_rate),
            "updates_delivered": self.updated,
            "failed": self.failed,
        }
        if self.burst is not None:
            found |= {"burst_sent": self.burst.done + self.burst.errors, "burst_answered": self.burst.done,
                      "burst_errors": self.burst.errors}  # fmt: skip
        return found


async def approval_round(rig: Rig, bot: Server, n: int, burst: int = 0) -> Round:
    first = await rig.new_entries(n)
    entries = set(range(first, first + n))
    since = await rig.mark()
    created = await run_closed(bot, entry_command(rig, first), duration=120, limit=n)
    cards = await rig.wait_for_cards(entries, since, timeout=min(30, 5 + n / 10))
    carded = sorted(cards)
    requests = [cards[e]["request"] for e in carded]
    since = await rig.mark()
    pbx_since = await rig.pbx_mark()

    def clicks(i: int) -> str:
        return click_body(APPROVE, requests[i], rig.response_url)

    burst_result: Result | None = None
    if burst:
        burst_first = await rig.new_entries(burst)
        # the burst's commands are taken on first; the clicks come while their lookups are still running
        burst_task = asyncio.ensure_future(
            run_closed(bot, entry_command(rig, burst_first), duration=120, limit=burst, connections=IN_FLIGHT)
        )
        await asyncio.sleep(0)
        clicked = await run_closed(bot, clicks, duration=120, limit=len(requests), connections=IN_FLIGHT)
        burst_result = await burst_task
    else:
        clicked = await run_closed(bot, clicks, duration=120, limit=len(requests), connections=IN_FLIGHT)
    clicked_at = {carded[i]: t for i, t in clicked.sent.items()}

    finished, failed = await _final_updates(rig, since, clicked_at, timeout=min(60, 5 + n / 4))
    _, arrived = await rig.pbx_requests(pbx_since)
    delete_times = {r["path"]: r["received"] for r in arrived if r["method"] == "DELETE"}
    deletes = [r["path"] for r in arrived if r["method"] == "DELETE"]
    path_of = {e: f"/xapi/v1/Blocklist({e})" for e in entries}
    to_delete = {e: delete_times[path_of[e]] - t for e, t in clicked_at.items() if path_of[e] in delete_times}
    times = sorted(delete_times.values())
    rate = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else float("nan")
    span = max(finished.values()) - min(clicked_at.values()) if finished else float("nan")
    exact = len(deletes) == n and set(deletes) == set(path_of.values())
    return Round(n, created, len(cards), clicked, to_delete, deletes, exact, rate, len(finished), failed, span,
                 burst_result)  # fmt: skip


async def _final_updates(
    rig: Rig, since: int, clicked_at: dict[int, float], timeout: float
) -> tuple[dict[int, float], int]:
    """For each clicked entry, when the fake Slack received its card's final update; and how many failed."""
    finished: dict[int, float] = {}
    failed = 0
    deadline = time.monotonic() + timeout
    while len(finished) < len(clicked_at) and time.monotonic() < deadline:
        since, messages = await rig.messages(since)
        for m in messages:
            e = m["entry"]
            if m["method"] == "chat.update" and e in clicked_at and e not in finished and not is_executing(m["text"]):
                finished[e] = m["t"]
                failed += is_failure(m["text"])
        await asyncio.sleep(0.05)
    return finished, failed


async def approvals(rig: Rig, sizes: Sizes) -> Section:
    n = sizes.approvals
    await rig.reset_fakes(pbx_delay=PBX_DELAY)
    bot = await rig.start_bot()
    quiet = await approval_round(rig, bot, n)
    busy = await approval_round(rig, bot, n, burst=sizes.burst)
    pbx = await rig.pbx.get("/stats")
    rig.stop(bot)
    await rig.pbx.post("/delay", {"seconds": 0})

    share = quiet.delete_rate / POOL_LIMIT
    figures = {
        "asked": n,
        "quiet": quiet.figures(),
        "during_burst": busy.figures(),
        "pool_limit_per_s": number(POOL_LIMIT),
        "deletes_share_of_pool_limit": number(share, 2),
        "token_requests": pbx["token_requests"],
        "threecx_connections": pbx["connections"],
    }

    def p(r: Round, q: float) -> str:
        return ms(percentile(list(r.to_delete.values()), q))

    def updates(r: Round) -> str:
        return f"{r.updated}/{r.n} ({r.failed} failed)"

    lines = [
        "## 3. Approvals",
        "",
        f"{n} requests made, then approved by an approver who is not the requester, {IN_FLIGHT} clicks in flight; "
        f"then the same again while a burst of {sizes.burst} `/unblock <id>` commands is taken on. The fake 3CX "
        f"answers in {PBX_DELAY * 1000:g} ms. *Click to DELETE* is from the click being sent to the DELETE arriving "
        f"at the fake 3CX. The bot keeps {DECISION_POOL} connections to 3CX for decisions, so "
        f"{POOL_LIMIT:g} DELETEs per second is the most they can carry. Outcome updates go out through the "
        "channel's Slack queue one at a time, as Slack's rate limits require; they are counted, not timed.",
        "",
        "| metric | quiet | during the burst | goal |",
        "| --- | ---: | ---: | --- |",
        row("click to DELETE p50 ms", p(quiet, 50), p(busy, 50), ""),
        row("click to DELETE p99 ms", p(quiet, 99), p(busy, 99), ""),
        row("clicks measured", f"{len(quiet.to_delete)}/{n}", f"{len(busy.to_delete)}/{n}", f"{n}"),
        row("click ack p50 / p99 ms", f"{quiet.clicked.percentile_ms(50):.1f} / {quiet.clicked.percentile_ms(99):.1f}",
            f"{busy.clicked.percentile_ms(50):.1f} / {busy.clicked.percentile_ms(99):.1f}", ""),
        row("DELETEs per second", f"{quiet.delete_rate:.1f}", f"{busy.delete_rate:.1f}",
            f"quiet >= {POOL_GOAL:.0%} of {POOL_LIMIT:g}: {share:.0%} {mark(share >= POOL_GOAL)}"),
        row("DELETEs (one per entry)", f"{len(quiet.deletes)} ({len(set(quiet.deletes))} distinct)",
            f"{len(busy.deletes)} ({len(set(busy.deletes))} distinct)",
            f"exactly the entries: {mark(quiet.exact and busy.exact)}"),
        row("outcome updates delivered", updates(quiet), updates(busy),
            f"all: {mark(quiet.updated == busy.updated == n and not quiet.failed + busy.failed)}"),
        row("first click to last outcome update s", f"{quiet.updates_span:.1f}", f"{busy.updates_span:.1f}",
            "Slack's queue"),
        row("burst commands answered", "-", f"{busy.burst.done if busy.burst else 0}/{sizes.burst}", ""),
        row("3CX token requests (both rounds)", pbx["token_requests"], "", f"1: {mark(pbx['token_requests'] == 1)}"),
        "",
    ]  # fmt: skip
    return Section("approvals", lines, figures)
