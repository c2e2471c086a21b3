"""Deciding: one open request per entry, who may approve, deny, cancel and undo, two clicks at once, expiry."""

from __future__ import annotations

import asyncio

from bot.domain.decisions import (
    ELSEWHERE,
    NOT_ALLOWABLE,
    AlreadyRequested,
    AlreadyResolved,
    Expired,
    Refused,
    Resolved,
    Unknown,
)
from bot.domain.model import State, UnblockRequest
from bot.domain.policy import Refusal, Why

from .fakes import (
    APPROVER,
    CHANNEL,
    GROUP_MEMBER,
    OTHER_CHANNEL,
    OTHER_USER,
    REQUESTER,
    TIMING,
    World,
    blocked_address,
    blocked_number,
    world,
)

P, X, U, F = State.PENDING, State.EXECUTING, State.UNBLOCKED, State.FAILED


async def approved_and_done(w: World) -> UnblockRequest:
    """A request for entry 42, approved and carried out (the entry removed)."""
    request = await w.request(w.ip.entries[42])
    click = await w.decisions.approve(request.id, APPROVER, CHANNEL)
    assert isinstance(click, Resolved)
    done = await w.execution.execute(click.request)
    assert done is not None and done.state is U
    return done


# -- one open request per entry ------------------------------------------------------------------


async def test_a_second_request_for_an_entry_in_an_open_request_is_the_open_one() -> None:
    w = world()
    first = await w.request(w.ip.entries[42])
    again = await w.decisions.open_request([w.ip.entries[43], w.ip.entries[42]], OTHER_USER, CHANNEL)
    assert again == AlreadyRequested(first)
    assert [r.id for r in await w.store.recent(10)] == [first.id]
    assert w.store.open_targets == {"address:42": first.id}


async def test_an_entry_is_free_again_once_its_request_is_decided() -> None:
    w = world()
    first = await w.request(w.ip.entries[42])
    assert isinstance(await w.decisions.deny(first.id, APPROVER, CHANNEL), Resolved)
    second = await w.decisions.open_request([w.ip.entries[42]], REQUESTER, CHANNEL)
    assert isinstance(second, UnblockRequest) and second.id != first.id
    assert w.store.open_targets == {"address:42": second.id}


async def test_an_address_and_a_number_with_the_same_id_are_different_entries() -> None:
    w = world()
    w.numbers.put(blocked_number("42", "+15550199"))
    await w.request(w.ip.entries[42])
    assert isinstance(await w.decisions.open_request([w.numbers.entries["42"]], REQUESTER, CHANNEL), UnblockRequest)


async def test_a_pending_request_past_its_time_is_expired_by_the_next_request_for_its_entry() -> None:
    w = world()
    old = await w.request(w.ip.entries[42])
    w.clock.advance(TIMING.ttl)
    new = await w.decisions.open_request([w.ip.entries[42]], OTHER_USER, CHANNEL)
    assert isinstance(new, UnblockRequest) and new.id != old.id
    assert (await w.state(old.id)).state is State.EXPIRED
    assert await w.moves(old.id) == [(None, P), (P, State.EXPIRED)]
    assert w.store.open_targets == {"address:42": new.id}


async def test_a_pending_request_still_in_time_is_not_expired_by_another_request() -> None:
    w = world()
    old = await w.request(w.ip.entries[42])
    w.clock.advance(TIMING.ttl - 1)
    assert await w.decisions.open_request([w.ip.entries[42]], OTHER_USER, CHANNEL) == AlreadyRequested(old)
    assert (await w.state(old.id)).state is P


# -- who may decide --------------------------------------------------------------------------------


async def test_an_approver_approves_and_the_request_is_claimed_for_this_process() -> None:
    w = world()
    request = await w.request(w.ip.entries[42])
    click = await w.decisions.approve(request.id, APPROVER, CHANNEL)
    assert isinstance(click, Resolved)
    assert (click.request.state, click.request.resolved_by, click.request.owner) == (X, APPROVER, "bot-a")
    assert click.request.resolved_at == w.clock()
    assert await w.moves(request.id) == [(None, P), (P, X)]
    assert w.ip.calls == []  # deciding never talks to 3CX


async def test_a_member_of_an_approvers_group_approves() -> None:
    w = world()
    request = await w.request(w.ip.entries[42])
    click = await w.decisions.approve(request.id, GROUP_MEMBER, None)  # from the Home tab
    assert isinstance(click, Resolved) and click.request.resolved_by == GROUP_MEMBER


async def test_someone_who_is_no_approver_is_refused_with_the_approvers_named() -> None:
    w = world()
    request = await w.request(w.ip.entries[42])
    approvers = w.policy.rules.default.approvers
    assert await w.decisions.approve(request.id, OTHER_USER, CHANNEL) == Refused(
        request, Refusal(Why.NOT_APPROVER, "approve", approvers=approvers)
    )
    assert await w.decisions.deny(request.id, OTHER_USER, CHANNEL) == Refused(
        request, Refusal(Why.NOT_APPROVER, "deny", approvers=approvers)
    )
    assert (await w.state(request.id)).state is P
    assert await w.moves(request.id) == [(None, P)]


async def test_an_approver_may_not_approve_their_own_request() -> None:
    w = world()
    request = await w.request(w.ip.entries[42], requester=APPROVER)
    click = await w.decisions.approve(request.id, APPROVER, CHANNEL)
    assert click == Refused(request, Refusal(Why.OWN_REQUEST, "approve"))
    assert (await w.state(request.id)).state is P


async def test_self_approval_when_the_settings_allow_it() -> None:
    w = world(allow_self_approval=True)
    request = await w.request(w.ip.entries[42], requester=APPROVER)
    click = await w.decisions.approve(request.id, APPROVER, CHANNEL)
    assert isinstance(click, Resolved) and click.request.state is X


async def test_an_approver_denies_and_the_entry_is_freed() -> None:
    w = world()
    request = await w.request(w.ip.entries[42])
    click = await w.decisions.deny(request.id, APPROVER, CHANNEL)
    assert isinstance(click, Resolved)
    assert (click.request.state, click.request.resolved_by, click.request.owner) == (State.DENIED, APPROVER, None)
    assert w.store.open_targets == {}


async def test_the_requester_is_told_to_cancel_rather_than_deny() -> None:
    w = world()
    request = await w.request(w.ip.entries[42])
    assert await w.decisions.deny(request.id, REQUESTER, CHANNEL) == Refused(request, Refusal(Why.USE_CANCEL))


async def test_the_requester_cancels_and_nobody_else_may() -> None:
    w = world()
    request = await w.request(w.ip.entries[42])
    for user in (APPROVER, OTHER_USER):
        assert await w.decisions.cancel(request.id, user, CHANNEL) == Refused(
            request, Refusal(Why.NOT_REQUESTER, "cancel", requester=REQUESTER)
        )
    click = await w.decisions.cancel(request.id, REQUESTER, CHANNEL)
    assert isinstance(click, Resolved) and click.request.state is State.CANCELLED
    assert await w.moves(request.id) == [(None, P), (P, State.CANCELLED)]
    assert w.store.open_targets == {}


async def test_a_click_on_a_card_of_another_channel_changes_nothing() -> None:
    w = world()
    request = await w.request(w.ip.entries[42])
    for click in (
        await w.decisions.approve(request.id, APPROVER, OTHER_CHANNEL),
        await w.decisions.deny(request.id, APPROVER, OTHER_CHANNEL),
        await w.decisions.cancel(request.id, REQUESTER, OTHER_CHANNEL),
    ):
        assert click == Refused(request, ELSEWHERE)
    assert await w.moves(request.id) == [(None, P)]


async def test_a_click_on_a_request_the_store_does_not_know() -> None:
    w = world()
    assert await w.decisions.approve("nosuchrequest", APPROVER, CHANNEL) == Unknown("nosuchrequest")


async def test_a_click_after_the_decision_changes_nothing() -> None:
    w = world()
    request = await w.request(w.ip.entries[42])
    await w.decisions.deny(request.id, APPROVER, CHANNEL)
    click = await w.decisions.approve(request.id, GROUP_MEMBER, CHANNEL)
    assert isinstance(click, AlreadyResolved) and click.request.state is State.DENIED
    assert await w.moves(request.id) == [(None, P), (P, State.DENIED)]


# -- two clicks at once ----------------------------------------------------------------------------


async def test_of_two_approvals_at_once_exactly_one_claims_the_request() -> None:
    w = world()
    request = await w.request(w.ip.entries[42])
    clicks = await asyncio.gather(
        w.decisions.approve(request.id, APPROVER, CHANNEL),
        w.process("bot-b").decisions.approve(request.id, GROUP_MEMBER, CHANNEL),
    )
    won = [c for c in clicks if isinstance(c, Resolved)]
    lost = [c for c in clicks if isinstance(c, AlreadyResolved)]
    assert (len(won), len(lost)) == (1, 1), clicks
    assert w.store.calls["transition"] == 2  # both clicks got as far as the compare-and-set
    assert await w.moves(request.id) == [(None, P), (P, X)]
    assert lost[0].request.resolved_by == won[0].request.resolved_by


async def test_of_an_approval_and_a_denial_at_once_exactly_one_wins() -> None:
    w = world()
    request = await w.request(w.ip.entries[42])
    clicks = await asyncio.gather(
        w.decisions.deny(request.id, GROUP_MEMBER, CHANNEL), w.decisions.approve(request.id, APPROVER, CHANNEL)
    )
    assert sorted(type(c).__name__ for c in clicks) == ["AlreadyResolved", "Resolved"]
    assert len(await w.moves(request.id)) == 2


# -- expiry ----------------------------------------------------------------------------------------


async def test_a_click_after_the_time_is_up_expires_the_request() -> None:
    w = world()
    request = await w.request(w.ip.entries[42])
    w.clock.advance(TIMING.ttl)
    click = await w.decisions.approve(request.id, OTHER_USER, CHANNEL)  # expired, whoever clicks
    assert isinstance(click, Expired) and click.just_now and click.request.state is State.EXPIRED
    again = await w.decisions.approve(request.id, APPROVER, CHANNEL)
    assert isinstance(again, Expired) and not again.just_now
    assert await w.moves(request.id) == [(None, P), (P, State.EXPIRED)]
    assert w.store.open_targets == {}


async def test_a_click_whose_approver_check_outlasts_the_request_claims_nothing() -> None:
    w = world()
    request = await w.request(w.ip.entries[42])
    w.clock.advance(TIMING.ttl - 1)
    w.membership.during = lambda: w.clock.advance(2)  # Slack answers about the user group two seconds later
    click = await w.decisions.approve(request.id, GROUP_MEMBER, CHANNEL)
    assert isinstance(click, Expired) and click.just_now
    now = await w.state(request.id)
    assert (now.state, now.resolved_by, now.owner) == (State.EXPIRED, None, None)
    assert await w.moves(request.id) == [(None, P), (P, State.EXPIRED)]


async def test_expire_due_expires_only_the_requests_past_their_time() -> None:
    w = world()
    w.ip.put(blocked_address(44, "192.0.2.1"))
    first = await w.request(w.ip.entries[42])
    w.clock.advance(10)
    second = await w.request(w.ip.entries[43])
    decided = await w.request(w.ip.entries[44])
    await w.decisions.deny(decided.id, APPROVER, CHANNEL)
    w.clock.advance(TIMING.ttl - 10)
    assert [r.id for r in await w.decisions.expire_due()] == [first.id]
    assert (await w.state(second.id)).state is P
    assert (await w.state(decided.id)).state is State.DENIED
    w.clock.advance(9.9)  # the second has a tenth of a second left
    assert await w.decisions.expire_due() == []
    w.clock.advance(0.1)
    assert [r.id for r in await w.decisions.expire_due()] == [second.id]
    assert await w.store.count_pending() == 0


# -- undo --------------------------------------------------------------------------------------------


async def test_an_approver_undoes_an_unblock_once() -> None:
    w = world()
    done = await approved_and_done(w)
    click = await w.decisions.undo(done.id, GROUP_MEMBER, CHANNEL)
    assert isinstance(click, Resolved)
    assert (click.request.state, click.request.undone_by, click.request.owner) == (State.UNDOING, GROUP_MEMBER, "bot-a")
    again = await w.decisions.undo(done.id, APPROVER, CHANNEL)
    assert isinstance(again, AlreadyResolved)
    assert await w.moves(done.id) == [(None, P), (P, X), (X, U), (U, State.UNDOING)]


async def test_two_undos_at_once_claim_it_once() -> None:
    w = world()
    done = await approved_and_done(w)
    clicks = await asyncio.gather(
        w.decisions.undo(done.id, APPROVER, CHANNEL), w.process("bot-b").decisions.undo(done.id, GROUP_MEMBER, CHANNEL)
    )
    assert sorted(type(c).__name__ for c in clicks) == ["AlreadyResolved", "Resolved"]
    assert (await w.moves(done.id)).count((U, State.UNDOING)) == 1


async def test_undo_is_only_for_approvers_and_not_by_the_requester() -> None:
    w = world()
    done = await approved_and_done(w)
    refused = await w.decisions.undo(done.id, OTHER_USER, CHANNEL)
    assert isinstance(refused, Refused) and refused.reason == Refusal(
        Why.NOT_APPROVER, "undo", approvers=w.policy.rules.default.approvers
    )
    assert isinstance(await w.decisions.undo(done.id, REQUESTER, CHANNEL), Refused)
    assert await w.decisions.undo(done.id, APPROVER, OTHER_CHANNEL) == Refused(done, ELSEWHERE)
    assert (await w.state(done.id)).state is U


async def test_undo_is_offered_until_the_end_of_its_window() -> None:
    w = world()
    done = await approved_and_done(w)
    assert done.undo_until == w.clock() + TIMING.undo_window
    w.clock.advance(TIMING.undo_window + 0.001)
    refused = await w.decisions.undo(done.id, APPROVER, CHANNEL)
    assert isinstance(refused, Refused) and refused.reason.why is Why.TOO_LATE_TO_UNDO
    assert (await w.state(done.id)).state is U


async def test_undo_at_the_last_moment_of_its_window() -> None:
    w = world()
    done = await approved_and_done(w)
    w.clock.advance(TIMING.undo_window)
    assert isinstance(await w.decisions.undo(done.id, APPROVER, CHANNEL), Resolved)


async def test_an_undo_whose_approver_check_outlasts_its_window_claims_nothing() -> None:
    w = world()
    done = await approved_and_done(w)
    w.clock.advance(TIMING.undo_window - 1)
    w.membership.during = lambda: w.clock.advance(2)  # Slack answers about the user group two seconds later
    refused = await w.decisions.undo(done.id, GROUP_MEMBER, CHANNEL)
    assert isinstance(refused, Refused) and refused.reason.why is Why.TOO_LATE_TO_UNDO
    now = await w.state(done.id)
    assert (now.state, now.undone_by, now.owner) == (U, None, None)
    assert w.ip.called("restore") == []


async def test_nothing_to_undo_when_the_entry_was_already_gone() -> None:
    w = world()
    request = await w.request(w.ip.entries[42])
    w.ip.drop(42)  # someone removed it in 3CX's console meanwhile
    click = await w.decisions.approve(request.id, APPROVER, CHANNEL)
    assert isinstance(click, Resolved)
    done = await w.execution.execute(click.request)
    assert done is not None and done.state is U and done.undo_until is None
    refused = await w.decisions.undo(done.id, APPROVER, CHANNEL)
    assert refused == Refused(done, Refusal(Why.NOTHING_TO_UNDO))


async def test_nothing_to_undo_before_the_unblock() -> None:
    w = world()
    request = await w.request(w.ip.entries[42])
    assert isinstance(await w.decisions.undo(request.id, APPROVER, CHANNEL), Refused)
    click = await w.decisions.approve(request.id, APPROVER, CHANNEL)
    assert isinstance(click, Resolved)
    assert isinstance(await w.decisions.undo(request.id, APPROVER, CHANNEL), Refused)  # still executing
    assert (await w.state(request.id)).state is X


# -- Approve and allow ---------------------------------------------------------------------------


async def test_approve_and_allow_keeps_its_duration_with_the_claim() -> None:
    w = world()
    request = await w.request(w.ip.entries[42])
    click = await w.decisions.approve(request.id, APPROVER, CHANNEL, allow_for=3600)
    assert isinstance(click, Resolved) and click.request.allow_for == 3600


async def test_approve_and_allow_is_refused_for_a_request_it_is_not_offered_for() -> None:
    w = world()
    w.ip.put(blocked_address(44, "10.0.0.0/16"))
    w.ip.put(blocked_address(45, "192.0.2.9"))
    for targets in ([w.numbers.entries["n1"]], [w.ip.entries[44]], [w.ip.entries[42], w.ip.entries[45]]):
        request = await w.request(*targets)
        assert await w.decisions.approve(request.id, APPROVER, CHANNEL, allow_for=3600) == Refused(
            request, NOT_ALLOWABLE
        )
        assert (await w.state(request.id)).state is P
        assert isinstance(await w.decisions.approve(request.id, APPROVER, CHANNEL), Resolved)


async def test_approve_and_allow_for_a_network_of_at_most_256_addresses() -> None:
    w = world()
    request = await w.request(w.ip.entries[43])
    click = await w.decisions.approve(request.id, APPROVER, CHANNEL, allow_for=3600)
    assert isinstance(click, Resolved) and click.request.allow_for == 3600
