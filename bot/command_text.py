"""Parsing what follows ``/unblock``: strict, pure, and polite about mistakes."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .threecx import MAX_ENTRY_ID, MIN_ENTRY_ID

USAGE = (
    "*Ask for a 3CX blocklist entry to be removed*\n"
    "`/unblock <id>`: show blocklist entry `<id>` to the channel with *Approve* and *Deny* buttons. "
    "An approver's click removes it from the PBX.\n"
    "`/unblock help`: show this help.\n"
    "The id is the number of the entry in the 3CX IP blocklist, for example `/unblock 42`."
)

_DIGITS = re.compile(r"[0-9]+")
_SHOWN = 40


@dataclass(frozen=True, slots=True)
class ShowHelp:
    pass


@dataclass(frozen=True, slots=True)
class UnblockEntry:
    entry_id: int


Command = ShowHelp | UnblockEntry


class InvalidCommand(ValueError):
    """The text cannot be used; ``message`` says why, ready for an ephemeral reply."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def parse_command(text: str) -> Command:
    words = text.split()
    if not words or (len(words) == 1 and words[0].lower() == "help"):
        return ShowHelp()
    if len(words) > 1:
        raise InvalidCommand(f"`/unblock` takes one entry id, not `{_quote(text)}`. For example: `/unblock 42`.")
    return UnblockEntry(parse_entry_id(words[0]))


def parse_entry_id(word: str) -> int:
    """An entry id: ASCII digits only, from 1 to 2147483647."""
    if not _DIGITS.fullmatch(word):
        raise InvalidCommand(
            f"`{_quote(word)}` is not a blocklist entry id. An id is a whole number such as `42`; "
            "type `/unblock help` for more."
        )
    if len(word) > len(str(MAX_ENTRY_ID)) or not MIN_ENTRY_ID <= int(word) <= MAX_ENTRY_ID:
        raise InvalidCommand(
            f"`{_quote(word)}` is out of range: blocklist entry ids go from {MIN_ENTRY_ID} to {MAX_ENTRY_ID}."
        )
    return int(word)


def _quote(text: str) -> str:
    """User text made safe to echo inside a code span: short, one line, no mrkdwn control characters."""
    flat = " ".join(text.split())
    shown = flat if len(flat) <= _SHOWN else flat[: _SHOWN - 1] + "…"
    shown = "".join(ch if ch.isprintable() else "?" for ch in shown)
    return shown.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("`", "'")
