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
    def address(self) -> str:
        """What to call the entry in a sentence: its address, or ``entry 42`` when it has none."""
        return self.ip_addr_mask or f"entry {self.id}"

    @classmethod
    def from_json(cls, data: Any, etag: str | None = None) -> BlocklistEntry:
        if not isinstance(data, dict):
            raise UnexpectedResponseError("3CX answered with something that is not a blocklist entry")
        entry_id = data.get("Id")
        if not isinstance(entry_id, int) or isinstance(entry_id, bool):
            raise UnexpectedResponseError("3CX answered with a blocklist entry without a numeric Id")
        odata_etag = data.get("@odata.etag")
        return cls(
            id=entry_id,
            ip_addr_mask=_optional_str(data, "IPAddrMask"),
            description=_optional_str(data, "Description"),
            block_type=_optional_str(data, "BlockType"),
            added_by=_optional_str(data, "AddedBy"),
            expires_at=_optional_str(data, "ExpiresAt"),
            etag=etag or (odata_etag if isinstance(odata_etag, str) else None),
        )


def _optional_str(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise UnexpectedResponseError(f"3CX answered with a blocklist entry whose {key} is not text")
    return value


def is_entry_id(value: int) -> bool:
    return MIN_ENTRY_ID <= value <= MAX_ENTRY_ID
