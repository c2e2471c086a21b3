"""The blocklist watcher's store (``WatchStore``), through its contract: the same tests run against SQLite
and PostgreSQL. The lease (one watcher at a time), the high-water mark moved only by its holder and only
from where it was, and the announcements: kept once, posted, checked, gone."""

from __future__ import annotations

import asyncio

import pytest

from bot.domain.entries import BlocklistEntry
from bot.domain.ports import Announcement, WatchStore
from bot.storage.contract import Store
from bot.storage.postgres import PostgresStore
from bot.storage.sqlite import SQLiteStore

from .conftest import NewStore
from .harness import GENERAL

ONE, TWO = "process-one", "process-two"


def watch_store(store: Store) -> WatchStore:
    """The store as a watch store (both kinds are one)."""
    assert isinstance(store, SQLiteStore | PostgresStore)
    return store


@pytest.fixture
def watch(store: Store) -> WatchStore:
    return watch_store(store)


def announcement(id: int, ip: str = "203.0.113.7") -> Announcement:
    entry = BlocklistEntry(id, ip, "Failed SIP registrations at «zürich» (ß)", "Block", "AutoBlacklist", None, None)
    return Announcement(entry, GENERAL)


async def started(watch: WatchStore, *announce: Announcement) -> None:
    """``ONE`` holds the lease and has kept ``announce``."""
    assert await watch.hold_watch(ONE, 1000.0, 900.0) == (True, None)
    assert await watch.advance_watch(ONE, None, 100, announce, 1000.0)


async def test_another_holder_is_refused_while_fresh_and_takes_over_when_stale(watch: WatchStore) -> None:
    await started(watch)
    assert await watch.hold_watch(TWO, 1030.0, 930.0) == (False, None)
    assert await watch.hold_watch(TWO, 1200.0, 1100.0) == (True, 100)
    assert await watch.hold_watch(ONE, 1210.0, 1110.0) == (False, None)
    # the old holder no longer moves the mark
    assert not await watch.advance_watch(ONE, 100, 200, [announcement(150)], 1210.0)
    assert await watch.advance_watch(TWO, 100, 200, [announcement(150)], 1210.0)
    assert [a.entry.id for a in await watch.unposted(10)] == [150]


async def test_a_lease_nobody_holds_is_taken_only_when_free_ones_may_be_and_a_stale_one_always(
    watch: WatchStore,
) -> None:
    assert await watch.hold_watch(ONE, 1000.0, 900.0, take_free=False) == (False, None)  # never held: no row
    await started(watch)
    assert await watch.hold_watch(ONE, 1005.0, 905.0, take_free=False) == (True, 100)  # its own, renewed
    await watch.release_watch(ONE)
    assert await watch.hold_watch(TWO, 1010.0, 910.0, take_free=False) == (False, None)
    assert await watch.hold_watch(TWO, 1010.0, 910.0) == (True, 100)
    # its holder stopped renewing it: taken, free ones or not
    assert await watch.hold_watch(ONE, 1200.0, 1100.0, take_free=False) == (True, 100)


async def test_the_roster_counts_the_processes_seen_since_and_forgets_one_that_stops(store: Store) -> None:
    assert await store.present(ONE, 1000.0, seen_since=980.0) == 1
    assert await store.present(TWO, 1005.0, seen_since=985.0) == 2
    assert await store.present(ONE, 1010.0, seen_since=990.0) == 2
    assert await store.present(ONE, 1030.0, seen_since=1010.0) == 1  # the other was last seen before
    assert await store.present(TWO, 1031.0, seen_since=1011.0) == 2
    await store.absent(TWO)
    assert await store.present(ONE, 1032.0, seen_since=1012.0) == 1


async def test_the_mark_moves_only_from_where_it_is_and_only_by_its_holder(watch: WatchStore) -> None:
    assert not await watch.advance_watch(ONE, None, 100, [announcement(50)], 1000.0)  # nobody holds it yet
    await watch.hold_watch(ONE, 1000.0, 900.0)
    assert not await watch.advance_watch(TWO, None, 100, [announcement(50)], 1000.0)  # not the holder
    assert not await watch.advance_watch(ONE, 7, 100, [announcement(50)], 1000.0)  # not the mark
    assert await watch.unposted(10) == []
    assert await watch.hold_watch(ONE, 1000.0, 900.0) == (True, None)
    assert await watch.advance_watch(ONE, None, 100, [announcement(50)], 1000.0)
    assert not await watch.advance_watch(ONE, None, 200, [announcement(60)], 1000.0)  # moved since
    assert await watch.hold_watch(ONE, 1001.0, 901.0) == (True, 100)
    assert [a.entry.id for a in await watch.unposted(10)] == [50]


async def test_announcements_come_back_in_id_order_whole_and_once(watch: WatchStore) -> None:
    kept = [announcement(30, "198.51.100.3"), announcement(10, "2001:db8::1"), announcement(20)]
    await started(watch, *kept)
    assert await watch.unposted(10) == sorted(kept, key=lambda a: a.entry.id)
    assert [a.entry.id for a in await watch.unposted(2)] == [10, 20]

    await watch.posted([10], "1.0001", in_summary=False)
    assert await watch.advance_watch(ONE, 100, 200, [announcement(10, "192.0.2.9"), announcement(11)], 1001.0)
    assert [a.entry.id for a in await watch.unposted(10)] == [11, 20, 30]
    (shown,) = await watch.showing(10)
    assert (shown.entry.address, shown.ref) == ("2001:db8::1", "1.0001")  # as it was


async def test_what_was_found_in_a_period_comes_back_with_when_oldest_first(watch: WatchStore) -> None:
    await started(watch, announcement(30, "198.51.100.3"), announcement(10))
    assert await watch.advance_watch(ONE, 100, 200, [announcement(150, "2001:db8::1")], 1500.0)
    assert await watch.advance_watch(ONE, 200, 300, [announcement(250)], 2000.0)

    found = await watch.found_between(1000.0, 2000.0, 10)

    assert [(one.entry.id, one.at) for one in found] == [(10, 1000.0), (30, 1000.0), (150, 1500.0)]
    assert found[2].entry == announcement(150, "2001:db8::1").entry  # whole
    assert [one.entry.id for one in await watch.found_between(1000.0, 2000.0, 1)] == [10]


async def test_showing_lists_own_messages_checked_longest_ago_first_until_gone(watch: WatchStore) -> None:
    await started(watch, *(announcement(id) for id in (1, 2, 3, 4, 5)))
    await watch.posted([1, 2], "1.0001", in_summary=False)
    await watch.posted([3, 4], "1.0002", in_summary=True)
    await watch.posted([5], "1.0003", in_summary=False)
    assert [a.entry.id for a in await watch.unposted(10)] == []
    assert [(a.entry.id, a.ref, a.in_summary) for a in await watch.showing(10)] == [
        (1, "1.0001", False),
        (2, "1.0001", False),
        (5, "1.0003", False),
    ]
    await watch.checked([1], 2000.0)
    await watch.checked([5], 1500.0)
    assert [a.entry.id for a in await watch.showing(10)] == [2, 5, 1]
    assert [a.entry.id for a in await watch.showing(1)] == [2]
    await watch.checked([], 3000.0)
    await watch.posted([], "1.0004", in_summary=False)
    # an entry found gone is shown no longer; a mark tried again after its answer was lost gets the same answer
    assert await watch.mark_gone(1)
    assert await watch.mark_gone(1)
    assert not await watch.mark_gone(99)
    assert [a.entry.id for a in await watch.showing(10)] == [2, 5]


async def test_of_two_processes_holding_at_once_exactly_one_holds(new_store: NewStore) -> None:
    one, two = watch_store(await new_store()), watch_store(await new_store())
    for round in range(5):
        at = 1000.0 + 1000 * round  # the last lease is stale again by now
        held = await asyncio.gather(
            one.hold_watch(f"one-{round}", at, at - 100), two.hold_watch(f"two-{round}", at, at - 100)
        )
        assert sorted(h for h, _ in held) == [False, True], held
