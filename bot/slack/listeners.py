"""The Bolt listeners (of the clicks, the forms and the events; ``/unblock`` is answered beside Bolt, by
``bot.slack.commands``): each acknowledges Slack, turns the payload into a small typed value and calls one
use case (``bot.slack.use_cases``). The use cases reach the listeners through Bolt's context, so a
listener can be called directly in a test with a mock ``ack`` and a context holding them.

One middleware runs first (``Admit``): it puts the use cases in the context, and lets through only
requests from the bot's own workspace (Slack Connect channels are shared with other companies).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.authorization.async_authorize import AsyncAuthorize
from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

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
from .commands import foreign_teams
from .ids import USER_ID
from .use_cases import UseCases, use_cases_of
from .views import notes as say

log = logging.getLogger(__name__)

Payload = dict[str, Any]


def register(app: AsyncApp, use_cases: UseCases, team_id: str) -> None:
    """Listen for the bot's buttons, forms and events, for the workspace ``team_id`` only."""
    app.use(Admit(use_cases, team_id))
    for action_id in DECISION_BUTTONS:
        app.action(action_id)(decision_click)
    for action_id in (HOME_APPROVE, HOME_DENY):
        app.action(action_id)(home_click)
    app.action(ALLOW_FOR)(duration_choice)
    for action_id in BUTTONS:
        app.action(action_id)(button_click)
    app.event("app_home_opened")(home_opened)
    shortcuts.register(app)  # the shortcuts and their form


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
    workspaces are refused by ``Admit``). A subclass of Bolt's, which Bolt calls as it is, where it would gather
    every argument an ``authorize`` function can ask for."""

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


class Admit(AsyncMiddleware):
    """The one middleware, before every listener. It lets through only what the server handed Bolt (an HTTP
    request whose signature the server checked, which it gives Bolt parsed, as Socket Mode does: Bolt's own
    check of the signature is off) and what Socket Mode brought; it refuses, with a private sentence and
    nothing else, whatever comes from another workspace or names none (the team a command or click was made
    in, and the team of the person who made it, must both be ``team_id``, and one of them must be given);
    and it puts the use cases in the context, where the listeners find them.

    A class rather than a function: Bolt hands a class its request as it is, where it would build every
    argument a listener can ask for before calling a function."""

    def __init__(self, use_cases: UseCases, team_id: str) -> None:
        self._use_cases = use_cases
        self._team_id = team_id

    async def async_process(
        self, *, req: AsyncBoltRequest, resp: BoltResponse, next: Callable[[], Awaitable[BoltResponse]]
    ) -> BoltResponse | None:
        if req.mode == "http":  # not from the server: nobody checked its signature
            log.warning("refused a Slack request whose signature was not checked")
            return BoltResponse(status=401, body=json.dumps({"error": "invalid request"}))
        body = req.body
        req.context["use_cases"] = self._use_cases
        others = foreign_teams(body, self._team_id)
        if others is None:
            return await next()
        log.info("refused a request from another workspace, or from none", extra={"teams": others})
        container = body.get("container")
        if "event" in body or (isinstance(container, dict) and container.get("type") == "view") or _no_reply_url(body):
            return BoltResponse(status=200, body="")  # nobody to answer
        self._use_cases.tell_soon(asker_of(body), say.OTHER_WORKSPACE)
        return BoltResponse(status=200, body="")


def _no_reply_url(body: dict[str, Any]) -> bool:
    """A form's submission, or a shortcut that is not on a message: nothing to answer through."""
    return body.get("type") in ("view_submission", "shortcut")
