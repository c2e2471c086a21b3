"""Reading requests as people may see them: a request, the history (every channel's for an approver), what waits
for someone, what someone asked for, the earlier unblocks of what a request is about, the report's figures."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

from .allows import MINDED, Allow, AllowStore
from .model import UnblockRequest
from .policy import ApprovalPolicy
from .ports import RequestStore
from .recurrence import WINDOW, Unblocks
from .report import Report, Reporting
from .results import History
from .rules import Approvers, Rule

#: how many of the newest pending requests are asked whether a person may approve them (their Home tab)
WAITING_CHECKED = 200
#: how many allow entries in force a Home tab lists at most
ALLOWS_LISTED = 11


@dataclass(frozen=True, slots=True)
class Reads:
    store: RequestStore
    policy: ApprovalPolicy
    #: the figures of the report (None: no report is asked for here)
    reporting: Reporting | None = None
    #: the allow entries the bot added (None: their life is not kept)
    allows: AllowStore | None = None
    #: each PBX's policy, by name (none given: ``policy`` is every PBX's)
    policies: Mapping[str, ApprovalPolicy] = field(default_factory=dict)

    def _policy(self, pbx: str) -> ApprovalPolicy:
        """The policy of the PBX ``pbx``."""
        return self.policies.get(pbx, self.policy)

    def rule_for(self, request: UnblockRequest) -> Rule:
        """The rule that decides for ``request``: who approves it, the durations Approve and allow offers."""
        return self._policy(request.pbx).rule_for(request)

    def deciders(self, request: UnblockRequest) -> Approvers:
        """Who may approve or deny ``request`` now."""
        return self._policy(request.pbx).deciders(request)

    async def asked_about(self, user: str) -> frozenset[str]:
        """The PBXes whose requests ``user`` may ever be asked to decide (their Home tab lists what they may approve
        of these)."""
        return frozenset([pbx for pbx, policy in self._by_pbx().items() if await policy.may_be_asked(user)])

    async def _is_approver(self, user: str) -> bool:
        """Whether ``user`` approves anything at all, of any PBX."""
        return any([await policy.is_approver(user) for policy in self._every()])

    def _every(self) -> list[ApprovalPolicy]:
        return [*self._by_pbx().values()]

    def _by_pbx(self) -> Mapping[str, ApprovalPolicy]:
        """Each PBX's policy (none given: ``policy``, as the one unnamed PBX's)."""
        return self.policies or {"": self.policy}

    async def get(self, request_id: str) -> UnblockRequest | None:
        return await self.store.get(request_id)

    async def history(self, user: str, channel: str, count: int, pbx: str | None = None) -> History:
        """The newest requests ``user`` may see, of every PBX (``pbx``: of that PBX only): an approver sees every
        channel's; anyone else only those made in ``channel``, where they ask."""
        if pbx is None:
            everywhere, store = await self._is_approver(user), self.store
        else:
            everywhere, store = await self._policy(pbx).is_approver(user), self.store.scoped(pbx)
        requests = await store.recent(count, None if everywhere else channel)
        added = await self.allows.allows_of([r.id for r in requests]) if self.allows is not None else []
        return History(requests, everywhere, {allow.request_id: allow for allow in added})

    async def report(self, user: str, days: int) -> Report | None:
        """The figures of the last ``days`` days, for an approver; None for anyone else."""
        if self.reporting is None or not await self._is_approver(user):
            return None
        return await self.reporting.of_days(days)

    async def waiting(self, pbxes: Collection[str]) -> list[UnblockRequest]:
        """The newest :data:`WAITING_CHECKED` requests of the PBXes ``pbxes`` waiting for a decision."""
        return await self.store.waiting(WAITING_CHECKED, pbxes)

    async def waiting_for(
        self, user: str, count: int, waiting: Sequence[UnblockRequest] | None = None
    ) -> list[UnblockRequest]:
        """The newest requests waiting for a decision that ``user`` may approve now (as their rule's approver, or as
        one it was escalated to; never their own, nor one they approved already, nor one its rule carries out
        without approval), at most ``count``, among the newest :data:`WAITING_CHECKED` of the PBXes they may be
        asked about (``waiting``: as read already, for several people)."""
        if waiting is None:
            waiting = await self.waiting(await self.asked_about(user))
        found: list[UnblockRequest] = []
        for request in waiting:
            if len(found) == count:
                break
            if (
                not request.decision.auto
                and await self._policy(request.pbx).may_approve(user, request, self.rule_for(request)) is None
            ):
                found.append(request)
        return found

    async def requested_by(self, user: str, count: int, pbx: str | None = None) -> list[UnblockRequest]:
        """The newest requests ``user`` made, of every PBX (``pbx``: of that PBX only)."""
        return await (self.store if pbx is None else self.store.scoped(pbx)).requested_by(user, count)

    async def unblocks(self, at: float, pbx: str) -> Unblocks:
        """The unblocks on the PBX ``pbx`` of the :data:`~bot.domain.recurrence.WINDOW` before ``at`` (one read of
        the store), to find the earlier unblocks of what a request or a new entry is about (``Unblocks.of``)."""
        return Unblocks(at, tuple(await self.store.scoped(pbx).unblocked_since(at - WINDOW)))

    async def allows_in_force(
        self, user: str, now: float, asked: Collection[str] | None = None
    ) -> list[tuple[Allow, bool]]:
        """The allow entries in force at ``now`` that ``user`` may see (an approver of their PBX: all that PBX's;
        anyone else: those of their requests), the soonest end first, at most :data:`ALLOWS_LISTED`, each with
        whether they may end it. ``asked``: the PBXes ``user`` may be asked about, when known already."""
        if self.allows is None:
            return []
        in_force = [a for a in await self.allows.allows_in_force(MINDED) if a.ends_at > now]
        requests = {r.id: r for r in await self.allows.requests_of([a.request_id for a in in_force])}
        if asked is None:
            asked = await self.asked_about(user)
        shown: list[tuple[Allow, bool]] = []
        for allow in in_force:
            request = requests.get(allow.request_id)
            if request is None or len(shown) == ALLOWS_LISTED:
                continue
            if request.pbx in asked or request.asked.by == user:
                shown.append((allow, await self._policy(request.pbx).may_end_allow(user, request)))
        return shown
