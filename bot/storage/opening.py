"""Opening the store that ``DATABASE_URL`` names, and waiting for a database that is away: not up yet at start,
or briefly gone under an operation."""

from __future__ import annotations

import asyncio
import logging
import time

from . import urls
from .contract import Store
from .database import DEFAULT_WAIT, StoreUnavailable

log = logging.getLogger("bot.storage")


async def open_store(database_url: str, *, wait: float = DEFAULT_WAIT) -> Store:
    """Open (and migrate) the store that ``database_url`` names, waiting up to ``wait`` seconds for a database
    that is not up yet (one log line per try).

    Raises:
        StoreUnavailable: the database cannot be used, or was not up within ``wait`` seconds.
    """
    deadline, pause = time.monotonic() + wait, 0.5
    while True:
        store = _store(database_url, wait)
        try:
            await store.open()
            log.info("the database is open", extra={"database": urls.where(database_url)})
            return store
        except StoreUnavailable as error:
            left = deadline - time.monotonic()
            if not error.retryable or left <= 0:
                raise
            pause = min(pause, left)
            log.warning("the database is not up yet; trying again", extra={"problem": str(error), "in": pause})
            await asyncio.sleep(pause)
            pause = min(pause * 2, 10.0)


def _store(database_url: str, wait: float) -> Store:
    if urls.is_postgres(database_url):
        from .postgres import PostgresStore  # asyncpg is only needed here

        return PostgresStore(database_url, wait=wait)
    from .sqlite import SQLiteStore

    return SQLiteStore(urls.sqlite_file(database_url), wait=wait)
