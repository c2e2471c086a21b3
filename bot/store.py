"""SQLiteStore: requests and their transitions in one SQLite file.

All database work runs on one dedicated thread, so the event loop never
blocks on disk and writes are serialised; every transition is a single
``UPDATE … WHERE id = ? AND state = ?``, which is what makes a claim atomic.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from .threecx import BlocklistEntry
from .unblock import State, Transition, UnblockRequest

T = TypeVar("T")

#: each item upgrades the schema by one version (PRAGMA user_version)
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE requests (
        id               TEXT PRIMARY KEY,
        entry_id         INTEGER NOT NULL,
        ip_addr_mask     TEXT,
        description      TEXT,
        block_type       TEXT,
        added_by         TEXT,
        entry_expires_at TEXT,
        etag             TEXT,
        requester        TEXT NOT NULL,
        channel          TEXT NOT NULL,
        created_at       REAL NOT NULL,
        expires_at       REAL NOT NULL,
        state            TEXT NOT NULL,
        message_ts       TEXT,
        resolved_by      TEXT,
        resolved_at      REAL,
        outcome          TEXT,
        answer           TEXT
    );
    CREATE INDEX requests_state ON requests (state, expires_at);
    CREATE TABLE transitions (
        seq        INTEGER PRIMARY KEY AUTOINCREMENT,
        request_id TEXT NOT NULL REFERENCES requests (id),
        from_state TEXT,
        to_state   TEXT NOT NULL,
        actor      TEXT,
        at         REAL NOT NULL,
        outcome    TEXT,
        answer     TEXT
    );
    CREATE INDEX transitions_request ON transitions (request_id, seq);
    """,
)

_REQUEST_COLUMNS = (
    "id, entry_id, ip_addr_mask, description, block_type, added_by, entry_expires_at, etag, requester, "
    "channel, created_at, expires_at, state, message_ts, resolved_by, resolved_at, outcome, answer"
)


def sqlite_path(database_url: str) -> str:
    """``sqlite:///unblock.db`` → ``unblock.db`` (relative), ``sqlite:////var/x.db`` → ``/var/x.db``."""
    parts = urlsplit(database_url)
    if parts.scheme != "sqlite" or parts.netloc or not parts.path.startswith("/") or len(parts.path) < 2:
        raise ValueError("is not a SQLite URL like sqlite:///unblock.db or sqlite:////var/lib/unblock.db")
    return parts.path[1:]


class SQLiteStore:
    def __init__(self, path: str) -> None:
        self._path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")
        self._db: sqlite3.Connection | None = None

    async def open(self) -> None:
        await self._run(self._open)

    async def close(self) -> None:
        if self._db is not None:
            await self._run(self._db.close)
            self._db = None
        self._executor.shutdown(wait=True)

    async def add(self, request: UnblockRequest) -> None:
        def add(db: sqlite3.Connection) -> None:
            with db:
                db.execute(
                    f"INSERT INTO requests ({_REQUEST_COLUMNS}) VALUES ({', '.join('?' * 18)})",
                    _request_row(request),
                )
                db.execute(
                    "INSERT INTO transitions (request_id, from_state, to_state, actor, at) VALUES (?, ?, ?, ?, ?)",
                    (request.id, None, request.state.value, request.requester, request.created_at),
                )

        await self._with_db(add)

    async def get(self, request_id: str) -> UnblockRequest | None:
        def get(db: sqlite3.Connection) -> UnblockRequest | None:
            row = db.execute(f"SELECT {_REQUEST_COLUMNS} FROM requests WHERE id = ?", (request_id,)).fetchone()
            return _request_from_row(row) if row else None

        return await self._with_db(get)

    async def set_message_ts(self, request_id: str, message_ts: str) -> None:
        def set_ts(db: sqlite3.Connection) -> None:
            with db:
                db.execute("UPDATE requests SET message_ts = ? WHERE id = ?", (message_ts, request_id))

        await self._with_db(set_ts)

    async def transition(
        self,
        request_id: str,
        from_state: State,
        to_state: State,
        *,
        actor: str | None,
        at: float,
        outcome: str | None = None,
        answer: str | None = None,
    ) -> UnblockRequest | None:
        deciding = from_state is State.PENDING

        def move(db: sqlite3.Connection) -> UnblockRequest | None:
            with db:
                changed = db.execute(
                    "UPDATE requests SET state = ?, outcome = COALESCE(?, outcome), answer = COALESCE(?, answer),"
                    " resolved_by = CASE WHEN ? THEN ? ELSE resolved_by END,"
                    " resolved_at = CASE WHEN ? THEN ? ELSE resolved_at END"
                    " WHERE id = ? AND state = ?",
                    (
                        to_state.value,
                        outcome,
                        answer,
                        deciding,
                        actor,
                        deciding,
                        at,
                        request_id,
                        from_state.value,
                    ),
                ).rowcount
                if changed != 1:
                    return None
                db.execute(
                    "INSERT INTO transitions (request_id, from_state, to_state, actor, at, outcome, answer)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (request_id, from_state.value, to_state.value, actor, at, outcome, answer),
                )
            row = db.execute(f"SELECT {_REQUEST_COLUMNS} FROM requests WHERE id = ?", (request_id,)).fetchone()
            return _request_from_row(row)

        return await self._with_db(move)

    async def transitions(self, request_id: str) -> list[Transition]:
        def select(db: sqlite3.Connection) -> list[Transition]:
            rows = db.execute(
                "SELECT request_id, from_state, to_state, actor, at, outcome, answer FROM transitions"
                " WHERE request_id = ? ORDER BY seq",
                (request_id,),
            ).fetchall()
            return [Transition(r[0], State(r[1]) if r[1] else None, State(r[2]), r[3], r[4], r[5], r[6]) for r in rows]

        return await self._with_db(select)

    # -- plumbing ----------------------------------------------------------------

    def _open(self) -> None:
        if self._path != ":memory:":
            Path(self._path).parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self._path, check_same_thread=False, isolation_level="DEFERRED")
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")
        db.execute("PRAGMA foreign_keys = ON")
        version = db.execute("PRAGMA user_version").fetchone()[0]
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            db.executescript(f"BEGIN; {script} PRAGMA user_version = {number}; COMMIT;")
        self._db = db

    async def _with_db(self, work: Callable[[sqlite3.Connection], T]) -> T:
        db = self._db
        if db is None:
            raise RuntimeError("SQLiteStore.open() was not called")
        return await self._run(lambda: work(db))

    async def _run(self, work: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, work)


def _request_row(r: UnblockRequest) -> tuple[object, ...]:
    e = r.entry
    return (
        r.id, e.id, e.ip_addr_mask, e.description, e.block_type, e.added_by, e.expires_at, e.etag,
        r.requester, r.channel, r.created_at, r.expires_at, r.state.value, r.message_ts,
        r.resolved_by, r.resolved_at, r.outcome, r.answer,
    )  # fmt: skip


def _request_from_row(row: Any) -> UnblockRequest:
    (rid, entry_id, ip, description, block_type, added_by, entry_expires, etag, requester, channel,
     created_at, expires_at, state, message_ts, resolved_by, resolved_at, outcome, answer) = row  # fmt: skip
    return UnblockRequest(
        id=str(rid),
        entry=BlocklistEntry(
            id=int(entry_id),
            ip_addr_mask=_text(ip),
            description=_text(description),
            block_type=_text(block_type),
            added_by=_text(added_by),
            expires_at=_text(entry_expires),
            etag=_text(etag),
        ),
        requester=str(requester),
        channel=str(channel),
        created_at=float(created_at),
        expires_at=float(expires_at),
        state=State(state),
        message_ts=_text(message_ts),
        resolved_by=_text(resolved_by),
        resolved_at=float(resolved_at) if resolved_at is not None else None,
        outcome=_text(outcome),
        answer=_text(answer),
    )


def _text(value: object) -> str | None:
    return None if value is None else str(value)
