"""Faults in 3CX and in Slack: every request ends in a defined state, the card says what happened in
plain words, the record keeps 3CX's answer, one request never deletes twice, and the bot lives on. Whatever Slack
(or a proxy in front of it) answers, each Web API call the bot makes, and each post to a reply URL, ends as one
logged error code, and the rest of the flow goes on: a proxy's HTML page with a 502, a 405 in plain text, an empty
body, broken JSON, JSON that is not an object, a connection cut."""

from __future__ import annotations

import logging
import socket
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest
from aiohttp.abc import AbstractResolver, ResolveResult

from bot.app import StartupError, start_bot
from bot.check import preflight
from bot.config import load_settings
from bot.domain.model import State, UnblockRequest
from bot.logs import Redactor

from .conftest import MakeHarness
from .fakes.slack import BAD_ANSWERS, FakeSlack
from .fakes.threecx import FakeThreeCX
from .harness import (
    ALICE,
    APPROVE,
    BOB,
    CAROL,
    FAST_RETRY,
    GENERAL,
    HOME_APPROVE,
    Harness,
    base_env,
    block_text,
    buttons,
    crashes,
)
from .ports import free_port

HTML = b"<html><body><h1>502 Bad Gateway</h1></body></html>"


async def approve(harness: Harness, request: UnblockRequest, user: str = BOB) -> UnblockRequest:
    await harness.click(APPROVE, request, user=user)
    await harness.settle()
    return await harness.stored(request)


async def still_works(harness: Harness) -> None:
    """After the fault, an ordinary request goes through: the bot lives on."""
    harness.pbx.delay = 0
    harness.pbx.forbidden = False
    harness.pbx.clear_faults()
    harness.pbx.add_entry(99, "192.0.2.99")
    request = await harness.open_card("99")
    assert (await approve(harness, request)).state is State.UNBLOCKED


async def executions(harness: Harness, request: UnblockRequest) -> int:
    assert harness.bot is not None
    return sum(t.to_state is State.EXECUTING for t in await harness.bot.store.transitions(request.id))


# 3CX ---------------------------------------------------------------------------------------------


DOWN = "was unavailable or did not answer in time"
#: a DELETE that fails for good: the kind of failure recorded, what the card says (once), the status or 3CX's own
#: words in its context ("": not checked here), and what the audit line asks an admin to check ("": not checked
#: here; None: nothing)
FAILED_FOR_GOOD = [
    ("forbidden", "forbidden", "give its 3CX API client the System Admin role", "HTTP 403 ·", "System Admin role"),
    ("503 for good", "unavailable", DOWN, "HTTP 503 ·", "THREECX_BASE_URL"),
    ("timeout", "unavailable", DOWN, "", ""),
    ("html", "unavailable", DOWN, "HTTP 502", ""),
    ("refused", "other", "3CX refused to remove it", "HTTP 400 (refused): WARNINGS.XAPI.INVALID", None),
    ("garbage 400", "other", "3CX refused to remove it", "HTTP 400", ""),
]


@pytest.mark.parametrize("case", FAILED_FOR_GOOD, ids=[case[0] for case in FAILED_FOR_GOOD])
async def test_3cx_failing_for_good_ends_the_request_as_failed(
    make_harness: MakeHarness, caplog: pytest.LogCaptureFixture, case: tuple[str, str, str, str, str | None]
) -> None:
    fault, kind, sentence, context, hint = case
    # a DELETE that may have reached 3CX is looked at again once a call must have ended: a short retry budget
    harness = await make_harness(THREECX_TIMEOUT="0.3", retry=replace(FAST_RETRY, budget=0.5))
    request = await harness.open_card()
    if fault == "forbidden":
        harness.pbx.forbidden = True
    elif fault == "503 for good":
        harness.pbx.fail_next(503, times=100, method="DELETE")
    elif fault == "timeout":
        harness.pbx.delay = 1.0
    elif fault == "html":
        harness.pbx.fail_next(502, times=100, method="DELETE", body=HTML, content_type="text/html")
    elif fault == "refused":
        harness.pbx.fail_next(400, method="DELETE", body=b'{"error":{"code":"","message":"WARNINGS.XAPI.INVALID"}}')
    else:
        harness.pbx.fail_next(400, method="DELETE", body=b"\x00\xff not json", content_type="application/json")

    stored = await approve(harness, request)

    assert (stored.state, stored.outcome) == (State.FAILED, kind)
    assert stored.done.results[0].answer  # 3CX's answer (or its silence) is on record
    text = block_text(harness.cards()[0].blocks)
    # said once, in plain words; the context shows only what the headline does not say: the status, or 3CX's words
    assert text.count(sentence) == 1 and (not context or f"3CX answered: {context}" in text)
    assert "not allowed to do this" not in text and "server error" not in text
    assert "THREECX_" not in text and "bot check" not in text and buttons(harness.cards()[0].blocks) == []
    # what an admin should check is in the audit line instead
    [failed] = [r.__dict__ for r in caplog.records if r.name == "bot.audit" and r.__dict__["to"] == "failed"]
    assert hint == "" or (hint is None and "to_check" not in failed) or hint in failed["to_check"][0]
    assert await executions(harness, request) == 1
    assert len(harness.pbx.calls("DELETE")) <= 3  # bounded
    await still_works(harness)


@pytest.mark.parametrize(("status", "says"), [(401, "3CX rejected the bot's login"), (500, "was unavailable")])
async def test_the_token_endpoint_failing(harness: Harness, status: int, says: str) -> None:
    harness.pbx.token_status = status

    _, response_url = await harness.command("42")
    await harness.settle()

    [note] = harness.notes(response_url)
    assert says in note and "Nothing was requested" in note
    assert harness.cards() == []
    harness.pbx.token_status = None
    await still_works(harness)


# Slack -----------------------------------------------------------------------------------------------------


@pytest.mark.long(8)
async def test_slack_unreachable_does_not_lose_the_decision(make_harness: MakeHarness, unused_tcp_port: int) -> None:
    harness = await make_harness()
    request = await harness.open_card()
    await harness.stop()
    harness.env["SLACK_API_URL"] = f"http://127.0.0.1:{unused_tcp_port}/api/"
    harness.env["SLACK_TEAM_ID"] = harness.slack.team_id  # so that it starts without asking Slack
    await harness.start()

    _, click_url = await harness.click(APPROVE, request, user=CAROL)
    await harness.settle()

    stored = await harness.stored(request)
    assert stored.state is State.UNBLOCKED and stored.decision.by == CAROL
    assert len(harness.pbx.calls("DELETE")) == 1
    # the card could not be edited through the Web API; the click's reply URL still worked
    assert "and it is unblocked" in block_text(harness.slack.posts_to(click_url)[-1].body["blocks"])


# Slack answering badly -----------------------------------------------------------------------------------------


APPROVALS = "C0APPROVALS"
DAVE = "UDAVE"  # an approver through the SHELPDESK user group


@pytest.fixture(autouse=True)
def _info_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)


def codes(caplog: pytest.LogCaptureFixture, method: str) -> set[str]:
    """The error codes logged for calls to ``method`` (or for calls that a log line does not name)."""
    return {str(r.error) for r in caplog.records if hasattr(r, "error") and getattr(r, "method", method) == method}


def texts(harness: Harness, channel: str) -> list[str]:
    return [block_text(m.blocks) or m.text for m in harness.cards(channel)]


BAD_ANSWER_CODES = [
    ("html_502", "http_502"),
    ("text_405", "http_405"),
    ("empty_200", "invalid_response"),
    ("broken_json_503", "http_503"),
    ("json_list_200", "invalid_response"),
    ("reset", "ServerDisconnectedError"),
]


@pytest.mark.parametrize(("how", "code"), [BAD_ANSWER_CODES[0], BAD_ANSWER_CODES[3]])
async def test_a_card_that_chat_post_message_does_not_take_is_told_and_leaves_nothing_open(
    harness: Harness, caplog: pytest.LogCaptureFixture, how: str, code: str
) -> None:
    """Whatever comes back (a proxy's page; a JSON-labelled page, which slack_sdk hands over as aiohttp's own
    response), the card's failure is told and nothing is left open."""
    harness.slack.answer_badly("chat.postMessage", how)

    reply, response_url = await harness.command("42")
    await harness.settle()

    assert reply.status == 200
    assert any(code in note for note in harness.notes(response_url))  # told, with what went wrong
    assert harness.cards() == [] and harness.pbx.calls("DELETE") == []
    assert harness.bot is not None and await harness.bot.store.count_pending() == 0
    assert codes(caplog, "chat.postMessage") == {code} and crashes(caplog) == []

    harness.slack.answer_well("chat.postMessage")
    request = await harness.open_card()  # asked again, it works
    assert request.state is State.PENDING


@pytest.mark.parametrize(("how", "code"), BAD_ANSWER_CODES)
async def test_no_link_to_the_card_still_tells_the_requester_the_channel_and_the_home_tab(
    make_harness: MakeHarness, caplog: pytest.LogCaptureFixture, how: str, code: str
) -> None:
    assert how in BAD_ANSWERS
    harness = await make_harness(UNBLOCK_APPROVAL_CHANNEL=APPROVALS)
    await harness.open_home(ALICE)
    harness.slack.answer_badly("chat.getPermalink", how)
    _, response_url = await harness.command("42 the lobby phone", channel=GENERAL)
    await harness.settle()
    [card] = harness.cards(APPROVALS)
    request = await harness.request_for(card)
    assert harness.notes(response_url)  # the requester is told where the card is, without a link
    published = len(harness.slack.calls_to("views.publish"))

    await harness.click(APPROVE, request, user=BOB)
    await harness.settle()

    assert [r.path for r in harness.pbx.calls("DELETE")] == ["/xapi/v1/Blocklist(42)"]
    [direct] = texts(harness, ALICE)
    [line] = texts(harness, GENERAL)
    assert "<@UBOB>" in direct and "<@UBOB>" in line and "https://" not in direct + line
    assert len(harness.slack.calls_to("views.publish")) > published  # her Home tab is drawn anew
    assert "<@UBOB>" in block_text(harness.slack.homes[ALICE]["blocks"])
    assert codes(caplog, "chat.getPermalink") == {code} and crashes(caplog) == []


@pytest.mark.parametrize("method", ["chat.update", "views.publish"])
async def test_a_user_group_slack_will_not_describe_approves_nobody_and_others_still_can(
    harness: Harness, caplog: pytest.LogCaptureFixture, method: str
) -> None:
    """Nor does a card's update or a Home tab that Slack does not take: the card's update is shown through the
    click's reply URL instead; a Home tab is left as it was."""
    harness.slack.answer_badly("usergroups.users.list")
    request = await harness.open_card()
    harness.slack.answer_badly(method)

    _, response_url = await harness.click(APPROVE, request, user=DAVE)
    await harness.settle()

    assert harness.slack.calls_to("usergroups.users.list")
    assert (await harness.stored(request)).state is State.PENDING and harness.pbx.calls("DELETE") == []
    assert harness.notes(response_url)  # Dave is told he may not approve (fail closed)

    if method == "chat.update":
        reply, response_url = await harness.click(APPROVE, request, user=BOB)
    else:
        reply = await harness.home_click(HOME_APPROVE, request, user=BOB)
    await harness.settle()

    assert reply.status == 200
    assert [r.path for r in harness.pbx.calls("DELETE")] == ["/xapi/v1/Blocklist(42)"]
    assert (await harness.stored(request)).state is State.UNBLOCKED
    if method == "chat.update":
        assert any("<@UBOB>" in shown and "203.0.113.7" in shown for shown in harness.shown(response_url))
    else:
        assert "<@UBOB>" in texts(harness, GENERAL)[0]  # the card shows who approved
        assert harness.slack.calls_to("views.publish") and harness.slack.homes == {}
    [direct] = texts(harness, ALICE)  # the requester is still told
    assert "<@UBOB>" in direct
    assert codes(caplog, "usergroups.users.list") == codes(caplog, method) == {"http_502"} and crashes(caplog) == []


async def test_a_card_that_the_reply_url_does_not_take_leaves_nothing_open(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    harness.slack.not_in_channel.add(GENERAL)  # the card can only go through the command's reply URL
    harness.slack.answer_badly("response_url")

    reply, response_url = await harness.command("42")
    await harness.settle()

    assert reply.status == 200
    assert harness.slack.posts_to(response_url) == [] and harness.pbx.calls("DELETE") == []  # nothing got through
    assert harness.bot is not None and await harness.bot.store.count_pending() == 0
    assert codes(caplog, "response_url") == {"http_502"} and crashes(caplog) == []

    harness.slack.answer_well("response_url")
    _, again = await harness.command("42")
    await harness.settle()
    assert len(harness.slack.posts_to(again)) == 1 and "203.0.113.7" in harness.shown(again)[0]


async def test_auth_test_answered_by_a_proxy_stops_the_start_with_one_sentence(
    slack: FakeSlack, pbx: FakeThreeCX, tmp_path: Path
) -> None:
    settings = load_settings(base_env(slack, pbx, str(tmp_path / "unblock.db")))
    slack.answer_badly("auth.test")

    with pytest.raises(StartupError) as stopped:
        await start_bot(settings)

    assert "(auth.test: http_502)" in str(stopped.value) and "<html" not in str(stopped.value)
    slack.answer_well("auth.test")
    bot = await start_bot(settings)
    await bot.close()


@pytest.mark.parametrize("method", ["auth.test", "conversations.info"])
async def test_check_names_what_a_proxy_answered_and_goes_on_to_3cx(
    slack: FakeSlack, pbx: FakeThreeCX, tmp_path: Path, method: str
) -> None:
    env = base_env(slack, pbx, str(tmp_path / "unblock.db"))
    env["UNBLOCK_APPROVAL_CHANNEL"] = APPROVALS
    slack.answer_badly(method)
    lines: list[str] = []

    passed = await preflight(load_settings(env), Redactor(), lines.append)

    assert not passed
    [failed] = [line for line in lines if line.startswith("FAIL")]
    assert f"{method} " in failed or "approvals channel" in failed
    assert "http_502" in failed and "<html" not in "".join(lines)
    assert any(line.startswith("ok") and "3CX" in line for line in lines)  # the 3CX checks still ran


# hosts that cannot be reached -----------------------------------------------------------------------------------


class NoNames(AbstractResolver):
    """A resolver that knows no name and asks nobody: every host name fails as an unknown one does, and no DNS query
    leaves the machine (addresses such as 127.0.0.1 are never given to a resolver)."""

    def __init__(self, *, loop: object = None) -> None:
        pass

    async def resolve(self, host: str, port: int = 0, family: int = socket.AF_INET) -> list[ResolveResult]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    async def close(self) -> None:
        pass


async def test_hosts_that_cannot_be_reached_stop_the_start_and_fail_check_naming_what_to_check(
    slack: FakeSlack, pbx: FakeThreeCX, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(aiohttp.connector, "DefaultResolver", NoNames)
    where = f"127.0.0.1:{free_port()}"  # Slack: nobody listens; 3CX: a name nobody knows
    env = base_env(slack, pbx, str(tmp_path / "unblock.db"))
    env.update(SLACK_API_URL=f"http://{where}/api/", THREECX_BASE_URL="https://pbx.unknown.test")
    settings = load_settings(env)
    lines: list[str] = []

    with pytest.raises(StartupError) as stopped:
        await start_bot(settings)
    assert not await preflight(settings, Redactor(), lines.append)

    unreached = (
        f"{where} could not be reached (connection refused). Check the DNS, that no firewall stops this machine "
        f"from making outbound HTTPS connections to {where}, and HTTPS_PROXY in the environment if it must use a proxy"
    )
    assert str(stopped.value) == unreached and f"FAIL Slack: {unreached}." in lines
    assert (
        "FAIL 3CX at https://pbx.unknown.test: no access token (the PBX pbx.unknown.test could not be reached: its "
        "name could not be resolved). Check the host in THREECX_BASE_URL, the DNS, and that no firewall stops this "
        "machine from reaching pbx.unknown.test over HTTPS." in lines
    )
    assert slack.calls == [] and pbx.requests == []
