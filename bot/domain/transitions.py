"""Moving a request: one :class:`~bot.domain.model.Move` in the store, and one audit line for each."""

from __future__ import annotations

import logging
from collections.abc import Callable

from .model import Approval, Move, Result, State, UnblockRequest
from .ports import RequestStore

audit = logging.getLogger("bot.audit")


#: told of each transition this process made: the request as it is now, and the state it left (None: new)
Observer = Callable[[UnblockRequest, State | None], None]


class Transitions:
    def __init__(
        self, store: RequestStore, clock: Callable[[], float], owner: str, observe: Observer | None = None
    ) -> None:
        self.store = store
        self.clock = clock
        #: this process, as the holder of claims
        self.owner = owner
        self._observe = observe

    def made(self, request: UnblockRequest, from_state: State | None, actor: str | None, note: str | None = None
             ) -> None:  # fmt: skip
        """Record a transition this process made (the audit line, and the observer)."""
        audit_line(request, from_state, request.state, actor, note)
        if self._observe is not None:
            self._observe(request, from_state)

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
        allow_for: float | None = None,
        approvals: tuple[Approval, ...] | None = None,
        allow_only: bool = False,
    ) -> UnblockRequest | None:
        """One transition from the request's state; None if another click or process moved it first. Entering
        a claimed state claims the request for this process; leaving one is only for this process. ``approvals``:
        the request's approvals after this move, only if they are still the ones ``request`` has."""
        holder = self.owner if to.claimed or request.state.claimed else None
        move = Move(request.id, request.state, to, actor, self.clock(), results, undo_until, undo_results, holder,
                    unexpired, note, allow_for, approvals, request.approvals, allow_only)  # fmt: skip
        moved = await self.store.transition(move)
        if moved is not None:
            self.made(moved, move.from_state, actor, note)
        return moved


def audit_line(
    request: UnblockRequest, from_state: State | None, to: State, actor: str | None, note: str | None = None
) -> None:
    """The JSON log line that records one transition (``"logger": "bot.audit"``)."""
    results = request.undo_results if to.undo_phase else request.results
    # what an admin should check: setting names belong here and in ``check``, not on a card
    to_check = sorted({r.outcome.explanation.admin for r in results if not r.outcome.gone} - {""})
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
            **({"asked_in": request.asked_in} if request.asked_in else {}),
            **({"allow_for": request.allow_for} if request.allow_for else {}),
            **({"rule": request.rule} if request.rule else {}),
            **({"auto": True} if request.auto else {}),
            **({"approvals": [approval.record for approval in request.approvals]} if request.approvals else {}),
            **({"allow_only": request.asked_address} if request.allow_only else {}),
            "answers": [r.answer for r in results] or ([note] if note else []),
            **({"to_check": to_check} if to_check else {}),
        },
    )
