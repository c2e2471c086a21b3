"""Reminders and escalation end to end: a request still waiting gets one reply in its card's thread that
mentions who may approve it (and its Home tab entry says it waits long); escalated, the reply mentions the
people it was escalated to, the card says so, and their Approve carries it out; never twice, not after a
restart either, and never once it was decided."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from bot.config import ConfigError, load_settings
from bot.domain.model import State
from bot.domain.requests import REMINDER_CLAIM_HOLD
from bot.domain.rules import Approvers

from .conftest import MakeHarness
from .fakes.slack import FakeSlack, SlackCall
from .harness import APPROVE, BOB, DENY, GENERAL, HOME_APPROVE, MALLORY, Harness, block_text, wait_for

#: settings that load, for the settings' own tests
ENV = {
    "SLACK_BOT_TOKEN": "xoxb-reminders-test-token",
    "SLACK_SIGNING_SECRET": "reminders-test-signing-secret",
    "THREECX_BASE_URL": "https://pbx.acme.test",
    "THREECX_CLIENT_ID": "unblock-bot",
    "THREECX_CLIENT_SECRET": "reminders-test-client-secret",
    "UNBLOCK_APPROVERS": "UBOB,SHELPDESK",
}
ERIN = "UERIN"
#: who may approve with the base settings (``UNBLOCK_APPROVERS``)
APPROVERS = "<@UBOB>, <@UCAROL> or a member of <!subteam^SHELPDESK>"


def replies(slack: FakeSlack) -> list[SlackCall]:
    """The bot's replies in a thread (``chat.postMessage`` with ``thread_ts``) that Slack took."""
    return [call for call in slack.calls_to("chat.postMessage") if call.args.get("thread_ts")]


def reply_text(call: SlackCall) -> str:
    blocks: Any = call.args.get("blocks")
    return block_text(json.loads(blocks) if isinstance(blocks, str) else blocks or [])


async def rounds(harness: Harness, count: int = 2) -> None:
    """Let the sweeper run ``count`` rounds of upkeep now (besides its own every few seconds)."""
    assert harness.bot is not None
    for _ in range(count):
        await harness.bot.served[0].sweeper.tick()
    await harness.settle()


async def swept_until(harness: Harness, sent: int, what: str) -> None:
    """A round of upkeep now (or the sweeper's own, a moment later) until ``sent`` replies were sent in threads; then
    more rounds, which must send nothing more."""
    await rounds(harness, 1)
    await wait_for(lambda: len(replies(harness.slack)) == sent, what=what)
    await rounds(harness, 3)


async def test_a_request_still_waiting_is_reminded_once_in_its_cards_thread(make_harness: MakeHarness) -> None:
    """Not a request already decided, and not again after a restart."""
    harness = await make_harness(UNBLOCK_REMIND_AFTER="5")
    approved = await harness.open_card()
    await harness.click(APPROVE, approved, user=BOB)
    harness.pbx.add_entry(43, "198.51.100.7")
    denied = await harness.open_card("43")
    await harness.click(DENY, denied, user=BOB)
    harness.pbx.add_entry(44, "198.51.100.8")
    await harness.open_home(BOB)
    request = await harness.open_card("44")  # left waiting
    await rounds(harness)
    assert replies(harness.slack) == []
    assert "Waiting long" not in block_text(harness.slack.homes[BOB]["blocks"])

    harness.clock.advance(6)
    await swept_until(harness, 1, "the reminder")

    [reminder] = replies(harness.slack)
    assert (reminder.args["channel"], reminder.args["thread_ts"]) == (GENERAL, await harness.card_ts(request))
    text = reply_text(reminder)
    assert f"{APPROVERS}: <@UALICE>'s request to unblock `198.51.100.8` has waited" in text
    assert "Please approve or deny it on the card." in text
    assert "<@UBOB>" in reminder.args["text"]  # the notification names them too
    assert (await harness.stored(request)).decision.reminded_at is not None
    assert "Waiting long" in block_text(harness.slack.homes[BOB]["blocks"])
    assert [(await harness.stored(r)).state for r in (approved, denied)] == [State.UNBLOCKED, State.DENIED]
    assert [(await harness.stored(r)).decision.reminded_at for r in (approved, denied)] == [None, None]
    assert [r.path for r in harness.pbx.calls("DELETE")] == ["/xapi/v1/Blocklist(42)"]

    # the next bot escalates at once what still waits (and only that): its upkeep saw it reminded already
    await harness.restart_with(UNBLOCK_ESCALATE_AFTER="5", UNBLOCK_ESCALATE_TO=ERIN)
    await swept_until(harness, 2, "the escalation")

    reminder, escalation = replies(harness.slack)
    assert "Escalated to <@UERIN>" in reply_text(escalation)
    assert escalation.args["thread_ts"] == await harness.card_ts(request)


@pytest.mark.parametrize(
    ("refusal", "bots"),
    [("a bad answer", 1), ("an error", 2)],
    ids=["bad-answer", "two-bots"],
)
async def test_a_reminder_slack_refused_is_sent_at_a_later_round_once(
    make_harness: MakeHarness, refusal: str, bots: int
) -> None:
    harnesses = [await make_harness(UNBLOCK_REMIND_AFTER="5") for _ in range(bots)]
    one = harnesses[0]
    request = await one.open_card()
    for bot in harnesses:
        bot.clock.advance(6)
    if refusal == "an error":
        one.slack.fail_next("chat.postMessage", "not_in_channel")
    else:
        one.slack.answer_badly("chat.postMessage")

    await asyncio.gather(*(rounds(bot, 1) for bot in harnesses))
    one.slack.answer_well("chat.postMessage")
    if bots == 1:  # (of two bots, the other may send it in the same round)
        assert len(replies(one.slack)) == 1 and reminders_shown(one) == 0
        assert (await one.stored(request)).decision.reminded_at is None  # not recorded: Slack did not take it

    await asyncio.gather(*(rounds(bot, 2) for bot in reversed(harnesses)))
    assert reminders_shown(one) == 1 and len(replies(one.slack)) == 2  # sent once, at a later round
    assert (await one.stored(request)).decision.reminded_at is not None


async def test_a_reminder_claimed_by_a_bot_that_stopped_is_sent_once_its_claim_is_stale(
    make_harness: MakeHarness,
) -> None:
    harness = await make_harness(UNBLOCK_REMIND_AFTER="5")
    request = await harness.open_card()
    harness.clock.advance(6)
    assert harness.bot is not None
    # another bot claimed its reminder, and stopped before Slack took it
    assert await harness.bot.store.claim_reminder(request.id, "stopped", harness.clock(), 0.0) is not None

    await rounds(harness)
    assert replies(harness.slack) == []  # its claim may still be sent by its holder
    harness.clock.advance(REMINDER_CLAIM_HOLD)
    await rounds(harness, 3)

    assert reminders_shown(harness) == 1 and len(replies(harness.slack)) == 1
    assert (await harness.stored(request)).decision.reminded_at is not None


def reminders_shown(harness: Harness) -> int:
    """The reminders in the channel: the replies Slack took."""
    return sum("has waited" in block_text(m.blocks) for m in harness.slack.messages.values() if m.channel == GENERAL)


async def test_with_the_default_settings_approvers_are_reminded_before_the_request_expires(harness: Harness) -> None:
    request = await harness.open_card()

    harness.clock.advance(10 * 60 + 1)
    await swept_until(harness, 1, "the reminder")

    [reminder] = replies(harness.slack)
    assert "has waited 10 minutes" in reply_text(reminder)
    assert (await harness.stored(request)).state is State.PENDING
    harness.clock.advance(5 * 60)
    await rounds(harness)
    assert (await harness.stored(request)).state is State.EXPIRED


async def test_an_escalated_request_can_be_approved_by_whom_it_was_escalated_to(make_harness: MakeHarness) -> None:
    """Who requests are escalated to sees and decides only those, once escalated."""
    harness = await make_harness(
        UNBLOCK_REMIND_AFTER="0", UNBLOCK_ESCALATE_AFTER="5", UNBLOCK_ESCALATE_TO=f"{ERIN},{ERIN},S0ONCALL"
    )
    harness.pbx.add_entry(43, "198.51.100.7")
    request = await harness.open_card("42 in general")
    elsewhere = await harness.open_card("43 in another channel", channel="C0HR")
    _, early = await harness.click(APPROVE, request, user=ERIN)  # not yet escalated: not an approver
    home = block_text((await harness.open_home(ERIN))["blocks"])
    _, history = await harness.command("history", user=ERIN)
    _, report = await harness.command("report", user=ERIN)
    await harness.settle()
    assert "Only the approvers can approve" in harness.notes(early)[0]
    assert "Nothing is waiting for approval." in home and "203.0.113.7" not in home
    [listed] = harness.shown(history)
    assert "203.0.113.7" in listed and "198.51.100.7" not in listed  # this channel's requests only
    assert harness.shown(report) == [
        "Sorry, the report is only for approvers. One of them can share its figures with you."
    ]

    harness.clock.advance(6)
    await swept_until(harness, 2, "the escalations")
    [escalation, _] = sorted(replies(harness.slack), key=lambda call: call.args["channel"] != GENERAL)
    assert escalation.args["thread_ts"] == await harness.card_ts(request)
    escalated = "Escalated to <@UERIN> and <!subteam^S0ONCALL> after 5 seconds"
    assert f"{escalated}: <@UALICE>'s request to unblock `203.0.113.7`" in reply_text(escalation)
    for said in (reply_text(escalation), str(escalation.args["text"])):  # each person it goes to named once
        assert said.count("<@UERIN>") == 1 and said.count("<!subteam^S0ONCALL>") == 1
    card = harness.cards()[0]
    assert f"{escalated}." in block_text(card.blocks)
    home = block_text(harness.slack.homes[ERIN]["blocks"])
    assert "203.0.113.7" in home and "198.51.100.7" in home  # escalated to her: hers to decide
    _, report = await harness.command("report", user=ERIN)
    _, refused = await harness.click(APPROVE, request, user=MALLORY)  # someone else still may not
    await harness.settle()
    assert "only for approvers" in harness.shown(report)[0]  # still no approver of anything else
    assert "<@UERIN>" in harness.notes(refused)[0] and "Only the approvers can approve" in harness.notes(refused)[0]
    assert harness.pbx.calls("DELETE") == []

    await harness.click(APPROVE, request, user=ERIN)
    await harness.home_click(HOME_APPROVE, elsewhere, user=ERIN)
    await harness.settle()
    assert sorted(r.path for r in harness.pbx.calls("DELETE")) == ["/xapi/v1/Blocklist(42)", "/xapi/v1/Blocklist(43)"]
    stored = await harness.stored(request)
    assert (stored.state, stored.decision.by) == (State.UNBLOCKED, ERIN)
    assert (await harness.stored(elsewhere)).state is State.UNBLOCKED
    assert "approved by <@UERIN>, and it is unblocked" in block_text(harness.cards()[0].blocks)
    assert len(replies(harness.slack)) == 2


# the settings ------------------------------------------------------------------------------------------------


def test_with_the_defaults_the_reminder_comes_before_requests_expire() -> None:
    settings = load_settings(ENV)

    assert (settings.rules.default.remind_after, settings.request_ttl) == (600.0, 900.0)

    escalating = {"UNBLOCK_ESCALATE_AFTER": "1h", "UNBLOCK_ESCALATE_TO": "UERIN, S0ONCALL"}
    settings = load_settings({**ENV, "UNBLOCK_REQUEST_TTL": "1d", "UNBLOCK_REMIND_AFTER": "off", **escalating})
    default = settings.rules.default
    assert (default.remind_after, default.escalate_after) == (0.0, 3600.0)
    assert default.escalate_to == Approvers(users=frozenset({ERIN}), groups=frozenset({"S0ONCALL"}))


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        (
            {"UNBLOCK_REMIND_AFTER": "2"},
            "UNBLOCK_REMIND_AFTER='2' should be a duration from 5s to 7d: seconds like 90, or a number and a unit (s, "
            "m, h, d or w) like 90s, 15m, 1h, 7d or 2w; or 0 (or off) for never.",
        ),
        (
            {"UNBLOCK_ESCALATE_AFTER": "1h", "UNBLOCK_REQUEST_TTL": "1d"},
            "UNBLOCK_ESCALATE_AFTER is set, but UNBLOCK_ESCALATE_TO is not: name the users (U…) and user groups (S…) "
            "a request still waiting is escalated to.",
        ),
        (
            {"UNBLOCK_ESCALATE_TO": "*"},
            "UNBLOCK_ESCALATE_TO='*' cannot be * (anyone): name the users (U…) and user groups (S…) to mention.",
        ),
        (
            {"UNBLOCK_ESCALATE_TO": "UERIN,erin"},
            "UNBLOCK_ESCALATE_TO='UERIN,erin' has items that are neither user ids (U…/W…) nor user-group ids (S…): "
            "erin.",
        ),
        (
            {"UNBLOCK_REMIND_AFTER": "15m"},
            "UNBLOCK_REMIND_AFTER='15m' is not shorter than UNBLOCK_REQUEST_TTL (15m), so it would never happen: "
            "requests expire first. Make it shorter, or the time to live longer.",
        ),
    ],
)
def test_each_problem_with_the_settings_is_one_line(env: dict[str, str], problem: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings({**ENV, **env})
    assert raised.value.problems == [problem]
