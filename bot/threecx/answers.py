"""What 3CX's answers mean: pure functions from an HTTP answer to data or to a typed error.

Nothing here does I/O, so each rule can be tested without a network.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from . import errors
from .errors import ThreeCXError


@dataclass(frozen=True, slots=True)
class Answer:
    """An HTTP answer, read whole."""

    status: int
    headers: Any  # a case-insensitive mapping of header names to values
    body: bytes
    #: an earlier try of the same call reached 3CX and its answer was lost (3CX may have carried it out)
    after_lost: bool = False


def error_for(method: str, path: str, answer: Answer) -> ThreeCXError:
    """The typed error for an answer that is not a success, with 3CX's own message when it gave one."""
    status = answer.status
    detail = odata_message(answer.body)
    kind, message = _MEANINGS.get(status, _SERVER_ERROR if status >= 500 else _REFUSED)
    return kind(message, method=method, path=path, status=status, detail=detail)


#: an HTTP status -> the error it means, and what that is in a few words
_MEANINGS: dict[int, tuple[type[ThreeCXError], str]] = {
    401: (errors.CredentialsError, "3CX refused the bot's access token"),
    403: (errors.ForbiddenError, "the 3CX API client is not allowed to do this"),
    404: (errors.NotFoundError, "not found"),
    412: (errors.ChangedError, "the entry changed since it was read"),
    429: (errors.UnavailableError, "3CX is rate limiting the bot"),
}
_SERVER_ERROR = (errors.UnavailableError, "3CX answered with a server error")
_REFUSED = (errors.UnexpectedResponseError, "refused")


def token_refusal(path: str, answer: Answer) -> ThreeCXError:
    """What a refusal from the token endpoint means: 400, 401 and 403 are the client id or secret."""
    if answer.status in (400, 401, 403):
        return errors.CredentialsError(
            "3CX refused the API client id or secret",
            method="POST",
            path=path,
            status=answer.status,
            detail=_token_error(answer.body),
        )
    return error_for("POST", path, answer)


def json_body(method: str, path: str, answer: Answer) -> Any:
    try:
        return json.loads(answer.body)
    except ValueError:
        raise errors.UnexpectedResponseError(
            "3CX answered with something that is not JSON", method=method, path=path, status=answer.status
        ) from None


def values(method: str, path: str, answer: Answer) -> list[Any]:
    """The ``value`` list of an OData collection."""
    data = json_body(method, path, answer)
    found = data.get("value") if isinstance(data, dict) else None
    if not isinstance(found, list):
        raise errors.UnexpectedResponseError("3CX answered a query without a list of entries", method=method, path=path)
    return found


def odata_message(body: bytes) -> str | None:
    """``error.message`` of an OData error body, if the body is one."""
    error = _field(body, "error")
    message = error.get("message") if isinstance(error, dict) else None
    return message.strip()[:500] if isinstance(message, str) and message.strip() else None


def retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (None for none, or for an HTTP date: the bot's own backoff)."""
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return max(0.0, seconds)


def _token_error(body: bytes) -> str | None:
    """The OAuth ``error`` code of a token endpoint refusal (e.g. ``invalid_client``)."""
    code = _field(body, "error")
    return code[:100] if isinstance(code, str) else None


def _field(body: bytes, name: str) -> Any:
    """``name`` of a JSON object body; None for any other body."""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    return data.get(name) if isinstance(data, dict) else None
