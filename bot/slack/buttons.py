"""The bot's buttons: their action ids, and what each carries in its value, encoded and decoded here only.

Values come back from Slack as the person's client sent them, so decoding checks shape, size and
ranges, and gives None for anything the bot could not have made. A value is small: a request's id,
a stored choice's id, or a listing's filter and position. Nothing a person typed is trusted from it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from .command_text import MAX_LIST_TEXT

APPROVE = "unblock_approve"
DENY = "unblock_deny"
CANCEL = "unblock_cancel"
UNDO = "unblock_undo"
CHOOSE = "unblock_choose"
LIST_MORE = "unblock_list_more"
#: the buttons that decide a request
DECISIONS = (APPROVE, DENY, CANCEL, UNDO)

#: request and choice ids are 16 lowercase hex characters
_ID = re.compile(r"[0-9a-f]{16}")
#: the furthest a listing pages
MAX_SKIP = 100_000
#: the most entries one choice offers
MAX_PICK = 50


@dataclass(frozen=True, slots=True)
class RequestButton:
    """Approve, Deny, Cancel or Undo on a card: the request's id."""

    request_id: str

    def encode(self) -> str:
        return self.request_id

    @classmethod
    def decode(cls, value: str) -> RequestButton | None:
        return cls(value) if _ID.fullmatch(value) else None


@dataclass(frozen=True, slots=True)
class ChoiceButton:
    """One entry of a stored choice (``pick``), or all of them (``pick`` None)."""

    choice_id: str
    pick: int | None

    def encode(self) -> str:
        return f"{self.choice_id}:{'all' if self.pick is None else self.pick}"

    @classmethod
    def decode(cls, value: str) -> ChoiceButton | None:
        choice_id, _, pick = value.partition(":")
        if not _ID.fullmatch(choice_id):
            return None
        if pick == "all":
            return cls(choice_id, None)
        if pick.isascii() and pick.isdigit() and len(pick) <= 2 and int(pick) < MAX_PICK:
            return cls(choice_id, int(pick))
        return None


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
        if not isinstance(data, dict):
            return None
        text, skip = data.get("t"), data.get("s")
        if text is not None and (not isinstance(text, str) or len(text) > MAX_LIST_TEXT or not text.isprintable()):
            return None
        if type(skip) is not int or not 0 <= skip <= MAX_SKIP:
            return None
        return cls(text, skip)
