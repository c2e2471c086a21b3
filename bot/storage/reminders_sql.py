"""Reminders and escalation (``bot.domain.ports.RequestStore``): which waiting requests are due, and marking each
reminded or escalated once, the same for both stores: the SQL, with ``?`` for each parameter.

Marking is one ``UPDATE … WHERE reminded_at IS NULL`` (``escalation IS NULL``) on a request still pending and
in time: of two processes (or one before and one after a restart), exactly one marks it, and only that one
tells Slack. A reminder is first claimed (``reminding``, since ``reminding_at``), then sent, then marked: a claim
let go, or left by a process that stopped, is claimed again.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from ..domain.model import Escalation, State, UnblockRequest
from ..domain.ports import WAITING_READ
from . import rows

#: (at, id, state, at): reminded once, while pending and in time
REMIND = "UPDATE requests SET reminded_at = ? WHERE id = ? AND state = ? AND reminded_at IS NULL AND expires_at > ?"
#: (holder, at, id, state, at, stale_before): the reminder claimed, to be sent, while pending and in time and not
#: reminded, unless it was claimed since ``stale_before`` (a claim whose answer was lost waits until it is stale)
CLAIM_REMINDER = (
    "UPDATE requests SET reminding = ?, reminding_at = ?"
    " WHERE id = ? AND state = ? AND reminded_at IS NULL AND expires_at > ?"
    " AND (reminding IS NULL OR reminding_at < ?)"
)
#: (id, holder): a claim let go (Slack did not take the reminder)
RELEASE_REMINDER = "UPDATE requests SET reminding = NULL WHERE id = ? AND reminding = ? AND reminded_at IS NULL"
#: (escalation, id, state, at): escalated once, while pending and in time
ESCALATE = "UPDATE requests SET escalation = ? WHERE id = ? AND state = ? AND escalation IS NULL AND expires_at > ?"


class SharedReminders(ABC):
    @abstractmethod
    async def _select(self, tail: str, *params: object) -> list[UnblockRequest]:
        """The requests that ``tail`` picks; ``?`` for each parameter."""

    @abstractmethod
    async def _write(self, sql: str, *params: object) -> int:
        """Run one write; how many rows it changed."""

    @abstractmethod
    async def get(self, request_id: str) -> UnblockRequest | None: ...

    async def still_waiting(
        self, now: float, remind_before: float | None, escalate_before: float | None
    ) -> list[UnblockRequest]:
        due, params = [], []
        if remind_before is not None:
            due.append("(reminded_at IS NULL AND created_at <= ?)")
            params.append(remind_before)
        if escalate_before is not None:
            due.append("(escalation IS NULL AND created_at <= ?)")
            params.append(escalate_before)
        if not due:
            return []
        return await self._select(
            f"WHERE state = ? AND expires_at > ? AND ({' OR '.join(due)}) ORDER BY created_at LIMIT {WAITING_READ}",
            State.PENDING.value,
            now,
            *params,
        )

    async def claim_reminder(
        self, request_id: str, holder: str, at: float, stale_before: float
    ) -> UnblockRequest | None:
        params = (holder, at, request_id, State.PENDING.value, at, stale_before)
        return await self.get(request_id) if await self._write(CLAIM_REMINDER, *params) == 1 else None

    async def release_reminder(self, request_id: str, holder: str) -> None:
        await self._write(RELEASE_REMINDER, request_id, holder)

    async def mark_reminded(self, request_id: str, at: float) -> UnblockRequest | None:
        marked = await self._write(REMIND, at, request_id, State.PENDING.value, at)
        return await self.get(request_id) if marked == 1 else None

    async def mark_escalated(self, request_id: str, escalation: Escalation) -> UnblockRequest | None:
        kept = rows.escalation_json(escalation)
        marked = await self._write(ESCALATE, kept, request_id, State.PENDING.value, escalation.at)
        return await self.get(request_id) if marked == 1 else None
