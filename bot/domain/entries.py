"""The domain's own words for what is on 3CX's lists: the entries a request removes, what removing one did,
and what a call to a list can fail with. ``bot.threecx`` parses its answers into these and translates its
errors into :class:`CallFailed`; the domain never sees 3CX's field names or its protocol."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import ClassVar

from .outcomes import Outcome

#: 3CX's key range for blocklist entries (32-bit integers); 0 is not an Id 3CX hands out
MIN_ENTRY_ID = 1
MAX_ENTRY_ID = 2**31 - 1
#: ``block_type`` of an entry that lets an address in
ALLOW = "Allow"


class Kind(enum.StrEnum):
    """Which of 3CX's lists an entry is on."""

    #: the IP blocklist (int keys)
    ADDRESS = "address"
    #: the caller-number blacklist (string keys)
    NUMBER = "number"


@dataclass(frozen=True, slots=True)
class BlocklistEntry:
    """One IP blocklist entry. Every field but ``id`` may be None."""

    kind: ClassVar[Kind] = Kind.ADDRESS

    id: int
    #: the address or network the entry is about
    address: str | None
    description: str | None
    block_type: str | None
    added_by: str | None
    #: its expiry as the list wrote it (see :func:`expiry`)
    expires_at: str | None
    #: the entry's version when 3CX said it; sent back so that a changed entry is left alone
    etag: str | None = None

    @property
    def label(self) -> str:
        """What to call the entry in a sentence: its address, or ``entry 42`` when it has none."""
        return self.address or f"entry {self.id}"

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
class BlockedNumber:
    """One caller number on the blacklist (string key)."""

    kind: ClassVar[Kind] = Kind.NUMBER
    #: a caller number is about no address, and every number on the blacklist blocks
    address: ClassVar[None] = None
    blocks: ClassVar[bool] = True

    id: str
    number: str | None
    description: str | None
    etag: str | None = None

    @property
    def label(self) -> str:
        return self.number or f"number entry {self.id}"


#: what a request can remove
Target = BlocklistEntry | BlockedNumber


def expiry(value: str | None) -> datetime | None:
    """An entry's expiry as a moment; None for its dates that mean "never" (empty, or year 1).

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


def is_entry_id(value: int) -> bool:
    return MIN_ENTRY_ID <= value <= MAX_ENTRY_ID


@dataclass(frozen=True, slots=True)
class Removal:
    """What removing an entry did, with 3CX's answer for the record."""

    #: True: this call removed it; False: it was already gone (someone was quicker, or a lost answer's retry)
    deleted: bool
    answer: str
    #: it was found gone by a try after one whose answer was lost: that try, this call's own, most likely removed it
    answer_lost: bool = False


class CallFailed(Exception):
    """A call to one of the lists failed: why, whether it may still have been applied, and 3CX's answer."""

    reason: Outcome = Outcome.OTHER
    #: the call reached 3CX and its answer was lost: 3CX may have carried it out
    maybe_applied: bool = False
    #: what the list said about it, if anything
    detail: str | None = None

    def answer(self) -> str:
        """What was answered, in one line, for the record."""
        return str(self)
