"""What asyncpg's errors mean for the store: the server away or a connection lost (worth waiting for), or
a database that cannot be used (one sentence for an admin, never a password)."""

from __future__ import annotations

from urllib.parse import urlsplit

import asyncpg  # type: ignore[import-untyped]

from . import urls

#: how long opening a connection may take
CONNECT_TIMEOUT = 10.0

#: the server is away (stopped, restarting, unreachable), not refusing: worth waiting for
TRANSIENT = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
)
#: what asyncpg says in an ``InterfaceError`` or ``InternalClientError`` when the connection under an operation
#: went away, or the server's goodbye arrived in the middle of it; its other such errors are mistakes in the bot
#: (the wrong arguments, a connection used after its release), raised at once
CONNECTION_LOST = (
    "connection is closed",
    "connection was closed",
    "cannot switch to state",
    'protocol is in the "failed" state',
)


def transient(error: BaseException) -> bool:
    """The server is away, or the connection under an operation went away (asyncpg's error, or its complaint
    about a connection closed under it while it handled one): worth trying again on another connection."""
    if isinstance(error, TRANSIENT):
        return True
    if not isinstance(error, asyncpg.InterfaceError | asyncpg.InternalClientError):
        return False
    if any(words in str(error) for words in CONNECTION_LOST):
        return True
    cause = error.__cause__ or error.__context__
    return cause is not None and transient(cause)


#: what an admin is told, for the first kind of error that matches (after these: a connection lost, or refused)
PROBLEMS: tuple[tuple[tuple[type[BaseException], ...], str], ...] = (
    (
        (asyncpg.InvalidPasswordError, asyncpg.InvalidAuthorizationSpecificationError),
        "PostgreSQL at {where} refused the user {user!r}: check the user name and password in DATABASE_URL, and "
        "the server's pg_hba.conf",
    ),
    (
        (asyncpg.InvalidCatalogNameError,),
        "PostgreSQL at {where} has no database {database!r}: create it, or correct DATABASE_URL",
    ),
    (
        (TimeoutError,),
        f"PostgreSQL at {{where}} did not answer within {CONNECT_TIMEOUT:g} seconds: check that the server is "
        "running and that a firewall lets the bot through",
    ),
    (
        (OSError,),
        "cannot connect to PostgreSQL at {where} ({reason}): check that the server is running and that "
        "DATABASE_URL names the right host and port",
    ),
    (TRANSIENT, "PostgreSQL at {where} is not taking connections right now ({kind})"),
)


def problem(database_url: str, error: BaseException) -> str:
    """One sentence about a PostgreSQL database that cannot be used: where, and what to check (no password)."""
    where, user = urls.server(database_url), urlsplit(database_url).username
    database = urlsplit(database_url).path.lstrip("/") or user or "postgres"  # PostgreSQL's default: the user's name
    kind = type(error).__name__
    reason = getattr(error, "strerror", None) or kind
    for kinds, sentence in PROBLEMS:
        if isinstance(error, kinds):
            return sentence.format(where=where, user=user or "(none)", database=database, reason=reason, kind=kind)
    if transient(error):
        return f"the connection to PostgreSQL at {where} was lost ({kind}: {error})"
    return f"PostgreSQL at {where} refused to open database {database!r} ({kind}): {error}"
