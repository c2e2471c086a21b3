"""Allow only: an allow entry for the one address asked for, inside a blocked network whose block stays; nothing
is deleted, Undo removes only that allow entry, an address already allowed gets none, and neither a lost answer
nor a stopped process ever adds a second one."""

from __future__ import annotations

import asyncio

import pytest

from bot.domain.allowing import marker
from bot.domain.decisions import NOT_ALLOWABLE, NOTHING_TO_UNDO, Refused, Resolved
from bot.domain.entries import ALLOW, BlocklistEntry
from bot.domain.model import State, UnblockRequest
from bot.domain.outcomes import Outcome
from bot.threecx.errors import ForbiddenError, UnavailableError
from bot.threecx.models import expires_at

from .fakes import APPROVER, CHANNEL, GROUP_MEMBER, REQUESTER, TIMING, World, allowed_address, world

P, X, U, F = State.PENDING, State.EXECUTING, State.UNBLOCKED, State.FAILED
UNDOING, UNDONE = State.UNDOING, State.UNDONE
HOUR = 3600.0
#: the world's entry 43 blocks 198.51.100.0/24; the address asked for lies inside it
NETWORK, ASKED = 43, "198.51.100.7"
#: a process that stopped while it held a claim
DEAD = "bot-dead"


async def asked(w: World, address: str | None = ASKED) -> UnblockRequest:
    """A pending request for the network's entry, asked for as ``address``."""
    opened = await w.decisions.open_request(
        [w.ip.entries[NETWORK]], REQUESTER, CHANNEL, "phone in room 7", asked_address=address
    )
    assert isinstance(opened, UnblockRequest), opened
    return opened


async def claimed(w: World, request: UnblockRequest, owner: str = "bot-a") -> UnblockRequest:
    """``request`` claimed as Allow only for an hour by ``APPROVER`` in the process ``owner``."""
    click = await w.process(owner).decisions.approve(request.id, APPROVER, CHANNEL, HOUR, allow_only=True)
    assert isinstance(click, Resolved), click
    return click.request


async def allowed(w: World) -> UnblockRequest:
    """A request carried out as Allow only (through the service, as a click is)."""
    request = await asked(w)
    w.ip.calls.clear()
    done = await w.requests.approve(request.id, APPROVER, CHANNEL, HOUR, allow_only=True)
    assert isinstance(done, Resolved), done
    return done.request


def allow_entries(w: World) -> list[BlocklistEntry]:
    return [e for e in w.ip.entries.values() if not e.blocks]


async def no_answer() -> None:
    """3CX's answer never arrives (the process stops while 3CX works)."""
    await asyncio.Event().wait()


# -- carrying it out ------------------------------------------------------------------------------


async def test_allow_only_adds_one_allow_entry_for_the_asked_address_and_deletes_nothing() -> None:
    w = world()
    done = await allowed(w)

    assert (done.state, done.allow_only, done.allow_for) == (U, True, HOUR)
    assert w.ip.called("allow") == [ASKED]
    assert w.ip.called("remove") == [] and w.ip.called("remove_entry") == []
    assert w.ip.entries[NETWORK].address == "198.51.100.0/24" and w.ip.entries[NETWORK].blocks  # the block stays
    [result] = done.results
    assert (result.outcome, result.allow_existed) == (Outcome.ALLOWED, False)
    assert result.allow_id is not None and result.added_allow == result.allow_id
    assert result.allowed_until == w.clock() + HOUR
    [entry] = allow_entries(w)
    assert (entry.id, entry.address, entry.expires_at) == (result.allow_id, ASKED, expires_at(w.clock() + HOUR))
    assert marker(done) in (entry.description or "") and APPROVER in (entry.description or "")
    assert done.removed == [] and done.undo_until == w.clock() + TIMING.undo_window
    assert await w.moves(done.id) == [(None, P), (P, X), (X, U)]


async def test_undo_removes_only_the_allow_entry_and_puts_nothing_back() -> None:
    w = world()
    done = await allowed(w)
    allow_id = done.results[0].allow_id
    w.ip.calls.clear()

    undone = await w.requests.undo(done.id, GROUP_MEMBER, CHANNEL)

    assert isinstance(undone, Resolved) and undone.request.state is UNDONE
    assert w.ip.calls == [("remove_entry", allow_id)]  # no restore: nothing was removed
    assert allow_entries(w) == [] and NETWORK in w.ip.entries
    [result] = undone.request.undo_results
    assert (result.outcome, result.answer) == (Outcome.DELETED, f"allow entry {allow_id} removed (HTTP 204)")


async def test_an_undo_3cx_refuses_leaves_the_allow_entry_and_ends_undo_failed() -> None:
    w = world()
    done = await allowed(w)
    w.ip.fail("remove_entry", ForbiddenError("Forbidden", method="DELETE", status=403))

    undone = await w.requests.undo(done.id, GROUP_MEMBER, CHANNEL)

    assert isinstance(undone, Resolved) and undone.request.state is State.UNDO_FAILED
    assert undone.request.undo_results[0].outcome is Outcome.FORBIDDEN
    assert len(allow_entries(w)) == 1 and w.ip.called("restore") == []


async def test_an_address_an_allow_entry_already_lets_in_gets_no_second_one_and_nothing_to_undo() -> None:
    w = world()
    w.ip.put(allowed_address(90, "198.51.100.0/28"))  # an admin's allow entry, without an end, holding the address

    done = await allowed(w)

    assert w.ip.called("allow") == [] and w.ip.called("remove") == []
    [result] = done.results
    assert (result.outcome, result.allow_id, result.allow_existed, result.added_allow) == (Outcome.ALLOWED, 90,
                                                                                           True, None)  # fmt: skip
    assert done.state is U and done.undo_until is None
    refused = await w.requests.undo(done.id, GROUP_MEMBER, CHANNEL)
    assert isinstance(refused, Refused) and refused.reason == NOTHING_TO_UNDO
    assert w.ip.called("remove_entry") == [] and 90 in w.ip.entries


async def test_an_allow_entry_3cx_refuses_fails_the_request_and_changes_nothing() -> None:
    w = world()
    w.ip.fail("allow", ForbiddenError("Forbidden", method="POST", status=403))

    done = await allowed(w)

    assert done.state is F and w.ip.called("allow") == [ASKED] and w.ip.called("marked") == []
    [result] = done.results
    assert (result.outcome, result.allow_id) == (Outcome.FORBIDDEN, None)
    assert result.answer == "the allow entry was not added: HTTP 403 (Forbidden)"
    assert allow_entries(w) == [] and w.ip.entries[NETWORK].blocks and done.undo_until is None
    refused = await w.requests.undo(done.id, GROUP_MEMBER, CHANNEL)
    assert isinstance(refused, Refused) and refused.reason == NOTHING_TO_UNDO


async def test_a_lost_answer_to_the_allow_entry_is_looked_up_not_sent_again() -> None:
    w = world()
    w.ip.fail("allow", UnavailableError("timed out", method="POST", maybe_applied=True), applied=True)

    done = await allowed(w)

    assert w.ip.called("allow") == [ASKED] and w.ip.called("marked") == [ASKED]
    [entry] = allow_entries(w)
    assert done.state is U and done.results[0].allow_id == entry.id == done.results[0].added_allow


async def test_allow_only_is_refused_without_an_asked_address() -> None:
    w = world()
    request = await asked(w, None)
    w.ip.calls.clear()

    refused = await w.requests.approve(request.id, APPROVER, CHANNEL, HOUR, allow_only=True)

    assert isinstance(refused, Refused) and refused.reason == NOT_ALLOWABLE
    assert w.ip.calls == [] and (await w.state(request.id)).state is P


async def test_allow_only_for_a_duration_its_rule_does_not_offer_is_refused() -> None:
    w = world()
    request = await asked(w)
    w.ip.calls.clear()

    refused = await w.requests.approve(request.id, APPROVER, CHANNEL, 2 * HOUR, allow_only=True)

    assert isinstance(refused, Refused) and refused.reason == NOT_ALLOWABLE
    assert w.ip.calls == [] and (await w.state(request.id)).state is P


# -- a process that stopped --------------------------------------------------------------------------


async def stopped_while_3cx_adds(w: World) -> UnblockRequest:
    """A request whose process sent the allow entry's POST and stopped before 3CX answered."""
    request = await claimed(w, await asked(w), owner=DEAD)
    w.ip.before["allow"] = no_answer
    stopping = asyncio.create_task(w.process(DEAD).execution.execute(request))
    for _ in range(1000):
        if w.ip.called("allow") == [ASKED] or stopping.done():
            break
        await asyncio.sleep(0.001)
    assert w.ip.called("allow") == [ASKED] and not stopping.done(), w.ip.calls
    stopping.cancel()
    with pytest.raises(asyncio.CancelledError):
        await stopping
    del w.ip.before["allow"]
    return request


async def test_a_stopped_allow_only_whose_entry_3cx_added_is_found_and_not_added_again() -> None:
    w = world()
    request = await stopped_while_3cx_adds(w)
    note = f"Allowed for 1 hour by unblock-bot: approved by Slack user {APPROVER}, {marker(request)}"
    w.ip.put(BlocklistEntry(2000, ASKED, note, ALLOW, "API", expires_at(w.clock() + HOUR)))  # 3CX made it
    w.ip.calls.clear()
    w.clock.advance(TIMING.takeover_after + 0.001)

    [done] = await w.execution.recover()

    assert w.ip.calls == [("marked", ASKED)]  # found; neither a second POST nor a DELETE
    assert done.state is U and done.owner is None
    [result] = done.results
    assert (result.outcome, result.allow_id, result.added_allow, result.after_restart) == (Outcome.ALLOWED, 2000,
                                                                                           2000, True)  # fmt: skip
    assert [e.id for e in allow_entries(w)] == [2000] and w.ip.entries[NETWORK].blocks
    assert await w.execution.recover() == [] and w.ip.called("allow") == []


async def test_a_stopped_allow_only_whose_entry_3cx_did_not_add_adds_it_once() -> None:
    w = world()
    request = await stopped_while_3cx_adds(w)
    w.ip.calls.clear()
    w.clock.advance(TIMING.takeover_after + 0.001)

    [done] = await w.execution.recover()

    assert done.id == request.id and done.state is U
    assert w.ip.called("marked") == [ASKED] and w.ip.called("allow") == [ASKED] and w.ip.called("remove") == []
    [entry] = allow_entries(w)
    assert done.results[0].allow_id == entry.id and done.results[0].after_restart


async def test_a_stopped_allow_only_3cx_cannot_be_asked_about_waits_for_the_next_try() -> None:
    w = world()
    request = await claimed(w, await asked(w), owner=DEAD)
    w.ip.fail("marked", UnavailableError("Service Unavailable", method="GET", status=503))
    w.clock.advance(TIMING.takeover_after + 0.001)

    assert await w.execution.recover() == []
    assert (await w.state(request.id)).state is X and w.ip.called("allow") == []
    w.clock.advance(TIMING.takeover_after + 0.001)
    [done] = await w.execution.recover()
    assert done.state is U and w.ip.called("allow") == [ASKED]


async def test_a_stopped_undo_of_allow_only_removes_the_allow_entry_once() -> None:
    w = world()
    done = await allowed(w)
    allow_id = done.results[0].allow_id
    click = await w.process(DEAD).decisions.undo(done.id, GROUP_MEMBER, CHANNEL)
    assert isinstance(click, Resolved) and click.request.state is UNDOING
    w.ip.calls.clear()
    w.clock.advance(TIMING.takeover_after + 0.001)

    [undone] = await w.execution.recover()

    assert undone.state is UNDONE and undone.undo_results[0].after_restart
    assert w.ip.calls == [("remove_entry", allow_id)] and allow_entries(w) == [] and NETWORK in w.ip.entries
    assert await w.execution.recover() == []
