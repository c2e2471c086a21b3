"""The Bolt listeners (of ``/unblock``, the clicks, the forms and the events): each acknowledges Slack, turns the
payload into a small typed value and calls one use case (``bot.slack.use_cases``) of the PBX it is for. The PBXes
served (``bot.slack.fleet``) reach the listeners through Bolt's context (``bot.slack.admission`` puts them there,
after admitting the request), so a listener can be called directly in a test with a mock ``ack`` and a context
holding them.

The shortcuts: **Request an unblock** (global) and **Unblock an address in this message** (on a message), and
the form (a modal) both open. A good submission goes on exactly as ``/unblock`` would; one that cannot be used is
answered on the field it concerns (``response_action: errors``, read by ``bot.slack.submission``), before
anything is sent to 3CX or recorded.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping
from functools import partial
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.authorization.async_authorize import AsyncAuthorize
from slack_sdk.web.async_client import AsyncWebClient

from . import clicks
from .answers import Asker, Work, asker_of
from .failures import counted
from .fleet import Fleet
from .ids import USER_ID
from .submission import CHANNEL, check_submission, metadata
from .text_search import unblockable
from .use_cases import UseCases
from .views import modal as form
from .views import notes as say
from .views.notes import refusal as words

log = logging.getLogger(__name__)

Payload = dict[str, Any]
#: the one command the bot has (the app's manifest names it)
COMMAND = "/unblock"


def register(app: AsyncApp) -> None:
    """Listen for the bot's command, buttons, forms and events."""
    app.command(re.compile("."))(command)
    for action_id in clicks.CLICKS:
        app.action(action_id)(click)
    app.event("app_home_opened")(home_opened)
    app.shortcut(UNBLOCK_REQUEST)(request_shortcut)
    app.shortcut(UNBLOCK_FROM_MESSAGE)(message_shortcut)
    app.view(form.CALLBACK_ID)(form_submitted)


async def command(ack: AsyncAck, command: Payload, context: AsyncBoltContext) -> None:
    """``/unblock``: acknowledged with what the use case says (which only the person who typed it sees)."""
    if command["command"] != COMMAND:
        log.info("refused a slash command the bot does not have", extra={"command": command["command"][:32]})
        await ack(say.UNKNOWN_COMMAND)
        return
    delivery = command.get("trigger_id") or ""  # what Slack keeps the same across its retries
    team = str(command.get("team_id") or "")
    asker = Asker(command["user_id"], command["channel_id"], command.get("response_url"), delivery, team=team)
    try:
        answer = fleet_of(context).command(command.get("text") or "", asker)
    except Exception as error:  # a fault of the bot's: the person is told, and the bot goes on
        log.exception("a Slack request could not be handled", extra={"error": type(error).__name__})
        answer = say.FAULT
    await ack(answer or "")


async def click(ack: AsyncAck, body: Payload, action: Payload, context: AsyncBoltContext) -> None:
    """A button, or the select of a duration beside **Approve and allow**."""
    await ack()
    value = action.get("value") or (action.get("selected_option") or {}).get("value") or ""
    clicks.click(fleet_of(context), str(action["action_id"]), str(value), asker_of(body))


async def home_opened(event: Payload, context: AsyncBoltContext) -> None:
    """Someone opened the bot's Home tab (not its Messages tab)."""
    user = event.get("user")
    if event.get("tab") == "home" and isinstance(user, str) and USER_ID.match(user):
        fleet_of(context).first.home_opened(user)


#: the shortcuts' ``callback_id`` (as in ``manifest.yml``)
UNBLOCK_REQUEST = "unblock_request"
UNBLOCK_FROM_MESSAGE = "unblock_from_message"


def fleet_of(context: Mapping[str, Any]) -> Fleet:
    """The PBXes served, from the context of a Bolt listener (``bot.slack.admission.Admission`` put them there)."""
    fleet = context["fleet"]
    assert isinstance(fleet, Fleet)
    return fleet


# -- the shortcuts ------------------------------------------------------------------------------------------------


async def request_shortcut(ack: AsyncAck, body: Payload, client: AsyncWebClient, context: AsyncBoltContext) -> None:
    """**Request an unblock**, from anywhere: the form, with a channel picker unless there is an approvals channel;
    with a select of the PBXes when the bot serves several."""
    await ack()
    fleet, asker = fleet_of(context), asker_of(body)
    one = fleet.one
    if one is None and fleet.is_guest(asker):  # people of another workspace ask in their PBX's channel
        fleet.answers.tell_soon(asker, say.OTHER_WORKSPACE)
        return
    use_cases = one.use_cases if one is not None else fleet.first
    approvals = use_cases.approval_channel if one is not None else None
    view = form.unblock_modal(
        metadata(asker.user, "", fleet, "" if one is not None else None),  # who opened it; no message's channel
        require_reason=use_cases.require_reason,
        pick_channel=approvals is None,
        posted_in=approvals,
        pbxes=() if one is not None else fleet.may_ask(asker),
    )
    _open_soon(use_cases, client, asker, view, approvals)


async def message_shortcut(ack: AsyncAck, body: Payload, client: AsyncWebClient, context: AsyncBoltContext) -> None:
    """**Unblock an address in this message**: the form, with what the message names filled in (several: offered
    in a select); a private note when it names nothing to unblock."""
    await ack()
    fleet, asker = fleet_of(context), asker_of(body)
    found = unblockable("\n".join(_texts(body.get("message"))))
    if not found or not CHANNEL.match(asker.channel):
        fleet.answers.tell_soon(asker, form.IN_A_DIRECT_MESSAGE if found else form.NOTHING_FOUND)
        return
    may, pbx = fleet.may_ask(asker), fleet.of_channel(asker.channel)
    if not may:
        fleet.answers.tell_soon(asker, say.OTHER_WORKSPACE)
        return
    use_cases = fleet.pbxes[pbx].use_cases if pbx is not None else fleet.first
    view = form.unblock_modal(
        metadata(asker.user, asker.channel, fleet, pbx),
        found=found,
        require_reason=use_cases.require_reason,
        posted_in=use_cases.approval_channel or asker.channel if pbx is not None else asker.channel,
        pbxes=may if pbx is None else (),
    )
    _open_soon(use_cases, client, asker, view, asker.channel)


def _texts(node: Any, depth: int = 0) -> Iterator[str]:
    """A message's text and the text of its blocks."""
    if depth > 12:
        return
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "text" and isinstance(value, str):
                yield value
            elif isinstance(value, dict | list):
                yield from _texts(value, depth + 1)
    elif isinstance(node, list):
        for item in node[:200]:
            yield from _texts(item, depth + 1)


def _open_soon(
    use_cases: UseCases, client: AsyncWebClient, asker: Asker, view: dict[str, Any], channel: str | None
) -> None:
    """Open ``view`` right after the ack (Slack takes a trigger for 3 seconds), unless a request may not be made
    in ``channel``."""
    refusal = use_cases.requests.may_request_in(channel) if channel is not None else None
    if refusal is not None:
        use_cases.answers.tell_soon(asker, words(refusal))
    elif not asker.delivery:
        use_cases.answers.tell_soon(asker, form.OUT_OF_DATE)
    elif not use_cases.answers.work.spawn(_open(client, asker, view), name="open-form"):
        use_cases.answers.tell_soon(asker, say.BUSY)


async def _open(client: AsyncWebClient, asker: Asker, view: dict[str, Any]) -> None:
    try:
        await client.views_open(trigger_id=asker.delivery, view=view)
    except Exception as error:  # Slack's error, a proxy's page, or no answer: the person sees no form and may retry
        counted("views.open", error, "could not open the form", user=asker.user)


# -- the form's submission ------------------------------------------------------------------------------------------


async def form_submitted(
    ack: AsyncAck, body: Payload, view: Payload, client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    """The form, submitted: errors on its fields, or it closes and the request goes on as ``/unblock``'s."""
    checked = check_submission(body, view, fleet_of(context))
    if isinstance(checked, dict):
        await ack(response_action="errors", errors=checked)
        return
    parsed, asker, use_cases = checked
    await ack()
    work, progress = use_cases.work_for(parsed, asker)
    if not use_cases.answers.start_once(
        asker, partial(_request, use_cases, client, work, asker), progress, name="form-request", pbx=use_cases.pbx
    ):
        use_cases.answers.tell_soon(asker, say.BUSY)


async def _request(use_cases: UseCases, client: AsyncWebClient, work: Work, asker: Asker) -> None:
    """The request's ``work``, once the channel its card goes to is one of this workspace that the bot is a member
    of (``conversations.info``; nothing is asked of 3CX before); the person is told privately (a direct message)
    what a command would tell them."""
    channel, found = asker.channel, None
    if use_cases.approval_channel is None:
        try:
            found = (await client.conversations_info(channel=channel)).get("channel")
        except Exception as error:  # not found (another workspace's, or private without the bot), or no answer
            counted("conversations.info", error, "a form named a channel the bot cannot use", channel=channel[:32])
        if not (isinstance(found, dict) and found.get("id") == channel and found.get("is_member") is True):
            use_cases.answers.tell_soon(asker, form.channel_refused(channel))
            return
    await work()


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
