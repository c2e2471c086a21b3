"""What every store does, and the SQL both databases run alike (``?`` for each parameter).

A store keeps requests and their transitions, the blocklist watcher's state, the weekly reports, what only the
Slack side keeps (``bot.slack.state.SlackState``, met without importing Slack) and the 3CX access token. One
database serves every PBX: ``Store.scoped`` is a view of it bound to one PBX (``bot.storage.scoping``); the
reports and what only the Slack side keeps are shared by all. Every
transition is one atomic compare-and-set (``bot.storage.rows`` turns a ``Move`` into conditions and changes), so
that of two clicks in two processes exactly one wins; an entry is taken for exactly one open request, in the
request's transaction; a database briefly away is waited for up to ``wait`` seconds (one log line per outage),
then ``StoreUnreachable``; the event loop never blocks, and no password is logged or raised. Reminding and
escalating is one ``UPDATE … WHERE reminded_at IS NULL`` (``escalation IS NULL``): of two processes, exactly one
marks it; a reminder is claimed, sent, then marked, and a claim let go or left by a stopped process is claimed again.
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from collections.abc import Collection
from typing import Any, ClassVar, Self

from ..domain.model import Escalation, State, Transition, UnblockRequest
from ..domain.ports import (
    UNBLOCKS_READ,
    WAITING_READ,
    AlreadyOpen,
    ReportStore,
    RequestStore,
    WatchStore,
)
from ..threecx.tokens import Fetch
from . import rows
from .adopting import Adopting
from .allows import AllowRows
from .watching import WatchRows

#: (id, from_state, to_state, actor, at): a new request's first line in the log
FIRST_LOG = "INSERT INTO transitions (request_id, from_state, to_state, actor, at) VALUES (?, ?, ?, ?, ?)"
#: (name): the token and when to renew it
READ_TOKEN = "SELECT token, renew_at FROM access_tokens WHERE name = ?"
#: (name, token, renew_at)
WRITE_TOKEN = (
    "INSERT INTO access_tokens (name, token, renew_at) VALUES (?, ?, ?)"
    " ON CONFLICT (name) DO UPDATE SET token = excluded.token, renew_at = excluded.renew_at"
)
#: (holder, at, id, state, at, stale_before): the reminder claimed, to be sent, while pending and in time and not
#: reminded, unless it was claimed since ``stale_before`` (a claim whose answer was lost waits until it is stale)
CLAIM_REMINDER = (
    "UPDATE requests SET reminding = ?, reminding_at = ?"
    " WHERE id = ? AND state = ? AND reminded_at IS NULL AND expires_at > ?"
    " AND (reminding IS NULL OR reminding_at < ?)"
)
#: (column, ...) set once, while pending and in time: (value, id, state, at)
MARK_ONCE = "UPDATE requests SET {0} = ? WHERE id = ? AND state = ? AND {0} IS NULL AND expires_at > ?"


class Store(AllowRows, WatchRows, Adopting, RequestStore, WatchStore, ReportStore, ABC):
    """A store of either database, with its lifecycle (and the allow entries' rows, ``allows.AllowRows``; the
    watcher's, ``watching.WatchRows``; the PBXes' names, ``adopting.Adopting``)."""

    #: the column that keeps the order requests were added in, for requests made in the same instant
    ARRIVAL: ClassVar[str]
    #: what the driver raises when a row would repeat a unique key
    DUPLICATE: ClassVar[type[Exception]]

    def scoped(self, pbx: str) -> Self:
        """A view of the same database (the same connections) bound to the PBX ``pbx``; closing it does nothing,
        only the store it was made from closes them."""
        view = copy.copy(self)
        view.pbx = pbx
        return view

    @abstractmethod
    async def open(self) -> None:
        """Connect and bring the schema up to date; StoreUnavailable when the database cannot be used."""

    @abstractmethod
    async def close(self) -> None:
        """Close the connections (a view made by ``scoped``: nothing to do)."""

    @abstractmethod
    async def ping(self) -> None:
        """Raise unless the database answers now (no waiting: for readiness probes)."""

    @abstractmethod
    async def renew_token(self, stale: str | None, fetch: Fetch) -> tuple[str, float]:
        """The 3CX access token, shared by every process using this database (``bot.threecx.tokens.RenewToken``)."""

    async def _select(self, tail: str, *params: object) -> list[UnblockRequest]:
        """The requests that ``tail`` (``WHERE``, ``ORDER BY``, ``LIMIT``) picks."""
        return [rows.request_from_row(row) for row in await self._fetch(f"{rows.SELECT} {tail}", *params)]

    async def _listed(self, where: str, tail: str, *params: object) -> list[UnblockRequest]:
        """The requests of this store's PBX (every PBX's, unscoped) that ``where`` picks, ``tail`` orders and
        limits."""
        return await self._select(f"WHERE {self._mine} AND {where} {tail}", self.pbx, *params)

    async def _column(self, sql: str, *params: object) -> list[Any]:
        return [row[0] for row in await self._fetch(sql, *params)]

    async def add(self, request: UnblockRequest) -> None:
        keys = rows.target_keys(request)
        try:
            await self._atomic(
                (
                    f"INSERT INTO requests ({rows.COLUMNS}) VALUES ({', '.join('?' * len(rows.NAMES))})",
                    rows.request_row(request),
                ),
                (FIRST_LOG, (request.id, None, request.state.value, request.asked.by, request.asked.at)),
                *(("INSERT INTO open_targets (target, request_id) VALUES (?, ?)", (key, request.id)) for key in keys),
            )
        except self.DUPLICATE:
            sql = f"SELECT request_id FROM open_targets WHERE target IN ({', '.join('?' * len(keys))}) LIMIT 1"
            holder = await self._column(sql, *keys)
            if holder == [request.id]:
                return  # an earlier try was made, and its answer lost
            if not holder:
                raise
            raise AlreadyOpen(str(holder[0])) from None

    async def get(self, request_id: str) -> UnblockRequest | None:
        # a view of one PBX knows no other PBX's request, whatever a button's value claims
        found = await self._listed("id = ?", "", request_id)
        return found[0] if found else None

    async def renew(self, request_id: str, owner: str, at: float) -> bool:
        sql = f"UPDATE requests SET heartbeat_at = ? WHERE id = ? AND owner = ? AND state IN {rows.CLAIMED}"
        return await self._write(sql, at, request_id, owner) == 1

    async def take_over(self, request_id: str, owner: str, heartbeat_at: float, at: float) -> UnblockRequest | None:
        # or already taken by this very call (a try whose answer was lost)
        sql = (
            "UPDATE requests SET owner = ?, heartbeat_at = ? WHERE id = ? AND (heartbeat_at = ? OR"
            f" (owner = ? AND heartbeat_at = ?)) AND state IN {rows.CLAIMED} RETURNING {rows.COLUMNS}"
        )
        found = await self._fetch(sql, owner, at, request_id, heartbeat_at, owner, at)
        return rows.request_from_row(found[0]) if found else None

    async def transitions(self, request_id: str) -> list[Transition]:
        log = await self._fetch(
            "SELECT request_id, from_state, to_state, actor, at, answer FROM transitions"
            " WHERE request_id = ? ORDER BY seq",
            request_id,
        )
        return [rows.transition_from_row(row) for row in log]

    async def abandoned(self, heartbeat_before: float) -> list[UnblockRequest]:
        return await self._listed(f"state IN {rows.CLAIMED} AND heartbeat_at < ?", "", heartbeat_before)

    def _newest(self) -> str:
        return f"ORDER BY created_at DESC, {self.ARRIVAL} DESC LIMIT ?"

    async def recent(self, count: int, channel: str | None = None) -> list[UnblockRequest]:
        if channel is None:
            return await self._listed("TRUE", self._newest(), count)
        # the channel where it was asked for (its card may be in the approvals channel)
        return await self._listed("COALESCE(asked_in, channel) = ?", self._newest(), channel, count)

    async def waiting(self, count: int, pbxes: Collection[str] | None = None) -> list[UnblockRequest]:
        if pbxes is None:
            return await self._listed("state = ?", self._newest(), State.PENDING.value, count)
        if not pbxes:
            return []
        among = f"state = ? AND pbx IN ({', '.join('?' * len(pbxes))})"
        return await self._listed(among, self._newest(), State.PENDING.value, *sorted(pbxes), count)

    async def count_pending(self) -> int:
        sql = f"SELECT COUNT(*) FROM requests WHERE {self._mine} AND state = ?"
        [count] = await self._column(sql, self.pbx, State.PENDING.value)
        return int(count)

    async def requested_by(self, user: str, count: int) -> list[UnblockRequest]:
        return await self._listed("requester = ?", self._newest(), user, count)

    async def undone(self, count: int) -> list[UnblockRequest]:
        tail = f"ORDER BY undone_at DESC, {self.ARRIVAL} DESC LIMIT ?"
        return await self._listed("undone_at IS NOT NULL", tail, count)

    async def unblocked_since(self, since: float) -> list[UnblockRequest]:
        states = (State.UNBLOCKED.value, State.UNDO_FAILED.value)
        where = "state IN (?, ?) AND resolved_at >= ?"
        return await self._listed(where, "ORDER BY resolved_at DESC LIMIT ?", *states, since, UNBLOCKS_READ)

    async def between(self, since: float, until: float, count: int) -> list[UnblockRequest]:
        tail = f"ORDER BY created_at, {self.ARRIVAL} LIMIT ?"
        return await self._listed("created_at >= ? AND created_at < ?", tail, since, until, count)

    async def pending_expired(self, now: float) -> list[UnblockRequest]:
        tail = f"ORDER BY expires_at LIMIT {rows.EXPIRY_BATCH}"
        return await self._listed("state = ? AND expires_at <= ?", tail, State.PENDING.value, now)

    async def still_waiting(
        self, now: float, remind_before: float | None, escalate_before: float | None
    ) -> list[UnblockRequest]:
        # due for what is not done yet, of what is asked for (None: not asked for)
        asked = {"reminded_at": remind_before, "escalation": escalate_before}
        due = {column: before for column, before in asked.items() if before is not None}
        if not due:
            return []
        either = " OR ".join(f"({column} IS NULL AND created_at <= ?)" for column in due)
        where = f"state = ? AND expires_at > ? AND ({either})"
        return await self._listed(
            where, f"ORDER BY created_at LIMIT {WAITING_READ}", State.PENDING.value, now, *due.values()
        )

    async def claim_reminder(
        self, request_id: str, holder: str, at: float, stale_before: float
    ) -> UnblockRequest | None:
        params = (holder, at, request_id, State.PENDING.value, at, stale_before)
        return await self.get(request_id) if await self._write(CLAIM_REMINDER, *params) == 1 else None

    async def release_reminder(self, request_id: str, holder: str) -> None:
        sql = "UPDATE requests SET reminding = NULL WHERE id = ? AND reminding = ? AND reminded_at IS NULL"
        await self._write(sql, request_id, holder)

    async def mark_reminded(self, request_id: str, at: float) -> UnblockRequest | None:
        return await self._mark_once("reminded_at", at, request_id, at)

    async def mark_escalated(self, request_id: str, escalation: Escalation) -> UnblockRequest | None:
        return await self._mark_once("escalation", rows.escalation_json(escalation), request_id, escalation.at)

    async def _mark_once(self, column: str, value: object, request_id: str, at: float) -> UnblockRequest | None:
        marked = await self._write(MARK_ONCE.format(column), value, request_id, State.PENDING.value, at)
        return await self.get(request_id) if marked == 1 else None

    async def last_report(self) -> float | None:
        [last] = await self._column("SELECT MAX(due_at) FROM reports WHERE sent_at IS NOT NULL")
        return float(last) if last is not None else None

    async def claim_report(self, due_at: float, holder: str, at: float, *, posted: bool, stale_before: float) -> bool:
        # sent_at stays NULL until Slack took the report (or, for a moment only recorded, is set at once)
        claimed = await self._write(
            "INSERT INTO reports (due_at, posted, holder, at, sent_at) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (due_at) DO UPDATE SET holder = excluded.holder, at = excluded.at"
            " WHERE reports.sent_at IS NULL AND reports.at < ?",
            *(int(due_at), posted, holder, at, None if posted else at, stale_before),
        )
        return claimed == 1

    async def report_sent(self, due_at: float, holder: str, at: float) -> None:
        sql = "UPDATE reports SET sent_at = ? WHERE due_at = ? AND holder = ? AND sent_at IS NULL"
        await self._write(sql, at, int(due_at), holder)

    async def release_report(self, due_at: float, holder: str) -> None:
        sql = "DELETE FROM reports WHERE due_at = ? AND holder = ? AND sent_at IS NULL"
        await self._write(sql, int(due_at), holder)

    async def first_delivery(self, key: str, at: float, handler: str) -> bool:
        """Record that ``handler`` handles a Slack delivery; False if another did first (a retry, a replay). The row
        names who handled it first: a try whose answer was lost still recognises its own."""
        sql = (
            "INSERT INTO deliveries (key, at, handled_by) VALUES (?, ?, ?)"
            " ON CONFLICT (key) DO UPDATE SET key = deliveries.key RETURNING handled_by"
        )
        return bool((await self._column(sql, key, at, handler)) == [handler])

    async def forget_deliveries(self, before: float) -> None:
        await self._write("DELETE FROM deliveries WHERE at < ?", before)
        await self._write("DELETE FROM choices WHERE at < ?", before)

    async def keep_choice(self, choice_id: str, data: str, at: float) -> None:
        # a try whose answer was lost finds its own choice kept
        sql = "INSERT INTO choices (id, data, at) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING"
        await self._write(sql, choice_id, data, at)

    async def choice(self, choice_id: str) -> str | None:
        found = await self._column("SELECT data FROM choices WHERE id = ?", choice_id)
        return str(found[0]) if found else None

    async def home_opened(self, user: str, at: float) -> None:
        await self._write(
            "INSERT INTO home_viewers (user_id, opened_at) VALUES (?, ?)"
            " ON CONFLICT (user_id) DO UPDATE SET opened_at = excluded.opened_at",
            *(user, at),
        )

    async def home_viewers(self, since: float) -> list[str]:
        found = await self._column("SELECT user_id FROM home_viewers WHERE opened_at >= ? ORDER BY user_id", since)
        return [str(user) for user in found]

    async def card_posted(self, request_id: str, ts: str) -> None:
        await self._write("UPDATE requests SET message_ts = ? WHERE id = ?", ts, request_id)

    async def card_of(self, request_id: str) -> str | None:
        found = await self._column("SELECT message_ts FROM requests WHERE id = ?", request_id)
        return str(found[0]) if found and found[0] is not None else None
