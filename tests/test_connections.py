"""The limits of the HTTP listener, which come from aiohttp's settings: beyond ``HTTP_MAX_CONNECTIONS`` open
connections a new one is answered 503 and closed, and a kept-alive connection that sends nothing is closed after
``HTTP_READ_TIMEOUT`` seconds, so idle clients hold the cap only that long; idle, half-sent and slow requests are
cut off, and a connection sending a request in time is answered. What one client may hold is the reverse proxy's to
limit (the install guide)."""

from __future__ import annotations

import asyncio
import re
import time

import pytest

from .conftest import MakeHarness
from .harness import Harness, sign

Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def _open(harness: Harness) -> Connection:
    host, port = harness.url.removeprefix("http://").split(":")
    return await asyncio.open_connection(host, int(port))


async def _answer(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    """One whole answer: its head (status line and headers) and its body."""
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    length = re.search(rb"(?i)content-length: *(\d+)", head)
    return head, await reader.readexactly(int(length.group(1)) if length else 0)


async def _kept_alive(harness: Harness) -> Connection:
    """A connection that has asked for ``/healthz``, had its answer, and is kept open, idle."""
    reader, writer = await _open(harness)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: bot\r\n\r\n")
    head, _ = await _answer(reader)
    assert head.startswith(b"HTTP/1.1 200") and b"close" not in head.lower()
    return reader, writer


async def test_idle_connections_at_the_cap_are_closed_after_the_read_timeout_and_slack_gets_in(
    make_harness: MakeHarness,
) -> None:
    harness = await make_harness(HTTP_MAX_CONNECTIONS="3", HTTP_READ_TIMEOUT="1")
    idle = [await _kept_alive(harness) for _ in range(3)]

    refused, writer = await _open(harness)
    assert (await asyncio.wait_for(refused.read(), 5)).startswith(b"HTTP/1.1 503")
    writer.close()
    closed = await asyncio.wait_for(asyncio.gather(*(reader.read() for reader, _ in idle)), 5)
    reply, _ = await harness.command("42")
    await harness.settle()

    assert closed == [b"", b"", b""]  # closed by the bot, after nothing came for a second
    assert reply.status == 200 and len(harness.cards()) == 1
    for _, idle_writer in idle:
        idle_writer.close()


@pytest.mark.parametrize("how", ["idle", "half-sent headers", "slow body"])
async def test_slow_clients_are_cut_off(make_harness: MakeHarness, how: str) -> None:
    harness = await make_harness(HTTP_READ_TIMEOUT="0.5")
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
    if how == "slow body":  # answered at once, to be closed (aiohttp then lingers on the unread body a while)
        answer, _ = await _answer(reader)
        assert answer.startswith(b"HTTP/1.1 408") and b"connection: close" in answer.lower()
    else:  # everything the bot sent until it closed the connection
        assert await asyncio.wait_for(reader.read(), 15) == b""
    if dribbling is not None:
        dribbling.cancel()
    writer.close()

    assert harness.pbx.requests == []


async def test_a_request_sent_in_parts_within_the_read_timeout_is_answered(make_harness: MakeHarness) -> None:
    harness = await make_harness(HTTP_READ_TIMEOUT="2")
    body, _ = harness.command_body("42")
    timestamp = str(int(time.time()))
    reader, writer = await _open(harness)
    writer.write(b"POST /slack/events HTTP/1.1\r\nHost: bot\r\n")
    await asyncio.sleep(0.5)

    writer.write(
        b"Content-Type: application/x-www-form-urlencoded\r\n"
        + f"X-Slack-Request-Timestamp: {timestamp}\r\nX-Slack-Signature: {sign(body, timestamp)}\r\n".encode()
        + f"Content-Length: {len(body.encode())}\r\n\r\n".encode()
    )
    await asyncio.sleep(0.5)
    writer.write(body.encode())
    head, _ = await _answer(reader)
    await harness.settle()

    assert head.startswith(b"HTTP/1.1 200")
    assert len(harness.cards()) == 1
    writer.close()
