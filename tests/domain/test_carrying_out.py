"""What carrying out an approval or an undo does in 3CX, through the service, for each kind of action: each entry
removed once and put back once, an allow entry added once (or none when one lets the address in already) and
taken back, lost answers looked up rather than sent again, the database away at the end, and a claim lost to
another process."""

from __future__ import annotations

import asyncio

from bot.domain.actions import UNBLOCK, Action, Does
from bot.domain.allowing import marker
from bot.domain.decisions import NOT_ALLOWABLE
from bot.domain.entries import ALLOW, BlocklistEntry
from bot.domain.model import State, UnblockRequest
from bot.domain.outcomes import Outcome
from bot.domain.results import AlreadyResolved, HandedOver, Refused, Resolved

from .fakes import (
    APPROVER,
    CHANNEL,
    GROUP_MEMBER,
    TIMING,
    World,
    expires_at,
    forbidden,
    unavailable,
    world,
)

P, X, U, F = State.PENDING, State.EXECUTING, State.UNBLOCKED, State.FAILED
UNDOING, UNDONE, UNDO_FAILED = State.UNDOING, State.UNDONE, State.UNDO_FAILED
HOUR = 3600.0
ALLOW_HOUR = Action(Does.UNBLOCK_AND_ALLOW, HOUR)
ONLY_HOUR = Action(Does.ALLOW_ONLY, HOUR)
#: the world's entry 43 blocks 198.51.100.0/24; the address asked for lies inside it
NETWORK, ASKED = 43, "198.51.100.7"


async def approved(w: World, *entry_ids: int, action: Action = UNBLOCK, asked: str | None = None) -> UnblockRequest:
    """A request for these IP blocklist entries, approved for ``action`` by ``APPROVER`` and carried out."""
    request = await w.request(*(w.ip.entries[i] for i in entry_ids), asked=asked)
    click = await w.requests.approve(request.id, APPROVER, CHANNEL, action)
    assert isinstance(click, Resolved), click
    return click.request


async def undone(w: World, request: UnblockRequest) -> UnblockRequest:
    click = await w.requests.undo(request.id, GROUP_MEMBER, CHANNEL)
    assert isinstance(click, Resolved), click
    return click.request


def allow_entries(w: World) -> list[BlocklistEntry]:
    return [e for e in w.ip.entries.values() if not e.blocks]


# -- Approve ---------------------------------------------------------------------------------------


async def test_approve_removes_each_entry_once_and_ends_unblocked() -> None:
    w = world()
    done = await approved(w, 42, 43)
    assert (done.state, done.owner) == (U, None)
    assert [(r.outcome, r.answer) for r in done.done.results] == [(Outcome.DELETED, "HTTP 204")] * 2
    assert done.done.undo_until == w.clock() + TIMING.undo_window
    assert w.ip.calls == [("remove", 42), ("remove", 43)] and set(w.ip.entries) == set()
    assert await w.moves(done.id) == [(None, P), (P, X), (X, U)]
    assert (await w.store.transitions(done.id))[-1].answer == "HTTP 204; HTTP 204"
    assert (await w.state(done.id)) == done


async def test_a_delete_without_an_answer_that_3cx_made_later_is_looked_for_once_and_unblocked() -> None:
    w = world()
    w.ip.fail("remove", unavailable(lost=True), late=TIMING.call_bound / 2)  # made before a call must be over
    done = await approved(w, 42)
    assert done.state is U and done.outcome is Outcome.DELETED
    assert done.done.results[0].answer == "3CX's answer was lost; checked again: 3CX no longer lists it"
    assert w.ip.calls == [("remove", 42), ("listed", 42)]  # looked for once, never deleted twice
    assert done.done.undo_until is not None and done.removed == list(done.what.targets)


async def test_a_delete_without_an_answer_that_3cx_did_not_make_fails_without_undo() -> None:
    w = world()
    w.ip.fail("remove", unavailable(lost=True))
    done = await approved(w, 42)
    assert done.state is F and done.outcome is Outcome.UNAVAILABLE
    assert done.done.results[0].answer == "no answer (timed out)"
    assert w.ip.calls == [("remove", 42), ("listed", 42)] and 42 in w.ip.entries
    assert done.done.undo_until is None and done.removed == []


async def test_a_delete_found_gone_after_its_lost_answer_is_this_requests_and_undo_puts_it_back() -> None:
    w = world()
    w.ip.lose_removal()
    done = await approved(w, 42, 43)
    assert done.state is U and [r.outcome for r in done.done.results] == [Outcome.DELETED] * 2
    assert w.ip.called("remove") == [42, 43] and w.ip.called("listed") == []
    assert (await undone(w, done)).state is UNDONE
    assert sorted(e.address or "" for e in w.ip.entries.values()) == ["198.51.100.0/24", "203.0.113.7"]


async def test_an_unexpected_error_fails_the_request_rather_than_leaving_it_claimed() -> None:
    w = world()

    async def broken() -> None:
        raise RuntimeError("a bug")

    w.ip.before["remove"] = broken
    done = await approved(w, 42)
    assert (done.state, done.owner, done.outcome) == (F, None, Outcome.INTERNAL)
    assert done.done.results[0].answer == "internal error (RuntimeError)"


# -- its undo ----------------------------------------------------------------------------------------


async def test_an_undo_that_3cx_refuses_ends_undo_failed_and_is_not_tried_again() -> None:
    w = world()
    done = await approved(w, 42)
    w.ip.fail("restore", forbidden())
    failed = await undone(w, done)
    assert failed.state is UNDO_FAILED and [r.outcome for r in failed.done.undo_results] == [Outcome.FORBIDDEN]
    assert isinstance(await w.requests.undo(done.id, APPROVER, CHANNEL), AlreadyResolved)
    assert w.ip.called("restore") == [42]


async def test_an_undo_whose_answer_was_lost_finds_the_entry_3cx_put_back() -> None:
    w = world()
    done = await approved(w, 42)
    w.ip.fail("restore", unavailable(lost=True), applied=True)
    back = await undone(w, done)
    assert back.state is UNDONE
    assert w.ip.called("restore") == [42] and w.ip.called("find_restored") == [42]
    assert back.done.undo_results[0].new_id in {str(i) for i in w.ip.entries}


async def test_an_undo_whose_answer_was_lost_and_that_3cx_did_not_make_fails() -> None:
    w = world()
    done = await approved(w, 42)
    w.ip.fail("restore", unavailable(lost=True))
    failed = await undone(w, done)
    assert failed.state is UNDO_FAILED and failed.done.undo_results[0].answer.endswith("3CX does not list it")
    assert w.ip.called("restore") == [42] and list(w.ip.entries) == [43]


# -- Approve and allow ---------------------------------------------------------------------------------


async def test_approve_and_allow_adds_one_allow_entry_once_the_block_is_gone() -> None:
    w = world()
    done = await approved(w, 42, action=ALLOW_HOUR)
    assert w.ip.calls.index(("remove", 42)) < w.ip.calls.index(("allow", "203.0.113.7"))
    assert w.ip.called("remove") == [42] and w.ip.called("allow") == ["203.0.113.7"]
    [result] = done.done.results
    assert result.outcome is Outcome.DELETED and result.allow_id is not None and not result.allow_existed
    entry = w.ip.entries[result.allow_id]
    assert (entry.address, entry.block_type, entry.expires_at) == ("203.0.113.7", ALLOW, expires_at(w.clock() + HOUR))
    assert entry.description == f"Allowed for 1 hour by unblock-bot: approved by {APPROVER}, {marker(done)}"
    assert result.allowed_until == w.clock() + HOUR


async def test_undo_after_allow_removes_the_allow_entry_first() -> None:
    w = world()
    done = await approved(w, 42, action=ALLOW_HOUR)
    allow_id = done.done.results[0].allow_id
    w.ip.calls.clear()
    back = await undone(w, done)
    assert back.state is UNDONE and w.ip.calls == [("remove_entry", allow_id), ("restore", 42)]
    assert back.done.undo_results[0].answer == f"allow entry {allow_id} removed (HTTP 204); HTTP 201"


async def test_undo_after_allow_leaves_the_block_off_while_the_allow_entry_stays() -> None:
    w = world()
    done = await approved(w, 42, action=ALLOW_HOUR)
    w.ip.fail("remove_entry", forbidden())
    assert (await undone(w, done)).state is UNDO_FAILED and w.ip.called("restore") == []


async def test_undo_after_allow_whose_allow_entry_is_gone_puts_the_block_back() -> None:
    w = world()
    done = await approved(w, 42, action=ALLOW_HOUR)
    allow_id = done.done.results[0].allow_id
    assert allow_id is not None
    w.ip.drop(allow_id)
    back = await undone(w, done)
    assert back.state is UNDONE and w.ip.called("restore") == [42]
    assert back.done.undo_results[0].answer.startswith(f"allow entry {allow_id} was already gone")


# -- Allow only ------------------------------------------------------------------------------------------


async def test_undo_of_allow_only_removes_only_the_allow_entry() -> None:
    w = world()
    done = await approved(w, NETWORK, action=ONLY_HOUR, asked=ASKED)
    allow_id = done.done.results[0].allow_id
    w.ip.calls.clear()
    back = await undone(w, done)
    assert back.state is UNDONE and w.ip.calls == [("remove_entry", allow_id)]  # nothing was removed
    assert allow_entries(w) == [] and NETWORK in w.ip.entries
    [result] = back.done.undo_results
    assert (result.outcome, result.answer) == (Outcome.DELETED, f"allow entry {allow_id} removed (HTTP 204)")
    w = world()
    done = await approved(w, NETWORK, action=ONLY_HOUR, asked=ASKED)
    w.ip.fail("remove_entry", forbidden())
    failed = await undone(w, done)
    assert failed.state is UNDO_FAILED and failed.done.undo_results[0].outcome is Outcome.FORBIDDEN
    assert len(allow_entries(w)) == 1


async def test_allow_only_3cx_refuses_fails_and_changes_nothing() -> None:
    w = world()
    w.ip.fail("allow", forbidden())
    done = await approved(w, NETWORK, action=ONLY_HOUR, asked=ASKED)
    [result] = done.done.results
    assert (done.state, result.outcome, result.allow_id) == (F, Outcome.FORBIDDEN, None)
    assert result.answer == "the allow entry was not added: HTTP 403 (Forbidden)"
    assert allow_entries(w) == [] and done.done.undo_until is None


async def test_allow_only_whose_answer_was_lost_is_looked_up_not_sent_again() -> None:
    w = world()
    w.ip.fail("allow", unavailable(lost=True), applied=True)
    done = await approved(w, NETWORK, action=ONLY_HOUR, asked=ASKED)
    assert w.ip.called("allow") == [ASKED] and w.ip.called("marked") == [ASKED]
    assert done.state is U and [e.id for e in allow_entries(w)] == [done.done.results[0].added_allow]


async def test_allow_only_is_refused_without_an_asked_address_or_for_a_duration_not_offered() -> None:
    w = world()
    for asked, action in ((None, ONLY_HOUR), (ASKED, Action(Does.ALLOW_ONLY, 2 * HOUR))):
        request = await w.request(w.ip.entries[NETWORK], asked=asked)
        assert await w.requests.approve(request.id, APPROVER, CHANNEL, action) == Refused(request, NOT_ALLOWABLE)
        await w.requests.cancel(request.id, request.asked.by, CHANNEL)
    assert w.ip.called("allow") == []


# -- the database away, a claim lost -------------------------------------------------------------------------


async def test_3cxs_answer_is_kept_until_the_database_is_back() -> None:
    for written in (False, True):  # away; or it wrote the answer and its own answer was lost
        w = world()
        request = await w.request(w.ip.entries[42])

        async def away(written: bool = written, w: World = w) -> None:  # once 3CX was asked, before the last write
            del w.ip.before["remove"]
            w.store.unreachable("transition", written=written)

        w.ip.before["remove"] = away
        click = await w.requests.approve(request.id, APPROVER, CHANNEL)
        assert isinstance(click, Resolved) and (click.request.state, click.request.owner) == (U, None)
        assert await w.moves(request.id) == [(None, P), (P, X), (X, U)] and w.ip.called("remove") == [42]
        assert w.store.calls["transition"] == 3  # the claim, the write that failed, the one that held


async def test_a_claim_taken_over_by_another_process_stops_this_one() -> None:
    w = world()
    request = await w.request(w.ip.entries[42], w.ip.entries[43])

    async def renewal_refused() -> None:
        for _ in range(400):  # until this process's heartbeat finds the claim gone
            if (request.id, "bot-a", False) in w.store.renewals:
                return
            await asyncio.sleep(0.005)
        raise AssertionError("the claim was never renewed")

    w.take_over_during("remove", request.id, then=renewal_refused)
    assert await w.requests.approve(request.id, APPROVER, CHANNEL) == HandedOver(w.cards.claims[0])
    assert w.ip.called("remove") == [42]  # and not 43
    now = await w.state(request.id)
    assert (now.state, now.owner) == (X, "bot-b")


async def test_a_claim_taken_over_before_the_last_write_is_left_to_the_new_owner() -> None:
    w = world()
    request = await w.request(w.ip.entries[42])
    w.take_over_during("remove", request.id)
    assert isinstance(await w.requests.approve(request.id, APPROVER, CHANNEL), HandedOver)
    now = await w.state(request.id)
    assert (now.state, now.owner) == (X, "bot-b")
    assert await w.moves(request.id) == [(None, P), (P, X)]
