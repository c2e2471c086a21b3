"""SQLiteStore: requests and their transitions in one SQLite file.

All database work runs on one dedicated thread, so the event loop never
blocks on disk and writes are serialised; every transition is a single
``UPDATE … WHERE id = ? AND state = ?``, which is what makes a claim atomic.
The entries a request covers, and what 3CX answered for each, are kept as
JSON beside the request: they are read and written whole.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from .threecx import BlockedNumber, BlocklistEntry, Target
from .unblock import Result, State, Transition, UnblockRequest

T = TypeVar("T")

#: each item upgrades the schema by one version (PRAGMA user_version)
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE requests (
        id           TEXT PRIMARY KEY,
        targets      TEXT NOT NULL,
        requester    TEXT NOT NULL,
        channel      TEXT NOT NULL,
        reason       TEXT,
        created_at   REAL NOT NULL,
        expires_at   REAL NOT NULL,
        state        TEXT NOT NULL,
        message_ts   TEXT,
        resolved_by  TEXT,
        resolved_at  REAL,
        results      TEXT NOT NULL DEFAULT '[]',
        undo_until   REAL,
        undone_by    TEXT,
        undone_at    REAL,
        undo_results TEXT NOT NULL DEFAULT '[]'
    );
    CREATE INDEX requests_pending ON requests (state, expires_at);
    CREATE INDEX requests_created ON requests (created_at);
    CREATE TABLE transitions (
        seq        INTEGER PRIMARY KEY AUTOINCREMENT,
        request_id TEXT NOT NULL REFERENCES requests (id),
        from_state TEXT,
        to_state   TEXT NOT NULL,
        actor      TEXT,
        at         REAL NOT NULL,
        answer     TEXT
    );
    CREATE INDEX transitions_request ON transitions (request_id, seq);
    """,
    """
    CREATE TABLE deliveries (
        key TEXT PRIMARY KEY,
        at  REAL NOT NULL
    );
    CREATE INDEX deliveries_at ON deliveries (at);
    """,
)

COLUMNS = (
    "id, targets, requester, channel, reason, created_at, expires_at, state, message_ts, resolved_by, "
    "resolved_at, results, undo_until, undone_by, undone_at, undo_results"
)
_SELECT = f"SELECT {COLUMNS} FROM requests"


class StoreUnavailable(Exception):
    """The store ``DATABASE_URL`` names cannot be used; the message is one sentence for an admin,
    naming the place and what to check, never a password."""


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
        """Open the file (created if missing) and bring its schema up to date.

        Raises:
            StoreUnavailable: the file cannot be opened or is not a database of this bot.
        """
        try:
            await self._run(self._open)
        except (sqlite3.Error, OSError) as error:
            raise StoreUnavailable(_sqlite_problem(self._path, error)) from None

    async def close(self) -> None:
        if self._db is not None:
            await self._run(self._db.close)
            self._db = None
        self._executor.shutdown(wait=True)

    async def add(self, request: UnblockRequest) -> None:
        def add(db: sqlite3.Connection) -> None:
            with db:
                db.execute(f"INSERT INTO requests ({COLUMNS}) VALUES ({', '.join('?' * 16)})", request_row(request))
                db.execute(
                    "INSERT INTO transitions (request_id, from_state, to_state, actor, at) VALUES (?, ?, ?, ?, ?)",
                    (request.id, None, request.state.value, request.requester, request.created_at),
                )

        await self._with_db(add)

    async def get(self, request_id: str) -> UnblockRequest | None:
        def get(db: sqlite3.Connection) -> UnblockRequest | None:
            row = db.execute(f"{_SELECT} WHERE id = ?", (request_id,)).fetchone()
            return request_from_row(row) if row else None

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
        results: tuple[Result, ...] | None = None,
        undo_until: float | None = None,
        undo_results: tuple[Result, ...] | None = None,
    ) -> UnblockRequest | None:
        sets = ["state = :to"]
        if from_state is State.PENDING:
            sets += ["resolved_by = :actor", "resolved_at = :at"]
        if to_state is State.UNDOING:
            sets += ["undone_by = :actor", "undone_at = :at"]
        if results is not None:
            sets.append("results = :results")
        if undo_until is not None:
            sets.append("undo_until = :undo_until")
        if undo_results is not None:
            sets.append("undo_results = :undo_results")
        answers = [r.answer for r in (undo_results or results or ())]
        values = {
            "id": request_id,
            "from": from_state.value,
            "to": to_state.value,
            "actor": actor,
            "at": at,
            "results": results_json(results or ()),
            "undo_until": undo_until,
            "undo_results": results_json(undo_results or ()),
            "answer": "; ".join(answers) if answers else None,
        }

        def move(db: sqlite3.Connection) -> UnblockRequest | None:
            with db:
                changed = db.execute(
                    f"UPDATE requests SET {', '.join(sets)} WHERE id = :id AND state = :from", values
                ).rowcount
                if changed != 1:
                    return None
                db.execute(
                    "INSERT INTO transitions (request_id, from_state, to_state, actor, at, answer)"
                    " VALUES (:id, :from, :to, :actor, :at, :answer)",
                    values,
                )
            return request_from_row(db.execute(f"{_SELECT} WHERE id = ?", (request_id,)).fetchone())

        return await self._with_db(move)

    async def transitions(self, request_id: str) -> list[Transition]:
        def select(db: sqlite3.Connection) -> list[Transition]:
            rows = db.execute(
                "SELECT request_id, from_state, to_state, actor, at, answer FROM transitions"
                " WHERE request_id = ? ORDER BY seq",
                (request_id,),
            ).fetchall()
            return [Transition(r[0], State(r[1]) if r[1] else None, State(r[2]), r[3], r[4], r[5]) for r in rows]

        return await self._with_db(select)

    async def recent(self, count: int) -> list[UnblockRequest]:
        def select(db: sqlite3.Connection) -> list[UnblockRequest]:
            rows = db.execute(f"{_SELECT} ORDER BY created_at DESC, rowid DESC LIMIT ?", (count,)).fetchall()
            return [request_from_row(row) for row in rows]

        return await self._with_db(select)

    async def pending_expired(self, now: float) -> list[UnblockRequest]:
        def select(db: sqlite3.Connection) -> list[UnblockRequest]:
            rows = db.execute(
                f"{_SELECT} WHERE state = ? AND expires_at <= ? ORDER BY expires_at LIMIT 500",
                (State.PENDING.value, now),
            ).fetchall()
            return [request_from_row(row) for row in rows]

        return await self._with_db(select)

    async def first_delivery(self, key: str, at: float) -> bool:
        def claim(db: sqlite3.Connection) -> bool:
            with db:
                return db.execute("INSERT OR IGNORE INTO deliveries (key, at) VALUES (?, ?)", (key, at)).rowcount == 1

        return await self._with_db(claim)

    async def forget_deliveries(self, before: float) -> None:
        def forget(db: sqlite3.Connection) -> None:
            with db:
                db.execute("DELETE FROM deliveries WHERE at < ?", (before,))

        await self._with_db(forget)

    async def stuck(self, claimed_before: float | None) -> list[UnblockRequest]:
        cutoff = float("inf") if claimed_before is None else claimed_before

        def select(db: sqlite3.Connection) -> list[UnblockRequest]:
            rows = db.execute(
                f"{_SELECT} WHERE (state = ? AND resolved_at < ?) OR (state = ? AND undone_at < ?)",
                (State.EXECUTING.value, cutoff, State.UNDOING.value, cutoff),
            ).fetchall()
            return [request_from_row(row) for row in rows]

        return await self._with_db(select)

    # -- plumbing ----------------------------------------------------------------

    def _open(self) -> None:
        if self._path != ":memory:":
            Path(self._path).parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self._path, check_same_thread=False)
        try:
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
            db.execute("PRAGMA foreign_keys = ON")
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > len(MIGRATIONS):
                raise StoreUnavailable(
                    f"the database {self._path} was written by a newer unblock-bot (schema version {version}, "
                    f"this one knows up to {len(MIGRATIONS)}): upgrade the bot, or point DATABASE_URL elsewhere"
                )
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                db.executescript(f"BEGIN; {script} PRAGMA user_version = {number}; COMMIT;")
        except BaseException:
            db.close()
            raise
        self._db = db

    async def _with_db(self, work: Callable[[sqlite3.Connection], T]) -> T:
        db = self._db
        if db is None:
            raise RuntimeError("SQLiteStore.open() was not called")
        return await self._run(lambda: work(db))

    async def _run(self, work: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, work)


def _sqlite_problem(path: str, error: sqlite3.Error | OSError) -> str:
    """One sentence about a SQLite file that cannot be used."""
    text = str(error).lower()
    if "locked" in text or "busy" in text:
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


# -- rows <-> requests ------------------------------------------------------------------


def request_row(r: UnblockRequest) -> tuple[object, ...]:
    return (
        r.id, json.dumps([target_json(t) for t in r.targets]), r.requester, r.channel, r.reason,
        r.created_at, r.expires_at, r.state.value, r.message_ts, r.resolved_by, r.resolved_at,
        results_json(r.results), r.undo_until, r.undone_by, r.undone_at, results_json(r.undo_results),
    )  # fmt: skip


def request_from_row(row: Any) -> UnblockRequest:
    (rid, targets, requester, channel, reason, created_at, expires_at, state, message_ts, resolved_by,
     resolved_at, results, undo_until, undone_by, undone_at, undo_results) = row  # fmt: skip
    return UnblockRequest(
        id=rid,
        targets=tuple(target_from_json(t) for t in json.loads(targets)),
        requester=requester,
        channel=channel,
        reason=reason,
        created_at=created_at,
        expires_at=expires_at,
        state=State(state),
        message_ts=message_ts,
        resolved_by=resolved_by,
        resolved_at=resolved_at,
        results=_results(results),
        undo_until=undo_until,
        undone_by=undone_by,
        undone_at=undone_at,
        undo_results=_results(undo_results),
    )


def target_json(target: Target) -> dict[str, Any]:
    """A target as 3CX wrote it (its own field names), tagged with its kind."""
    if isinstance(target, BlocklistEntry):
        return {"kind": "address", "Id": target.id, "AddedBy": target.added_by, "etag": target.etag,
                **target.creation_json()}  # fmt: skip
    return {"kind": "number", "Id": target.id, "etag": target.etag, **target.creation_json()}


def target_from_json(data: dict[str, Any]) -> Target:
    if data["kind"] == "address":
        return BlocklistEntry.from_json(data, etag=data.get("etag"))
    return BlockedNumber.from_json(data, etag=data.get("etag"))


def results_json(results: tuple[Result, ...]) -> str:
    return json.dumps([[r.outcome, r.answer, r.new_id] for r in results])


def _results(text: str) -> tuple[Result, ...]:
    return tuple(Result(outcome, answer, new_id) for outcome, answer, new_id in json.loads(text))
