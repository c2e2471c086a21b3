"""Rows and requests, the same for every store: the columns, the JSON kept in them, and what a transition
changes (``Move``). Each store only turns these into its own SQL."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import fields
from typing import Any

from ..domain.entries import BlockedNumber, BlocklistEntry, Kind, Target
from ..domain.model import Approval, Escalation, Move, Result, State, Transition, UnblockRequest
from ..domain.outcomes import Outcome
from ..domain.ports import Announcement

#: a request's columns: its fields, by the same names
NAMES = tuple(field.name for field in fields(UnblockRequest))
COLUMNS = ", ".join(NAMES)
COLUMN_COUNT = len(NAMES)
#: what ``pending_expired`` returns at most in one go (the sweeper comes back for the rest)
EXPIRY_BATCH = 500
SELECT = f"SELECT {COLUMNS} FROM requests"


# -- what a transition changes (the same for every store) -----------------------------------------

#: the claimed states, as SQL
CLAIMED = f"('{State.EXECUTING.value}', '{State.UNDOING.value}')"


def changes(move: Move) -> dict[str, object]:
    """What ``move`` sets: column -> new value; what is not named stays as it was."""
    columns: dict[str, object] = {"state": move.to_state.value}
    if move.from_state is State.PENDING and move.to_state is not State.PENDING:
        columns |= {"resolved_by": move.actor, "resolved_at": move.at}
    if move.to_state is State.UNDOING:
        columns |= {"undone_by": move.actor, "undone_at": move.at}
    if move.to_state.claimed:
        columns |= {"owner": move.owner, "heartbeat_at": move.at}
    elif move.from_state.claimed:
        columns |= {"owner": None}
    if move.results is not None:
        columns["results"] = results_json(move.results)
    if move.undo_until is not None:
        columns["undo_until"] = move.undo_until
    if move.undo_results is not None:
        columns["undo_results"] = results_json(move.undo_results)
    if move.allow_for is not None:
        columns["allow_for"] = move.allow_for
    if move.approvals is not None:
        columns["approvals"] = approvals_json(move.approvals)
    if move.allow_only:
        columns["allow_only"] = 1
    return columns


def conditions(move: Move) -> list[tuple[str, str, object]]:
    """(column, operator, value) that must all hold for ``move`` to happen."""
    found: list[tuple[str, str, object]] = [("id", "=", move.request_id), ("state", "=", move.from_state.value)]
    if move.unexpired and move.to_state is State.UNDOING:
        found.append(("undo_until", ">=", move.at))
    elif move.unexpired:
        found.append(("expires_at", ">", move.at))
    if move.from_state.claimed and move.owner is not None:
        found.append(("owner", "=", move.owner))
    if move.approvals is not None:
        found.append(("approvals", "=", approvals_json(move.approvals_were)))
    return found


# -- rows <-> requests ------------------------------------------------------------------


#: the columns kept as text (JSON, or an enum's value), with how each is written and read
_ENCODED: dict[str, tuple[Callable[[Any], object], Callable[[Any], object]]] = {
    "targets": (lambda targets: json.dumps([record(t) for t in targets]),
                lambda text: tuple(from_record(t) for t in json.loads(text))),
    "state": (lambda state: state.value, State),
    "results": (lambda results: results_json(results), lambda text: _results(text)),
    "undo_results": (lambda results: results_json(results), lambda text: _results(text)),
    "approvals": (lambda approvals: approvals_json(approvals), lambda text: _approvals(text)),
    "auto": (int, bool),
    "allow_only": (int, bool),
    "escalation": (lambda escalation: escalation_json(escalation), lambda text: _escalation(text)),
}  # fmt: skip


def request_row(request: UnblockRequest) -> tuple[object, ...]:
    """The request's values, in the order of ``COLUMNS``."""
    return tuple(_encode(name, getattr(request, name)) for name in NAMES)


def request_from_row(row: Any) -> UnblockRequest:
    """A request from a row of ``COLUMNS`` (a tuple, or a driver's record)."""
    values: dict[str, Any] = {name: _decode(name, value) for name, value in zip(NAMES, tuple(row), strict=True)}
    return UnblockRequest(**values)


def escalation_json(escalation: Escalation | None) -> str | None:
    """How an escalation is kept (None: not escalated, NULL)."""
    if escalation is None:
        return None
    return json.dumps({"at": escalation.at, "after": escalation.after, "users": list(escalation.users),
                       "groups": list(escalation.groups)})  # fmt: skip


def _escalation(text: str | None) -> Escalation | None:
    """What :func:`escalation_json` wrote."""
    if text is None:
        return None
    data = json.loads(text)
    return Escalation(float(data["at"]), float(data["after"]), tuple(data["users"]), tuple(data["groups"]))


def _encode(name: str, value: Any) -> object:
    return _ENCODED[name][0](value) if name in _ENCODED else value


def _decode(name: str, value: Any) -> object:
    return _ENCODED[name][1](value) if name in _ENCODED else value


def transition_from_row(row: Any) -> Transition:
    request_id, from_state, to_state, actor, at, answer = row
    return Transition(request_id, State(from_state) if from_state else None, State(to_state), actor, at, answer)


def target_keys(request: UnblockRequest) -> list[str]:
    """What makes each entry the same entry: its kind and its Id (one open request per entry)."""
    return [f"{t.kind.value}:{t.id}" for t in request.targets]


def approvals_json(approvals: Sequence[Approval]) -> str:
    """How the approvals so far are kept (and compared, when another approval is added): an Approve as its
    approver alone (``"U1"``, as every approval was kept before approvals named their action), any other as
    ``{"user": "U1", "action": "allow_only", "allow_for": 3600.0}``."""
    return json.dumps([approval.user if approval.plain else approval.record for approval in approvals])


#: the actions an approval names, as :func:`approvals_json` keeps them
_ACTIONS = ("unblock", "unblock_and_allow", "allow_only")


def _approvals(text: str) -> tuple[Approval, ...]:
    """What :func:`approvals_json` wrote (an approval without an action approved ``unblock``)."""
    return tuple(_approval(item) for item in json.loads(text))


def _approval(item: object) -> Approval:
    if isinstance(item, str):
        return Approval(item)
    if not isinstance(item, dict) or not isinstance(item.get("user"), str):
        raise ValueError("a stored approval without its approver")
    action, allow_for = item.get("action", "unblock"), item.get("allow_for")
    if action not in _ACTIONS or (action != "unblock") != isinstance(allow_for, int | float):
        raise ValueError(f"a stored approval of an unknown action ({action})")
    seconds = float(allow_for) if isinstance(allow_for, int | float) else None
    return Approval(item["user"], seconds, action == "allow_only")


def results_json(results: tuple[Result, ...]) -> str:
    return json.dumps([[r.outcome.value, r.answer, r.new_id, r.after_restart, r.allow_id, r.allowed_until,
                        r.allow_existed] for r in results])  # fmt: skip


def _results(text: str) -> tuple[Result, ...]:
    """What :func:`results_json` wrote."""
    return tuple(
        Result(Outcome(outcome), answer, new_id, after_restart, allow_id, allowed_until, allow_existed)
        for outcome, answer, new_id, after_restart, allow_id, allowed_until, allow_existed in json.loads(text)
    )


# -- targets <-> their stored form ------------------------------------------------------------------

#: each text attribute of a target and its key in the stored form (3CX's own field names, as kept since the start)
_STORED: dict[Kind, dict[str, str]] = {
    Kind.ADDRESS: {"address": "IPAddrMask", "description": "Description", "block_type": "BlockType",
                   "added_by": "AddedBy", "expires_at": "ExpiresAt"},
    Kind.NUMBER: {"number": "CallerId", "description": "Description"},
}  # fmt: skip


def record(target: Target) -> dict[str, Any]:
    """The stored form of a target: tagged with its kind, 3CX's field names."""
    texts = {key: getattr(target, attr) for attr, key in _STORED[target.kind].items()}
    return {"kind": target.kind.value, "Id": target.id, "etag": target.etag, **texts}


def from_record(data: dict[str, Any]) -> Target:
    """A target from what :func:`record` kept."""
    kind = Kind(data["kind"])
    texts = {attr: _text(data.get(key)) for attr, key in _STORED[kind].items()}
    if kind is Kind.ADDRESS:
        return BlocklistEntry(id=_entry_id(data.get("Id")), etag=_text(data.get("etag")), **texts)
    return BlockedNumber(id=str(data["Id"]), etag=_text(data.get("etag")), **texts)


def _text(value: object) -> str | None:
    if value is not None and not isinstance(value, str):
        raise ValueError("a stored entry with a field that is not text")
    return value


def _entry_id(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError("a stored blocklist entry without a usable Id")
    return value


# -- rows <-> announcements (the blocklist watcher's) ------------------------------------------------

#: an announcement's columns, in the order ``announcement_from_row`` reads them
ANNOUNCEMENT_COLUMNS = "entry, channel, message_ts, in_summary, gone"


def announcement_row(announcement: Announcement, at: float) -> tuple[object, ...]:
    """A new announcement's values, for ``(entry_id, entry, channel, at)``."""
    return announcement.entry.id, json.dumps(record(announcement.entry)), announcement.channel, at


def announcement_from_row(row: Any) -> Announcement:
    """An announcement from a row of ``ANNOUNCEMENT_COLUMNS`` (a tuple, or a driver's record)."""
    entry, channel, message_ts, in_summary, gone = tuple(row)
    found = from_record(json.loads(entry))
    if not isinstance(found, BlocklistEntry):
        raise ValueError(f"announcement of a {type(found).__name__}, not a blocklist entry")
    return Announcement(found, channel, message_ts, in_summary=bool(in_summary), gone=bool(gone))
