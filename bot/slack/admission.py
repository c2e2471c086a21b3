"""What Slack sends, admitted by one Bolt middleware after Bolt's check of the signature, before anything reads it.

Over HTTP, a signed body seen before within its signature's 5 minutes (``replays``) is refused (401), unless it is
Slack's retry (``X-Slack-Retry-Num``): answered 200, not handled again (across processes the store knows a delivery
by what Slack keeps across its retries). A body of a shape Slack would not send (a field Bolt or the listeners read of
the wrong type) gets a 400, or an acknowledgement over Socket Mode. Another workspace's is refused with a private
sentence, unless some PBX lets people of that workspace ask (its ``connect_teams``; ``bot.slack.fleet`` says where
and what).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from .answers import asker_of
from .fleet import Fleet
from .replays import Replays
from .views import notes as say

log = logging.getLogger(__name__)

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
#: Slack nests what it sends a dozen levels or so; JSON nested deeper is refused
MAX_DEPTH = 64
TOO_DEEP = f"JSON nested more than {MAX_DEPTH} levels deep, which Slack never sends"

#: A shape: a type; a dict of field -> shape (an object whose fields, where given and not null, have those shapes;
#: a field named with "!" must be given, and not empty); a one-item list (a list of that shape); a tuple (any of them).
COMMAND = {"command!": str, "user_id!": str, "channel_id!": str, "team_id!": str, "text": str, "response_url": str}
COMMAND |= {"trigger_id": str}
USER = {"id!": str, "team_id": str}
VIEW = {"id": str, "team_id": str, "callback_id": str, "private_metadata": str, "state": {"values": dict}}
MESSAGE = {"text": str, "ts": str, "user": str, "blocks": [dict]}
ACTION = {"action_id!": str, "value": str, "selected_option": {"value": str}}
CONTAINER = {"type": str, "channel_id": str, "message_ts": str}
#: what Bolt and the listeners read of a click, a shortcut or a form's submission
INTERACTION = {"team_id": str, "team": {"id": str}, "user!": USER, "channel": {"id": str}, "response_url": str}
INTERACTION |= {"trigger_id": str, "callback_id": str, "container": CONTAINER, "view": VIEW, "message": MESSAGE}
INTERACTIONS = {
    "block_actions": {**INTERACTION, "actions!": [ACTION]},
    "view_submission": {**INTERACTION, "view!": {**VIEW, "callback_id!": str}},
    "shortcut": {**INTERACTION, "callback_id!": str},
    "message_action": {**INTERACTION, "callback_id!": str},
}
#: what Bolt and the listeners read of an event callback
EVENT = {"type!": str, "user": (str, USER), "channel": (str, {"id": str}), "tab": str, "team": str}
ENVELOPE = {"team_id": str, "event!": EVENT}


class Admission(AsyncMiddleware):
    """Replays, shapes and other workspaces refused, as the module says (but for those some PBX lets ask: the
    listeners see to where and what); the PBXes served put in the context, where the listeners find them."""

    def __init__(self, fleet: Fleet, team_id: str) -> None:
        self._fleet = fleet
        self._team_id = team_id
        self._guests = fleet.guests()
        self._replays = Replays()

    async def async_process(
        self, *, req: AsyncBoltRequest, resp: BoltResponse, next: Callable[[], Awaitable[BoltResponse]]
    ) -> BoltResponse | None:
        body, http = req.body, req.mode == "http"
        if body.get("type") == "url_verification":  # Bolt answers Slack's check of the Request URL
            return await next()
        if http:
            if not self._replays.first(req.headers.get("x-slack-signature", [""])[0]):
                if "x-slack-retry-num" in req.headers:
                    log.info("Slack retried a request already accepted; not handled again")
                    return BoltResponse(status=200, body="")
                log.info("refused a replayed request")
                return BoltResponse(status=401, body={"error": "invalid request"})
            req.lazy_only, req.lazy_function_name = False, None  # Bolt's own headers, never Slack's
            if not body and req.content_type == FORM:  # Bolt takes a form whose text says "payload" for a click
                body = req.body = dict(parse_qsl(req.raw_body, keep_blank_values=True))
                # the context Bolt reads of a body, read by Bolt's own request from the parsed form (only a Socket
                # Mode request may be made of a parsed body; the mode is not kept)
                try:
                    req.context.update(AsyncBoltRequest(body=body, mode="socket_mode").context)
                except (AttributeError, TypeError, LookupError, ValueError):
                    log.info("refused a signed request that Slack would not send", extra={"problem": "a form"})
                    return BoltResponse(status=400, body="")
        wrong = problem(body, req.content_type if http else None)
        if wrong is not None:
            log.info(
                f"refused a {'signed' if http else 'Socket Mode'} request that Slack would not send",
                extra={"problem": wrong},
            )
            return BoltResponse(status=400 if http else 200, body="")
        req.context["fleet"] = self._fleet
        others = foreign_teams(body, self._team_id)
        if others is None or (others and set(others) <= self._guests):
            return await next()
        log.info("refused a request from another workspace, or from none", extra={"teams": others})
        if "command" in body:
            return BoltResponse(status=200, body=say.OTHER_WORKSPACE)
        in_view = (body.get("container") or {}).get("type") == "view"
        if "event" not in body and not in_view and body.get("response_url") is not None:
            self._fleet.answers.tell_soon(asker_of(body), say.OTHER_WORKSPACE)
        return BoltResponse(status=200, body="")


def problem(body: dict[str, Any], content_type: str | None) -> str | None:
    """Why ``body`` is not something Slack sends this app (``content_type``: as it came over HTTP, None over
    Socket Mode, where what slack_sdk parsed is checked however deep: ``bot.slack.connecting``, the rest); None when
    it is."""
    kind = body.get("type")
    if content_type is None and _nested_deeper(body):
        return TOO_DEEP
    if content_type not in (None, FORM, JSON):
        return f"an unexpected content type ({content_type})"
    if kind == "event_callback" and content_type != FORM:
        shape: Any = ENVELOPE
    elif content_type == JSON:
        return "a JSON body that is not an Events API envelope"
    elif "command" in body and kind is None:
        shape = COMMAND
    elif isinstance(kind, str) and kind in INTERACTIONS:
        shape = INTERACTIONS[kind]
    else:
        return "a request this app does not handle"
    wrong = _wrong(body, shape)
    return None if wrong is None else f"a request whose body{wrong} is missing or not of the type Slack sends"


def _nested_deeper(body: dict[str, Any]) -> bool:
    """Whether what slack_sdk parsed nests deeper than ``MAX_DEPTH``, walked level by level without recursion."""
    level: list[Any] = [body]
    for _ in range(MAX_DEPTH):
        level = [v for x in level for v in (x.values() if isinstance(x, dict) else x) if isinstance(v, dict | list)]
    return bool(level)


def _wrong(value: Any, shape: Any) -> str | None:
    """Where in ``value`` the first part that does not have ``shape`` is ("": ``value`` itself); None when all do."""
    if isinstance(shape, tuple):
        return "" if all(_wrong(value, s) is not None for s in shape) else None
    if isinstance(shape, list):
        if not isinstance(value, list):
            return ""
        items = ((i, _wrong(item, shape[0])) for i, item in enumerate(value))
        return next((f"[{i}]{w}" for i, w in items if w is not None), None)
    if isinstance(shape, dict):
        if not isinstance(value, dict):
            return ""
        for field, inner in shape.items():
            name = field.rstrip("!")
            found = value.get(name)
            if field != name and not found:
                return f".{name}"
            if found is not None and (wrong := _wrong(found, inner)) is not None:
                return f".{name}{wrong}"
        return None
    return None if isinstance(value, shape) else ""


def foreign_teams(body: dict[str, Any], team_id: str) -> list[str] | None:
    """None when ``body`` comes from the workspace ``team_id``: the team it was made in and the team of the person
    who made it, where given, are ``team_id``, and one of them is given. Otherwise the other teams it names."""
    teams = (body.get("team_id"), _inner(body, "team", "id"), _inner(body, "user", "team_id"))
    named = [t for t in teams if t is not None]
    if named and named.count(team_id) == len(named):  # (a value of another type may be unhashable)
        return None
    return sorted({str(t)[:32] for t in named if t != team_id})


def _inner(body: dict[str, Any], outer: str, field: str) -> Any:
    value = body.get(outer)
    return value.get(field) if isinstance(value, dict) else None


#: in JSON text: an escaped character, a quote, or a bracket
_MARKS = re.compile(r'\\.|["\[\]{}]', re.DOTALL)


def too_deep(text: str) -> bool:
    """Whether the JSON ``text`` nests deeper than ``MAX_DEPTH``, read in one pass without recursion."""
    depth, quoted = 0, False
    for mark in _MARKS.finditer(text):
        found = mark.group()
        if found == '"':
            quoted = not quoted
        elif not quoted and len(found) == 1:
            depth += 1 if found in "[{" else -1
            if depth > MAX_DEPTH:
                return True
    return False
