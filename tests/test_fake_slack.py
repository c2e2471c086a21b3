"""The Slack fake, exercised through the real slack_sdk clients."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

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
async def test_post_and_update_message_with_blocks(fake: FakeSlack) -> None:
    client = web_client(fake)

    first = await client.chat_postMessage(channel="C1", text="approve?", blocks=CARD)
    second = await client.chat_postMessage(channel="C1", text="again?", blocks=CARD)
    # A form body carries blocks as a JSON string; the fake decodes it.
    await client.api_call("chat.update", data={"channel": "C1", "ts": first["ts"], "blocks": json.dumps(DONE)})

    assert (first["ts"], second["ts"]) == ("1700000000.000100", "1700000000.000200")
    [post, _, update] = fake.calls
    assert post.method == "chat.postMessage"
    assert post.token == fake.bot_token
    assert post.args["blocks"] == CARD
    assert update.args["blocks"] == DONE
    message = fake.messages[("C1", first["ts"])]
    assert (message.text, message.blocks, message.updates) == ("approve?", DONE, 1)
    assert [m.ts for m in fake.channel_messages("C1")] == [first["ts"], second["ts"]]


@pytest.mark.asyncio
async def test_other_methods(fake: FakeSlack) -> None:
    client = web_client(fake)
    fake.usergroups["S1"] = ["U1", "U2"]

    auth = await client.auth_test()
    users = await client.usergroups_users_list(usergroup="S1")
    ephemeral = await client.chat_postEphemeral(channel="C1", user="U1", text="only you")

    assert (auth["user_id"], auth["team_id"]) == (fake.bot_user_id, fake.team_id)
    assert users["users"] == ["U1", "U2"]
    assert ephemeral["message_ts"]
    assert fake.calls_to("usergroups.users.list")[0].args == {"usergroup": "S1"}


@pytest.mark.asyncio
async def test_errors_surface_as_slack_api_error(fake: FakeSlack) -> None:
    fake.not_in_channel.add("C2")
    fake.fail_next("auth.test", "account_inactive")

    with pytest.raises(SlackApiError) as not_in_channel:
        await web_client(fake).chat_postMessage(channel="C2", text="hi")
    with pytest.raises(SlackApiError) as failed:
        await web_client(fake).auth_test()
    with pytest.raises(SlackApiError) as bad_token:
        await AsyncWebClient(token="xoxb-wrong", base_url=fake.api_url).auth_test()
    with pytest.raises(SlackApiError) as no_group:
        await web_client(fake).usergroups_users_list(usergroup="S404")

    assert not_in_channel.value.response["error"] == "not_in_channel"
    assert failed.value.response["error"] == "account_inactive"
    assert bad_token.value.response["error"] == "invalid_auth"
    assert no_group.value.response["error"] == "no_such_subteam"
    assert len(fake.calls) == 4
    assert fake.messages == {}


@pytest.mark.asyncio
async def test_rate_limited_call_is_retried(fake: FakeSlack) -> None:
    fake.rate_limit_next("chat.postMessage", retry_after=0)
    client = web_client(fake, retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=1)])

    response = await client.chat_postMessage(channel="C1", text="hi")

    assert response["ok"]
    assert len(fake.calls_to("chat.postMessage")) == 2
    assert len(fake.channel_messages("C1")) == 1


@pytest.mark.asyncio
async def test_webhook_client_posts_to_response_url(fake: FakeSlack) -> None:
    url = fake.new_response_url()
    fake.fail_response_urls(500)

    failed = await AsyncWebhookClient(url).send(text="first")
    sent = await AsyncWebhookClient(url).send(text="Approved", blocks=DONE, replace_original=True)
    unknown = await AsyncWebhookClient(fake.new_response_url() + "0").send(text="lost")

    assert (failed.status_code, sent.status_code, sent.body, unknown.status_code) == (500, 200, "ok", 404)
    assert [p.body for p in fake.posts_to(url)] == [
        {"text": "first"},
        {"text": "Approved", "blocks": DONE, "replace_original": True},
    ]


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
