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
``→ undoing``) calls 3CX. A decision claims a request only while it has not
expired, checked in the same statement.

While a process works on a claimed request it renews the claim (a heartbeat
in the store). A claim whose heartbeat stopped belongs to a process that died:
once every 3CX call that process could have started must have ended, another
process (or the same one, restarted) takes the claim over and finishes the
request by asking 3CX what is true now, then completing what the approval
asked for. Nothing is ever removed or added twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import logging
import secrets
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from . import calls
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

    @property
    def open(self) -> bool:
        """Waiting for a decision, or being carried out: the entries are taken."""
        return self in (State.PENDING, State.EXECUTING)

    @property
    def claimed(self) -> bool:
        """A process is talking to 3CX about it."""
        return self in (State.EXECUTING, State.UNDOING)

    @property
    def undo_phase(self) -> bool:
        return self in (State.UNDOING, State.UNDONE, State.UNDO_FAILED)


class Outcome(enum.StrEnum):
    """What 3CX did with one entry."""

    #: 3CX answered 204 to the DELETE (or, checked after a restart, no longer lists it)
    DELETED = "deleted"
    #: 3CX answered 404 to the DELETE: gone, but not by this request's hand
    ALREADY_GONE = "already_gone"
    #: an undo put the entry back (3CX answered 201, or lists it again)
    RESTORED = "restored"
    # failures, one per kind of 3CX error
    NOT_FOUND = "not_found"
    CHANGED = "changed"
    CREDENTIALS = "credentials"
    FORBIDDEN = "forbidden"
    UNAVAILABLE = "unavailable"
    OTHER = "other"
    INTERNAL = "internal"
    #: in records of earlier versions: the bot stopped and a check found the change not made
    INTERRUPTED = "interrupted"

    @classmethod
    def of(cls, error: ThreeCXError) -> Outcome:
        return cls(error.kind) if error.kind in cls._value2member_map_ else cls.OTHER

    @property
    def gone(self) -> bool:
        """The entry is off the blocklist."""
        return self in (Outcome.DELETED, Outcome.ALREADY_GONE)


#: how long a handled Slack delivery is remembered, to recognise Slack's retries of it
DELIVERY_MEMORY = 24 * 3600.0


@dataclass(frozen=True, slots=True)
class Result:
    """What 3CX did with one target, and its answer for the record."""

    outcome: Outcome
    answer: str
    #: the Id of the entry that an undo created
    new_id: str | None = None
    #: the bot finished this after a restart (it had stopped while 3CX was working on it)
    after_restart: bool = False


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
    #: the process holding the claim (executing, undoing), and when it last said it is alive
    owner: str | None = None
    heartbeat_at: float | None = None

    @property
    def title(self) -> str:
        """What the request is about, for a sentence: ``203.0.113.7`` or ``3 entries``."""
        if len(self.targets) == 1:
            return self.targets[0].label
        return f"{len(self.targets)} entries"

    @property
    def removed(self) -> list[Target]:
        """The targets this request itself removed: what an undo puts back (never one that was already gone)."""
        return [t for t, r in zip(self.targets, self.results, strict=False) if r.outcome is Outcome.DELETED]

    @property
    def outcome(self) -> Outcome | None:
        """How the unblock ended, in one word: the first failure, else the first outcome."""
        failures = [r.outcome for r in self.results if not r.outcome.gone]
        return failures[0] if failures else (self.results[0].outcome if self.results else None)


@dataclass(frozen=True, slots=True)
class Transition:
    request_id: str
    from_state: State | None
    to_state: State
    actor: str | None
    at: float
    answer: str | None = None


class StoreUnreachable(Exception):
    """The database did not answer for as long as the bot waits; the operation did not complete (a write
    whose answer was lost may still have been made)."""


class AlreadyOpen(Exception):
    """An entry of a new request is already in an open request (the one named)."""

    def __init__(self, request_id: str) -> None:
        super().__init__(request_id)
        self.request_id = request_id


class RequestStore(Protocol):
    """Where requests and their transitions are kept (see ``bot.storage``)."""

    async def add(self, request: UnblockRequest) -> None:
        """Keep a new pending request, and take its entries.

        Raises:
            AlreadyOpen: an entry is already taken by an open request; nothing was kept.
        """
        ...

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
        owner: str | None = None,
        unexpired: bool = False,
        note: str | None = None,
    ) -> UnblockRequest | None:
        """Move the request if it is in ``from_state`` (and, with ``unexpired``, not past ``expires_at`` at
        ``at``; when it is claimed, only if ``owner`` holds the claim). Entering ``executing`` or ``undoing``
        sets ``owner`` and the heartbeat; leaving an open state frees the entries. ``note`` is kept with the
        transition when 3CX gave no answer. The moved request, or None if another click or process moved it
        first."""
        ...

    async def renew(self, request_id: str, owner: str, at: float) -> bool:
        """Renew ``owner``'s claim; False when it no longer holds it."""
        ...

    async def take_over(self, request_id: str, owner: str, heartbeat_at: float, at: float) -> UnblockRequest | None:
        """Claim a request whose last heartbeat was ``heartbeat_at`` for ``owner``; None if it moved meanwhile."""
        ...

    async def abandoned(self, heartbeat_before: float) -> list[UnblockRequest]:
        """Requests in ``executing`` or ``undoing`` whose heartbeat is older than that moment."""
        ...

    async def transitions(self, request_id: str) -> list[Transition]: ...

    async def recent(self, count: int, channel: str | None = None) -> list[UnblockRequest]:
        """The newest requests (of one channel, when given), newest first."""
        ...

    async def pending_expired(self, now: float) -> list[UnblockRequest]: ...

    async def first_delivery(self, key: str, at: float, handler: str) -> bool:
        """Record that ``handler`` (one handling of a delivery) handles a Slack delivery; False if another
        did first (Slack's retry, a replay)."""
        ...

    async def forget_deliveries(self, before: float) -> None:
        """Forget the deliveries, and the choices offered, older than that moment."""
        ...

    async def keep_choice(self, choice_id: str, data: str, at: float) -> None:
        """Keep what a chooser offers, so that its buttons carry only an id."""
        ...

    async def choice(self, choice_id: str) -> str | None: ...


class Blocklist(BlocklistReader, Protocol):
    """The part of the 3CX client the service needs."""

    async def delete_blocklist_entry(self, entry_id: int, etag: str | None = None) -> DeleteOutcome: ...

    async def delete_blocked_number(self, number_id: str, etag: str | None = None) -> DeleteOutcome: ...

    async def create_blocklist_entry(self, entry: BlocklistEntry) -> BlocklistEntry: ...

    async def create_blocked_number(self, number: BlockedNumber) -> BlockedNumber: ...


@dataclass(frozen=True, slots=True)
class Timing:
    """The service's clock rules."""

    #: seconds a request stays approvable
    ttl: float
    #: seconds Undo is offered after an unblock (0: never)
    undo_window: float
    #: the longest one 3CX call can take, its retries included
    call_bound: float
    #: how often a process working on a claimed request renews it
    heartbeat: float = 3.0
    #: for clocks that differ a little between processes
    margin: float = 2.0

    @property
    def takeover_after(self) -> float:
        """How long after a claim's last heartbeat its owner must be gone and every 3CX call it started
        must have ended: it starts no call when it could not renew for two heartbeats."""
        return 2 * self.heartbeat + self.call_bound + self.margin


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


@dataclass(frozen=True, slots=True)
class Offer:
    """Entries offered to one person to choose from (several matched what they asked for)."""

    id: str
    #: ``address`` (IP blocklist ids) or ``number`` (caller-number ids)
    kind: str
    ids: tuple[int | str, ...]
    reason: str | None
    channel: str
    user: str

    def to_json(self) -> str:
        return json.dumps({"kind": self.kind, "ids": list(self.ids), "reason": self.reason, "channel": self.channel,
                           "user": self.user})  # fmt: skip

    @classmethod
    def from_json(cls, offer_id: str, text: str) -> Offer:
        data = json.loads(text)
        return cls(offer_id, data["kind"], tuple(data["ids"]), data["reason"], data["channel"], data["user"])


@dataclass(frozen=True, slots=True)
class AlreadyRequested:
    """A new request was not opened: an entry of it is already in this open request."""

    request: UnblockRequest


class UnblockService:
    def __init__(
        self,
        blocklist: Blocklist,
        store: RequestStore,
        policy: ApprovalPolicy,
        timing: Timing,
        *,
        clock: Callable[[], float] = time.time,
        owner: str | None = None,
    ) -> None:
        self.blocklist = blocklist
        self.store = store
        self.policy = policy
        self.timing = timing
        self.clock = clock
        #: this process, as the holder of claims
        self.owner = owner or secrets.token_hex(6)

    async def open_request(
        self, targets: list[Target], requester: str, channel: str, reason: str | None = None
    ) -> UnblockRequest | AlreadyRequested:
        """Keep a pending request for ``targets``, as they were just read from 3CX; or the open request
        that already covers one of them."""
        if not targets or not all(t.blocks for t in targets):
            raise ValueError("a request needs at least one entry, and only blocking entries")
        for _ in range(2):
            now = self.clock()
            request = UnblockRequest(
                id=secrets.token_hex(8),
                targets=tuple(targets),
                requester=requester,
                channel=channel,
                created_at=now,
                expires_at=now + self.timing.ttl,
                reason=reason,
            )
            try:
                await self.store.add(request)
            except AlreadyOpen as taken:
                existing = await self.store.get(taken.request_id)
                if existing is None or not existing.state.open:
                    continue  # freed meanwhile
                if existing.state is State.PENDING and now >= existing.expires_at:
                    await self._move(existing, State.EXPIRED, None)  # its time is up: it no longer holds the entry
                    continue
                return AlreadyRequested(existing)
            _audit(request, None, State.PENDING, requester)
            return request
        raise RuntimeError("could not open a request: its entries stayed taken")

    async def withdraw(self, request: UnblockRequest, why: str) -> None:
        """Cancel a request nobody could see (its card could not be posted), freeing its entries."""
        await self._move(request, State.CANCELLED, None, note=why)

    async def first_delivery(self, key: str) -> bool:
        """False when Slack is delivering something again that was already handled (a retry or a replay)."""
        # a token of this handling alone: the store's own retry of the write recognises it, a retry from Slack not
        return await self.store.first_delivery(key, self.clock(), secrets.token_hex(8))

    async def offer(self, kind: str, ids: Sequence[int | str], reason: str | None, channel: str, user: str) -> Offer:
        """Keep the entries offered to ``user`` to choose from (remembered as long as Slack deliveries)."""
        offer = Offer(secrets.token_hex(8), kind, tuple(ids), reason, channel, user)
        await self.store.keep_choice(offer.id, offer.to_json(), self.clock())
        return offer

    async def offered(self, offer_id: str) -> Offer | None:
        data = await self.store.choice(offer_id)
        return Offer.from_json(offer_id, data) if data is not None else None

    async def card_posted(self, request_id: str, message_ts: str) -> None:
        await self.store.set_message_ts(request_id, message_ts)

    async def history(self, count: int, channel: str | None) -> list[UnblockRequest]:
        return await self.store.recent(count, channel)

    # -- decisions -----------------------------------------------------------------

    async def approve(self, request_id: str, user: str, channel: str) -> ClickResult:
        """Claim the request for ``user``: ``Resolved`` with the request in ``executing`` when this
        click won it; the caller then runs :meth:`execute` (exactly once, by construction)."""
        found = await self._open_for_decision(request_id, channel)
        if not isinstance(found, UnblockRequest):
            return found
        reason = await self.policy.may_approve(user, found)
        if reason is not None:
            return Refused(found, reason)
        return await self._decide(found, State.EXECUTING, user)

    async def deny(self, request_id: str, user: str, channel: str) -> ClickResult:
        found = await self._open_for_decision(request_id, channel)
        if not isinstance(found, UnblockRequest):
            return found
        reason = await self.policy.may_deny(user, found)
        if reason is not None:
            return Refused(found, reason)
        return await self._decide(found, State.DENIED, user)

    async def cancel(self, request_id: str, user: str, channel: str) -> ClickResult:
        found = await self._open_for_decision(request_id, channel)
        if not isinstance(found, UnblockRequest):
            return found
        reason = self.policy.may_cancel(user, found)
        if reason is not None:
            return Refused(found, reason)
        return await self._decide(found, State.CANCELLED, user)

    async def execute(self, request: UnblockRequest) -> UnblockRequest | None:
        """Delete the entries of a request this process claimed; ends in ``unblocked`` or ``failed``.
        None when the claim was lost (the process could not renew it, so another one finishes it)."""
        if request.state is not State.EXECUTING or request.owner != self.owner:
            raise ValueError(f"request {request.id} is not claimed for execution by this process")
        async with self._lease(request) as lease:
            results = []
            for target in request.targets:
                if not lease.fresh():
                    return None
                results.append(await self._delete(request, target))
            return await self._finish_unblock(request, tuple(results))

    # -- undo ------------------------------------------------------------------------

    async def undo(self, request_id: str, user: str, channel: str) -> ClickResult:
        """Claim an undo: ``Resolved`` with the request in ``undoing``; the caller runs :meth:`restore`."""
        request = await self.store.get(request_id)
        if request is None:
            return Unknown(request_id)
        if request.channel != channel:
            return Refused(request, ELSEWHERE)
        if request.state.undo_phase:
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

    async def restore(self, request: UnblockRequest) -> UnblockRequest | None:
        """Put back what a claimed undo covers; ends in ``undone`` or ``undo_failed`` (None: claim lost)."""
        if request.state is not State.UNDOING or request.owner != self.owner:
            raise ValueError(f"request {request.id} is not claimed for undo by this process")
        async with self._lease(request) as lease:
            results = []
            for target in request.removed:
                if not lease.fresh():
                    return None
                results.append(await self._create(request, target, lease))
            return await self._finish_undo(request, tuple(results))

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

    async def recover(self) -> list[UnblockRequest]:
        """Finish the requests whose owner stopped renewing its claim, once every 3CX call it could have
        started must have ended: check 3CX, then complete what the approval or the undo asked for. The
        ones finished; a request 3CX could not be asked about stays as it is, for the next try."""
        finished = []
        for stale in await self.store.abandoned(self.clock() - self.timing.takeover_after):
            assert stale.heartbeat_at is not None
            request = await self.store.take_over(stale.id, self.owner, stale.heartbeat_at, self.clock())
            if request is None:
                continue  # another process took it, or its owner came back
            log.warning(
                "finishing a request whose process stopped", extra={"request": request.id, "state": request.state}
            )
            try:
                done = await self._complete(request)
            except ThreeCXError as error:
                log.warning("3CX could not be asked about it; will try again", extra={"answer": error.answer()})
                continue
            if done is not None:
                finished.append(done)
        return finished

    async def _complete(self, request: UnblockRequest) -> UnblockRequest | None:
        async with self._lease(request) as lease:
            if request.state is State.EXECUTING:
                results = []
                for target in request.targets:
                    if not lease.fresh():
                        return None
                    results.append(await self._delete_if_listed(request, target))
                return await self._finish_unblock(request, tuple(results))
            undo_results = []
            for target in request.removed:
                if not lease.fresh():
                    return None
                undo_results.append(await self._create_if_absent(request, target, lease))
            return await self._finish_undo(request, tuple(undo_results))

    async def _delete_if_listed(self, request: UnblockRequest, target: Target) -> Result:
        if await self._listed(target):
            return replace(await self._delete(request, target), after_restart=True)
        return Result(Outcome.DELETED, "checked after a restart: 3CX no longer lists it", after_restart=True)

    async def _create_if_absent(self, request: UnblockRequest, target: Target, lease: _Lease) -> Result:
        found = await self._relisted(target)
        if found is not None:
            return Result(Outcome.RESTORED, "checked after a restart: 3CX lists it again", found, after_restart=True)
        return replace(await self._create(request, target, lease), after_restart=True)

    async def _listed(self, target: Target) -> bool:
        try:
            if isinstance(target, BlocklistEntry):
                await self.blocklist.get_blocklist_entry(target.id)
            else:
                await self.blocklist.get_blocked_number(target.id)
        except NotFoundError:
            return False
        return True

    async def _relisted(self, target: Target) -> str | None:
        """The Id of an entry that blocks what ``target`` blocked, if 3CX lists one now."""
        same: Sequence[Target]
        if isinstance(target, BlocklistEntry):
            same = await self.blocklist.list_blocklist(any_equal("IPAddrMask", [target.ip_addr_mask or ""]), 1)
        else:
            same = await self.blocklist.list_blocked_numbers(any_equal("CallerId", [target.caller_id or ""]), 1)
        return str(same[0].id) if same else None

    # -- steps ---------------------------------------------------------------------

    async def _open_for_decision(self, request_id: str, channel: str) -> UnblockRequest | ClickResult:
        """The request if it is still pending and in time; otherwise what to tell the clicker."""
        request = await self.store.get(request_id)
        if request is None:
            return Unknown(request_id)
        if request.channel != channel:
            return Refused(request, ELSEWHERE)
        if request.state is not State.PENDING:
            return AlreadyResolved(request) if request.state is not State.EXPIRED else Expired(request, False)
        if self.clock() >= request.expires_at:
            return await self._expire_now(request)
        return request

    async def _expire_now(self, request: UnblockRequest) -> ClickResult:
        expired = await self._move(request, State.EXPIRED, None)
        if expired is None:
            return await self._lost_race(request.id)
        return Expired(expired, just_now=True)

    async def _decide(self, request: UnblockRequest, to: State, user: str) -> ClickResult:
        # the claim holds only while the request is in time, checked in the same statement: checking the
        # rules (a user group's members, say) may have taken a while
        moved = await self._move(request, to, user, unexpired=True)
        if moved is None:
            return await self._lost_race(request.id)
        return Resolved(moved)

    async def _lost_race(self, request_id: str) -> ClickResult:
        current = await self.store.get(request_id)
        if current is None:
            return Unknown(request_id)
        if current.state is State.EXPIRED:
            return Expired(current, just_now=False)
        if current.state is State.PENDING:  # not taken by anyone: its time ran out while the click was checked
            return await self._expire_now(current)
        return AlreadyResolved(current)

    async def _finish_unblock(self, request: UnblockRequest, results: tuple[Result, ...]) -> UnblockRequest | None:
        to = State.UNBLOCKED if all(r.outcome.gone for r in results) else State.FAILED
        removed_any = any(r.outcome is Outcome.DELETED for r in results)
        window = self.timing.undo_window
        undo_until = self.clock() + window if removed_any and window > 0 else None
        return await self._settle(request, to, request.resolved_by, results=results, undo_until=undo_until)

    async def _finish_undo(self, request: UnblockRequest, results: tuple[Result, ...]) -> UnblockRequest | None:
        to = State.UNDONE if all(r.outcome is Outcome.RESTORED for r in results) else State.UNDO_FAILED
        return await self._settle(request, to, request.undone_by, undo_results=results)

    async def _settle(
        self,
        request: UnblockRequest,
        to: State,
        actor: str | None,
        *,
        results: tuple[Result, ...] | None = None,
        undo_until: float | None = None,
        undo_results: tuple[Result, ...] | None = None,
    ) -> UnblockRequest | None:
        """The last transition of a claimed request, which only its owner can make. What 3CX answered is kept
        until the database takes it, however long it is away; None when another process took the claim over
        meanwhile (it then finishes the request itself, after asking 3CX)."""
        pause = 0.5
        while True:
            try:
                finished = await self._move(
                    request, to, actor, results=results, undo_until=undo_until, undo_results=undo_results,
                    owner=self.owner,
                )  # fmt: skip
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

    async def _delete(self, request: UnblockRequest, target: Target) -> Result:
        try:
            if isinstance(target, BlocklistEntry):
                outcome = await self.blocklist.delete_blocklist_entry(target.id, etag=target.etag)
            else:
                outcome = await self.blocklist.delete_blocked_number(target.id, etag=target.etag)
        except ThreeCXError as error:
            return Result(Outcome.of(error), error.answer())
        except Exception as error:  # the request must not stay in `executing` whatever happens
            log.exception("unexpected error while deleting an entry", extra={"request": request.id})
            return Result(Outcome.INTERNAL, f"internal error ({type(error).__name__})")
        if outcome is DeleteOutcome.DELETED:
            return Result(Outcome.DELETED, "HTTP 204")
        return Result(Outcome.ALREADY_GONE, "HTTP 404: the entry was already gone")

    async def _create(self, request: UnblockRequest, target: Target, lease: _Lease) -> Result:
        try:
            if isinstance(target, BlocklistEntry):
                created: Target = await self.blocklist.create_blocklist_entry(target)
            else:
                created = await self.blocklist.create_blocked_number(target)
        except ThreeCXError as error:
            if not error.maybe_applied:
                return Result(Outcome.of(error), error.answer())
            # the answer was lost: 3CX may still add it; look once it must have finished, never add twice
            await asyncio.sleep(self.timing.call_bound)
            if not lease.fresh():
                return Result(Outcome.of(error), error.answer())
            try:
                found = await self._relisted(target)
            except ThreeCXError:
                return Result(Outcome.of(error), error.answer())
            if found is None:
                return Result(Outcome.of(error), f"{error.answer()}; 3CX does not list it")
            return Result(Outcome.RESTORED, "answer lost; 3CX lists it again", new_id=found)
        except Exception as error:
            log.exception("unexpected error while restoring an entry", extra={"request": request.id})
            return Result(Outcome.INTERNAL, f"internal error ({type(error).__name__})")
        return Result(Outcome.RESTORED, "HTTP 201", new_id=str(created.id))

    @contextlib.asynccontextmanager
    async def _lease(self, request: UnblockRequest) -> AsyncIterator[_Lease]:
        """Hold the claim while the work inside runs: renewed every heartbeat, and the 3CX calls made
        inside start only while it is fresh."""
        lease = _Lease(self, request.id)
        task = asyncio.get_running_loop().create_task(lease.keep(), name=f"heartbeat-{request.id}")
        try:
            with calls.holding(lease.permit):
                yield lease
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _move(
        self,
        request: UnblockRequest,
        to: State,
        actor: str | None,
        *,
        results: tuple[Result, ...] | None = None,
        undo_until: float | None = None,
        undo_results: tuple[Result, ...] | None = None,
        owner: str | None = None,
        unexpired: bool = False,
        note: str | None = None,
    ) -> UnblockRequest | None:
        """One transition; None if another click or process moved the request first."""
        moved = await self.store.transition(
            request.id,
            request.state,
            to,
            actor=actor,
            at=self.clock(),
            results=results,
            undo_until=undo_until,
            undo_results=undo_results,
            owner=owner if owner is not None else (self.owner if to.claimed else None),
            unexpired=unexpired,
            note=note,
        )
        if moved is not None:
            _audit(moved, request.state, to, actor, note)
        return moved


#: why a click on a card from another channel changes nothing
ELSEWHERE = "This button belongs to a request made in another channel, so it does nothing here."


class _Lease:
    """A claim this process holds: renewed every heartbeat while the work goes on. A 3CX call may start
    only while the claim was renewed within the last two heartbeats, so no other process can take the
    claim over before every call this one started must have ended."""

    def __init__(self, service: UnblockService, request_id: str) -> None:
        self._service = service
        self._request_id = request_id
        self._window = 2 * service.timing.heartbeat
        self.permit = calls.Permit(time.monotonic() + self._window)

    def fresh(self) -> bool:
        return self.permit.allows()

    async def keep(self) -> None:
        service = self._service
        while True:
            await asyncio.sleep(service.timing.heartbeat)
            asked = time.monotonic()  # the heartbeat written is no later than this: count from here
            try:
                held = await service.store.renew(self._request_id, service.owner, service.clock())
            except Exception as error:  # the store is unreachable: not renewed this time
                log.warning("could not renew a claim", extra={"request": self._request_id, "error": repr(error)})
                continue
            if not held:
                self.permit.until = 0.0  # another process holds it now: start nothing more
                return
            self.permit.until = asked + self._window


def _audit(
    request: UnblockRequest, from_state: State | None, to: State, actor: str | None, note: str | None = None
) -> None:
    results = request.undo_results if to.undo_phase else request.results
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
            "answers": [r.answer for r in results] or ([note] if note else []),
        },
    )
