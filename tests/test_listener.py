"""The cap on open connections (``HTTP_MAX_CONNECTIONS``): when it is reached, a kept-alive connection that
waits for its next request is closed to make room, so idle clients cannot lock Slack out; a connection that
is sending a request is never the one closed."""

from __future__ import annotations

import asyncio
import re
import time

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


async def _closed(connection: Connection) -> bool:
    """Whether the bot has closed the connection; else it answers one more request on it."""
    reader, writer = connection
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: bot\r\n\r\n")
    try:
        head, _ = await _answer(reader)
    except (asyncio.IncompleteReadError, ConnectionError):
        return True
    return not head.startswith(b"HTTP/1.1 200")


def _close_all(connections: list[Connection]) -> None:
    for _, writer in connections:
        writer.close()


async def test_idle_connections_at_the_cap_make_room_for_slack(make_harness: MakeHarness) -> None:
    harness = await make_harness(HTTP_MAX_CONNECTIONS="3", HTTP_READ_TIMEOUT="10")
    idle = [await _kept_alive(harness) for _ in range(3)]

    reply, _ = await harness.command("42")
    await harness.settle()

    assert reply.status == 200
    [card] = harness.cards()
    assert "203.0.113.7" in card.text
    assert [await _closed(connection) for connection in idle] == [True, False, False]  # the one idle the longest
    _close_all(idle)


async def test_a_connection_sending_a_request_is_not_the_one_closed(make_harness: MakeHarness) -> None:
    harness = await make_harness(HTTP_MAX_CONNECTIONS="3", HTTP_READ_TIMEOUT="10")
    body, _ = harness.command_body("42")
    timestamp = str(int(time.time()))
    sending = await _open(harness)  # the oldest: it has sent half of its request
    sending[1].write(b"POST /slack/events HTTP/1.1\r\nHost: bot\r\n")
    await sending[1].drain()
    idle = [await _kept_alive(harness) for _ in range(2)]

    newcomer = await _kept_alive(harness)  # served: room was made
    sending[1].write(
        b"Content-Type: application/x-www-form-urlencoded\r\n"
        + f"X-Slack-Request-Timestamp: {timestamp}\r\nX-Slack-Signature: {sign(body, timestamp)}\r\n".encode()
        + f"Content-Length: {len(body.encode())}\r\n\r\n".encode()
        + body.encode()
    )
    head, _ = await _answer(sending[0])
    await harness.settle()

    assert head.startswith(b"HTTP/1.1 200")  # the half-sent request was kept, finished and answered
    assert len(harness.cards()) == 1
    assert [await _closed(connection) for connection in idle] == [True, False]
    _close_all([sending, *idle, newcomer])
