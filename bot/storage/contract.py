"""What every store does, and what it must not.

A store keeps requests and their transitions (``bot.domain.ports.RequestStore``), the blocklist
watcher's state (``WatchStore``), the weekly reports recorded (``ReportStore``), what only the Slack side
keeps: the Slack deliveries already handled, the choices offered and who looked at the Home tab
(``bot.slack.state.SlackState``, which a store meets by these methods, without importing Slack), and the 3CX
access token (``bot.threecx.tokens.TokenStore``). It must:

- make every transition one atomic compare-and-set (the rules of a move are in
  ``bot.domain.model.Move``, turned into conditions and changes by ``bot.storage.rows``, the same
  for every store), so that of two clicks in
  two processes exactly one wins;
- take an entry for exactly one open request, in the same transaction as the request;
- ride out a database that is briefly away: an operation that cannot reach the
  database is tried again for up to ``wait`` seconds (one log line per outage),
  then raises :class:`StoreUnreachable`;
- never block the event loop, and never log or raise a password.

It must not know Slack, 3CX's HTTP API, or the service's rules.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Protocol, TypeVar

from ..domain.ports import ReportStore, RequestStore, StoreUnreachable, WatchStore
from ..threecx.tokens import TokenStore

T = TypeVar("T")
log = logging.getLogger("bot.storage")

#: how long the bot waits for the database by default: at start, and for each read or write
DEFAULT_WAIT = 30.0


class StoreUnavailable(Exception):
    """The store ``DATABASE_URL`` names cannot be used; the message is one sentence for an admin,
    naming the place and what to check, never a password. ``retryable``: the database may simply not
    be up yet (worth waiting for at start)."""

    def __init__(self, sentence: str, *, retryable: bool = False) -> None:
        super().__init__(sentence)
        self.retryable = retryable


class Store(RequestStore, WatchStore, ReportStore, Protocol):
    """A request store (and the blocklist watcher's, the weekly reports', and the Slack side's), with its
    lifecycle."""

    async def home_opened(self, user: str, at: float) -> None:
        """``user`` looked at the bot's Home tab at ``at``."""
        ...

    async def home_viewers(self, since: float) -> list[str]:
        """Who looked at the Home tab at ``since`` or later."""
        ...

    async def card_posted(self, request_id: str, ts: str) -> None:
        """The card of the request is the message ``ts`` of its channel."""
        ...

    async def card_of(self, request_id: str) -> str | None:
        """The ``ts`` of the request's card; None when it has none (posted through a reply URL, or not yet)."""
        ...

    async def first_delivery(self, key: str, at: float, handler: str) -> bool:
        """Record that ``handler`` (one handling of a delivery) handles a Slack delivery; False if another
        did first (Slack's retry, a replay)."""
        ...

    async def forget_deliveries(self, before: float) -> None:
        """Forget the deliveries, and the choices offered, older than that moment."""
        ...

    async def keep_choice(self, choice_id: str, data: str, at: float) -> None:
        """Keep what a chooser offers, so that its buttons carry only an id."""
        ...

    async def choice(self, choice_id: str) -> str | None: ...

    async def open(self) -> None:
        """Connect and bring the schema up to date.

        Raises:
            StoreUnavailable: the database cannot be reached or used.
        """
        ...

    async def close(self) -> None: ...

    async def ping(self) -> None:
        """Raise unless the database answers now (no waiting: for readiness probes)."""
        ...

    def tokens(self) -> TokenStore:
        """The 3CX access token, shared by every process using this database."""
        ...


async def retrying(
    operation: Callable[[], Awaitable[T]],
    *,
    transient: Callable[[BaseException], bool],
    wait: float,
    describe: Callable[[BaseException], str],
) -> T:
    """``operation()``, tried again with backoff while it fails with a ``transient`` error, for up to ``wait``
    seconds; then :class:`StoreUnreachable` with ``describe(error)``."""
    deadline: float | None = None
    pause = 0.05
    while True:
        try:
            return await operation()
        except Exception as error:
            if not transient(error):
                raise
            now = time.monotonic()
            if deadline is None:
                deadline = now + wait
                log.warning("the database is not answering; trying again", extra={"problem": describe(error)})
            if now >= deadline:
                raise StoreUnreachable(describe(error)) from None
            await asyncio.sleep(min(pause, deadline - now))
            pause = min(pause * 2, 2.0)


def migrations(kind: str) -> list[tuple[str, str]]:
    """The schema of one kind of database (``sqlite``, ``postgres``) as (name, SQL), in the order they apply.

    Both kinds follow one scheme: numbered SQL files in ``bot/storage/migrations/<kind>/``, and a table
    ``schema_migrations`` naming those applied. A database naming one this bot does not know is newer.
    """
    folder = resources.files(__package__ or "bot.storage").joinpath("migrations", kind)
    files = sorted((f.name, f) for f in folder.iterdir() if f.name.endswith(".sql"))
    return [(name.removesuffix(".sql"), f.read_text(encoding="utf-8")) for name, f in files]


def newer_than_this_bot(applied: set[str], known: list[tuple[str, str]]) -> str | None:
    """The newest migration applied that this bot does not know, if any."""
    unknown = sorted(applied - {name for name, _ in known})
    return unknown[-1] if unknown else None
