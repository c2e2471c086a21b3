"""Trusted networks on the watcher: a new entry whose rule has ``auto_on_watch`` is not announced for a person to
ask about; the watch service unblocks it, through the request service, once; every other new entry is announced
as before. Each test drives the watch service one tick at a time (``bot.domain.watch.Watch``)."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Sequence

import pytest

from bot.domain.entries import BlocklistEntry
from bot.domain.model import WATCHER, Asked, State
from bot.domain.ports import Announcement
from bot.domain.rules import Approvers, Rule
from bot.domain.watch import Watch, Watched, WatchRules

from .fakes import APPROVER, CHANNEL, Stopped, World, stopped_during, world
from .watch_fakes import Announcer, WatchedList, WatchStore, blocked

WATCH = "C0WATCH"
INTERVAL = 10.0
BRANCH = ipaddress.ip_network("198.51.100.0/24")
TRUSTED = blocked(57, "198.51.100.57")
OUTSIDE = blocked(58, "192.0.2.58")


def rules(*, on_watch: bool = True) -> list[Rule]:
    """The rule of trusted networks, as the rules file gives it: the settings' approvers may undo."""
    approvers = Approvers(users=frozenset({APPROVER}))
    return [Rule(name="Branch offices", networks=(BRANCH,), approvers=approvers, auto=True, auto_on_watch=on_watch)]


def watch(w: World, store: WatchStore, blocklist: WatchedList, holder: str = "bot-a") -> Watch:
    return Watch(store, blocklist, WatchRules(WATCH, INTERVAL), holder, w.clock, Announcer(), w.process(holder))


def announcer(watch: Watch) -> Announcer:
    assert isinstance(watch.announcer, Announcer)
    return watch.announcer


async def started(
    w: World, store: WatchStore, blocklist: WatchedList, entries: Sequence[BlocklistEntry] = (TRUSTED, OUTSIDE)
) -> Watch:
    """Watching started (what is listed then is not news), and ``entries`` new since (by default one inside the
    trusted network, one outside)."""
    one = watch(w, store, blocklist)
    await one.tick()
    for entry in entries:
        blocklist.put(entry)
        w.ip.put(entry)
    w.clock.advance(INTERVAL)
    return one


async def next_tick(w: World, one: Watch) -> Watched:
    w.clock.advance(INTERVAL)
    return await one.tick()


@pytest.fixture
def store() -> WatchStore:
    return WatchStore()


@pytest.fixture
def blocklist() -> WatchedList:
    return WatchedList()


async def test_a_new_entry_of_a_trusted_network_is_unblocked_once_and_the_others_are_announced_as_before(
    store: WatchStore, blocklist: WatchedList
) -> None:
    w = world(rules=rules())
    one = await started(w, store, blocklist)

    watched = await one.tick()

    [done] = watched.unblocked
    assert done.state is State.UNBLOCKED and done.asked == Asked(WATCHER, WATCH, done.asked.at)  # no reason
    assert (done.decision.rule, done.decision.auto, done.decision.by) == ("Branch offices", True, None)
    assert [t.id for t in done.removed] == [57]
    assert w.ip.called("remove") == [57] and 57 not in w.ip.entries
    assert [r.id for r in w.cards.shown] == [done.id]
    assert await w.moves(done.id) == [
        (None, State.PENDING),
        (State.PENDING, State.EXECUTING),
        (State.EXECUTING, State.UNBLOCKED),
    ]
    assert done.done.undo_until is not None  # Undo, within the undo window, as for any request
    assert announcer(one).posts == [("new", [58])]  # the other announced with Request unblock, as before

    # the announcement is the request's card: posted, never checked or changed by the watcher
    assert store.announced()[57] == Announcement(TRUSTED, WATCH, "1700000000.000001", in_summary=True)
    blocklist.drop(57)
    blocklist.drop(58)
    again = await next_tick(w, one)
    assert again.unblocked == () and announcer(one).gone_ids == [58]
    assert w.ip.called("remove") == [57]


async def test_two_ticks_at_once_unblock_the_entry_once(store: WatchStore, blocklist: WatchedList) -> None:
    w = world(rules=rules())
    one = await started(w, store, blocklist, [TRUSTED])
    other = watch(w, store, blocklist, holder="bot-b")

    await asyncio.gather(one.tick(), other.tick())

    assert w.ip.called("remove") == [57]
    assert len(w.cards.shown) == 1


async def test_a_card_that_could_not_be_shown_unblocks_nothing_and_the_next_tick_tries_again(
    store: WatchStore, blocklist: WatchedList
) -> None:
    w = world(rules=rules())
    one = await started(w, store, blocklist, [TRUSTED])
    w.cards.error = "channel_not_found"

    assert (await one.tick()).unblocked == ()
    assert w.ip.called("remove") == []

    w.cards.error = None
    [done] = (await next_tick(w, one)).unblocked
    assert done.state is State.UNBLOCKED
    assert w.ip.called("remove") == [57]


async def test_an_entry_put_back_by_an_undo_still_under_way_is_not_unblocked_by_the_watcher(
    store: WatchStore, blocklist: WatchedList
) -> None:
    w = world(rules=rules())
    one = await started(w, store, blocklist, ())
    w.ip.put(TRUSTED)
    request = await w.request(TRUSTED)  # its rule carries it out at once
    with stopped_during(w), pytest.raises(Stopped):
        await w.requests.undo(request.id, APPROVER, CHANNEL)  # claimed; the PBX's answer not recorded yet
    assert (await w.state(request.id)).state is State.UNDOING
    back = blocked(90, "198.51.100.57")  # what the PBX lists once it put the entry back
    blocklist.put(back)
    w.ip.put(back)

    assert (await next_tick(w, one)).unblocked == ()
    assert announcer(one).posts == [("new", [90])]
    assert w.ip.called("remove") == [TRUSTED.id]


async def test_a_burst_said_in_one_message_is_unblocked_each_as_its_own_request_and_never_again(
    store: WatchStore, blocklist: WatchedList
) -> None:
    w = world(rules=rules())
    one = await started(w, store, blocklist, [blocked(n, f"198.51.100.{n}") for n in range(100, 160)])

    watched = await one.tick()

    assert watched.unblocked == ()  # said in the one message, not on cards of their own
    [(kind, ids)] = announcer(one).posts
    assert kind == "unblocking" and ids == list(range(100, 160))
    requests = announcer(one).unblocked_in["2000000000.000001"]
    assert len({r.id for r in requests}) == 60 and all(r.state is State.UNBLOCKED for r in requests)
    assert set(w.ip.called("remove")) == set(range(100, 160))
    assert w.cards.shown == [] and w.store.calls["undone"] == 1  # one read of the requests undone serves them all
    await next_tick(w, one)
    assert len(announcer(one).posts) == 1  # each counts as announced in that message
    assert len(w.ip.called("remove")) == 60


async def test_without_auto_on_watch_every_new_entry_is_announced(store: WatchStore, blocklist: WatchedList) -> None:
    w = world(rules=rules(on_watch=False))
    one = await started(w, store, blocklist)

    assert (await one.tick()).unblocked == ()

    assert announcer(one).posts == [("new", [57]), ("new", [58])]
    assert w.ip.called("remove") == []
