"""The values of a rules file's keys: each parser returns the value or raises ValueError saying what it should
be, in words that follow the key's name (``approvals must be a whole number of 1 or more (got 0)``)."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable
from datetime import date, datetime, time

from ..domain.entries import Kind
from ..domain.lookup import Network
from ..domain.rules import Approvers
from . import values as v
from .values import ECHOED, clipped

#: what ``kind`` says, and the list it means
KINDS = {"ip": Kind.ADDRESS, "number": Kind.NUMBER}
#: the longest name, shown on cards
MAX_NAME = 80
#: the most durations Approve and allow offers
MAX_ALLOW_DURATIONS = 10
DURATION_FORMS = 'whole seconds, or a number and a unit (m, h, d or w), from 1m to 90d, like "1h" or "7d"'
#: the longest ``allow_max``: a year
MAX_ALLOW_MAX = 365 * 86400.0
ALLOW_MAX_FORMS = 'a duration from 1m to 365d, whole seconds or a number and a unit (m, h, d or w), like "30d"'
AFTER_FORMS = (
    'a duration from 5s to 7d, whole seconds or a number and a unit (s, m, h, d or w) like "15m", or 0 for never'
)


def name(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f'must be text, like "Branch offices" (got {shown(value)})')
    text = value.strip()
    if not text:
        raise ValueError("is empty: every rule needs one, shown on cards, in history and in the audit record")
    if len(text) > MAX_NAME:
        raise ValueError(f"must be at most {MAX_NAME} characters long (got {len(text):,})")
    hidden = next((at for at, char in enumerate(text, start=1) if not char.isprintable()), None)
    if hidden is not None:
        raise ValueError(
            f"contains an invisible character (U+{ord(text[hidden - 1]):04X}) at position {hidden}: a name is one line "
            "of characters people can see"
        )
    return text


def networks(value: object) -> tuple[Network, ...]:
    if not isinstance(value, list):
        raise ValueError(f'must be a list of networks like ["198.51.100.0/24", "2001:db8::/48"] (got {shown(value)})')
    if not value:
        raise ValueError("is empty, so the rule could never match: give at least one network, or leave the key out")
    found, bad = [], []
    for item in value:
        try:
            found.append(ipaddress.ip_network(item.strip()) if isinstance(item, str) else None)
        except ValueError:
            bad.append(network_problem(item))
        if not isinstance(item, str):
            bad.append(f'{shown(item)}, which is not a network in quotes, like "198.51.100.0/24"')
    if bad:
        raise ValueError(*(f"has {problem}" for problem in bad))
    return tuple(network for network in found if network is not None)


def network_problem(item: str) -> str:
    try:
        loose = ipaddress.ip_network(item.strip(), strict=False)
    except ValueError:
        return f"{shown(item)}, which is not an address or network like 198.51.100.0/24 or 2001:db8::/48"
    return f'{shown(item)}, whose address has bits set beyond its prefix (did you mean "{loose}"?)'


def width(highest: int) -> Callable[[object], int]:
    def parse(value: object) -> int:
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= highest:
            raise ValueError(f"must be a prefix length, a whole number from 0 to {highest} (got {shown(value)})")
        return value

    return parse


def kind(value: object) -> Kind:
    if not isinstance(value, str) or value not in KINDS:
        raise ValueError(f'must be "ip" or "number" (got {shown(value)})')
    return KINDS[value]


def added_by(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f'must be the AddedBy of 3CX\'s entries, like "AutoBlacklist" (got {shown(value)})')
    return value.strip()


def approvers(value: object) -> Approvers:
    empty = "is empty, so no one could approve: name at least one, or leave the key out for UNBLOCK_APPROVERS"
    return _ids(value, '["U0SEC1", "S0SECURITY"]', empty)


def _ids(value: object, example: str, empty: str) -> Approvers:
    """A list of user ids and user-group ids (``example``), said ``empty`` when it is empty."""
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError(f"must be a list of user ids and user-group ids, like {example} (got {shown(value)})")
    if not value:
        raise ValueError(empty)
    return v.approver_ids([item.strip() for item in value])


def approvals(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"must be a whole number of 1 or more (got {shown(value)})")
    return value


def allow(value: object) -> tuple[float, ...]:
    if not isinstance(value, list):
        raise ValueError(f'must be a list of durations like ["1h", "1d"], or [] for none (got {shown(value)})')
    found, bad = [], []
    for item in value:
        seconds = v.allow_duration(str(item)) if isinstance(item, str | int) and not isinstance(item, bool) else None
        if seconds is None:
            bad.append(shown(item))
        else:
            found.append(seconds)
    if bad:
        raise ValueError(
            *(f"has {item}, which is not a duration Approve and allow takes: {DURATION_FORMS}" for item in bad)
        )
    if len(found) > MAX_ALLOW_DURATIONS or len(set(found)) != len(found):
        raise ValueError(f"must hold at most {MAX_ALLOW_DURATIONS} durations, each once (got {shown(value)})")
    return tuple(found)


def allow_max(value: object) -> float:
    """The longest an allow entry may last in all: a duration from 1 minute to :data:`MAX_ALLOW_MAX`."""
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    seconds = v.duration(text) if isinstance(text, str) else None
    if seconds is None or not 60 <= seconds <= MAX_ALLOW_MAX:
        raise ValueError(f"must be {ALLOW_MAX_FORMS} (got {shown(value)})")
    return seconds


def after(value: object) -> float:
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    try:
        if isinstance(text, str):
            return v.after(text)
    except ValueError:
        pass
    raise ValueError(f"must be {AFTER_FORMS} (got {shown(value)})")


def escalate_to(value: object) -> Approvers:
    empty = "is empty, so no one would be told: name at least one, or leave the key out"
    return v.people(_ids(value, '["U0LEAD1", "S0ONCALL"]', empty))


def boolean(value: object) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"must be true or false (got {shown(value)})")
    return value


def shown(value: object) -> str:
    """A value (or a key, in quotes) as the file would write it, cut short when long."""
    return clipped(toml(value))


def toml(value: object, depth: int = 0) -> str:
    """``value`` as the file would write it, a list in a list in a list as ``[...]``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        if depth == 2:
            return "[...]"
        return "[" + ", ".join(toml(item, depth + 1) for item in value[:ECHOED]) + "]"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value)
