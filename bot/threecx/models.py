"""The XAPI's JSON, read into the domain's entries (``bot.domain.entries``) strictly, and the bodies 3CX takes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ..domain.entries import (
    ALLOW,
    MAX_ENTRY_ID,
    MIN_ENTRY_ID,
    BlockedNumber,
    BlocklistEntry,
    Kind,
    Target,
    expiry,
    is_entry_id,
)
from .errors import UnexpectedResponseError

__all__ = [
    "ALLOW",
    "MAX_ENTRY_ID",
    "MIN_ENTRY_ID",
    "BlockedNumber",
    "BlocklistEntry",
    "Kind",
    "Target",
    "allow_body",
    "blocked_number",
    "blocklist_entry",
    "creation_body",
    "expires_at",
    "expiry",
    "is_entry_id",
]

#: ``Pbx.BlocklistAddr``: each text attribute of an entry and 3CX's name for it
ADDRESS_FIELDS = {
    "address": "IPAddrMask", "description": "Description", "block_type": "BlockType", "added_by": "AddedBy",
    "expires_at": "ExpiresAt",
}  # fmt: skip
#: ``Pbx.BlackListNumber``
NUMBER_FIELDS = {"number": "CallerId", "description": "Description"}
#: the fields that put an entry back (``POST``): what it blocked, not who added it
_CREATION = {
    Kind.ADDRESS: ("IPAddrMask", "Description", "BlockType", "ExpiresAt"),
    Kind.NUMBER: ("CallerId", "Description"),
}
_FIELDS = {Kind.ADDRESS: ADDRESS_FIELDS, Kind.NUMBER: NUMBER_FIELDS}


def blocklist_entry(data: Any, etag: str | None = None) -> BlocklistEntry:
    """``Pbx.BlocklistAddr`` (int Id)."""
    texts = _texts(data, "a blocklist entry", ADDRESS_FIELDS, lambda v: isinstance(v, int) and not isinstance(v, bool))
    return BlocklistEntry(id=data["Id"], etag=etag or _odata_etag(data), **texts)


def blocked_number(data: Any, etag: str | None = None) -> BlockedNumber:
    """``Pbx.BlackListNumber`` (string Id)."""
    texts = _texts(data, "a blocked number", NUMBER_FIELDS, lambda v: isinstance(v, str) and bool(v))
    return BlockedNumber(id=data["Id"], etag=etag or _odata_etag(data), **texts)


def creation_body(target: Target) -> dict[str, Any]:
    """The body that puts ``target`` back."""
    names = _FIELDS[target.kind]
    return {name: getattr(target, attr) for attr, name in names.items() if name in _CREATION[target.kind]}


def allow_body(address: str, until: float, note: str) -> dict[str, Any]:
    """The body of an allow entry that lets ``address`` in until ``until`` (epoch seconds)."""
    return {"IPAddrMask": address, "BlockType": ALLOW, "ExpiresAt": expires_at(until), "Description": note}


def expires_at(epoch: float) -> str:
    """A moment as 3CX's ``ExpiresAt`` takes it (ISO 8601 with an offset)."""
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


def _texts(data: Any, what: str, fields: dict[str, str], valid_id: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise UnexpectedResponseError(f"3CX answered with something that is not {what}")
    if not valid_id(data.get("Id")):
        raise UnexpectedResponseError(f"3CX answered with {what} without a usable Id")
    return {attr: _optional_str(data, name) for attr, name in fields.items()}


def _optional_str(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise UnexpectedResponseError(f"3CX answered with a {key} that is not text")
    return value


def _odata_etag(data: dict[str, Any]) -> str | None:
    etag = data.get("@odata.etag")
    return etag if isinstance(etag, str) else None
