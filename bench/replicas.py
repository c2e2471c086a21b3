"""Section 6, goal 4: two replicas of the bot on one PostgreSQL database, serving the same PBXes.

Both start together (``tests/postgres.py``'s throwaway server), each asked once about every PBX, so that each
needs every PBX's 3CX token; once they share the watches evenly (or an interval and ``SHARE_WAIT`` seconds have
passed), the replica that watches more PBXes is killed (SIGKILL), and the other must take over each PBX it watched.
The fake PBXes tell which replica sent each request (``/owners`` of ``bench.fleet``).
``observe`` drives them, ``judge`` makes the figures from what the fakes recorded, with no I/O.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass
from typing import Any

from tests.postgres import PostgresServer

from . import served as fleet_bots
from .fleet import FleetFakes, Tape
from .load import Loader, command_body
from .rig import Rig
from .scenarios import Sizes

REPLICAS = ("a", "b")
#: a PBX its dead holder watched must be looked at by the other replica within this many seconds of the death
TAKEOVER_GOAL = 30.0
#: how long the run waits for the takeover at most
TAKEOVER_WAIT = 45.0
#: how long the run waits for the replicas to share the watches evenly, beyond an interval
SHARE_WAIT = 30.0


@dataclass(frozen=True)
class Look:
    """One look at a PBX: when its opening query arrived, which replica sent it, how many requests it made."""

    at: float
    by: str | None
    requests: int


@dataclass(frozen=True)
class Observed:
    """What one run saw, before any judging."""

    pbxes: int
    interval: float
    #: each PBX's looks, in order; when the victim was killed (``time.monotonic()``), and which it was
    looks: tuple[tuple[Look, ...], ...]
    killed_at: float
    victim: str
    token_requests: tuple[int, ...]
    cards: int
    asked: int


def looks(records: list[dict[str, Any]]) -> tuple[Look, ...]:
    return tuple(Look(look[0]["received"], look[0]["by"], len(look)) for look in fleet_bots.looks_of(records))


def holders(records: list[list[dict[str, Any]]]) -> dict[str, int]:
    """How many PBXes each replica made the last look at."""
    last = [looks(rs)[-1].by for rs in records if looks(rs)]
    return {r: last.count(r) for r in REPLICAS}


def even(held: dict[str, int], pbxes: int) -> bool:
    """Whether each replica made the last look at its share of the ``pbxes``, and they at every one of them."""
    share = -(-pbxes // len(REPLICAS))
    return sum(held.values()) == pbxes and all(0 < n <= share for n in held.values())


async def observe(rig: Rig, sizes: Sizes, fakes: FleetFakes) -> Observed:
    n = sizes.pbxes
    server = await asyncio.to_thread(PostgresServer.start)
    try:
        database = await server.new_database()
        pbxes = fleet_bots.write_pbxes(rig.tmp / "pbxes-replicas.toml", fakes, n, "CWB")
        bots = {
            r: fleet_bots.spawn_bot(rig, f"bot-replica-{r}", fakes, pbxes, sizes.fleet_interval, database)
            for r in REPLICAS
        }
        await fakes.post("/owners", {r: bot.proc.pid for r, bot in bots.items()})
        await asyncio.gather(*(bot.proc.wait_http(f"{bot.url}/healthz", timeout=60) for bot in bots.values()))
        # each replica asked about every PBX: both need each PBX's token
        first = rig.take_ids(n * len(REPLICAS))
        await asyncio.gather(*(fakes.add(i, first + i * len(REPLICAS), len(REPLICAS)) for i in range(n)))
        since = await rig.mark()
        for j, bot in enumerate(bots.values()):

            def ask(i: int, j: int = j) -> str:
                return command_body(f"{fleet_bots.name(i)} {first + i * len(REPLICAS) + j}", rig.response_url)

            async with Loader(bot.events) as loader:
                await loader.closed_loop(ask, duration=120, limit=n)
        cards = await rig.wait_for_cards(set(range(first, first + n * len(REPLICAS))), since, timeout=60)
        tape = Tape(fakes, n)
        await fleet_bots.wait_looks(tape, 1, 30)
        deadline = time.monotonic() + sizes.fleet_interval + SHARE_WAIT
        while not even(holders(tape.records), n) and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            await tape.read()
        watched = holders(tape.records)
        victim = max(REPLICAS, key=lambda r: watched[r])
        bots[victim].proc.popen.kill()
        killed_at = time.monotonic()
        survivor = next(r for r in REPLICAS if r != victim)

        def taken_over() -> bool:
            held = [looks(rs) for rs in tape.records if any(look.by == victim for look in looks(rs))]
            return all(any(look.by == survivor and look.at > killed_at for look in ls) for ls in held)

        while not taken_over() and time.monotonic() < killed_at + TAKEOVER_WAIT:
            await asyncio.sleep(0.5)
            await tape.read()
        await asyncio.sleep(1.0)
        await tape.read()
        stats = await fakes.get("/stats")
        rig.stop(bots[survivor])
        rig.procs.stop(bots[victim].proc)
    finally:
        await asyncio.to_thread(server.stop)
    return Observed(
        pbxes=n,
        interval=sizes.fleet_interval,
        looks=tuple(looks(rs) for rs in tape.records),
        killed_at=killed_at,
        victim=victim,
        token_requests=tuple(int(p["token_requests"]) for p in stats["pbxes"][:n]),
        cards=len(cards),
        asked=n * len(REPLICAS),
    )


@dataclass(frozen=True)
class Judged:
    """The figures of one run, and whether each goal was met."""

    seen: Observed
    #: PBXes whose last look before the kill each replica made
    watched_before: dict[str, int]
    #: PBXes both replicas looked at before the kill (handed on), and pairs of looks of one PBX by both, closer
    #: than an interval, while both lived
    both_before: int
    close_pairs: int
    #: looks whose sender the fakes could not tell
    unknown: int
    #: PBXes the victim watched, those the other took over, and the takeover times (seconds after the kill)
    victim_held: int
    taken_over: int
    takeover_s: tuple[float, ...]
    pbxes_one_token: int
    requests_per_look_max: int
    looks: int
    #: the goals
    one_token_each: bool
    one_at_a_time: bool
    shared: bool
    took_over: bool


def judge(seen: Observed) -> Judged:
    before = [[look for look in ls if look.at <= seen.killed_at] for ls in seen.looks]
    last = [ls[-1].by for ls in before if ls]
    watched = {r: last.count(r) for r in REPLICAS}
    both = sum(len({look.by for look in ls} & set(REPLICAS)) > 1 for ls in before)
    close = 0
    for ls in seen.looks:
        for one, other in itertools.pairwise(ls):
            dead = one.by == seen.victim and other.at > seen.killed_at
            close += one.by != other.by and not dead and other.at - one.at < seen.interval
    survivor = next(r for r in REPLICAS if r != seen.victim)
    held = [after for ls, after in zip(before, seen.looks, strict=True) if ls and ls[-1].by == seen.victim]
    times = []
    for ls in held:
        after = [look.at - seen.killed_at for look in ls if look.by == survivor and look.at > seen.killed_at]
        if after:
            times.append(min(after))
    every = [look for ls in seen.looks for look in ls]
    unknown = sum(look.by not in REPLICAS for look in every)
    one_token = sum(t == 1 for t in seen.token_requests)
    return Judged(
        seen=seen,
        watched_before=watched,
        both_before=both,
        close_pairs=close,
        unknown=unknown,
        victim_held=len(held),
        taken_over=len(times),
        takeover_s=tuple(times),
        pbxes_one_token=one_token,
        requests_per_look_max=max((look.requests for look in every), default=0),
        looks=len(every),
        one_token_each=one_token == seen.pbxes,
        one_at_a_time=close == unknown == 0 and sum(watched.values()) == seen.pbxes,
        shared=even(watched, seen.pbxes),
        took_over=len(held) > 0 and len(times) == len(held) and max(times) <= TAKEOVER_GOAL,
    )


def figures(j: Judged) -> dict[str, Any]:
    return {
        "pbxes": j.seen.pbxes,
        "interval_s": j.seen.interval,
        "asked": j.seen.asked,
        "cards": j.seen.cards,
        "looks": j.looks,
        "looks_unattributed": j.unknown,
        "watched_before_kill": j.watched_before,
        "pbxes_looked_at_by_both_before_kill": j.both_before,
        "looks_by_both_within_interval": j.close_pairs,
        "victim": j.seen.victim,
        "victim_watched": j.victim_held,
        "taken_over": j.taken_over,
        "takeover_max_s": round(max(j.takeover_s), 1) if j.takeover_s else None,
        "token_requests": sum(j.seen.token_requests),
        "pbxes_with_one_token_request": j.pbxes_one_token,
        "requests_per_look_max": j.requests_per_look_max,
        "one_token_each": j.one_token_each,
        "one_replica_at_a_time": j.one_at_a_time,
        "shared_evenly": j.shared,
        "took_over_in_time": j.took_over,
    }


async def replicas(rig: Rig, sizes: Sizes, fakes: FleetFakes) -> Judged:
    return judge(await observe(rig, sizes, fakes))
