"""Section 6, goal 5: one PBX whose blocklist holds 400,000 entries (``bench.biglist``).

The bot serves that one PBX and watches it every 5 s (the minimum). After its first look two entries are added,
which its second look announces and its third checks; then ``/unblock <address>`` asks about two entries in the
middle of the list, one after the other, sent just after a look so that no look runs beside them. The first card
also reads 3CX's anti-hacking thresholds, which the bot then keeps for 10 minutes: the second shows what each
command costs. ``observe`` drives it, ``judge`` makes the figures, with no I/O.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass
from typing import Any

from .biglist import bulk_ip
from .fakes import MAX_ENTRIES
from .fleet import FleetFakes, Tape
from .load import Loader, command_body
from .procs import HOST, free_port
from .rig import Rig, Server
from .scenarios import Sizes
from .served import LIST_PATH, is_watch_query, looks_of, tokens_of

INTERVAL = 5.0
WATCH_CHANNEL = "CBENCHBIG"
LOOKS = 3
#: the goals: requests per look, and requests for ``/unblock <address>``
PER_LOOK_GOAL = 2
LOOKUP_GOAL = 3
#: a look's answers must stay below the whole list divided by this
WHOLE_LIST_FRACTION = 10


@dataclass(frozen=True)
class Observed:
    """What one run saw, before any judging: the list's size, every request the PBX answered, the lookup's."""

    entries: int
    whole_list_bytes: int
    records: tuple[dict[str, Any], ...]
    #: the address asked about second, and the requests 3CX received from the command to its card
    address: str
    lookup: tuple[dict[str, Any], ...]
    #: both cards were posted
    card: bool
    full_scans: int
    #: the requests of the first command (its card also reads the thresholds)
    first_lookup: tuple[dict[str, Any], ...] = ()


async def _wait_looks(tape: Tape, count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while len(looks_of(tape.records[0])) < count and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        await tape.read()


async def observe(rig: Rig, sizes: Sizes, fakes: FleetFakes) -> Observed:
    n = sizes.big_list
    whole = int((await fakes.get("/whole"))["bytes"])
    tape = Tape(fakes, 1)
    folder = rig.tmp / "bot-big"
    folder.mkdir(exist_ok=True)
    port = free_port()
    env = rig.bot_env(port, folder / "bench.db") | {
        "THREECX_BASE_URL": fakes.urls[0],
        "UNBLOCK_WATCH_CHANNEL": WATCH_CHANNEL,
        "UNBLOCK_WATCH_INTERVAL": f"{INTERVAL:g}",
    }
    bot = Server(rig.procs.spawn("bot-big", ["-m", "bot"], env=env, cwd=folder), f"http://{HOST}:{port}")
    await bot.proc.wait_http(f"{bot.url}/healthz", timeout=60)
    await _wait_looks(tape, 1, 2 * INTERVAL + 10)
    # above the bulk's Ids, and with addresses no other part's cards use
    await fakes.add(0, max(n, MAX_ENTRIES) + 1, 2)
    await _wait_looks(tape, LOOKS, LOOKS * (2 * INTERVAL + 10))
    await asyncio.sleep(0.5)  # the last look's check of the entries announced
    await tape.read()
    addresses = [bulk_ip(max(1, n // 2 + 7 + i)) for i in range(2)]
    first, second = [await _lookup(rig, bot, tape, address) for address in addresses]
    stats = await fakes.get("/stats")
    rig.stop(bot)
    scans = int(stats["full_scans"])
    cards = first[1] and second[1]
    return Observed(n, whole, tuple(tape.records[0]), addresses[1], second[0], cards, scans, first[0])


async def _lookup(rig: Rig, bot: Server, tape: Tape, address: str) -> tuple[tuple[dict[str, Any], ...], bool]:
    """``/unblock <address>``: the XAPI requests 3CX received from the command to its card, and whether the card
    was posted."""
    start = len(tape.records[0])
    since = await rig.mark()
    async with Loader(bot.events) as loader:
        await loader.closed_loop(lambda _: command_body(address, rig.response_url), duration=30, limit=1)
    card = await _card(rig, since, address, timeout=15)
    await asyncio.sleep(0.5)
    await tape.read()
    return tuple(r for r in tape.records[0][start:] if not is_watch_query(r) and is_xapi(r)), card


def is_xapi(record: dict[str, Any]) -> bool:
    return str(record["path"]).startswith("/xapi/")


async def _card(rig: Rig, since: int, address: str, timeout: float) -> bool:
    """Whether a card naming ``address`` was posted (waiting up to ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        since, messages = await rig.messages(since)
        if any(m["method"] == "chat.postMessage" and address in m["text"] and m["request"] for m in messages):
            return True
        await asyncio.sleep(0.05)
    return False


@dataclass(frozen=True)
class Judged:
    """The figures of one run, and whether each goal was met."""

    seen: Observed
    #: each look: its requests, the bytes sent and received, its queries
    looks: tuple[tuple[int, int, int, tuple[str, ...]], ...]
    token_requests: int
    few_requests: bool
    small_answers: bool
    lookup_within_goal: bool


def query_text(record: dict[str, Any], short: bool = False) -> str:
    """``GET /xapi/v1/Blocklist?$filter=…&$top=1``; ``short``: a long filter's first test or value, and how
    many."""
    query = dict(sorted(record["query"].items()))
    tests, values = query.get("$filter", "").split(" or "), listed(record)
    if short and len(values) > 2:
        query["$filter"] = f"{query['$filter'].partition('(')[0]}({values[0]}, … ({len(values)} values))"
    elif short and len(tests) > 2:
        query["$filter"] = f"{tests[0]} or … ({len(tests)} tests)"
    shown = "&".join(f"{k}={v}" for k, v in query.items())
    return f"{record['method']} {record['path']}{'?' + shown if shown else ''}"


def listed(record: dict[str, Any]) -> list[str]:
    """The values of a filter ``field in (a,b,…)``; [] for another filter."""
    found = re.fullmatch(r"\w+ in \((.*)\)", record["query"].get("$filter", ""))
    return found[1].split(",") if found else []


def lookup_parts(lookup: tuple[dict[str, Any], ...]) -> dict[str, int]:
    """The requests of ``/unblock <address>``: the blocklist's, and those asking what 3CX knows of the address."""
    listed = sum(r["path"] == LIST_PATH for r in lookup)
    return {"blocklist": listed, "evidence": len(lookup) - listed}


def judge(seen: Observed) -> Judged:
    found = tuple(
        (
            len(look),
            sum(r["request_bytes"] for r in look),
            sum(r["response_bytes"] for r in look),
            tuple(query_text(r) for r in look),
        )
        for look in looks_of(list(seen.records))
    )
    most = max((look[0] for look in found), default=0)
    received = max((look[2] for look in found), default=0)
    return Judged(
        seen=seen,
        looks=found,
        token_requests=tokens_of(list(seen.records)),
        few_requests=len(found) >= LOOKS and 0 < most <= PER_LOOK_GOAL,
        small_answers=0 < received < seen.whole_list_bytes / WHOLE_LIST_FRACTION,
        lookup_within_goal=seen.card and 0 < len(seen.lookup) <= LOOKUP_GOAL,
    )


def figures(j: Judged) -> dict[str, Any]:
    return {
        "entries": j.seen.entries,
        "whole_list_bytes": j.seen.whole_list_bytes,
        "looks": len(j.looks),
        "requests_per_look": [look[0] for look in j.looks],
        "response_bytes_per_look": [look[2] for look in j.looks],
        "token_requests": j.token_requests,
        "lookup_requests": len(j.seen.lookup),
        "first_lookup_requests": len(j.seen.first_lookup),
        "lookup": [query_text(r) for r in j.seen.lookup],
        "lookup_parts": lookup_parts(j.seen.lookup),
        "lookup_card_posted": j.seen.card,
        "full_scans": j.seen.full_scans,
        "few_requests_per_look": j.few_requests,
        "small_answers": j.small_answers,
        "lookup_within_goal": j.lookup_within_goal,
    }


async def big_list(rig: Rig, sizes: Sizes, fakes: FleetFakes) -> Judged:
    return judge(await observe(rig, sizes, fakes))
