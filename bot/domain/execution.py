"""Execution: carrying out a decision in 3CX, and finishing what a stopped process left half done.

Only the process that claimed a request (``executing`` after Approve,
``undoing`` after Undo) talks to 3CX about it, under a :class:`~bot.domain.lease.Lease`.
A claim whose heartbeat stopped belongs to a process that died: once every 3CX
call that process could have started must have ended, another process (or the
same one, restarted) takes the claim over and finishes the request on the same
path, asking 3CX first what is true now (``again``). Nothing is ever removed or
added twice.

What each step does depends on the request's :class:`~bot.domain.actions.Action`: one that removes the entries
deletes them (and adds an allow entry when it allows), and its undo puts them back; Allow only adds an allow
entry for the one address asked for and removes nothing, and its undo removes that allow entry.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import TypeVar

from .actions import Result
from .allowing import Allowed, Allowing, failed
from .entries import CallFailed, Target
from .lease import Lease
from .model import State, Timing, UnblockRequest
from .outcomes import Outcome
from .ports import Lists, RequestStore, StoreUnreachable
from .transitions import Transitions

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Execution:
    """Carrying out decisions in 3CX's ``lists``, under this process's claims."""

    lists: Lists
    store: RequestStore
    timing: Timing
    transitions: Transitions
    #: the allow entries of actions that allow
    allowing: Allowing

    async def carry_out(self, request: UnblockRequest, *, again: bool = False) -> UnblockRequest | None:
        """Carry out a request this process claimed (``executing``: ends in ``unblocked`` or ``failed``;
        ``undoing``: in ``undone`` or ``undo_failed``). ``again``: a stopped process had claimed it, so 3CX is
        asked first what it did already. None when the claim was lost (another process finishes it).

        Raises:
            CallFailed: ``again``, and 3CX could not be asked what it did (the request stays as it is).
        """
        if not request.state.claimed or request.owner != self.transitions.owner:
            raise ValueError(f"request {request.id} is not claimed by this process")
        undo, removes = request.state is State.UNDOING, request.done.action.removes
        targets = request.removed if undo and removes else request.what.targets
        step = self._undo if undo else self._remove if removes else self._allow_only
        lease = Lease(self.store, request.id, self.transitions.owner, self.transitions.clock, self.timing.heartbeat)
        async with lease.held():
            results = []
            for target in targets:
                if not lease.fresh():
                    return None
                try:
                    result = await step(request, target, lease, again)
                except CallFailed:
                    raise  # only after a restart: 3CX could not be asked what was done; the next try asks again
                except Exception as error:  # the request must not stay claimed whatever happens
                    log.exception("unexpected error while carrying out a request", extra={"request": request.id})
                    result = _internal(error)
                results.append(replace(result, after_restart=True) if again else result)
            return await self._finish(request, tuple(results))

    async def recover(self) -> list[UnblockRequest]:
        """Finish the requests whose owner stopped renewing its claim, once every 3CX call it could have
        started must have ended: check 3CX, then complete what the approval or the undo asked for. The
        ones finished; a request 3CX could not be asked about stays as it is, for the next try."""
        finished = []
        clock = self.transitions.clock
        for stale in await self.store.abandoned(clock() - self.timing.takeover_after):
            assert stale.heartbeat_at is not None
            request = await self.store.take_over(stale.id, self.transitions.owner, stale.heartbeat_at, clock())
            if request is None:
                continue  # another process took it, or its owner came back
            log.warning(
                "finishing a request whose process stopped", extra={"request": request.id, "state": request.state}
            )
            try:
                done = await self.carry_out(request, again=True)
            except CallFailed as error:
                log.warning("3CX could not be asked about it; will try again", extra={"answer": error.answer()})
                continue
            if done is not None:
                finished.append(done)
        return finished

    # -- steps ---------------------------------------------------------------------

    async def _finish(self, request: UnblockRequest, results: tuple[Result, ...]) -> UnblockRequest | None:
        """The last transition, which only the claim's owner can make: ``unblocked`` or ``failed`` (Undo offered
        when it changed 3CX), or after an undo ``undone`` or ``undo_failed``. What 3CX answered is kept until the
        database takes it, however long it is away; None when another process took the claim over meanwhile (it
        then finishes the request itself, after asking 3CX)."""
        action, window, undo = request.done.action, self.timing.undo_window, request.state is State.UNDOING
        if undo:
            to = State.UNDONE if action.undone(results) else State.UNDO_FAILED
        else:
            to = State.UNBLOCKED if action.done(results) else State.FAILED
        undo_until = self.transitions.clock() + window if not undo and action.changed(results) and window > 0 else None
        pause = self.timing.store_retry
        while True:
            try:
                if undo:
                    finished = await self.transitions.move(request, to, request.done.undone_by, undo_results=results)
                else:
                    actor = request.decision.by
                    finished = await self.transitions.move(request, to, actor, results=results, undo_until=undo_until)
                if finished is not None:
                    return finished
                current = await self.store.get(request.id)
            except StoreUnreachable:
                log.warning("keeping 3CX's answer until the database is back", extra={"request": request.id})
                await asyncio.sleep(pause)
                pause = min(2 * pause, 15.0)
                continue
            if current is not None and current.state is to and current.owner is None:
                return current  # written by an earlier try whose answer was lost
            log.warning("another process took this request over and finishes it", extra={"request": request.id})
            return None

    async def _remove(self, request: UnblockRequest, target: Target, lease: Lease, again: bool) -> Result:
        """Delete the entry, then add the allow entry if the action allows. ``again``: unless 3CX no longer lists
        it (listed when the request was made, so this request's earlier DELETE removed it)."""
        gone = await self._gone_by_us(target, "checked after a restart") if again else None
        if gone is not None:
            return await self._allow(request, target, gone, lease, look_first=True)
        try:
            removal = await self.lists[target.kind].remove(target)
        except CallFailed as error:
            failure = Result(error.reason, error.answer())
            if not error.maybe_applied:
                return failure
            gone = await self._look_later(
                lease, lambda: self._gone_by_us(target, "3CX's answer was lost; checked again")
            )
            result = gone or failure
        else:  # found gone after a try whose answer was lost: that try of this request's removed it
            ours = removal.deleted or removal.answer_lost
            result = Result(Outcome.DELETED if ours else Outcome.ALREADY_GONE, removal.answer)
        return await self._allow(request, target, result, lease, look_first=again)

    async def _gone_by_us(self, target: Target, when: str) -> Result | None:
        """After a DELETE of this request's that reached 3CX without an answer (its process stopped, or the
        answer was lost): ``DELETED`` when 3CX no longer lists the entry; None while it lists it. Raises
        ``CallFailed`` when 3CX cannot be asked."""
        if await self.lists[target.kind].listed(target):
            return None
        return Result(Outcome.DELETED, f"{when}: 3CX no longer lists it")

    async def _look_later(self, lease: Lease, look: Callable[[], Awaitable[T | None]]) -> T | None:
        """After a call whose answer was lost: what ``look`` finds once 3CX must have finished that call (never
        sent twice); None when the claim is no longer fresh, or 3CX cannot be asked."""
        await asyncio.sleep(self.timing.call_bound)
        try:
            return await look() if lease.fresh() else None
        except CallFailed:
            return None

    async def _allow(
        self, request: UnblockRequest, target: Target, result: Result, lease: Lease, *, look_first: bool
    ) -> Result:
        """Once the block is gone, the allow entry of an action that allows (``look_first``: unless 3CX lists
        the one this request added, after a restart). A failure leaves the unblock done and says why."""
        mask, seconds = target.address, request.done.action.allow_for
        if seconds is None or not result.outcome.gone or not mask:
            return result
        try:
            return (await self._add_allow(request, mask, seconds, lease, look_first=look_first)).result(result)
        except Exception as error:
            if not isinstance(error, CallFailed):
                log.exception("unexpected error while adding an allow entry", extra={"request": request.id})
            return failed(result, error)

    async def _add_allow(
        self, request: UnblockRequest, mask: str, seconds: float, lease: Lease, *, look_first: bool
    ) -> Allowed:
        """The allow entry for ``mask``, added once (``look_first``: unless 3CX lists the one this request added,
        after a restart); when 3CX's answer is lost, the one 3CX added is looked for, never a second one sent.

        Raises:
            CallFailed: 3CX refused, or could not be reached and lists no entry of this request's.
        """
        allowing = self.allowing
        try:
            found = await allowing.find_added(request, mask) if look_first else None
            return found or await allowing.allow(request, mask, seconds)
        except CallFailed as error:
            # the answer was lost: look once 3CX must have finished, never add twice
            found = (
                await self._look_later(lease, lambda: allowing.find_added(request, mask))
                if error.maybe_applied
                else None
            )
            if found is None:
                raise
            return found

    async def _allow_only(self, request: UnblockRequest, target: Target, lease: Lease, again: bool) -> Result:
        """Allow only: an allow entry for the asked address (none when one already lets it in); the entry's
        block is left in place. ``again``: unless 3CX lists the one this request added (when 3CX cannot be
        asked, ``CallFailed`` leaves the request as it is, for the next try)."""
        address, seconds = request.what.address, request.done.action.allow_for
        assert address and seconds is not None  # Decisions refuses Allow only without
        found = await self.allowing.find_added(request, address) if again else None
        if found is not None:
            return found.result()
        try:
            return (await self._add_allow(request, address, seconds, lease, look_first=False)).result()
        except CallFailed as error:
            return Result(error.reason, f"the allow entry was not added: {error.answer()}")

    async def _undo(self, request: UnblockRequest, target: Target, lease: Lease, again: bool) -> Result:
        """First the allow entry the request added (gone already is fine), then, when it removed the entry, the
        entry as it was (``again``: unless 3CX lists it again already). Allow only removed nothing: its undo only
        removes the allow entry."""
        removes = request.done.action.removes
        mask = target.address if removes else request.what.address
        try:
            added = await self.allowing.added(request, mask, request.result_for(target))
            removed = await self.allowing.take_back(added) if added is not None else None
        except CallFailed as error:
            why = "the allow entry was not removed" + (", so the block was not put back" if removes else "")
            return Result(error.reason, f"{why}: {error.answer()}")
        if not removes:
            return removed or Result(Outcome.ALREADY_GONE, "this request added no allow entry")
        note = removed.answer if removed is not None else None
        found = await self.lists[target.kind].find_restored(target) if again else None
        if found is not None:
            return _noted(note, Result(Outcome.RESTORED, "checked after a restart: 3CX lists it again", found))
        return _noted(note, await self._restore(request, target, lease))

    async def _restore(self, request: UnblockRequest, target: Target, lease: Lease) -> Result:
        entries = self.lists[target.kind]
        try:
            created, answer = await entries.restore(target)
        except CallFailed as error:
            if not error.maybe_applied:
                return Result(error.reason, error.answer())
            # the answer was lost: 3CX may still add it; look once it must have finished, never add twice
            await asyncio.sleep(self.timing.call_bound)
            failure, asked = Result(error.reason, error.answer()), lease.fresh()
            try:
                found = await entries.find_restored(target) if asked else None
            except CallFailed:
                return failure
            if found is not None:
                return Result(Outcome.RESTORED, "answer lost; 3CX lists it again", new_id=found)
            return replace(failure, answer=f"{failure.answer}; 3CX does not list it") if asked else failure
        return Result(Outcome.RESTORED, answer, new_id=str(created.id))


def _noted(note: str | None, result: Result) -> Result:
    """``result`` with what was done before it (removing an allow entry) in its answer."""
    return replace(result, answer=f"{note}; {result.answer}") if note else result


def _internal(error: Exception) -> Result:
    return Result(Outcome.INTERNAL, f"internal error ({type(error).__name__})")
