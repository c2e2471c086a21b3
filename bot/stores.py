"""Which store ``DATABASE_URL`` names, and opening it.

- ``sqlite:///unblock.db``: one SQLite file, owned by one process.
- ``postgresql://…`` (or ``postgres://…``): one PostgreSQL database that several
  processes share, together with the 3CX access token (needs the ``postgres`` extra).
"""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING, NamedTuple, Protocol
from urllib.parse import urlsplit

from .store import SQLiteStore, StoreUnavailable, sqlite_path
from .unblock import RequestStore

if TYPE_CHECKING:  # the 3CX client module imports aiohttp, which the domain does without
    from .threecx.client import TokenStore

POSTGRES_SCHEMES = ("postgresql", "postgres")
__all__ = [
    "OpenedStore",
    "Store",
    "StoreUnavailable",
    "check_database_url",
    "describe_database",
    "is_postgres_url",
    "open_store",
]


class Store(RequestStore, Protocol):
    """A request store with its lifecycle."""

    async def open(self) -> None: ...

    async def close(self) -> None: ...


class OpenedStore(NamedTuple):
    store: Store
    #: where processes sharing the store share the 3CX token; None when one process owns the store
    tokens: TokenStore | None
    #: True when only this process uses the store, so what it finds half done is its own doing
    exclusive: bool


def is_postgres_url(database_url: str) -> bool:
    return urlsplit(database_url).scheme in POSTGRES_SCHEMES


def check_database_url(raw: str) -> str:
    """``raw`` if the bot can open it, else ValueError saying what is wrong (for the settings)."""
    if is_postgres_url(raw):
        if importlib.util.find_spec("asyncpg") is None:
            raise ValueError("names PostgreSQL, which needs asyncpg: pip install 'unblock-bot[postgres]'")
        return raw
    try:
        sqlite_path(raw)
    except ValueError:
        raise ValueError(
            "is neither a SQLite URL like sqlite:///unblock.db nor a PostgreSQL URL like postgresql://host/unblock"
        ) from None
    return raw


def describe_database(database_url: str) -> str:
    """Where the requests are kept, for people: no password."""
    if is_postgres_url(database_url):
        parts = urlsplit(database_url)
        return f"PostgreSQL database {parts.path.lstrip('/') or '(default)'} at {parts.hostname}:{parts.port or 5432}"
    return f"SQLite file {sqlite_path(database_url)}"


async def open_store(database_url: str) -> OpenedStore:
    """Open (and migrate) the store that ``database_url`` names.

    Raises:
        StoreUnavailable: the database cannot be reached, opened or read, or its schema is newer than this bot.
    """
    if is_postgres_url(database_url):
        from .pgstore import PostgresStore  # asyncpg is only needed here

        shared = PostgresStore(database_url)
        await shared.open()
        return OpenedStore(shared, shared.token_store(), exclusive=False)
    own = SQLiteStore(sqlite_path(database_url))
    await own.open()
    return OpenedStore(own, None, exclusive=True)
