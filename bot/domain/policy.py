"""Who may use /unblock where, and who may approve, deny or cancel a request."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
GROUP_ID = re.compile(r"^S[A-Z0-9]{2,}$")
CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,}$")


class GroupMembership(Protocol):
    """Resolves a Slack user group (``S…``) to its members."""

    async def members(self, group_id: str) -> frozenset[str]: ...


@dataclass(frozen=True, slots=True)
class Approvers:
    """``UNBLOCK_APPROVERS``: user ids, user-group ids, or ``*`` for anyone."""

    users: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()
    anyone: bool = False

    @classmethod
    def parse(cls, text: str) -> Approvers:
        """Parse the comma-separated list; raises ValueError naming every bad item."""
        items = [item.strip() for item in text.split(",") if item.strip()]
        if not items:
            raise ValueError("is empty")
        if "*" in items:
            if len(items) > 1:
                raise ValueError("'*' (anyone) cannot be combined with ids")
            return cls(anyone=True)
        bad = [item for item in items if not (USER_ID.match(item) or GROUP_ID.match(item))]
        if bad:
            raise ValueError("has items that are neither user ids (U…/W…) nor user-group ids (S…): " + ", ".join(bad))
        return cls(
            users=frozenset(i for i in items if USER_ID.match(i)),
            groups=frozenset(i for i in items if GROUP_ID.match(i)),
        )


class Requester(Protocol):
    @property
    def requester(self) -> str: ...


class ApprovalPolicy:
    """The rules; each check returns ``None`` when allowed, else the sentence to show."""

    def __init__(
        self,
        approvers: Approvers,
        membership: GroupMembership,
        *,
        allow_self_approval: bool = False,
        channels: frozenset[str] | None = None,
        approval_channel: str | None = None,
    ) -> None:
        self.approvers = approvers
        self._membership = membership
        self._allow_self_approval = allow_self_approval
        self._channels = channels
        self._approval_channel = approval_channel

    def may_request_in(self, channel: str) -> str | None:
        if self._channels is None or channel in self._channels:
            return None
        listed = ", ".join(f"<#{c}>" for c in sorted(self._channels))
        return f"/unblock is not enabled in this channel. Please use it in {listed}."

    def may_click_in(self, channel: str) -> str | None:
        """The bot's buttons work where /unblock does, and in the approvals channel."""
        return None if channel == self._approval_channel else self.may_request_in(channel)

    async def is_approver(self, user: str) -> bool:
        if self.approvers.anyone or user in self.approvers.users:
            return True
        for group in sorted(self.approvers.groups):
            if user in await self._membership.members(group):
                return True
        return False

    async def may_approve(self, user: str, request: Requester) -> str | None:
        return await self._approver_rule(user, request, "approve")

    async def may_undo(self, user: str, request: Requester) -> str | None:
        """Undoing follows the rules of approving."""
        return await self._approver_rule(user, request, "undo")

    async def may_deny(self, user: str, request: Requester) -> str | None:
        if await self.is_approver(user):
            return None
        if user == request.requester:
            return "To withdraw your own request, use Cancel."
        return f"Only the approvers can deny an unblock request: {self.who_approves()}."

    async def may_cancel(self, user: str, request: Requester) -> str | None:
        if user == request.requester:
            return None
        return f"Only <@{request.requester}>, who asked for this unblock, can cancel it."

    def who_approves(self) -> str:
        """The approvers, for a sentence: ``<@U1>, <@U2> or a member of <!subteam^S1>``."""
        if self.approvers.anyone:
            return "anyone in this workspace"
        names = [f"<@{u}>" for u in sorted(self.approvers.users)]
        names += [f"a member of <!subteam^{g}>" for g in sorted(self.approvers.groups)]
        return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"

    async def _approver_rule(self, user: str, request: Requester, verb: str) -> str | None:
        if not await self.is_approver(user):
            return f"Only the approvers can {verb} an unblock: {self.who_approves()}."
        if user == request.requester and not self._allow_self_approval:
            return f"You asked for this unblock, so someone else has to {verb} it."
        return None
