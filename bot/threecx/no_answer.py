"""A try of a request to 3CX that got no answer, and what that means: whether the request may have reached 3CX
(and, for a ``POST``, may have added the entry)."""

from __future__ import annotations

import aiohttp

from .errors import UnavailableError


class NoAnswer(Exception):
    """A try got no answer; ``sent``: the request may have reached 3CX."""

    def __init__(self, error: UnavailableError, *, sent: bool) -> None:
        super().__init__(error.message)
        self.error, self.sent = error, sent

    @classmethod
    def of(cls, exc: BaseException, method: str, path: str, *, creates: bool) -> NoAnswer:
        sent = not isinstance(exc, aiohttp.ClientConnectorError)
        if creates and sent:
            message = "3CX's answer was lost, so it is not known whether the entry was added"
        elif isinstance(exc, TimeoutError):
            message = "3CX did not answer in time"
        else:
            message = "3CX could not be reached"
        error = UnavailableError(
            message, method=method, path=path, detail=type(exc).__name__, maybe_applied=creates and sent
        )
        return cls(error, sent=sent)
