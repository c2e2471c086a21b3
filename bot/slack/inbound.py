"""What Slack sends the bot over HTTP, checked before Bolt sees it.

A body that is signed but not of a shape Slack sends (a broken or non-object
``payload``, a click without actions, a form sent as JSON) is refused with a
reason instead of reaching code that would fail on it.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
#: the interaction types the bot handles
INTERACTIONS = frozenset({"block_actions"})
#: the Events API envelopes the bot accepts
EVENT_ENVELOPES = frozenset({"url_verification", "event_callback"})


def problem(content_type: str, body: bytes) -> str | None:
    """Why ``body`` is not something Slack sends this app; None when it is."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return "the body is not UTF-8"
    if content_type == JSON:
        data = _json(text)
        if not isinstance(data, dict) or data.get("type") not in EVENT_ENVELOPES:
            return "a JSON body that is not an Events API envelope"
        return None
    if content_type != FORM:
        return f"an unexpected content type ({content_type or 'none'})"
    form = parse_qs(text, keep_blank_values=True)
    if "ssl_check" in form:
        return None
    if "payload" in form:
        return _interaction_problem(_json(form["payload"][0]))
    for field in ("command", "user_id", "channel_id", "team_id"):
        if not form.get(field, [""])[0]:
            return f"a slash command without {field}"
    return None


def _interaction_problem(payload: Any) -> str | None:
    if not isinstance(payload, dict):
        return "a payload that is not a JSON object"
    if payload.get("type") not in INTERACTIONS:
        return "an interaction type this app does not handle"
    if not isinstance(payload.get("user"), dict) or not isinstance(payload["user"].get("id"), str):
        return "an interaction without a user"
    actions = payload.get("actions")
    if not isinstance(actions, list) or not actions:
        return "a click without actions"
    if not all(isinstance(a, dict) and isinstance(a.get("action_id"), str) for a in actions):
        return "a click with an action that has no action_id"
    return None


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None
