"""Sweeper: background upkeep that changes cards without waiting for a click."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..calls import LANE, Lane
from ..domain.allow_life import AllowLife
from ..domain.ports import StoreUnreachable
from ..domain.requests import Requests
from ..tasks import Upkeep
from .showing import Showing
from .state import Remembered
from .views.card import escalation_reply


@dataclass(kw_only=True)
class Sweeper(Upkeep):
    """Background upkeep: every ``recover_every`` seconds, the service's upkeep (it finishes requests whose
    process stopped while working on them, reminds and escalates requests still waiting, and expires requests
    past their time), shown on their cards and in their threads without waiting for a click; with expiry, the
    Slack deliveries too old to be retried are forgotten. Then the allow entries' upkeep (``allows``): their
    warnings, their ends, and what a stopped process left of an Extend or End now."""

    requests: Requests
    remembered: Remembered
    showing: Showing
    recover_every: float
    #: the allow entries' life
    allows: AllowLife

    WHAT: ClassVar[str] = "background upkeep"
    WAITS_FOR: ClassVar[tuple[type[Exception], ...]] = (StoreUnreachable,)

    @property
    def every(self) -> float:
        return self.recover_every

    async def tick(self) -> None:
        LANE.set(Lane.DECISIONS)  # finishing an approved request is a decision's work
        upkept = await self.requests.upkeep()
        if upkept.swept:
            await self.remembered.forget_old()
        for request in [*upkept.finished, *upkept.expired]:
            await self.showing.changed(request)
        for request in upkept.reminded:  # (reminded in its card's thread) the Home tabs show it waiting long
            await self.showing.homes(request)
        for request in upkept.escalated:  # a reply in its card's thread to those it was escalated to
            if request.decision.escalation is not None:
                await self.showing.reply(request, *escalation_reply(request, request.decision.escalation))
            await self.showing.changed(request)
        await self.allows.upkeep()
