"""Watching the blocklist (``bot.domain.watch.Watch``), one tick at a time: one process watches at a time, the first
look only sets the mark, later looks announce each new entry the rules want, kept exactly once, and announcements
whose entry the PBX no longer lists are said gone once. Trusted networks: a new entry whose rule has
``auto_on_watch`` is not announced for a person to ask about; the watch service unblocks it, through the request
service, once; every other new entry is announced as before."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Sequence

import pytest

from bot.domain.entries import BlocklistEntry
from bot.domain.model import WATCHER, Asked, State
from bot.domain.ports import Announcement
from bot.domain.rules import Approvers, Rule
from bot.domain.watch import CHECKS, HOLD_EVERY, PAGE, Watch, Watched, WatchRules

from .fakes import (
    APPROVER,
    CHANNEL,
    Advance,
    Announcer,
    FakeBlocklist,
    Stopped,
    WatchStore,
    World,
    blocked_address,
    stopped_during,
    world,
)
from .fakes import FakeClock as Clock

WATCH = "C0WATCH"
ONE, TWO, THREE = "process-one", "process-two", "process-three"
INTERVAL = 10.0
AUTO = frozenset({"AutoBlacklist"})


@pytest.fixture
def store() -> WatchStore:
    return WatchStore()


@pytest.fixture
def blocklist() -> FakeBlocklist:
    return FakeBlocklist([blocked_address(40, "198.51.100.23"), blocked_address(42)])


@pytest.fixture
def clock() -> Clock:
    return Clock()


def watcher(
    store: WatchStore,
    blocklist: FakeBlocklist,
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
    blocklist = FakeBlocklist()
    one = watcher(store, blocklist, clock)
    await one.tick()
    assert store.mark == 0

    blocklist.put(blocked_address(1))
    clock.advance(INTERVAL)
    await one.tick()
    assert said(one).posts == [("new", [1])] and blocklist.called("added_after") == [(0, PAGE)]


NEW = [
    blocked_address(43, "192.0.2.43"),
    blocked_address(44, "192.0.2.44", block_type="Allow"),
    blocked_address(45, "192.0.2.45", added_by="Admin"),
    blocked_address(46, "192.0.2.46", added_by=None),
    blocked_address(47, "192.0.2.47"),
    blocked_address(48, "192.0.2.48", added_by="Admin"),
    blocked_address(49, "192.0.2.49", added_by="AutoBlacklist", block_type="Allow"),
]


@pytest.mark.parametrize(
    ("added_by", "kept"),
    [(AUTO, [43, 47]), (None, [43, 45, 46, 47, 48]), (frozenset({"Admin"}), [45, 48])],
    ids=["autoblacklist", "all", "admin"],
)
async def test_later_looks_announce_only_the_new_entries_the_rules_want_and_never_allow_entries(
    store: WatchStore, blocklist: FakeBlocklist, clock: Clock, added_by: frozenset[str] | None, kept: list[int]
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
    store: WatchStore, blocklist: FakeBlocklist, clock: Clock
) -> None:
    one = watcher(store, blocklist, clock)
    await one.tick()
    blocklist.put(blocked_address(43), blocked_address(44))
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
    store: WatchStore, blocklist: FakeBlocklist, clock: Clock
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
    blocklist.put(blocked_address(43))
    clock.now = last_renewal + 2 * INTERVAL
    assert await two.tick() == Watched(held=False)
    clock.now = last_renewal + 2 * INTERVAL + 0.001
    assert (await two.tick()).held

    assert said(two).posts == [("new", [43])]  # from where the first watcher was
    assert (store.holder, store.mark) == (TWO, 43) and blocklist.called("highest_id") == [None]
    assert await one.tick() == Watched(held=False)


class LateStore(WatchStore):
    """A store whose next answer to ``hold_watch`` comes ``late`` seconds after it was asked (the hold is kept with
    the time it was asked at, as a real store does)."""

    def __init__(self, clock: Clock) -> None:
        super().__init__()
        self.clock, self.late = clock, 0.0

    async def hold_watch(
        self, holder: str, at: float, stale_before: float, *, take_free: bool = True
    ) -> tuple[bool, int | None]:
        answer = await super().hold_watch(holder, at, stale_before, take_free=take_free)
        self.clock.advance(self.late)
        self.late = 0.0
        return answer


async def test_a_hold_the_database_answers_late_is_made_again_so_that_it_is_not_stale_sooner(
    blocklist: FakeBlocklist, clock: Clock
) -> None:
    store = LateStore(clock)
    one, two = watcher(store, blocklist, clock), watcher(store, blocklist, clock, TWO)
    assert (await one.tick()).held
    store.late = HOLD_EVERY  # the next renewal waits for the database as long as a hold lasts
    assert await one.hold()
    assert store.heartbeat_at == clock.now  # made again: held for the time it was answered at

    clock.advance(INTERVAL)  # a look: its hold answered late too
    store.late = HOLD_EVERY
    assert (await one.tick()).held
    assert store.heartbeat_at == clock.now
    clock.advance(2 * HOLD_EVERY - 1)
    assert not (await two.tick()).held  # not stale: a hold is two holds long from when it was answered


@pytest.mark.parametrize("first", [True, False], ids=["the first look", "a later look"])
async def test_a_look_slow_to_get_its_answer_never_makes_the_hold_older_than_its_renewal_meanwhile(
    store: WatchStore, blocklist: FakeBlocklist, clock: Clock, first: bool
) -> None:
    one, two = watcher(store, blocklist, clock, added_by=None), watcher(store, blocklist, clock, TWO)
    if not first:
        await one.tick()
        blocklist.put(blocked_address(43))
        clock.advance(INTERVAL)
    asked = "highest_id" if first else "added_after"

    async def slow_answer() -> None:  # 3CX answers a hold and more later; the hold is renewed meanwhile
        del blocklist.before[asked]
        clock.advance(HOLD_EVERY)
        assert await one.hold()
        clock.advance(HOLD_EVERY / 2)

    blocklist.before[asked] = slow_answer
    assert (await one.tick()).held

    clock.advance(2 * HOLD_EVERY - HOLD_EVERY / 2 - 1)  # within two holds of the renewal
    assert not (await two.tick()).held


async def test_looks_an_hour_apart_keep_the_watch_held_between_them_and_a_dead_holders_is_taken_within_30_s(
    store: WatchStore, blocklist: FakeBlocklist, clock: Clock
) -> None:
    hourly = WatchRules(WATCH, 3600.0, AUTO)
    one, two = (
        Watch(store, blocklist, hourly, holder, clock, Announcer(), world().process(holder)) for holder in (ONE, TWO)
    )
    assert (await one.tick()).held
    for _ in range(30):  # five minutes of holding between looks, every HOLD_EVERY seconds
        clock.advance(HOLD_EVERY)
        assert await one.hold()
        assert not await two.hold()
    last = clock.now  # the holder dies
    clock.now = last + 2 * HOLD_EVERY
    assert not await two.hold()
    clock.now = last + 2 * HOLD_EVERY + 0.001
    assert await two.hold() and not await one.hold()
    assert 2 * HOLD_EVERY + HOLD_EVERY <= 30  # taken at the latest one round after it went stale


async def test_a_look_whose_advance_lost_the_race_keeps_nothing(
    store: WatchStore, blocklist: FakeBlocklist, clock: Clock
) -> None:
    one, two = watcher(store, blocklist, clock, added_by=None), watcher(store, blocklist, clock, TWO)
    await one.tick()
    blocklist.put(blocked_address(43), blocked_address(44, "192.0.2.44", added_by="Admin"))

    async def taken_over_meanwhile() -> None:  # while the first watcher reads the list
        del blocklist.before["added_after"]
        clock.advance(2 * INTERVAL + 1)  # the first watcher's answer is late: its lease went stale
        await two.tick()

    blocklist.before["added_after"] = taken_over_meanwhile
    clock.advance(INTERVAL)
    await one.tick()

    assert (said(one).posts, said(two).posts) == ([], [("new", [43])])
    assert store.advances[-2:] == [Advance(TWO, 42, 44, (43,), True), Advance(ONE, 42, 44, (43, 44), False)]
    assert list(store.announced()) == [43]  # not 44, which only the first wanted
    assert (store.holder, store.mark) == (TWO, 44)


async def test_hand_on_lets_another_take_the_watch_at_once(
    store: WatchStore, blocklist: FakeBlocklist, clock: Clock
) -> None:
    one, two = watcher(store, blocklist, clock), watcher(store, blocklist, clock, TWO)
    await one.tick()
    blocklist.put(blocked_address(43))
    said(one).deliver = False  # kept, not yet posted when the first stops
    clock.advance(1)
    await one.tick()

    await one.hand_on()
    assert (store.holder, store.mark) == (None, 43)
    clock.advance(1)
    await two.tick()

    assert said(two).posts == [("new", [43])] and (store.holder, store.mark) == (TWO, 43)
    assert blocklist.called("highest_id") == [None]  # the mark was kept: watching does not start again
    clock.advance(1)
    assert await one.tick() == Watched(held=False)
    await one.hand_on()  # not the holder: changes nothing
    assert store.holder == TWO
    assert await watcher(store, blocklist, clock, THREE).tick() == Watched(held=False)


async def shown(one: Watch, blocklist: FakeBlocklist, clock: Clock, *entry_ids: int) -> None:
    """``one`` announced the entries, each in a message of its own."""
    blocklist.put(*(blocked_address(i, f"192.0.2.{i % 250}") for i in entry_ids))
    clock.advance(INTERVAL)
    await one.tick()
    assert said(one).posts[-len(entry_ids) :] == [("new", [i]) for i in entry_ids]


async def test_announcements_whose_entry_the_pbx_no_longer_lists_are_said_gone_once(
    store: WatchStore, blocklist: FakeBlocklist, clock: Clock
) -> None:
    one = watcher(store, blocklist, clock, burst=1)
    await one.tick()
    await shown(one, blocklist, clock, 43)
    await shown(one, blocklist, clock, 44)
    blocklist.put(blocked_address(45), blocked_address(46))
    clock.advance(INTERVAL)
    await one.tick()
    assert said(one).posts[-1] == ("burst", [45, 46])

    blocklist.drop(43, 45)
    clock.advance(INTERVAL)
    await one.tick()

    assert said(one).gone_ids == [43]
    # only messages of their own are checked: a summary is not
    assert blocklist.called("still_listed")[-1] == [43, 44]
    assert {i: a.gone for i, a in store.announced().items()} == {43: True, 44: False, 45: False, 46: False}
    assert store.checked_at[43] == store.checked_at[44] == clock.now

    clock.advance(INTERVAL)
    await one.tick()
    assert said(one).gone_ids == [43] and blocklist.called("still_listed")[-1] == [44]


async def test_the_announcements_checked_longest_ago_are_checked_first_a_few_at_a_time(
    store: WatchStore, blocklist: FakeBlocklist, clock: Clock
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
    assert blocklist.called("still_listed") == [posted[:24], posted[24:] + posted[:18]]
    assert not any(a.gone for a in store.announced().values())


# -- trusted networks ---------------------------------------------------------------------------------

P = State.PENDING
BRANCH = ipaddress.ip_network("198.51.100.0/24")
TRUSTED = blocked_address(57, "198.51.100.57")
OUTSIDE = blocked_address(58, "192.0.2.58")


def rules(*, on_watch: bool = True) -> list[Rule]:
    """The rule of trusted networks, as the rules file gives it: the settings' approvers may undo."""
    approvers = Approvers(users=frozenset({APPROVER}))
    return [Rule(name="Branch offices", networks=(BRANCH,), approvers=approvers, auto=True, auto_on_watch=on_watch)]


def watch(w: World, store: WatchStore, holder: str = "bot-a") -> Watch:
    return Watch(store, w.ip, WatchRules(WATCH, INTERVAL), holder, w.clock, Announcer(), w.process(holder))


async def started(w: World, store: WatchStore, entries: Sequence[BlocklistEntry] = (TRUSTED, OUTSIDE)) -> Watch:
    """Watching 3CX's IP blocklist started (what is listed then is not news), and ``entries`` new since (by default
    one inside the trusted network, one outside)."""
    one = watch(w, store)
    await one.tick()
    w.ip.put(*entries)
    w.clock.advance(INTERVAL)
    return one


async def next_tick(w: World, one: Watch) -> Watched:
    w.clock.advance(INTERVAL)
    return await one.tick()


async def test_a_new_entry_of_a_trusted_network_is_unblocked_once_and_the_others_are_announced_as_before(
    store: WatchStore,
) -> None:
    w = world(rules=rules())
    one = await started(w, store)

    watched = await one.tick()

    [done] = watched.unblocked
    assert done.state is State.UNBLOCKED and done.asked == Asked(WATCHER, WATCH, done.asked.at)  # no reason
    assert (done.decision.rule, done.decision.auto, done.decision.by) == ("Branch offices", True, None)
    assert [t.id for t in done.removed] == [57]
    assert w.ip.called("remove") == [57] and 57 not in w.ip.entries
    assert [r.id for r in w.cards.shown] == [done.id]
    assert await w.moves(done.id) == [(None, P), (P, State.EXECUTING), (State.EXECUTING, State.UNBLOCKED)]
    assert done.done.undo_until is not None  # Undo, within the undo window, as for any request
    assert said(one).posts == [("new", [58])]  # the other announced with Request unblock, as before

    # the announcement is the request's card: posted, never checked or changed by the watcher
    assert store.announced()[57] == Announcement(TRUSTED, WATCH, "1700000000.000001", in_summary=True)
    w.ip.drop(58)  # 57 is gone already
    again = await next_tick(w, one)
    assert again.unblocked == () and said(one).gone_ids == [58]
    assert w.ip.called("remove") == [57]


async def test_two_ticks_at_once_unblock_the_entry_once(store: WatchStore) -> None:
    w = world(rules=rules())
    one = await started(w, store, [TRUSTED])
    other = watch(w, store, holder="bot-b")

    await asyncio.gather(one.tick(), other.tick())

    assert w.ip.called("remove") == [57]
    assert len(w.cards.shown) == 1


async def test_a_card_that_could_not_be_shown_unblocks_nothing_and_the_next_tick_tries_again(store: WatchStore) -> None:
    w = world(rules=rules())
    one = await started(w, store, [TRUSTED])
    w.cards.error = "channel_not_found"

    assert (await one.tick()).unblocked == ()
    assert w.ip.called("remove") == []

    w.cards.error = None
    [done] = (await next_tick(w, one)).unblocked
    assert done.state is State.UNBLOCKED
    assert w.ip.called("remove") == [57]


async def test_an_entry_put_back_by_an_undo_still_under_way_is_not_unblocked_by_the_watcher(store: WatchStore) -> None:
    w = world(rules=rules())
    one = await started(w, store, ())
    w.ip.put(TRUSTED)
    request = await w.request(TRUSTED)  # its rule carries it out at once
    with stopped_during(w), pytest.raises(Stopped):
        await w.requests.undo(request.id, APPROVER, CHANNEL)  # claimed; the PBX's answer not recorded yet
    assert (await w.state(request.id)).state is State.UNDOING
    back = blocked_address(90, "198.51.100.57")  # what the PBX lists once it put the entry back
    w.ip.put(back)

    assert (await next_tick(w, one)).unblocked == ()
    assert said(one).posts == [("new", [90])]
    assert w.ip.called("remove") == [TRUSTED.id]


async def test_a_burst_said_in_one_message_is_unblocked_each_as_its_own_request_and_never_again(
    store: WatchStore,
) -> None:
    w = world(rules=rules())
    one = await started(w, store, [blocked_address(n, f"198.51.100.{n}") for n in range(100, 160)])

    watched = await one.tick()

    assert watched.unblocked == ()  # said in the one message, not on cards of their own
    [(kind, ids)] = said(one).posts
    assert kind == "unblocking" and ids == list(range(100, 160))
    requests = said(one).unblocked_in["2000000000.000001"]
    assert len({r.id for r in requests}) == 60 and all(r.state is State.UNBLOCKED for r in requests)
    assert set(w.ip.called("remove")) == set(range(100, 160))
    assert w.cards.shown == [] and w.store.calls["undone"] == 1  # one read of the requests undone serves them all
    await next_tick(w, one)
    assert len(said(one).posts) == 1  # each counts as announced in that message
    assert len(w.ip.called("remove")) == 60


async def test_without_auto_on_watch_every_new_entry_is_announced(store: WatchStore) -> None:
    w = world(rules=rules(on_watch=False))
    one = await started(w, store)

    assert (await one.tick()).unblocked == ()

    assert said(one).posts == [("new", [57]), ("new", [58])]
    assert w.ip.called("remove") == []
