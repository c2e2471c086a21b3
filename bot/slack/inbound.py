"""What Slack sends the bot, checked before Bolt sees it: over HTTP (``read``) and over Socket Mode's
websocket (``socket_problem``, for ``bot.slack.socket_mode``).

A body that is signed but not of a shape Slack sends (a broken or non-object ``payload``, a click without
actions, a form sent as JSON, a field of the wrong type: ``team`` as a string, ``channel`` as a list,
``event`` as a number) is refused with a reason instead of reaching code that would fail on it. Each
field Bolt or the listeners read is checked for the type Slack gives it; fields nobody reads are not.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
#: the interaction types the bot handles
INTERACTIONS = frozenset({"block_actions"})
#: the Events API envelopes the bot accepts
EVENT_ENVELOPES = frozenset({"url_verification", "event_callback"})
#: the fields of a slash command that must be there (every field of one is a string)
COMMAND_FIELDS = ("command", "user_id", "channel_id", "team_id")
#: the deepest JSON is read: Slack nests what it sends a dozen levels or so (a message's rich text, in a
#: payload, in Socket Mode's envelope); anything deeper is refused before it is parsed, so that neither the
#: parser nor anything that reads what it gives recurses that deep
MAX_DEPTH = 64
TOO_DEEP = f"JSON nested more than {MAX_DEPTH} levels deep, which Slack never sends"


@dataclass(frozen=True)
class Required:
    """A field that must be there (and not null)."""

    shape: Any


@dataclass(frozen=True)
class OneOf:
    shapes: tuple[Any, ...]


#: A shape is a type (``str``, ``bool``, ``int``, ``dict`` for any object), a dict of field -> shape (an
#: object whose fields, when given and not null, have those shapes), a one-item list (a list of that
#: shape), ``Required`` or ``OneOf``.
#: ``true`` in JSON bodies, ``"true"`` in a slash command's form
FLAG = OneOf((bool, str))
AUTHORIZATION = {"enterprise_id": str, "team_id": str, "user_id": str, "is_bot": bool, "is_enterprise_install": FLAG}
#: what Bolt reads to know which workspace, person and channel a body comes from, in every kind of body
CONTEXT = {
    "enterprise": {"id": str},
    "user": OneOf((str, {"id": str, "team_id": str})),
    "channel": OneOf((str, {"id": str})),
    "enterprise_id": str,
    "team": {"id": str, "enterprise_id": str},
    "team_id": str,
    "user_id": str,
    "channel_id": str,
    "authorizations": [AUTHORIZATION],
    "is_enterprise_install": FLAG,
    "is_ext_shared_channel": bool,
    "context_team_id": str,
    "context_enterprise_id": str,
    "thread_ts": str,
    "function_data": dict,
    "response_url": str,
    "response_urls": [{"response_url": str}],
    "view": {"id": str, "type": str, "team_id": str, "app_installed_team_id": str},
    "message": dict,
    "previous_message": dict,
    "item": dict,
    "assistant_thread": dict,
}
ACTION = {
    "action_id": Required(str),
    "block_id": str,
    "type": str,
    "value": str,
    "action_ts": str,
    "selected_option": {"value": str},
}
INTERACTION = {
    **CONTEXT,
    "type": Required(str),
    "user": Required({"id": Required(str), "team_id": str, "username": str, "name": str}),
    "channel": {"id": str, "name": str},
    "container": {"type": str, "channel_id": str, "message_ts": str, "view_id": str, "is_ephemeral": bool},
    "trigger_id": str,
    "api_app_id": str,
    "actions": Required([ACTION]),
}
EVENT = {
    **CONTEXT,
    "type": Required(str),
    "team": str,
    "user_team": str,
    "tab": str,
    "event_ts": str,
    "bot_access_token": str,
    "function_execution_id": str,
}
COMMAND = {**CONTEXT, **{field: Required(str) for field in COMMAND_FIELDS}, "text": str, "trigger_id": str}
ENVELOPE = {
    **CONTEXT,
    "type": Required(str),
    "api_app_id": str,
    "event_id": str,
    "event_time": int,
    "challenge": str,
    "event": EVENT,
}


@dataclass(frozen=True, slots=True)
class Refused:
    """A body (sent over HTTP) that Slack would not send this app, and why."""

    problem: str


def read(content_type: str, body: bytes) -> dict[str, Any] | Refused:
    """What ``body`` (sent over HTTP) says, parsed once, as Bolt reads a body (a slash command's form as a dict
    of its fields, a click's ``payload``, an event's JSON); or why Slack would not send it.

    Bolt is given this, not the text: it would parse the text again, and it takes any form whose text holds the
    word "payload" for a click, while a slash command's text is the person's (``/unblock 42 payload moved``)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return Refused("the body is not UTF-8")
    if content_type == JSON:
        if too_deep(text):
            return Refused(TOO_DEEP)
        data = _json(text)
        wrong = event_problem(data)
        return Refused(wrong) if wrong is not None else data
    if content_type != FORM:
        return Refused(f"an unexpected content type ({content_type or 'none'})")
    form = _form(text)
    if form is None:
        return Refused("a form with a field given twice")
    if "ssl_check" in form:
        return form
    if "payload" in form:
        if too_deep(form["payload"]):
            return Refused(TOO_DEEP)
        payload = _json(form["payload"])
        wrong = interaction_problem(payload)
        return Refused(wrong) if wrong is not None else payload
    wrong = command_problem(form, text_only=True)
    return Refused(wrong) if wrong is not None else form


def is_command(body: dict[str, Any]) -> bool:
    """Whether ``body`` (as :func:`read` gives it) is a slash command: the one body with a ``command`` and no
    ``type`` (every click, form and event has one)."""
    return "command" in body and "type" not in body


def socket_problem(kind: str, payload: Any) -> str | None:
    """Why ``payload``, sent over Socket Mode as a request of type ``kind``, is not something Slack sends
    this app; None when it is (or when it is not a request the bot handles)."""
    if kind == "slash_commands":
        return command_problem(payload)
    if kind == "interactive":
        return interaction_problem(payload)
    if kind == "events_api":
        return event_problem(payload)
    return None


def command_problem(command: Any, *, text_only: bool = False) -> str | None:
    """Why ``command`` is not a slash command Slack sends; ``text_only``: it is a form, whose every value is text,
    so only the fields that must not be text can be wrong."""
    if not isinstance(command, dict):
        return "a slash command that is not an object"
    for field in COMMAND_FIELDS:
        if not command.get(field):
            return f"a slash command without {field}"
    if text_only:
        wrong = None if NOT_TEXT.isdisjoint(command) else next(f"command.{f}" for f in command if f in NOT_TEXT)
    else:
        wrong = _wrong(command, COMMAND, "command")
    return f"a slash command whose {wrong} is not of the type Slack sends" if wrong else None


def interaction_problem(payload: Any) -> str | None:
    if not isinstance(payload, dict):
        return "a payload that is not a JSON object"
    if _one_of(payload.get("type"), FORMS):
        return form_problem(payload)
    if not _one_of(payload.get("type"), INTERACTIONS):
        return "an interaction type this app does not handle"
    if not isinstance(payload.get("user"), dict) or not isinstance(payload["user"].get("id"), str):
        return "an interaction without a user"
    actions = payload.get("actions")
    if not isinstance(actions, list) or not actions:
        return "a click without actions"
    if not all(isinstance(a, dict) and isinstance(a.get("action_id"), str) for a in actions):
        return "a click with an action that has no action_id"
    wrong = _wrong(payload, INTERACTION, "payload")
    return f"a payload whose {wrong} is not of the type Slack sends" if wrong else None


#: the shortcuts (global, on a message) and the submission of their form
FORMS = frozenset({"shortcut", "message_action", "view_submission"})
USER = {"id": Required(str), "team_id": str, "username": str, "name": str}
SHORTCUT = {
    **CONTEXT,
    "type": Required(str),
    "callback_id": Required(str),
    "trigger_id": Required(str),
    "user": Required(USER),
    "channel": {"id": str, "name": str},
    "message": {"text": str, "ts": str, "user": str, "blocks": [dict]},
    "message_ts": str,
    "action_ts": str,
    "api_app_id": str,
}
VIEW = {
    "id": Required(str),
    "type": str,
    "team_id": str,
    "app_installed_team_id": str,
    "callback_id": Required(str),
    "private_metadata": str,
    "state": {"values": dict},
}
SUBMISSION = {
    **CONTEXT,
    "type": Required(str),
    "user": Required(USER),
    "trigger_id": str,
    "api_app_id": str,
    "view": Required(VIEW),
    "response_urls": [{"response_url": str, "channel_id": str}],
}


def form_problem(payload: dict[str, Any]) -> str | None:
    """Why ``payload`` is not a shortcut, or a form's submission, as Slack sends them; None when it is."""
    kind = payload["type"]
    wrong = _wrong(payload, SUBMISSION if kind == "view_submission" else SHORTCUT, "payload")
    return f"a {kind} whose {wrong} is not of the type Slack sends" if wrong else None


def event_problem(data: Any) -> str | None:
    if not isinstance(data, dict) or not _one_of(data.get("type"), EVENT_ENVELOPES):
        return "a JSON body that is not an Events API envelope"
    if data["type"] == "event_callback" and not isinstance(data.get("event"), dict):
        return "an event callback without an event"
    wrong = _wrong(data, ENVELOPE, "body")
    return f"an event whose {wrong} is not of the type Slack sends" if wrong else None


def _wrong(value: Any, shape: Any, path: str) -> str | None:
    """The path of the first part of ``value`` that does not have ``shape``; None when all do."""
    if isinstance(shape, Required):
        return path if value is None else _wrong(value, shape.shape, path)
    if isinstance(shape, OneOf):
        return path if all(_wrong(value, s, path) for s in shape.shapes) else None
    if isinstance(shape, list):
        if not isinstance(value, list):
            return path
        return next((w for i, item in enumerate(value) if (w := _wrong(item, shape[0], f"{path}[{i}]"))), None)
    if isinstance(shape, dict):
        if not isinstance(value, dict):
            return path
        for field, inner in shape.items():
            found = value.get(field)
            if found is None and not isinstance(inner, Required):
                continue
            if wrong := _wrong(found, inner, f"{path}.{field}"):
                return wrong
        return None
    if shape is int:  # a JSON number that is whole; never true or false
        return None if isinstance(value, int) and not isinstance(value, bool) else path
    return None if isinstance(value, shape) else path


def _one_of(value: Any, choices: frozenset[str]) -> bool:
    return isinstance(value, str) and value in choices


def _form(text: str) -> dict[str, str] | None:
    """A form's fields (``+`` a space, a ``%XX`` that is not UTF-8 U+FFFD, a field without ``=`` empty, an empty
    field skipped: ``parse_qsl`` not strict); None when a field is given twice."""
    pairs = parse_qsl(text, keep_blank_values=True)
    form = dict(pairs)
    return form if len(form) == len(pairs) else None


#: in JSON text: an escaped character, a quote, or a bracket
_MARKS = re.compile(r'\\.|["\[\]{}]', re.DOTALL)


def nesting(text: str) -> Iterator[tuple[int, int]]:
    """Where each bracket of the JSON ``text`` outside its strings lies, and the depth after it, in order; read
    in one pass, without recursion, whatever the text."""
    depth, quoted = 0, False
    for mark in _MARKS.finditer(text):
        found = mark.group()
        if found == '"':
            quoted = not quoted
        elif not quoted and len(found) == 1:
            depth += 1 if found in "[{" else -1
            yield mark.start(), depth


def too_deep(text: str) -> bool:
    """Whether the JSON ``text`` nests deeper than ``MAX_DEPTH``."""
    return any(depth > MAX_DEPTH for _, depth in nesting(text))


def envelope_id(text: str) -> str | None:
    """The ``envelope_id`` of the Socket Mode envelope ``text`` (however deep what it carries is nested: that
    is read as null), or None when it has none."""
    parts, start = [], 0
    for at, depth in nesting(text):
        if depth == 2 and text[at] in "[{":  # what the envelope carries starts: left out
            parts.append(text[start:at] + "null")
            start = len(text)
        elif depth == 1 and text[at] in "]}":  # …and ends
            start = at + 1
    envelope = _json("".join([*parts, text[start:]]))
    found = envelope.get("envelope_id") if isinstance(envelope, dict) else None
    return found if isinstance(found, str) else None


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


#: the fields of a slash command that Slack never sends as text (so a form, all text, must not have them)
NOT_TEXT = frozenset(field for field, shape in COMMAND.items() if _wrong("text", shape, field) is not None)
