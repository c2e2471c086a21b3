"""Sweeper: background upkeep that changes cards without waiting for a click."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from ..unblock import UnblockRequest, UnblockService
from .delivery import CardDelivery
from .messages import outcome_card

log = logging.getLogger(__name__)


#: a request claimed longer ago than this and still in ``executing``/``undoing`` was left by a
#: stopped bot (no 3CX call, retries included, takes nearly as long)
CLAIM_LEASE = 600.0


class Sweeper:
    """Background upkeep: expires requests past their time and finishes requests a stopped bot
    left half done, and says so on their cards, without waiting for a click."""

    def __init__(self, service: UnblockService, delivery: CardDelivery, interval: float) -> None:
        self._service = service
        self._delivery = delivery
        self._interval = interval
        self._task: asyncio.Task[None] | None = None

    def start(self, *, recover_all_first: bool = False) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop(recover_all_first), name="sweeper")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def sweep(self) -> int:
        """Expire what is due now; how many requests expired."""
        expired = await self._service.expire_due()
        await self._show(expired)
        return len(expired)

    async def recover(self, claimed_before: float | None) -> int:
        """Finish requests left half done (see UnblockService.recover); how many were finished."""
        finished = await self._service.recover(claimed_before)
        if finished:
            log.warning("finished requests a stopped bot had left", extra={"requests": [r.id for r in finished]})
        await self._show(finished)
        return len(finished)

    async def _show(self, requests: list[UnblockRequest]) -> None:
        for request in requests:
            if request.message_ts:  # a card posted through a response_url cannot be edited later
                await self._delivery.update_card(request, *outcome_card(request, self._service.clock()), None)

    async def _loop(self, recover_all_first: bool) -> None:
        first = recover_all_first
        while True:
            try:
                await self.recover(None if first else self._service.clock() - CLAIM_LEASE)
                first = False
                await self.sweep()
            except Exception:
                log.exception("background upkeep failed; will try again")
            await asyncio.sleep(self._interval)
