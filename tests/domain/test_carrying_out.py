"""What carrying out an approval or an undo does in 3CX, through the service, for each kind of action: each entry
removed once and put back once, an allow entry added once (or none when one lets the address in already) and
taken back, lost answers looked up rather than sent again, the database away at the end, and a claim lost to
another process.

After a restart, the same path: a request whose process stopped while it held the claim is finished by another
process (or the same one, restarted) once every 3CX call the stopped one could have started must have ended,
after asking 3CX what it did already: nothing is removed, put back or allowed twice, and a request 3CX cannot be
asked about waits for the next try."""

from __future__ import annotations

import asyncio

import pytest

from bot.domain.actions import UNBLOCK, Action, Does
from bot.domain.allowing import marker
from bot.domain.claims import NOT_ALLOWABLE
from bot.domain.entries import ALLOW, BlocklistEntry
from bot.domain.model import State, UnblockRequest
from bot.domain.outcomes import Outcome
from bot.domain.results import AlreadyResolved, HandedOver, Refused, Resolved

from .fakes import (
    APPROVER,
    CHANNEL,
    GROUP_MEMBER,
    TIMING,
    Stopped,
    World,
    blocked_address,
    expires_at,
    forbidden,
    stopped_during,
    unavailable,
    world,
)

P, X, U, F = State.PENDING, State.EXECUTING, State.UNBLOCKED, State.FAILED
UNDONE, UNDO_FAILED = State.UNDONE, State.UNDO_FAILED
HOUR = 3600.0
ALLOW_HOUR = Action(Does.UNBLOCK_AND_ALLOW, HOUR)
ONLY_HOUR = Action(Does.ALLOW_ONLY, HOUR)
#: the world's entry 43 blocks 198.51.100.0/24; the address asked for lies inside it
NETWORK, ASKED = 43, "198.51.100.7"
#: a process that stopped while it held a claim
DEAD = "bot-dead"


async def asked(w: World, action: Action = UNBLOCK) -> UnblockRequest:
    """A request for entry 42, or for Allow only, for ``ASKED`` inside ``NETWORK``."""
    if action.removes:
        return await w.request(w.ip.entries[42])
    return await w.request(w.ip.entries[NETWORK], asked=ASKED)


async def approved(w: World, *entry_ids: int, action: Action = UNBLOCK) -> UnblockRequest:
    """A request for these IP blocklist entries (none: the one ``asked`` makes), approved for ``action`` by
    ``APPROVER`` and carried out."""
    request = await w.request(*(w.ip.entries[i] for i in entry_ids)) if entry_ids else await asked(w, action)
    click = await w.requests.approve(request.id, APPROVER, CHANNEL, action)
    assert isinstance(click, Resolved), click
    return click.request


async def undone(w: World, request: UnblockRequest) -> UnblockRequest:
    click = await w.requests.undo(request.id, GROUP_MEMBER, CHANNEL)
    assert isinstance(click, Resolved), click
    return click.request


def allow_entries(w: World) -> list[BlocklistEntry]:
    return [e for e in w.ip.entries.values() if not e.blocks]


async def stopped_after_claiming(w: World, action: Action = UNBLOCK) -> UnblockRequest:
    """A request approved in the process ``DEAD``, which stopped right after its claim."""
    request = await asked(w, action)
    with stopped_during(w), pytest.raises(Stopped):
        await w.process(DEAD).approve(request.id, APPROVER, CHANNEL, action)
    return await w.state(request.id)


async def stopped_while_3cx_works(w: World, method: str, action: Action = UNBLOCK) -> str:
    """A request whose process ``DEAD`` called 3CX's ``method`` and stopped before 3CX answered."""
    request = await asked(w, action)
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


async def undo_stopped(w: World, action: Action = UNBLOCK) -> UnblockRequest:
    """A request carried out, whose undo the process ``DEAD`` claimed and stopped right after."""
    done = await approved(w, action=action)
    with stopped_during(w), pytest.raises(Stopped):
        await w.process(DEAD).undo(done.id, GROUP_MEMBER, CHANNEL)
    assert (await w.state(done.id)).state is State.UNDOING
    return done


async def recovered(w: World) -> list[UnblockRequest]:
    """What recovery finishes once the stopped process's calls must have ended."""
    w.ip.calls.clear()
    w.clock.advance(TIMING.takeover_after + 0.001)
    return await w.requests.recover()


# -- Approve, and its undo ---------------------------------------------------------------------------


async def test_approve_and_undo_tell_of_their_claim_then_remove_and_put_back_each_entry_once() -> None:
    w = world()
    request = await w.request(w.ip.entries[42], w.ip.entries[43])
    seen: list[tuple[State, list[object]]] = []
    w.cards.then = lambda r: seen.append((r.state, [name for name, _ in w.ip.calls]))
    click = await w.requests.approve(request.id, APPROVER, CHANNEL)
    assert isinstance(click, Resolved)
    done = click.request
    assert (done.state, done.owner) == (U, None)
    assert [(r.outcome, r.answer) for r in done.done.results] == [(Outcome.DELETED, "HTTP 204")] * 2
    assert done.done.undo_until == w.clock() + TIMING.undo_window
    assert w.ip.calls == [("remove", 42), ("remove", 43)] and set(w.ip.entries) == set()
    assert await w.moves(done.id) == [(None, P), (P, X), (X, U)]
    assert (await w.store.transitions(done.id))[-1].answer == "HTTP 204; HTTP 204"
    assert (await w.state(done.id)) == done
    back = await undone(w, done)
    assert (back.state, back.owner, w.ip.called("restore")) == (UNDONE, None, [42, 43])
    assert seen == [(X, []), (State.UNDOING, ["remove", "remove"])]  # each claim told before 3CX was asked


async def test_a_delete_without_an_answer_that_3cx_made_later_is_looked_for_once_and_unblocked() -> None:
    w = world()
    w.ip.fail("remove", unavailable(lost=True), late=TIMING.call_bound / 2)  # made before a call must be over
    done = await approved(w)
    assert done.state is U and done.outcome is Outcome.DELETED
    assert done.done.results[0].answer == "3CX's answer was lost; checked again: 3CX no longer lists it"
    assert w.ip.calls == [("remove", 42), ("listed", 42)]  # looked for once, never deleted twice
    assert done.done.undo_until is not None and done.removed == list(done.what.targets)


async def test_a_delete_without_an_answer_that_3cx_did_not_make_fails_without_undo() -> None:
    w = world()
    w.ip.fail("remove", unavailable(lost=True))
    done = await approved(w)
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
    done = await approved(w)
    assert (done.state, done.owner, done.outcome) == (F, None, Outcome.INTERNAL)
    assert done.done.results[0].answer == "internal error (RuntimeError)"


@pytest.mark.parametrize(
    ("applied", "state", "answer"),
    [
        (True, UNDONE, "answer lost; 3CX lists it again"),
        (False, UNDO_FAILED, "no answer (timed out); 3CX does not list it"),
    ],
    ids=["3CX put it back", "3CX did not"],
)
async def test_an_undo_whose_answer_was_lost_is_looked_for_once(applied: bool, state: State, answer: str) -> None:
    w = world()
    done = await approved(w)
    w.ip.fail("restore", unavailable(lost=True), applied=applied)
    back = await undone(w, done)
    assert back.state is state and back.done.undo_results[0].answer == answer
    assert w.ip.called("restore") == [42] and w.ip.called("find_restored") == [42]
    assert (back.done.undo_results[0].new_id in {str(i) for i in w.ip.entries}) is applied
    assert isinstance(await w.requests.undo(done.id, APPROVER, CHANNEL), AlreadyResolved)  # never tried again


# -- Approve and allow, and its undo ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("remove_entry", "state", "calls"),
    [
        (None, UNDONE, ["remove_entry", "restore"]),
        ("gone", UNDONE, ["remove_entry", "restore"]),
        ("refused", UNDO_FAILED, ["remove_entry"]),
    ],
    ids=["removed", "already gone", "refused"],
)
async def test_undo_after_allow_removes_the_allow_entry_before_it_puts_the_block_back(
    remove_entry: str | None, state: State, calls: list[str]
) -> None:
    w = world()
    done = await approved(w, action=ALLOW_HOUR)
    allow_id = done.done.results[0].allow_id
    assert allow_id is not None
    if remove_entry == "gone":
        w.ip.drop(allow_id)
    elif remove_entry == "refused":
        w.ip.fail("remove_entry", forbidden())
    w.ip.calls.clear()
    back = await undone(w, done)
    assert back.state is state and [name for name, _ in w.ip.calls] == calls
    answer = {
        None: f"allow entry {allow_id} removed (HTTP 204); HTTP 201",
        "gone": f"allow entry {allow_id} was already gone; HTTP 201",
        "refused": "the allow entry was not removed, so the block was not put back: HTTP 403 (Forbidden)",
    }
    assert back.done.undo_results[0].answer == answer[remove_entry]


# -- Allow only, and its undo ------------------------------------------------------------------------------


@pytest.mark.parametrize("refused", [False, True], ids=["removed", "refused"])
async def test_undo_of_allow_only_removes_only_the_allow_entry(refused: bool) -> None:
    w = world()
    done = await approved(w, action=ONLY_HOUR)
    allow_id = done.done.results[0].allow_id
    if refused:
        w.ip.fail("remove_entry", forbidden())
    w.ip.calls.clear()
    back = await undone(w, done)
    assert w.ip.calls == [("remove_entry", allow_id)] and NETWORK in w.ip.entries  # nothing was removed
    [result] = back.done.undo_results
    if refused:
        assert (back.state, result.outcome, len(allow_entries(w))) == (UNDO_FAILED, Outcome.FORBIDDEN, 1)
    else:
        assert back.state is UNDONE and allow_entries(w) == []
        assert (result.outcome, result.answer) == (Outcome.DELETED, f"allow entry {allow_id} removed (HTTP 204)")


async def test_allow_only_3cx_refuses_fails_and_changes_nothing() -> None:
    w = world()
    w.ip.fail("allow", forbidden())
    done = await approved(w, action=ONLY_HOUR)
    [result] = done.done.results
    assert (done.state, result.outcome, result.allow_id) == (F, Outcome.FORBIDDEN, None)
    assert result.answer == "the allow entry was not added: HTTP 403 (Forbidden)"
    assert allow_entries(w) == [] and done.done.undo_until is None


async def test_allow_only_whose_answer_was_lost_is_looked_up_not_sent_again() -> None:
    w = world()
    w.ip.fail("allow", unavailable(lost=True), applied=True)
    done = await approved(w, action=ONLY_HOUR)
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


@pytest.mark.parametrize("written", [False, True], ids=["away", "its answer lost"])
async def test_3cxs_answer_is_kept_until_the_database_is_back(written: bool) -> None:
    w = world()
    request = await w.request(w.ip.entries[42])

    async def away() -> None:  # once 3CX was asked, before the last write
        del w.ip.before["remove"]
        w.store.unreachable("transition", written=written)

    w.ip.before["remove"] = away
    click = await w.requests.approve(request.id, APPROVER, CHANNEL)
    assert isinstance(click, Resolved) and (click.request.state, click.request.owner) == (U, None)
    assert await w.moves(request.id) == [(None, P), (P, X), (X, U)] and w.ip.called("remove") == [42]
    assert w.store.calls["transition"] == 3  # the claim, the write that failed, the one that held


@pytest.mark.parametrize("renewed", [True, False], ids=["found by its heartbeat", "found at the last write"])
async def test_a_claim_taken_over_by_another_process_is_left_to_the_new_owner(renewed: bool) -> None:
    w = world()
    request = await w.request(w.ip.entries[42], w.ip.entries[43])

    async def renewal_refused() -> None:
        for _ in range(400):  # until this process's heartbeat finds the claim gone
            if (request.id, "bot-a", False) in w.store.renewals:
                return
            await asyncio.sleep(0.005)
        raise AssertionError("the claim was never renewed")

    w.take_over_during("remove", request.id, then=renewal_refused if renewed else None)
    assert await w.requests.approve(request.id, APPROVER, CHANNEL) == HandedOver(w.cards.claims[0])
    assert w.ip.called("remove") == ([42] if renewed else [42, 43])  # stopped before the next entry
    now = await w.state(request.id)
    assert (now.state, now.owner) == (X, "bot-b") and await w.moves(request.id) == [(None, P), (P, X)]


# -- after a restart: Approve ------------------------------------------------------------------------------


@pytest.mark.parametrize("made", [True, False], ids=["3CX made it", "3CX refused it"])
async def test_a_stopped_claim_is_finished_once_its_owner_must_be_gone_and_never_deleted_twice(made: bool) -> None:
    w = world()
    request_id = await stopped_while_3cx_works(w, "remove")
    if made:
        w.ip.drop(42)  # 3CX carries the DELETE out afterwards
    w.clock.advance(TIMING.takeover_after)
    assert await w.requests.recover() == [] and w.ip.calls == [("remove", 42)]  # its owner may still be at work
    now = await w.state(request_id)
    assert (now.state, now.owner) == (X, DEAD)
    [done] = await recovered(w)
    assert (done.id, done.state, done.owner) == (request_id, U, None) and 42 not in w.ip.entries
    assert w.ip.calls == [("listed", 42)] + ([] if made else [("remove", 42)])
    [result] = done.done.results
    assert (result.outcome, result.after_restart) == (Outcome.DELETED, True)
    if made:
        assert result.answer == "checked after a restart: 3CX no longer lists it"
    assert done.removed == list(done.what.targets) and done.done.undo_until is not None  # Undo puts it back
    assert await w.moves(request_id) == [(None, P), (P, X), (X, U)]
    assert await w.requests.recover() == [] and w.ip.called("remove") == ([] if made else [42])


@pytest.mark.parametrize(
    ("action", "look", "do"),
    [
        (UNBLOCK, "listed", "remove"),
        (ALLOW_HOUR, "marked", "allow"),
        (ONLY_HOUR, "marked", "allow"),
        (None, "find_restored", "restore"),
    ],
    ids=["unblock", "the allow entry after the unblock", "allow only", "undo"],
)
async def test_a_stopped_claim_3cx_cannot_be_asked_about_waits_for_the_next_try(
    action: Action | None, look: str, do: str
) -> None:
    w = world()
    request = await (undo_stopped(w) if action is None else stopped_after_claiming(w, action))
    w.ip.fail(look, unavailable())
    assert await recovered(w) == []
    claimed = State.UNDOING if action is None else X
    assert (await w.state(request.id)).state is claimed and w.ip.called(do) == []
    [done] = await recovered(w)
    assert done.state is (UNDONE if action is None else U) and len(w.ip.called(do)) == 1


# -- after a restart: Approve and allow, Allow only ------------------------------------------------------


@pytest.mark.parametrize("made", [True, False], ids=["3CX added it", "3CX did not"])
@pytest.mark.parametrize("action", [ALLOW_HOUR, ONLY_HOUR], ids=["approve and allow", "allow only"])
async def test_a_stopped_allow_adds_its_allow_entry_once(action: Action, made: bool) -> None:
    w = world()
    address = "203.0.113.7" if action.removes else ASKED
    request_id = await stopped_while_3cx_works(w, "allow", action)
    if made:
        note = f"Allowed for 1 hour by unblock-bot: approved by {APPROVER}, {marker(await w.state(request_id))}"
        w.ip.put(BlocklistEntry(2000, address, note, ALLOW, "API", expires_at(w.clock() + 3600)))
    [done] = await recovered(w)
    [entry] = allow_entries(w)
    [result] = done.done.results
    outcome = Outcome.DELETED if action.removes else Outcome.ALLOWED
    assert (done.state, result.outcome, result.added_allow, result.after_restart) == (U, outcome, entry.id, True)
    assert w.ip.called("marked") == [address] and w.ip.called("allow") == ([] if made else [address])
    assert w.ip.called("remove") == [] and w.ip.entries[NETWORK].blocks
    assert (42 in w.ip.entries) is not action.removes  # Approve and allow removed it before the stop
    assert await w.requests.recover() == [] and len(allow_entries(w)) == 1


# -- after a restart: undo ---------------------------------------------------------------------------------


@pytest.mark.parametrize("made", [False, True], ids=["3CX did not", "3CX had put it back"])
async def test_a_stopped_undo_is_restored_once(made: bool) -> None:
    w = world()
    done = await undo_stopped(w)
    if made:
        w.ip.put(blocked_address(77, "203.0.113.7"))  # the stopped process's POST, made
    [undone] = await recovered(w)
    assert (undone.id, undone.state, undone.owner) == (done.id, UNDONE, None)
    assert w.ip.calls == ([("find_restored", 42)] if made else [("find_restored", 42), ("restore", 42)])
    [result] = undone.done.undo_results
    assert (result.outcome, result.after_restart) == (Outcome.RESTORED, True)
    assert result.new_id in ({"77"} if made else {str(i) for i in w.ip.entries})
    assert await w.requests.recover() == [] and len(w.ip.called("restore")) == (0 if made else 1)


async def test_a_stopped_undo_of_allow_only_removes_the_allow_entry_once() -> None:
    w = world()
    done = await undo_stopped(w, ONLY_HOUR)
    [undone] = await recovered(w)
    assert undone.state is UNDONE and undone.done.undo_results[0].after_restart
    assert w.ip.calls == [("remove_entry", done.done.results[0].allow_id)]
    assert allow_entries(w) == [] and NETWORK in w.ip.entries
    assert await w.requests.recover() == []
