"""What 3CX's answers mean: one error class per meaning, and the pure reading of an HTTP answer into data or into
one of them.

Each error carries the method, the path and what 3CX answered (status and the OData ``error.message``), never a
credential: the request that failed is described by its path only, and tokens travel in headers that are not kept.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..domain.entries import CallFailed
from ..domain.outcomes import Outcome
from ..network import unreached


class ThreeCXError(CallFailed):
    """Root of every error the 3CX client raises: a :class:`~bot.domain.entries.CallFailed` to the domain."""

    def __init_subclass__(cls, *, reason: Outcome, **rest: object) -> None:
        super().__init_subclass__(**rest)
        cls.reason = reason

    def __init__(
        self,
        message: str,
        *,
        method: str = "",
        path: str = "",
        status: int | None = None,
        detail: str | None = None,
        maybe_applied: bool = False,
        unreached: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message, self.method, self.path, self.status = message, method, path, status
        #: why no connection to 3CX was made (``its name could not be resolved``, ``connection refused``); None
        #: when 3CX was reached
        self.unreached = unreached
        #: what 3CX said about it (OData ``error.message``), if anything
        self.detail = detail
        #: the request reached 3CX and its answer was lost: 3CX may have carried it out
        self.maybe_applied = maybe_applied

    def answer(self) -> str:
        """3CX's answer in one line, for the record: ``HTTP 400 (refused): <what 3CX said>``."""
        said = f": {self.detail}" if self.detail and self.detail != self.message else ""
        if self.status is None:
            return f"no answer ({self.message}){said}"
        return f"HTTP {self.status} ({self.message}){said}"


#: what an admin should check after each kind of failure (in the audit line and in ``check``)
ADVICE: dict[Outcome, str] = {
    Outcome.CREDENTIALS: "Check THREECX_CLIENT_ID and THREECX_CLIENT_SECRET (3CX: Admin > Integrations > API).",
    Outcome.FORBIDDEN: "Give the 3CX API client the System Admin role (3CX: Admin > Integrations > API).",
    Outcome.UNAVAILABLE: "Check THREECX_BASE_URL, the network, and THREECX_CA_BUNDLE for a private certificate.",
}


class NotFoundError(ThreeCXError, reason=Outcome.NOT_FOUND):
    """404: no such entry."""


class ChangedError(ThreeCXError, reason=Outcome.CHANGED):
    """412: the entry changed since it was read (ETag mismatch)."""


class CredentialsError(ThreeCXError, reason=Outcome.CREDENTIALS):
    """The token endpoint refused the client id/secret, or 401 persisted after a fresh token."""


class ForbiddenError(ThreeCXError, reason=Outcome.FORBIDDEN):
    """403: the API client lacks the rights (System Admin role) for this call."""


class UnavailableError(ThreeCXError, reason=Outcome.UNAVAILABLE):
    """5xx, a timeout or a network error, after the retries allowed."""


class UnexpectedResponseError(ThreeCXError, reason=Outcome.OTHER):
    """Any other answer: a 4xx not listed above, or a body that is not what the API promises."""


#: an HTTP status -> the error it means, and what that is in a few words
MEANINGS: dict[int, tuple[type[ThreeCXError], str]] = {
    401: (CredentialsError, "3CX refused the bot's access token"),
    403: (ForbiddenError, "the 3CX API client is not allowed to do this"),
    404: (NotFoundError, "not found"),
    412: (ChangedError, "the entry changed since it was read"),
    429: (UnavailableError, "3CX is rate limiting the bot"),
}


@dataclass(frozen=True, slots=True)
class Answer:
    """An HTTP answer to one request, read whole."""

    method: str
    path: str
    status: int
    headers: Any  # a case-insensitive mapping of header names to values
    body: bytes
    #: an earlier try of the same call reached 3CX and its answer was lost (3CX may have carried it out)
    after_lost: bool = False

    def error(self) -> ThreeCXError:
        """The typed error for an answer that is not a success, with 3CX's own message when it gave one."""
        server_error = (UnavailableError, "3CX answered with a server error")
        kind, message = MEANINGS.get(
            self.status, server_error if self.status >= 500 else (UnexpectedResponseError, "refused")
        )
        return kind(message, method=self.method, path=self.path, status=self.status, detail=self.detail())

    def detail(self) -> str | None:
        """What 3CX said in the body: OData's ``error.message``, or the token endpoint's ``error``
        (``invalid_client``)."""
        try:
            said = json.loads(self.body).get("error")
        except (ValueError, AttributeError):
            return None
        said = said.get("message") if isinstance(said, dict) else said
        return said.strip()[:500] if isinstance(said, str) and said.strip() else None

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            raise UnexpectedResponseError(
                "3CX answered with something that is not JSON", method=self.method, path=self.path, status=self.status
            ) from None

    def values(self) -> list[Any]:
        """The ``value`` list of an OData collection."""
        data = self.json()
        found = data.get("value") if isinstance(data, dict) else None
        if not isinstance(found, list):
            message = "3CX answered a query without a list of entries"
            raise UnexpectedResponseError(message, method=self.method, path=self.path)
        return found


def no_answer(exc: BaseException, method: str, path: str, *, creates: bool, sent: bool) -> UnavailableError:
    """What a try that got no answer (``sent``: the request may have reached 3CX) failed with."""
    if creates and sent:
        message = "3CX's answer was lost, so it is not known whether the entry was added"
    elif isinstance(exc, TimeoutError):
        message = "3CX did not answer in time"
    else:
        message = "3CX could not be reached"
    why = unreached(exc)
    # "connection refused" says more to people than a class name
    return UnavailableError(message, method=method, path=path, detail=why or type(exc).__name__, unreached=why)
