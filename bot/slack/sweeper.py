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
from .blocks import Blocks
from .showing import Showing
from .state import Remembered
from .views.reminders import escalation_reply, reminder_reply

log = logging.getLogger(__name__)


@dataclass(kw_only=True)
class Sweeper(Upkeep):
    """Background upkeep: every ``recover_every`` seconds, the service's upkeep (it finishes requests whose
    process stopped while working on them, reminds and escalates requests still waiting, and expires requests
    past their time), shown on their cards and in their threads without waiting for a click; with expiry, the
    Slack deliveries too old to be retried are forgotten."""

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
        await self._remind(upkept.reminded, upkept.escalated)

    async def _show(self, requests: list[UnblockRequest]) -> None:
        for request in requests:
            await self.showing.changed(request)

    async def _remind(self, reminded: list[UnblockRequest], escalated: list[UnblockRequest]) -> None:
        """A reply in each card's thread: the reminder, to whoever may approve the request now (recorded once Slack
        took it; one Slack refused is sent at a later round); the escalation, to those it was escalated to (whose
        card then says so). The Home tabs show them waiting long."""
        for request in reminded:
            deciders = self.showing.policy.deciders(request)
            if not await self._reply(request, *reminder_reply(request, deciders, self.showing.clock())):
                await self.requests.reminder_not_sent(request)
                continue
            await self.showing.homes(await self.requests.reminder_sent(request))
        for request in escalated:
            if request.escalation is not None:
                await self._reply(request, *escalation_reply(request, request.escalation))
            await self.showing.changed(request)

    async def _reply(self, request: UnblockRequest, text: str, blocks: Blocks) -> bool:
        """Whether the reply is done: Slack took it, or there is no thread it could ever go to."""
        ts = await self.showing.where(request.id)
        if ts is None:  # its card came through a reply URL: it has no thread the bot can reply in
            log.info("no thread to remind in: the card was posted through a reply URL", extra={"request": request.id})
            return True
        sent = await self.showing.delivery.outbox.post(request.channel, text, blocks, thread_ts=ts)
        if not sent.ok:
            log.warning("could not reply in a card's thread", extra={"request": request.id, "error": sent.error})
        return sent.ok
