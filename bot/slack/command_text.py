"""Parsing what follows ``/unblock``: strict, pure, and polite about mistakes.

/unblock 42 [reason]                   an IP blocklist entry by its id
/unblock 203.0.113.7 [reason]          the entries blocking an address (IPv4/IPv6, or a network with /mask)
/unblock number +1 555 0100 [reason]   a blocked caller number (also: /unblock +15550100, 0044 20 7946 0958,
                                       555-0100 [reason]: what only a phone number looks like)
/unblock list [text]                   the newest blocklist entries, optionally filtered
/unblock history [n]                   the last n requests
/unblock report [days]                 approvers: how the requests of the last days ended
/unblock help
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

from ..domain.entries import MAX_ENTRY_ID, MIN_ENTRY_ID
from ..domain.report import DEFAULT_DAYS as DEFAULT_REPORT_DAYS
from ..domain.report import MAX_DAYS as MAX_REPORT_DAYS

USAGE = (
    "*Ask for a 3CX block to be lifted*\n"
    "`/unblock 42`: IP blocklist entry 42, shown on a card with *Approve*, *Deny* and *Cancel* buttons "
    "(in the approvals channel when there is one; you are told where, and the outcome).\n"
    "`/unblock 203.0.113.7`: the entries that block this address (IPv4 or IPv6; a network like "
    "`203.0.113.0/24` works too).\n"
    "`/unblock number +1 555 0100` or `/unblock +15550100` (or `0044 20 7946 0958`, `555-0100`): an entry of the "
    "caller-number blacklist. A number alone, like `5550100`, is an IP blocklist entry id.\n"
    "Add a reason after any of these: `/unblock 42 customer's VPN moved`.\n"
    "`/unblock list [text]`: the newest entries of the IP blocklist, optionally only those whose address or "
    "description contains the text.\n"
    "`/unblock history [n]`: the last n requests made in this channel and how they ended (10 if n is left out); "
    "approvers see every channel's.\n"
    "`/unblock report [days]`: for approvers, how the requests of the last days ended, how long a decision took, "
    f"who unblocked and what ({DEFAULT_REPORT_DAYS} days if left out, at most {MAX_REPORT_DAYS}).\n"
    "An approver's *Approve* lifts the block; *Approve and allow* (for one address or a small network) also lets "
    "it in for a while, so 3CX does not block it again at once. *Deny* refuses; the person who asked can *Cancel*. "
    "For a while after, *Undo* puts the block back."
)

MAX_REASON = 300
MAX_LIST_TEXT = 64
MAX_HISTORY = 50
#: the fewest digits of a caller number
MIN_NUMBER_DIGITS = 3
MAX_NUMBER_DIGITS = 20
DEFAULT_HISTORY = 10
_DIGITS = re.compile(r"[0-9]+")
#: what reads as a (possibly wrong) entry id rather than an address: 42, -1, 4.2, 1,000
_NUMERIC = re.compile(r"-?[0-9]+(?:[.,][0-9]+)?")
_PHONE_PIECE = re.compile(r"[+0-9()\-.]+")
#: digits as a phone number groups them: ``0100``, ``(555)``, ``010-0``, ``7946.0958``
_DIGIT_GROUP = re.compile(r"\(?[0-9]+\)?(?:[\-.][0-9]+)*")
_SHOWN = 40


@dataclass(frozen=True, slots=True)
class ShowHelp:
    pass


@dataclass(frozen=True, slots=True)
class _Unblock:
    """Something to unblock, with the person's reason (keyword-only, so it follows each kind's own field)."""

    reason: str | None = field(default=None, kw_only=True)


@dataclass(frozen=True, slots=True)
class UnblockEntry(_Unblock):
    entry_id: int


@dataclass(frozen=True, slots=True)
class UnblockAddress(_Unblock):
    network: ipaddress.IPv4Network | ipaddress.IPv6Network

    @property
    def shown(self) -> str:
        return address_shown(self.network)


@dataclass(frozen=True, slots=True)
class UnblockNumber(_Unblock):
    #: digits only, with a leading ``+`` when one was given
    number: str


@dataclass(frozen=True, slots=True)
class ListEntries:
    text: str | None = None


@dataclass(frozen=True, slots=True)
class ShowHistory:
    count: int = DEFAULT_HISTORY


@dataclass(frozen=True, slots=True)
class ShowReport:
    days: int = DEFAULT_REPORT_DAYS


Command = ShowHelp | UnblockEntry | UnblockAddress | UnblockNumber | ListEntries | ShowHistory | ShowReport
Unblock = UnblockEntry | UnblockAddress | UnblockNumber


class InvalidCommand(ValueError):
    """The text cannot be used; ``message`` says why, ready for an ephemeral reply."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def parse_command(text: str, *, require_reason: bool = False, reason_apart: bool = False) -> Command:
    """``reason_apart``: the text only names what to unblock (a form's field, its reason is another), so digit
    groups after an id can only be the rest of a phone number."""
    words = text.split()
    if not words or words[0].lower() in ("help", "?"):
        return ShowHelp()
    first, rest = words[0], words[1:]
    keyword = first.lower()
    if keyword == "list":
        text = " ".join(rest)
        if len(text) > MAX_LIST_TEXT or not text.isprintable():
            raise InvalidCommand(
                f"Please filter with plain text of at most {MAX_LIST_TEXT} characters, e.g. `/unblock list 203.0.113`."
            )
        return ListEntries(text or None)
    if keyword == "history":
        usage = "`/unblock history` takes a count from 1 to {}, e.g. `/unblock history 20`."
        return ShowHistory(_count(rest, DEFAULT_HISTORY, MAX_HISTORY, usage))
    if keyword == "report":
        usage = "`/unblock report` takes a number of days from 1 to {}, e.g. `/unblock report 30`."
        return ShowReport(_count(rest, DEFAULT_REPORT_DAYS, MAX_REPORT_DAYS, usage))
    if keyword == "number":
        if not rest:
            raise InvalidCommand("Which number? For example: `/unblock number +1 555 0100`.")
        command: Unblock = _number_command(rest)
    elif _phone_like(first):
        command = _number_command(words)
    elif _NUMERIC.fullmatch(first):
        if _DIGITS.fullmatch(first) and rest and _more_of_a_number(rest):
            if not reason_apart:  # an entry id followed by what reads as the rest of a phone number
                typed, id_ = quote(" ".join(words)), quote(first)
                raise InvalidCommand(
                    f"`{typed}` looks like a phone number: did you mean `/unblock number {typed}`? For IP blocklist "
                    f"entry {id_}, start the reason with a word, e.g. `/unblock {id_} customer's VPN moved`."
                )
            command = _number_command(words)
        else:
            command = UnblockEntry(parse_entry_id(first), reason=parse_reason(" ".join(rest)))
    elif _looks_like_address(first):
        command = UnblockAddress(_network(first), reason=parse_reason(" ".join(rest)))
    else:
        raise InvalidCommand(
            f"`{quote(first)}` is not something `/unblock` knows. Give an entry id (`42`), an IP address "
            "(`203.0.113.7`) or a number (`number +1 555 0100`); `/unblock help` shows everything."
        )
    if require_reason and command.reason is None:
        raise InvalidCommand(
            "Please add a reason after what to unblock, for example: `/unblock 42 customer's VPN moved`."
        )
    return command


def address_shown(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> str:
    """As the person would write it: a single address without ``/32``."""
    return str(network.network_address) if network.prefixlen == network.max_prefixlen else str(network)


def parse_entry_id(word: str) -> int:
    """An entry id: ASCII digits only, from 1 to 2147483647."""
    if not _DIGITS.fullmatch(word):
        raise InvalidCommand(
            f"`{quote(word)}` is not a blocklist entry id. An id is a whole number such as `42`; "
            "type `/unblock help` for more."
        )
    if len(word) > len(str(MAX_ENTRY_ID)) or not MIN_ENTRY_ID <= int(word) <= MAX_ENTRY_ID:
        number = f" {number_hint(word)}" if MIN_NUMBER_DIGITS <= len(word) <= MAX_NUMBER_DIGITS else ""
        raise InvalidCommand(
            f"`{quote(word)}` is out of range: blocklist entry ids go from {MIN_ENTRY_ID} to {MAX_ENTRY_ID}.{number}"
        )
    return int(word)


def number_hint(digits: str) -> str:
    """How to look ``digits`` up as a caller number instead of an entry id."""
    return f"For a caller number, use `/unblock number {quote(digits)}`."


def normalise_number(text: str) -> str:
    """``+1 (555) 010-0`` → ``+15550100``: digits, with the leading ``+`` kept."""
    plus = text.startswith("+")
    digits = re.sub(r"[\s()\-.]", "", text.removeprefix("+"))
    if not plus and digits.startswith("00"):  # the international call prefix, written as 3CX's numbers write it
        plus, digits = True, digits[2:]
    if not _DIGITS.fullmatch(digits) or not MIN_NUMBER_DIGITS <= len(digits) <= MAX_NUMBER_DIGITS:
        raise InvalidCommand(
            f"`{quote(text)}` is not a phone number. Use digits, optionally with a leading +, spaces, "
            "dashes or brackets: `/unblock number +1 555 0100`."
        )
    return ("+" if plus else "") + digits


def _number_command(words: list[str]) -> UnblockNumber:
    """The number is the longest run of phone-like words at the start; what follows is the reason."""
    count = 0
    while count < len(words) and _PHONE_PIECE.fullmatch(words[count]):
        count += 1
    if count == 0:
        raise InvalidCommand(f"`{quote(words[0])}` is not a phone number. For example: `/unblock number +1 555 0100`.")
    return UnblockNumber(normalise_number(" ".join(words[:count])), reason=parse_reason(" ".join(words[count:])))


def _phone_like(word: str) -> bool:
    """Only a phone number starts so, never an entry id or an address: a leading ``+`` or ``0`` (``+44``, ``0044``,
    ``020``: an id has no leading zero), a bracket (``(555)``), or digit groups joined by dashes (``555-0100``) or by
    dots with a group longer than an address's (``555.0100``)."""
    if word.startswith("+"):
        return True
    dotted_short = "." in word and all(len(group) <= 3 for group in re.split(r"[^0-9]", word))
    if not _PHONE_PIECE.fullmatch(word) or dotted_short:  # not a number's characters, or an address's dots
        return False
    return bool(re.match(r"0[0-9]|\([0-9]|[0-9]+[-.][0-9]", word))


def _more_of_a_number(words: list[str]) -> bool:
    """What follows an entry id reads as the rest of a phone number (``555 0100``, ``555 555 0100``), not as a
    reason: a group of digits that starts with 0, has four digits or more, or is followed by another group or by
    nothing (``42 2 calls dropped`` and ``42 100 failed logins`` are entry 42 with a reason)."""
    group, after = words[0], words[1:2]
    if not _DIGIT_GROUP.fullmatch(group):
        return False
    long = sum(ch.isdigit() for ch in group) >= 4
    return group.startswith("0") or long or not after or bool(_DIGIT_GROUP.fullmatch(after[0]))


def _looks_like_address(word: str) -> bool:
    """Meant as an address, even a wrong one: IPv6 has colons, IPv4 is digits and dots (``2001:db8::zz``,
    ``203.0.113.300``); an entry id has no dot or colon."""
    return ":" in word or bool(re.fullmatch(r"[0-9]+(\.[0-9]+){2,}(/\S*)?", word))


def _network(word: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(word, strict=False)
    except ValueError:
        raise InvalidCommand(
            f"`{quote(word)}` is not an IP address. Use for example `203.0.113.7`, `2001:db8::7` or `203.0.113.0/24`."
        ) from None


def parse_reason(text: str) -> str | None:
    """A reason, as ``/unblock`` takes it after what to unblock or a form takes it in a field of its own: None when
    empty."""
    reason = " ".join(text.split())
    if not reason:
        return None
    if len(reason) > MAX_REASON:
        raise InvalidCommand(f"The reason is too long: please keep it to at most {MAX_REASON} characters.")
    if not reason.isprintable():
        raise InvalidCommand("The reason contains characters that cannot be shown; please use plain text.")
    return reason


def _count(words: list[str], default: int, most: int, usage: str) -> int:
    """The one number from 1 to ``most`` in ``words`` (``default`` when there is none); else ``usage`` (with
    ``most`` in it) is what the person is told."""
    if not words:
        return default
    if len(words) == 1 and _DIGITS.fullmatch(words[0]) and len(words[0]) <= 3 and 1 <= int(words[0]) <= most:
        return int(words[0])
    raise InvalidCommand(usage.format(most))


def quote(text: str) -> str:
    """User text made safe to echo inside a code span: short, one line, no mrkdwn control characters."""
    flat = " ".join(text.split())
    shown = flat if len(flat) <= _SHOWN else flat[: _SHOWN - 1] + "…"
    shown = "".join(ch if ch.isprintable() else "?" for ch in shown)
    return shown.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("`", "'")
