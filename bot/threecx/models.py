"""The 3CX objects the bot reads: pure data, parsed strictly from the XAPI's JSON."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from .errors import UnexpectedResponseError

#: OData int32 key range; 0 is not an Id 3CX hands out
MIN_ENTRY_ID = 1
MAX_ENTRY_ID = 2**31 - 1


class DeleteOutcome(enum.Enum):
    """How a DELETE ended."""

    #: 3CX answered 204
    DELETED = "deleted"
    #: 3CX answered 404: the entry is gone (a retry after a lost answer, or someone was quicker)
    ALREADY_GONE = "already_gone"


@dataclass(frozen=True, slots=True)
class BlocklistEntry:
    """``Pbx.BlocklistAddr``: one IP blocklist entry. Every field but ``id`` may be null."""

    id: int
    ip_addr_mask: str | None
    description: str | None
    block_type: str | None
    added_by: str | None
    expires_at: str | None
    #: the entity's ETag when 3CX sent one (header or ``@odata.etag``); sent back in ``If-Match``
    etag: str | None = None

    @property
    def label(self) -> str:
        """What to call the entry in a sentence: its address, or ``entry 42`` when it has none."""
        return self.ip_addr_mask or f"entry {self.id}"

    @property
    def blocks(self) -> bool:
        """``Allow`` entries let traffic in; only blocking entries are offered for removal."""
        return self.block_type != "Allow"

    @classmethod
    def from_json(cls, data: Any, etag: str | None = None) -> BlocklistEntry:
        if not isinstance(data, dict):
            raise UnexpectedResponseError("3CX answered with something that is not a blocklist entry")
        entry_id = data.get("Id")
        if not isinstance(entry_id, int) or isinstance(entry_id, bool):
            raise UnexpectedResponseError("3CX answered with a blocklist entry without a numeric Id")
        return cls(
            id=entry_id,
            ip_addr_mask=_optional_str(data, "IPAddrMask"),
            description=_optional_str(data, "Description"),
            block_type=_optional_str(data, "BlockType"),
            added_by=_optional_str(data, "AddedBy"),
            expires_at=_optional_str(data, "ExpiresAt"),
            etag=etag or _odata_etag(data),
        )

    def creation_json(self) -> dict[str, Any]:
        """The body that puts this entry back (``POST /Blocklist``): what it blocked, not who added it."""
        return {
            "IPAddrMask": self.ip_addr_mask,
            "Description": self.description,
            "BlockType": self.block_type,
            "ExpiresAt": self.expires_at,
        }


@dataclass(frozen=True, slots=True)
class BlockedNumber:
    """``Pbx.BlackListNumber``: one caller number on the blacklist (string key)."""

    id: str
    caller_id: str | None
    description: str | None
    etag: str | None = None

    @property
    def label(self) -> str:
        return self.caller_id or f"number entry {self.id}"

    @property
    def blocks(self) -> bool:
        return True

    @classmethod
    def from_json(cls, data: Any, etag: str | None = None) -> BlockedNumber:
        if not isinstance(data, dict):
            raise UnexpectedResponseError("3CX answered with something that is not a blocked number")
        number_id = data.get("Id")
        if not isinstance(number_id, str) or not number_id:
            raise UnexpectedResponseError("3CX answered with a blocked number without an Id")
        return cls(
            id=number_id,
            caller_id=_optional_str(data, "CallerId"),
            description=_optional_str(data, "Description"),
            etag=etag or _odata_etag(data),
        )

    def creation_json(self) -> dict[str, Any]:
        """The body that puts this number back (``POST /BlackListNumbers``)."""
        return {"CallerId": self.caller_id, "Description": self.description}


#: what a request can remove
Target = BlocklistEntry | BlockedNumber


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


def is_entry_id(value: int) -> bool:
    return MIN_ENTRY_ID <= value <= MAX_ENTRY_ID
