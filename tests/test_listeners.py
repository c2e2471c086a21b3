"""The listeners on their own, called as Bolt calls them, with a mock ``ack`` and mock use cases: each
turns a payload into a small typed value and calls one use case."""

from __future__ import annotations

from unittest.mock import AsyncMock, Mock

from slack_bolt.async_app import AsyncBoltContext

from bot.slack.answering import Asker
from bot.slack.buttons import APPROVE, ChoiceButton, RequestButton
from bot.slack.listeners import button_click, decision_click, unblock_command
from bot.slack.use_cases import UseCases

COMMAND = {"user_id": "UALICE", "channel_id": "C0GENERAL", "text": "42 VPN", "trigger_id": "t-1",
           "response_url": "https://hooks.slack.com/commands/T1/1/x"}  # fmt: skip


def click(action_id: str, value: str) -> tuple[dict[str, object], dict[str, object]]:
    action: dict[str, object] = {"action_id": action_id, "value": value}
    body: dict[str, object] = {
        "user": {"id": "UBOB"}, "channel": {"id": "C0GENERAL"}, "trigger_id": "t-2", "actions": [action],
        "response_url": "https://hooks.slack.com/actions/T1/2/y",
    }  # fmt: skip
    return body, action


def context_with(use_cases: Mock) -> AsyncBoltContext:
    return AsyncBoltContext({"use_cases": use_cases})


async def test_the_command_listener_acks_with_what_the_use_case_says() -> None:
    use_cases = Mock(spec=UseCases)
    use_cases.command.return_value = "Looking up blocklist entry 42 in 3CX…"
    ack = AsyncMock()

    await unblock_command(ack=ack, command=COMMAND, context=context_with(use_cases))

    use_cases.command.assert_called_once_with(
        "42 VPN", Asker("UALICE", "C0GENERAL", "https://hooks.slack.com/commands/T1/1/x", "t-1")
    )
    ack.assert_awaited_once_with(text="Looking up blocklist entry 42 in 3CX…")


async def test_a_command_with_nothing_to_say_is_acked_empty() -> None:
    use_cases = Mock(spec=UseCases)
    use_cases.command.return_value = None
    ack = AsyncMock()

    await unblock_command(ack=ack, command=COMMAND, context=context_with(use_cases))

    ack.assert_awaited_once_with()


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
