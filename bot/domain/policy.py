"""Who may use /unblock where, and who may approve, deny or cancel a request."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from .model import UnblockRequest
from .results import Refusal, Why
from .rules import Approvers, Rule, Rules


class GroupMembership(Protocol):
    """Resolves a user group (``S…``) to its members."""

    async def members(self, group_id: str) -> frozenset[str]: ...


@dataclass(slots=True)
class ApprovalPolicy:
    """Who may do what; each check returns ``None`` when allowed, else the :class:`Refusal`. Who approves a
    request is its rule's (``rules``: the operator's rules, or the settings alone). ``channels``: where /unblock
    is enabled (None: everywhere)."""

    rules: Rules
    membership: GroupMembership
    allow_self_approval: bool = field(default=False, kw_only=True)
    channels: frozenset[str] | None = field(default=None, kw_only=True)
    approval_channel: str | None = field(default=None, kw_only=True)

    def may_request_in(self, channel: str) -> Refusal | None:
        if self.channels is None or channel in self.channels:
            return None
        return Refusal(Why.CHANNEL_NOT_ENABLED, channels=tuple(sorted(self.channels)))

    def may_click_in(self, channel: str) -> Refusal | None:
        """The bot's buttons work where /unblock does, and in the approvals channel."""
        return None if channel == self.approval_channel else self.may_request_in(channel)

    def rule_for(self, request: UnblockRequest) -> Rule:
        """The rule that decides for ``request``: the strictest of its entries' rules."""
        return self.rules.rule_for_all(request.what.targets)

    async def is_approver(self, user: str) -> bool:
        """Whether ``user`` approves anything at all: the settings' approvers, or a rule's (who see every
        channel's history and the report). Not those requests are escalated to: they decide only the requests
        escalated to them, as ``may_be_asked`` says."""
        return await self.approves(user, *(rule.approvers for rule in self.rules.every))

    async def may_end_allow(self, user: str, request: UnblockRequest) -> bool:
        """Who may end the allow entry a request added: its requester, and whoever may decide it (its rule's
        approvers, those it was escalated to)."""
        return user == request.asked.by or await self.approves(user, self.deciders(request))

    async def may_be_asked(self, user: str) -> bool:
        """Whether ``user`` may ever be asked to decide a request: an approver, or one that a rule escalates
        requests to (the Home tab lists them the requests they may approve now)."""
        every = self.rules.every
        return await self.approves(
            user, *(rule.approvers for rule in every), *(rule.escalate_to for rule in every if rule.escalate_after)
        )

    def deciders(self, request: UnblockRequest, rule: Rule | None = None) -> Approvers:
        """Who may approve or deny ``request`` now: its rule's approvers (``rule``, when the caller has it already),
        and those it was escalated to."""
        approvers, escalation = (rule or self.rule_for(request)).approvers, request.decision.escalation
        if escalation is None:
            return approvers
        users, groups = approvers.users | set(escalation.users), approvers.groups | set(escalation.groups)
        return Approvers(users, groups, approvers.anyone)

    async def approves(self, user: str, *among: Approvers) -> bool:
        """Whether ``user`` is one of ``among``: named, a member of a user group named, or anyone."""
        if any(approvers.anyone or user in approvers.users for approvers in among):
            return True
        for group in sorted({group for approvers in among for group in approvers.groups}):
            if user in await self.membership.members(group):
                return True
        return False

    # each check below takes the request's rule (``rule_for``), found once per click

    async def may_approve(self, user: str, request: UnblockRequest, rule: Rule) -> Refusal | None:
        """An approver of the request's rule who has not approved it yet; never the requester when it needs
        several approvals."""
        refused = await self.as_approver(user, request, rule, "approve")
        if refused is None and user in request.decision.approved_by:
            needed = request.decision.needed
            deciders = self.deciders(request, rule)
            return Refusal(Why.ALREADY_APPROVED, "approve", approvers=deciders, rule=rule.name, approvals_needed=needed)
        return refused

    async def as_approver(self, user: str, request: UnblockRequest, rule: Rule, verb: str) -> Refusal | None:
        """Whether ``user`` may ``verb`` (approve, undo) ``request``: ``rule``'s approvers may, and those the request
        was escalated to (who decide like an approver, but never on their own request); the requester only when
        allowed to approve their own requests and the request needs one approval (as it said when it was opened)."""
        own = user == request.asked.by
        if await self.approves(user, rule.approvers):
            refused = own and (not self.allow_self_approval or request.decision.needed > 1)
        elif await self._escalated(user, request):
            refused = own
        else:
            return Refusal(Why.NOT_APPROVER, verb, approvers=self.deciders(request, rule), rule=rule.name)
        return Refusal(Why.OWN_REQUEST, verb) if refused else None

    async def may_deny(self, user: str, request: UnblockRequest, rule: Rule) -> Refusal | None:
        if await self.approves(user, rule.approvers):
            return None
        if user == request.asked.by:
            return Refusal(Why.USE_CANCEL)
        if await self._escalated(user, request):
            return None
        return Refusal(Why.NOT_APPROVER, "deny", approvers=self.deciders(request, rule), rule=rule.name)

    async def may_cancel(self, user: str, request: UnblockRequest, rule: Rule) -> Refusal | None:
        if user == request.asked.by:
            return None
        return Refusal(Why.NOT_REQUESTER, "cancel", requester=request.asked.by)

    async def _escalated(self, user: str, request: UnblockRequest) -> bool:
        """Whether ``request`` was escalated to ``user`` (by name, or as a member of a user group named)."""
        to = request.decision.escalation
        return to is not None and await self.approves(user, Approvers(frozenset(to.users), frozenset(to.groups)))
