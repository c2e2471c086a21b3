"""The report: how the requests of a period ended, how long a decision took, who unblocked and what, and
when the weekly report is due.

``figures`` turns the requests of a period into a :class:`Report` and :class:`Weekly` says when a weekly report
was due: both pure. :class:`Reporting` reads the store for them, and claims a weekly report once across processes
(a row per period, inserted with a unique key).
"""

from __future__ import annotations

import enum
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Protocol, TypeVar

from .entries import Target
from .model import State, UnblockRequest
from .ports import Found, ReportStore, RequestStore, WatchStore
from .recurrence import STILL_UNBLOCKED, WINDOW, key, keys

DAY = 86400.0
#: the period ``/unblock report`` covers when no number of days is given, and the longest it may cover
DEFAULT_DAYS = 7
MAX_DAYS = 90
#: how many addresses or numbers the report names
TOP = 5
#: the most requests one report reads (a period with more is reported on the first ones, and says so)
MOST_READ = 20_000
#: a claim to post the weekly report not recorded sent within this long is a stopped process's (a post takes
#: seconds): another process takes it over and posts the report
REPORT_CLAIM_HOLD = 600.0


class Ending(enum.StrEnum):
    """How a request of the period ended, as the report counts it."""

    UNBLOCKED = "unblocked"
    FAILED = "failed"
    DENIED = "denied"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    UNDONE = "undone"
    WAITING = "still waiting"


_ENDINGS = {
    State.PENDING: Ending.WAITING,
    State.EXECUTING: Ending.WAITING,  # approved, being carried out: not ended yet
    State.UNBLOCKED: Ending.UNBLOCKED,
    State.FAILED: Ending.FAILED,
    State.DENIED: Ending.DENIED,
    State.CANCELLED: Ending.CANCELLED,
    State.EXPIRED: Ending.EXPIRED,
    State.UNDOING: Ending.UNDONE,
    State.UNDONE: Ending.UNDONE,
    State.UNDO_FAILED: Ending.UNBLOCKED,  # the block could not be put back: it stays lifted
}
#: the states of a request whose entries were removed (an Undo that followed included)
_UNBLOCKED = frozenset({State.UNBLOCKED, State.UNDOING, State.UNDONE, State.UNDO_FAILED})
#: the states a decision of an approver led to
_DECIDED = _UNBLOCKED | {State.EXECUTING, State.FAILED, State.DENIED}


@dataclass(frozen=True, slots=True)
class CameBack:
    """What was asked about again within :data:`~bot.domain.recurrence.WINDOW` of an unblock: ``label``, how long
    ``after`` it (seconds), and who unblocked it then: its approver (``by``), or its rule (``rule``), on which PBX
    (``pbx``: the name of that unblock's PBX)."""

    label: str
    after: float
    by: str | None
    rule: str | None = None
    pbx: str = ""


@dataclass(frozen=True, slots=True)
class Report:
    """The figures of the requests made from ``since`` to ``until`` (seconds since the epoch)."""

    since: float
    until: float
    #: how many requests were made
    total: int
    #: how many ended each way, every ending named (0 included), in :class:`Ending`'s order
    endings: tuple[tuple[Ending, int], ...]
    #: how many requests an approver decided (approved or denied), the ones timed below
    decided: int
    #: seconds from request to an approver's decision: the median and the 90th percentile (None: none decided)
    median: float | None
    p90: float | None
    #: requests unblocked, by approver (each approver of several counted once), most first
    by_approver: tuple[tuple[str, int], ...]
    #: requests unblocked without approval, by their rule
    by_rule: int
    #: the addresses or numbers unblocked most often, most first (at most :data:`TOP`)
    top: tuple[tuple[tuple[str, str], int], ...]
    #: reminders and escalations sent about the requests of the period
    reminders: int = 0
    escalations: int = 0
    #: the period held more requests than one report reads: the figures are of the first ones
    truncated: bool = False
    #: the requests of the period about what was unblocked before, soonest after its unblock first
    came_back: tuple[CameBack, ...] = ()
    #: how many requests were made for each PBX that has a name, most first (none when the bot serves one PBX)
    by_pbx: tuple[tuple[str, int], ...] = ()


def figures(
    requests: Iterable[UnblockRequest],
    since: float,
    until: float,
    *,
    truncated: bool = False,
    unblocks: Sequence[UnblockRequest] = (),
    found: Sequence[Found] = (),
) -> Report:
    """The report of ``requests`` (those made in the period); ``unblocks``: the unblocks from
    :data:`~bot.domain.recurrence.WINDOW` before the period on, and ``found``: the entries the watcher found in
    the period, to tell what came back."""
    made = list(requests)
    endings = Counter(_ENDINGS[r.state] for r in made)
    waits = sorted(
        r.decision.at - r.asked.at
        for r in made
        if r.state in _DECIDED and not r.decision.auto and r.decision.by is not None and r.decision.at is not None
    )
    unblocked = [r for r in made if r.state in _UNBLOCKED]
    approvers: Counter[str] = Counter()
    for r in unblocked:
        if not r.decision.auto:
            approvers.update(dict.fromkeys(r.decision.approved_by or ((r.decision.by,) if r.decision.by else ()), 1))
    targets: Counter[tuple[str, str]] = Counter(
        (r.pbx, label) for r in unblocked for label in dict.fromkeys(_removed(r))
    )
    return Report(
        since=since,
        until=until,
        total=len(made),
        endings=tuple((e, endings[e]) for e in Ending),
        decided=len(waits),
        median=quantile(waits, 0.5),
        p90=quantile(waits, 0.9),
        by_approver=_most(approvers),
        by_rule=sum(1 for r in unblocked if r.decision.auto),
        top=_most(targets)[:TOP],
        reminders=sum(1 for r in made if r.decision.reminded_at is not None),
        escalations=sum(1 for r in made if r.decision.escalation is not None),
        truncated=truncated,
        came_back=came_back(made, unblocks, found),
        by_pbx=_most(Counter(r.pbx for r in made if r.pbx)),
    )


def came_back(
    made: Sequence[UnblockRequest],
    unblocks: Sequence[UnblockRequest],
    found: Sequence[Found] = (),
) -> tuple[CameBack, ...]:
    """What came back on its PBX within the window after one of ``unblocks`` unblocked it there (and it stayed
    unblocked): the requests of ``made`` about it, and the entries the watcher ``found`` that no request of
    ``made`` is about; each with the last such unblock, soonest after it first."""
    earlier: dict[tuple[str, str], list[UnblockRequest]] = {}
    for unblock in unblocks:
        if unblock.state in STILL_UNBLOCKED and unblock.decision.at is not None:
            for about in keys(unblock):
                earlier.setdefault((unblock.pbx, about), []).append(unblock)
    asked = {(r.pbx, t.kind, t.id) for r in made for t in r.what.targets}
    seen: list[tuple[str, str, Sequence[Target], float]] = [(r.pbx, r.title, r.what.targets, r.asked.at) for r in made]
    seen += [(f.pbx, f.entry.label, (f.entry,), f.at) for f in found if (f.pbx, f.entry.kind, f.entry.id) not in asked]
    again: list[CameBack] = []
    for pbx, label, targets, at in seen:
        wanted = {k for k in map(key, targets) if k is not None}
        before = [
            unblock
            for k in wanted
            for unblock in earlier.get((pbx, k), ())
            if unblock.decision.at is not None and at - WINDOW <= unblock.decision.at < at
        ]
        if before:
            last = max(before, key=lambda unblock: unblock.decision.at or 0.0)
            by, rule = (None, last.decision.rule) if last.decision.auto else (last.decision.by, None)
            again.append(CameBack(label, at - (last.decision.at or at), by, rule, last.pbx))
    return tuple(sorted(again, key=lambda one: one.after))


def quantile(ordered: Sequence[float], q: float) -> float | None:
    """The ``q`` quantile of ``ordered`` (sorted), interpolated between the two nearest values; None if empty."""
    if not ordered:
        return None
    position = q * (len(ordered) - 1)
    below = int(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)


def _removed(request: UnblockRequest) -> list[str]:
    """What the request unblocked, by label (its targets; with the PBX's answers, those it removed or found gone;
    with Allow only, the one address it let in)."""
    if not request.done.action.removes and request.what.address:
        return [request.what.address]
    if not request.done.results:
        return [t.label for t in request.what.targets]
    return [t.label for t, r in zip(request.what.targets, request.done.results, strict=False) if r.outcome.gone]


K = TypeVar("K", str, tuple[str, str])


def _most(counts: Counter[K]) -> tuple[tuple[K, int], ...]:
    return tuple(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


# -- the weekly report -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Weekly:
    """When the weekly report is due: a day of the week (0 is Monday) and a time of day on the clocks of ``zone``
    (where they change for summer time, the moment in UTC moves with them)."""

    weekday: int = 0
    hour: int = 9
    minute: int = 0
    zone: tzinfo = UTC

    def latest(self, now: float) -> float:
        """The most recent moment at or before ``now`` when the report was due."""
        local = datetime.fromtimestamp(now, self.zone)
        day = local.date() - timedelta(days=(local.weekday() - self.weekday) % 7)
        moment = self._on(day)
        return moment if moment <= now else self._on(day - timedelta(weeks=1))

    def _on(self, day: date) -> float:
        """The moment the report is due on ``day`` (a time the clocks skip is read with the offset before)."""
        return datetime(day.year, day.month, day.day, self.hour, self.minute, tzinfo=self.zone).timestamp()


class ReportPoster(Protocol):
    """Where the weekly report goes."""

    async def post(self, report: Report) -> bool:
        """Post the weekly report: whether it was delivered."""


@dataclass
class Reporting:
    """The report of the last days, and the weekly report, once across processes."""

    store: RequestStore
    reports: ReportStore
    clock: Callable[[], float] = time.time
    weekly: Weekly = field(default_factory=Weekly)
    #: who claims the weekly reports (this process)
    holder: str = ""
    #: where the watcher keeps what it found (None: the report tells only of requests)
    watched: WatchStore | None = None
    #: the last weekly report recorded, as this process last saw it (None: to be read from the store, where none
    #: may be recorded yet)
    _last: float | None = field(default=None, init=False)
    #: a report delivered that the store was away to record as sent: recorded at the next look
    _unrecorded: Report | None = field(default=None, init=False)

    async def of_days(self, days: int) -> Report:
        """The report of the ``days`` days until now."""
        until = self.clock()
        return await self._between(until - days * DAY, until)

    async def post_due(self, poster: ReportPoster) -> Report | None:
        """Post the weekly report owed now through ``poster``, once across processes: the most recent one not
        recorded yet (older ones missed while no bot ran are not posted); on the first start of reporting, its
        moment is only recorded, so that reports begin with the next one. Claimed, then recorded sent once the
        poster delivered it (if the store is away then, at the next look), else let go for the next look, in any
        process, to post it. A claim whose process stopped before the report was delivered is taken over once it
        is :data:`REPORT_CLAIM_HOLD` old. The report posted, if any."""
        now = self.clock()
        if self._unrecorded is not None:
            await self._sent(self._unrecorded)
        if self._last is None:
            self._last = await self.reports.last_report()
        due, first = self.weekly.latest(now), self._last is None
        if self._last is not None and due <= self._last:
            return None
        stale_before = now - REPORT_CLAIM_HOLD
        if not await self.reports.claim_report(due, self.holder, now, posted=not first, stale_before=stale_before):
            self._last = await self.reports.last_report()  # another process has it, or sent it
            return None
        self._last = due
        if first:
            return None
        # the period starts where the report before was due: a week before, but for the hour the clocks moved by
        # in a week they changed
        report = await self._between(self.weekly.latest(due - 1), due)
        if not await poster.post(report):
            self._last = None
            await self.reports.release_report(report.until, self.holder)
            return None
        await self._sent(report)
        return report

    async def _sent(self, report: Report) -> None:
        self._unrecorded = report
        await self.reports.report_sent(report.until, self.holder, self.clock())
        self._unrecorded = None

    async def _between(self, since: float, until: float) -> Report:
        made = await self.store.between(since, until, MOST_READ + 1)
        unblocks = await self.store.unblocked_since(since - WINDOW)
        found = await self.watched.found_between(since, until, MOST_READ) if self.watched is not None else []
        truncated = len(made) > MOST_READ
        return figures(made[:MOST_READ], since, until, truncated=truncated, unblocks=unblocks, found=found)
