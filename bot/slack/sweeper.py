"""Sweeper: background upkeep that changes cards without waiting for a click."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import ClassVar

from .. import calls
from ..calls import Lane
from ..domain.model import UnblockRequest
from ..domain.requests import Requests, StoreUnreachable
from ..tasks import Upkeep
from .showing import Showing
from .state import Remembered

log = logging.getLogger(__name__)


@dataclass(kw_only=True)
class Sweeper(Upkeep):
    """Background upkeep: every ``recover_every`` seconds, the service's upkeep (it finishes requests whose
    process stopped while working on them, and expires requests past their time), shown on their cards
    without waiting for a click; with expiry, the Slack deliveries too old to be retried are forgotten."""

    requests: Requests
    remembered: Remembered
    showing: Showing
    recover_every: float

    WHAT: ClassVar[str] = "background upkeep"
    WAITS_FOR: ClassVar[tuple[type[Exception], ...]] = (StoreUnreachable,)

    @property
    def every(self) -> float:
        return self.recover_every

    async def tick(self) -> None:
        calls.enter(Lane.DECISIONS)  # finishing an approved request is a decision's work
        upkept = await self.requests.upkeep()
        if upkept.swept:
            await self.remembered.forget_old()
        await self._show(upkept.finished)
        await self._show(upkept.expired)

    async def sweep(self) -> int:
        """Expire what is due now (and forget old deliveries); how many requests expired."""
        await self.remembered.forget_old()
        expired = await self.requests.expire_due()
        await self._show(expired)
        return len(expired)

    async def recover(self) -> int:
        """Finish requests left half done; how many were finished."""
        finished = await self.requests.recover()
        await self._show(finished)
        return len(finished)

    async def _show(self, requests: list[UnblockRequest]) -> None:
        for request in requests:
            await self.showing.changed(request)
