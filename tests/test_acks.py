"""A fault in the bot while it answers a command is told in a sentence and logged, never a 5xx: the listener on
its own, called as Bolt calls it (what it acknowledges otherwise is proven end to end)."""

from __future__ import annotations

import logging
from unittest.mock import AsyncMock, Mock

import pytest
from slack_bolt.async_app import AsyncBoltContext

from bot.slack.listeners import command
from bot.slack.use_cases import UseCases
from bot.slack.views import notes as say

COMMAND = {
    "command": "/unblock",
    "team_id": "T1",
    "user_id": "UALICE",
    "channel_id": "C0GENERAL",
    "text": "42 VPN",
    "trigger_id": "t-1",
    "response_url": "https://hooks.slack.com/commands/T1/1/x",
}


async def test_a_fault_in_the_bot_is_told_in_a_sentence_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    use_cases, ack = Mock(spec=UseCases), AsyncMock()
    use_cases.command.side_effect = KeyError("a bug")

    await command(ack=ack, command=COMMAND, context=AsyncBoltContext({"use_cases": use_cases}))

    ack.assert_awaited_once_with(say.FAULT)
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR] == [
        "a Slack request could not be handled"
    ]
