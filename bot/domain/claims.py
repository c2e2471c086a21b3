"""Claiming a request for a decision: one compare-and-set in the store, only while the request is in time
(checked in the same statement), so of two clicks at once exactly one wins. With several approvals, each but the
last is a compare-and-set on the approvals so far; a click that lost only to another approval tries again on the
request as it is then."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from .actions import Action
from .model import Approval, State, UnblockRequest, agreed
from .policy import ApprovalPolicy
from .ports import RequestStore
from .results import AlreadyResolved, ApprovalRecorded, Decided, Expired, Refusal, Refused, Resolved, Unknown, Why
from .rules import Rule
from .transitions import Transitions

#: how often a click tries again when another approval of the same request was recorded meanwhile
RACES = 5

ELSEWHERE = Refusal(Why.OTHER_CHANNEL)
TOO_LATE_TO_UNDO = Refusal(Why.TOO_LATE_TO_UNDO)
NOT_ALLOWABLE = Refusal(Why.NOT_ALLOWABLE)
NOTHING_TO_UNDO = Refusal(Why.NOTHING_TO_UNDO)

#: a check of the policy, given the request's rule: None when the user may, else why not
Check = Callable[[str, UnblockRequest, Rule], Awaitable[Refusal | None]]


@dataclass(frozen=True, slots=True)
class Claims:
    """The claims of ``store``'s requests, by the rules of ``policy``, each move through ``transitions``."""

    store: RequestStore
    policy: ApprovalPolicy
    transitions: Transitions

    async def by_rule(self, request: UnblockRequest) -> Decided:
        """The claim of a request its rule carries out without approval (``auto``), and of no other."""
        if not request.decision.auto:
            raise ValueError(f"request {request.id} needs an approval: its rule does not carry it out")
        moved = await self.transitions.move(request, State.EXECUTING, None, unexpired=True)
        return (
            Resolved(moved) if moved is not None else await self._lost_to(request.id, await self.store.get(request.id))
        )

    async def undo(self, request_id: str, user: str, channel: str) -> Decided:
        request = await self.store.get(request_id)
        if request is None:
            return Unknown(request_id)
        if request.asked.channel != channel:
            return Refused(request, ELSEWHERE)
        if request.state.undo_phase:
            return AlreadyResolved(request)
        if request.state not in (State.UNBLOCKED, State.FAILED) or not request.undoable:
            return Refused(request, NOTHING_TO_UNDO)
        if request.done.undo_until is None or self.transitions.clock() > request.done.undo_until:
            return Refused(request, TOO_LATE_TO_UNDO)
        reason = await self.policy.as_approver(user, request, self.policy.rule_for(request), "undo")
        if reason is not None:
            return Refused(request, reason)
        # the claim holds only within the undo window, checked in the same statement: checking the rule (a user
        # group's members, say) may have taken until after it
        moved = await self.transitions.move(request, State.UNDOING, user, unexpired=True)
        if moved is not None:
            return Resolved(moved)
        current = await self.store.get(request_id)
        if (
            current is not None
            and current.state is request.state
            and self.transitions.clock() > (current.done.undo_until or 0.0)
        ):
            return Refused(current, TOO_LATE_TO_UNDO)
        return await self._lost_to(request_id, current)

    async def decide(
        self, request_id: str, user: str, channel: str | None, to: State, check: Check, action: Action | None = None
    ) -> Decided:
        """``_try`` until it decides, at most :data:`RACES` times: each other approval recorded meanwhile makes it
        try again on the request as it is then."""
        for _ in range(RACES):
            decided = await self._try(request_id, user, channel, to, check, action)
            if decided is not None:
                return decided
        current = await self.store.get(request_id)  # other approvals kept coming while this click tried
        return AlreadyResolved(current) if current is not None else Unknown(request_id)

    async def _try(
        self, request_id: str, user: str, channel: str | None, to: State, check: Check, action: Action | None
    ) -> Decided | None:
        """One try; None when another approval was recorded meanwhile (try again on the request as it is now)."""
        request = await self.store.get(request_id)
        if request is None:
            return Unknown(request_id)
        if channel is not None and request.asked.channel != channel:
            return Refused(request, ELSEWHERE)
        rule = self.policy.rule_for(request)
        if (
            action is not None
            and action.allow_for is not None
            and not (action.offered(request.what.targets, request.what.address) and action.allow_for in rule.allow)
        ):
            return Refused(request, NOT_ALLOWABLE)
        if request.state is not State.PENDING:
            return AlreadyResolved(request) if request.state is not State.EXPIRED else Expired(request, False)
        if self.transitions.clock() >= request.decision.expires_at:
            return await self._expire_now(request)
        reason = await check(user, request, rule)
        if reason is not None:
            return Refused(request, reason)
        # the claim holds only while the request is in time, and (with several approvals) only if no other
        # approval was recorded meanwhile, checked in the same statement: checking the rule (a user group's
        # members, say) may have taken a while. It needs the approvals it said it needed when it was opened.
        # Each approval is for its action; what is carried out is the action they all agree on (``agreed``).
        needed = request.decision.needed
        approvals = None
        if action is not None and needed > 1:
            approvals = (*request.decision.approvals, Approval(user, action))
            carried_out = agreed(approvals, needed)
            if carried_out is None:
                recorded = await self.transitions.move(
                    request, State.PENDING, user, unexpired=True, approvals=approvals
                )
                return ApprovalRecorded(recorded) if recorded is not None else await self._raced(request)
            action = carried_out.action
        moved = await self.transitions.move(request, to, user, unexpired=True, action=action, approvals=approvals)
        return Resolved(moved) if moved is not None else await self._raced(request)

    async def _raced(self, request: UnblockRequest) -> Decided | None:
        """The compare-and-set failed: None when only the approvals changed (still pending, in time)."""
        current = await self.store.get(request.id)
        if (
            current is not None
            and current.state is State.PENDING
            and current.decision.approvals != request.decision.approvals
            and self.transitions.clock() < current.decision.expires_at
        ):
            return None
        return await self._lost_to(request.id, current)

    async def _expire_now(self, request: UnblockRequest) -> Decided:
        expired = await self.transitions.move(request, State.EXPIRED, None)
        if expired is None:
            return await self._lost_to(request.id, await self.store.get(request.id))
        return Expired(expired, just_now=True)

    async def _lost_to(self, request_id: str, current: UnblockRequest | None) -> Decided:
        """What this click lost to, by the request as it is now (``current``; None: no longer in the store)."""
        if current is None:
            return Unknown(request_id)
        if current.state is State.EXPIRED:
            return Expired(current, just_now=False)
        if current.state is State.PENDING:  # not taken by anyone: its time ran out while the click was checked
            return await self._expire_now(current)
        return AlreadyResolved(current)
