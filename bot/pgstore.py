"""PostgresStore: requests, their transitions and the shared 3CX token in one PostgreSQL database.

Several bot processes can share the database. Every transition is one statement,
``UPDATE … WHERE id = $1 AND state = $2 RETURNING …``, which also writes its line
in the transitions log, so of two clicks at once, in one process or in two,
exactly one moves the request. A request's row has the same columns and the same
JSON as in SQLite (``bot.store``), written and read by the same helpers.

The schema comes from ``bot/migrations/postgres/*.sql``: :meth:`PostgresStore.open`
applies the files not yet recorded in ``schema_migrations``, in name order, in one
transaction under an advisory lock, so processes starting together do not race.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import asyncpg  # type: ignore[import-untyped]

from .store import (  # one row layout for both stores
    COLUMNS,
    StoreUnavailable,
    request_from_row,
    request_row,
    results_json,
)
from .unblock import Result, State, Transition, UnblockRequest

if TYPE_CHECKING:  # the 3CX client module imports aiohttp, which the domain does without
    from .threecx.client import TokenStore

#: advisory lock keys (any two numbers that nothing else using the database locks)
MIGRATIONS_LOCK = 0x75_6E_62_6C_6F_63_6B_01
TOKEN_LOCK = 0x75_6E_62_6C_6F_63_6B_02
#: a small pool: each process holds few connections, so many processes fit under max_connections
POOL_MIN, POOL_MAX = 1, 5
#: how long opening a connection may take
CONNECT_TIMEOUT = 10.0
#: no statement waits longer than this (the longest is the wait for a token being fetched elsewhere)
COMMAND_TIMEOUT = 120.0

_SELECT = f"SELECT {COLUMNS} FROM requests"


def migrations() -> list[tuple[str, str]]:
    """Every migration shipped with the bot, as (name, SQL), in the order they apply."""
    folder = resources.files(__package__ or "bot").joinpath("migrations", "postgres")
    files = sorted((f.name, f) for f in folder.iterdir() if f.name.endswith(".sql"))
    return [(name.removesuffix(".sql"), f.read_text(encoding="utf-8")) for name, f in files]


class PostgresStore:
    def __init__(self, database_url: str) -> None:
        self._url = database_url
        self._pool: asyncpg.Pool | None = None

    async def open(self) -> None:
        """Connect and bring the schema up to date.

        Raises:
            StoreUnavailable: the server cannot be reached or refuses, or the schema is newer than this bot.
        """
        try:
            pool = await asyncpg.create_pool(
                self._url,
                min_size=POOL_MIN,
                max_size=POOL_MAX,
                command_timeout=COMMAND_TIMEOUT,
                timeout=CONNECT_TIMEOUT,
            )
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            raise StoreUnavailable(postgres_problem(self._url, error)) from None
        try:
            async with pool.acquire() as db:
                await _migrate(db)
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            await pool.close()
            raise StoreUnavailable(postgres_problem(self._url, error)) from None
        except BaseException:
            await pool.close()
            raise
        self._pool = pool

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    def token_store(self, name: str = "threecx") -> TokenStore:
        """The 3CX access token shared by every process using this database."""
        return PostgresTokenStore(self, name)

    async def add(self, request: UnblockRequest) -> None:
        await self._db().execute(
            f"""
            WITH added AS (
                INSERT INTO requests ({COLUMNS}) VALUES ({", ".join(f"${n}" for n in range(1, 17))})
                RETURNING id, state, requester, created_at
            )
            INSERT INTO transitions (request_id, from_state, to_state, actor, at)
            SELECT id, NULL, state, requester, created_at FROM added
            """,
            *request_row(request),
        )

    async def get(self, request_id: str) -> UnblockRequest | None:
        row = await self._db().fetchrow(f"{_SELECT} WHERE id = $1", request_id)
        return request_from_row(row) if row is not None else None

    async def set_message_ts(self, request_id: str, message_ts: str) -> None:
        await self._db().execute("UPDATE requests SET message_ts = $2 WHERE id = $1", request_id, message_ts)

    async def transition(
        self,
        request_id: str,
        from_state: State,
        to_state: State,
        *,
        actor: str | None,
        at: float,
        results: tuple[Result, ...] | None = None,
        undo_until: float | None = None,
        undo_results: tuple[Result, ...] | None = None,
    ) -> UnblockRequest | None:
        # what is not given (None) stays as it was
        sets = [
            "state = $3",
            "results = COALESCE($6, results)",
            "undo_until = COALESCE($7, undo_until)",
            "undo_results = COALESCE($8, undo_results)",
        ]
        if from_state is State.PENDING:
            sets += ["resolved_by = $4", "resolved_at = $5"]
        if to_state is State.UNDOING:
            sets += ["undone_by = $4", "undone_at = $5"]
        answers = [r.answer for r in (undo_results or results or ())]
        row = await self._db().fetchrow(
            f"""
            WITH moved AS (
                UPDATE requests SET {", ".join(sets)} WHERE id = $1 AND state = $2
                RETURNING {COLUMNS}
            ), logged AS (
                INSERT INTO transitions (request_id, from_state, to_state, actor, at, answer)
                SELECT id, $2, $3, $4, $5, $9 FROM moved
            )
            SELECT {COLUMNS} FROM moved
            """,
            request_id,
            from_state.value,
            to_state.value,
            actor,
            at,
            _given(results),
            undo_until,
            _given(undo_results),
            "; ".join(answers) if answers else None,
        )
        return request_from_row(row) if row is not None else None

    async def transitions(self, request_id: str) -> list[Transition]:
        rows = await self._db().fetch(
            "SELECT request_id, from_state, to_state, actor, at, answer FROM transitions"
            " WHERE request_id = $1 ORDER BY seq",
            request_id,
        )
        return [Transition(r[0], State(r[1]) if r[1] else None, State(r[2]), r[3], r[4], r[5]) for r in rows]

    async def recent(self, count: int) -> list[UnblockRequest]:
        rows = await self._db().fetch(f"{_SELECT} ORDER BY created_at DESC, seq DESC LIMIT $1", count)
        return [request_from_row(row) for row in rows]

    async def pending_expired(self, now: float) -> list[UnblockRequest]:
        rows = await self._db().fetch(
            f"{_SELECT} WHERE state = $1 AND expires_at <= $2 ORDER BY expires_at LIMIT 500",
            State.PENDING.value,
            now,
        )
        return [request_from_row(row) for row in rows]

    async def first_delivery(self, key: str, at: float) -> bool:
        status = await self._db().execute(
            "INSERT INTO deliveries (key, at) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING", key, at
        )
        return bool(status == "INSERT 0 1")

    async def forget_deliveries(self, before: float) -> None:
        await self._db().execute("DELETE FROM deliveries WHERE at < $1", before)

    async def stuck(self, claimed_before: float | None) -> list[UnblockRequest]:
        cutoff = float("inf") if claimed_before is None else claimed_before
        rows = await self._db().fetch(
            f"{_SELECT} WHERE (state = $1 AND resolved_at < $3) OR (state = $2 AND undone_at < $3)",
            State.EXECUTING.value,
            State.UNDOING.value,
            cutoff,
        )
        return [request_from_row(row) for row in rows]

    def _db(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("PostgresStore.open() was not called")
        return self._pool


class PostgresTokenStore:
    """The 3CX access token in the ``access_tokens`` row ``name``, renewed by one process at a time."""

    def __init__(self, store: PostgresStore, name: str) -> None:
        self._store = store
        self._name = name

    async def renew(self, stale: str | None, fetch: Callable[[], Awaitable[tuple[str, float]]]) -> tuple[str, float]:
        async with self._store._db().acquire() as db, db.transaction():
            # the lock and the read are two statements: a statement sees the data committed when it
            # started, so a read in the same statement as the wait would miss a token stored meanwhile
            await db.execute("SELECT pg_advisory_xact_lock($1)", TOKEN_LOCK)
            row = await db.fetchrow("SELECT token, renew_at FROM access_tokens WHERE name = $1", self._name)
            if row is not None and row["token"] != stale and time.time() < row["renew_at"]:
                return str(row["token"]), float(row["renew_at"])
            token, renew_at = await fetch()  # still under the lock: the others wait for this token
            await db.execute(
                "INSERT INTO access_tokens (name, token, renew_at) VALUES ($1, $2, $3)"
                " ON CONFLICT (name) DO UPDATE SET token = excluded.token, renew_at = excluded.renew_at",
                self._name,
                token,
                renew_at,
            )
            return token, renew_at


async def _migrate(db: asyncpg.Connection) -> None:
    known = migrations()
    async with db.transaction():
        await db.execute("SELECT pg_advisory_xact_lock($1)", MIGRATIONS_LOCK)
        await db.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations"
            " (name TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
        applied = {row["name"] for row in await db.fetch("SELECT name FROM schema_migrations")}
        newer = sorted(applied - {name for name, _ in known})
        if newer:
            raise StoreUnavailable(
                f"the PostgreSQL database was set up by a newer unblock-bot (it has migration {newer[-1]}, "
                "which this one does not know): upgrade the bot, or point DATABASE_URL elsewhere"
            )
        for name, sql in known:
            if name not in applied:
                await db.execute(sql)
                await db.execute("INSERT INTO schema_migrations (name) VALUES ($1)", name)


def postgres_problem(database_url: str, error: BaseException) -> str:
    """One sentence about a PostgreSQL database that cannot be used: where, and what to check (no password)."""
    parts = urlsplit(database_url)
    where = f"{parts.hostname or 'localhost'}:{parts.port or 5432}"
    database = parts.path.lstrip("/") or parts.username or "postgres"
    if isinstance(error, asyncpg.InvalidPasswordError | asyncpg.InvalidAuthorizationSpecificationError):
        return (
            f"PostgreSQL at {where} refused the user {parts.username or '(none)'!r}: check the user name and "
            "password in DATABASE_URL, and the server's pg_hba.conf"
        )
    if isinstance(error, asyncpg.InvalidCatalogNameError):
        return f"PostgreSQL at {where} has no database {database!r}: create it, or correct DATABASE_URL"
    if isinstance(error, TimeoutError):
        return (
            f"PostgreSQL at {where} did not answer within {CONNECT_TIMEOUT:g} s: check that the server is running "
            "and that a firewall lets the bot through"
        )
    if isinstance(error, OSError):
        reason = error.strerror or type(error).__name__
        return (
            f"cannot connect to PostgreSQL at {where} ({reason}): check that the server is running and that "
            "DATABASE_URL names the right host and port"
        )
    return f"PostgreSQL at {where} refused to open database {database!r} ({type(error).__name__}): {error}"


def _given(results: tuple[Result, ...] | None) -> str | None:
    return None if results is None else results_json(results)
