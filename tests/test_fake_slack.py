"""The Slack fake, exercised through the real slack_sdk clients where the bot's own tests cannot show it is
faithful: its Socket Mode, and the limits it holds the bot to (what every other test asserts through it)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

from tests.fakes.slack import FakeSlack

CARD: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": "Unblock 203.0.113.7?"}}]
DONE: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": "Approved"}}]


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    slack = FakeSlack()
    await slack.start()
    yield slack
    await slack.close()


def web_client(fake: FakeSlack, **kwargs: Any) -> AsyncWebClient:
    return AsyncWebClient(token=fake.bot_token, base_url=fake.api_url, **kwargs)


@pytest.mark.asyncio
async def test_socket_mode_client_acks_envelopes_and_reconnects(fake: FakeSlack) -> None:
    async def ack(client: AsyncBaseSocketModeClient, request: SocketModeRequest) -> None:
        reply = SocketModeResponse(envelope_id=request.envelope_id, payload={"text": request.type})
        await client.send_socket_mode_response(reply)

    client = SocketModeClient(app_token=fake.app_token, web_client=web_client(fake), ping_interval=0.2)
    client.socket_mode_request_listeners.append(ack)
    try:
        await client.connect()  # type: ignore[no-untyped-call]
        await fake.wait_for_socket(timeout=2)
        first = await fake.send_envelope("slash_commands", {"command": "/unblock"}, timeout=2)

        await fake.drop_socket()
        await fake.wait_for_socket(timeout=3)
        second = await fake.send_envelope("interactive", {"type": "block_actions"}, timeout=2)
    finally:
        await client.close()  # type: ignore[no-untyped-call]

    assert first["payload"] == {"text": "slash_commands"}
    assert second["payload"] == {"text": "interactive"}
    assert fake.socket_opens == 2
    assert fake.calls_to("apps.connections.open")[0].token == fake.app_token


@pytest.mark.asyncio
async def test_messages_over_slacks_limits_are_refused_and_recorded(fake: FakeSlack) -> None:
    client = web_client(fake)
    too_long = [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}]
    too_many = [{"type": "divider"}] * 51
    field = [{"type": "section", "fields": [{"type": "mrkdwn", "text": "y" * 2001}]}]
    go = {"type": "button", "text": {"type": "plain_text", "text": "Go"}, "action_id": "a", "value": "v" * 2001}
    value = [{"type": "actions", "elements": [go]}]

    for blocks in (too_long, too_many, field, value):
        with pytest.raises(SlackApiError) as refused:
            await client.chat_postMessage(channel="C1", text="t", blocks=blocks)
        assert refused.value.response["error"] == "invalid_blocks"
    await client.chat_postMessage(channel="C1", text="t" * 4001, blocks=CARD)  # Slack takes it; the bot must not

    assert len(fake.violations) == 5 and fake.channel_messages("C1")[0].text == "t" * 4001
    fake.violations.clear()


@pytest.mark.asyncio
async def test_posting_faster_than_slack_allows_in_a_channel_is_answered_429(fake: FakeSlack) -> None:
    fake.limit_rate(per_second=1.0, burst=2)
    client = web_client(fake)

    await client.chat_postMessage(channel="C1", text="1", blocks=CARD)
    await client.chat_postMessage(channel="C1", text="2", blocks=CARD)
    with pytest.raises(SlackApiError) as limited:
        await client.chat_postMessage(channel="C1", text="3", blocks=CARD)
    await client.chat_postMessage(channel="C2", text="elsewhere", blocks=CARD)  # another channel, its own limit

    assert limited.value.response.status_code == 429 and limited.value.response.headers["Retry-After"] == "1"
    assert [(m, c) for m, c in fake.accepted] == [("chat.postMessage", "C1")] * 2 + [("chat.postMessage", "C2")]
