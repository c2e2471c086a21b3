"""What in a message's text could be unblocked: IPv4 and IPv6 addresses, networks, and phone numbers.

Pure: text in, the things found out, each written as ``/unblock`` takes it (``203.0.113.7``,
``2001:db8::/48``, ``+15550100``, ``number 02079460958``), in the order they first appear, each once. 3CX's alert
"IP 203.0.113.7 has been blacklisted" gives ``203.0.113.7``.
"""

from __future__ import annotations

import ipaddress
import re

from .command_text import address_shown

#: at most this many things are found in one message (a select offers them)
MAX_FOUND = 25
#: text beyond this many characters is not searched
MAX_TEXT = 40_000

#: an IPv4 address, with a mask or not, not part of a longer run of digits and dots
_IPV4 = re.compile(r"(?<![0-9.])(?:[0-9]{1,3}\.){3}[0-9]{1,3}(?:/[0-9]{1,2})?(?![0-9A-Za-z]|\.[0-9])")
#: something shaped like an IPv6 address (hex digits and colons, at least two colons), with a mask or not
_IPV6 = re.compile(
    r"(?<![0-9A-Za-z:.])(?=[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*:)[0-9A-Fa-f:.]{2,45}(?:/[0-9]{1,3})?(?![0-9A-Za-z:])"
)
#: digits with three dots or more (an address that is not one, a version): never a phone number
_DOTTED = re.compile(r"[0-9]+(?:\.[0-9]+){3,}")
#: a phone number: a leading + and digits, or 7 or more digits, with spaces, dashes, dots or brackets between
_PHONE = re.compile(r"(?<![\w+.:/])(\+?\(?[0-9][0-9 ()\-.]{5,23}[0-9])(?![\w:/]|[.\-][0-9])")


def unblockable(text: str) -> list[str]:
    """The addresses, networks and phone numbers in ``text``, as ``/unblock`` takes them (a number without a
    ``+`` as ``number 0044…``); at most ``MAX_FOUND``."""
    text = text[:MAX_TEXT]
    found: list[tuple[int, str]] = []
    taken: list[tuple[int, int]] = []
    # what ``_DOTTED`` finds is found only so that nothing else is found in it
    for pattern, read in ((_IPV6, _address), (_IPV4, _address), (_DOTTED, None), (_PHONE, _number)):
        for match in pattern.finditer(text):
            start, end = match.span()
            if any(start < e and s < end for s, e in taken):
                continue
            shown = read(match.group(0)) if read is not None else None
            if shown is not None or read is None:
                taken.append((start, end))
            if shown is not None:
                found.append((start, shown))
    return list(dict.fromkeys(shown for _, shown in sorted(found)))[:MAX_FOUND]


def _address(text: str) -> str | None:
    """An address or a network as written, or None when it is not one (``999.1.1.1``, ``1:2``)."""
    try:
        return address_shown(ipaddress.ip_network(text, strict=False))
    except ValueError:
        return None


def _number(text: str) -> str | None:
    """A phone number, digits only (with its leading ``+``); None when it looks like something else: a date
    (``2026-12-01``), a time, or fewer than 7 digits without a ``+``."""
    plus = text.startswith("+")
    if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text.strip()):
        return None
    digits = re.sub(r"[^0-9]", "", text)
    if not 3 <= len(digits) <= 20 or (not plus and len(digits) < 7):
        return None
    if text.count("(") != text.count(")"):
        return None
    # ``/unblock 0044…`` would be an entry id: a number without ``+`` is named as one
    return f"+{digits}" if plus else f"number {digits}"
