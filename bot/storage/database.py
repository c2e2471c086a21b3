"""What the SQLite and PostgreSQL stores share about their database: the sentence when it cannot be used, waiting
while it is away, and the migrations to apply."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import TypeVar

from ..domain.ports import StoreUnreachable

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


async def retrying(
    operation: Callable[[], Awaitable[T]],
    *,
    transient: Callable[[BaseException], bool],
    wait: float,
    describe: Callable[[BaseException], str],
) -> T:
    """``operation()``, tried again while it fails with a ``transient`` error, for up to ``wait`` seconds."""
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
    """The numbered SQL files of ``migrations/<kind>/`` as (name, SQL), in order; ``schema_migrations`` names those
    applied, and a database naming one this bot does not know is newer."""
    folder = resources.files(__package__ or "bot.storage").joinpath("migrations", kind)
    files = sorted((f.name, f) for f in folder.iterdir() if f.name.endswith(".sql"))
    return [(name.removesuffix(".sql"), f.read_text(encoding="utf-8")) for name, f in files]


def newer_than_this_bot(applied: set[str], known: list[tuple[str, str]]) -> str | None:
    """The newest migration applied that this bot does not know, if any."""
    unknown = sorted(applied - {name for name, _ in known})
    return unknown[-1] if unknown else None
