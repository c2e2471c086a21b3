"""The report end to end: ``/unblock report`` shows an approver the figures privately, refuses anyone else
politely and explains a bad number; the weekly report is posted in its channel on Monday at 09:00 UTC (with
a clock the test moves), once with two bots or after a restart, and a report missed while no bot ran is posted
at the next start. The store's part (the requests of a period, the reports recorded) on both databases."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.config import ConfigError, load_settings
from bot.domain.model import State
from bot.domain.report import DAY, REPORT_CLAIM_HOLD, Ending, Report, Weekly
from bot.slack.views.lists import report

from .conftest import MakeHarness
from .fakes.slack import FakeSlack
from .fakes.threecx import FakeThreeCX
from .harness import ALICE, APPROVE, BOB, CAROL, DENY, Harness, base_env, block_text
from .test_limits import valid

REPORTS = "C0REPORTS"
BERLIN = ZoneInfo("Europe/Berlin")
WEEK = 7 * DAY


async def ask_and_decide(harness: Harness) -> None:
    """Three requests: one approved by Bob, one denied by Carol, one still waiting."""
    harness.pbx.add_entry(43, "198.51.100.9")
    harness.pbx.add_entry(44, "192.0.2.44")
    approved = await harness.open_card("42", user=ALICE)
    denied = await harness.open_card("43", user=ALICE)
    await harness.open_card("44", user=ALICE)
    await harness.click(APPROVE, approved, user=BOB)
    await harness.click(DENY, denied, user=CAROL)
    await harness.settle()
    assert (await harness.stored(approved)).state is State.UNBLOCKED


async def test_an_approver_sees_the_figures_privately_and_a_bad_number_of_days_is_explained(harness: Harness) -> None:
    await ask_and_decide(harness)
    cards = len(harness.cards())

    reply, response_url = await harness.command("report", user=BOB)
    await harness.settle()

    assert reply.status == 200 and reply.message == ""
    [post] = harness.slack.posts_to(response_url)
    assert post.body["response_type"] == "ephemeral"
    text = block_text(post.body["blocks"])
    assert "Unblock requests of the last 7 days" in text
    assert "*3* requests: 1 unblocked · 1 denied · 1 still waiting" in text
    assert "*Time to a decision* (2 approved or denied by an approver): median" in text
    assert "• <@UBOB>: once" in text and "<@UCAROL>" not in text  # Carol denied: she unblocked nothing
    assert "*Unblocked most often*\n• 203.0.113.7: once" in text
    assert "Reminders sent: 0 · escalations: 0" in text
    assert len(harness.cards()) == cards  # nothing in the channel

    for text in ("report 500", "report 0", "report lots", "report 7 days"):
        reply, response_url = await harness.command(text, user=BOB)
        await harness.settle()

        assert reply.message == "`/unblock report` takes a number of days from 1 to 90, e.g. `/unblock report 30`."
        assert harness.slack.posts_to(response_url) == []


# -- the weekly report ---------------------------------------------------------------------------------


def next_monday_nine() -> float:
    return Weekly().latest(time.time()) + WEEK


def at(harness: Harness, moment: float) -> None:
    """The bot's clock shows ``moment`` now."""
    harness.clock.offset = moment - time.time()


async def tick(harness: Harness) -> None:
    assert harness.bot is not None and harness.bot.reporter is not None
    await harness.bot.reporter.tick()


def posted(slack: FakeSlack) -> list[str]:
    return [block_text(m.blocks) for m in slack.channel_messages(REPORTS)]


async def test_the_weekly_report_is_posted_on_monday_at_nine_once_with_two_bots(make_harness: MakeHarness) -> None:
    """On the clocks of ``UNBLOCK_TIMEZONE``."""
    one = await make_harness(UNBLOCK_REPORT_CHANNEL=REPORTS, UNBLOCK_TIMEZONE="Europe/Berlin")
    two = await make_harness(UNBLOCK_REPORT_CHANNEL=REPORTS, UNBLOCK_TIMEZONE="Europe/Berlin")
    await ask_and_decide(one)
    await asyncio.gather(tick(one), tick(two))  # the first start of reporting: nothing is owed yet
    assert posted(one.slack) == []

    due = Weekly(zone=BERLIN).latest(time.time() + WEEK)  # the next Monday 09:00 in Berlin, not in UTC
    assert datetime.fromtimestamp(due, BERLIN).strftime("%a %H:%M") == "Mon 09:00"
    for bot in (one, two):
        at(bot, due - 1)
    await asyncio.gather(tick(one), tick(two))
    assert posted(one.slack) == []  # not before

    for bot in (one, two):
        at(bot, due + 5)
    await asyncio.gather(tick(one), tick(two))
    await asyncio.gather(tick(two), tick(one))
    [report] = posted(one.slack)
    assert "Weekly unblock report" in report
    assert "*3* requests: 1 unblocked · 1 denied · 1 still waiting" in report and "• <@UBOB>: once" in report
    week = datetime.fromtimestamp(due, BERLIN).strftime("%Y-%m-%d 09:00 %Z")
    assert f"|{week}>)" in report  # the period's end, for a reader Slack cannot show it to

    await one.restart()
    await tick(one)
    assert len(posted(one.slack)) == 1  # once, after a restart too


@pytest.mark.parametrize("refusal", ["an error", "a bad answer"])
async def test_a_weekly_report_slack_refused_is_posted_at_the_next_look_once_with_two_bots(
    make_harness: MakeHarness, refusal: str
) -> None:
    one = await make_harness(UNBLOCK_REPORT_CHANNEL=REPORTS)
    two = await make_harness(UNBLOCK_REPORT_CHANNEL=REPORTS)
    await asyncio.gather(tick(one), tick(two))  # the first start of reporting
    for bot in (one, two):
        at(bot, next_monday_nine() + 5)
    # Slack refuses every post of this look: the bot that claimed the report, and the other if it claims it once
    # the first has let it go
    if refusal == "an error":
        one.slack.fail_next("chat.postMessage", "channel_not_found", times=2)
    else:
        one.slack.answer_badly("chat.postMessage")

    await asyncio.gather(tick(one), tick(two))
    one.slack.stop_failing("chat.postMessage")
    one.slack.answer_well("chat.postMessage")
    assert posted(one.slack) == []
    await asyncio.gather(tick(two), tick(one))  # the next look, whichever bot makes it
    await asyncio.gather(tick(one), tick(two))

    [report] = posted(one.slack)
    assert "Weekly unblock report" in report


async def test_a_weekly_report_claimed_by_a_bot_that_stopped_is_posted_once_its_claim_is_stale(
    make_harness: MakeHarness,
) -> None:
    harness = await make_harness(UNBLOCK_REPORT_CHANNEL=REPORTS)
    await tick(harness)  # the first start of reporting
    due = next_monday_nine()
    at(harness, due + 5)
    assert harness.bot is not None
    # another bot claimed it, and stopped before Slack took it
    assert await harness.bot.store.claim_report(due, "stopped", due + 1, posted=True, stale_before=0.0)

    await tick(harness)
    assert posted(harness.slack) == []  # its claim may still be posted by its holder
    at(harness, due + REPORT_CLAIM_HOLD + 5)
    await tick(harness)
    await tick(harness)

    [report] = posted(harness.slack)
    assert "Weekly unblock report" in report


async def test_a_report_missed_while_no_bot_ran_is_posted_at_the_next_start(make_harness: MakeHarness) -> None:
    harness = await make_harness(UNBLOCK_REPORT_CHANNEL=REPORTS)
    await tick(harness)
    await harness.stop()

    at(harness, next_monday_nine() + 2 * WEEK + 3600)  # three reports were due meanwhile
    await harness.start()

    async def one_report() -> None:
        while not posted(harness.slack):
            await asyncio.sleep(0.02)

    await asyncio.wait_for(one_report(), 10)
    await tick(harness)
    [report] = posted(harness.slack)  # the latest only
    assert "Weekly unblock report" in report and "No unblock requests were made." in report


@pytest.mark.parametrize(
    ("wrong", "problem"),
    [
        (
            {"UNBLOCK_REPORT_AT": "someday 25:00"},
            "UNBLOCK_REPORT_AT='someday 25:00' should be a day and a time of day in UNBLOCK_TIMEZONE (UTC unless set), "
            "like mon 09:00",
        ),
        *(
            (
                {"UNBLOCK_TIMEZONE": zone},
                f"UNBLOCK_TIMEZONE={zone!r} is not a time zone this system knows: give an IANA name like "
                "Europe/Berlin, America/New_York or UTC.",
            )
            for zone in ("Mars/Olympus", "Europe", "../etc/passwd", "/etc/localtime", "utc")
        ),
    ],
)
def test_the_report_time_and_time_zone_are_checked_with_the_other_settings(
    slack: FakeSlack, pbx: FakeThreeCX, wrong: dict[str, str], problem: str
) -> None:
    env = base_env(slack, pbx, "unblock.db") | {"UNBLOCK_REPORT_CHANNEL": REPORTS, "UNBLOCK_REPORT_AT": "mon 9:00"}

    with pytest.raises(ConfigError) as raised:
        load_settings(env | wrong)

    [said] = raised.value.problems
    assert said.startswith(problem)
    assert load_settings(env).timezone == UTC
    settings = load_settings(env | {"UNBLOCK_REPORT_AT": "Friday 17:30", "UNBLOCK_TIMEZONE": "Europe/Berlin"})
    assert (settings.report_at, settings.timezone) == ((4, 17, 30), BERLIN)


# -- Slack's limits ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("approvers", "median", "p90", "said"),
    [
        (
            500,
            3.5 * 86400,
            40 * 86400.0,
            ["• 480 other approvers: ", "median 3 days 12 hours, 90th percentile 40 days"],
        ),
        (21, 1.0, 3900.0, ["• 1 other approver: once", "median 1 second, 90th percentile 1 hour 5 minutes"]),
    ],
)
def test_a_report_keeps_slacks_limits_and_says_counts_and_durations_in_words(
    approvers: int, median: float, p90: float, said: list[str]
) -> None:
    """The twenty busiest approvers are named, the others counted; long labels are cut to Slack's limits."""
    by_approver = tuple((f"U{n:010d}", 10**6 - n if n < 20 else 1) for n in range(approvers))
    figures = Report(
        since=1.7e9,
        until=1.7e9 + WEEK,
        total=10**6,
        endings=tuple((e, 10**5) for e in Ending),
        decided=10**6,
        median=median,
        p90=p90,
        by_approver=by_approver,
        by_rule=7,
        top=tuple((("x" * 24, "<&>" * 400 + str(n)), 10**5) for n in range(5)),
        reminders=3,
        escalations=1,
        truncated=True,
    )

    text, blocks = report(figures, 90)

    valid(text, blocks)
    assert [words for words in said if words not in block_text(blocks)] == []
