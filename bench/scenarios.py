"""Sections 1, 2 and 4 of the benchmark, and what every section shares (sizes, the report's pieces).

Each scenario returns sections of the report: markdown lines, and the key figures for the machine-readable
summary (``python -m bench --json FILE``). Section 3 is in ``approvals.py``, section 5 in ``watching.py``, section 6
in ``provider.py``."""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from .load import CONNECTIONS, Body, Loader, Result, click_body, command_body, percentile
from .rig import THREECX_POOL, Rig, Server

APPROVE = "unblock_approve"
DENY = "unblock_deny"
#: a card must be posted this long after its command at most
CARD_DEADLINE = 2.0
ACK_P99_GOAL_MS = 50.0
#: the refused-argument ack against a minimal Bolt app with process_before_response=True, in requests per second
RATIO_GOAL = 0.8
#: the rate at which the refused-argument ack's p99 is measured in an open loop
REFUSED_RATE = 200
#: seconds the slow fake 3CX takes to answer
SLOW_PBX = 2.0
#: what the bot's card says while the DELETE runs, and when it failed (``ended`` in bot/slack/views/common.py)
EXECUTING_MARK = "; unblocking…"
FAILURE_MARK = "could not be unblocked"
#: closed-loop valid commands cycle through this many entries
ENTRY_POOL = 500


@dataclass(frozen=True)
class Sizes:
    """How long and how much: the default run and ``--smoke``."""

    duration: float
    #: section 1 runs its cases in turn, this many times, ``duration / rounds`` seconds each time
    rounds: int
    step: float
    #: after the slow-3CX open loop, how long to watch what becomes of the commands (more than SLOW_PBX, so
    #: that some cards can be posted)
    watch: float
    rates: tuple[int, ...]
    approvals: int
    footprint: int
    checkpoints: int
    startups: int
    #: 1b: how long after CARD_DEADLINE to go on counting the cards of a step (late ones are not in time,
    #: but are counted); the wait ends as soon as every card is there
    card_grace: float = 0.5
    #: 5: entries on the blocklist while the bot watches it
    blocklist: int = 10_000
    #: 5: new AutoBlacklist entries added before each poll after the first (more than watching.WATCH_BURST: a
    #: burst)
    watch_batches: tuple[int, ...] = (3, 3, 50, 3)
    #: 5: polls waited for after the last batch's, to see that nothing is announced twice
    quiet_polls: int = 1
    #: 3: commands sent while the last round of approvals is clicked
    burst: int = 300
    #: 3: approvals clicked one at a time
    single_clicks: int = 20
    #: 6: PBXes served by one process, of which the first ``slow_pbxes`` answer slowly in the burst
    pbxes: int = 100
    slow_pbxes: int = 10
    #: 6: UNBLOCK_WATCH_INTERVAL of the bots serving them
    fleet_interval: float = 60.0
    #: 6: requests spread over the PBXes, sent at this rate (below 1b's highest sustained one)
    fleet_requests: int = 10_000
    fleet_rate: float = 200.0
    #: 6: commands of the burst, and clicks on each quick PBX's cards during it
    fleet_burst: int = 300
    clicks_per_pbx: int = 2
    #: 6: entries on the big blocklist
    big_list: int = 400_000

    @classmethod
    def full(cls, duration: float) -> Sizes:
        rates = (25, 50, 100, 200, 400, 800, 1600, 3200)
        return cls(duration, 5, max(1.0, duration / 4), 15.0, rates, 200, 10_000, 5, 3)

    @classmethod
    def smoke(cls) -> Sizes:
        return cls(0.25, 1, 0.5, 6.0, (25,), 10, 200, 2, 1, card_grace=10.0, blocklist=200,
                   watch_batches=(3, 10), quiet_polls=0, burst=30, single_clicks=3, pbxes=4, slow_pbxes=1,
                   fleet_interval=5.0, fleet_requests=40, fleet_rate=100.0, fleet_burst=12, clicks_per_pbx=1,
                   big_list=20_000)  # fmt: skip


@dataclass
class Section:
    """One part of the report: its markdown and its key figures, under ``key`` in the JSON summary."""

    key: str
    lines: list[str]
    figures: dict[str, Any] = field(default_factory=dict)


def number(x: float, digits: int = 1) -> float | None:
    """A float for the JSON summary: rounded, None for NaN (JSON has no NaN)."""
    return None if math.isnan(x) else round(x, digits)


def result_figures(r: Result) -> dict[str, Any]:
    return {
        "answered": r.done,
        "errors": r.errors,
        "busy": r.busy,
        "req_per_s": number(r.rate),
        "p50_ms": number(r.percentile_ms(50)),
        "p99_ms": number(r.percentile_ms(99)),
    }


def is_executing(text: str) -> bool:
    return EXECUTING_MARK in text


def is_failure(text: str) -> bool:
    return FAILURE_MARK in text


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def mark(ok: bool) -> str:
    return "yes" if ok else "**NO**"


def row(*cells: object) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def result_row(name: str, r: Result, note: str = "") -> str:
    if r.failures:
        note += " (errors: " + ", ".join(f"{what} x{n}" for what, n in r.failures.most_common(3)) + ")"
    return row(name, f"{r.rate:.0f}", f"{r.percentile_ms(50):.1f}", f"{r.percentile_ms(99):.1f}", r.errors, note)


def invalid_command(rig: Rig) -> Body:
    return lambda _: command_body("abc", rig.response_url)


def entry_command(rig: Rig, first: int = 0, pool: int | None = None) -> Body:
    """Request ``i`` is ``/unblock <first + i>``, or ``<first + i % pool>`` with a pool of entries."""
    return lambda i: command_body(str(first + (i if pool is None else i % pool)), rig.response_url)


async def pooled_commands(rig: Rig, pool: int = ENTRY_POOL) -> Body:
    """``/unblock <id>`` over ``pool`` fresh entries, round and round."""
    return entry_command(rig, await rig.new_entries(pool), pool)


async def run_closed(
    server: Server, body: Body, duration: float, *, limit: int | None = None, connections: int = CONNECTIONS
) -> Result:
    """Closed loop for ``duration`` seconds or ``limit`` requests."""
    async with Loader(server.events, connections=connections) as loader:
        return await loader.closed_loop(body, duration=duration, limit=limit)


# -- 1. the ack path ---------------------------------------------------------------------


@dataclass
class Step:
    rate: int
    result: Result
    cards: int
    in_time: int
    card_p99: float

    @property
    def sustained(self) -> bool:
        sent = len(self.result.sent)
        ack_ok = self.result.errors == 0 and self.result.percentile_ms(99) < ACK_P99_GOAL_MS
        return ack_ok and self.cards == sent and self.in_time == sent

    def figures(self) -> dict[str, Any]:
        return {
            "rate": self.rate,
            "sent": len(self.result.sent),
            "errors": self.result.errors,
            "cards": self.cards,
            "cards_in_time": self.in_time,
            "sustained": self.sustained,
            "ack_p99_ms": number(self.result.percentile_ms(99)),
            "card_p99_ms": number(self.card_p99 * 1000),
        }


async def open_loop_step(rig: Rig, server: Server, rate: int, duration: float, grace: float) -> Step:
    count = max(1, round(rate * duration))
    first = await rig.new_entries(count)
    since = await rig.mark()
    async with Loader(server.events) as loader:
        result = await loader.open_loop(entry_command(rig), rate=rate, duration=duration, first=first)
    wait = max(0.0, max(result.sent.values()) + CARD_DEADLINE + grace - time.monotonic())
    cards = await rig.wait_for_cards(set(result.sent), since, wait)
    delays = [cards[e]["t"] - result.sent[e] for e in cards]
    in_time = sum(d <= CARD_DEADLINE for d in delays)
    return Step(rate, result, len(cards), in_time, percentile(delays, 99))


async def ack_path(rig: Rig, sizes: Sizes) -> tuple[list[Section], list[Step], Result]:
    d = sizes.duration
    await rig.reset_fakes()
    bot = await rig.start_bot()
    baselines = await asyncio.gather(*(rig.start_baseline(kind) for kind in ("bolt", "bolt-pbr", "bare")))
    servers = [bot, *baselines]
    # in turns, so that a noisy moment of the machine falls on every case alike
    results = [Result() for _ in servers]
    invalid = invalid_command(rig)
    for _ in range(sizes.rounds):
        for server, result in zip(servers, results, strict=True):
            result.add(await run_closed(server, invalid, d / sizes.rounds))
    for server in baselines:
        rig.stop(server)
    a, c, c_pbr, bare = results
    async with Loader(bot.events) as loader:
        refused = await loader.open_loop(invalid, rate=REFUSED_RATE, duration=d)

    since = await rig.mark()
    b = await run_closed(bot, await pooled_commands(rig), d)
    await asyncio.sleep(min(2.0, d))
    _, posted = await rig.messages(since)
    b_cards = sum(m["method"] == "chat.postMessage" for m in posted)
    rig.stop(bot)

    steps: list[Step] = []
    bot = await rig.start_bot()
    for rate in sizes.rates:
        step = await open_loop_step(rig, bot, rate, sizes.step, sizes.card_grace)
        steps.append(step)
        if not step.sustained:
            break
    rig.stop(bot)
    sustained = [s.rate for s in steps if s.sustained]
    best = max(sustained) if sustained else 0

    def ratio(x: Result, y: Result) -> float:
        return x.rate / y.rate if y.rate else float("nan")

    # like for like: the bot runs its listeners before the response, as Bolt does with pbr=True
    goal = ratio(a, c_pbr)
    lines = [
        "## 1. Ack path",
        "",
        f"Closed loop, 20 connections, {d:g} s per case; (a), (c), (c') and (d) in turns, {sizes.rounds} x "
        f"{d / sizes.rounds:g} s each. Latency is the HTTP answer (the ack) as the client saw it.",
        "",
        "| case | req/s | p50 ms | p99 ms | errors | notes |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
        result_row("(a) bot, `/unblock abc`", a, "parse, refuse, ack"),
        result_row(
            "(b) bot, `/unblock <id>`",
            b,
            f"{b.done - b.busy} taken on, {b.busy} acked as busy; "
            f"cards posted by {min(2.0, d):g} s after the end: {b_cards}",
        ),
        result_row("(c) minimal Bolt, defaults", c, "`process_before_response=False` (Bolt's default)"),
        result_row("(c') minimal Bolt, pbr=True", c_pbr, "`process_before_response=True`, as the bot"),
        result_row("(d) bare aiohttp", bare, "signature check, 200"),
        "",
        f"- bot (a) / minimal Bolt pbr=True (c'), like for like: **{goal:.2f}x** "
        f"(goal >= {RATIO_GOAL:g}x: {mark(goal >= RATIO_GOAL)})",
        f"- (a) in an open loop at {REFUSED_RATE} req/s: ack p99 **{refused.percentile_ms(99):.1f} ms**, "
        f"{refused.errors} errors (goal p99 < {ACK_P99_GOAL_MS:g} ms, no errors: "
        f"{mark(refused.errors == 0 and refused.percentile_ms(99) < ACK_P99_GOAL_MS)})",
        f"- bot (a) / minimal Bolt with its defaults (c): {ratio(a, c):.2f}x",
        f"- bot (a) / bare (d): {ratio(a, bare):.2f}x",
        f"- bot (b) / minimal Bolt (c): {ratio(b, c):.2f}x; bot (b) / bare (d): {ratio(b, bare):.2f}x",
        "",
    ]
    cases = {"a": a, "b": b, "c": c, "c_pbr": c_pbr, "d": bare}
    section1 = Section(
        "ack_path",
        lines,
        {
            "cases": {name: result_figures(r) for name, r in cases.items()},
            "b_taken_on": b.done - b.busy,
            "b_cards_posted": b_cards,
            "a_over_c_pbr": number(goal, 2),
            "a_open_loop_p99_ms": number(refused.percentile_ms(99)),
            "a_open_loop_errors": refused.errors,
            "a_over_c": number(ratio(a, c), 2),
        },
    )
    lines = [
        f"### 1b. Highest sustained rate for `/unblock <id>`: **{best} req/s**",
        "",
        f"Open loop, fixed arrival rate, {sizes.step:g} s per step, a new entry per command. Sustained: "
        f"no errors, ack p99 < {ACK_P99_GOAL_MS:g} ms, and every card posted (chat.postMessage seen by the fake "
        f"Slack) within {CARD_DEADLINE:g} s of its command. Ack latency counts from when a request was due; "
        "the send lag is how late the load generator itself was.",
        "",
        "| rate req/s | sent | ack p50 ms | ack p99 ms | errors | cards | cards <= 2 s | card p99 ms | sustained "
        "| max send lag ms |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |",
    ]
    for s in steps:
        r = s.result
        lines.append(row(s.rate, len(r.sent), f"{r.percentile_ms(50):.1f}", f"{r.percentile_ms(99):.1f}", r.errors,
                         s.cards, s.in_time, ms(s.card_p99), mark(s.sustained), ms(r.lag)))  # fmt: skip
    section1b = Section("sustained", [*lines, ""], {"best_rate": best, "steps": [s.figures() for s in steps]})
    return [section1, section1b], steps, b


# -- 2. the ack under a slow PBX -----------------------------------------------------------------


async def slow_pbx(rig: Rig, sizes: Sizes, fast_b: Result, steps: list[Step]) -> Section:
    d = sizes.duration
    sustained = [s for s in steps if s.sustained]
    reference = sustained[-1] if sustained else steps[0]
    await rig.reset_fakes(pbx_delay=SLOW_PBX)
    bot = await rig.start_bot()
    first = await rig.new_entries(round(reference.rate * sizes.step) + 1)
    async with Loader(bot.events) as loader:
        open_slow = await loader.open_loop(entry_command(rig), rate=reference.rate, duration=sizes.step, first=first)
    # what became of those commands: 3CX can answer THREECX_POOL lookups per SLOW_PBX seconds
    await asyncio.sleep(max(0.0, min(open_slow.sent.values()) + sizes.watch - time.monotonic()))
    pbx, slack = await rig.pbx.get("/stats"), await rig.slack.get("/stats")
    rig.stop(bot)
    capacity = int(sizes.watch / SLOW_PBX) * THREECX_POOL
    bot = await rig.start_bot()
    closed_slow = await run_closed(bot, await pooled_commands(rig), d)
    rig.stop(bot)
    await rig.pbx.post("/delay", {"seconds": 0})

    fast_p99 = reference.result.percentile_ms(99)
    slow_p99 = open_slow.percentile_ms(99)
    closed_fast_p99, closed_slow_p99 = fast_b.percentile_ms(99), closed_slow.percentile_ms(99)
    cards_posted = slack["calls"].get("chat.postMessage", 0)
    figures = {
        "rate": reference.rate,
        "open_loop": result_figures(open_slow),
        "open_loop_sent": len(open_slow.sent),
        "closed_loop": result_figures(closed_slow),
        "watch_s": sizes.watch,
        "cards_posted": cards_posted,
        "cards_possible": min(capacity, len(open_slow.sent)),
        "notes_to_requester": slack["response_posts"],
        "threecx_gets": pbx["gets"],
        "threecx_connections": pbx["connections"],
    }
    lines = [
        "## 2. Ack under a slow PBX",
        "",
        "`/unblock <id>` with the fake 3CX answering after 2 s, against the same load with a fast 3CX (section 1).",
        "",
        "| case | req/s | p50 ms | p99 ms | errors | notes |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
        result_row("(b) closed loop, 3CX fast", fast_b, "from 1"),
        result_row("(b) closed loop, 3CX 2 s", closed_slow, f"busy acks {closed_slow.busy}"),
        result_row(f"(b) open loop {reference.rate}/s, 3CX fast", reference.result, "from 1b"),
        result_row(f"(b) open loop {reference.rate}/s, 3CX 2 s", open_slow, f"busy acks {open_slow.busy}"),
        "",
        f"- open loop at {reference.rate} req/s: ack p99 {fast_p99:.1f} ms (fast 3CX) vs {slow_p99:.1f} ms (2 s 3CX); "
        f"unaffected (slow p99 < {ACK_P99_GOAL_MS:g} ms and < 2x the fast one): "
        f"{mark(slow_p99 < ACK_P99_GOAL_MS and slow_p99 < 2 * max(fast_p99, 1.0))}",
        f"- closed loop: ack p99 {closed_fast_p99:.1f} ms (fast 3CX) vs {closed_slow_p99:.1f} ms (2 s 3CX); "
        f"not worse (< 2x): {mark(closed_slow_p99 < 2 * max(closed_fast_p99, 1.0))}",
        "",
        f"After the acks: {sizes.watch:g} s after the first of the {len(open_slow.sent)} open-loop commands above "
        f"(3CX answering in {SLOW_PBX:g} s, the bot's default THREECX_TIMEOUT of 10 s):",
        "",
        "| what | count | expected |",
        "| --- | ---: | --- |",
        row("cards posted", cards_posted,
            f"{min(capacity, len(open_slow.sent))} (pool {THREECX_POOL} / {SLOW_PBX:g} s x {sizes.watch:g} s)"),
        row("notes to the requester (lookup failed)", slack["response_posts"], "0"),
        row("3CX GETs received", pbx["gets"], f"<= {capacity + THREECX_POOL}, one per lookup"),
        row("TCP connections opened to 3CX", pbx["connections"], f"<= {THREECX_POOL}"),
        "",
    ]  # fmt: skip
    return Section("slow_pbx", lines, figures)


# -- 4. footprint ---------------------------------------------------------------------------


def footprint_mix(rig: Rig, valid: Body, offset: int, index: int) -> str:
    """Half invalid commands, a quarter valid ones, a quarter clicks on a request the bot does not know."""
    i = offset + index
    if i % 4 == 0:
        return valid(i // 4)
    if i % 4 == 1:
        return click_body(DENY, "00000000deadbeef", rig.response_url)
    return command_body("abc", rig.response_url)


async def footprint(rig: Rig, sizes: Sizes) -> Section:
    await rig.reset_fakes()
    bot = await rig.start_bot()
    await asyncio.sleep(1.0)
    idle = bot.proc.rss_mb()
    valid = await pooled_commands(rig)
    chunk = sizes.footprint // sizes.checkpoints
    samples: list[tuple[int, float]] = [(0, idle)]
    sent = errors = busy = 0
    for _ in range(sizes.checkpoints):
        async with Loader(bot.events) as loader:
            r = await loader.closed_loop(partial(footprint_mix, rig, valid, sent), duration=120, limit=chunk)
        sent += r.done + r.errors
        errors += r.errors
        busy += r.busy
        samples.append((sent, bot.proc.rss_mb()))
    await asyncio.sleep(1.0)
    settled = bot.proc.rss_mb()
    rig.stop(bot)
    startup = await rig.startup_seconds(sizes.startups)

    peak = max(mb for _, mb in [*samples, (0, settled)])
    later = samples[2:] if len(samples) > 3 else samples[1:]
    growth = later[-1][1] - later[0][1]
    trend = " → ".join(f"{mb:.1f}" for _, mb in samples)
    figures = {
        "asked": sizes.footprint,
        "sent": sent,
        "errors": errors,
        "busy": busy,
        "rss_mb": [number(mb) for _, mb in samples],
        "rss_settled_mb": number(settled),
        "rss_growth_mb": number(growth),
        "startup_s": number(startup, 2),
    }
    lines = [
        "## 4. Footprint",
        "",
        f"{sent} requests ({errors} errors, {busy} acked as busy), closed loop, 20 connections: half "
        "`/unblock abc`, a quarter `/unblock <id>`, a quarter clicks on an unknown request. "
        "RSS is VmRSS of the bot process.",
        "",
        "| metric | value | goal |",
        "| --- | ---: | --- |",
        row("RSS idle MB", f"{idle:.1f}", ""),
        row(f"RSS after {', '.join(str(n) for n, _ in samples)} requests MB", trend, ""),
        row("RSS 1 s after the last request MB", f"{settled:.1f}", f"peak < 100: {mark(peak < 100)}"),
        row(f"RSS growth from {later[0][0]} to {later[-1][0]} requests MB", f"{growth:+.1f}",
            f"no trend (< 5 MB): {mark(growth < 5)}"),
        row(f"start-up to first /healthz 200 s (median of {sizes.startups})", f"{startup:.2f}", ""),
        "",
    ]  # fmt: skip
    return Section("footprint", lines, figures)
