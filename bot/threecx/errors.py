"""What can go wrong when talking to 3CX, one class per meaning.

Each error carries the method, the path and what 3CX answered (status and the
OData ``error.message``), never a credential: the request that failed is
described by its path only, and tokens travel in headers that are not kept.
"""

from __future__ import annotations

from ..domain.entries import CallFailed, Reason


class ThreeCXError(CallFailed):
    """Root of every error the 3CX client raises: a :class:`~bot.domain.entries.CallFailed` to the domain."""

    def __init_subclass__(cls, *, reason: Reason, **rest: object) -> None:
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


class NotFoundError(ThreeCXError, reason=Reason.NOT_FOUND):
    """404: no such entry."""


class ChangedError(ThreeCXError, reason=Reason.CHANGED):
    """412: the entry changed since it was read (ETag mismatch)."""


class CredentialsError(ThreeCXError, reason=Reason.CREDENTIALS):
    """The token endpoint refused the client id/secret, or 401 persisted after a fresh token."""


class ForbiddenError(ThreeCXError, reason=Reason.FORBIDDEN):
    """403: the API client lacks the rights (System Admin role) for this call."""


class UnavailableError(ThreeCXError, reason=Reason.UNAVAILABLE):
    """5xx, a timeout or a network error, after the retries allowed."""


class UnexpectedResponseError(ThreeCXError, reason=Reason.OTHER):
    """Any other answer: a 4xx not listed above, or a body that is not what the API promises."""
