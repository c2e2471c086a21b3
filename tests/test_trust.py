"""Trust: every way in, every race and every crash. Each test sends what an attacker, a careless
client or Slack itself could send, and checks what people see and what 3CX received."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from urllib.parse import urlencode

import pytest

from bot.calls import Lane
from bot.domain.model import State
from bot.tasks import Limits

from .conftest import MakeHarness
from .fakes.slack import FakeSlack
from .fakes.threecx import FakeThreeCX
from .harness import (
    ALICE,
    APPROVE,
    BOB,
    CAROL,
    CHOOSE,
    DENY,
    MALLORY,
    UNDO,
    Harness,
    base_env,
    block_text,
    buttons,
    sign,
    wait_for,
)
from .processes import BotProcess, start_http_bot

# bad input gets an answer, never a 500 --------------------------------------------------------------


FORM = "application/x-www-form-urlencoded"
CLICK_WITHOUT_ACTIONS = urlencode(
    {"payload": json.dumps({"type": "block_actions", "user": {"id": "UMALLORY"}, "actions": []})}
)
FORM_AS_JSON = json.dumps({"command": "/unblock", "text": "42", "user_id": "UALICE"})


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        pytest.param("payload=%7B", FORM, id="broken JSON"),
        pytest.param("payload=null", FORM, id="null"),
        pytest.param("payload=%5B%5D", FORM, id="list"),
        pytest.param("payload=%22text%22", FORM, id="string"),
        pytest.param(CLICK_WITHOUT_ACTIONS, FORM, id="click without actions"),
        pytest.param("", FORM, id="empty"),
        pytest.param(FORM_AS_JSON, "application/json", id="form as JSON"),
        pytest.param("[]", "application/json", id="JSON list"),
        pytest.param("command=/unblock&text=42", "text/plain", id="text/plain"),
    ],
)
async def test_signed_but_malformed_bodies_get_a_400_and_one_log_line(
    harness: Harness, caplog: pytest.LogCaptureFixture, body: str, content_type: str
) -> None:
    caplog.set_level(logging.INFO)

    reply = await harness.post_signed(body, headers={"Content-Type": content_type})
    await harness.settle()

    assert reply.status == 400
    assert len([r for r in caplog.records if "Slack would not send" in r.getMessage()]) == 1
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert harness.pbx.requests == [] and harness.slack.response_posts == []


# recovery tells the truth even when 3CX was still working -----------------------------------------------


@pytest.mark.long(10)
async def test_a_call_under_way_when_the_bot_was_killed_is_finished_truthfully_and_once_after_a_restart(
    processes: list[BotProcess], slack: FakeSlack, pbx: FakeThreeCX, tmp_path: Path
) -> None:
    """An undo's adding back, which 3CX carries out 4 s after it arrived (the longest a call of a bot with a 3CX
    timeout of 1 s lasts, its retries included: longer than two heartbeats and the margin, so a takeover that did
    not wait for the call would send it again); the bot is killed as soon as the call has arrived. An approval's
    removal under way is test_replicas.py's killed replica; 3CX refusing the call instead (recovery sends it again)
    is the domain tests' (test_carrying_out.py)."""
    first, driver = await start_http_bot(processes, slack, pbx, tmp_path, THREECX_TIMEOUT="1")
    await driver.command("42")
    await wait_for(lambda: driver.cards(), what="the card")
    request_id = str(buttons(driver.cards()[0].blocks)[0]["value"])
    await driver.click(APPROVE, request_id, user=BOB)
    await wait_for(lambda: "unblocked" in block_text(driver.cards()[0].blocks), what="the unblock")
    pbx.delay = 4.0
    await driver.click(UNDO, request_id, user=CAROL)
    await wait_for(lambda: pbx.calls("POST", "/xapi/v1/Blocklist"), what="the POST to reach 3CX")
    first.kill()  # SIGKILL: no chance to finish anything
    await first.wait()
    pbx.delay = 0  # the call already under way keeps its 4 s

    second, driver = await start_http_bot(processes, slack, pbx, tmp_path, THREECX_TIMEOUT="1")  # at once
    ends = "it is blocked again.*"
    await wait_for(lambda: ends in block_text(driver.cards()[0].blocks), timeout=60, what="the card")
    assert await second.stop() == 0

    # it waited until 3CX must have finished, then looked: found done, the call was not sent again
    assert len(pbx.calls("POST", "/xapi/v1/Blocklist")) == 1
    assert "finished after a restart of the bot" in block_text(driver.cards()[0].blocks)
    assert [e["IPAddrMask"] for e in pbx.entries.values()] == ["203.0.113.7"]  # back, and only once


# every delivery acts at most once ----------------------------------------------------------------------------


async def _deliver_again(harness: Harness, body: str, times: int) -> list[int]:
    """``body`` delivered ``times`` times as Slack's retries would be: the same signature, and signed anew."""
    stamp = int(harness.clock())
    statuses = []
    for n in range(times):
        headers = {"X-Slack-Retry-Num": str(n + 1), "X-Slack-Retry-Reason": "http_timeout"}
        again = stamp + n % 2  # every other one signed anew, at another time
        reply = await harness.post_signed(body, timestamp=again, signature=sign(body, str(again)), headers=headers)
        statuses.append(reply.status)
    return statuses


async def test_a_choice_clicked_and_delivered_again_opens_one_request(harness: Harness) -> None:
    harness.pbx.add_entry(7, "203.0.113.0/24")
    _, response_url = await harness.command("203.0.113.7")
    await harness.settle()
    pick = buttons(harness.slack.posts_to(response_url)[0].body["blocks"])[0]["value"]
    body, click_url = harness.click_body(CHOOSE, pick, user=ALICE)

    statuses = await _deliver_again(harness, body, 5)
    await harness.settle()

    assert statuses == [200] * 5
    assert len(harness.cards()) == 1
    assert len(harness.slack.posts_to(click_url)) == 1  # "Asked the approvers…", once


async def test_a_delivery_is_acted_on_once_across_replicas(make_harness: MakeHarness, database_url: str) -> None:
    a = await make_harness(DATABASE_URL=database_url)
    b = await make_harness(DATABASE_URL=database_url)
    body, _ = a.command_body("42")

    for replica in (a, b, a, b):
        await _deliver_again(replica, body, 1)
    await a.settle()
    await b.settle()

    assert len(a.cards()) == 1 and len(a.pbx.calls("GET", "/xapi/v1/Blocklist(42)")) == 1


# a click is never dropped and never waits behind commands ---------------------------------------------------


@pytest.mark.long(8)
async def test_an_approval_does_not_wait_behind_a_burst_of_commands(harness: Harness) -> None:
    request = await harness.open_card()
    for n in range(100, 200):
        harness.pbx.add_entry(n, f"198.51.100.{n - 100}")
    harness.pbx.delay = 0.3  # 10 lookups at a time: the burst keeps 3CX busy for 3 s

    replies = await asyncio.gather(*(harness.command(str(n), user=CAROL) for n in range(100, 200)))
    assert all(reply.status == 200 for reply, _ in replies)
    await harness.click(APPROVE, request, user=BOB)
    await harness.settle()

    order = [(r.method, r.path) for r in harness.pbx.requests if r.path.startswith("/xapi/")]
    delete = order.index(("DELETE", "/xapi/v1/Blocklist(42)"))
    lookups_before = sum(method == "GET" for method, _ in order[:delete])
    assert lookups_before < 50, f"the DELETE waited for {lookups_before} of the 100 lookups"
    assert (await harness.stored(request)).state is State.UNBLOCKED
    assert len(harness.cards()) == 101  # and every command got its card


async def test_a_click_the_bot_cannot_take_is_answered_and_changes_nothing(make_harness: MakeHarness) -> None:
    harness = await make_harness(limits={Lane.DECISIONS: Limits(concurrency=1, max_pending=1)})
    harness.pbx.add_entry(43, "198.51.100.4")
    for entry in ("42", "43"):
        await harness.command(entry)
    await harness.settle()
    first, second = [await harness.request_for(card) for card in harness.cards()]
    harness.pbx.delay = 0.5

    await harness.click(APPROVE, first, user=BOB)  # takes the only place in the decisions' lane
    _, refused_url = await harness.click(APPROVE, second, user=CAROL)
    await harness.settle()

    assert "could not take this click; nothing was changed" in harness.notes(refused_url)[0]
    assert (await harness.stored(second)).state is State.PENDING
    assert buttons(harness.cards()[1].blocks)[0]["action_id"] == APPROVE  # the card is as it was
    assert [r.path for r in harness.pbx.calls("DELETE")] == ["/xapi/v1/Blocklist(42)"]
    await harness.click(APPROVE, second, user=CAROL)  # a minute later, it goes through
    await harness.settle()
    assert (await harness.stored(second)).state is State.UNBLOCKED


# one workspace -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("team", "command", "said"),
    [
        ("T0OTHER", "%2Funblock", "This bot only takes requests from people of its own workspace"),
        (None, "%2Fblock", "This bot has one command, `/unblock`, so nothing was done. Try `/unblock help`."),
    ],
    ids=["from another workspace", "a command the bot does not have"],
)
async def test_a_command_from_another_workspace_is_refused(
    harness: Harness, team: str | None, command: str, said: str
) -> None:
    body, _ = harness.command_body("42", team=team)

    reply = await harness.post_signed(body.replace("%2Funblock", command))
    await harness.settle()

    assert reply.status == 200 and reply.message.startswith(said)
    assert harness.pbx.requests == [] and harness.cards() == []


@pytest.mark.parametrize("who", ["a click from another workspace", "a person of another workspace"])
async def test_a_click_from_outside_the_workspace_is_refused_even_when_anyone_may_approve(
    make_harness: MakeHarness, who: str
) -> None:
    harness = await make_harness(UNBLOCK_APPROVERS="*")
    request = await harness.open_card()
    teams = {"team": "T0OTHER"} if who == "a click from another workspace" else {"user_team": "T0OTHER"}

    _, url = await harness.click(APPROVE, request, user="UEXTERNAL", **teams)
    await harness.settle()

    assert "only takes requests from people of its own workspace" in harness.notes(url)[0]
    assert harness.pbx.calls("DELETE") == [] and (await harness.stored(request)).state is State.PENDING


async def test_the_workspace_can_be_set_so_that_slack_need_not_be_asked(make_harness: MakeHarness) -> None:
    harness = await make_harness(SLACK_TEAM_ID="T0001")

    await harness.command("42")
    await harness.settle()

    assert [c.method for c in harness.slack.calls] == ["chat.postMessage"]  # no auth.test
    reply, _ = await harness.command("42", team="T0OTHER")
    assert "own workspace" in reply.message


async def test_a_bot_that_cannot_learn_its_workspace_does_not_start(
    slack: FakeSlack, pbx: FakeThreeCX, tmp_path: Path
) -> None:
    slack.fail_next("auth.test", "invalid_auth", times=10)
    process = BotProcess(base_env(slack, pbx, str(tmp_path / "unblock.db")), tmp_path)

    assert await process.run() == 1

    *logged, line = process.stderr.splitlines()
    assert [json.loads(entry)["message"] for entry in logged] == ["the database is open"]
    assert "Slack did not confirm the bot's workspace (auth.test: invalid_auth)" in line and "SLACK_TEAM_ID" in line


# channel scope everywhere ----------------------------------------------------------------------------------


async def test_a_button_acts_only_in_the_channel_of_its_card(harness: Harness) -> None:
    request = await harness.open_card()

    _, url = await harness.click(APPROVE, request, user=BOB, channel="C0ELSEWHERE")
    await harness.settle()

    assert "belongs to a request made in another channel" in harness.notes(url)[0]
    assert harness.pbx.calls("DELETE") == [] and (await harness.stored(request)).state is State.PENDING


async def test_clicks_outside_the_allowed_channels_do_nothing(make_harness: MakeHarness) -> None:
    harness = await make_harness()
    harness.pbx.add_entry(7, "203.0.113.0/24")
    await harness.command("42", channel="C0RANDOM")
    _, chooser_url = await harness.command("203.0.113.7", channel="C0RANDOM")
    await harness.settle()
    request = await harness.request_for(harness.cards("C0RANDOM")[0])
    pick = buttons(harness.slack.posts_to(chooser_url)[0].body["blocks"])[0]["value"]
    await harness.restart_with(UNBLOCK_CHANNELS="C0GENERAL")  # /unblock is now for #general only

    _, approve_url = await harness.click(APPROVE, request, user=BOB)
    _, choose_url = await harness.click(CHOOSE, pick, user=ALICE, channel="C0RANDOM")
    await harness.settle()

    for url in (approve_url, choose_url):
        assert "/unblock is not enabled in this channel" in harness.notes(url)[0]
    assert harness.pbx.calls("DELETE") == [] and len(harness.cards("C0RANDOM")) == 1


# expiry is final ---------------------------------------------------------------------------------------------


async def test_a_click_checked_until_after_expiry_changes_nothing(harness: Harness) -> None:
    request = await harness.open_card()
    harness.clock.advance(900 - 1)  # one second left of the 15 minutes a request waits
    # looking up the approvers' user group takes 4 s
    harness.slack.before["usergroups.users.list"] = lambda _: harness.clock.advance(4)

    _, url = await harness.click(APPROVE, request, user="UDAVE")  # a member of an approvers' group
    await harness.settle()

    assert harness.pbx.calls("DELETE") == []
    assert (await harness.stored(request)).state is State.EXPIRED
    assert "This request expired" in harness.notes(url)[0]
    assert "expired without approval.*" in block_text(harness.cards()[0].blocks)


# one open request per entry; undo only what was removed ----------------------------------------------------


async def test_a_second_request_for_an_entry_points_to_the_open_one(harness: Harness) -> None:
    await harness.command("42", user=ALICE)
    await harness.settle()
    [card] = harness.cards()

    _, by_id = await harness.command("42 again", user=CAROL)
    _, by_address = await harness.command("203.0.113.7", user=CAROL)
    _, mine = await harness.command("42", user=ALICE)
    await harness.settle()

    assert len(harness.cards()) == 1
    link = f"<https://acme.slack.com/archives/C0GENERAL/p{card.ts.replace('.', '')}|this card>"
    for url, whose in (
        (by_id, "(asked by <@UALICE>)"),
        (by_address, "(asked by <@UALICE>)"),
        (mine, "(you asked for it)"),
    ):
        [note] = harness.notes(url)
        assert f"A request to unblock 203.0.113.7 {whose} is already waiting for approval" in note
        assert link in note and "Nothing new was requested" in note
    request = await harness.request_for(card)
    await harness.click(DENY, request, user=BOB)
    await harness.settle()
    await harness.command("42", user=CAROL)  # decided: the entry is free again
    await harness.settle()
    assert len(harness.cards()) == 2


# secrets and private text ------------------------------------------------------------------------------------


async def test_history_shows_a_channels_own_requests_and_everything_only_to_approvers(harness: Harness) -> None:
    harness.pbx.add_entry(43, "198.51.100.4")
    await harness.command("42 in general")
    await harness.command("43 secret reason", channel="C0HR")
    await harness.settle()

    _, in_general = await harness.command("history", user=ALICE)
    _, in_hr = await harness.command("history", user=ALICE, channel="C0HR")
    _, approver = await harness.command("history", user=BOB)
    await harness.settle()

    [general_note], [hr_note], [everything] = (harness.shown(u) for u in (in_general, in_hr, approver))
    assert "203.0.113.7" in general_note and "secret reason" not in general_note and "198.51.100.4" not in general_note
    assert "198.51.100.4" in hr_note and "203.0.113.7" not in hr_note
    assert "in <#C0HR>" in everything and "in <#C0GENERAL>" in everything
    reply, _ = await harness.command("help")
    assert "approvers see every channel's" in reply.message


async def test_reply_urls_and_socket_tickets_never_reach_a_log(
    processes: list[BotProcess], slack: FakeSlack, pbx: FakeThreeCX, tmp_path: Path
) -> None:
    process, driver = await start_http_bot(processes, slack, pbx, tmp_path, LOG_LEVEL="DEBUG")
    _, command_url = await driver.command("99")  # no such entry: a private note through the reply URL
    await driver.command("42")
    await wait_for(lambda: driver.cards() and driver.notes(command_url), what="the card and the note")
    _, click_url = await driver.click(APPROVE, str(buttons(driver.cards()[0].blocks)[0]["value"]), user=MALLORY)
    await wait_for(lambda: driver.notes(click_url), what="the note to the clicker")
    assert await process.stop() == 0

    for url in (command_url, click_url):
        secret = url.rsplit("/", 1)[1]
        assert secret not in process.stderr
    assert "/commands/T0001/" in process.stderr and "/actions/T0001/" in process.stderr  # logged, secrets masked
