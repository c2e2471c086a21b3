"""Moving a request: one :class:`~bot.domain.model.Move` in the store, and one audit line for each."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from .actions import Action, Does, Result
from .model import Approval, Move, State, UnblockRequest
from .outcomes import Outcome
from .ports import RequestStore

audit = logging.getLogger("bot.audit")


#: told of each transition this process made: the request as it is now, and the state it left (None: new)
Observer = Callable[[UnblockRequest, State | None], None]


@dataclass(slots=True)
class Transitions:
    """Moves requests in ``store`` for this process (``owner``, the holder of its claims), and records each."""

    store: RequestStore
    clock: Callable[[], float]
    owner: str
    observe: Observer | None = None
    #: what an admin should check after each kind of failure, for the audit line
    advice: Mapping[Outcome, str] = field(default_factory=dict)

    def made(
        self, request: UnblockRequest, from_state: State | None, actor: str | None, note: str | None = None
    ) -> None:
        """Record a transition this process made: the JSON audit line (``"logger": "bot.audit"``), with what an
        admin should check after each failure, and the observer."""
        to = request.state
        results = request.done.undo_results if to.undo_phase else request.done.results
        to_check = sorted({self.advice.get(r.outcome, "") for r in results if not r.outcome.gone} - {""})
        action = request.done.action
        audit.info(
            "transition",
            extra={
                "request": request.id,
                "targets": [t.label for t in request.what.targets],
                "from": from_state.value if from_state else None,
                "to": to.value,
                "actor": actor,
                "requester": request.asked.by,
                "channel": request.asked.channel,
                "reason": request.asked.reason,
                **({"asked_in": request.asked.elsewhere} if request.asked.elsewhere else {}),
                **({"allow_for": action.allow_for} if action.allow_for else {}),
                **({"rule": request.decision.rule} if request.decision.rule else {}),
                **({"auto": True} if request.decision.auto else {}),
                **(
                    {"approvals": [{"user": a.user, **a.action.record} for a in request.decision.approvals]}
                    if request.decision.approvals
                    else {}
                ),
                **({"allow_only": request.what.address} if action.does is Does.ALLOW_ONLY else {}),
                "answers": [r.answer for r in results] or ([note] if note else []),
                **({"to_check": to_check} if to_check else {}),
            },
        )
        if self.observe is not None:
            self.observe(request, from_state)

    async def move(
        self,
        request: UnblockRequest,
        to: State,
        actor: str | None,
        *,
        results: tuple[Result, ...] | None = None,
        undo_until: float | None = None,
        undo_results: tuple[Result, ...] | None = None,
        unexpired: bool = False,
        note: str | None = None,
        action: Action | None = None,
        approvals: tuple[Approval, ...] | None = None,
    ) -> UnblockRequest | None:
        """One transition from the request's state; None if another click or process moved it first. Entering
        a claimed state claims the request for this process; leaving one is only for this process. ``approvals``:
        the request's approvals after this move, only if they are still the ones ``request`` has."""
        holder = self.owner if to.claimed or request.state.claimed else None
        move = Move(
            request_id=request.id,
            from_state=request.state,
            to_state=to,
            actor=actor,
            at=self.clock(),
            results=results,
            undo_until=undo_until,
            undo_results=undo_results,
            owner=holder,
            unexpired=unexpired,
            note=note,
            action=action,
            approvals=approvals,
            approvals_were=request.decision.approvals,
        )
        moved = await self.store.transition(move)
        if moved is not None:
            self.made(moved, move.from_state, actor, note)
        return moved
