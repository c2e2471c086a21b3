"""How processes share the 3CX access token (3CX keeps one active token per API client)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

#: asks 3CX for a token: (token, when to renew it, in epoch seconds)
Fetch = Callable[[], Awaitable[tuple[str, float]]]
#: the token shared between the processes that use one database (the bot's replicas, and ``python -m bot check``),
#: so that none invalidates another's by fetching its own: ``renew(stale, fetch)`` returns the shared token unless
#: it is ``stale`` (3CX just refused it) or due for renewal; then it calls ``fetch``, one process at a time, and
#: shares the result
RenewToken = Callable[[str | None, Fetch], Awaitable[tuple[str, float]]]
