"""Section 6, goals 1 to 3: one bot process serving many PBXes, each a fake 3CX of its own (``bench.fleet``).

- ``serve_many`` (goals 1 and 2): one bot serves them all, each PBX watched in a channel of its own, while
  requests spread over them are opened; what every PBX's fake recorded, and the bot's memory before and after;
- ``clicks_beside_slow_pbxes`` (goal 3): Approve clicks on the quick PBXes' cards during a burst of commands
  spread over them all, while some PBXes take 20 s to answer.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from .approvals import deletes_of
from .fleet import FleetFakes, Tape
from .load import Body, Loader, Result, click_body, command_body
from .rig import Rig
from .scenarios import APPROVE, Sizes, run_closed
from .served import LIST_PATH, name, spawn_bot, wait_looks, write_pbxes

#: how long the slow PBXes take to answer, and the click-to-DELETE goal on the quick ones
SLOW_ANSWER = 20.0
CLICK_GOAL_MS = 100.0
MEMORY_GOAL_MB = 150.0
REQUESTS_PER_LOOK_GOAL = 2
#: seconds over which the burst and the clicks are sent, together
BURST_SPAN = 2.0
#: the watch channels of the PBXes (and their number)
WATCH = "CWA"
#: looks waited for at every PBX: the first, one that announces a new block, one that checks it is still listed
LOOKS = 3


# -- goals 1 and 2: many PBXes watched, many requests ------------------------------------------------------------


@dataclass
class Many:
    """What serving the PBXes gave: every PBX's records, the requests, the bot's memory."""

    pbxes: int
    interval: float
    records: list[list[dict[str, Any]]]
    startup_s: float
    asked: int
    sent: Result
    cards: int
    rss_mb: list[tuple[int, float]]
    announced: int


async def serve_many(rig: Rig, sizes: Sizes, fakes: FleetFakes) -> Many:
    n, per = sizes.pbxes, sizes.fleet_requests // sizes.pbxes
    first = rig.take_ids(n * per)
    await asyncio.gather(*(fakes.add(i, first + i * per, per) for i in range(n)))
    tape = Tape(fakes, n)
    bot = spawn_bot(
        rig, "bot-fleet", fakes, write_pbxes(rig.tmp / "pbxes-fleet.toml", fakes, n, WATCH), sizes.fleet_interval, None
    )
    startup = await bot.proc.wait_http(f"{bot.url}/healthz", timeout=60)
    await wait_looks(tape, 1, 30)
    await asyncio.sleep(1.0)
    samples = [(0, bot.proc.rss_mb())]
    news = rig.take_ids(n)  # one new block for each PBX, announced by its next look
    await asyncio.gather(*(fakes.add(i, news + i, 1) for i in range(n)))
    slack_since = await rig.mark()

    def body(k: int) -> str:
        return command_body(f"{name(k % n)} {first + (k % n) * per + k // n}", rig.response_url)

    # in parts of half a fifth, each sent once the last one's cards are in: far below the bot's bound on pending
    # work, so that every command is taken on (an answer "very busy" opens no request)
    parts, sent = 2 * sizes.checkpoints, Result()
    cards: dict[int, dict[str, Any]] = {}
    chunk = n * per // parts
    async with Loader(bot.events) as loader:
        for part in range(parts):
            since = await rig.mark()
            done = await loader.open_loop(
                body, rate=sizes.fleet_rate, duration=chunk / sizes.fleet_rate, first=part * chunk
            )
            sent.add(done)
            sent.sent |= done.sent
            entries = {first + (k % n) * per + k // n for k in done.sent}
            cards |= await rig.wait_for_cards(entries, since, timeout=60)
            if part % 2:
                samples.append(((part + 1) * chunk, bot.proc.rss_mb()))
    await asyncio.sleep(1.0)
    samples.append((len(sent.sent), bot.proc.rss_mb()))
    await wait_looks(tape, LOOKS, (LOOKS - 1) * sizes.fleet_interval + 30)
    _, messages = await rig.messages(slack_since)
    announced = sum(m["method"] == "chat.postMessage" and str(m["channel"]).startswith(WATCH) for m in messages)
    rig.stop(bot)
    await tape.read()
    return Many(n, sizes.fleet_interval, tape.records, startup, n * per, sent, len(cards), samples, announced)


# -- goal 3: clicks beside slow PBXes -------------------------------------------------------------------------


@dataclass
class Clicks:
    """Approve clicks on the quick PBXes' cards, during a burst of commands to every PBX."""

    quick: int
    slow: int
    cards: int
    made: Result
    clicked: Result
    to_delete: list[float]
    deletes: int
    exact: bool
    burst: Result
    #: requests the slow PBXes had received, and answered, when the last click's DELETE arrived
    slow_received: int
    slow_answered: int


async def clicks_beside_slow_pbxes(rig: Rig, sizes: Sizes, fakes: FleetFakes) -> Clicks:
    n, slow, k = sizes.pbxes, sizes.slow_pbxes, sizes.clicks_per_pbx
    quick = list(range(slow, n))
    tape = Tape(fakes, n)
    await tape.skip()
    bot = spawn_bot(rig, "bot-fleet-clicks", fakes, rig.tmp / "pbxes-fleet.toml", sizes.fleet_interval, None)
    await bot.proc.wait_http(f"{bot.url}/healthz", timeout=60)
    first = rig.take_ids(len(quick) * k)
    owner = {first + j: quick[j % len(quick)] for j in range(len(quick) * k)}
    await asyncio.gather(*(fakes.add(i, e, 1) for e, i in owner.items()))
    since = await rig.mark()
    ordered = sorted(owner)
    made = await run_closed(
        bot,
        lambda j: command_body(f"{name(owner[ordered[j]])} {ordered[j]}", rig.response_url),
        duration=120,
        limit=len(ordered),
    )
    cards = await rig.wait_for_cards(set(owner), since, timeout=60)
    per = sizes.fleet_burst // n
    burst_first = rig.take_ids(n * per)
    await asyncio.gather(*(fakes.add(i, burst_first + i * per, per) for i in range(n)))
    await fakes.post("/delay", {"pbxes": list(range(slow)), "seconds": SLOW_ANSWER})
    before = (await fakes.get("/stats"))["pbxes"]
    await tape.read()

    def command(j: int) -> str:
        return command_body(f"{name(j % n)} {burst_first + (j % n) * per + j // n}", rig.response_url)

    carded = [e for e in ordered if e in cards]

    def click(j: int) -> str:
        return click_body(APPROVE, cards[carded[j]]["request"], rig.response_url)

    async def paced(body: Body, count: int) -> Result:
        """``count`` requests at an even pace over BURST_SPAN seconds."""
        return await loader.open_loop(body, rate=count / BURST_SPAN, duration=BURST_SPAN) if count else Result()

    async with Loader(bot.events, connections=50) as loader:
        burst, clicked = await asyncio.gather(paced(command, n * per), paced(click, len(carded)))
    arrived = await _deletes(tape, {e: owner[e] for e in carded}, timeout=30)
    after = (await fakes.get("/stats"))["pbxes"]
    await fakes.post("/delay", {"pbxes": list(range(slow)), "seconds": 0})
    await tape.read()  # every DELETE the quick PBXes received, a second one for an entry too
    rig.stop(bot)
    to_delete = [arrived[carded[j]] - t for j, t in clicked.sent.items() if carded[j] in arrived]
    received = [r for i in quick for r in tape.records[i]]
    deletes, exact = deletes_of(received, set(carded))
    slowed = list(zip(after[:slow], before[:slow], strict=True))
    slow_received = sum(a["received"] - b["received"] for a, b in slowed)
    slow_answered = sum(a["requests"] - b["requests"] for a, b in slowed)
    return Clicks(
        len(quick), slow, len(cards), made, clicked, to_delete, len(deletes), exact, burst, slow_received, slow_answered
    )


async def _deletes(tape: Tape, owner: dict[int, int], timeout: float) -> dict[int, float]:
    """When each entry's first DELETE arrived at its PBX (``owner``: entry -> PBX), once all have (or ``timeout``
    seconds passed); only the PBXes still awaited are read again."""
    arrived: dict[int, float] = {}
    deadline = time.monotonic() + timeout
    while len(arrived) < len(owner) and time.monotonic() < deadline:
        await tape.read({pbx for entry, pbx in owner.items() if entry not in arrived})
        for entry, pbx in owner.items():
            path = f"{LIST_PATH}({entry})"
            first = next(
                (r["received"] for r in tape.records[pbx] if r["method"] == "DELETE" and r["path"] == path), None
            )
            if first is not None:
                arrived[entry] = first
        await asyncio.sleep(0.2)
    return arrived
