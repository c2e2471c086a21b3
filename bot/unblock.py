"""The domain: an unblock request, its life, and the service that moves it.

```
/unblock … ──► pending ──approve──► executing ──► unblocked ──undo──► undoing ──► undone
                 │  │                     └────► failed ─────undo──┘        └──► undo_failed
                 │  ├─deny──► denied
                 │  └─cancel─► cancelled
                 └─ttl passes──► expired
```

Every arrow is one compare-and-set in the store, so of two clicks at once
exactly one wins, and only the winner of ``pending → executing`` (or of
``→ undoing``) calls 3CX.
"""

from __future__ import annotations

import enum
import logging
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from .lookup import BlocklistReader
from .policy import ApprovalPolicy
from .threecx import BlockedNumber, BlocklistEntry, DeleteOutcome, NotFoundError, Target, ThreeCXError
from .threecx.odata import any_equal

audit = logging.getLogger("bot.audit")
log = logging.getLogger(__name__)


class State(enum.StrEnum):
    PENDING = "pending"
    EXECUTING = "executing"
    UNBLOCKED = "unblocked"
    FAILED = "failed"
    DENIED = "denied"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    UNDOING = "undoing"
    UNDONE = "undone"
    UNDO_FAILED = "undo_failed"


#: how long a handled Slack delivery is remembered, to recognise Slack's retries of it
DELIVERY_MEMORY = 24 * 3600.0
#: the bot stopped before 3CX confirmed, and a later check found the change not made
INTERRUPTED = "interrupted"
#: outcomes of a delete that leave the entry gone
REMOVED = frozenset({DeleteOutcome.DELETED.value, DeleteOutcome.ALREADY_GONE.value})


@dataclass(frozen=True, slots=True)
class Result:
    """What 3CX did with one target: ``deleted``, ``already_gone``, ``restored`` or an error kind."""

    outcome: str
    answer: str
    #: the Id of the entry that an undo created
    new_id: str | None = None


@dataclass(frozen=True, slots=True)
class UnblockRequest:
    id: str
    #: the entries to remove, as 3CX described them when the request was made
    targets: tuple[Target, ...]
    requester: str
    channel: str
    created_at: float
    #: after this moment the request can no longer be approved
    expires_at: float
    reason: str | None = None
    state: State = State.PENDING
    #: ``ts`` of the card when the bot posted it with chat.postMessage
    message_ts: str | None = None
    #: who took the decision (approved, denied, cancelled) and when
    resolved_by: str | None = None
    resolved_at: float | None = None
    #: one per target, once the deletes ran
    results: tuple[Result, ...] = ()
    #: Undo is offered until this moment
    undo_until: float | None = None
    undone_by: str | None = None
    undone_at: float | None = None
    #: one per removed target, once an undo ran
    undo_results: tuple[Result, ...] = ()

    @property
    def title(self) -> str:
        """What the request is about, for a sentence: ``203.0.113.7`` or ``3 entries``."""
        if len(self.targets) == 1:
            return self.targets[0].label
        return f"{len(self.targets)} entries"

    @property
    def removed(self) -> list[Target]:
        """The targets the unblock actually removed (what an undo would put back)."""
        return [t for t, r in zip(self.targets, self.results, strict=False) if r.outcome in REMOVED]

    @property
    def outcome(self) -> str | None:
        """One word for how the unblock ended: the first failure's kind, else the first outcome."""
        failures = [r.outcome for r in self.results if r.outcome not in REMOVED]
        return failures[0] if failures else (self.results[0].outcome if self.results else None)


@dataclass(frozen=True, slots=True)
class Transition:
    request_id: str
    from_state: State | None
    to_state: State
    actor: str | None
    at: float
    answer: str | None = None


class RequestStore(Protocol):
    """Where requests and their transitions are kept (see ``bot.store``)."""

    async def add(self, request: UnblockRequest) -> None: ...

    async def get(self, request_id: str) -> UnblockRequest | None: ...

    async def set_message_ts(self, request_id: str, message_ts: str) -> None: ...

    async def transition(
        self,
        request_id: str,
        from_state: State,
        to_state: State,
        *,
        actor: str | None,
        at: float,
        results: tuple[Result, ...] | None = None,
        undo_until: float | None = None,
        undo_results: tuple[Result, ...] | None = None,
    ) -> UnblockRequest | None:
        """Move the request if it is in ``from_state``; the moved request, or None if another won."""
        ...

    async def transitions(self, request_id: str) -> list[Transition]: ...

    async def recent(self, count: int) -> list[UnblockRequest]: ...

    async def pending_expired(self, now: float) -> list[UnblockRequest]: ...

    async def first_delivery(self, key: str, at: float) -> bool:
        """Record that a Slack delivery was handled; False if it already was (a retry)."""
        ...

    async def forget_deliveries(self, before: float) -> None: ...

    async def stuck(self, claimed_before: float | None) -> list[UnblockRequest]:
        """Requests in ``executing`` or ``undoing`` claimed before that moment (all of them for None)."""
        ...


class Blocklist(BlocklistReader, Protocol):
    """The part of the 3CX client the service needs."""

    async def delete_blocklist_entry(self, entry_id: int, etag: str | None = None) -> DeleteOutcome: ...

    async def delete_blocked_number(self, number_id: str, etag: str | None = None) -> DeleteOutcome: ...

    async def create_blocklist_entry(self, entry: BlocklistEntry) -> BlocklistEntry: ...

    async def create_blocked_number(self, number: BlockedNumber) -> BlockedNumber: ...


# -- what a click leads to -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Resolved:
    """This click moved the request; the card shows the new state."""

    request: UnblockRequest


@dataclass(frozen=True, slots=True)
class Refused:
    """The clicker may not do this; nothing changed."""

    request: UnblockRequest
    reason: str


@dataclass(frozen=True, slots=True)
class AlreadyResolved:
    """Someone (or something) decided it before this click; nothing was done."""

    request: UnblockRequest


@dataclass(frozen=True, slots=True)
class Expired:
    """The request is past its time; ``just_now`` when this click recorded that."""

    request: UnblockRequest
    just_now: bool


@dataclass(frozen=True, slots=True)
class Unknown:
    """The button names no request in the store."""

    request_id: str


ClickResult = Resolved | Refused | AlreadyResolved | Expired | Unknown


class UnblockService:
    def __init__(
        self,
        blocklist: Blocklist,
        store: RequestStore,
        policy: ApprovalPolicy,
        *,
        ttl: float,
        undo_window: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.blocklist = blocklist
        self.store = store
        self.policy = policy
        self.ttl = ttl
        self.undo_window = undo_window
        self.clock = clock

    async def open_request(
        self, targets: list[Target], requester: str, channel: str, reason: str | None = None
    ) -> UnblockRequest:
        """Keep a pending request for ``targets``, as they were just read from 3CX."""
        if not targets or not all(t.blocks for t in targets):
            raise ValueError("a request needs at least one entry, and only blocking entries")
        now = self.clock()
        request = UnblockRequest(
            id=secrets.token_hex(8),
            targets=tuple(targets),
            requester=requester,
            channel=channel,
            created_at=now,
            expires_at=now + self.ttl,
            reason=reason,
        )
        await self.store.add(request)
        _audit(request, None, State.PENDING, requester)
        return request

    async def first_delivery(self, key: str) -> bool:
        """False when Slack is delivering something again that was already handled (a retry)."""
        return await self.store.first_delivery(key, self.clock())

    async def card_posted(self, request_id: str, message_ts: str) -> None:
        await self.store.set_message_ts(request_id, message_ts)

    async def history(self, count: int) -> list[UnblockRequest]:
        return await self.store.recent(count)

    # -- decisions -----------------------------------------------------------------

    async def approve(self, request_id: str, user: str) -> ClickResult:
        """Claim the request for ``user``: ``Resolved`` with the request in ``executing`` when this
        click won it; the caller then runs :meth:`execute` (exactly once, by construction)."""
        found = await self._open_for_decision(request_id)
        if not isinstance(found, UnblockRequest):
            return found
        reason = await self.policy.may_approve(user, found)
        if reason is not None:
            return Refused(found, reason)
        return await self._decide(found, State.EXECUTING, user)

    async def deny(self, request_id: str, user: str) -> ClickResult:
        found = await self._open_for_decision(request_id)
        if not isinstance(found, UnblockRequest):
            return found
        reason = await self.policy.may_deny(user, found)
        if reason is not None:
            return Refused(found, reason)
        return await self._decide(found, State.DENIED, user)

    async def cancel(self, request_id: str, user: str) -> ClickResult:
        found = await self._open_for_decision(request_id)
        if not isinstance(found, UnblockRequest):
            return found
        reason = self.policy.may_cancel(user, found)
        if reason is not None:
            return Refused(found, reason)
        return await self._decide(found, State.CANCELLED, user)

    async def execute(self, request: UnblockRequest) -> UnblockRequest:
        """Delete the entries of a claimed request; always ends in ``unblocked`` or ``failed``."""
        if request.state is not State.EXECUTING:
            raise ValueError(f"request {request.id} is not claimed for execution")
        results = tuple([await self._delete(request, target) for target in request.targets])
        to = State.UNBLOCKED if all(r.outcome in REMOVED for r in results) else State.FAILED
        removed_any = any(r.outcome in REMOVED for r in results)
        undo_until = self.clock() + self.undo_window if removed_any and self.undo_window > 0 else None
        finished = await self._move(
            request, to, request.resolved_by, results=results, undo_until=undo_until, claimed=True
        )
        assert finished is not None
        return finished

    # -- undo ------------------------------------------------------------------------

    async def undo(self, request_id: str, user: str) -> ClickResult:
        """Claim an undo: ``Resolved`` with the request in ``undoing``; the caller runs :meth:`restore`."""
        request = await self.store.get(request_id)
        if request is None:
            return Unknown(request_id)
        if request.state in (State.UNDOING, State.UNDONE, State.UNDO_FAILED):
            return AlreadyResolved(request)
        if request.state not in (State.UNBLOCKED, State.FAILED) or not request.removed:
            return Refused(request, "There is nothing to undo: this request removed nothing from 3CX.")
        if request.undo_until is None or self.clock() > request.undo_until:
            return Refused(request, "It is too late to undo this; re-add the entry in the 3CX console if needed.")
        reason = await self.policy.may_approve(user, request, undo=True)
        if reason is not None:
            return Refused(request, reason)
        moved = await self._move(request, State.UNDOING, user)
        return Resolved(moved) if moved is not None else await self._lost_race(request_id)

    async def restore(self, request: UnblockRequest) -> UnblockRequest:
        """Put back what a claimed undo covers; ends in ``undone`` or ``undo_failed``."""
        if request.state is not State.UNDOING:
            raise ValueError(f"request {request.id} is not claimed for undo")
        results = tuple([await self._create(request, target) for target in request.removed])
        to = State.UNDONE if all(r.outcome == "restored" for r in results) else State.UNDO_FAILED
        finished = await self._move(request, to, request.undone_by, undo_results=results, claimed=True)
        assert finished is not None
        return finished

    # -- expiry ------------------------------------------------------------------------

    async def expire_due(self) -> list[UnblockRequest]:
        """Expire every pending request past its time; the ones this call expired.
        (Also forgets Slack deliveries too old to be retried.)"""
        await self.store.forget_deliveries(self.clock() - DELIVERY_MEMORY)
        expired = []
        for request in await self.store.pending_expired(self.clock()):
            moved = await self._move(request, State.EXPIRED, None)
            if moved is not None:
                expired.append(moved)
        return expired

    # -- after a crash -------------------------------------------------------------------

    async def recover(self, claimed_before: float | None) -> list[UnblockRequest]:
        """Finish requests a stopped bot left in ``executing`` or ``undoing``, by asking 3CX what is
        true now: never left hanging, never repeated blindly. The ones finished; a request whose
        check 3CX could not answer stays as it is, for the next try."""
        finished = []
        for request in await self.store.stuck(claimed_before):
            try:
                if request.state is State.EXECUTING:
                    results = tuple([await self._check_removed(t) for t in request.targets])
                    to = State.UNBLOCKED if all(r.outcome in REMOVED for r in results) else State.FAILED
                    moved = await self._move(request, to, request.resolved_by, results=results)
                else:
                    undo_results = tuple([await self._check_restored(t) for t in request.removed])
                    to = State.UNDONE if all(r.outcome == "restored" for r in undo_results) else State.UNDO_FAILED
                    moved = await self._move(request, to, request.undone_by, undo_results=undo_results)
            except ThreeCXError as error:
                log.warning(
                    "could not check an interrupted request", extra={"request": request.id, "answer": error.answer()}
                )
                continue
            if moved is not None:
                finished.append(moved)
        return finished

    async def _check_removed(self, target: Target) -> Result:
        try:
            if isinstance(target, BlocklistEntry):
                await self.blocklist.get_blocklist_entry(target.id)
            else:
                await self.blocklist.get_blocked_number(target.id)
        except NotFoundError:
            return Result(DeleteOutcome.ALREADY_GONE.value, "checked after an interruption: 3CX no longer lists it")
        return Result(INTERRUPTED, "checked after an interruption: 3CX still lists it")

    async def _check_restored(self, target: Target) -> Result:
        same: Sequence[Target]
        if isinstance(target, BlocklistEntry):
            same = await self.blocklist.list_blocklist(any_equal("IPAddrMask", [target.ip_addr_mask or ""]), 1)
        else:
            same = await self.blocklist.list_blocked_numbers(any_equal("CallerId", [target.caller_id or ""]), 1)
        if same:
            return Result("restored", "checked after an interruption: 3CX lists it again", new_id=str(same[0].id))
        return Result(INTERRUPTED, "checked after an interruption: 3CX does not list it")

    # -- steps ---------------------------------------------------------------------

    async def _open_for_decision(self, request_id: str) -> UnblockRequest | ClickResult:
        """The request if it is still pending and in time; otherwise what to tell the clicker."""
        request = await self.store.get(request_id)
        if request is None:
            return Unknown(request_id)
        if request.state is not State.PENDING:
            return AlreadyResolved(request) if request.state is not State.EXPIRED else Expired(request, False)
        if self.clock() >= request.expires_at:
            expired = await self._move(request, State.EXPIRED, None)
            if expired is None:
                return await self._lost_race(request_id)
            return Expired(expired, just_now=True)
        return request

    async def _decide(self, request: UnblockRequest, to: State, user: str) -> ClickResult:
        moved = await self._move(request, to, user)
        if moved is None:
            return await self._lost_race(request.id)
        return Resolved(moved)

    async def _lost_race(self, request_id: str) -> ClickResult:
        current = await self.store.get(request_id)
        if current is None:
            return Unknown(request_id)
        if current.state is State.EXPIRED:
            return Expired(current, just_now=False)
        return AlreadyResolved(current)

    async def _delete(self, request: UnblockRequest, target: Target) -> Result:
        try:
            if isinstance(target, BlocklistEntry):
                outcome = await self.blocklist.delete_blocklist_entry(target.id, etag=target.etag)
            else:
                outcome = await self.blocklist.delete_blocked_number(target.id, etag=target.etag)
        except ThreeCXError as error:
            return Result(error.kind, error.answer())
        except Exception as error:  # the request must not stay in `executing` whatever happens
            log.exception("unexpected error while deleting an entry", extra={"request": request.id})
            return Result("internal", f"internal error ({type(error).__name__})")
        if outcome is DeleteOutcome.DELETED:
            return Result(outcome.value, "HTTP 204")
        return Result(outcome.value, "HTTP 404: the entry was already gone")

    async def _create(self, request: UnblockRequest, target: Target) -> Result:
        try:
            if isinstance(target, BlocklistEntry):
                created: Target = await self.blocklist.create_blocklist_entry(target)
            else:
                created = await self.blocklist.create_blocked_number(target)
        except ThreeCXError as error:
            return Result(error.kind, error.answer())
        except Exception as error:
            log.exception("unexpected error while restoring an entry", extra={"request": request.id})
            return Result("internal", f"internal error ({type(error).__name__})")
        return Result("restored", "HTTP 201", new_id=str(created.id))

    async def _move(
        self,
        request: UnblockRequest,
        to: State,
        actor: str | None,
        *,
        results: tuple[Result, ...] | None = None,
        undo_until: float | None = None,
        undo_results: tuple[Result, ...] | None = None,
        claimed: bool = False,
    ) -> UnblockRequest | None:
        """One transition; None if another click or process moved the request first. ``claimed``:
        this task holds the request (executing, undoing), so losing it would be a bug."""
        moved = await self.store.transition(
            request.id,
            request.state,
            to,
            actor=actor,
            at=self.clock(),
            results=results,
            undo_until=undo_until,
            undo_results=undo_results,
        )
        if moved is None and claimed:
            raise RuntimeError(f"request {request.id} left {request.state.value!r} behind the service's back")
        if moved is not None:
            _audit(moved, request.state, to, actor)
        return moved


def _audit(request: UnblockRequest, from_state: State | None, to: State, actor: str | None) -> None:
    audit.info(
        "transition",
        extra={
            "request": request.id,
            "targets": [t.label for t in request.targets],
            "from": from_state.value if from_state else None,
            "to": to.value,
            "actor": actor,
            "requester": request.requester,
            "channel": request.channel,
            "reason": request.reason,
            "answers": [r.answer for r in (request.undo_results if to.value.startswith("undo") else request.results)],
        },
    )
