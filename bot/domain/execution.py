"""Execution: carrying out a decision in 3CX, and finishing what a stopped process left half done.

Only the process that claimed a request (``executing`` after Approve,
``undoing`` after Undo) talks to 3CX about it, under a :class:`~bot.domain.lease.Lease`.
A claim whose heartbeat stopped belongs to a process that died: once every 3CX
call that process could have started must have ended, another process (or the
same one, restarted) takes the claim over and finishes the request by asking
3CX what is true now, then completing what the approval or the undo asked for.
Nothing is ever removed or added twice.

A request claimed as Allow only (``request.allow_only``) removes nothing: it adds an allow entry for the one
address asked for (``asked_address``), inside the network its entry blocks, and the block stays; its undo
removes that allow entry and puts nothing back.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace

from .allowing import Allowed, Allowing, allowed_only, failed, merge
from .entries import CallFailed, Target
from .lease import Lease
from .model import Result, State, Timing, UnblockRequest
from .outcomes import Outcome
from .ports import Lists, RequestStore, StoreUnreachable
from .transitions import Transitions

log = logging.getLogger(__name__)


#: one step of carrying out a request: what 3CX did with one target
Step = Callable[[UnblockRequest, Target, Lease], Awaitable[Result]]
#: the last transition, once every target was handled (None: another process took the claim over)
Finish = Callable[[UnblockRequest, tuple[Result, ...]], Awaitable[UnblockRequest | None]]


@dataclass(frozen=True, slots=True)
class Execution:
    """Carrying out decisions in 3CX's ``lists``, under this process's claims."""

    lists: Lists
    store: RequestStore
    timing: Timing
    transitions: Transitions
    #: Approve and allow's allow entries
    allowing: Allowing

    async def execute(self, request: UnblockRequest) -> UnblockRequest | None:
        """Delete the entries of a request this process claimed; ends in ``unblocked`` or ``failed``.
        None when the claim was lost (the process could not renew it, so another one finishes it)."""
        self._check_claimed(request, State.EXECUTING)
        if request.allow_only:
            return await self._carry_out(request, request.targets, self._allow_only, self._finish_allow_only)
        return await self._carry_out(request, request.targets, self._delete, self._finish_unblock)

    async def restore(self, request: UnblockRequest) -> UnblockRequest | None:
        """Put back what a claimed undo covers; ends in ``undone`` or ``undo_failed`` (None: claim lost)."""
        self._check_claimed(request, State.UNDOING)
        if request.allow_only:
            return await self._carry_out(request, request.targets, self._unallow_only, self._finish_undo_allow_only)
        return await self._carry_out(request, request.removed, self._create, self._finish_restore)

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
                done = await self._complete(request)
            except CallFailed as error:
                log.warning("3CX could not be asked about it; will try again", extra={"answer": error.answer()})
                continue
            if done is not None:
                finished.append(done)
        return finished

    # -- steps ---------------------------------------------------------------------

    async def _complete(self, request: UnblockRequest) -> UnblockRequest | None:
        if request.allow_only:  # the allow entry its owner may have added is looked for first, never added twice
            if request.state is State.EXECUTING:
                return await self._carry_out(request, request.targets, self._allow_only_if_absent,
                                             self._finish_allow_only)  # fmt: skip
            return await self._carry_out(request, request.targets, self._unallow_only_again,
                                         self._finish_undo_allow_only)  # fmt: skip
        if request.state is State.EXECUTING:
            return await self._carry_out(request, request.targets, self._delete_if_listed, self._finish_unblock)
        return await self._carry_out(request, request.removed, self._create_if_absent, self._finish_restore)

    async def _carry_out(
        self, request: UnblockRequest, targets: Sequence[Target], step: Step, finish: Finish
    ) -> UnblockRequest | None:
        """``step`` for each target while the claim is held (None when it is lost first), then ``finish``."""
        lease = Lease(self.store, request.id, self.transitions.owner, self.transitions.clock, self.timing.heartbeat)
        async with lease.held():
            results = []
            for target in targets:
                if not lease.fresh():
                    return None
                results.append(await step(request, target, lease))
            return await finish(request, tuple(results))

    def _check_claimed(self, request: UnblockRequest, state: State) -> None:
        if request.state is not state or request.owner != self.transitions.owner:
            raise ValueError(f"request {request.id} is not claimed for {state} by this process")

    async def _delete_if_listed(self, request: UnblockRequest, target: Target, lease: Lease) -> Result:
        gone = await self._gone_by_us(target, "checked after a restart")
        if gone is None:
            return replace(await self._delete(request, target, lease, look_first=True), after_restart=True)
        return await self._allow(request, target, replace(gone, after_restart=True), lease, look_first=True)

    async def _gone_by_us(self, target: Target, when: str) -> Result | None:
        """After a DELETE of this request's that reached 3CX without an answer (its process stopped, or the
        answer was lost): ``DELETED`` when 3CX no longer lists the entry (listed when the request was made, so
        that DELETE removed it); None while 3CX lists it. Raises ``CallFailed`` when 3CX cannot be asked."""
        if await self.lists[target.kind].listed(target):
            return None
        return Result(Outcome.DELETED, f"{when}: 3CX no longer lists it")

    async def _after_lost_delete(self, target: Target, lease: Lease, failure: Result) -> Result:
        """A DELETE without an answer: ``DELETED`` if 3CX, once done, no longer lists the entry; else ``failure``."""
        await asyncio.sleep(self.timing.call_bound)
        try:
            gone = await self._gone_by_us(target, "3CX's answer was lost; checked again") if lease.fresh() else None
        except CallFailed:
            gone = None
        return gone or failure

    async def _create_if_absent(self, request: UnblockRequest, target: Target, lease: Lease) -> Result:
        removed, refusal = await self._unallow(request, target)
        if refusal is not None:
            return replace(refusal, after_restart=True)
        found = await self.lists[target.kind].find_restored(target)
        if found is not None:
            again = Result(Outcome.RESTORED, "checked after a restart: 3CX lists it again", found, after_restart=True)
            return _noted(removed, again)
        return replace(_noted(removed, await self._put_back(request, target, lease)), after_restart=True)

    async def _finish_unblock(self, request: UnblockRequest, results: tuple[Result, ...]) -> UnblockRequest | None:
        done = all(r.outcome.gone for r in results)
        return await self._finish(request, results, done, any(r.outcome is Outcome.DELETED for r in results))

    async def _finish_allow_only(self, request: UnblockRequest, results: tuple[Result, ...]
                                 ) -> UnblockRequest | None:  # fmt: skip
        done = all(r.outcome is Outcome.ALLOWED for r in results)
        return await self._finish(request, results, done, any(r.added_allow is not None for r in results))

    async def _finish(self, request: UnblockRequest, results: tuple[Result, ...], done: bool, changed: bool
                      ) -> UnblockRequest | None:  # fmt: skip
        """End the request ``unblocked`` (``done``) or ``failed``; Undo is offered when it ``changed`` 3CX."""
        to = State.UNBLOCKED if done else State.FAILED
        window = self.timing.undo_window
        undo_until = self.transitions.clock() + window if changed and window > 0 else None
        actor = request.resolved_by
        return await self._settle(
            request, to, lambda: self.transitions.move(request, to, actor, results=results, undo_until=undo_until)
        )

    async def _finish_restore(self, request: UnblockRequest, results: tuple[Result, ...]) -> UnblockRequest | None:
        return await self._finish_undo(request, results, all(r.outcome is Outcome.RESTORED for r in results))

    async def _finish_undo_allow_only(self, request: UnblockRequest, results: tuple[Result, ...]
                                      ) -> UnblockRequest | None:  # fmt: skip
        return await self._finish_undo(request, results, all(r.outcome.gone for r in results))

    async def _finish_undo(self, request: UnblockRequest, results: tuple[Result, ...], done: bool
                           ) -> UnblockRequest | None:  # fmt: skip
        """End the undo ``undone`` (``done``) or ``undo_failed``."""
        to = State.UNDONE if done else State.UNDO_FAILED
        return await self._settle(
            request, to, lambda: self.transitions.move(request, to, request.undone_by, undo_results=results)
        )

    async def _settle(
        self, request: UnblockRequest, to: State, write: Callable[[], Awaitable[UnblockRequest | None]]
    ) -> UnblockRequest | None:
        """The last transition of a claimed request, which only its owner can make. What 3CX answered is kept
        until the database takes it, however long it is away; None when another process took the claim over
        meanwhile (it then finishes the request itself, after asking 3CX)."""
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

    async def _delete(self, request: UnblockRequest, target: Target, lease: Lease, *, look_first: bool = False
                      ) -> Result:  # fmt: skip
        try:
            removal = await self.lists[target.kind].remove(target)
        except CallFailed as error:
            failure = Result(Outcome.of(error), error.answer())
            if not error.maybe_applied:
                return failure
            result = await self._after_lost_delete(target, lease, failure)
        except Exception as error:  # the request must not stay in `executing` whatever happens
            log.exception("unexpected error while deleting an entry", extra={"request": request.id})
            return Result(Outcome.INTERNAL, f"internal error ({type(error).__name__})")
        else:  # found gone after a try whose answer was lost: that try of this request's removed it
            ours = removal.deleted or removal.answer_lost
            result = Result(Outcome.DELETED if ours else Outcome.ALREADY_GONE, removal.answer)
        return await self._allow(request, target, result, lease, look_first=look_first)

    async def _allow(self, request: UnblockRequest, target: Target, result: Result, lease: Lease, *,
                     look_first: bool) -> Result:  # fmt: skip
        """Approve and allow: once the block is gone, the allow entry (``look_first``: unless 3CX lists the
        one this request added, after a restart). A failure leaves the unblock done and says why."""
        mask, seconds = target.address, request.allow_for
        if seconds is None or not result.outcome.gone or not mask:
            return result
        try:
            return merge(result, await self._add_allow(request, mask, seconds, lease, look_first=look_first))
        except CallFailed as error:
            return failed(result, error)
        except Exception as error:
            log.exception("unexpected error while adding an allow entry", extra={"request": request.id})
            return failed(result, error)

    async def _add_allow(self, request: UnblockRequest, mask: str, seconds: float, lease: Lease, *,
                         look_first: bool) -> Allowed:  # fmt: skip
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
            if error.maybe_applied:  # the answer was lost: look once 3CX must have finished, never add twice
                await asyncio.sleep(self.timing.call_bound)
                try:
                    found = await allowing.find_added(request, mask) if lease.fresh() else None
                except CallFailed:
                    found = None
                if found is not None:
                    return found
            raise

    async def _allow_only(self, request: UnblockRequest, target: Target, lease: Lease) -> Result:
        """Allow only: an allow entry for the asked address, for ``allow_for`` (none when one already lets it
        in); the entry's block is left in place, and nothing is deleted."""
        address, seconds = request.asked_address, request.allow_for
        if not address or seconds is None:  # the claim always has both: Decisions refuses Allow only without
            return Result(Outcome.INTERNAL, "internal error (Allow only without an address or a duration)")
        try:
            return allowed_only(await self._add_allow(request, address, seconds, lease, look_first=False))
        except CallFailed as error:
            return Result(Outcome.of(error), f"the allow entry was not added: {error.answer()}")
        except Exception as error:  # the request must not stay in `executing` whatever happens
            log.exception("unexpected error while adding an allow entry", extra={"request": request.id})
            return Result(Outcome.INTERNAL, f"internal error ({type(error).__name__})")

    async def _allow_only_if_absent(self, request: UnblockRequest, target: Target, lease: Lease) -> Result:
        """After a restart: the allow entry this request added, if 3CX lists it, else added now. When 3CX cannot
        be asked, ``CallFailed`` leaves the request as it is, for the next try."""
        address = request.asked_address
        found = await self.allowing.find_added(request, address) if address else None
        result = allowed_only(found) if found is not None else await self._allow_only(request, target, lease)
        return replace(result, after_restart=True)

    async def _unallow_only_again(self, request: UnblockRequest, target: Target, lease: Lease) -> Result:
        return replace(await self._unallow_only(request, target, lease), after_restart=True)

    async def _unallow_only(self, request: UnblockRequest, target: Target, lease: Lease) -> Result:
        """Undo of Allow only: remove the allow entry the request added (gone already is fine); nothing is put
        back, since nothing was removed."""
        prior = request.result_for(target)
        if prior is None or prior.added_allow is None:
            return Result(Outcome.ALREADY_GONE, "this request added no allow entry")
        try:
            return await self.allowing.take_back(prior.added_allow)
        except CallFailed as error:
            return Result(Outcome.of(error), f"the allow entry {prior.added_allow} was not removed: {error.answer()}")
        except Exception as error:
            log.exception("unexpected error while removing an allow entry", extra={"request": request.id})
            return Result(Outcome.INTERNAL, f"internal error ({type(error).__name__})")

    async def _unallow(self, request: UnblockRequest, target: Target) -> tuple[str | None, Result | None]:
        """Before a block is put back: remove the allow entry the unblock added (``Allowing.added``). (What 3CX
        said, None) when it is gone or there was none; (None, the failure) when 3CX would not remove it."""
        try:
            added = await self.allowing.added(request, target.address, request.result_for(target))
            return (await self.allowing.remove(added) if added is not None else None), None
        except CallFailed as error:
            why = "the allow entry was not removed, so the block was not put back"
            return None, Result(Outcome.of(error), f"{why}: {error.answer()}")

    async def _create(self, request: UnblockRequest, target: Target, lease: Lease) -> Result:
        removed, refusal = await self._unallow(request, target)
        if refusal is not None:
            return refusal
        return _noted(removed, await self._put_back(request, target, lease))

    async def _put_back(self, request: UnblockRequest, target: Target, lease: Lease) -> Result:
        entries = self.lists[target.kind]
        try:
            created, answer = await entries.restore(target)
        except CallFailed as error:
            if not error.maybe_applied:
                return Result(Outcome.of(error), error.answer())
            # the answer was lost: 3CX may still add it; look once it must have finished, never add twice
            await asyncio.sleep(self.timing.call_bound)
            if not lease.fresh():
                return Result(Outcome.of(error), error.answer())
            try:
                found = await entries.find_restored(target)
            except CallFailed:
                return Result(Outcome.of(error), error.answer())
            if found is None:
                return Result(Outcome.of(error), f"{error.answer()}; 3CX does not list it")
            return Result(Outcome.RESTORED, "answer lost; 3CX lists it again", new_id=found)
        except Exception as error:
            log.exception("unexpected error while restoring an entry", extra={"request": request.id})
            return Result(Outcome.INTERNAL, f"internal error ({type(error).__name__})")
        return Result(Outcome.RESTORED, answer, new_id=str(created.id))


def _noted(note: str | None, result: Result) -> Result:
    """``result`` with what was done before it (removing an allow entry) in its answer."""
    return replace(result, answer=f"{note}; {result.answer}") if note else result
