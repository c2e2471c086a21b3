"""The allow entries' rows (table ``allows``), the same SQL for both databases (``?`` for each parameter): the
domain's ``AllowStore``. Every change is one ``UPDATE … WHERE`` on the allow's phase (and, for a change, on who
holds it), so that of two clicks, in one process or in two, one wins; a write tried again after its answer was
lost is recognised by the token of its claim (unique to it), never taken for a loss, nor for another's change.
An allow entry is kept for the PBX of the store that keeps it; the upkeep's reads list that PBX's (every PBX's for
the unscoped store: the Home tab's)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..domain.allows import Allow, How, Phase
from ..domain.model import State, UnblockRequest
from . import rows
from .scoping import Scoped

FIELDS = (
    "request_id, entry_id, address, added_at, ends_at, duration, phase, change_by, holder, held_at, extend_to,"
    " extended_by, extended_at, warned_for, ended_at, ended_by, ended_how, told_at, checked_at, done_claim, pbx"
)
SELECT = f"SELECT {FIELDS} FROM allows"
#: the phases in which a change is held
CHANGING = f"('{Phase.EXTENDING.value}', '{Phase.ENDING.value}')"
ACTIVE, ENDED = Phase.ACTIVE.value, Phase.ENDED.value


def allow_from_row(row: Sequence[Any]) -> Allow:
    (request_id, entry_id, address, added_at, ends_at, duration, phase, *rest) = row
    change_by, holder, held_at, extend_to, extended_by, extended_at, warned_for, *ended = rest
    ended_at, ended_by, how, told_at, checked_at, done_claim, pbx = ended
    return Allow(
        request_id=str(request_id),
        entry_id=int(entry_id),
        address=str(address),
        added_at=float(added_at),
        ends_at=float(ends_at),
        duration=float(duration),
        phase=Phase(phase),
        change_by=change_by,
        holder=holder,
        held_at=held_at,
        extend_to=extend_to,
        extended_by=extended_by,
        extended_at=extended_at,
        warned_for=warned_for,
        ended_at=ended_at,
        ended_by=ended_by,
        how=How(how) if how is not None else None,
        told_at=told_at,
        checked_at=checked_at,
        done_claim=done_claim,
        pbx=str(pbx),
    )


class AllowRows(Scoped):
    """The ``AllowStore`` of a store that can fetch and write."""

    async def _allows(self, tail: str, *params: object) -> list[Allow]:
        return [allow_from_row(row) for row in await self._fetch(f"{SELECT} {tail}", *params)]

    async def _mine_listed(self, where: str, tail: str, *params: object) -> list[Allow]:
        """The allow entries of this store's PBX (every PBX's, unscoped) that ``where`` picks."""
        return await self._allows(f"WHERE {self._mine} AND {where} {tail}", self.pbx, *params)

    async def _changed(self, written: int, request_id: str) -> Allow | None:
        return await self.allow_of(request_id) if written == 1 else None

    async def keep_allow(self, allow: Allow) -> None:
        # a try whose answer was lost, or a request's allow kept already, changes nothing
        await self._write(
            "INSERT INTO allows (request_id, entry_id, address, added_at, ends_at, duration, phase, pbx)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (request_id) DO NOTHING",
            *(allow.request_id, allow.entry_id, allow.address, allow.added_at, allow.ends_at, allow.duration, ACTIVE),
            self._own,
        )

    async def allow_of(self, request_id: str) -> Allow | None:
        found = await self._mine_listed("request_id = ?", "", request_id)
        return found[0] if found else None

    async def allows_of(self, request_ids: Sequence[str]) -> list[Allow]:
        if not request_ids:
            return []
        return await self._mine_listed(f"request_id IN ({', '.join('?' * len(request_ids))})", "", *request_ids)

    async def requests_of(self, request_ids: Sequence[str]) -> list[UnblockRequest]:
        if not request_ids:
            return []
        sql = f"{rows.SELECT} WHERE id IN ({', '.join('?' * len(request_ids))})"
        return [rows.request_from_row(row) for row in await self._fetch(sql, *request_ids)]

    async def allowing_unkept(self, since: float, limit: int) -> list[UnblockRequest]:
        sql = (
            f"{rows.SELECT} WHERE {self._mine} AND state IN (?, ?) AND resolved_at >= ? AND allow_for IS NOT NULL"
            " AND id NOT IN (SELECT request_id FROM allows) ORDER BY resolved_at DESC LIMIT ?"
        )
        states = (State.UNBLOCKED.value, State.UNDO_FAILED.value)
        return [rows.request_from_row(row) for row in await self._fetch(sql, self.pbx, *states, since, limit)]

    async def allows_in_force(self, limit: int) -> list[Allow]:
        return await self._mine_listed(f"phase <> '{ENDED}'", "ORDER BY ends_at LIMIT ?", limit)

    async def allows_untold(self, limit: int) -> list[Allow]:
        return await self._mine_listed(f"phase = '{ENDED}' AND told_at IS NULL", "ORDER BY ended_at LIMIT ?", limit)

    async def change_allow(
        self,
        request_id: str,
        to: Phase,
        by: str,
        claim: str,
        at: float,
        *,
        ends_at: float | None,
        extend_to: float | None,
    ) -> Allow | None:
        still = "phase = ?" + (" AND ends_at = ?" if ends_at is not None else "")
        written = await self._write(
            "UPDATE allows SET phase = ?, change_by = ?, holder = ?, held_at = ?, extend_to = ? WHERE request_id = ?"
            f" AND (({still}) OR (phase = ? AND holder = ?))",
            *(to.value, by, claim, at, extend_to, request_id, ACTIVE),
            *([ends_at] if ends_at is not None else []),
            *(to.value, claim),
        )
        return await self._changed(written, request_id)

    async def take_over_allow(self, request_id: str, claim: str, held_at: float, at: float) -> Allow | None:
        written = await self._write(
            f"UPDATE allows SET holder = ?, held_at = ? WHERE request_id = ? AND phase IN {CHANGING}"
            " AND (held_at = ? OR holder = ?)",
            *(claim, at, request_id, held_at, claim),
        )
        return await self._changed(written, request_id)

    async def extended(self, request_id: str, claim: str, at: float) -> Allow | None:
        written = await self._write(
            "UPDATE allows SET phase = ?, ends_at = extend_to, extended_by = change_by, extended_at = ?, holder = NULL,"
            " done_claim = ? WHERE request_id = ? AND ((phase = ? AND holder = ?) OR (phase = ? AND done_claim = ?))",
            *(ACTIVE, at, claim, request_id, Phase.EXTENDING.value, claim, ACTIVE, claim),
        )
        return await self._changed(written, request_id)

    async def release_allow(self, request_id: str, claim: str) -> None:
        sql = f"UPDATE allows SET phase = ?, holder = NULL WHERE request_id = ? AND phase IN {CHANGING} AND holder = ?"
        await self._write(sql, ACTIVE, request_id, claim)

    async def end_allow(
        self, request_id: str, how: How, by: str | None, at: float, claim: str, *, held: bool = False
    ) -> Allow | None:
        if held:
            while_, params = f"phase IN {CHANGING} AND holder = ?", [claim]
        elif how is How.UNDONE:
            while_, params = f"phase <> '{ENDED}'", []
        else:
            while_, params = f"phase = '{ACTIVE}'", []
        written = await self._write(
            "UPDATE allows SET phase = ?, ended_how = ?, ended_by = ?, ended_at = ?, holder = NULL, done_claim = ?"
            f" WHERE request_id = ? AND (({while_}) OR (phase = ? AND done_claim = ?))",
            *(ENDED, how.value, by, at, claim, request_id, *params, ENDED, claim),
        )
        return await self._changed(written, request_id)

    async def claim_saying(
        self, request_id: str, holder: str, at: float, stale_before: float, *, warning: bool
    ) -> Allow | None:
        if warning:
            due, params = "phase = ? AND ends_at > ? AND (warned_for IS NULL OR warned_for <> ends_at)", [ACTIVE, at]
        else:
            due, params = "phase = ? AND told_at IS NULL", [ENDED]
        written = await self._write(
            f"UPDATE allows SET saying = ?, saying_at = ? WHERE request_id = ? AND {due}"
            " AND (saying IS NULL OR saying_at < ?)",
            *(holder, at, request_id, *params, stale_before),
        )
        return await self._changed(written, request_id)

    async def said(self, request_id: str, holder: str, at: float, *, warned_for: float | None) -> None:
        done = "warned_for = ?" if warned_for is not None else "told_at = ?"
        sql = f"UPDATE allows SET {done}, saying = NULL WHERE request_id = ? AND saying = ?"
        await self._write(sql, warned_for if warned_for is not None else at, request_id, holder)

    async def release_saying(self, request_id: str, holder: str) -> None:
        await self._write("UPDATE allows SET saying = NULL WHERE request_id = ? AND saying = ?", request_id, holder)

    async def allows_checked(self, request_ids: Sequence[str], at: float) -> None:
        if request_ids:
            marks = ", ".join("?" * len(request_ids))
            await self._write(f"UPDATE allows SET checked_at = ? WHERE request_id IN ({marks})", at, *request_ids)
