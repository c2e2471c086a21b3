"""A failed call to Slack, as one error code, whatever came back.

Slack answers an error with ``{"ok": false, "error": "not_in_channel"}``. In front of it there may be a
proxy, and between them a network: a call can also get an HTML page with a 502, a 405 in plain text, an
empty body, JSON that is not an object, or no answer at all. slack_sdk then raises a ``SlackApiError``
whose ``response.data`` is not a dict (or whose ``response`` is aiohttp's own), or an error of its own.
:func:`error_code` turns each of these into a short code for a log line, a metric and a person, and
:func:`counted` does all three for a call whose failure the bot goes on without.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_sdk.errors import SlackApiError

from .. import metrics

log = logging.getLogger(__name__)

#: what Slack's own error codes look like (``not_in_channel``, ``ratelimited``)
_SLACK_CODE = re.compile(r"[a-z][a-z0-9_.]{0,63}")
#: errors slack_sdk's response object raises when an answer is not a JSON object
_UNREADABLE = (AttributeError, TypeError, ValueError, KeyError)


def error_code(error: BaseException) -> str:
    """Slack's error code (``not_in_channel``); ``http_<status>`` for an answer that is not Slack's (a
    proxy's page, a 502, a 405); ``invalid_response`` for a 200 that is not Slack's answer; the kind of
    failure (``ServerDisconnectedError``, ``TimeoutError``) when no answer came."""
    if isinstance(error, SlackApiError):
        data = getattr(error.response, "data", None)
        code = data.get("error") if isinstance(data, dict) else None
        if isinstance(code, str) and _SLACK_CODE.fullmatch(code):
            return code
        status = status_of(error)
        return f"http_{status}" if status is not None and status != 200 else "invalid_response"
    if isinstance(error, _UNREADABLE):
        return "invalid_response"
    return type(error).__name__


def status_of(error: SlackApiError) -> int | None:
    """The HTTP status of the answer ``error`` carries: slack_sdk's response, or aiohttp's own (an answer labelled
    JSON that is not)."""
    status = getattr(error.response, "status_code", None) or getattr(error.response, "status", None)
    return status if isinstance(status, int) else None


def counted(method: str, error: BaseException, what: str, **extra: Any) -> str:
    """The code of ``error``, a failed call to Slack's ``method``, counted and logged (``what``: what failed)."""
    code = error_code(error)
    metrics.SLACK_ERRORS.labels(method, code).inc()
    log.warning(what, extra={"method": method, "error": code, **extra})
    return code
