"""The Slack fake, exercised through the real slack_sdk client where the bot's own tests cannot show it is
faithful: the limits it holds the bot to (what every other test asserts through it). Its Socket Mode is used
by the bot's own tests (test_main.py, test_shapes.py, test_shortcuts.py)."""

from __future__ import annotations

from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from tests.fakes.slack import FakeSlack

CARD: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": "Unblock 203.0.113.7?"}}]


async def test_messages_over_slacks_limits_are_refused_and_recorded(slack: FakeSlack) -> None:
    client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
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

    assert len(slack.violations) == 5 and slack.channel_messages("C1")[0].text == "t" * 4001
    slack.violations.clear()


async def test_posting_faster_than_slack_allows_in_a_channel_is_answered_429(slack: FakeSlack) -> None:
    slack.limit_rate(per_second=1.0, burst=2)
    client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)

    await client.chat_postMessage(channel="C1", text="1", blocks=CARD)
    await client.chat_postMessage(channel="C1", text="2", blocks=CARD)
    with pytest.raises(SlackApiError) as limited:
        await client.chat_postMessage(channel="C1", text="3", blocks=CARD)
    await client.chat_postMessage(channel="C2", text="elsewhere", blocks=CARD)  # another channel, its own limit

    assert limited.value.response.status_code == 429 and limited.value.response.headers["Retry-After"] == "1"
    assert slack.accepted == [("chat.postMessage", "C1")] * 2 + [("chat.postMessage", "C2")]
