"""Carrying a decision out in 3CX: each entry removed once, Undo puts back what was removed, a stopped
process's claim finished by another without removing or adding twice, the database away at the end, a claim
lost to another process, and Approve and allow's allow entry."""

from __future__ import annotations

import asyncio

import pytest

from bot.domain.decisions import AlreadyResolved, Resolved
from bot.domain.model import State, UnblockRequest
from bot.domain.outcomes import Outcome
from bot.threecx.errors import ForbiddenError, UnavailableError
from bot.threecx.models import ALLOW, expires_at

from .fakes import APPROVER, CHANNEL, GROUP_MEMBER, TIMING, World, allowed_address, blocked_address, world

P, X, U, F = State.PENDING, State.EXECUTING, State.UNBLOCKED, State.FAILED
UNDOING, UNDONE, UNDO_FAILED = State.UNDOING, State.UNDONE, State.UNDO_FAILED
#: a process that stopped while it held a claim
DEAD = "bot-dead"


def lost_answer() -> UnavailableError:
    return UnavailableError("timed out", method="DELETE", maybe_applied=True)


async def claimed(w: World, *entry_ids: int, owner: str = "bot-a", allow_for: float | None = None) -> UnblockRequest:
    """A request for these IP blocklist entries, approved by ``APPROVER`` in the process ``owner``."""
    request = await w.request(*(w.ip.entries[i] for i in entry_ids))
    click = await w.process(owner).decisions.approve(request.id, APPROVER, CHANNEL, allow_for)
    assert isinstance(click, Resolved)
    return click.request


async def unblocked(w: World, *entry_ids: int, allow_for: float | None = None) -> UnblockRequest:
    done = await w.execution.execute(await claimed(w, *entry_ids, allow_for=allow_for))
    assert done is not None and done.state is U, done
    return done


async def undoing(w: World, request: UnblockRequest, owner: str = "bot-a") -> UnblockRequest:
    click = await w.process(owner).decisions.undo(request.id, GROUP_MEMBER, CHANNEL)
    assert isinstance(click, Resolved)
    return click.request


# -- carrying out an approval ----------------------------------------------------------------------


async def test_execute_removes_each_entry_once_and_ends_unblocked() -> None:
    w = world()
    request = await claimed(w, 42, 43)
    done = await w.execution.execute(request)
    assert done is not None
    assert (done.state, done.owner) == (U, None)
    assert [(r.outcome, r.answer) for r in done.results] == [(Outcome.DELETED, "HTTP 204")] * 2
    assert done.undo_until == w.clock() + TIMING.undo_window
    assert w.ip.calls == [("remove", 42), ("remove", 43)]
    assert set(w.ip.entries) == set()
    assert await w.moves(request.id) == [(None, P), (P, X), (X, U)]
    assert (await w.store.transitions(request.id))[-1].answer == "HTTP 204; HTTP 204"
    assert (await w.state(request.id)).results == done.results


async def test_an_entry_already_gone_is_already_gone_and_the_request_unblocked() -> None:
    w = world()
    request = await claimed(w, 42, 43)
    w.ip.drop(43)
    done = await w.execution.execute(request)
    assert done is not None and done.state is U
    assert [r.outcome for r in done.results] == [Outcome.DELETED, Outcome.ALREADY_GONE]
    assert done.removed == [request.targets[0]]


async def test_a_refused_entry_fails_the_request_with_each_answer() -> None:
    w = world()
    request = await claimed(w, 42, 43)
    w.ip.fail("remove", ForbiddenError("Forbidden", method="DELETE", status=403))
    done = await w.execution.execute(request)
    assert done is not None and done.state is F
    assert [r.outcome for r in done.results] == [Outcome.FORBIDDEN, Outcome.DELETED]
    assert done.results[0].answer == "HTTP 403 (Forbidden)"
    assert done.outcome is Outcome.FORBIDDEN
    assert w.ip.called("remove") == [42, 43] and 42 in w.ip.entries
    assert done.undo_until is not None  # it removed one: that one may be put back


async def test_an_entry_changed_since_the_request_is_left_alone() -> None:
    w = world()
    w.ip.put(blocked_address(44, "192.0.2.1", etag='W/"1"'))
    request = await w.request(w.ip.entries[44])
    w.ip.put(blocked_address(44, "192.0.2.1", etag='W/"2"'))
    click = await w.decisions.approve(request.id, APPROVER, CHANNEL)
    assert isinstance(click, Resolved)
    done = await w.execution.execute(click.request)
    assert done is not None and done.state is F and done.outcome is Outcome.CHANGED
    assert 44 in w.ip.entries and done.undo_until is None


async def test_only_the_process_holding_the_claim_executes_it() -> None:
    w = world()
    request = await claimed(w, 42)
    with pytest.raises(ValueError, match="not claimed"):
        await w.process("bot-b").execution.execute(request)
    pending = await w.request(w.ip.entries[43])
    with pytest.raises(ValueError, match="not claimed"):
        await w.execution.execute(pending)
    assert w.ip.calls == []


async def test_a_delete_without_an_answer_that_3cx_made_later_is_looked_for_once_and_unblocked_with_undo() -> None:
    w = world()
    request = await claimed(w, 42)
    w.ip.fail("remove", lost_answer(), late=TIMING.call_bound / 2)  # 3CX makes it before a call must be over
    done = await w.execution.execute(request)
    assert done is not None and done.state is U and done.outcome is Outcome.DELETED
    assert done.results[0].answer == "3CX's answer was lost; checked again: 3CX no longer lists it"
    assert w.ip.calls == [("remove", 42), ("listed", 42)]  # looked for once, never deleted twice
    assert done.undo_until is not None and done.removed == [request.targets[0]]


async def test_a_delete_without_an_answer_that_3cx_did_not_make_fails_without_undo() -> None:
    w = world()
    request = await claimed(w, 42)
    w.ip.fail("remove", lost_answer())
    done = await w.execution.execute(request)
    assert done is not None and done.state is F and done.outcome is Outcome.UNAVAILABLE
    assert done.results[0].answer == "no answer (timed out)"
    assert w.ip.calls == [("remove", 42), ("listed", 42)] and 42 in w.ip.entries
    assert done.undo_until is None and done.removed == []


async def test_a_delete_found_gone_after_its_lost_answer_is_this_requests_unblock_with_undo() -> None:
    w = world()
    request = await claimed(w, 42, 43)
    w.ip.lose_removal()
    done = await w.execution.execute(request)
    assert done is not None and done.state is U
    assert [r.outcome for r in done.results] == [Outcome.DELETED, Outcome.DELETED]
    assert done.undo_until is not None and done.removed == list(request.targets)
    assert w.ip.called("remove") == [42, 43] and w.ip.called("listed") == []

    undone = await w.execution.restore(await undoing(w, done))
    assert undone is not None and undone.state is UNDONE
    assert sorted(e.address or "" for e in w.ip.entries.values()) == ["198.51.100.0/24", "203.0.113.7"]


# -- undo ------------------------------------------------------------------------------------------


async def test_undo_puts_back_exactly_what_the_request_removed() -> None:
    w = world()
    request = await claimed(w, 42, 43)
    w.ip.drop(43)  # gone before the request: not this request's to put back
    done = await w.execution.execute(request)
    assert done is not None
    undone = await w.execution.restore(await undoing(w, done))
    assert undone is not None
    assert (undone.state, undone.owner, undone.undone_by) == (UNDONE, None, GROUP_MEMBER)
    assert w.ip.called("restore") == [42]
    [result] = undone.undo_results
    assert (result.outcome, result.answer) == (Outcome.RESTORED, "HTTP 201")
    restored = w.ip.entries[int(result.new_id or 0)]
    assert (restored.address, restored.blocks) == ("203.0.113.7", True)
    assert await w.moves(request.id) == [(None, P), (P, X), (X, U), (U, UNDOING), (UNDOING, UNDONE)]


async def test_an_undo_that_3cx_refuses_ends_undo_failed_and_is_not_tried_again() -> None:
    w = world()
    done = await unblocked(w, 42)
    w.ip.fail("restore", ForbiddenError("Forbidden", method="POST", status=403))
    failed = await w.execution.restore(await undoing(w, done))
    assert failed is not None and failed.state is UNDO_FAILED
    assert [r.outcome for r in failed.undo_results] == [Outcome.FORBIDDEN]
    assert isinstance(await w.decisions.undo(done.id, APPROVER, CHANNEL), AlreadyResolved)
    assert w.ip.called("restore") == [42]


async def test_an_undo_whose_answer_was_lost_finds_the_entry_3cx_put_back() -> None:
    w = world()
    done = await unblocked(w, 42)
    w.ip.fail("restore", UnavailableError("timed out", method="POST", maybe_applied=True), applied=True)
    undone = await w.execution.restore(await undoing(w, done))
    assert undone is not None and undone.state is UNDONE
    assert w.ip.called("restore") == [42] and w.ip.called("find_restored") == [42]
    assert undone.undo_results[0].new_id in {str(i) for i in w.ip.entries}


async def test_an_undo_whose_answer_was_lost_and_that_3cx_did_not_make_fails() -> None:
    w = world()
    done = await unblocked(w, 42)
    w.ip.fail("restore", UnavailableError("timed out", method="POST", maybe_applied=True))
    failed = await w.execution.restore(await undoing(w, done))
    assert failed is not None and failed.state is UNDO_FAILED
    assert failed.undo_results[0].answer.endswith("3CX does not list it")
    assert w.ip.called("restore") == [42] and w.ip.entries == {43: w.ip.entries[43]}


# -- recovering a claim whose process stopped ------------------------------------------------------


async def test_a_claim_is_not_taken_over_before_its_owner_must_be_gone() -> None:
    w = world()
    request = await claimed(w, 42, owner=DEAD)
    w.clock.advance(TIMING.takeover_after)
    assert await w.execution.recover() == []
    assert w.ip.calls == []
    now = await w.state(request.id)
    assert (now.state, now.owner) == (X, DEAD)


async def test_a_stopped_claim_still_listed_is_removed_once() -> None:
    w = world()
    request = await claimed(w, 42, owner=DEAD)
    w.clock.advance(TIMING.takeover_after + 0.001)
    [done] = await w.execution.recover()
    assert (done.id, done.state, done.owner) == (request.id, U, None)
    assert w.ip.calls == [("listed", 42), ("remove", 42)]
    [result] = done.results
    assert (result.outcome, result.after_restart) == (Outcome.DELETED, True)
    assert done.undo_until is not None
    assert await w.moves(request.id) == [(None, P), (P, X), (X, U)]
    assert await w.execution.recover() == []
    assert w.ip.called("remove") == [42]


async def test_a_stopped_claim_whose_delete_3cx_made_late_is_deleted_without_a_second_delete() -> None:
    w = world()
    request = await claimed(w, 42, owner=DEAD)
    never = asyncio.Event()

    async def no_answer() -> None:
        await never.wait()

    w.ip.before["remove"] = no_answer
    stopping = asyncio.create_task(w.process(DEAD).execution.execute(request))
    while w.ip.called("remove") != [42]:
        await asyncio.sleep(0.001)
    stopping.cancel()  # the process stops while 3CX works on its DELETE
    with pytest.raises(asyncio.CancelledError):
        await stopping
    del w.ip.before["remove"]
    w.ip.drop(42)  # 3CX carries the DELETE out afterwards
    w.ip.calls.clear()
    w.clock.advance(TIMING.takeover_after + 0.001)
    [done] = await w.execution.recover()
    assert done.state is U
    assert w.ip.calls == [("listed", 42)]
    [result] = done.results
    assert (result.outcome, result.after_restart) == (Outcome.DELETED, True)
    assert result.answer == "checked after a restart: 3CX no longer lists it"
    assert done.removed == list(request.targets)  # this request removed it: Undo puts it back


async def test_a_stopped_undo_is_restored_once() -> None:
    w = world()
    done = await unblocked(w, 42)
    await undoing(w, done, owner=DEAD)
    w.ip.calls.clear()
    w.clock.advance(TIMING.takeover_after + 0.001)
    [undone] = await w.execution.recover()
    assert (undone.state, undone.owner) == (UNDONE, None)
    assert w.ip.calls == [("find_restored", 42), ("restore", 42)]
    assert undone.undo_results[0].after_restart
    assert await w.execution.recover() == []
    assert w.ip.called("restore") == [42]


async def test_a_stopped_undo_that_3cx_made_is_found_restored() -> None:
    w = world()
    done = await unblocked(w, 42)
    await undoing(w, done, owner=DEAD)
    w.ip.put(blocked_address(77, "203.0.113.7"))  # the stopped process's POST, made
    w.ip.calls.clear()
    w.clock.advance(TIMING.takeover_after + 0.001)
    [undone] = await w.execution.recover()
    assert undone.state is UNDONE
    assert w.ip.calls == [("find_restored", 42)]
    [result] = undone.undo_results
    assert (result.outcome, result.new_id, result.after_restart) == (Outcome.RESTORED, "77", True)


async def test_a_stopped_claim_3cx_cannot_be_asked_about_waits_for_the_next_try() -> None:
    w = world()
    request = await claimed(w, 42, owner=DEAD)
    w.ip.fail("listed", UnavailableError("Service Unavailable", method="GET", status=503))
    w.clock.advance(TIMING.takeover_after + 0.001)
    assert await w.execution.recover() == []
    now = await w.state(request.id)
    assert now.state is X and w.ip.calls == [("listed", 42)]
    w.clock.advance(TIMING.takeover_after + 0.001)
    [done] = await w.execution.recover()
    assert done.state is U
    assert w.ip.calls == [("listed", 42), ("listed", 42), ("remove", 42)]


async def test_of_two_processes_recovering_one_claim_one_finishes_it() -> None:
    w = world()
    request = await claimed(w, 42, owner=DEAD)
    w.clock.advance(TIMING.takeover_after + 0.001)
    finished = await asyncio.gather(w.execution.recover(), w.process("bot-b").execution.recover())
    assert sorted(len(f) for f in finished) == [0, 1]
    assert w.ip.called("remove") == [42]
    assert await w.moves(request.id) == [(None, P), (P, X), (X, U)]


# -- the database away while finishing --------------------------------------------------------------


async def test_3cxs_answer_is_kept_until_the_database_is_back() -> None:
    w = world()
    request = await claimed(w, 42)
    w.store.unreachable("transition")
    done = await w.execution.execute(request)
    assert done is not None and (done.state, done.owner) == (U, None)
    assert w.store.calls["transition"] == 3  # approve, the write that failed, the one that succeeded
    assert w.ip.called("remove") == [42]
    assert await w.moves(request.id) == [(None, P), (P, X), (X, U)]


async def test_a_last_write_whose_answer_was_lost_is_found_written() -> None:
    w = world()
    request = await claimed(w, 42)
    w.store.unreachable("transition", written=True)
    done = await w.execution.execute(request)
    assert done is not None and (done.state, done.owner) == (U, None)
    assert w.ip.called("remove") == [42]
    assert await w.moves(request.id) == [(None, P), (P, X), (X, U)]


# -- a claim lost to another process ---------------------------------------------------------------


async def test_a_claim_taken_over_by_another_process_stops_this_one() -> None:
    w = world()
    request = await claimed(w, 42, 43)

    async def renewal_refused() -> None:
        for _ in range(400):  # until this process's heartbeat finds the claim gone
            if (request.id, "bot-a", False) in w.store.renewals:
                return
            await asyncio.sleep(0.005)
        raise AssertionError("the claim was never renewed")

    w.take_over_during("remove", request.id, then=renewal_refused)
    assert await w.execution.execute(request) is None
    assert w.ip.called("remove") == [42]  # and not 43
    now = await w.state(request.id)
    assert (now.state, now.owner) == (X, "bot-b")
    assert await w.moves(request.id) == [(None, P), (P, X)]


async def test_a_claim_taken_over_before_the_last_write_is_left_to_the_new_owner() -> None:
    w = world()
    request = await claimed(w, 42)
    w.take_over_during("remove", request.id)
    assert await w.execution.execute(request) is None
    now = await w.state(request.id)
    assert (now.state, now.owner) == (X, "bot-b")
    assert await w.moves(request.id) == [(None, P), (P, X)]


# -- Approve and allow -------------------------------------------------------------------------------


async def test_approve_and_allow_adds_one_allow_entry_once_the_block_is_gone() -> None:
    w = world()
    done = await unblocked(w, 42, allow_for=3600)
    assert w.ip.called("remove") == [42] and w.ip.called("allow") == ["203.0.113.7"]
    assert w.ip.calls.index(("remove", 42)) < w.ip.calls.index(("allow", "203.0.113.7"))
    [result] = done.results
    assert result.outcome is Outcome.DELETED and result.allow_id is not None and not result.allow_existed
    entry = w.ip.entries[result.allow_id]
    assert (entry.address, entry.block_type) == ("203.0.113.7", ALLOW)
    assert entry.expires_at == expires_at(w.clock() + 3600)
    assert f"request {done.id}" in (entry.description or "") and APPROVER in (entry.description or "")
    assert result.allowed_until == w.clock() + 3600


async def test_approve_and_allow_adds_nothing_when_an_allow_entry_covers_the_address() -> None:
    w = world()
    w.ip.put(allowed_address(90, "203.0.113.0/24"))
    done = await unblocked(w, 42, allow_for=3600)
    assert w.ip.called("allow") == []
    [result] = done.results
    assert (result.allow_id, result.allow_existed, result.added_allow) == (90, True, None)
    undone = await w.execution.restore(await undoing(w, done))
    assert undone is not None and undone.state is UNDONE
    assert w.ip.called("remove_entry") == [] and 90 in w.ip.entries


async def test_approve_and_allow_adds_one_when_the_allow_entry_there_has_expired() -> None:
    w = world()
    w.ip.put(allowed_address(90, "203.0.113.7", until=expires_at(w.clock() - 60)))
    done = await unblocked(w, 42, allow_for=3600)
    assert w.ip.called("allow") == ["203.0.113.7"] and done.results[0].added_allow not in (None, 90)


async def test_approve_and_allow_whose_answer_was_lost_finds_the_entry_rather_than_adding_again() -> None:
    w = world()
    w.ip.fail("allow", UnavailableError("timed out", method="POST", maybe_applied=True), applied=True)
    done = await unblocked(w, 42, allow_for=3600)
    assert w.ip.called("allow") == ["203.0.113.7"] and w.ip.called("marked") == ["203.0.113.7"]
    [result] = done.results
    allows = [e.id for e in w.ip.entries.values() if not e.blocks]
    assert allows == [result.allow_id] and result.added_allow == allows[0]


async def test_approve_and_allow_refused_leaves_the_unblock_done_and_says_why() -> None:
    w = world()
    w.ip.fail("allow", ForbiddenError("Forbidden", method="POST", status=403))
    done = await unblocked(w, 42, allow_for=3600)
    [result] = done.results
    assert result.outcome is Outcome.DELETED and result.allow_id is None
    assert result.answer == "HTTP 204; the allow entry was not added: HTTP 403 (Forbidden)"
    assert w.ip.called("allow") == ["203.0.113.7"] and w.ip.called("marked") == []


async def test_undo_after_allow_removes_the_allow_entry_first() -> None:
    w = world()
    done = await unblocked(w, 42, allow_for=3600)
    allow_id = done.results[0].allow_id
    w.ip.calls.clear()
    undone = await w.execution.restore(await undoing(w, done))
    assert undone is not None and undone.state is UNDONE
    assert w.ip.calls == [("remove_entry", allow_id), ("restore", 42)]
    assert allow_id not in w.ip.entries
    assert undone.undo_results[0].answer == f"allow entry {allow_id} removed (HTTP 204); HTTP 201"


async def test_undo_after_allow_does_not_put_the_block_back_while_the_allow_entry_stays() -> None:
    w = world()
    done = await unblocked(w, 42, allow_for=3600)
    w.ip.calls.clear()
    w.ip.fail("remove_entry", ForbiddenError("Forbidden", method="DELETE", status=403))
    failed = await w.execution.restore(await undoing(w, done))
    assert failed is not None and failed.state is UNDO_FAILED
    assert w.ip.called("restore") == []


async def test_undo_after_allow_whose_allow_entry_is_gone_puts_the_block_back() -> None:
    w = world()
    done = await unblocked(w, 42, allow_for=3600)
    assert done.results[0].allow_id is not None
    w.ip.drop(done.results[0].allow_id)  # removing it answers "already gone"
    undone = await w.execution.restore(await undoing(w, done))
    assert undone is not None and undone.state is UNDONE and w.ip.called("restore") == [42]
    assert undone.undo_results[0].answer.startswith(f"allow entry {done.results[0].allow_id} was already gone")


async def test_a_stopped_approve_and_allow_finds_its_allow_entry_rather_than_adding_again() -> None:
    w = world()
    request = await claimed(w, 42, owner=DEAD, allow_for=3600)
    # the stopped process removed the block and added the allow entry, and wrote neither down
    w.ip.fail("remove", lost_answer(), applied=True)
    w.ip.fail("allow", lost_answer(), applied=True)
    with pytest.raises(UnavailableError):
        await w.ip.remove(request.targets[0])
    allowing = w.process(DEAD).execution.allowing
    with pytest.raises(UnavailableError):
        await allowing.allow(request, "203.0.113.7", 3600)
    w.ip.calls.clear()
    w.clock.advance(TIMING.takeover_after + 0.001)
    [done] = await w.execution.recover()
    assert done.state is U
    assert w.ip.calls == [("listed", 42), ("marked", "203.0.113.7")]
    assert [e.id for e in w.ip.entries.values() if not e.blocks] == [done.results[0].allow_id]


async def test_undo_after_an_allow_entry_3cx_added_after_its_lost_answer_was_looked_for_removes_it_first() -> None:
    w = world()
    late = 5 * TIMING.call_bound  # 3CX adds it after the bot, once a call must have ended, looked for it
    w.ip.fail("allow", UnavailableError("timed out", method="POST", maybe_applied=True), late=late)
    done = await unblocked(w, 42, allow_for=3600)
    assert done.results[0].allow_id is None and w.ip.called("marked") == ["203.0.113.7"]
    await asyncio.sleep(2 * late)
    [allow_id] = [e.id for e in w.ip.entries.values() if not e.blocks]
    w.ip.calls.clear()

    undone = await w.execution.restore(await undoing(w, done))

    assert undone is not None and undone.state is UNDONE
    assert w.ip.calls == [("marked", "203.0.113.7"), ("remove_entry", allow_id), ("restore", 42)]
    assert [e.blocks for e in w.ip.entries.values()] == [True, True]  # 43, and 42 put back; no allow entry


async def test_undo_after_an_allow_entry_3cx_refused_looks_for_it_once_and_puts_the_block_back() -> None:
    w = world()
    w.ip.fail("allow", ForbiddenError("Forbidden", method="POST", status=403))
    done = await unblocked(w, 42, allow_for=3600)
    w.ip.calls.clear()
    undone = await w.execution.restore(await undoing(w, done))
    assert undone is not None and undone.state is UNDONE
    assert w.ip.calls == [("marked", "203.0.113.7"), ("restore", 42)]
