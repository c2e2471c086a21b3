"""The Bolt listeners (of ``/unblock``, the clicks, the forms and the events): each acknowledges Slack, turns the
payload into a small typed value and calls one use case (``bot.slack.use_cases``). The use cases reach the
listeners through Bolt's context (``bot.slack.admission`` puts them there, after admitting the request), so a
listener can be called directly in a test with a mock ``ack`` and a context holding them.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.authorization.async_authorize import AsyncAuthorize

from . import shortcuts
from .answering import Asker, asker_of
from .buttons import (
    ALLOW_FOR,
    ALLOW_ONLY,
    APPROVE_ALLOW,
    BURST_LIST,
    BURST_UNBLOCKED,
    CHOOSE,
    DECISION_BUTTONS,
    HOME_APPROVE,
    HOME_DENY,
    LIST_MORE,
    REQUEST_ENTRY,
    AllowButton,
    BurstButton,
    ChoiceButton,
    EntryButton,
    PageButton,
    RequestButton,
)
from .ids import USER_ID
from .use_cases import UseCases, use_cases_of
from .views import notes as say

log = logging.getLogger(__name__)

Payload = dict[str, Any]
#: the one command the bot has (the app's manifest names it)
COMMAND = "/unblock"


def register(app: AsyncApp) -> None:
    """Listen for the bot's command, buttons, forms and events."""
    app.command(re.compile("."))(command)
    for action_id in DECISION_BUTTONS:
        app.action(action_id)(decision_click)
    for action_id in (HOME_APPROVE, HOME_DENY):
        app.action(action_id)(home_click)
    app.action(ALLOW_FOR)(duration_choice)
    for action_id in BUTTONS:
        app.action(action_id)(button_click)
    app.event("app_home_opened")(home_opened)
    shortcuts.register(app)  # the shortcuts and their form


async def command(ack: AsyncAck, command: Payload, context: AsyncBoltContext) -> None:
    """``/unblock``: acknowledged with what the use case says (which only the person who typed it sees)."""
    if command["command"] != COMMAND:
        log.info("refused a slash command the bot does not have", extra={"command": command["command"][:32]})
        await ack(say.UNKNOWN_COMMAND)
        return
    delivery = command.get("trigger_id") or ""  # what Slack keeps the same across its retries
    asker = Asker(command["user_id"], command["channel_id"], command.get("response_url"), delivery)
    try:
        answer = use_cases_of(context).command(command.get("text") or "", asker)
    except Exception as error:  # a fault of the bot's: the person is told, and the bot goes on
        log.exception("a Slack request could not be handled", extra={"error": type(error).__name__})
        answer = say.FAULT
    await ack(answer or "")


async def decision_click(ack: AsyncAck, body: Payload, action: Payload, context: AsyncBoltContext) -> None:
    await ack()
    action_id, value = str(action["action_id"]), str(action.get("value") or "")
    button = AllowButton.decode(value) if action_id in (APPROVE_ALLOW, ALLOW_ONLY) else RequestButton.decode(value)
    use_cases_of(context).decide(action_id, button, asker_of(body))


async def home_click(ack: AsyncAck, body: Payload, action: Payload, context: AsyncBoltContext) -> None:
    """**Approve** or **Deny** in the bot's Home tab."""
    await ack()
    button = RequestButton.decode(str(action.get("value") or ""))
    asker = replace(asker_of(body), channel="", response_url=None, home=True)
    use_cases_of(context).decide(str(action["action_id"]), button, asker)


async def duration_choice(ack: AsyncAck, body: Payload, action: Payload, context: AsyncBoltContext) -> None:
    """Another duration chosen beside **Approve and allow**."""
    await ack()
    value = str((action.get("selected_option") or {}).get("value") or "")
    use_cases_of(context).choose_duration(AllowButton.decode(value), asker_of(body))


async def home_opened(event: Payload, context: AsyncBoltContext) -> None:
    """Someone opened the bot's Home tab (not its Messages tab)."""
    user = event.get("user")
    if event.get("tab") == "home" and isinstance(user, str) and USER_ID.match(user):
        use_cases_of(context).home_opened(user)


#: the other buttons: action id -> its value decoded and handed to its use case (checked by mypy, not by name)
BUTTONS: dict[str, Callable[[UseCases, str, Asker], None]] = {
    CHOOSE: lambda use_cases, value, asker: use_cases.choose(ChoiceButton.decode(value), asker),
    LIST_MORE: lambda use_cases, value, asker: use_cases.more(PageButton.decode(value), asker),
    REQUEST_ENTRY: lambda use_cases, value, asker: use_cases.request_entry(EntryButton.decode(value), asker),
    BURST_LIST: lambda use_cases, value, asker: use_cases.burst_list(BurstButton.decode(value), asker),
    BURST_UNBLOCKED: lambda use_cases, value, asker: use_cases.unblocked_list(BurstButton.decode(value), asker),
}


async def button_click(ack: AsyncAck, body: Payload, action: Payload, context: AsyncBoltContext) -> None:
    """**Unblock this**, **More**, **Request unblock**, **Show them all**: decoded, then their use case."""
    await ack()
    BUTTONS[str(action["action_id"])](use_cases_of(context), str(action.get("value") or ""), asker_of(body))


class OneWorkspace(AsyncAuthorize):
    """Bolt's authorization: the bot's one workspace and its one known token, so no ``auth.test`` round trip
    before the first ack, and requests are still acknowledged while Slack's Web API is unreachable (other
    workspaces are refused by ``bot.slack.admission``). A subclass of Bolt's, which Bolt calls as it is, where it
    would gather every argument an ``authorize`` function can ask for."""

    def __init__(self, token: str) -> None:
        self._token = token

    async def __call__(
        self,
        *,
        context: AsyncBoltContext,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None,
        actor_enterprise_id: str | None = None,
        actor_team_id: str | None = None,
        actor_user_id: str | None = None,
    ) -> AuthorizeResult:
        return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id, bot_token=self._token)
