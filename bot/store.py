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
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from .threecx import BlockedNumber, BlocklistEntry, Target
from .unblock import AlreadyOpen, Outcome, Result, State, Transition, UnblockRequest

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
    """
    ALTER TABLE requests ADD COLUMN owner TEXT;
    ALTER TABLE requests ADD COLUMN heartbeat_at REAL;
    UPDATE requests SET heartbeat_at = CASE state WHEN 'undoing' THEN undone_at ELSE resolved_at END
        WHERE state IN ('executing', 'undoing');
    CREATE INDEX requests_claimed ON requests (state, heartbeat_at);
    CREATE INDEX requests_channel ON requests (channel, created_at);
    CREATE TABLE open_targets (
        target     TEXT PRIMARY KEY,
        request_id TEXT NOT NULL REFERENCES requests (id)
    );
    INSERT OR IGNORE INTO open_targets (target, request_id)
        SELECT json_extract(t.value, '$.kind') || ':' || json_extract(t.value, '$.Id'), r.id
        FROM requests r, json_each(r.targets) t WHERE r.state IN ('pending', 'executing');
    CREATE TABLE choices (
        id   TEXT PRIMARY KEY,
        data TEXT NOT NULL,
        at   REAL NOT NULL
    );
    CREATE INDEX choices_at ON choices (at);
    """,
)

COLUMNS = (
    "id, targets, requester, channel, reason, created_at, expires_at, state, message_ts, resolved_by, "
    "resolved_at, results, undo_until, undone_by, undone_at, undo_results, owner, heartbeat_at"
)
COLUMN_COUNT = len(COLUMNS.split(","))
#: what ``pending_expired`` returns at most in one go (the sweeper comes back for the rest)
EXPIRY_BATCH = 500
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
            try:
                with db:
                    db.execute(f"INSERT INTO requests ({COLUMNS}) VALUES ({', '.join('?' * COLUMN_COUNT)})",
                               request_row(request))  # fmt: skip
                    db.execute(
                        "INSERT INTO transitions (request_id, from_state, to_state, actor, at) VALUES (?, ?, ?, ?, ?)",
                        (request.id, None, request.state.value, request.requester, request.created_at),
                    )
                    db.executemany(
                        "INSERT INTO open_targets (target, request_id) VALUES (?, ?)",
                        [(key, request.id) for key in target_keys(request)],
                    )
            except sqlite3.IntegrityError:
                keys = target_keys(request)
                row = db.execute(
                    f"SELECT request_id FROM open_targets WHERE target IN ({', '.join('?' * len(keys))}) LIMIT 1", keys
                ).fetchone()
                if row is None:
                    raise
                raise AlreadyOpen(row[0]) from None

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
        owner: str | None = None,
        unexpired: bool = False,
        note: str | None = None,
    ) -> UnblockRequest | None:
        move = Move(request_id, from_state, to_state, actor, at, results, undo_until, undo_results, owner, unexpired)
        changes = move.changes()
        conditions = move.conditions()
        sets = ", ".join(f"{column} = ?" for column in changes)
        where = " AND ".join(f"{column} {op} ?" for column, op, _ in conditions)

        def run(db: sqlite3.Connection) -> UnblockRequest | None:
            with db:
                changed = db.execute(
                    f"UPDATE requests SET {sets} WHERE {where}", [*changes.values(), *(v for _, _, v in conditions)]
                ).rowcount
                if changed != 1:
                    return None
                db.execute(
                    "INSERT INTO transitions (request_id, from_state, to_state, actor, at, answer)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (request_id, from_state.value, to_state.value, actor, at, move.answer(note)),
                )
                if move.frees_targets:
                    db.execute("DELETE FROM open_targets WHERE request_id = ?", (request_id,))
            return request_from_row(db.execute(f"{_SELECT} WHERE id = ?", (request_id,)).fetchone())

        return await self._with_db(run)

    async def renew(self, request_id: str, owner: str, at: float) -> bool:
        def renew(db: sqlite3.Connection) -> bool:
            with db:
                return (
                    db.execute(
                        f"UPDATE requests SET heartbeat_at = ? WHERE id = ? AND owner = ? AND state IN {CLAIMED}",
                        (at, request_id, owner),
                    ).rowcount
                    == 1
                )

        return await self._with_db(renew)

    async def take_over(self, request_id: str, owner: str, heartbeat_at: float, at: float) -> UnblockRequest | None:
        def take(db: sqlite3.Connection) -> UnblockRequest | None:
            with db:
                taken = db.execute(
                    "UPDATE requests SET owner = ?, heartbeat_at = ?"
                    f" WHERE id = ? AND heartbeat_at = ? AND state IN {CLAIMED}",
                    (owner, at, request_id, heartbeat_at),
                ).rowcount
            if taken != 1:
                return None
            return request_from_row(db.execute(f"{_SELECT} WHERE id = ?", (request_id,)).fetchone())

        return await self._with_db(take)

    async def abandoned(self, heartbeat_before: float) -> list[UnblockRequest]:
        return await self._select(f"WHERE state IN {CLAIMED} AND heartbeat_at < ?", heartbeat_before)

    async def transitions(self, request_id: str) -> list[Transition]:
        def select(db: sqlite3.Connection) -> list[Transition]:
            rows = db.execute(
                "SELECT request_id, from_state, to_state, actor, at, answer FROM transitions"
                " WHERE request_id = ? ORDER BY seq",
                (request_id,),
            ).fetchall()
            return [transition_from_row(row) for row in rows]

        return await self._with_db(select)

    async def recent(self, count: int, channel: str | None = None) -> list[UnblockRequest]:
        if channel is None:
            return await self._select("ORDER BY created_at DESC, rowid DESC LIMIT ?", count)
        return await self._select("WHERE channel = ? ORDER BY created_at DESC, rowid DESC LIMIT ?", channel, count)

    async def pending_expired(self, now: float) -> list[UnblockRequest]:
        return await self._select(
            f"WHERE state = ? AND expires_at <= ? ORDER BY expires_at LIMIT {EXPIRY_BATCH}", State.PENDING.value, now
        )

    async def first_delivery(self, key: str, at: float) -> bool:
        def claim(db: sqlite3.Connection) -> bool:
            with db:
                return db.execute("INSERT OR IGNORE INTO deliveries (key, at) VALUES (?, ?)", (key, at)).rowcount == 1

        return await self._with_db(claim)

    async def forget_deliveries(self, before: float) -> None:
        def forget(db: sqlite3.Connection) -> None:
            with db:
                db.execute("DELETE FROM deliveries WHERE at < ?", (before,))
                db.execute("DELETE FROM choices WHERE at < ?", (before,))

        await self._with_db(forget)

    async def keep_choice(self, choice_id: str, data: str, at: float) -> None:
        def keep(db: sqlite3.Connection) -> None:
            with db:
                db.execute("INSERT INTO choices (id, data, at) VALUES (?, ?, ?)", (choice_id, data, at))

        await self._with_db(keep)

    async def choice(self, choice_id: str) -> str | None:
        def get(db: sqlite3.Connection) -> str | None:
            row = db.execute("SELECT data FROM choices WHERE id = ?", (choice_id,)).fetchone()
            return str(row[0]) if row else None

        return await self._with_db(get)

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

    async def _select(self, tail: str, *params: object) -> list[UnblockRequest]:
        def select(db: sqlite3.Connection) -> list[UnblockRequest]:
            return [request_from_row(row) for row in db.execute(f"{_SELECT} {tail}", params).fetchall()]

        return await self._with_db(select)

    async def _with_db(self, work: Callable[[sqlite3.Connection], T]) -> T:
        db = self._db
        if db is None:
            raise RuntimeError("SQLiteStore.open() was not called")
        return await self._run(lambda: work(db))

    async def _run(self, work: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, work)


# -- what a transition changes (the same for every store) -----------------------------------------

#: the claimed states, as SQL
CLAIMED = f"('{State.EXECUTING.value}', '{State.UNDOING.value}')"


@dataclass(frozen=True, slots=True)
class Move:
    """One transition, as columns to set and conditions to meet; each store writes it in its own SQL."""

    request_id: str
    from_state: State
    to_state: State
    actor: str | None
    at: float
    results: tuple[Result, ...] | None = None
    undo_until: float | None = None
    undo_results: tuple[Result, ...] | None = None
    owner: str | None = None
    unexpired: bool = False

    def changes(self) -> dict[str, object]:
        """Column -> new value; what is not named stays as it was."""
        changes: dict[str, object] = {"state": self.to_state.value}
        if self.from_state is State.PENDING:
            changes |= {"resolved_by": self.actor, "resolved_at": self.at}
        if self.to_state is State.UNDOING:
            changes |= {"undone_by": self.actor, "undone_at": self.at}
        if self.to_state.claimed:
            changes |= {"owner": self.owner, "heartbeat_at": self.at}
        elif self.from_state.claimed:
            changes |= {"owner": None}
        if self.results is not None:
            changes["results"] = results_json(self.results)
        if self.undo_until is not None:
            changes["undo_until"] = self.undo_until
        if self.undo_results is not None:
            changes["undo_results"] = results_json(self.undo_results)
        return changes

    def conditions(self) -> list[tuple[str, str, object]]:
        """(column, operator, value) that must all hold for the move to happen."""
        conditions: list[tuple[str, str, object]] = [
            ("id", "=", self.request_id),
            ("state", "=", self.from_state.value),
        ]
        if self.unexpired:
            conditions.append(("expires_at", ">", self.at))
        if self.from_state.claimed and self.owner is not None:
            conditions.append(("owner", "=", self.owner))
        return conditions

    @property
    def frees_targets(self) -> bool:
        return self.from_state.open and not self.to_state.open

    def answer(self, note: str | None) -> str | None:
        """3CX's answers, for the transition's record (or why it was made, when 3CX was not asked)."""
        answers = [r.answer for r in (self.undo_results or self.results or ())]
        return "; ".join(answers) if answers else note


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
        r.owner, r.heartbeat_at,
    )  # fmt: skip


def request_from_row(row: Any) -> UnblockRequest:
    (rid, targets, requester, channel, reason, created_at, expires_at, state, message_ts, resolved_by,
     resolved_at, results, undo_until, undone_by, undone_at, undo_results, owner, heartbeat_at) = row  # fmt: skip
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
        owner=owner,
        heartbeat_at=heartbeat_at,
    )


def transition_from_row(row: Any) -> Transition:
    request_id, from_state, to_state, actor, at, answer = row
    return Transition(request_id, State(from_state) if from_state else None, State(to_state), actor, at, answer)


def target_key(target: Target) -> str:
    """What makes an entry the same entry: its kind and its Id."""
    return f"{'address' if isinstance(target, BlocklistEntry) else 'number'}:{target.id}"


def target_keys(request: UnblockRequest) -> list[str]:
    return [target_key(t) for t in request.targets]


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
    return json.dumps([[r.outcome.value, r.answer, r.new_id, r.after_restart] for r in results])


def _results(text: str) -> tuple[Result, ...]:
    # records of earlier versions have three items (no after_restart)
    return tuple(Result(Outcome(item[0]), item[1], item[2], *item[3:]) for item in json.loads(text))
