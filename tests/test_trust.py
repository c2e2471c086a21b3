"""Trust: every way in, every race and every crash. Each test sends what an attacker, a careless
client or Slack itself could send, and checks what people see and what 3CX received."""

from __future__ import annotations

import asyncio
import json
import logging
from urllib.parse import urlencode

import pytest

from .conftest import MakeHarness
from .harness import Harness

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
