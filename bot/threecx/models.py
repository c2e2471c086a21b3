"""The 3CX objects the bot reads: pure data, parsed strictly from the XAPI's JSON."""

from __future__ import annotations

import enum
import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Self

from .errors import UnexpectedResponseError

#: OData int32 key range; 0 is not an Id 3CX hands out
MIN_ENTRY_ID = 1
MAX_ENTRY_ID = 2**31 - 1


class Kind(enum.StrEnum):
    """Which of 3CX's lists an entry is on."""

    #: the IP blocklist (``/Blocklist``, int32 keys)
    ADDRESS = "address"
    #: the caller-number blacklist (``/BlackListNumbers``, string keys)
    NUMBER = "number"


class DeleteOutcome(enum.Enum):
    """How a DELETE ended."""

    #: 3CX answered 204
    DELETED = "deleted"
    #: 3CX answered 404: the entry is gone (a retry after a lost answer, or someone was quicker)
    ALREADY_GONE = "already_gone"


class _Entity(ABC):
    """What both kinds of entry share: parsed from 3CX's JSON and kept in 3CX's own field names."""

    __slots__ = ()
    kind: ClassVar[Kind]
    id: int | str
    etag: str | None
    #: the entity, as a sentence names it
    WHAT: ClassVar[str]
    #: each optional text attribute and 3CX's name for it
    TEXT_FIELDS: ClassVar[dict[str, str]]
    #: the fields that put the entry back (``POST``): what it blocked, not who added it
    CREATION_FIELDS: ClassVar[tuple[str, ...]]

    @staticmethod
    @abstractmethod
    def _valid_id(value: object) -> bool:
        """Whether ``value`` is an Id of this kind of entry."""

    @classmethod
    def from_json(cls, data: Any, etag: str | None = None) -> Self:
        if not isinstance(data, dict):
            raise UnexpectedResponseError(f"3CX answered with something that is not {cls.WHAT}")
        if not cls._valid_id(data.get("Id")):
            raise UnexpectedResponseError(f"3CX answered with {cls.WHAT} without a usable Id")
        texts = {attr: _optional_str(data, name) for attr, name in cls.TEXT_FIELDS.items()}
        return cls(id=data["Id"], etag=etag or _odata_etag(data), **texts)  # type: ignore[call-arg]

    def creation_json(self) -> dict[str, Any]:
        """The body that puts this entry back."""
        return {name: getattr(self, attr) for attr, name in self.TEXT_FIELDS.items() if name in self.CREATION_FIELDS}

    def record(self) -> dict[str, Any]:
        """The entry as 3CX wrote it (its own field names), tagged with its kind: what the bot keeps."""
        texts = {name: getattr(self, attr) for attr, name in self.TEXT_FIELDS.items()}
        return {"kind": self.kind.value, "Id": self.id, "etag": self.etag, **texts}


@dataclass(frozen=True, slots=True)
class BlocklistEntry(_Entity):
    """``Pbx.BlocklistAddr``: one IP blocklist entry. Every field but ``id`` may be null."""

    kind: ClassVar[Kind] = Kind.ADDRESS
    WHAT: ClassVar[str] = "a blocklist entry"
    TEXT_FIELDS: ClassVar[dict[str, str]] = {
        "ip_addr_mask": "IPAddrMask", "description": "Description", "block_type": "BlockType",
        "added_by": "AddedBy", "expires_at": "ExpiresAt",
    }  # fmt: skip
    CREATION_FIELDS: ClassVar[tuple[str, ...]] = ("IPAddrMask", "Description", "BlockType", "ExpiresAt")

    id: int
    ip_addr_mask: str | None
    description: str | None
    block_type: str | None
    added_by: str | None
    expires_at: str | None
    #: the entity's ETag when 3CX sent one (header or ``@odata.etag``); sent back in ``If-Match``
    etag: str | None = None

    @staticmethod
    def _valid_id(value: object) -> bool:
        return isinstance(value, int) and not isinstance(value, bool)

    @property
    def label(self) -> str:
        """What to call the entry in a sentence: its address, or ``entry 42`` when it has none."""
        return self.ip_addr_mask or f"entry {self.id}"

    @property
    def address(self) -> str | None:
        """The address or network the entry is about (what an allow entry would name)."""
        return self.ip_addr_mask

    @property
    def blocks(self) -> bool:
        """``Allow`` entries let traffic in; only blocking entries are offered for removal."""
        return self.block_type != ALLOW

    @property
    def ends_at(self) -> float | None:
        """When the entry stops holding (epoch seconds); None when it has no end (or a date that is none)."""
        try:
            ends = expiry(self.expires_at)
        except ValueError:
            return None
        return ends.timestamp() if ends is not None else None


@dataclass(frozen=True, slots=True)
class BlockedNumber(_Entity):
    """``Pbx.BlackListNumber``: one caller number on the blacklist (string key)."""

    kind: ClassVar[Kind] = Kind.NUMBER
    WHAT: ClassVar[str] = "a blocked number"
    TEXT_FIELDS: ClassVar[dict[str, str]] = {"caller_id": "CallerId", "description": "Description"}
    CREATION_FIELDS: ClassVar[tuple[str, ...]] = ("CallerId", "Description")

    id: str
    caller_id: str | None
    description: str | None
    etag: str | None = None

    @staticmethod
    def _valid_id(value: object) -> bool:
        return isinstance(value, str) and bool(value)

    @property
    def label(self) -> str:
        return self.caller_id or f"number entry {self.id}"

    @property
    def address(self) -> str | None:
        return None

    @property
    def blocks(self) -> bool:
        return True


#: ``BlockType`` of an entry that lets an address in
ALLOW = "Allow"


def expiry(value: str | None) -> datetime | None:
    """3CX's ``ExpiresAt`` as a moment; None for its dates that mean "never" (empty, or year 1).

    Raises:
        ValueError: the text is not a date.
    """
    if not value:
        return None
    # 3CX writes seven fractional digits; Python reads at most six
    moment = datetime.fromisoformat(re.sub(r"(\.\d{6})\d+", r"\1", value).replace("Z", "+00:00"))
    if moment.year <= 1:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def expires_at(epoch: float) -> str:
    """A moment as 3CX's ``ExpiresAt`` takes it (ISO 8601 with an offset)."""
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


#: what a request can remove
Target = BlocklistEntry | BlockedNumber


def from_record(data: dict[str, Any]) -> Target:
    """A target from what :meth:`BlocklistEntry.record` (or the number's) kept."""
    parse: dict[Kind, Callable[[Any, str | None], Target]] = {
        Kind.ADDRESS: BlocklistEntry.from_json,
        Kind.NUMBER: BlockedNumber.from_json,
    }
    return parse[Kind(data["kind"])](data, data.get("etag"))


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
