"""What recovery does, through the service: a request whose process stopped while it held the claim is finished
by another process (or the same one, restarted) once every 3CX call the stopped one could have started must have
ended, on the same path as a fresh one, after asking 3CX what it did already: nothing is removed, put back or
allowed twice, and a request 3CX cannot be asked about waits for the next try."""

from __future__ import annotations

import asyncio

import pytest

from bot.domain.actions import UNBLOCK, Action, Does
from bot.domain.allowing import marker
from bot.domain.entries import ALLOW, BlocklistEntry
from bot.domain.model import State, UnblockRequest
from bot.domain.outcomes import Outcome
from bot.domain.results import Resolved

from .fakes import (
    APPROVER,
    CHANNEL,
    GROUP_MEMBER,
    TIMING,
    Stopped,
    World,
    blocked_address,
    expires_at,
    stopped_during,
    unavailable,
    world,
)

P, X, U = State.PENDING, State.EXECUTING, State.UNBLOCKED
UNDOING, UNDONE = State.UNDOING, State.UNDONE
HOUR = 3600.0
#: the world's entry 43 blocks 198.51.100.0/24; the address asked for lies inside it
NETWORK, ASKED = 43, "198.51.100.7"
#: a process that stopped while it held a claim
DEAD = "bot-dead"


async def stopped_after_claiming(
    w: World, entry_id: int = 42, action: Action = UNBLOCK, asked: str | None = None
) -> UnblockRequest:
    """A request approved in the process ``DEAD``, which stopped right after its claim."""
    request = await w.request(w.ip.entries[entry_id], asked=asked)
    with stopped_during(w), pytest.raises(Stopped):
        await w.process(DEAD).approve(request.id, APPROVER, CHANNEL, action)
    return await w.state(request.id)


async def stopped_while_3cx_works(w: World, method: str, action: Action = UNBLOCK, asked: str | None = None) -> str:
    """A request whose process ``DEAD`` called 3CX's ``method`` and stopped before 3CX answered."""
    entry_id = NETWORK if asked else 42
    request = await w.request(w.ip.entries[entry_id], asked=asked)
    never = asyncio.Event()

    async def no_answer() -> None:
        await never.wait()

    w.ip.before[method] = no_answer
    stopping = asyncio.create_task(w.process(DEAD).approve(request.id, APPROVER, CHANNEL, action))
    while not w.ip.called(method):
        await asyncio.sleep(0.001)
    stopping.cancel()
    with pytest.raises(asyncio.CancelledError):
        await stopping
    del w.ip.before[method]
    return request.id


async def undo_stopped(w: World, done: UnblockRequest) -> None:
    """The undo of ``done``, claimed in the process ``DEAD``, which stopped right after its claim."""
    with stopped_during(w), pytest.raises(Stopped):
        await w.process(DEAD).undo(done.id, GROUP_MEMBER, CHANNEL)
    assert (await w.state(done.id)).state is UNDOING


async def recovered(w: World) -> list[UnblockRequest]:
    """What recovery finishes once the stopped process's calls must have ended."""
    w.ip.calls.clear()
    w.clock.advance(TIMING.takeover_after + 0.001)
    return await w.requests.recover()


def allow_entries(w: World) -> list[BlocklistEntry]:
    return [e for e in w.ip.entries.values() if not e.blocks]


# -- Approve ---------------------------------------------------------------------------------------------


async def test_a_claim_is_not_taken_over_before_its_owner_must_be_gone() -> None:
    w = world()
    request = await stopped_after_claiming(w)
    w.clock.advance(TIMING.takeover_after)
    assert await w.requests.recover() == [] and w.ip.calls == []
    now = await w.state(request.id)
    assert (now.state, now.owner) == (X, DEAD)


async def test_a_stopped_claim_still_listed_is_removed_once() -> None:
    w = world()
    request = await stopped_after_claiming(w)
    [done] = await recovered(w)
    assert (done.id, done.state, done.owner) == (request.id, U, None)
    assert w.ip.calls == [("listed", 42), ("remove", 42)]
    [result] = done.done.results
    assert (result.outcome, result.after_restart) == (Outcome.DELETED, True)
    assert done.done.undo_until is not None
    assert await w.moves(request.id) == [(None, P), (P, X), (X, U)]
    assert await w.requests.recover() == [] and w.ip.called("remove") == [42]


async def test_a_stopped_claim_whose_delete_3cx_made_late_is_not_deleted_twice() -> None:
    w = world()
    request_id = await stopped_while_3cx_works(w, "remove")
    w.ip.drop(42)  # 3CX carries the DELETE out afterwards
    [done] = await recovered(w)
    assert done.state is U and w.ip.calls == [("listed", 42)]
    [result] = done.done.results
    assert (result.outcome, result.after_restart) == (Outcome.DELETED, True)
    assert result.answer == "checked after a restart: 3CX no longer lists it"
    assert done.id == request_id and done.removed == list(done.what.targets)  # Undo puts it back


async def test_a_stopped_claim_3cx_cannot_be_asked_about_waits_for_the_next_try() -> None:
    w = world()
    request = await stopped_after_claiming(w)
    w.ip.fail("listed", unavailable())
    assert await recovered(w) == []
    assert (await w.state(request.id)).state is X and w.ip.calls == [("listed", 42)]
    [done] = await recovered(w)
    assert done.state is U and w.ip.calls == [("listed", 42), ("remove", 42)]


# -- its undo ----------------------------------------------------------------------------------------


async def test_a_stopped_undo_is_restored_once() -> None:
    w = world()
    click = await w.requests.approve((await w.request(w.ip.entries[42])).id, APPROVER, CHANNEL)
    assert isinstance(click, Resolved)
    await undo_stopped(w, click.request)
    [undone] = await recovered(w)
    assert (undone.state, undone.owner) == (UNDONE, None) and undone.done.undo_results[0].after_restart
    assert w.ip.calls == [("find_restored", 42), ("restore", 42)]
    assert await w.requests.recover() == [] and w.ip.called("restore") == [42]


async def test_a_stopped_undo_that_3cx_made_is_found_restored() -> None:
    w = world()
    click = await w.requests.approve((await w.request(w.ip.entries[42])).id, APPROVER, CHANNEL)
    assert isinstance(click, Resolved)
    await undo_stopped(w, click.request)
    w.ip.put(blocked_address(77, "203.0.113.7"))  # the stopped process's POST, made
    [undone] = await recovered(w)
    assert undone.state is UNDONE and w.ip.calls == [("find_restored", 42)]
    [result] = undone.done.undo_results
    assert (result.outcome, result.new_id, result.after_restart) == (Outcome.RESTORED, "77", True)


# -- Approve and allow, Allow only ---------------------------------------------------------------------


async def test_a_stopped_allow_only_whose_entry_3cx_added_is_found_and_not_added_again() -> None:
    w = world()
    request_id = await stopped_while_3cx_works(w, "allow", Action(Does.ALLOW_ONLY, HOUR), ASKED)
    note = f"Allowed for 1 hour by unblock-bot: approved by {APPROVER}, {marker(await w.state(request_id))}"
    w.ip.put(BlocklistEntry(2000, ASKED, note, ALLOW, "API", expires_at(w.clock() + HOUR)))  # 3CX made it
    [done] = await recovered(w)
    assert w.ip.calls == [("marked", ASKED)]  # found; neither a second POST nor a DELETE
    [result] = done.done.results
    assert (done.state, result.outcome, result.added_allow, result.after_restart) == (U, Outcome.ALLOWED, 2000, True)
    assert [e.id for e in allow_entries(w)] == [2000] and w.ip.entries[NETWORK].blocks
    assert await w.requests.recover() == [] and w.ip.called("allow") == []


async def test_a_stopped_allow_only_whose_entry_3cx_did_not_add_adds_it_once() -> None:
    w = world()
    await stopped_while_3cx_works(w, "allow", Action(Does.ALLOW_ONLY, HOUR), ASKED)
    [done] = await recovered(w)
    assert done.state is U and w.ip.calls == [("marked", ASKED), ("with_masks", w.ip.calls[1][1]), ("allow", ASKED)]
    [entry] = allow_entries(w)
    assert done.done.results[0].allow_id == entry.id and done.done.results[0].after_restart


async def test_a_stopped_allow_only_3cx_cannot_be_asked_about_waits_for_the_next_try() -> None:
    w = world()
    request = await stopped_after_claiming(w, NETWORK, Action(Does.ALLOW_ONLY, HOUR), ASKED)
    w.ip.fail("marked", unavailable())
    assert await recovered(w) == []
    assert (await w.state(request.id)).state is X and w.ip.called("allow") == []
    [done] = await recovered(w)
    assert done.state is U and w.ip.called("allow") == [ASKED]


async def test_a_stopped_undo_of_allow_only_removes_the_allow_entry_once() -> None:
    w = world()
    request = await w.request(w.ip.entries[NETWORK], asked=ASKED)
    click = await w.requests.approve(request.id, APPROVER, CHANNEL, Action(Does.ALLOW_ONLY, HOUR))
    assert isinstance(click, Resolved)
    allow_id = click.request.done.results[0].allow_id
    await undo_stopped(w, click.request)
    [undone] = await recovered(w)
    assert undone.state is UNDONE and undone.done.undo_results[0].after_restart
    assert w.ip.calls == [("remove_entry", allow_id)] and allow_entries(w) == [] and NETWORK in w.ip.entries
    assert await w.requests.recover() == []
