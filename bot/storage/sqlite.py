"""SQLiteStore: the store in one SQLite file, for one bot process (and its ``check``).

Database work runs one piece at a time (``serial``): on one dedicated thread, so the
event loop does not block on disk, but for a decision's pieces, which run at once on the
event loop's thread. Every transition is a single ``UPDATE … WHERE id = ? AND state = ?``,
which is what makes a claim atomic.
A file that another process holds locked is waited for (``wait`` seconds).
"""

from __future__ import annotations

import asyncio
import fcntl
import sqlite3
import time
import urllib.parse
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from ..domain.model import Move, UnblockRequest
from ..domain.ports import Announcement
from ..threecx.tokens import Fetch
from . import contract, rows, watching
from .contract import Store
from .database import DEFAULT_WAIT, StoreUnavailable, migrations, newer_than_this_bot, retrying
from .serial import Serial

T = TypeVar("T")

#: how long one statement waits for a lock another process holds, before the store's own retries
BUSY_TIMEOUT = 1.0
#: (id, from_state, to_state, actor, at, answer): a transition's line in the log
LOG = "INSERT INTO transitions (request_id, from_state, to_state, actor, at, answer) VALUES (?, ?, ?, ?, ?, ?)"


class SQLiteStore(Store):
    #: SQLite's own row number: the order rows were inserted in
    ARRIVAL = "rowid"
    DUPLICATE = sqlite3.IntegrityError

    def __init__(self, path: str, *, wait: float = DEFAULT_WAIT) -> None:
        self._path = path
        self._wait = wait
        self._serial = Serial("sqlite")
        self._db: sqlite3.Connection | None = None

    async def open(self) -> None:
        try:
            await self._run(self._open)
        except (sqlite3.Error, OSError) as error:
            raise StoreUnavailable(_problem(self._path, error), retryable=_transient(error)) from None

    async def close(self) -> None:
        if self.pbx is not None:
            return  # a view: its store closes the file
        if self._db is not None:
            await self._run(self._db.close)
            self._db = None
        self._serial.stop()

    async def ping(self) -> None:
        await self._run(lambda: self._connection().execute("SELECT 1").fetchone())

    async def renew_token(self, stale: str | None, fetch: Fetch) -> tuple[str, float]:
        # one process at a time, under a lock file beside the database (the bot and its ``check`` may run at once),
        # one for each PBX (a PBX slow to give a token holds back no other)
        suffix = f"-{urllib.parse.quote(self._own, safe='')}" if self._own else ""
        lock = await asyncio.to_thread(open, f"{self._path}.token-lock{suffix}", "a")
        with lock:
            await asyncio.to_thread(fcntl.flock, lock.fileno(), fcntl.LOCK_EX)
            try:
                for token, renew_at in await self._fetch(contract.READ_TOKEN, self._token):
                    if token != stale and time.time() < renew_at:
                        return str(token), float(renew_at)
                token, renew_at = await fetch()  # still under the lock: the others wait for this token
                await self._write(contract.WRITE_TOKEN, self._token, token, renew_at)
                return token, renew_at
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)

    async def _atomic(self, *statements: tuple[str, Sequence[object]]) -> list[int]:
        def run(db: sqlite3.Connection) -> list[int]:
            with db:
                counts = [db.execute(sql, params).rowcount for sql, params in statements]
            return counts

        return await self._with_db(run)

    async def transition(self, move: Move) -> UnblockRequest | None:
        update, values = rows.update(move)
        logged = (move.request_id, move.from_state.value, move.to_state.value, move.actor, move.at, move.answer)

        def run(db: sqlite3.Connection) -> UnblockRequest | None:
            with db:
                if db.execute(update, values).rowcount != 1:
                    return None
                db.execute(LOG, logged)
                if move.frees_targets:
                    db.execute("DELETE FROM open_targets WHERE request_id = ?", (move.request_id,))
            return rows.request_from_row(db.execute(f"{rows.SELECT} WHERE id = ?", (move.request_id,)).fetchone())

        return await self._with_db(run)

    async def advance_watch(
        self, holder: str, mark: int | None, new_mark: int, announce: Sequence[Announcement], at: float
    ) -> bool:
        def advance(db: sqlite3.Connection) -> bool:
            with db:
                moved = db.execute(watching.ADVANCE, (new_mark, at, self._watcher, holder, mark)).rowcount == 1
                if moved:
                    db.executemany(watching.ANNOUNCE, self._announced(announce, at))
                return moved

        return await self._with_db(advance)

    # -- plumbing ----------------------------------------------------------------

    def _open(self) -> None:
        Path(self._path).parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self._path, check_same_thread=False, timeout=BUSY_TIMEOUT)
        try:
            for pragma in ("journal_mode = WAL", "synchronous = NORMAL", "foreign_keys = ON"):
                db.execute(f"PRAGMA {pragma}")
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
            newer = (
                f"schema version {legacy}"
                if legacy > len(known) and not applied
                else newer_than_this_bot(applied, known)
            )
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
        def fetch(db: sqlite3.Connection) -> list[Any]:
            with db:  # a write that returns rows is committed too
                return db.execute(sql, params).fetchall()

        return await self._with_db(fetch)

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
        return await self._serial.run(work)


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
