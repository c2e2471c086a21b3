"""Sweeper: background upkeep that changes cards without waiting for a click."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import ClassVar

from .. import calls
from ..calls import Lane
from ..domain.decisions import Decisions
from ..domain.execution import Execution
from ..domain.model import UnblockRequest
from ..domain.ports import StoreUnreachable
from ..tasks import Upkeep
from .showing import Showing

log = logging.getLogger(__name__)


@dataclass(kw_only=True)
class Sweeper(Upkeep):
    """Background upkeep: finishes requests whose process stopped while working on them (checked every
    ``recover_every`` seconds) and expires requests past their time (every ``expire_every`` seconds), and
    says so on their cards, without waiting for a click."""

    decisions: Decisions
    execution: Execution
    showing: Showing
    expire_every: float
    recover_every: float
    _next_expiry: float = field(default=0.0, init=False)

    WHAT: ClassVar[str] = "background upkeep"
    WAITS_FOR: ClassVar[tuple[type[Exception], ...]] = (StoreUnreachable,)

    @property
    def every(self) -> float:
        return self.recover_every

    async def tick(self) -> None:
        calls.enter(Lane.DECISIONS)  # finishing an approved request is a decision's work
        await self.recover()
        if time.monotonic() >= self._next_expiry:
            self._next_expiry = time.monotonic() + self.expire_every
            await self.sweep()

    async def sweep(self) -> int:
        """Expire what is due now; how many requests expired."""
        expired = await self.decisions.expire_due()
        await self._show(expired)
        return len(expired)

    async def recover(self) -> int:
        """Finish requests left half done (see ``Execution.recover``); how many were finished."""
        finished = await self.execution.recover()
        if finished:
            log.warning("finished requests a stopped bot had left", extra={"requests": [r.id for r in finished]})
        await self._show(finished)
        return len(finished)

    async def _show(self, requests: list[UnblockRequest]) -> None:
        for request in requests:
            await self.showing.changed(request)
