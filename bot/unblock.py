"""The domain: an unblock request, its life, and the service that moves it.

```
/unblock 42 ──► pending ──approve──► executing ──204──► unblocked
                  │  │                    └──error──► failed
                  │  ├─deny──► denied
                  │  └─cancel─► cancelled
                  └─ttl passes──► expired
```

Every arrow is one compare-and-set in the store, so of two clicks at once
exactly one wins, and only the winner of ``pending → executing`` calls 3CX.
"""

from __future__ import annotations

import enum
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from .policy import ApprovalPolicy
from .threecx import BlocklistEntry, DeleteOutcome, ThreeCXError

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


@dataclass(frozen=True, slots=True)
class UnblockRequest:
    id: str
    entry: BlocklistEntry
    requester: str
    channel: str
    created_at: float
    #: after this moment the request can no longer be approved
    expires_at: float
    state: State = State.PENDING
    #: ``ts`` of the card when the bot posted it with chat.postMessage
    message_ts: str | None = None
    #: who took the decision (approved, denied, cancelled) and when
    resolved_by: str | None = None
    resolved_at: float | None = None
    #: how it ended: ``deleted``, ``already_gone`` or an error kind
    outcome: str | None = None
    #: what 3CX answered, in one line
    answer: str | None = None


@dataclass(frozen=True, slots=True)
class Transition:
    request_id: str
    from_state: State | None
    to_state: State
    actor: str | None
    at: float
    outcome: str | None = None
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
        outcome: str | None = None,
        answer: str | None = None,
    ) -> UnblockRequest | None:
        """Move the request if it is in ``from_state``; the moved request, or None if another won."""
        ...

    async def transitions(self, request_id: str) -> list[Transition]: ...


class Blocklist(Protocol):
    """The part of the 3CX client the service needs."""

    async def get_blocklist_entry(self, entry_id: int) -> BlocklistEntry: ...

    async def delete_blocklist_entry(self, entry_id: int, etag: str | None = None) -> DeleteOutcome: ...


# -- what a click leads to -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Resolved:
    """This click decided the request; the card shows the new state."""

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
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.blocklist = blocklist
        self.store = store
        self.policy = policy
        self.ttl = ttl
        self.clock = clock

    async def open_request(self, entry_id: int, requester: str, channel: str) -> UnblockRequest:
        """Read the entry from 3CX and keep a pending request for it (ThreeCXError if 3CX says no)."""
        entry = await self.blocklist.get_blocklist_entry(entry_id)
        now = self.clock()
        request = UnblockRequest(
            id=secrets.token_hex(8),
            entry=entry,
            requester=requester,
            channel=channel,
            created_at=now,
            expires_at=now + self.ttl,
        )
        await self.store.add(request)
        _audit(request, None, State.PENDING, requester)
        return request

    async def card_posted(self, request_id: str, message_ts: str) -> None:
        await self.store.set_message_ts(request_id, message_ts)

    async def approve(self, request_id: str, user: str) -> ClickResult:
        """Claim the request for ``user``: ``Resolved`` with the request in ``executing`` when this
        click won it; the caller then runs :meth:`execute` (exactly once, by construction)."""
        found = await self._open_for_decision(request_id)
        if not isinstance(found, UnblockRequest):
            return found
        reason = await self.policy.may_approve(user, found)
        if reason is not None:
            return Refused(found, reason)
        claimed = await self._move(found, State.EXECUTING, user)
        if claimed is None:
            return await self._lost_race(request_id)
        return Resolved(claimed)

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

    # -- steps ---------------------------------------------------------------------

    async def _open_for_decision(self, request_id: str) -> UnblockRequest | ClickResult:
        """The request if it is still pending and in time; otherwise what to tell the clicker."""
        request = await self.store.get(request_id)
        if request is None:
            return Unknown(request_id)
        if request.state is not State.PENDING:
            return AlreadyResolved(request)
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

    async def execute(self, request: UnblockRequest) -> UnblockRequest:
        """Delete the entry of a claimed request; always ends in ``unblocked`` or ``failed``."""
        if request.state is not State.EXECUTING or request.resolved_by is None:
            raise ValueError(f"request {request.id} is not claimed for execution")
        user = request.resolved_by
        entry = request.entry
        try:
            outcome = await self.blocklist.delete_blocklist_entry(entry.id, etag=entry.etag)
        except ThreeCXError as error:
            to, kind, answer = State.FAILED, error.kind, error.answer()
        except Exception as error:  # the request must not stay in `executing` whatever happens
            log.exception("unexpected error while deleting a blocklist entry", extra={"request": request.id})
            to, kind, answer = State.FAILED, "internal", f"internal error ({type(error).__name__})"
        else:
            to, kind = State.UNBLOCKED, outcome.value
            answer = "HTTP 204" if outcome is DeleteOutcome.DELETED else "HTTP 404: the entry was already gone"
        finished = await self._move(request, to, user, outcome=kind, answer=answer)
        if finished is None:  # only this task moves a request out of `executing`
            raise RuntimeError(f"request {request.id} left 'executing' behind the service's back")
        return finished

    async def _move(
        self,
        request: UnblockRequest,
        to: State,
        actor: str | None,
        *,
        outcome: str | None = None,
        answer: str | None = None,
    ) -> UnblockRequest | None:
        moved = await self.store.transition(
            request.id, request.state, to, actor=actor, at=self.clock(), outcome=outcome, answer=answer
        )
        if moved is not None:
            _audit(moved, request.state, to, actor)
        return moved


def _audit(request: UnblockRequest, from_state: State | None, to: State, actor: str | None) -> None:
    audit.info(
        "transition",
        extra={
            "request": request.id,
            "entry": request.entry.id,
            "address": request.entry.ip_addr_mask,
            "from": from_state.value if from_state else None,
            "to": to.value,
            "actor": actor,
            "requester": request.requester,
            "channel": request.channel,
            "outcome": request.outcome,
            "answer": request.answer,
        },
    )
