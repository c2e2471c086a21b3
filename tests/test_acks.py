"""Each request is acknowledged at once and handed to one use case: the listeners on their own, called as Bolt
calls them with a mock ``ack`` and mock use cases, and the admission before them, which refuses what comes from
another workspace."""

from __future__ import annotations

import logging
from unittest.mock import AsyncMock, Mock

import pytest
from slack_bolt.async_app import AsyncBoltContext
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from bot.slack.admission import Admission
from bot.slack.answering import Asker
from bot.slack.buttons import APPROVE, ChoiceButton, RequestButton
from bot.slack.listeners import button_click, command, decision_click
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


def click(action_id: str, value: str) -> tuple[dict[str, object], dict[str, object]]:
    action: dict[str, object] = {"action_id": action_id, "value": value}
    body: dict[str, object] = {
        "user": {"id": "UBOB"},
        "channel": {"id": "C0GENERAL"},
        "trigger_id": "t-2",
        "actions": [action],
        "response_url": "https://hooks.slack.com/actions/T1/2/y",
    }
    return body, action


def context_with(use_cases: Mock) -> AsyncBoltContext:
    return AsyncBoltContext({"use_cases": use_cases})


async def test_a_command_is_acknowledged_with_what_the_use_case_says() -> None:
    use_cases, ack = Mock(spec=UseCases), AsyncMock()
    use_cases.command.return_value = "Looking up blocklist entry 42 in 3CX…"

    await command(ack=ack, command=COMMAND, context=context_with(use_cases))

    use_cases.command.assert_called_once_with(
        "42 VPN", Asker("UALICE", "C0GENERAL", "https://hooks.slack.com/commands/T1/1/x", "t-1")
    )
    ack.assert_awaited_once_with("Looking up blocklist entry 42 in 3CX…")


async def test_a_command_with_nothing_to_say_is_acknowledged_empty() -> None:
    use_cases, ack = Mock(spec=UseCases), AsyncMock()
    use_cases.command.return_value = None

    await command(ack=ack, command=COMMAND, context=context_with(use_cases))

    ack.assert_awaited_once_with("")


async def test_a_command_the_bot_does_not_have_is_refused_and_does_nothing() -> None:
    use_cases, ack = Mock(spec=UseCases), AsyncMock()

    await command(ack=ack, command={**COMMAND, "command": "/block"}, context=context_with(use_cases))

    ack.assert_awaited_once_with(say.UNKNOWN_COMMAND)
    assert use_cases.mock_calls == []


@pytest.mark.parametrize(
    "fields", [{"team_id": "T2"}, {"user": {"id": "UALICE", "team_id": "T2"}}, {"team": {"id": "T2"}}]
)
async def test_a_command_from_another_workspace_is_refused_and_reaches_no_listener(fields: dict[str, object]) -> None:
    use_cases, listeners = Mock(spec=UseCases), AsyncMock()
    request = AsyncBoltRequest(body={**COMMAND, **fields}, mode="socket_mode")

    answer = await Admission(use_cases, "T1").async_process(req=request, resp=BoltResponse(status=200), next=listeners)

    assert answer is not None and (answer.status, answer.body) == (200, say.OTHER_WORKSPACE)
    assert listeners.await_count == 0 and use_cases.mock_calls == []


async def test_a_fault_in_the_bot_is_told_in_a_sentence_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    use_cases, ack = Mock(spec=UseCases), AsyncMock()
    use_cases.command.side_effect = KeyError("a bug")

    await command(ack=ack, command=COMMAND, context=context_with(use_cases))

    ack.assert_awaited_once_with(say.FAULT)
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR] == [
        "a Slack request could not be handled"
    ]


async def test_a_click_is_acked_first_and_its_button_decoded() -> None:
    use_cases = Mock(spec=UseCases)
    ack = AsyncMock()
    asker = Asker("UBOB", "C0GENERAL", "https://hooks.slack.com/actions/T1/2/y", "t-2")

    body, action = click(APPROVE, "0123456789abcdef")
    await decision_click(ack=ack, body=body, action=action, context=context_with(use_cases))
    body, action = click("unblock_choose", "not-a-choice")
    await button_click(ack=ack, body=body, action=action, context=context_with(use_cases))

    assert ack.await_count == 2
    use_cases.decide.assert_called_once_with(APPROVE, RequestButton("0123456789abcdef"), asker)
    use_cases.choose.assert_called_once_with(None, asker)  # a value the bot could not have made
    assert ChoiceButton.decode(ChoiceButton("0123456789abcdef", 3).encode()) == ChoiceButton("0123456789abcdef", 3)
