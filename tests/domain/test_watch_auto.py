"""Trusted networks on the watcher: a new entry whose rule has ``auto_on_watch`` is not announced for a person to
ask about; the watcher unblocks it, through the request service (``Watching.unblock``), once; every other new
entry is announced as before."""

from __future__ import annotations

import asyncio
import ipaddress

import pytest

from bot.domain.model import WATCHER, State, UnblockRequest
from bot.domain.policy import Approvers
from bot.domain.ports import Announcement
from bot.domain.requests import AlreadyRequested, Decided, NotShown, Opened, Requests, Resolved, Shown, Withdrawn
from bot.domain.results import OpenResult
from bot.domain.rules import Rule
from bot.domain.watch import PutBack, Watching, WatchRules
from bot.threecx.errors import ForbiddenError

from .fakes import APPROVER, CHANNEL, REQUESTER, World, world
from .watch_fakes import WatchedList, WatchStore, blocked

WATCH = "C0WATCH"
INTERVAL = 10.0
BRANCH = ipaddress.ip_network("198.51.100.0/24")
TRUSTED = blocked(57, "198.51.100.57")
OUTSIDE = blocked(58, "192.0.2.58")


def rules(*, on_watch: bool = True) -> list[Rule]:
    """The rule of trusted networks, as the rules file gives it: the settings' approvers may undo."""
    approvers = Approvers(users=frozenset({APPROVER}))
    return [Rule(name="Branch offices", networks=(BRANCH,), approvers=approvers, auto=True, auto_on_watch=on_watch)]


class Cards:
    """The ``show`` the Slack layer passes: each request's card, as a message ``ts`` (or Slack's error)."""

    def __init__(self, error: str | None = None) -> None:
        self.shown: list[UnblockRequest] = []
        self.error = error

    async def __call__(self, request: UnblockRequest) -> Shown | NotShown:
        if self.error is not None:
            return NotShown(self.error)
        self.shown.append(request)
        return Shown(f"1700000000.{len(self.shown):06d}")


async def seen(requests: Requests, watcher: Watching, found: Announcement, cards: Cards) -> OpenResult | PutBack:
    """What the watcher's look does with ``found``: the requests undone read, then the entry unblocked."""
    return await requests.unblock_seen(watcher, found, cards, await requests.undone_requests())


def watching(w: World, store: WatchStore, blocklist: WatchedList, holder: str = "bot-a") -> Watching:
    return Watching(store, blocklist, WatchRules(WATCH, INTERVAL), holder, w.clock, w.policy.rules)


async def first_look(w: World, store: WatchStore, blocklist: WatchedList) -> Watching:
    """Watching started (what is listed then is not news), and two new entries since: one inside the trusted
    network, one outside."""
    watcher = watching(w, store, blocklist)
    await watcher.look()
    for entry in (TRUSTED, OUTSIDE):
        blocklist.put(entry)
        w.ip.put(entry)
    w.clock.advance(INTERVAL)
    return watcher


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
    watcher = await first_look(w, store, blocklist)

    look = await watcher.look()
    assert look.new == 2
    assert look.unblock == (Announcement(TRUSTED, WATCH),)
    assert look.unposted == (Announcement(OUTSIDE, WATCH),)  # announced with Request unblock, as before

    cards = Cards()
    opened = await seen(w.requests, watcher, look.unblock[0], cards)

    assert isinstance(opened, Opened) and isinstance(opened.decided, Resolved)
    done = opened.decided.request
    assert (done.state, done.requester, done.channel, done.asked_in) == (State.UNBLOCKED, WATCHER, WATCH, None)
    assert (done.rule, done.auto, done.resolved_by, done.reason) == ("Branch offices", True, None, None)
    assert [t.id for t in done.removed] == [57]
    assert w.ip.called("remove") == [57] and 57 not in w.ip.entries
    assert [r.id for r in cards.shown] == [done.id]
    assert await w.moves(done.id) == [(None, State.PENDING), (State.PENDING, State.EXECUTING),
                                      (State.EXECUTING, State.UNBLOCKED)]  # fmt: skip
    assert done.undo_until is not None  # Undo, within the undo window, as for any request

    # the announcement is the request's card: posted, never checked or changed by the watcher
    assert store.announced()[57] == Announcement(TRUSTED, WATCH, "1700000000.000001", in_summary=True)
    blocklist.drop(57)
    w.clock.advance(INTERVAL)
    again = await watcher.look()
    assert (again.unblock, again.unposted, again.gone) == ((), (Announcement(OUTSIDE, WATCH),), ())
    assert w.ip.called("remove") == [57]


async def test_a_second_attempt_at_once_is_a_no_op(store: WatchStore, blocklist: WatchedList) -> None:
    w = world(rules=rules())
    watcher = await first_look(w, store, blocklist)
    [found] = (await watcher.look()).unblock
    other = watching(w, store, blocklist, holder="bot-b")

    one, two = await asyncio.gather(
        seen(w.requests, watcher, found, Cards()),
        seen(w.process("bot-b").requests, other, found, Cards()),
    )

    assert sorted(type(r).__name__ for r in (one, two)) == ["AlreadyRequested", "Opened"]
    assert w.ip.called("remove") == [57]
    assert any(isinstance(r, AlreadyRequested) and r.request.requester == WATCHER for r in (one, two))


async def test_an_entry_that_3cx_refuses_to_remove_ends_failed_with_its_reason_and_is_not_tried_again(
    store: WatchStore, blocklist: WatchedList
) -> None:
    w = world(rules=rules())
    watcher = await first_look(w, store, blocklist)
    [found] = (await watcher.look()).unblock
    w.ip.fail("remove", ForbiddenError("Forbidden", method="DELETE", status=403))

    opened = await seen(w.requests, watcher, found, Cards())

    assert isinstance(opened, Opened) and isinstance(opened.decided, Resolved)
    failed = opened.decided.request
    assert failed.state is State.FAILED and failed.results[0].answer.startswith("HTTP 403")
    assert 57 in w.ip.entries
    w.clock.advance(INTERVAL)
    assert (await watcher.look()).unblock == ()  # a person acts on the failed card; the watcher does not retry
    assert w.ip.called("remove") == [57]


async def test_a_card_slack_refused_unblocks_nothing_and_the_next_look_tries_again(
    store: WatchStore, blocklist: WatchedList
) -> None:
    w = world(rules=rules())
    watcher = await first_look(w, store, blocklist)
    [found] = (await watcher.look()).unblock

    refused = await seen(w.requests, watcher, found, Cards(error="channel_not_found"))
    assert isinstance(refused, Withdrawn)
    assert w.ip.called("remove") == []

    w.clock.advance(INTERVAL)
    [again] = (await watcher.look()).unblock
    opened = await seen(w.requests, watcher, again, Cards())
    assert isinstance(opened, Opened) and isinstance(opened.decided, Resolved)
    assert opened.decided.request.state is State.UNBLOCKED
    assert w.ip.called("remove") == [57]


async def test_an_entry_an_undo_put_back_is_announced_not_unblocked_again(
    store: WatchStore, blocklist: WatchedList
) -> None:
    w = world(rules=rules())
    watcher = await first_look(w, store, blocklist)
    [found] = (await watcher.look()).unblock
    opened = await seen(w.requests, watcher, found, Cards())
    assert isinstance(opened, Opened)

    undone = await w.requests.undo(opened.request.id, APPROVER, WATCH)
    assert isinstance(undone, Resolved) and undone.request.state is State.UNDONE
    back = w.ip.entries[int(undone.request.undo_results[0].new_id or 0)]
    blocklist.put(back)  # 3CX lists the entry the undo created, under a new Id
    w.clock.advance(INTERVAL)
    [again] = (await watcher.look()).unblock

    assert again.entry == back
    assert await seen(w.requests, watcher, again, Cards()) == PutBack(undone.request)
    assert w.ip.called("remove") == [57]


@pytest.mark.parametrize("how", ["approved", "carried out by its rule"])
async def test_an_entry_the_undo_of_a_persons_request_put_back_is_not_unblocked_by_the_watcher(
    store: WatchStore, blocklist: WatchedList, how: str
) -> None:
    w = world(rules=rules())
    watcher = watching(w, store, blocklist)
    await watcher.look()
    w.ip.put(TRUSTED)  # listed before watching started: a person asks for it
    done: Decided | None
    if how == "approved":
        request = await w.request(TRUSTED)
        done = await w.requests.approve(request.id, APPROVER, CHANNEL)
    else:
        opened = await w.requests.open([TRUSTED], REQUESTER, CHANNEL, None, asked_in=None, show=Cards())
        assert isinstance(opened, Opened)
        done = opened.decided
    assert isinstance(done, Resolved) and done.request.state is State.UNBLOCKED
    undone = await w.requests.undo(done.request.id, APPROVER, CHANNEL)
    assert isinstance(undone, Resolved) and undone.request.state is State.UNDONE
    back = w.ip.entries[int(undone.request.undo_results[0].new_id or 0)]
    blocklist.put(back)  # 3CX lists the entry the undo created, under a new Id
    w.clock.advance(INTERVAL)
    [again] = (await watcher.look()).unblock

    assert await seen(w.requests, watcher, again, Cards()) == PutBack(undone.request)
    assert w.ip.called("remove") == [TRUSTED.id]


async def test_an_entry_put_back_by_an_undo_still_under_way_is_not_unblocked_by_the_watcher(
    store: WatchStore, blocklist: WatchedList
) -> None:
    w = world(rules=rules())
    watcher = watching(w, store, blocklist)
    await watcher.look()
    w.ip.put(TRUSTED)
    request = await w.request(TRUSTED)
    done = await w.requests.approve(request.id, APPROVER, CHANNEL)
    assert isinstance(done, Resolved)
    claimed = await w.decisions.undo(request.id, APPROVER, CHANNEL)  # claimed; 3CX's answer not recorded yet
    assert isinstance(claimed, Resolved) and claimed.request.state is State.UNDOING
    back = blocked(90, "198.51.100.57")  # what 3CX lists once it put the entry back
    blocklist.put(back)
    w.ip.put(back)
    w.clock.advance(INTERVAL)
    [again] = (await watcher.look()).unblock

    assert await seen(w.requests, watcher, again, Cards()) == PutBack(claimed.request)
    assert w.ip.called("remove") == [TRUSTED.id]


async def test_a_burst_shown_in_one_message_is_unblocked_each_as_its_own_request_and_never_again(
    store: WatchStore, blocklist: WatchedList
) -> None:
    w = world(rules=rules())
    watcher = watching(w, store, blocklist)
    await watcher.look()
    for n in range(100, 160):
        entry = blocked(n, f"198.51.100.{n}")
        blocklist.put(entry)
        w.ip.put(entry)
    w.clock.advance(INTERVAL)
    look = await watcher.look()
    earlier = await w.requests.undone_requests()

    async def one_message(request: UnblockRequest) -> Shown:
        return Shown("1700000000.000001")  # the burst's one message is every request's announcement

    opened = [await w.requests.unblock_seen(watcher, found, one_message, earlier) for found in look.unblock]

    assert all(isinstance(o, Opened) and isinstance(o.decided, Resolved) for o in opened)
    assert len({o.request.id for o in opened if isinstance(o, Opened)}) == 60
    assert set(w.ip.called("remove")) == set(range(100, 160))
    w.clock.advance(INTERVAL)
    again = await watcher.look()
    assert again.unblock == () and again.unposted == ()  # each counts as announced in that message
    assert len(w.ip.called("remove")) == 60


async def test_one_read_of_the_undone_requests_serves_every_entry_a_look_unblocks(
    store: WatchStore, blocklist: WatchedList
) -> None:
    w = world(rules=rules())
    watcher = watching(w, store, blocklist)
    await watcher.look()
    also = blocked(59, "198.51.100.59")
    for entry in (TRUSTED, also):
        blocklist.put(entry)
        w.ip.put(entry)
    w.clock.advance(INTERVAL)
    look = await watcher.look()
    assert [a.entry for a in look.unblock] == [TRUSTED, also]

    earlier = await w.requests.undone_requests()
    opened = [await w.requests.unblock_seen(watcher, found, Cards(), earlier) for found in look.unblock]

    assert all(isinstance(o, Opened) and isinstance(o.decided, Resolved) for o in opened)
    assert w.ip.called("remove") == [57, 59]
    assert w.store.calls["undone"] == 1


@pytest.mark.parametrize("on_watch", [False, None], ids=["auto-without-on-watch", "no-rules"])
async def test_without_auto_on_watch_every_new_entry_is_announced(
    store: WatchStore, blocklist: WatchedList, on_watch: bool | None
) -> None:
    w = world(rules=rules(on_watch=bool(on_watch)))
    watcher = await first_look(w, store, blocklist)
    if on_watch is None:
        watcher = Watching(store, blocklist, WatchRules(WATCH, INTERVAL), "bot-a", w.clock)

    look = await watcher.look()

    assert look.unblock == ()
    assert look.unposted == (Announcement(TRUSTED, WATCH), Announcement(OUTSIDE, WATCH))
