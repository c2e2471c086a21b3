"""The XAPI's entity sets the bot uses: their paths, how a key is written into a URL, and how an entity is read."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from urllib.parse import quote

from .models import BlockedNumber, BlocklistEntry, blocked_number, blocklist_entry, is_entry_id
from .odata import string_literal

E = TypeVar("E")


@dataclass(frozen=True, slots=True)
class EntitySet(Generic[E]):
    """One of the XAPI's entity sets: its path, how a key of it is written, how an entity is read."""

    path: str
    key: Callable[[Any], str]
    parse: Callable[[Any, str | None], E]

    def entity(self, key: Any) -> str:
        return f"{self.path}({self.key(key)})"


def _int_key(entry_id: int) -> str:
    # the Id is formatted from a validated int, never from user text
    if isinstance(entry_id, bool) or not isinstance(entry_id, int) or not is_entry_id(entry_id):
        raise ValueError(f"not a blocklist entry id: {entry_id!r}")
    return f"{entry_id:d}"


def _string_key(number_id: str) -> str:
    # a quoted literal with its quotes doubled, and everything else in it that is not a letter or digit
    # percent-encoded: no character of it can end the key, add a path segment or start a query
    if not isinstance(number_id, str) or not number_id or len(number_id) > 200:
        raise ValueError("not a blocked number id")
    return quote(string_literal(number_id), safe="'")


BLOCKLIST: EntitySet[BlocklistEntry] = EntitySet("/Blocklist", _int_key, blocklist_entry)
BLACKLIST_NUMBERS: EntitySet[BlockedNumber] = EntitySet("/BlackListNumbers", _string_key, blocked_number)
