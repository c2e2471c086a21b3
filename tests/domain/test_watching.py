"""Watching the blocklist (``bot.domain.watch.Watch``): one process watches at a time, the first look only sets the
mark, later looks announce each new entry the rules want, kept exactly once, and announcements whose entry the PBX
no longer lists are said gone once."""

from __future__ import annotations

import pytest

from bot.domain.watch import CHECKS, PAGE, Watch, Watched, WatchRules

from .fakes import FakeClock as Clock
from .fakes import world
from .watch_fakes import Advance, Announcer, WatchedList, WatchStore, blocked

WATCH = "C0WATCH"
ONE, TWO, THREE = "process-one", "process-two", "process-three"
INTERVAL = 10.0
AUTO = frozenset({"AutoBlacklist"})


@pytest.fixture
def store() -> WatchStore:
    return WatchStore()


@pytest.fixture
def blocklist() -> WatchedList:
    listed = WatchedList()
    listed.put(blocked(40, "198.51.100.23"), blocked(42))
    return listed


@pytest.fixture
def clock() -> Clock:
    return Clock()


def watcher(
    store: WatchStore,
    blocklist: WatchedList,
    clock: Clock,
    holder: str = ONE,
    added_by: frozenset[str] | None = AUTO,
    burst: int = 5,
) -> Watch:
    rules = WatchRules(WATCH, INTERVAL, added_by, burst)
    return Watch(store, blocklist, rules, holder, clock, Announcer(), world().process(holder))


def said(one: Watch) -> Announcer:
    assert isinstance(one.announcer, Announcer)
    return one.announcer


async def test_watching_an_empty_list_starts_from_the_first_entry(clock: Clock, store: WatchStore) -> None:
    blocklist = WatchedList()
    one = watcher(store, blocklist, clock)
    await one.tick()
    assert store.mark == 0

    blocklist.put(blocked(1))
    clock.advance(INTERVAL)
    await one.tick()
    assert said(one).posts == [("new", [1])] and blocklist.called("added_after") == [(0, PAGE)]


NEW = [
    blocked(43, "192.0.2.43"),
    blocked(44, "192.0.2.44", block_type="Allow"),
    blocked(45, "192.0.2.45", added_by="Admin"),
    blocked(46, "192.0.2.46", added_by=None),
    blocked(47, "192.0.2.47"),
    blocked(48, "192.0.2.48", added_by="Admin"),
    blocked(49, "192.0.2.49", added_by="AutoBlacklist", block_type="Allow"),
]


@pytest.mark.parametrize(
    ("added_by", "kept"),
    [(AUTO, [43, 47]), (None, [43, 45, 46, 47, 48]), (frozenset({"Admin"}), [45, 48])],
    ids=["autoblacklist", "all", "admin"],
)
async def test_later_looks_announce_only_the_new_entries_the_rules_want_and_never_allow_entries(
    store: WatchStore, blocklist: WatchedList, clock: Clock, added_by: frozenset[str] | None, kept: list[int]
) -> None:
    one = watcher(store, blocklist, clock, added_by=added_by)
    await one.tick()
    blocklist.put(*NEW)
    clock.advance(INTERVAL)

    assert (await one.tick()).held

    assert said(one).posts == [("new", [n]) for n in kept]
    assert store.mark == 49  # the mark moves past everything read, wanted or not
    assert store.advances[-1] == Advance(ONE, 42, 49, tuple(kept), True)
    assert list(store.announced()) == kept


async def test_an_entry_is_kept_once_and_announced_at_each_look_until_it_is_posted(
    store: WatchStore, blocklist: WatchedList, clock: Clock
) -> None:
    one = watcher(store, blocklist, clock)
    await one.tick()
    blocklist.put(blocked(43), blocked(44))
    said(one).deliver = False
    for _ in range(2):
        clock.advance(INTERVAL)
        await one.tick()

    assert said(one).posts == [("new", [43]), ("new", [44])] * 2
    assert blocklist.called("added_after")[-1] == (44, PAGE)
    assert [a.moved for a in store.advances] == [True, True]  # nothing new: the mark is not asked to move

    said(one).deliver = True
    for _ in range(2):
        clock.advance(INTERVAL)
        await one.tick()
    assert len(said(one).posts) == 6  # posted once delivered, then never again
    assert [a.ref for a in store.announced().values()] == ["2000000000.000005", "2000000000.000006"]


async def test_a_second_watcher_does_not_hold_the_watch_while_the_first_renews_it_and_takes_it_two_intervals_after(
    store: WatchStore, blocklist: WatchedList, clock: Clock
) -> None:
    one, two = watcher(store, blocklist, clock), watcher(store, blocklist, clock, TWO)
    await one.tick()

    clock.advance(INTERVAL / 2)
    asked = len(blocklist.calls)
    assert await two.tick() == Watched(held=False)
    assert len(blocklist.calls) == asked  # a look without the watch asks the PBX nothing
    for _ in range(5):  # longer than two intervals in all, renewed every interval
        clock.advance(INTERVAL / 2)
        assert (await one.tick()).held
        clock.advance(INTERVAL / 2)
        assert await two.tick() == Watched(held=False)

    assert store.heartbeat_at is not None
    last_renewal = store.heartbeat_at  # the first watcher stops renewing
    blocklist.put(blocked(43))
    clock.now = last_renewal + 2 * INTERVAL
    assert await two.tick() == Watched(held=False)
    clock.now = last_renewal + 2 * INTERVAL + 0.001
    assert (await two.tick()).held

    assert said(two).posts == [("new", [43])]  # from where the first watcher was
    assert (store.holder, store.mark) == (TWO, 43) and blocklist.called("highest_id") == [()]
    assert await one.tick() == Watched(held=False)


async def test_a_look_whose_advance_lost_the_race_keeps_nothing(
    store: WatchStore, blocklist: WatchedList, clock: Clock
) -> None:
    one, two = watcher(store, blocklist, clock, added_by=None), watcher(store, blocklist, clock, TWO)
    await one.tick()
    blocklist.put(blocked(43), blocked(44, "192.0.2.44", added_by="Admin"))

    async def taken_over_meanwhile() -> None:
        clock.advance(2 * INTERVAL + 1)  # the first watcher's answer is late: its lease went stale
        await two.tick()

    blocklist.during_read = taken_over_meanwhile
    clock.advance(INTERVAL)
    await one.tick()

    assert (said(one).posts, said(two).posts) == ([], [("new", [43])])
    assert store.advances[-2:] == [Advance(TWO, 42, 44, (43,), True), Advance(ONE, 42, 44, (43, 44), False)]
    assert list(store.announced()) == [43]  # not 44, which only the first wanted
    assert (store.holder, store.mark) == (TWO, 44)


async def test_hand_on_lets_another_take_the_watch_at_once(
    store: WatchStore, blocklist: WatchedList, clock: Clock
) -> None:
    one, two = watcher(store, blocklist, clock), watcher(store, blocklist, clock, TWO)
    await one.tick()
    blocklist.put(blocked(43))
    said(one).deliver = False  # kept, not yet posted when the first stops
    clock.advance(1)
    await one.tick()

    await one.hand_on()
    assert (store.holder, store.mark) == (None, 43)
    clock.advance(1)
    await two.tick()

    assert said(two).posts == [("new", [43])] and (store.holder, store.mark) == (TWO, 43)
    assert blocklist.called("highest_id") == [()]  # the mark was kept: watching does not start again
    clock.advance(1)
    assert await one.tick() == Watched(held=False)
    await one.hand_on()  # not the holder: changes nothing
    assert store.holder == TWO
    assert await watcher(store, blocklist, clock, THREE).tick() == Watched(held=False)


async def shown(one: Watch, blocklist: WatchedList, clock: Clock, *entry_ids: int) -> None:
    """``one`` announced the entries, each in a message of its own."""
    blocklist.put(*(blocked(i, f"192.0.2.{i % 250}") for i in entry_ids))
    clock.advance(INTERVAL)
    await one.tick()
    assert said(one).posts[-len(entry_ids) :] == [("new", [i]) for i in entry_ids]


async def test_announcements_whose_entry_the_pbx_no_longer_lists_are_said_gone_once(
    store: WatchStore, blocklist: WatchedList, clock: Clock
) -> None:
    one = watcher(store, blocklist, clock, burst=1)
    await one.tick()
    await shown(one, blocklist, clock, 43)
    await shown(one, blocklist, clock, 44)
    blocklist.put(blocked(45), blocked(46))
    clock.advance(INTERVAL)
    await one.tick()
    assert said(one).posts[-1] == ("burst", [45, 46])

    blocklist.drop(43, 45)
    clock.advance(INTERVAL)
    await one.tick()

    assert said(one).gone_ids == [43]
    # only messages of their own are checked: a summary is not
    assert blocklist.called("still_listed")[-1] == ([43, 44],)
    assert {i: a.gone for i, a in store.announced().items()} == {43: True, 44: False, 45: False, 46: False}
    assert store.checked_at[43] == store.checked_at[44] == clock.now

    clock.advance(INTERVAL)
    await one.tick()
    assert said(one).gone_ids == [43] and blocklist.called("still_listed")[-1] == ([44],)


async def test_the_announcements_checked_longest_ago_are_checked_first_a_few_at_a_time(
    store: WatchStore, blocklist: WatchedList, clock: Clock
) -> None:
    one = watcher(store, blocklist, clock, burst=30)
    await one.tick()
    posted = list(range(101, 131))
    await shown(one, blocklist, clock, *posted)
    assert blocklist.called("still_listed") == []  # nothing was showing before

    for _ in range(2):
        clock.advance(INTERVAL)
        await one.tick()

    assert CHECKS == 24
    assert blocklist.called("still_listed") == [(posted[:24],), (posted[24:] + posted[:18],)]
    assert not any(a.gone for a in store.announced().values())
