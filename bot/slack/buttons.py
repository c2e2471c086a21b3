"""The bot's buttons: their action ids, and what each carries in its value, encoded and decoded here only.

Values come back from Slack as the person's client sent them, so decoding checks shape, size and
ranges, and gives None for anything the bot could not have made. A value is small: a request's id,
a stored choice's id, or a listing's filter and position. Nothing a person typed is trusted from it.

A button that names no request (a choice, a listing's page, an announcement's entry) is of one PBX: when the bot
serves several, its value starts with the PBX's name and a slash (``acme/42``); a request's buttons need not say,
the request knows its PBX.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from ..domain.entries import is_entry_id
from .command_text import MAX_LIST_TEXT
from .ids import PBX_NAME

APPROVE = "unblock_approve"
DENY = "unblock_deny"
CANCEL = "unblock_cancel"
UNDO = "unblock_undo"
CHOOSE = "unblock_choose"
LIST_MORE = "unblock_list_more"
REQUEST_ENTRY = "unblock_request_entry"
BURST_LIST = "unblock_burst_list"
#: **Show them all** under the message of a burst the watcher unblocked by the rules, and **More** under its pages
BURST_UNBLOCKED = "unblock_burst_unblocked"
#: Approve and allow, and the select of its duration beside it
APPROVE_ALLOW = "unblock_approve_allow"
ALLOW_FOR = "unblock_allow_for"
#: Allow only the address asked for, inside a blocked network (its duration chosen with the same select)
ALLOW_ONLY = "unblock_allow_only"
#: Approve and Deny in the bot's Home tab
HOME_APPROVE = "unblock_home_approve"
HOME_DENY = "unblock_home_deny"
#: Extend and End now under the warning before an allow entry ends, and End now in the Home tab
ALLOW_EXTEND = "unblock_allow_extend"
ALLOW_END = "unblock_allow_end"
HOME_ALLOW_END = "unblock_home_allow_end"
#: the longest allow duration a value may carry (the settings say which are offered)
MAX_ALLOW_SECONDS = 90 * 86400

#: a PBX's name at the start of a value
_PBX = re.compile(f"({PBX_NAME.pattern})/(.*)", re.DOTALL)
#: request and choice ids are 16 lowercase hex characters
_ID = "[0-9a-f]{16}"
#: the furthest a listing pages
MAX_SKIP = 100_000
#: the most entries one choice offers
MAX_PICK = 50


def of_pbx(pbx: str, value: str) -> str:
    """``value``, of a button of the PBX ``pbx`` ("" when the bot serves one)."""
    return f"{pbx}/{value}" if pbx else value


def pbx_of(value: str) -> tuple[str, str]:
    """The PBX a button's value is of ("": not said), and the value without it."""
    found = _PBX.fullmatch(value)
    return (found[1], found[2]) if found else ("", value)


@dataclass(frozen=True, slots=True)
class RequestButton:
    """Approve, Deny, Cancel or Undo on a card: the request's id."""

    request_id: str

    def encode(self) -> str:
        return self.request_id

    @classmethod
    def decode(cls, value: str) -> RequestButton | None:
        return cls(value) if re.fullmatch(_ID, value) else None


@dataclass(frozen=True, slots=True)
class AllowButton:
    """**Approve and allow** and **Allow only** on a card, and each option of the duration beside them: the
    request's id and the duration in seconds."""

    request_id: str
    seconds: int

    def encode(self) -> str:
        return f"{self.request_id}:{self.seconds}"

    @classmethod
    def decode(cls, value: str) -> AllowButton | None:
        found = re.fullmatch(f"({_ID}):([0-9]{{1,8}})", value)
        return cls(found[1], int(found[2])) if found and 1 <= int(found[2]) <= MAX_ALLOW_SECONDS else None


@dataclass(frozen=True, slots=True)
class ExtendButton:
    """**Extend** under the warning before an allow entry ends: the request's id and the end it extends (epoch
    seconds), so that the warning's button extends that end only once."""

    request_id: str
    ends_at: int

    def encode(self) -> str:
        return f"{self.request_id}:{self.ends_at}"

    @classmethod
    def decode(cls, value: str) -> ExtendButton | None:
        found = re.fullmatch(f"({_ID}):([0-9]{{1,11}})", value)
        return cls(found[1], int(found[2])) if found else None


@dataclass(frozen=True, slots=True)
class ChoiceButton:
    """One entry of a stored choice (``pick``), or all of them (``pick`` None)."""

    choice_id: str
    pick: int | None

    def encode(self) -> str:
        return f"{self.choice_id}:{'all' if self.pick is None else self.pick}"

    @classmethod
    def decode(cls, value: str) -> ChoiceButton | None:
        found = re.fullmatch(f"({_ID}):(all|[0-9]{{1,2}})", value)
        if found is None or found[2] == "all":
            return cls(found[1], None) if found else None
        return cls(found[1], int(found[2])) if int(found[2]) < MAX_PICK else None


@dataclass(frozen=True, slots=True)
class PageButton:
    """**More** under a listing: its filter and where the next page starts."""

    text: str | None
    skip: int

    def encode(self) -> str:
        return json.dumps({"t": self.text, "s": self.skip}, separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def decode(cls, value: str) -> PageButton | None:
        try:
            data = json.loads(value)
        except ValueError:
            return None
        text, skip = (data.get("t"), data.get("s")) if isinstance(data, dict) else (None, None)
        if text is not None and (not isinstance(text, str) or len(text) > MAX_LIST_TEXT or not text.isprintable()):
            return None
        return cls(text, skip) if type(skip) is int and 0 <= skip <= MAX_SKIP else None


@dataclass(frozen=True, slots=True)
class EntryButton:
    """**Request unblock** on an announcement of a new block: the blocklist entry's Id."""

    entry_id: int

    def encode(self) -> str:
        return str(self.entry_id)

    @classmethod
    def decode(cls, value: str) -> EntryButton | None:
        return cls(int(value)) if re.fullmatch("[0-9]{1,10}", value) and is_entry_id(int(value)) else None


@dataclass(frozen=True, slots=True)
class BurstButton:
    """**Show them all** under the summary of a burst: the burst's Ids and where the page starts."""

    first_id: int
    last_id: int
    skip: int = 0

    def encode(self) -> str:
        return f"{self.first_id}-{self.last_id}:{self.skip}"

    @classmethod
    def decode(cls, value: str) -> BurstButton | None:
        found = re.fullmatch(r"([0-9]{1,10})-([0-9]{1,10}):([0-9]{1,6})", value)
        first, last, skip = (int(g) for g in found.groups()) if found else (0, 0, 0)
        if found is None or not (is_entry_id(first) and is_entry_id(last) and first <= last and skip <= MAX_SKIP):
            return None
        return cls(first, last, skip)
