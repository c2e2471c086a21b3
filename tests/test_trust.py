"""Trust: every way in, every race and every crash. Each test sends what an attacker, a careless
client or Slack itself could send, and checks what people see and what 3CX received."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from urllib.parse import urlencode

import pytest

from bot.slack.buttons import APPROVE, UNDO

from .conftest import MakeHarness
from .fakes.slack import FakeSlack
from .fakes.threecx import FakeThreeCX
from .harness import BOB, CAROL, Harness, block_text, buttons, wait_for
from .processes import BotProcess, start_http_bot

# bad input gets an answer, never a 500 --------------------------------------------------------------


def _click_without_actions() -> str:
    return urlencode({"payload": json.dumps({"type": "block_actions", "user": {"id": "UMALLORY"}, "actions": []})})


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("payload=%7B", "application/x-www-form-urlencoded"),
        ("payload=null", "application/x-www-form-urlencoded"),
        ("payload=%5B%5D", "application/x-www-form-urlencoded"),
        ("payload=%22text%22", "application/x-www-form-urlencoded"),
        (_click_without_actions(), "application/x-www-form-urlencoded"),
        ("", "application/x-www-form-urlencoded"),
        (json.dumps({"command": "/unblock", "text": "42", "user_id": "UALICE"}), "application/json"),
        ("[]", "application/json"),
        ("command=/unblock&text=42", "text/plain"),
    ],
    ids=["broken JSON", "null", "list", "string", "click without actions", "empty", "form as JSON", "JSON list",
         "text/plain"],
)  # fmt: skip
async def test_signed_but_malformed_bodies_get_a_400_and_one_log_line(
    harness: Harness, caplog: pytest.LogCaptureFixture, body: str, content_type: str
) -> None:
    caplog.set_level(logging.INFO)

    reply = await harness.post_signed(body, headers={"Content-Type": content_type})
    await harness.settle()

    assert reply.status == 400
    refusals = [r for r in caplog.records if r.name == "bot.server"]
    assert len(refusals) == 1 and "Slack would not send" in refusals[0].getMessage()
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert harness.pbx.requests == [] and harness.slack.response_posts == []


async def _open(harness: Harness) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    host, port = harness.url.removeprefix("http://").split(":")
    return await asyncio.open_connection(host, int(port))


async def _closed_by_the_bot(reader: asyncio.StreamReader, *, within: float = 15.0) -> bytes:
    """Everything the bot sent until it closed the connection (fails if it never does)."""
    return await asyncio.wait_for(reader.read(), within)


@pytest.mark.parametrize("how", ["idle", "half-sent headers", "slow body"])
async def test_slow_clients_are_cut_off(make_harness: MakeHarness, how: str) -> None:
    harness = await make_harness(HTTP_READ_TIMEOUT="1")
    reader, writer = await _open(harness)
    if how == "half-sent headers":
        writer.write(b"POST /slack/events HTTP/1.1\r\nHost: bot\r\n")
    elif how == "slow body":
        writer.write(b"POST /slack/events HTTP/1.1\r\nHost: bot\r\nContent-Length: 100\r\n\r\n0123456789")

    async def dribble() -> None:
        while not reader.at_eof():
            writer.write(b"X")  # one byte at a time: still never a whole request
            await asyncio.sleep(0.2)

    dribbling = asyncio.create_task(dribble()) if how == "half-sent headers" else None
    answer = await _closed_by_the_bot(reader)
    if dribbling is not None:
        dribbling.cancel()
    writer.close()

    assert answer.startswith(b"HTTP/1.1 408") if how == "slow body" else answer == b""
    assert harness.pbx.requests == []


async def test_connections_over_the_cap_are_refused_and_the_bot_still_answers(make_harness: MakeHarness) -> None:
    harness = await make_harness(HTTP_MAX_CONNECTIONS="5", HTTP_READ_TIMEOUT="2")
    held = [await _open(harness) for _ in range(5)]
    await asyncio.sleep(0.1)

    reader, writer = await _open(harness)
    refused = await _closed_by_the_bot(reader)
    writer.close()
    for _, held_writer in held:
        held_writer.close()
    await asyncio.gather(*(_closed_by_the_bot(held_reader) for held_reader, _ in held))
    reply, _ = await harness.command("help")

    assert refused.startswith(b"HTTP/1.1 503")
    assert reply.status == 200 and "Ask for a 3CX block to be lifted" in reply.message


# recovery tells the truth even when 3CX was still working -----------------------------------------------


async def _killed_while_3cx_works(
    pbx: FakeThreeCX, first: BotProcess, driver: Harness, action: str, method: str, request_id: str, *, applied: bool
) -> None:
    """Click ``action``; 3CX takes 4 s to carry out the call (or, unless ``applied``, refuses it after 4 s);
    the bot is killed as soon as the call has arrived."""
    calls = len(pbx.calls(method))
    pbx.delay = 4.0
    if not applied:
        pbx.fail_next(503, method=method)
    await driver.click(action, request_id, user=BOB if action == APPROVE else CAROL)
    await wait_for(lambda: len(pbx.calls(method)) > calls, what=f"the {method} to reach 3CX")
    first.kill()  # SIGKILL: no chance to finish anything
    await first.wait()
    pbx.delay = 0  # the call already under way keeps its 4 s


@pytest.mark.parametrize("applied", [True, False], ids=["3CX applied it after the kill", "3CX refused it"])
async def test_a_delete_under_way_when_the_bot_was_killed_is_finished_truthfully_after_a_restart(
    processes: list[BotProcess], slack: FakeSlack, pbx: FakeThreeCX, tmp_path: Path, applied: bool
) -> None:
    first, driver = await start_http_bot(processes, slack, pbx, tmp_path, THREECX_TIMEOUT="1")
    await driver.command("42")
    await wait_for(lambda: driver.cards(), what="the card")
    request_id = str(buttons(driver.cards()[0].blocks)[0]["value"])

    await _killed_while_3cx_works(pbx, first, driver, APPROVE, "DELETE", request_id, applied=applied)
    second, driver = await start_http_bot(processes, slack, pbx, tmp_path, THREECX_TIMEOUT="1")  # at once
    await wait_for(lambda: "Unblocking" not in block_text(driver.cards()[0].blocks), timeout=60, what="the card")
    assert await second.stop() == 0

    # it waited until 3CX must have finished, then looked: the removal was sent again only if it had not happened
    assert len(pbx.calls("DELETE")) == (1 if applied else 2)
    assert 42 not in pbx.entries
    text = block_text(driver.cards()[0].blocks)
    assert "203.0.113.7 unblocked* by <@UBOB>" in text and "finished after a restart of the bot" in text
    assert [b["action_id"] for b in buttons(driver.cards()[0].blocks)] == [UNDO]  # its Undo window like any other


@pytest.mark.parametrize("applied", [True, False], ids=["3CX applied it after the kill", "3CX refused it"])
async def test_an_undo_under_way_when_the_bot_was_killed_adds_the_entry_back_once(
    processes: list[BotProcess], slack: FakeSlack, pbx: FakeThreeCX, tmp_path: Path, applied: bool
) -> None:
    first, driver = await start_http_bot(processes, slack, pbx, tmp_path, THREECX_TIMEOUT="1")
    await driver.command("42")
    await wait_for(lambda: driver.cards(), what="the card")
    request_id = str(buttons(driver.cards()[0].blocks)[0]["value"])
    await driver.click(APPROVE, request_id, user=BOB)
    await wait_for(lambda: "unblocked" in block_text(driver.cards()[0].blocks), what="the unblock")

    await _killed_while_3cx_works(pbx, first, driver, UNDO, "POST", request_id, applied=applied)
    second, driver = await start_http_bot(processes, slack, pbx, tmp_path, THREECX_TIMEOUT="1")
    await wait_for(lambda: "blocked again" in block_text(driver.cards()[0].blocks), timeout=60, what="the card")
    assert await second.stop() == 0

    assert len(pbx.calls("POST", "/xapi/v1/Blocklist")) == (1 if applied else 2)
    assert [e["IPAddrMask"] for e in pbx.entries.values()] == ["203.0.113.7"]  # back, and only once
    assert "finished after a restart of the bot" in block_text(driver.cards()[0].blocks)
