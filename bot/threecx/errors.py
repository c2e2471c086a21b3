"""What can go wrong when talking to 3CX, one class per meaning.

Each error carries the method, the path and what 3CX answered (status and the
OData ``error.message``), never a credential: the request that failed is
described by its path only, and tokens travel in headers that are not kept.
"""

from __future__ import annotations


class ThreeCXError(Exception):
    """Root of every error the 3CX client raises."""

    #: short machine-readable name, kept in the request's record
    kind = "error"

    def __init__(
        self,
        message: str,
        *,
        method: str = "",
        path: str = "",
        status: int | None = None,
        detail: str | None = None,
        maybe_applied: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.method = method
        self.path = path
        self.status = status
        #: what 3CX said about it (OData ``error.message``), if anything
        self.detail = detail
        #: the request reached 3CX and its answer was lost: 3CX may have carried it out
        self.maybe_applied = maybe_applied

    def answer(self) -> str:
        """3CX's answer in one line, for the record: ``404 Not found: …``."""
        parts = [f"HTTP {self.status}" if self.status is not None else "no HTTP answer"]
        parts.append(self.message)
        if self.detail and self.detail != self.message:
            parts.append(self.detail)
        return ": ".join(parts)


class NotFoundError(ThreeCXError):
    """404: no such entry."""

    kind = "not_found"


class ChangedError(ThreeCXError):
    """412: the entry changed since it was read (ETag mismatch)."""

    kind = "changed"


class CredentialsError(ThreeCXError):
    """The token endpoint refused the client id/secret, or 401 persisted after a fresh token."""

    kind = "credentials"


class ForbiddenError(ThreeCXError):
    """403: the API client lacks the rights (System Admin role) for this call."""

    kind = "forbidden"


class UnavailableError(ThreeCXError):
    """5xx, a timeout or a network error, after the retries allowed."""

    kind = "unavailable"


class UnexpectedResponseError(ThreeCXError):
    """Any other answer: a 4xx not listed above, or a body that is not what the API promises."""

    kind = "other"
