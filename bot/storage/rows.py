"""Rows and requests, the same for every store: the columns, the JSON kept in them, and what a transition
changes (``Move``). Each store only turns these into its own SQL."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..threecx import BlockedNumber, BlocklistEntry, Target
from ..unblock import Outcome, Result, State, Transition, UnblockRequest

COLUMNS = (
    "id, targets, requester, channel, reason, created_at, expires_at, state, message_ts, resolved_by, "
    "resolved_at, results, undo_until, undone_by, undone_at, undo_results, owner, heartbeat_at"
)
COLUMN_COUNT = len(COLUMNS.split(","))
#: what ``pending_expired`` returns at most in one go (the sweeper comes back for the rest)
EXPIRY_BATCH = 500
SELECT = f"SELECT {COLUMNS} FROM requests"


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
