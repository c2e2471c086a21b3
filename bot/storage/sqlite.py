"""SQLiteStore: the store in one SQLite file, for one bot process (and its ``check``).

All database work runs on one dedicated thread, so the event loop never blocks
on disk and writes are serialised; every transition is a single
``UPDATE … WHERE id = ? AND state = ?``, which is what makes a claim atomic.
A file that another process holds locked is waited for (``wait`` seconds).
"""

from __future__ import annotations

import asyncio
import fcntl
import sqlite3
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from ..domain.model import Move, UnblockRequest
from ..domain.ports import AlreadyOpen, Announcement
from ..threecx.tokens import Fetch, TokenStore
from . import rows, shared
from .contract import DEFAULT_WAIT, StoreUnavailable, migrations, newer_than_this_bot, retrying
from .shared import Shared

T = TypeVar("T")

#: how long one statement waits for a lock another process holds, before the store's own retries
BUSY_TIMEOUT = 1.0


class SQLiteStore(Shared):
    #: SQLite's own row number: the order rows were inserted in
    ARRIVAL = "rowid"

    def __init__(self, path: str, *, wait: float = DEFAULT_WAIT) -> None:
        self._path = path
        self._wait = wait
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")
        self._db: sqlite3.Connection | None = None

    async def open(self) -> None:
        try:
            await self._run(self._open)
        except (sqlite3.Error, OSError) as error:
            raise StoreUnavailable(_problem(self._path, error), retryable=_transient(error)) from None

    async def close(self) -> None:
        if self._db is not None:
            await self._run(self._db.close)
            self._db = None
        self._executor.shutdown(wait=True)

    async def ping(self) -> None:
        await self._run(lambda: self._connection().execute("SELECT 1").fetchone())

    def tokens(self, name: str = "threecx") -> TokenStore:
        return SQLiteTokenStore(self, name, f"{self._path}.token-lock")

    async def add(self, request: UnblockRequest) -> None:
        def add(db: sqlite3.Connection) -> None:
            try:
                with db:
                    db.execute(
                        f"INSERT INTO requests ({rows.COLUMNS}) VALUES ({', '.join('?' * rows.COLUMN_COUNT)})",
                        rows.request_row(request),
                    )
                    db.execute(
                        "INSERT INTO transitions (request_id, from_state, to_state, actor, at) VALUES (?, ?, ?, ?, ?)",
                        (request.id, None, request.state.value, request.asked.by, request.asked.at),
                    )
                    db.executemany(
                        "INSERT INTO open_targets (target, request_id) VALUES (?, ?)",
                        [(key, request.id) for key in rows.target_keys(request)],
                    )
            except sqlite3.IntegrityError:
                keys = rows.target_keys(request)
                row = db.execute(
                    f"SELECT request_id FROM open_targets WHERE target IN ({', '.join('?' * len(keys))}) LIMIT 1", keys
                ).fetchone()
                if row is None:
                    raise
                raise AlreadyOpen(row[0]) from None

        await self._with_db(add)

    async def transition(self, move: Move) -> UnblockRequest | None:
        columns, required = rows.changes(move), rows.conditions(move)
        sets = ", ".join(f"{column} = ?" for column in columns)
        where = " AND ".join(f"{column} {op} ?" for column, op, _ in required)
        values = [*columns.values(), *(value for _, _, value in required)]
        logged = (move.request_id, move.from_state.value, move.to_state.value, move.actor, move.at, move.answer)

        def run(db: sqlite3.Connection) -> UnblockRequest | None:
            with db:
                if db.execute(f"UPDATE requests SET {sets} WHERE {where}", values).rowcount != 1:
                    return None
                db.execute(shared.LOG, logged)
                if move.frees_targets:
                    db.execute("DELETE FROM open_targets WHERE request_id = ?", (move.request_id,))
            return rows.request_from_row(db.execute(f"{rows.SELECT} WHERE id = ?", (move.request_id,)).fetchone())

        return await self._with_db(run)

    async def take_over(self, request_id: str, owner: str, heartbeat_at: float, at: float) -> UnblockRequest | None:
        taken = await self._write(
            "UPDATE requests SET owner = ?, heartbeat_at = ?"
            f" WHERE id = ? AND heartbeat_at = ? AND state IN {rows.CLAIMED}",
            owner,
            at,
            request_id,
            heartbeat_at,
        )
        return await self.get(request_id) if taken == 1 else None

    async def first_delivery(self, key: str, at: float, handler: str) -> bool:
        def claim(db: sqlite3.Connection) -> bool:
            with db:
                db.execute(
                    "INSERT OR IGNORE INTO deliveries (key, at, handled_by) VALUES (?, ?, ?)", (key, at, handler)
                )
            first = db.execute("SELECT handled_by FROM deliveries WHERE key = ?", (key,)).fetchone()
            return bool(first[0] == handler)

        return await self._with_db(claim)

    async def read_token(self, name: str) -> tuple[str, float] | None:
        def read(db: sqlite3.Connection) -> tuple[str, float] | None:
            row = db.execute("SELECT token, renew_at FROM access_tokens WHERE name = ?", (name,)).fetchone()
            return (str(row[0]), float(row[1])) if row else None

        return await self._with_db(read)

    async def write_token(self, name: str, token: str, renew_at: float) -> None:
        await self._write(
            "INSERT INTO access_tokens (name, token, renew_at) VALUES (?, ?, ?)"
            " ON CONFLICT (name) DO UPDATE SET token = excluded.token, renew_at = excluded.renew_at",
            name,
            token,
            renew_at,
        )

    async def hold_watch(self, holder: str, at: float, stale_before: float) -> tuple[bool, int | None]:
        def hold(db: sqlite3.Connection) -> tuple[bool, int | None]:
            with db:
                held = db.execute(shared.HOLD, (shared.WATCHER, holder, at, stale_before)).fetchone()
                if held is not None:
                    return True, held[0]
                return False, db.execute(shared.MARK, (shared.WATCHER,)).fetchone()[0]

        return await self._with_db(hold)

    async def advance_watch(
        self, holder: str, mark: int | None, new_mark: int, announce: Sequence[Announcement], at: float
    ) -> bool:
        def advance(db: sqlite3.Connection) -> bool:
            with db:
                moved = db.execute(shared.ADVANCE, (new_mark, at, shared.WATCHER, holder, mark)).rowcount == 1
                if moved:
                    db.executemany(shared.ANNOUNCE, [rows.announcement_row(a, at) for a in announce])
                return moved

        return await self._with_db(advance)

    # -- plumbing ----------------------------------------------------------------

    def _open(self) -> None:
        if self._path != ":memory:":
            Path(self._path).parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self._path, check_same_thread=False, timeout=BUSY_TIMEOUT)
        try:
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
            db.execute("PRAGMA foreign_keys = ON")
            self._migrate(db)
        except BaseException:
            db.close()
            raise
        self._db = db

    def _migrate(self, db: sqlite3.Connection) -> None:
        known = migrations("sqlite")
        db.execute("BEGIN IMMEDIATE")  # one process migrates at a time
        try:
            db.execute("CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)")
            applied = {row[0] for row in db.execute("SELECT name FROM schema_migrations")}
            legacy = db.execute("PRAGMA user_version").fetchone()[0]  # earlier versions counted migrations so
            if legacy > len(known) and not applied:
                newer: str | None = f"schema version {legacy}"
            else:
                newer = newer_than_this_bot(applied, known)
            if newer is not None:
                raise StoreUnavailable(
                    f"the database {self._path} was written by a newer unblock-bot ({newer}, which this one does "
                    "not know): upgrade the bot, or point DATABASE_URL elsewhere"
                )
            if not applied:
                applied = {name for name, _ in known[:legacy]}
                db.executemany("INSERT INTO schema_migrations VALUES (?, ?)", [(n, time.time()) for n in applied])
            for name, script in known:
                if name not in applied:
                    for statement in _statements(script):
                        db.execute(statement)
                    db.execute("INSERT INTO schema_migrations VALUES (?, ?)", (name, time.time()))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    async def _write(self, sql: str, *params: object) -> int:
        def write(db: sqlite3.Connection) -> int:
            with db:
                return db.execute(sql, params).rowcount

        return await self._with_db(write)

    async def _fetch(self, sql: str, *params: object) -> list[Any]:
        return await self._with_db(lambda db: db.execute(sql, params).fetchall())

    async def _with_db(self, work: Callable[[sqlite3.Connection], T]) -> T:
        db = self._connection()
        return await retrying(
            lambda: self._run(lambda: work(db)),
            transient=_transient,
            wait=self._wait,
            describe=lambda error: _problem(self._path, error),
        )

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("SQLiteStore.open() was not called")
        return self._db

    async def _run(self, work: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, work)


class SQLiteTokenStore:
    """The 3CX token in the file's ``access_tokens`` table; renewed by one process at a time, under a lock
    file beside the database (the bot and its ``check`` may run at once)."""

    def __init__(self, store: SQLiteStore, name: str, lock_path: str) -> None:
        self._store, self._name, self._lock_path = store, name, lock_path

    async def renew(self, stale: str | None, fetch: Fetch) -> tuple[str, float]:
        lock = await asyncio.to_thread(open, self._lock_path, "a")
        with lock:
            await asyncio.to_thread(fcntl.flock, lock.fileno(), fcntl.LOCK_EX)
            try:
                shared = await self._store.read_token(self._name)
                if shared is not None and shared[0] != stale and time.time() < shared[1]:
                    return shared
                token, renew_at = await fetch()  # still under the lock: the others wait for this token
                await self._store.write_token(self._name, token, renew_at)
                return token, renew_at
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def _statements(script: str) -> list[str]:
    """The statements of a migration, one by one (``executescript`` would commit the migration's lock away)."""
    statements, buffer = [], ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    return statements


def _transient(error: BaseException) -> bool:
    """Another process holds the file for a moment: worth waiting for."""
    return isinstance(error, sqlite3.OperationalError) and ("locked" in str(error) or "busy" in str(error))


def _problem(path: str, error: BaseException) -> str:
    """One sentence about a SQLite file that cannot be used."""
    text = str(error).lower()
    if isinstance(error, StoreUnavailable):
        return str(error)
    if _transient(error):
        return f"the database {path} is locked by another program (is another unblock-bot using it?)"
    if "not a database" in text or "malformed" in text or "corrupt" in text:
        return (
            f"{path} is not a usable SQLite database (damaged, or another kind of file): restore it from a "
            "backup, or point DATABASE_URL at a new file"
        )
    if isinstance(error, IsADirectoryError) or Path(path).is_dir():
        return f"{path} is a directory, not a database file: point DATABASE_URL at a file, e.g. sqlite:///unblock.db"
    return (
        f"the database {path} cannot be opened ({error.__class__.__name__}: {error}): check that its folder exists "
        "and that the bot may read and write there"
    )
