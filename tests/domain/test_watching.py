"""Watching the blocklist (``bot.domain.watch.Watching``): one process watches at a time, the first look
only sets the mark, later looks keep each new entry the rules want exactly once, and announcements whose
entry 3CX no longer lists are marked gone once."""

from __future__ import annotations

import asyncio

import pytest

from bot.domain.ports import Announcement
from bot.domain.watch import CHECKS, PAGE, Look, Watching, WatchRules

from .fakes import FakeClock as Clock
from .watch_fakes import Advance, WatchedList, WatchStore, blocked

WATCH = "C0WATCH"
ONE, TWO, THREE = "process-one", "process-two", "process-three"
INTERVAL = 10.0


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


def watcher(store: WatchStore, blocklist: WatchedList, clock: Clock, holder: str = ONE,
            added_by: frozenset[str] | None = frozenset({"AutoBlacklist"})) -> Watching:  # fmt: skip
    return Watching(store, blocklist, WatchRules(WATCH, INTERVAL, added_by), holder, clock)


def ids(announcements: tuple[Announcement, ...] | list[Announcement]) -> list[int]:
    return [a.entry.id for a in announcements]


# -- the mark --------------------------------------------------------------------------------------


async def test_the_first_look_sets_the_mark_without_announcing_what_is_listed(
    store: WatchStore, blocklist: WatchedList, clock: Clock
) -> None:
    one = watcher(store, blocklist, clock)

    assert await one.look() == Look(held=True)
    assert (store.holder, store.heartbeat_at, store.mark) == (ONE, clock.now, 42)
    assert store.announced() == {}
    assert store.advances == [Advance(ONE, None, 42, (), True)]
    assert blocklist.calls == [("highest_id",)]

    clock.advance(INTERVAL)
    assert await one.look() == Look(held=True)
    assert blocklist.calls[1:] == [("added_after", 42, PAGE)]

    blocklist.put(blocked(57, "192.0.2.57"))
    clock.advance(INTERVAL)
    look = await one.look()
    assert look == Look(True, new=1, unposted=(Announcement(blocked(57, "192.0.2.57"), WATCH),))
    assert store.mark == 57
    assert blocklist.called("highest_id") == [()]  # the mark is set once


async def test_watching_an_empty_list_starts_from_the_first_entry(clock: Clock, store: WatchStore) -> None:
    blocklist = WatchedList()
    one = watcher(store, blocklist, clock)
    assert await one.look() == Look(held=True)
    assert store.mark == 0

    blocklist.put(blocked(1))
    clock.advance(INTERVAL)
    look = await one.look()
    assert (look.new, ids(look.unposted)) == (1, [1])
    assert blocklist.called("added_after") == [(0, PAGE)]


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
    [
        (frozenset({"AutoBlacklist"}), [43, 47]),
        (None, [43, 45, 46, 47, 48]),
        (frozenset({"Admin"}), [45, 48]),
    ],
    ids=["autoblacklist", "all", "admin"],
)
async def test_later_looks_keep_only_the_new_entries_the_rules_want_and_never_allow_entries(
    store: WatchStore, blocklist: WatchedList, clock: Clock, added_by: frozenset[str] | None, kept: list[int]
) -> None:
    one = watcher(store, blocklist, clock, added_by=added_by)
    await one.look()
    blocklist.put(*NEW)
    clock.advance(INTERVAL)

    look = await one.look()

    assert look.held
    assert look.new == len(kept)
    assert ids(look.unposted) == kept
    assert all(a == Announcement(blocklist.entries[a.entry.id], WATCH) for a in look.unposted)
    # the mark moves past everything read, wanted or not
    assert store.mark == 49
    assert store.advances[-1] == Advance(ONE, 42, 49, tuple(kept), True)
    assert ids(list(store.announced().values())) == kept


async def test_an_entry_is_kept_once_and_stays_unposted_until_posted(
    store: WatchStore, blocklist: WatchedList, clock: Clock
) -> None:
    one = watcher(store, blocklist, clock)
    await one.look()
    blocklist.put(blocked(43), blocked(44))
    clock.advance(INTERVAL)
    assert (await one.look()).new == 2

    clock.advance(INTERVAL)
    again = await one.look()
    assert (again.new, ids(again.unposted)) == (0, [43, 44])  # still to post, not kept a second time
    assert blocklist.called("added_after")[-1] == (44, PAGE)
    assert [a.moved for a in store.advances] == [True, True]  # nothing new: the mark is not asked to move

    await one.posted(again.unposted, "1700000000.000100", in_summary=True)
    clock.advance(INTERVAL)
    assert await one.look() == Look(held=True)
    assert {a.ref for a in store.announced().values()} == {"1700000000.000100"}
    assert all(a.in_summary for a in store.announced().values())


# -- one watcher at a time -------------------------------------------------------------------------


async def test_a_second_watcher_does_not_hold_the_watch_while_the_first_renews_it_and_takes_it_two_intervals_after(
    store: WatchStore, blocklist: WatchedList, clock: Clock
) -> None:
    one, two = watcher(store, blocklist, clock), watcher(store, blocklist, clock, TWO)
    await one.look()

    clock.advance(INTERVAL / 2)
    asked = len(blocklist.calls)
    assert await two.look() == Look(held=False)
    assert len(blocklist.calls) == asked  # a look without the watch asks 3CX nothing
    for _ in range(5):  # longer than two intervals in all, renewed every interval
        clock.advance(INTERVAL / 2)
        assert (await one.look()).held
        clock.advance(INTERVAL / 2)
        assert await two.look() == Look(held=False)
    assert store.holder == ONE

    assert store.heartbeat_at is not None
    last_renewal = store.heartbeat_at  # the first watcher stops renewing
    blocklist.put(blocked(43))
    clock.advance(1.5 * INTERVAL)
    assert await two.look() == Look(held=False)
    clock.now = last_renewal + 2 * INTERVAL
    assert await two.look() == Look(held=False)
    clock.now = last_renewal + 2 * INTERVAL + 0.001
    taken = await two.look()

    assert taken.held
    assert (taken.new, ids(taken.unposted)) == (1, [43])  # from where the first watcher was
    assert (store.holder, store.mark) == (TWO, 43)
    assert blocklist.called("highest_id") == [()]
    assert await one.look() == Look(held=False)
    assert store.holder == TWO


async def test_a_look_whose_advance_lost_the_race_keeps_nothing(
    store: WatchStore, blocklist: WatchedList, clock: Clock
) -> None:
    one = watcher(store, blocklist, clock, added_by=None)
    two = watcher(store, blocklist, clock, TWO)
    await one.look()
    blocklist.put(blocked(43), blocked(44, "192.0.2.44", added_by="Admin"))
    looks: list[Look] = []

    async def taken_over_meanwhile() -> None:
        clock.advance(2 * INTERVAL + 1)  # the first watcher's answer is late: its lease went stale
        looks.append(await two.look())

    blocklist.during_read = taken_over_meanwhile
    clock.advance(INTERVAL)
    late = await one.look()

    assert late.held
    assert late.new == 0
    [taken] = looks
    assert (taken.new, ids(taken.unposted)) == (1, [43])
    assert store.advances[-2:] == [Advance(TWO, 42, 44, (43,), True), Advance(ONE, 42, 44, (43, 44), False)]
    assert store.announced() == {43: Announcement(blocked(43), WATCH)}  # not 44, which only the first wanted
    assert (store.holder, store.mark) == (TWO, 44)


async def test_two_looks_at_once_keep_each_new_entry_once(
    store: WatchStore, blocklist: WatchedList, clock: Clock
) -> None:
    one = watcher(store, blocklist, clock)
    await one.look()
    blocklist.put(blocked(43), blocked(44))

    async def pause() -> None:
        await asyncio.sleep(0)

    blocklist.during_read = pause
    clock.advance(INTERVAL)
    first, second = await asyncio.gather(one.look(), one.look())

    assert sorted([first.new, second.new]) == [0, 2]
    assert [a.moved for a in store.advances[-2:]] == [True, False]
    assert ids(list(store.announced().values())) == [43, 44]
    assert store.mark == 44


async def test_hand_on_lets_another_take_the_watch_at_once(
    store: WatchStore, blocklist: WatchedList, clock: Clock
) -> None:
    one, two = watcher(store, blocklist, clock), watcher(store, blocklist, clock, TWO)
    await one.look()
    blocklist.put(blocked(43))
    clock.advance(1)
    assert (await one.look()).new == 1  # kept, not yet posted when the first stops

    await one.hand_on()
    assert (store.holder, store.mark) == (None, 43)
    clock.advance(1)
    taken = await two.look()

    assert taken == Look(True, new=0, unposted=(Announcement(blocked(43), WATCH),))
    assert (store.holder, store.mark) == (TWO, 43)
    assert blocklist.called("highest_id") == [()]  # the mark was kept: watching does not start again
    clock.advance(1)
    assert await one.look() == Look(held=False)

    await one.hand_on()  # not the holder: changes nothing
    assert store.holder == TWO
    assert await watcher(store, blocklist, clock, THREE).look() == Look(held=False)


# -- gone ------------------------------------------------------------------------------------------


async def shown(one: Watching, blocklist: WatchedList, clock: Clock, *entry_ids: int) -> None:
    """``one`` has kept the entries and posted each in a message of its own."""
    blocklist.put(*(blocked(i, f"192.0.2.{i % 250}") for i in entry_ids))
    clock.advance(INTERVAL)
    look = await one.look()
    assert ids(look.unposted) == list(entry_ids)
    for announcement in look.unposted:
        await one.posted([announcement], f"1700000000.{announcement.entry.id:06d}", in_summary=False)


async def test_announcements_whose_entry_3cx_no_longer_lists_are_marked_gone_once(
    store: WatchStore, blocklist: WatchedList, clock: Clock
) -> None:
    one = watcher(store, blocklist, clock)
    await one.look()
    await shown(one, blocklist, clock, 43, 44)
    blocklist.put(blocked(45), blocked(46))
    clock.advance(INTERVAL)
    burst = await one.look()
    await one.posted(burst.unposted, "1700000000.999999", in_summary=True)

    blocklist.drop(43, 45)
    clock.advance(INTERVAL)
    look = await one.look()

    assert look.unposted == ()
    assert look.gone == (Announcement(blocked(43, "192.0.2.43"), WATCH, "1700000000.000043"),)
    # only messages of their own are checked: a summary is not
    assert blocklist.called("still_listed")[-1] == ([43, 44],)
    assert {i: a.gone for i, a in store.announced().items()} == {43: True, 44: False, 45: False, 46: False}
    assert store.kept[43].checked_at == store.kept[44].checked_at == clock.now

    clock.advance(INTERVAL)
    again = await one.look()
    assert again.gone == ()
    assert blocklist.called("still_listed")[-1] == ([44],)


async def test_an_entry_marked_gone_by_a_write_whose_answer_was_lost_is_still_reported_gone(
    store: WatchStore, blocklist: WatchedList, clock: Clock
) -> None:
    one = watcher(store, blocklist, clock)
    await one.look()
    await shown(one, blocklist, clock, 43)
    blocklist.drop(43)

    async def marked_by_an_earlier_try() -> None:  # the store wrote it; its answer never came back
        await store.mark_gone(43)

    blocklist.during_check = marked_by_an_earlier_try
    clock.advance(INTERVAL)
    look = await one.look()

    assert [a.entry.id for a in look.gone] == [43]  # its announcement is changed to say so
    assert store.announced()[43].gone
    assert await store.mark_gone(43)


async def test_the_announcements_checked_longest_ago_are_checked_first_a_few_at_a_time(
    store: WatchStore, blocklist: WatchedList, clock: Clock
) -> None:
    one = watcher(store, blocklist, clock)
    await one.look()
    posted = list(range(101, 131))
    await shown(one, blocklist, clock, *posted)
    assert blocklist.called("still_listed") == []  # nothing was showing before

    clock.advance(INTERVAL)
    await one.look()
    clock.advance(INTERVAL)
    await one.look()

    assert CHECKS == 24
    assert blocklist.called("still_listed") == [(posted[:24],), (posted[24:] + posted[:18],)]
    assert all(not a.gone for a in store.announced().values())


async def test_a_look_without_the_watch_checks_nothing(store: WatchStore, blocklist: WatchedList, clock: Clock) -> None:
    one = watcher(store, blocklist, clock)
    await one.look()
    await shown(one, blocklist, clock, 43)
    blocklist.drop(43)
    asked = len(blocklist.calls)

    clock.advance(1)
    assert await watcher(store, blocklist, clock, TWO).look() == Look(held=False)
    assert len(blocklist.calls) == asked
    assert not store.announced()[43].gone
