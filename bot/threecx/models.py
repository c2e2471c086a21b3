"""The XAPI's entity sets the bot uses: their paths, how a key is written into a URL, how 3CX's JSON is read into
the domain's entries (``bot.domain.entries``) strictly, and the bodies 3CX takes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar
from urllib.parse import quote

from ..domain.entries import ALLOW, BlockedNumber, BlocklistEntry, is_entry_id
from .errors import UnexpectedResponseError

E = TypeVar("E", BlocklistEntry, BlockedNumber)


def string_literal(value: str) -> str:
    """An OData string literal: quoted, with every ``'`` doubled."""
    return "'" + value.replace("'", "''") + "'"


@dataclass(frozen=True, slots=True)
class EntitySet(Generic[E]):
    """One of the XAPI's entity sets: its path, the entry it holds, and its fields."""

    path: str
    holds: type[E]
    #: each text attribute of an entry and 3CX's name for it
    fields: dict[str, str]
    #: the fields that put an entry back (``POST``): what it blocked, not who added it
    creation: tuple[str, ...]
    #: what its Ids are: whole numbers (the IP blocklist), or text
    numbered: bool

    def entity(self, key: Any) -> str:
        """``/<set>(<key>)``, the key written from a checked value, never from someone's text as it is: a whole
        number as digits; text as a quoted literal with its quotes doubled, and everything else in it that is not
        a letter or digit percent-encoded (no character of it can end the key, add a path segment or start a
        query)."""
        if self.numbered and type(key) is int and is_entry_id(key):
            return f"{self.path}({key:d})"
        if not self.numbered and isinstance(key, str) and 0 < len(key) <= 200:
            literal = quote(string_literal(key), safe="'")
            return f"{self.path}({literal})"
        raise ValueError(f"not an Id of {self.path}")

    def parse(self, data: Any, etag: str | None = None) -> E:
        """An entry read strictly from 3CX's JSON; its ETag from the header, or from ``@odata.etag``."""
        what = f"an entry of {self.path}"
        if not isinstance(data, dict):
            raise UnexpectedResponseError(f"3CX answered with something that is not {what}")
        key: Any = data.get("Id")
        if not (type(key) is int if self.numbered else isinstance(key, str) and key):
            raise UnexpectedResponseError(f"3CX answered with {what} without a usable Id")
        texts = {attr: data.get(name) for attr, name in self.fields.items()}
        for attr, value in texts.items():
            if value is not None and not isinstance(value, str):
                raise UnexpectedResponseError(f"3CX answered with a {self.fields[attr]} that is not text")
        said = data.get("@odata.etag")
        return self.holds(id=key, etag=etag or (said if isinstance(said, str) else None), **texts)

    def creation_body(self, target: E) -> dict[str, Any]:
        """The body that puts ``target`` back."""
        return {name: getattr(target, attr) for attr, name in self.fields.items() if name in self.creation}


BLOCKLIST = EntitySet(
    "/Blocklist",
    BlocklistEntry,
    {
        "address": "IPAddrMask",
        "description": "Description",
        "block_type": "BlockType",
        "added_by": "AddedBy",
        "expires_at": "ExpiresAt",
    },
    ("IPAddrMask", "Description", "BlockType", "ExpiresAt"),
    numbered=True,
)
BLACKLIST_NUMBERS = EntitySet(
    "/BlackListNumbers",
    BlockedNumber,
    {"number": "CallerId", "description": "Description"},
    ("CallerId", "Description"),
    numbered=False,
)


def allow_body(address: str, until: float, note: str) -> dict[str, Any]:
    """The body of an allow entry that lets ``address`` in until ``until`` (epoch seconds)."""
    expires_at = datetime.fromtimestamp(until, UTC).isoformat(timespec="seconds")  # ISO 8601 with an offset
    return {"IPAddrMask": address, "BlockType": ALLOW, "ExpiresAt": expires_at, "Description": note}
