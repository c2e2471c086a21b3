"""What ``DATABASE_URL`` names. Pure parsing: no database driver, nothing else of the bot.

- ``sqlite:///unblock.db`` (relative) or ``sqlite:////var/lib/unblock/unblock.db`` (absolute): one SQLite
  file, for one bot process (``python -m bot check`` may share it).
- ``postgresql://user:password@host:port/database`` (or ``postgres://…``): one PostgreSQL database that
  several bot processes share (needs the ``postgres`` extra, asyncpg).
"""

from __future__ import annotations

import importlib.util
import os
from urllib.parse import urlsplit

POSTGRES_SCHEMES = ("postgresql", "postgres")


def is_postgres(database_url: str) -> bool:
    return urlsplit(database_url).scheme in POSTGRES_SCHEMES


def sqlite_path(database_url: str) -> str:
    """``sqlite:///unblock.db`` → ``unblock.db`` (relative), ``sqlite:////var/x.db`` → ``/var/x.db``."""
    parts = urlsplit(database_url)
    if parts.scheme != "sqlite" or parts.netloc or not parts.path.startswith("/") or len(parts.path) < 2:
        raise ValueError("is not a SQLite URL like sqlite:///unblock.db or sqlite:////var/lib/unblock.db")
    return parts.path[1:]


def sqlite_file(database_url: str) -> str:
    """The SQLite file's absolute path: a relative one is under the working folder."""
    return os.path.abspath(sqlite_path(database_url))


def relative_folders(database_url: str) -> str | None:
    """For a SQLite file named with folders relative to the working folder (``sqlite:///var/lib/unblock.db``,
    three slashes, is ``./var/lib/unblock.db``), the URL of the absolute path it may have been meant as
    (``sqlite:////var/lib/unblock.db``); None for any other URL."""
    if is_postgres(database_url):
        return None
    path = sqlite_path(database_url)
    return None if os.path.isabs(path) or os.path.dirname(path) in ("", ".") else f"sqlite:////{path}"


def check(raw: str) -> str:
    """``raw`` if the bot can open it, else ValueError saying what is wrong (for the settings)."""
    if is_postgres(raw):
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


def password(database_url: str) -> str | None:
    """The password in the URL, if any (to be masked in logs)."""
    return urlsplit(database_url).password


def where(database_url: str) -> str:
    """Where the requests are kept, for people: the file, or the server and database (never a password)."""
    if is_postgres(database_url):
        parts = urlsplit(database_url)
        return f"PostgreSQL database {parts.path.lstrip('/') or '(default)'} at {server(database_url)}"
    return f"SQLite file {sqlite_file(database_url)}"


def server(database_url: str) -> str:
    """``host:port`` of a PostgreSQL URL."""
    parts = urlsplit(database_url)
    return f"{parts.hostname or 'localhost'}:{parts.port or 5432}"
