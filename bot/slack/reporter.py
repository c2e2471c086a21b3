"""Reporter: the weekly report, posted in its channel once across processes (see ``bot.domain.report``)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import tzinfo
from typing import ClassVar

from ..domain.ports import StoreUnreachable
from ..domain.report import Report, Reporting
from ..tasks import Upkeep
from .outbox import Outbox
from .views.lists import report as weekly_report

log = logging.getLogger(__name__)

#: how often a process looks whether the weekly report is due (a look reads the store only when it is)
CHECK_EVERY = 30.0


@dataclass(kw_only=True)
class Reporter(Upkeep):
    """Every :data:`CHECK_EVERY` seconds: when the weekly report is due, the process that claims it first posts
    it (a report missed while no bot ran is posted at the next start: the latest one only). It is recorded sent
    once Slack took it; one Slack refused is posted at the next look. The reporter is the report's
    :class:`~bot.domain.report.ReportPoster`: a message in ``channel``."""

    reporting: Reporting
    outbox: Outbox
    channel: str
    zone: tzinfo
    every: float = CHECK_EVERY

    WHAT: ClassVar[str] = "the weekly report"
    WAITS_FOR: ClassVar[tuple[type[Exception], ...]] = (StoreUnreachable,)

    async def tick(self) -> None:
        await self.reporting.post_due(self)

    async def post(self, report: Report) -> bool:
        sent = await self.outbox.post(self.channel, *weekly_report(report, None, self.zone))
        if not sent.ok:
            why = {"channel": self.channel, "error": sent.error}
            log.error("could not post the weekly report; it is tried again at the next look", extra=why)
        return sent.ok
