"""The report: the figures of a known set of requests (how they ended, the median and 90th percentile of the
time to a decision, unblocks by approver, the five most unblocked), and the weekly schedule (due on Monday at
09:00 UTC, or on the clocks of a time zone, not before, once; a week missed while no bot ran is posted once, the
latest only), claimed once by two processes."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.domain.actions import UNBLOCK, Action, Does, Result
from bot.domain.entries import Target
from bot.domain.model import Approval, Asked, Decision, Done, Escalation, State, UnblockRequest, What
from bot.domain.outcomes import Outcome
from bot.domain.ports import Found, StoreUnreachable
from bot.domain.reads import Reads
from bot.domain.report import DAY, REPORT_CLAIM_HOLD, CameBack, Ending, Report, Reporting, Weekly, figures, quantile

from .fakes import APPROVER, CHANNEL, REQUESTER, FakeClock, MemoryStore, blocked_address, blocked_number, world

BOB, CAROL, DAVE = "UBOB", "UCAROL", "UDAVE"
A = blocked_address(1, "203.0.113.7")
B = blocked_address(2, "198.51.100.0/24")
C = blocked_address(3, "192.0.2.9")
D = blocked_address(4, "192.0.2.10")
E = blocked_address(5, "192.0.2.11")
N = blocked_number("6", "+15550100")
#: Monday 30 November 2026, 09:00 UTC
MONDAY_NINE = datetime(2026, 11, 30, 9, 0, tzinfo=UTC).timestamp()
BERLIN = ZoneInfo("Europe/Berlin")
WEEK = 7 * DAY
T = MONDAY_NINE - 3 * DAY
DELETED = Result(Outcome.DELETED, "204")
#: one of four entries was gone already: unblocked all the same
SEVERAL = (DELETED, DELETED, Result(Outcome.ALREADY_GONE, "404"), DELETED)
BY_BOB_AND_DAVE = (Approval(BOB), Approval(DAVE))


def made(
    n: int,
    state: State,
    *targets: Target,
    by: str | None = None,
    after: float | None = None,
    created_at: float | None = None,
    results: tuple[Result, ...] = (),
    action: Action = UNBLOCK,
    asked_address: str | None = None,
    **decision: Any,
) -> UnblockRequest:
    """Request ``n``, made at ``T + n`` (or ``created_at``), in ``state``, decided by ``by`` ``after`` seconds
    later (``decision``: more of how it was decided)."""
    at = T + n if created_at is None else created_at
    return UnblockRequest(
        id=f"r{n}",
        asked=Asked(REQUESTER, CHANNEL, at),
        what=What(targets or (A,), asked_address),
        decision=Decision(at + 600, by=by, at=at + after if after is not None else None, **decision),
        state=state,
        done=Done(action, results),
    )


def known() -> list[UnblockRequest]:
    return [
        made(1, State.UNBLOCKED, A, by=BOB, after=60, results=(DELETED,)),
        made(2, State.UNBLOCKED, A, by=CAROL, after=120, results=(DELETED,)),
        made(3, State.DENIED, B, by=BOB, after=300),
        made(4, State.FAILED, B, by=BOB, after=30, results=(Result(Outcome.FORBIDDEN, "403"),)),
        made(5, State.UNDONE, B, by=CAROL, after=600, results=(DELETED,)),
        made(6, State.EXPIRED, C, after=600),  # expired: nobody decided
        made(7, State.CANCELLED, C, by=REQUESTER, after=5),  # withdrawn by the requester: no decision
        made(8, State.PENDING, D, reminded_at=T + 500, escalation=Escalation(at=T + 900, after=900)),
        made(9, State.UNBLOCKED, C, after=0, auto=True, results=(DELETED,)),  # by its rule, at once
        made(10, State.UNBLOCKED, A, N, D, E, by=DAVE, after=900, approvals=BY_BOB_AND_DAVE, results=SEVERAL),
    ]


def test_the_figures_count_endings_decision_times_approvers_and_the_five_most_unblocked() -> None:
    report = figures(known(), T, T + WEEK)

    assert report.total == 10
    assert report.endings == tuple((e, 4 if e is Ending.UNBLOCKED else 1) for e in Ending)  # in that order
    assert (report.reminders, report.escalations) == (1, 1)
    # 30, 60, 120, 300, 600 and 900 seconds: expiry, the requester's cancel and the rule's own unblock left out
    assert (report.decided, report.median, report.p90) == (6, 210.0, 750.0)
    # each approver of several once; the undone request unblocked too, the failed and denied ones did not
    assert report.by_approver == ((BOB, 2), (CAROL, 2), (DAVE, 1)) and report.by_rule == 1
    # 198.51.100.0/24, the sixth, is left out
    top = (("203.0.113.7", 3), ("+15550100", 1), ("192.0.2.10", 1), ("192.0.2.11", 1), ("192.0.2.9", 1))
    assert report.top == tuple((("", label), count) for label, count in top)


def test_what_was_asked_about_again_within_30_days_of_an_unblock_is_listed_soonest_first() -> None:
    earlier = [
        made(1, State.UNBLOCKED, A, by=BOB, after=60, created_at=T - 40 * DAY),  # too long before
        made(2, State.UNBLOCKED, A, by=CAROL, after=60, created_at=T - 10 * DAY),  # the last before it
        made(3, State.UNDONE, B, by=BOB, after=60, created_at=T - DAY),  # undone: a person put it back
        made(4, State.UNBLOCKED, C, after=0, created_at=T - 2 * DAY, auto=True, rule="Branch offices"),
        made(5, State.UNBLOCKED, N, by=DAVE, after=60, created_at=T - 3600),
    ]
    period = [
        made(10, State.PENDING, blocked_address(11, "203.0.113.7/32"), created_at=T + DAY),  # the same, however written
        made(11, State.DENIED, B, by=BOB, after=5, created_at=T + DAY),
        made(12, State.UNBLOCKED, C, by=BOB, after=5, created_at=T),
        made(13, State.PENDING, blocked_number("n9", "+1 555 0100"), created_at=T),
    ]

    # what the watcher found: asked about too (not counted twice), or not
    found = [
        Found(C, T),
        Found(blocked_address(20, "203.0.113.7"), T + 2 * DAY),
        Found(blocked_address(21, "192.0.2.200"), T),
    ]

    report = figures(period, T, T + WEEK, unblocks=earlier, found=found)

    assert report.came_back == (
        CameBack("+1 555 0100", 3600.0 - 60, DAVE),
        CameBack("192.0.2.9", 2 * DAY, None, "Branch offices"),
        CameBack("203.0.113.7/32", 11 * DAY - 60, CAROL),
        CameBack("203.0.113.7", 12 * DAY - 60, CAROL),
    )


def test_what_comes_back_and_what_is_unblocked_most_are_counted_on_each_pbx_apart() -> None:
    on_acme = replace(made(1, State.UNBLOCKED, A, by=BOB, after=60, created_at=T - DAY), pbx="acme")
    # the same address, asked about on another PBX and found there: not what acme unblocked coming back
    on_beta = replace(made(10, State.UNBLOCKED, blocked_address(11, "203.0.113.7"), by=CAROL, after=5), pbx="beta")
    found = [Found(blocked_address(20, "203.0.113.7"), T + DAY, "beta"), Found(A, T + 2 * DAY, "acme")]

    report = figures([on_beta], T, T + WEEK, unblocks=[on_acme], found=found)

    assert report.came_back == (CameBack("203.0.113.7", 3 * DAY - 60, BOB, None, "acme"),)
    assert report.top == ((("beta", "203.0.113.7"), 1),)


def test_allow_only_counts_the_address_it_let_in() -> None:
    action = Action(Does.ALLOW_ONLY, 3600.0)
    results = (Result(Outcome.ALLOWED, "201"),)
    only = made(1, State.UNBLOCKED, B, by=BOB, after=60, action=action, asked_address="198.51.100.7", results=results)

    assert figures([only], T, T + DAY).top == ((("", "198.51.100.7"), 1),)


def test_quantiles_interpolate_between_the_nearest_values_and_a_period_without_requests_has_none() -> None:
    assert quantile([], 0.5) is None
    assert quantile([7.0], 0.9) == 7.0
    assert quantile([1.0, 2.0, 3.0], 0.5) == 2.0
    assert quantile([0.0, 10.0], 0.9) == 9.0
    report = figures([], T, T + DAY)
    assert report.total == 0 and report.median is None and report.p90 is None
    assert report.by_approver == () and report.top == () and all(count == 0 for _, count in report.endings)


# -- the schedule ----------------------------------------------------------------------------------------


def test_the_weekly_report_is_due_on_monday_at_nine_utc() -> None:
    weekly = Weekly()

    assert weekly.latest(MONDAY_NINE) == MONDAY_NINE
    assert weekly.latest(MONDAY_NINE - 1) == MONDAY_NINE - WEEK
    assert weekly.latest(MONDAY_NINE + 6 * DAY) == MONDAY_NINE
    friday = Weekly(weekday=4, hour=17, minute=30)
    assert friday.latest(MONDAY_NINE) == datetime(2026, 11, 27, 17, 30, tzinfo=UTC).timestamp()


@dataclass
class Poster:
    """Where the weekly report goes: each report posted, delivered or not (``delivers``)."""

    delivers: bool = True
    posted: list[Report] = field(default_factory=list)

    async def post(self, report: Report) -> bool:
        self.posted.append(report)
        return self.delivers


async def test_the_week_the_clocks_change_is_reported_whole_and_once() -> None:
    before = datetime(2026, 3, 23, 8, 0, tzinfo=UTC).timestamp()  # Monday 09:00 CET
    after = datetime(2026, 3, 30, 7, 0, tzinfo=UTC).timestamp()  # Monday 09:00 CEST: 167 hours later
    store, clock = MemoryStore(), FakeClock(before)
    await store.add(made(1, State.PENDING, A, created_at=before + 60))
    await store.add(made(2, State.PENDING, B, created_at=after - 60))
    reporting, poster = Reporting(store, store, clock, Weekly(zone=BERLIN), holder="bot-1"), Poster()
    clock.now = before + DAY
    assert await reporting.post_due(poster) is None  # the first start: recorded, not posted
    assert await store.last_report() == before and poster.posted == []

    clock.now = after - 1
    assert await reporting.post_due(poster) is None  # not before the moment
    clock.now = after
    report = await reporting.post_due(poster)
    clock.now = after + 3600
    assert await reporting.post_due(poster) is None  # posted: not again

    assert report is not None and (report.since, report.until) == (before, after) and report.total == 2
    assert poster.posted == [report]


async def test_a_weekly_report_sent_while_the_database_was_away_is_recorded_at_the_next_look_not_posted_again() -> None:
    store, clock, poster = MemoryStore(), FakeClock(MONDAY_NINE - DAY), Poster()
    reporting = Reporting(store, store, clock, Weekly(), "bot-1")
    await reporting.post_due(poster)
    clock.now = MONDAY_NINE + 1
    store.unreachable("report_sent")
    with pytest.raises(StoreUnreachable):
        await reporting.post_due(poster)

    clock.now = MONDAY_NINE + REPORT_CLAIM_HOLD + 60
    assert await reporting.post_due(poster) is None and len(poster.posted) == 1
    assert await store.last_report() == MONDAY_NINE


async def test_the_report_and_every_channels_history_are_for_approvers_only() -> None:
    w = world()
    await w.request(w.ip.entries[42])
    w.clock.advance(60)
    reads = Reads(w.store, w.policy, Reporting(w.store, w.store, w.clock))

    assert await reads.report(REQUESTER, 7) is None
    report = await reads.report(APPROVER, 7)
    assert report is not None and report.total == 1
    theirs, approvers = await reads.history(REQUESTER, "C0ELSEWHERE", 10), await reads.history(APPROVER, "C0X", 10)
    assert (theirs.requests, theirs.everywhere) == ([], False)  # only the channel where they ask
    assert len(approvers.requests) == 1 and approvers.everywhere


async def test_the_report_of_the_last_days() -> None:
    store, clock = MemoryStore(), FakeClock(MONDAY_NINE)
    await store.add(made(1, State.PENDING, A, created_at=MONDAY_NINE - 3 * DAY))
    await store.add(made(2, State.PENDING, B, created_at=MONDAY_NINE - 10 * DAY))
    reporting = Reporting(store, store, clock)

    assert (await reporting.of_days(7)).total == 1
    assert (await reporting.of_days(30)).total == 2
