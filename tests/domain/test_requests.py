"""The service that owns a request's life, as the Slack layer calls it: opening (non-blocking entries never
offered, a request whose card could not be shown withdrawn), the clicks that claim and carry out, undo, and
when the upkeep expires."""

from __future__ import annotations

from dataclasses import replace

from bot.domain.model import State, UnblockRequest
from bot.domain.ports import Shown
from bot.domain.results import AlreadyResolved, NothingToUnblock, Opened, Resolved, Withdrawn

from .fakes import (
    APPROVER,
    CHANNEL,
    EXPIRE_EVERY,
    GROUP_MEMBER,
    REQUESTER,
    TIMING,
    World,
    allowed_address,
    world,
)

P, X, U = State.PENDING, State.EXECUTING, State.UNBLOCKED


async def opened(w: World, *entry_ids: int) -> UnblockRequest:
    targets = [w.ip.entries[i] for i in entry_ids]
    result = await w.requests.open(targets, REQUESTER, CHANNEL, "VPN moved", asked_in=None)
    assert isinstance(result, Opened), result
    return result.request


# -- opening ------------------------------------------------------------------------------------------


async def test_open_offers_only_the_blocking_entries_and_shows_the_card() -> None:
    w = world()
    w.ip.put(allowed_address(90, "192.0.2.9"))
    result = await w.requests.open([w.ip.entries[42], w.ip.entries[90]], REQUESTER, CHANNEL, None, asked_in=None)
    assert isinstance(result, Opened) and [t.id for t in result.request.what.targets] == [42]
    assert result.shown == Shown("1700000000.000001") and [r.state for r in w.cards.shown] == [P]
    nothing = await w.requests.open([w.ip.entries[90]], REQUESTER, CHANNEL, None, asked_in=None)
    assert isinstance(nothing, NothingToUnblock) and len(w.cards.shown) == 1


async def test_a_request_whose_card_could_not_be_shown_is_withdrawn_and_frees_its_entries() -> None:
    w = world()
    w.cards.error = "channel_not_found"
    result = await w.requests.open([w.ip.entries[42]], REQUESTER, CHANNEL, None, asked_in=None)
    assert isinstance(result, Withdrawn) and result.reason == "channel_not_found"
    now = await w.state(result.request.id)
    assert now.state is State.CANCELLED and await w.moves(now.id) == [(None, P), (P, State.CANCELLED)]
    w.cards.error = None
    assert isinstance(await w.requests.open([w.ip.entries[42]], REQUESTER, CHANNEL, None, asked_in=None), Opened)


# -- clicks ---------------------------------------------------------------------------------------------


async def test_approve_claims_then_carries_out_and_returns_the_finished_request() -> None:
    w = world()
    request = await opened(w, 42, 43)
    seen: list[tuple[State, list[object]]] = []
    w.cards.then = lambda r: seen.append((r.state, w.ip.called("remove")))
    result = await w.requests.approve(request.id, APPROVER, CHANNEL)
    assert seen == [(X, [])]  # told of the claim before 3CX was asked
    assert isinstance(result, Resolved) and result.request.state is U and result.request.owner is None
    assert w.ip.called("remove") == [42, 43]


async def test_undo_claims_then_puts_back_what_was_removed() -> None:
    w = world()
    request = await opened(w, 42)
    assert isinstance(await w.requests.approve(request.id, APPROVER, CHANNEL), Resolved)
    seen: list[State] = []
    w.cards.then = lambda r: seen.append(r.state)
    result = await w.requests.undo(request.id, GROUP_MEMBER, CHANNEL)
    assert seen == [State.UNDOING]
    assert isinstance(result, Resolved) and result.request.state is State.UNDONE
    assert w.ip.called("restore") == [42]
    assert isinstance(await w.requests.undo(request.id, GROUP_MEMBER, CHANNEL), AlreadyResolved)


# -- upkeep ------------------------------------------------------------------------------------------


async def test_upkeep_expires_only_when_due() -> None:
    w = world(timing=replace(TIMING, ttl=10.0))
    assert (await w.requests.upkeep()).expired == []  # the first round expires (nothing yet)
    waiting = await opened(w, 43)
    w.clock.advance(11.0)
    early = await w.requests.upkeep()
    assert early.expired == [] and (await w.state(waiting.id)).state is P  # not due before EXPIRE_EVERY
    w.clock.advance(EXPIRE_EVERY)
    [expired] = (await w.requests.upkeep()).expired
    assert (expired.id, expired.state) == (waiting.id, State.EXPIRED)
