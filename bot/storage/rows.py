"""Rows and requests, the same for every store: the columns, the JSON kept in them, and what a transition
changes (``Move``). Each store only turns these into its own SQL."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ..domain.actions import UNBLOCK, Action, Does, Result
from ..domain.entries import BlockedNumber, BlocklistEntry, Kind, Target
from ..domain.model import (
    Approval,
    Asked,
    Decision,
    Done,
    Escalation,
    Move,
    State,
    Transition,
    UnblockRequest,
    What,
)
from ..domain.outcomes import Outcome
from ..domain.ports import Announcement, Found
from . import evidence
from .scoping import target_prefix

#: a request's columns: its fields by the same names, but its action, kept as ``allow_for`` and ``allow_only``
#: (``pbx``: the name of the PBX it is for, "" for the one PBX of a bot that serves one)
NAMES = (
    "id",
    "targets",
    "requester",
    "channel",
    "created_at",
    "expires_at",
    "reason",
    "state",
    "resolved_by",
    "resolved_at",
    "results",
    "undo_until",
    "undone_by",
    "undone_at",
    "undo_results",
    "owner",
    "heartbeat_at",
    "asked_in",
    "allow_for",
    "rule",
    "auto",
    "approvals",
    "approvals_needed",
    "asked_address",
    "allow_only",
    "reminded_at",
    "escalation",
    "evidence",
    "pbx",
)
COLUMNS = ", ".join(NAMES)
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
    if move.action is not None and move.action.allow_for is not None:
        columns["allow_for"] = move.action.allow_for
    if move.approvals is not None:
        columns["approvals"] = approvals_json(move.approvals)
    if move.action is not None and move.action.does is Does.ALLOW_ONLY:
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


def update(move: Move) -> tuple[str, list[object]]:
    """``UPDATE requests SET … WHERE …`` that makes ``move`` (``?`` for each value), and its values."""
    columns, required = changes(move), conditions(move)
    sets = ", ".join(f"{column} = ?" for column in columns)
    where = " AND ".join(f"{column} {op} ?" for column, op, _ in required)
    return f"UPDATE requests SET {sets} WHERE {where}", [*columns.values(), *(value for _, _, value in required)]


# -- rows <-> requests ------------------------------------------------------------------


def request_row(request: UnblockRequest) -> tuple[object, ...]:
    """The request's values, in the order of ``COLUMNS`` (JSON, or an enum's value, where they are text)."""
    asked, what, decision, done = request.asked, request.what, request.decision, request.done
    values = {
        "id": request.id,
        "targets": json.dumps([record(t) for t in what.targets]),
        "requester": asked.by,
        "channel": asked.channel,
        "created_at": asked.at,
        "expires_at": decision.expires_at,
        "reason": asked.reason,
        "state": request.state.value,
        "resolved_by": decision.by,
        "resolved_at": decision.at,
        "results": results_json(done.results),
        "undo_until": done.undo_until,
        "undone_by": done.undone_by,
        "undone_at": done.undone_at,
        "undo_results": results_json(done.undo_results),
        "owner": request.owner,
        "heartbeat_at": request.heartbeat_at,
        "asked_in": asked.elsewhere,
        "allow_for": done.action.allow_for,
        "rule": decision.rule,
        "auto": int(decision.auto),
        "approvals": approvals_json(decision.approvals),
        "approvals_needed": decision.needed,
        "asked_address": what.address,
        "allow_only": int(done.action.does is Does.ALLOW_ONLY),
        "reminded_at": decision.reminded_at,
        "escalation": escalation_json(decision.escalation),
        "evidence": evidence.stored(what.evidence),
        "pbx": request.pbx,
    }
    return tuple(values[name] for name in NAMES)


def request_from_row(row: Any) -> UnblockRequest:
    """A request from a row of ``COLUMNS`` (a tuple, or a driver's record)."""
    v: dict[str, Any] = dict(zip(NAMES, tuple(row), strict=True))
    allow_for = v["allow_for"]
    does = Does.ALLOW_ONLY if v["allow_only"] else Does.UNBLOCK if allow_for is None else Does.UNBLOCK_AND_ALLOW
    approvals, escalation = _approvals(v["approvals"]), _escalation(v["escalation"])
    return UnblockRequest(
        id=v["id"],
        asked=Asked(v["requester"], v["channel"], v["created_at"], v["reason"], v["asked_in"]),
        what=What(
            tuple(from_record(t) for t in json.loads(v["targets"])), v["asked_address"], evidence.read(v["evidence"])
        ),
        decision=Decision(
            v["expires_at"],
            v["rule"],
            bool(v["auto"]),
            v["approvals_needed"],
            approvals,
            v["resolved_by"],
            v["resolved_at"],
            v["reminded_at"],
            escalation,
        ),
        state=State(v["state"]),
        done=Done(
            Action(does, allow_for),
            _results(v["results"]),
            v["undo_until"],
            v["undone_by"],
            v["undone_at"],
            _results(v["undo_results"]),
        ),
        owner=v["owner"],
        heartbeat_at=v["heartbeat_at"],
        pbx=v["pbx"],
    )


def escalation_json(escalation: Escalation | None) -> str | None:
    """How an escalation is kept, its fields by name (None: not escalated, NULL); the names are the stored format,
    whatever the dataclass's fields become."""
    if escalation is None:
        return None
    e = escalation
    return json.dumps({"at": e.at, "after": e.after, "users": list(e.users), "groups": list(e.groups)})


def _escalation(text: str | None) -> Escalation | None:
    if text is None:
        return None
    data = json.loads(text)
    return Escalation(float(data["at"]), float(data["after"]), tuple(data["users"]), tuple(data["groups"]))


def transition_from_row(row: Any) -> Transition:
    request_id, from_state, to_state, actor, at, answer = row
    return Transition(request_id, State(from_state) if from_state else None, State(to_state), actor, at, answer)


def target_keys(request: UnblockRequest) -> list[str]:
    """What makes each entry the same entry: its PBX, its kind and its Id (one open request per entry)."""
    return [f"{target_prefix(request.pbx)}{t.kind.value}:{t.id}" for t in request.what.targets]


def approvals_json(approvals: Sequence[Approval]) -> str:
    """How the approvals so far are kept (and compared, when another approval is added): an Approve as its
    approver alone (``"U1"``, as every approval was kept before approvals named their action), any other as
    ``{"user": "U1", "action": "allow_only", "allow_for": 3600.0}``."""
    return json.dumps([a.user if a.action == UNBLOCK else {"user": a.user, **a.action.record} for a in approvals])


def _approvals(text: str) -> tuple[Approval, ...]:
    """What :func:`approvals_json` wrote (an approval without an action approved ``unblock``)."""
    return tuple(_approval(item) for item in json.loads(text))


def _approval(item: object) -> Approval:
    if isinstance(item, str):
        return Approval(item)
    if not isinstance(item, dict) or not isinstance(item.get("user"), str):
        raise ValueError("a stored approval without its approver")
    does, allow_for = item.get("action", "unblock"), item.get("allow_for")
    try:
        return Approval(item["user"], Action(Does(does), None if allow_for is None else float(allow_for)))
    except (TypeError, ValueError):
        raise ValueError(f"a stored approval of an unknown action ({does})") from None


def results_json(results: tuple[Result, ...]) -> str:
    """How results are kept: each a list of its fields in this order, the stored format (whatever the order of
    ``Result``'s fields becomes)."""
    return json.dumps(
        [
            [r.outcome.value, r.answer, r.new_id, r.after_restart, r.allow_id, r.allowed_until, r.allow_existed]
            for r in results
        ]
    )


def _results(text: str) -> tuple[Result, ...]:
    return tuple(
        Result(Outcome(outcome), answer, new_id, after_restart, allow_id, allowed_until, allow_existed)
        for outcome, answer, new_id, after_restart, allow_id, allowed_until, allow_existed in json.loads(text)
    )


# -- targets <-> their stored form ------------------------------------------------------------------

#: each text attribute of a target and its key in the stored form (3CX's own field names, as kept since the start)
_STORED: dict[Kind, dict[str, str]] = {
    Kind.ADDRESS: {
        "address": "IPAddrMask",
        "description": "Description",
        "block_type": "BlockType",
        "added_by": "AddedBy",
        "expires_at": "ExpiresAt",
    },
    Kind.NUMBER: {"number": "CallerId", "description": "Description"},
}
_TYPES: dict[Kind, type[Target]] = {Kind.ADDRESS: BlocklistEntry, Kind.NUMBER: BlockedNumber}


def record(target: Target) -> dict[str, Any]:
    """The stored form of a target: tagged with its kind, 3CX's field names."""
    texts = {key: getattr(target, attr) for attr, key in _STORED[target.kind].items()}
    return {"kind": target.kind.value, "Id": target.id, "etag": target.etag, **texts}


def from_record(data: dict[str, Any]) -> Target:
    """A target from what :func:`record` kept."""
    kind = Kind(data["kind"])
    texts = {attr: data.get(key) for attr, key in _STORED[kind].items()}
    return _TYPES[kind](id=data["Id"], etag=data.get("etag"), **texts)


# -- rows <-> announcements (the blocklist watcher's) ------------------------------------------------

#: an announcement's columns, in the order ``announcement_from_row`` reads them
ANNOUNCEMENT_COLUMNS = "entry, channel, message_ts, in_summary, gone"


def announcement_row(announcement: Announcement, at: float) -> tuple[object, ...]:
    """A new announcement's values, for ``(entry_id, entry, channel, at)`` (its PBX is the store's)."""
    return announcement.entry.id, json.dumps(record(announcement.entry)), announcement.channel, at


def found_from_row(row: Any) -> Found:
    """An announced entry, when it was found and on which PBX, from a row of ``entry, at, pbx``."""
    entry, at, pbx = tuple(row)
    return Found(_announced(entry), float(at), str(pbx))


def announcement_from_row(row: Any) -> Announcement:
    """An announcement from a row of ``ANNOUNCEMENT_COLUMNS`` (a tuple, or a driver's record)."""
    entry, channel, message_ts, in_summary, gone = tuple(row)
    return Announcement(_announced(entry), channel, message_ts, in_summary=bool(in_summary), gone=bool(gone))


def _announced(text: str) -> BlocklistEntry:
    found = from_record(json.loads(text))
    if not isinstance(found, BlocklistEntry):
        raise ValueError(f"announcement of a {type(found).__name__}, not a blocklist entry")
    return found
