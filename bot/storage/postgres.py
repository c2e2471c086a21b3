"""PostgresStore: the store in one PostgreSQL database that several bot processes share.

Every transition is one statement, ``UPDATE … WHERE id = $1 AND state = $2
RETURNING …``, which also writes its line in the transitions log, so of two
clicks at once, in one process or in two, exactly one moves the request. The
3CX access token is kept here too, renewed by one process at a time (an
advisory lock), because 3CX keeps one active token per API client.

The schema comes from ``bot/storage/migrations/postgres/*.sql``, applied in one
transaction under an advisory lock, so processes starting together do not race.
A connection lost to a restart of the server is opened again; an operation waits
for the server for up to ``wait`` seconds. Whatever asyncpg raises when the
connection under an operation goes away (the server's own error, a closed
connection, a protocol cut off mid-answer) is waited out the same way, so every
write is tried again, and each is written so that a try whose answer was lost is
recognised, never applied twice nor taken for a loss.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import asyncpg  # type: ignore[import-untyped]

from ..domain.model import Move, UnblockRequest
from ..domain.ports import Announcement
from ..threecx.tokens import Fetch
from . import contract, rows, watching
from .contract import Store
from .database import DEFAULT_WAIT, StoreUnavailable, migrations, newer_than_this_bot, retrying
from .postgres_errors import CONNECT_TIMEOUT, TRANSIENT, problem, transient

T = TypeVar("T")

#: advisory lock keys (any two numbers that nothing else using the database locks)
MIGRATIONS_LOCK = 0x75_6E_62_6C_6F_63_6B_01
ADOPTING_LOCK = 0x75_6E_62_6C_6F_63_6B_03
#: the class of the token's advisory locks, one for each PBX (with the hash of its token row's name)
TOKEN_LOCKS = 0x75_6E_62_6C
#: a small pool: each process holds few connections, so many processes fit under max_connections; none kept
#: open for nothing (a pool that keeps a floor logs a traceback a second while the server is away)
POOL_MIN, POOL_MAX = 0, 5
#: no statement waits longer than this (the longest is the wait for a token being fetched elsewhere)
COMMAND_TIMEOUT = 120.0


class PostgresStore(Store):
    ARRIVAL = "seq"
    DUPLICATE = asyncpg.UniqueViolationError
    ADOPTING = f"SELECT pg_advisory_xact_lock({ADOPTING_LOCK})"

    def __init__(self, database_url: str, *, wait: float = DEFAULT_WAIT) -> None:
        self._url = database_url
        self._wait = wait
        self._pool: asyncpg.Pool | None = None
        #: the PBXes' tokens being fetched, each holding a connection while 3CX answers: never all of the pool's,
        #: so that PBXes slow to give a token leave the database to the others' work (shared by the views)
        self._fetching = asyncio.Semaphore(POOL_MAX - 2)

    async def open(self) -> None:
        pool: asyncpg.Pool | None = None
        try:
            pool = await asyncpg.create_pool(
                self._url,
                min_size=POOL_MIN,
                max_size=POOL_MAX,
                command_timeout=COMMAND_TIMEOUT,
                timeout=CONNECT_TIMEOUT,
            )
            async with pool.acquire() as db:
                await _migrate(db)
        except BaseException as error:
            if pool is not None:
                await pool.close()
            if isinstance(error, (*TRANSIENT, asyncpg.PostgresError, asyncpg.InterfaceError)):
                raise StoreUnavailable(problem(self._url, error), retryable=transient(error)) from None
            raise
        self._pool = pool

    async def close(self) -> None:
        if self.pbx is not None:
            return  # a view: its store closes the pool
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def ping(self) -> None:
        await self._pool_or_fail().fetchval("SELECT 1", timeout=2.0)

    async def renew_token(self, stale: str | None, fetch: Fetch) -> tuple[str, float]:
        try:
            return await self._call(lambda pool, _: self._renew_token(pool, stale, fetch))
        except _Fetching as failed:
            raise failed.error from None

    async def _renew_token(self, pool: asyncpg.Pool, stale: str | None, fetch: Fetch) -> tuple[str, float]:
        async with self._fetching, pool.acquire() as db, db.transaction():
            # the lock and the read are two statements: a statement sees the data committed when it
            # started, so a read in the same statement as the wait would miss a token stored meanwhile; one lock for
            # each PBX (a PBX slow to give a token holds back no other)
            await db.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", TOKEN_LOCKS, self._token)
            row = await db.fetchrow(_numbered(contract.READ_TOKEN), self._token)
            if row is not None and row["token"] != stale and time.time() < row["renew_at"]:
                return str(row["token"]), float(row["renew_at"])
            try:
                token, renew_at = await fetch()  # still under the lock: the others wait for this token
            except Exception as error:  # 3CX's answer, not the database's: never waited for here
                raise _Fetching(error) from error
            await db.execute(_numbered(contract.WRITE_TOKEN), self._token, token, renew_at)
            return token, renew_at

    async def _atomic(self, *statements: tuple[str, Sequence[object]]) -> list[int]:
        async def run(pool: asyncpg.Pool, _again: bool) -> list[int]:
            async with pool.acquire() as db, db.transaction():
                return [_count(await db.execute(_numbered(sql), *params)) for sql, params in statements]

        return await self._call(run)

    async def transition(self, move: Move) -> UnblockRequest | None:
        update, values = rows.update(move)
        freed = ", freed AS (DELETE FROM open_targets WHERE request_id IN (SELECT id FROM moved))"
        sql = _numbered(f"""
            WITH moved AS ({update} RETURNING {rows.COLUMNS}), logged AS (
                INSERT INTO transitions (request_id, from_state, to_state, actor, at, answer)
                SELECT id, ?, ?, ?, ?::double precision, ? FROM moved
            ){freed if move.frees_targets else ""}
            SELECT {rows.COLUMNS} FROM moved
        """)
        logged = (move.from_state.value, move.to_state.value, move.actor, move.at, move.answer)

        async def transition(pool: asyncpg.Pool, again: bool) -> asyncpg.Record | None:
            async with pool.acquire() as db:
                row = await db.fetchrow(sql, *values, *logged)
                if row is None and again:
                    # an earlier try may have made this very move, and its answer been lost: the log says
                    row = await db.fetchrow(_MOVED, move.request_id, *logged[:4])
                return row

        row = await self._call(transition)
        return rows.request_from_row(row) if row is not None else None

    async def advance_watch(
        self, holder: str, mark: int | None, new_mark: int, announce: Sequence[Announcement], at: float
    ) -> bool:
        async def advance(pool: asyncpg.Pool, again: bool) -> bool:
            async with pool.acquire() as db, db.transaction():
                status = await db.execute(_numbered(watching.ADVANCE), new_mark, at, self._watcher, holder, mark)
                if status != "UPDATE 1":
                    # an earlier try may have moved the mark (and kept the announcements), its answer lost
                    return again and bool(await db.fetchval(_ADVANCED, self._watcher, holder, new_mark, at))
                await db.executemany(_numbered(watching.ANNOUNCE), self._announced(announce, at))
                return True

        return await self._call(advance)

    # -- plumbing ----------------------------------------------------------------

    async def _write(self, sql: str, *params: object) -> int:
        return _count(await self._call(lambda pool, _: pool.execute(_numbered(sql), *params)))

    async def _fetch(self, sql: str, *params: object) -> list[Any]:
        return list(await self._call(lambda pool, _: pool.fetch(_numbered(sql), *params)))

    async def _call(self, operation: Callable[[asyncpg.Pool, bool], Awaitable[T]]) -> T:
        """``operation(pool, again)``, tried again while the database is away; ``again``: an earlier try was made,
        and may have been carried out with its answer lost."""
        pool, tries = self._pool_or_fail(), itertools.count()
        return await retrying(
            lambda: operation(pool, next(tries) > 0),
            transient=transient,
            wait=self._wait,
            describe=lambda e: problem(self._url, e),
        )

    def _pool_or_fail(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("PostgresStore.open() was not called")
        return self._pool


class _Fetching(Exception):
    """Fetching a token failed (carries the error): not a matter for the database's retries."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


async def _migrate(db: asyncpg.Connection) -> None:
    known = migrations("postgres")
    async with db.transaction():
        await db.execute("SELECT pg_advisory_xact_lock($1)", MIGRATIONS_LOCK)
        await db.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations"
            " (name TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
        applied = {row["name"] for row in await db.fetch("SELECT name FROM schema_migrations")}
        newer = newer_than_this_bot(applied, known)
        if newer is not None:
            raise StoreUnavailable(
                f"the PostgreSQL database was set up by a newer unblock-bot (it has migration {newer}, "
                "which this one does not know): upgrade the bot, or point DATABASE_URL elsewhere"
            )
        for name, sql in known:
            if name not in applied:
                await db.execute(sql)
                await db.execute("INSERT INTO schema_migrations (name) VALUES ($1)", name)


def _count(status: str) -> int:
    """How many rows a statement changed, from its status (``UPDATE 3``, ``INSERT 0 1``)."""
    return int(status.rsplit(" ", 1)[-1])


def _numbered(sql: str) -> str:
    """``?`` placeholders as PostgreSQL's ``$1``, ``$2``, … (the shared reads hold no other ``?``)."""
    pieces = sql.split("?")
    return "".join(f"{piece}${n}" for n, piece in enumerate(pieces[:-1], start=1)) + pieces[-1]


#: (name, holder, new_mark, at): the mark was moved by this very advance
_ADVANCED = "SELECT TRUE FROM watch_state WHERE name = $1 AND holder = $2 AND high_water = $3 AND heartbeat_at = $4"
#: (request_id, from_state, to_state, actor, at): the request, if the log holds this very transition
_MOVED = (
    f"SELECT {rows.COLUMNS} FROM requests WHERE id = $1 AND EXISTS (SELECT 1 FROM transitions"
    " WHERE request_id = $1 AND from_state = $2 AND to_state = $3 AND actor IS NOT DISTINCT FROM $4"
    " AND at = $5::double precision)"
)
