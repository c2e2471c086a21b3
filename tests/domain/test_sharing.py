"""Processes sharing the watches of several PBXes (``bot.domain.sharing``), each PBX's watch one lease: every
process holds an even share, a PBX handed on is looked at next an interval after its last look, never twice in
one, the share holds still once it is even, and a process that dies has its watches taken within 30 seconds,
whatever the share."""

from __future__ import annotations

import asyncio
import itertools
import math
from collections import Counter
from dataclasses import dataclass, field

from bot.domain.sharing import WatchShare
from bot.domain.watch import HOLD_EVERY, Watch, WatchRules

from .fakes import Announcer, FakeBlocklist, FakeClock, WatchStore, blocked_address, world

PBXES = 10
INTERVAL = 60.0


@dataclass
class Process:
    """One process's watches, with the rounds each PBX's watcher makes (``bot.slack.watcher.Watcher``): a look
    when one is due, else the watch held again."""

    name: str
    share: WatchShare
    watches: list[Watch]
    #: when each PBX's next look is due (0: at the next round)
    due: list[float] = field(default_factory=lambda: [0.0] * PBXES)
    alive: bool = True

    async def round(self, i: int, clock: FakeClock, looks: list[list[tuple[float, str]]]) -> None:
        """The round of the PBX ``i``'s watcher."""
        watch = self.watches[i]
        if clock.now < self.due[i]:
            if not await watch.hold():
                self.due[i] = 0.0
            return
        watched = await watch.tick()
        if watched.held:
            looks[i].append((clock.now, self.name))
        self.due[i] = clock.now + INTERVAL if watched.held else 0.0


@dataclass
class Fleet:
    """PBXes watched by processes on one store, on a fake clock: each PBX's watcher makes its round every
    ``HOLD_EVERY`` seconds, the PBXes' rounds spread over them (each process says it is there at the first round
    it makes once that is due, its watches renewed at other times)."""

    clock: FakeClock = field(default_factory=FakeClock)
    store: WatchStore = field(default_factory=WatchStore)
    blocklists: list[FakeBlocklist] = field(
        default_factory=lambda: [FakeBlocklist([blocked_address(42)]) for _ in range(PBXES)]
    )
    processes: list[Process] = field(default_factory=list)
    #: each PBX's looks: (when, by which process)
    looks: list[list[tuple[float, str]]] = field(default_factory=lambda: [[] for _ in range(PBXES)])
    rounds: int = 0

    def start(self, name: str) -> Process:
        share = WatchShare(self.store, name, self.clock, every=HOLD_EVERY)
        rules = WatchRules("C0WATCH", INTERVAL)
        requests = world().process(name)
        watches = [
            Watch(self.store.scoped(f"pbx{i}"), blocklist, rules, name, self.clock, Announcer(), requests, share.seat())
            for i, blocklist in enumerate(self.blocklists)
        ]
        process = Process(name, share, watches)
        self.processes.append(process)
        return process

    async def run(self, seconds: float) -> None:
        step = HOLD_EVERY / PBXES
        for _ in range(round(seconds / step)):
            i = self.rounds % PBXES
            for process in self.processes:
                if process.alive:
                    await process.round(i, self.clock, self.looks)
            self.rounds += 1
            self.clock.advance(step)

    def holders(self) -> Counter[str | None]:
        return Counter(self.store.pbxes[f"pbx{i}"].holder for i in range(PBXES))

    def looks_since(self, since: float) -> list[list[tuple[float, str]]]:
        return [[look for look in looks if look[0] >= since] for looks in self.looks]


def looked_twice_in_an_interval(looks: list[list[tuple[float, str]]]) -> list[tuple[float, float]]:
    return [(a[0], b[0]) for one in looks for a, b in itertools.pairwise(one) if b[0] - a[0] < INTERVAL]


async def test_a_second_process_gets_half_the_watches_each_looked_at_an_interval_after_its_last_look() -> None:
    fleet = Fleet()
    fleet.start("one")
    await fleet.run(30)
    assert fleet.holders() == {"one": PBXES}  # alone, a process holds every watch

    fleet.start("two")
    await fleet.run(2 * INTERVAL)

    assert fleet.holders() == {"one": PBXES // 2, "two": PBXES // 2}
    handed = [looks for looks in fleet.looks if {by for _, by in looks} == {"one", "two"}]
    assert len(handed) == PBXES // 2
    assert looked_twice_in_an_interval(fleet.looks) == []
    # and the next holder's first look comes at most one round after the look that was due
    handovers = [b[0] - a[0] for looks in handed for a, b in itertools.pairwise(looks) if a[1] != b[1]]
    assert len(handovers) == PBXES // 2 and max(handovers) <= INTERVAL + HOLD_EVERY


async def test_an_even_share_holds_still() -> None:
    fleet = Fleet()
    fleet.start("one")
    fleet.start("two")
    await fleet.run(2 * INTERVAL)
    settled = fleet.clock.now

    await fleet.run(5 * INTERVAL)

    assert fleet.holders() == {"one": PBXES // 2, "two": PBXES // 2}
    moved = [looks for looks in fleet.looks_since(settled) if len({by for _, by in looks}) > 1]
    assert moved == []
    assert all(len(looks) == 5 for looks in fleet.looks_since(settled))  # each PBX looked at once an interval


async def test_three_processes_hold_at_most_their_share_and_every_watch_is_held() -> None:
    fleet = Fleet()
    for name in ("one", "two", "three"):
        fleet.start(name)
        await fleet.run(HOLD_EVERY)
    await fleet.run(3 * INTERVAL)

    held = fleet.holders()
    assert None not in held and sum(held.values()) == PBXES
    assert max(held.values()) <= math.ceil(PBXES / 3)
    assert looked_twice_in_an_interval(fleet.looks) == []


async def test_a_dead_process_has_its_watches_taken_within_30_s_and_kept() -> None:
    fleet = Fleet()
    one, _ = fleet.start("one"), fleet.start("two")
    await fleet.run(2 * INTERVAL)
    one.alive = False  # killed: it neither renews nor says it stops
    died = fleet.clock.now

    await fleet.run(30)

    assert fleet.holders() == {"two": PBXES}
    assert all(looks[-1][1] == "two" and looks[-1][0] - died <= 30 for looks in fleet.looks)
    await fleet.run(3 * INTERVAL)
    assert fleet.holders() == {"two": PBXES}  # its share grew: nothing handed on


async def test_a_watch_taken_from_a_process_that_stopped_is_looked_at_at_once_even_above_the_share() -> None:
    fleet = Fleet()
    one, _ = fleet.start("one"), fleet.start("two")
    await fleet.run(2 * INTERVAL)
    one.alive = False
    died = fleet.clock.now
    # its last word came after it last renewed its watches: it still counts when they go stale
    await fleet.store.present("one", died, seen_since=0.0)

    await fleet.run(2 * HOLD_EVERY + HOLD_EVERY)

    assert fleet.holders() == {"two": PBXES}
    assert all(looks[-1][1] == "two" and looks[-1][0] - died <= 3 * HOLD_EVERY for looks in fleet.looks)


async def test_watches_whose_rounds_come_at_once_take_no_more_than_the_share() -> None:
    fleet = Fleet()
    one, two = fleet.start("one"), fleet.start("two")
    await two.share.count()  # the second process said it is there first

    await asyncio.gather(*(one.round(i, fleet.clock, fleet.looks) for i in range(PBXES)))

    assert fleet.holders() == {"one": PBXES // 2, None: PBXES // 2}


async def test_a_watch_handed_on_is_taken_in_one_round_of_watches_that_come_at_once() -> None:
    fleet = Fleet()
    one = fleet.start("one")
    await fleet.run(HOLD_EVERY)
    two = fleet.start("two")
    await two.share.count()
    await one.share.count()  # each counts the other: the share is 5
    await one.watches[PBXES - 1].hand_on()  # as at a look that fell due

    await asyncio.gather(*(two.round(i, fleet.clock, fleet.looks) for i in range(PBXES)))

    assert fleet.holders() == {"one": PBXES - 1, "two": 1}


async def test_a_count_the_database_does_not_answer_holds_up_no_renewal() -> None:
    fleet = Fleet()
    fleet.start("one")
    await fleet.run(HOLD_EVERY)
    never = asyncio.Event()

    async def no_answer(holder: str, at: float, seen_since: float) -> int:
        await never.wait()
        return 1

    fleet.store.present = no_answer  # type: ignore[method-assign]
    rounds = asyncio.create_task(fleet.run(3 * HOLD_EVERY))  # counts fall due, and get no answer
    for _ in range(10_000):
        if rounds.done():
            break
        await asyncio.sleep(0)

    assert rounds.done(), "the watches' rounds waited for the count"
    assert fleet.holders() == {"one": PBXES}
    renewed = [fleet.store.pbxes[f"pbx{i}"].heartbeat_at for i in range(PBXES)]
    assert all(at is not None and fleet.clock.now - at <= HOLD_EVERY for at in renewed)  # each in its last round


async def test_a_process_that_stops_hands_its_watches_on_and_no_longer_counts() -> None:
    fleet = Fleet()
    one, _ = fleet.start("one"), fleet.start("two")
    await fleet.run(2 * INTERVAL)
    one.alive = False
    for watch in one.watches:  # a clean stop (``Watcher.stop``, ``Bot.close``)
        if watch.seat is not None and watch.seat.held:
            await watch.hand_on()
    await one.share.leave()

    await fleet.run(HOLD_EVERY + 0.001)

    assert fleet.holders() == {"two": PBXES}
