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
from functools import partial

from .actions import Result
from .allowing import Allowing
from .entries import CallFailed, Target
from .lease import Lease
from .model import State, Timing, UnblockRequest
from .outcomes import Outcome
from .ports import Lists, RequestStore, StoreUnreachable
from .transitions import Transitions

log = logging.getLogger(__name__)


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
        undo = request.state is State.UNDOING
        targets = request.removed if undo and request.done.action.removes else request.what.targets
        step = self._undo if undo else self._do
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
                    result = Result(Outcome.INTERNAL, _internal(error))
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

    async def _finish(self, request: UnblockRequest, results: tuple[Result, ...]) -> UnblockRequest | None:
        """The last transition, which only the claim's owner can make: ``unblocked`` or ``failed`` (Undo offered
        when it changed 3CX), or after an undo ``undone`` or ``undo_failed``. What 3CX answered is kept until the
        database takes it, however long it is away; None when another process took the claim over meanwhile (it
        then finishes the request itself, after asking 3CX)."""
        action, window, move = request.done.action, self.timing.undo_window, self.transitions.move
        if request.state is State.UNDOING:
            to = State.UNDONE if action.undone(results) else State.UNDO_FAILED
            write = partial(move, request, to, request.done.undone_by, undo_results=results)
        else:
            to = State.UNBLOCKED if action.done(results) else State.FAILED
            until = self.transitions.clock() + window if action.changed(results) and window > 0 else None
            write = partial(move, request, to, request.decision.by, results=results, undo_until=until)
        pause = self.timing.store_retry
        while True:
            try:
                finished = await write()
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

    async def _once(
        self,
        lease: Lease,
        again: bool,
        look: Callable[[CallFailed | None], Awaitable[Result | None]],
        do: Callable[[], Awaitable[Result]],
    ) -> Result:
        """``do``, never twice: after a restart (``again``) only when ``look`` finds it not done, and when its
        answer was lost (``look`` is told the error), what ``look`` finds once 3CX must have finished it. Else
        3CX's refusal.

        Raises:
            CallFailed: ``again``, and 3CX could not be asked what was done.
        """
        found = await look(None) if again else None
        if found is not None:
            return found
        try:
            return await do()
        except CallFailed as error:
            failure = Result(error.reason, error.answer())
            if not error.maybe_applied:
                return failure
            await asyncio.sleep(self.timing.call_bound)
            try:
                found = await look(error) if lease.fresh() else None
            except CallFailed:
                found = None
            return found or failure

    async def _do(self, request: UnblockRequest, target: Target, lease: Lease, again: bool) -> Result:
        """Delete the entry, then, once the block is gone, add the allow entry if the action allows; Allow only
        adds the allow entry for the asked address and leaves the entry's block in place."""
        action = request.done.action
        if not action.removes:
            assert request.what.address  # a claim of Allow only needs the address (claims.py)
            return await self._allow(request, request.what.address, lease, again)
        removed = await self._once(lease, again, partial(self._gone, target), partial(self._remove, target))
        if action.allow_for is None or not removed.outcome.gone or not target.address:
            return removed
        return await self._allow(request, target.address, lease, again, removed)

    async def _remove(self, target: Target) -> Result:
        removal = await self.lists[target.kind].remove(target)
        # found gone after a try whose answer was lost: that try of this request's removed it
        ours = removal.deleted or removal.answer_lost
        return Result(Outcome.DELETED if ours else Outcome.ALREADY_GONE, removal.answer)

    async def _gone(self, target: Target, lost: CallFailed | None) -> Result | None:
        """``DELETED`` when 3CX no longer lists the entry (listed when the request was made, so this request's
        DELETE removed it); None while it lists it."""
        if await self.lists[target.kind].listed(target):
            return None
        when = "3CX's answer was lost; checked again" if lost else "checked after a restart"
        return Result(Outcome.DELETED, f"{when}: 3CX no longer lists it")

    async def _allow(
        self, request: UnblockRequest, mask: str, lease: Lease, again: bool, unblocked: Result | None = None
    ) -> Result:
        """The allow entry for ``mask``, added once: alone (Allow only), or after ``unblocked``, what removing the
        block did, which a failure leaves done (and says why)."""
        allowing, seconds = self.allowing, request.done.action.allow_for
        assert seconds is not None  # an action that allows has a duration

        async def look(lost: CallFailed | None) -> Result | None:
            return await allowing.find_added(request, mask)

        add = partial(allowing.allow, request, mask, seconds)
        try:
            allowed = await self._once(lease, again, look, add)
        except Exception as error:
            if unblocked is None or isinstance(error, CallFailed):
                raise
            log.exception("unexpected error while adding an allow entry", extra={"request": request.id})
            allowed = Result(Outcome.INTERNAL, _internal(error))
        if allowed.outcome is not Outcome.ALLOWED:
            allowed = replace(allowed, answer=f"the allow entry was not added: {allowed.answer}")
        else:
            await allowing.kept(request, mask, allowed)
        if unblocked is None:
            return allowed
        return replace(
            unblocked,
            answer=f"{unblocked.answer}; {allowed.answer}",
            allow_id=allowed.allow_id,
            allowed_until=allowed.allowed_until,
            allow_existed=allowed.allow_existed,
        )

    async def _undo(self, request: UnblockRequest, target: Target, lease: Lease, again: bool) -> Result:
        """First the allow entry the request added (gone already is fine), then, when it removed the entry, the
        entry as it was. Allow only removed nothing: its undo only removes the allow entry."""
        removes = request.done.action.removes
        mask = target.address if removes else request.what.address
        try:
            taken = await self.allowing.take_back(request, mask, request.result_for(target))
        except CallFailed as error:
            why = "the allow entry was not removed" + (", so the block was not put back" if removes else "")
            return Result(error.reason, f"{why}: {error.answer()}")
        if taken is not None:
            await self.allowing.ended(request)
        if not removes:
            return taken or Result(Outcome.ALREADY_GONE, "this request added no allow entry")
        restored = await self._once(lease, again, partial(self._restored, target), partial(self._restore, target))
        return replace(restored, answer=f"{taken.answer}; {restored.answer}") if taken else restored

    async def _restore(self, target: Target) -> Result:
        created, answer = await self.lists[target.kind].restore(target)
        return Result(Outcome.RESTORED, answer, new_id=str(created.id))

    async def _restored(self, target: Target, lost: CallFailed | None) -> Result | None:
        """``RESTORED`` when 3CX lists the entry again; after a lost answer, a failure that says it does not."""
        found = await self.lists[target.kind].find_restored(target)
        if found is not None:
            when = "answer lost;" if lost else "checked after a restart:"
            return Result(Outcome.RESTORED, f"{when} 3CX lists it again", new_id=found)
        return Result(lost.reason, f"{lost.answer()}; 3CX does not list it") if lost else None


def _internal(error: Exception) -> str:
    return f"internal error ({type(error).__name__})"
