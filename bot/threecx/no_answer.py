"""A try of a request to 3CX that got no answer, and what that means: whether the request may have reached 3CX
(and, for a ``POST`` or a ``DELETE``, may have added or removed the entry); and aiohttp's own second send of a
request whose answer was lost."""

from __future__ import annotations

from types import SimpleNamespace

import aiohttp

from ..network import unreached
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
        changes = creates or method == "DELETE"  # a DELETE that reached 3CX may have removed the entry
        why = unreached(exc)
        error = UnavailableError(
            message,
            method=method,
            path=path,
            detail=why or type(exc).__name__,  # "connection refused" says more to people than a class name
            maybe_applied=changes and sent,
            unreached=why,
        )
        return cls(error, sent=sent)


class Sends:
    """How many times aiohttp sent one request: it sends an idempotent request (a ``GET``, a ``DELETE``) once more
    by itself when a kept-alive connection closes before the answer, so a second send means the first one's
    answer was lost (and 3CX may have carried it out)."""

    def __init__(self) -> None:
        self.count = 0

    @property
    def resent(self) -> bool:
        return self.count > 1


def counting_sends() -> aiohttp.TraceConfig:
    """A trace that counts each request's sends in the :class:`Sends` given as its ``trace_request_ctx``."""

    async def sent(_: aiohttp.ClientSession, context: SimpleNamespace, __: object) -> None:
        if isinstance(context.trace_request_ctx, Sends):
            context.trace_request_ctx.count += 1

    trace = aiohttp.TraceConfig()
    trace.on_request_headers_sent.append(sent)
    return trace
