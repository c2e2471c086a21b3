"""The service that owns a request's life, as the Slack layer calls it: opening (non-blocking entries never
offered, a request whose card could not be shown withdrawn, one open request per entry), who may approve, deny,
cancel and undo, where, two clicks at once, and expiry (by upkeep when due)."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from bot.domain.claims import ELSEWHERE
from bot.domain.entries import ALLOW
from bot.domain.model import State, UnblockRequest
from bot.domain.ports import Shown
from bot.domain.results import (
    AlreadyRequested,
    NothingToUnblock,
    Opened,
    Refusal,
    Refused,
    Resolved,
    Unknown,
    Why,
    Withdrawn,
)

from .fakes import (
    APPROVER,
    CHANNEL,
    EXPIRE_EVERY,
    GROUP_MEMBER,
    OTHER_CHANNEL,
    OTHER_USER,
    REQUESTER,
    TIMING,
    Stopped,
    World,
    blocked_address,
    blocked_number,
    stopped_during,
    world,
)

P, X, U = State.PENDING, State.EXECUTING, State.UNBLOCKED


async def unblocked(w: World) -> UnblockRequest:
    """A request for entry 42, approved and carried out (the entry removed)."""
    request = await w.request(w.ip.entries[42])
    click = await w.requests.approve(request.id, APPROVER, CHANNEL)
    assert isinstance(click, Resolved) and click.request.state is U
    return click.request


# -- opening, one open request per entry ---------------------------------------------------------


async def test_open_offers_only_the_blocking_entries_and_shows_the_card() -> None:
    w = world()
    w.ip.put(blocked_address(90, "192.0.2.9", block_type=ALLOW))
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


async def test_a_request_for_an_entry_in_an_open_request_is_the_open_one_until_its_time_is_up() -> None:
    w = world()
    first = await w.request(w.ip.entries[42])
    w.clock.advance(TIMING.ttl - 1)
    again = await w.requests.open([w.ip.entries[43], w.ip.entries[42]], OTHER_USER, CHANNEL, None, asked_in=None)
    assert again == AlreadyRequested(first) and [r.id for r in await w.store.recent(10)] == [first.id]
    assert w.store.open_targets == {"address:42": first.id}
    w.clock.advance(1)  # its time is up: the next request for its entry expires it
    new = await w.request(w.ip.entries[42], requester=OTHER_USER)
    assert await w.moves(first.id) == [(None, P), (P, State.EXPIRED)]
    w.numbers.put(blocked_number("42", "+15550199"))
    number = await w.request(w.numbers.entries["42"])  # an address and a number with the same Id: two entries
    assert w.store.open_targets == {"address:42": new.id, "number:42": number.id}


# -- who may decide --------------------------------------------------------------------------------


async def test_the_requester_cancels_and_is_told_to_rather_than_deny_and_nobody_else_may() -> None:
    w = world()
    request = await w.request(w.ip.entries[42])
    assert await w.requests.deny(request.id, REQUESTER, CHANNEL) == Refused(request, Refusal(Why.USE_CANCEL))
    for user in (APPROVER, OTHER_USER):
        assert await w.requests.cancel(request.id, user, CHANNEL) == Refused(
            request, Refusal(Why.NOT_REQUESTER, "cancel", requester=REQUESTER)
        )
    click = await w.requests.cancel(request.id, REQUESTER, CHANNEL)
    assert isinstance(click, Resolved) and click.request.state is State.CANCELLED
    assert await w.moves(request.id) == [(None, P), (P, State.CANCELLED)]
    assert w.store.open_targets == {}


async def test_a_click_on_a_card_of_another_channel_or_of_no_request_changes_nothing() -> None:
    w = world()
    request = await w.request(w.ip.entries[42])
    for click in (
        await w.requests.approve(request.id, APPROVER, OTHER_CHANNEL),
        await w.requests.deny(request.id, APPROVER, OTHER_CHANNEL),
        await w.requests.cancel(request.id, REQUESTER, OTHER_CHANNEL),
    ):
        assert click == Refused(request, ELSEWHERE)
    assert await w.moves(request.id) == [(None, P)]
    assert await w.requests.approve("nosuchrequest", APPROVER, CHANNEL) == Unknown("nosuchrequest")


# -- two clicks at once ----------------------------------------------------------------------------


async def test_of_an_approval_and_a_denial_at_once_exactly_one_wins() -> None:
    w = world()
    request = await w.request(w.ip.entries[42])
    clicks = await asyncio.gather(
        w.requests.deny(request.id, GROUP_MEMBER, CHANNEL), w.requests.approve(request.id, APPROVER, CHANNEL)
    )
    assert sorted(type(c).__name__ for c in clicks) == ["AlreadyResolved", "Resolved"]
    assert len(await w.moves(request.id)) in (2, 3)


# -- expiry ----------------------------------------------------------------------------------------


async def test_expire_due_expires_only_the_requests_past_their_time() -> None:
    w = world()
    w.ip.put(blocked_address(44, "192.0.2.1"))
    first = await w.request(w.ip.entries[42])
    w.clock.advance(10)
    second = await w.request(w.ip.entries[43])
    decided = await w.request(w.ip.entries[44])
    await w.requests.deny(decided.id, APPROVER, CHANNEL)
    w.clock.advance(TIMING.ttl - 10)
    assert [r.id for r in await w.requests.expire_due()] == [first.id]
    assert (await w.state(second.id)).state is P and (await w.state(decided.id)).state is State.DENIED
    w.clock.advance(9.9)  # the second has a tenth of a second left
    assert await w.requests.expire_due() == []
    w.clock.advance(0.1)
    assert [r.id for r in await w.requests.expire_due()] == [second.id]
    assert await w.store.waiting(10) == []


async def test_upkeep_expires_only_when_due() -> None:
    w = world(timing=replace(TIMING, ttl=10.0))
    assert (await w.requests.upkeep()).expired == []  # the first round expires (nothing yet)
    waiting = await w.request(w.ip.entries[43])
    w.clock.advance(11.0)
    early = await w.requests.upkeep()
    assert early.expired == [] and (await w.state(waiting.id)).state is P  # not due before EXPIRE_EVERY
    w.clock.advance(EXPIRE_EVERY)
    [expired] = (await w.requests.upkeep()).expired
    assert (expired.id, expired.state) == (waiting.id, State.EXPIRED)


# -- undo --------------------------------------------------------------------------------------------


async def test_undo_is_only_for_approvers_in_the_requests_channel() -> None:
    w = world()
    done = await unblocked(w)
    refused = await w.requests.undo(done.id, OTHER_USER, CHANNEL)
    assert refused == Refused(done, Refusal(Why.NOT_APPROVER, "undo", approvers=w.policy.rules.default.approvers))
    assert isinstance(await w.requests.undo(done.id, REQUESTER, CHANNEL), Refused)
    assert await w.requests.undo(done.id, APPROVER, OTHER_CHANNEL) == Refused(done, ELSEWHERE)
    assert (await w.state(done.id)).state is U


async def test_undo_is_offered_until_the_last_moment_of_its_window() -> None:
    w = world()
    done = await unblocked(w)
    assert done.done.undo_until == w.clock() + TIMING.undo_window
    w.clock.advance(TIMING.undo_window)
    assert isinstance(await w.requests.undo(done.id, APPROVER, CHANNEL), Resolved)
    w = world()
    done = await unblocked(w)
    w.clock.advance(TIMING.undo_window + 0.001)
    assert await w.requests.undo(done.id, APPROVER, CHANNEL) == Refused(done, Refusal(Why.TOO_LATE_TO_UNDO))


async def test_an_undo_whose_approver_check_outlasts_its_window_claims_nothing() -> None:
    w = world()
    done = await unblocked(w)
    w.clock.advance(TIMING.undo_window - 1)
    w.membership.during = lambda: w.clock.advance(2)  # the user group's members come two seconds later
    refused = await w.requests.undo(done.id, GROUP_MEMBER, CHANNEL)
    assert isinstance(refused, Refused) and refused.reason.why is Why.TOO_LATE_TO_UNDO
    now = await w.state(done.id)
    assert (now.state, now.done.undone_by, now.owner) == (U, None, None)
    assert w.ip.called("restore") == []


async def test_nothing_to_undo_when_the_entry_was_already_gone() -> None:
    w = world()
    request = await w.request(w.ip.entries[42])
    w.ip.drop(42)  # someone removed it in 3CX's console meanwhile
    click = await w.requests.approve(request.id, APPROVER, CHANNEL)
    assert isinstance(click, Resolved) and click.request.state is U and click.request.done.undo_until is None
    assert await w.requests.undo(request.id, APPROVER, CHANNEL) == Refused(click.request, Refusal(Why.NOTHING_TO_UNDO))


async def test_nothing_to_undo_before_the_unblock_is_done() -> None:
    w = world()
    request = await w.request(w.ip.entries[42])
    assert isinstance(await w.requests.undo(request.id, APPROVER, CHANNEL), Refused)
    with stopped_during(w), pytest.raises(Stopped):
        await w.requests.approve(request.id, APPROVER, CHANNEL)
    assert isinstance(await w.requests.undo(request.id, APPROVER, CHANNEL), Refused)  # still executing
    assert (await w.state(request.id)).state is X
