"""How each setting's text is read: one parser per kind of value.

A parser takes the trimmed text and returns the value, or raises ``ValueError`` with what the value
should be, worded to follow the variable's name (``PORT='http' should be a port number …``).
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Callable
from datetime import tzinfo
from pathlib import Path
from urllib.parse import SplitResult, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..domain.rules import Approvers
from ..slack.ids import CHANNEL_ID, GROUP_ID, USER_ID

#: the words a setting that is true or false takes
BOOLEANS = dict.fromkeys(("1", "true", "yes", "on"), True) | dict.fromkeys(("0", "false", "no", "off"), False)
#: the user and group ids .env.example shows
EXAMPLE_IDS = frozenset({"U0123456789", "S0123456789"})
#: seconds per unit of a duration (``90s``, ``15m``, ``1h``, ``7d``, ``2w``); a plain number is seconds
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"([0-9]{1,9}(?:\.[0-9]{1,6})?)\s*([smhdw]?)")
_DURATION_FORMS = "seconds like 90, or a number and a unit (s, m, h, d or w) like 90s, 15m, 1h, 7d or 2w"
MAX_ALLOW = 90 * 86400
#: the shortest and longest wait before a reminder or an escalation
MIN_AFTER = 5.0
MAX_AFTER = 7 * 86400.0
#: the names reserved for examples (RFC 2606): the top-level domains example and invalid, and example.com/net/org
EXAMPLE_HOST = re.compile(r"(^|\.)(example|invalid|example\.(com|net|org))$", re.IGNORECASE)
#: the most characters of someone's text that a problem repeats
ECHOED = 60
#: where people find a channel's id, which Slack shows nowhere else
FIND_CHANNEL_ID = (
    "in Slack, open the channel's details by clicking its name; its id, which starts with C or G, is at the bottom"
)
#: what a Slack token given in the other one's place is, and where it belongs: (the prefix wanted, the prefix given)
OTHER_TOKEN = {
    ("xoxb-", "xapp-"): (
        "is the app-level token (xapp-…), which belongs in SLACK_APP_TOKEN; SLACK_BOT_TOKEN takes the Bot User "
        "OAuth Token (xoxb-…) from the Slack app's OAuth & Permissions page"
    ),
    ("xapp-", "xoxb-"): (
        "is the bot token (xoxb-…), which belongs in SLACK_BOT_TOKEN; SLACK_APP_TOKEN takes an app-level token "
        "(xapp-…) from the Slack app's Basic Information page, under App-Level Tokens"
    ),
}


class Secret:
    """A string that does not show itself: ``repr`` and ``str`` print ``Secret('***')`` (a plain class, so that
    nothing like ``dataclasses.asdict`` takes the value out)."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__


def clipped(text: str, most: int = ECHOED) -> str:
    """``text`` as a problem repeats it: cut short, ending in "...", when longer than ``most`` characters (so that
    one line stays one readable line whatever was written)."""
    return text if len(text) <= most else text[: most - 3] + "..."


def boolean(raw: str) -> bool:
    if raw.lower() not in BOOLEANS:
        raise ValueError("should be true or false")
    return BOOLEANS[raw.lower()]


def duration(raw: str) -> float | None:
    """Seconds from ``90``, ``90s``, ``15m``, ``1h``, ``7d`` or ``2w`` (a plain number is seconds); None if
    the text is none of these."""
    match = _DURATION.fullmatch(raw.strip().lower())
    if match is None:
        return None
    return float(match[1]) * UNITS[match[2] or "s"]


def spoken(seconds: float) -> str:
    """A duration as people write it: ``7d``, ``5m``, ``10s``, ``0.1s``, ``0``."""
    if seconds == 0:
        return "0"
    for unit in ("d", "h", "m"):
        if seconds >= UNITS[unit] and seconds % UNITS[unit] == 0:
            return f"{seconds / UNITS[unit]:g}{unit}"
    return f"{seconds:g}s"


def seconds(low: float, high: float) -> Callable[[str], float]:

    def parse(raw: str) -> float:
        value = duration(raw)
        if value is None or not low <= value <= high:
            raise ValueError(f"should be a duration from {spoken(low)} to {spoken(high)}: {_DURATION_FORMS}")
        return value

    return parse


def durations(raw: str) -> tuple[float, ...]:
    """The durations Approve and allow offers: 1 to 10 different ones, from 1m to 90d; ``off``: none."""
    if raw.strip().lower() == "off":
        return ()
    found = []
    for item in (item.strip().lower() for item in raw.split(",") if item.strip()):
        value = allow_duration(item)
        if value is None:
            raise ValueError(
                f"has {item!r}: each duration is whole seconds, or a number and a unit (m, h, d or w), from 1m to "
                "90d, like 1h,1d,7d; or off"
            )
        found.append(value)
    if not 1 <= len(found) <= 10 or len(set(found)) != len(found):
        raise ValueError("should be 1 to 10 different durations separated by commas, like 1h,1d,7d; or off")
    return tuple(found)


def allow_duration(item: str) -> float | None:
    """One duration Approve and allow may offer, in seconds: whole seconds, or a number and a unit, from 1m to
    90d; None if ``item`` is not one."""
    value = duration(item)
    if value is None or not 60 <= value <= MAX_ALLOW or not value.is_integer():
        return None
    return value


def warn_before(raw: str) -> float:
    """How long before an allow entry's end it is warned about: a duration from 1m to 30d, or ``0`` (``off``) for
    never."""
    value = 0.0 if raw.strip().lower() == "off" else duration(raw)
    if value is None or (value and not 60 <= value <= 30 * 86400):
        raise ValueError(f"should be a duration from 1m to 30d: {_DURATION_FORMS}; or 0 (or off) for no warnings")
    return value


def after(raw: str) -> float:
    """How long a request waits before a reminder or an escalation: a duration from ``MIN_AFTER`` to
    ``MAX_AFTER``, or ``0`` (``off``) for never."""
    value = 0.0 if raw.strip().lower() == "off" else duration(raw)
    if value is None or (value and not MIN_AFTER <= value <= MAX_AFTER):
        raise ValueError(
            f"should be a duration from {spoken(MIN_AFTER)} to {spoken(MAX_AFTER)}: {_DURATION_FORMS}; or 0 (or off) "
            "for never"
        )
    return value


def escalate_to(raw: str) -> Approvers:
    """``UNBLOCK_ESCALATE_TO``: comma-separated user ids and user-group ids, as in ``UNBLOCK_APPROVERS`` but never
    ``*`` (escalating mentions people by name)."""
    return people(approvers(raw))


def people(found: Approvers) -> Approvers:
    """Users and user groups that are mentioned by name: not ``*``."""
    if found.anyone:
        raise ValueError("cannot be * (anyone): name the users (U…) and user groups (S…) to mention")
    return found


def count(low: int, high: int, what: str = "a whole number") -> Callable[[str], int]:
    def parse(raw: str) -> int:
        if not raw.isascii() or not raw.isdigit() or not low <= int(raw) <= high:
            raise ValueError(f"should be {what} from {low} to {high}")
        return int(raw)

    return parse


def pbx_url(raw: str) -> str:
    """The PBX's root address (the XAPI's paths are added to it)."""
    parts = _http_url(raw, "https://pbx.example.com")
    if _is_example_host(parts.hostname or ""):
        raise ValueError("is still the example address from .env.example; give your PBX's address")
    path = parts.path.rstrip("/")
    xapi = re.search(r"/xapi(?:/v1)?$", path, re.IGNORECASE)
    if xapi is not None:
        root = parts._replace(path=path[: xapi.start()], query="", fragment="").geturl()
        raise ValueError(f"should be the PBX's root address, without {xapi[0]}: {root}")
    return raw.rstrip("/")


def slack_api_url(raw: str) -> str:
    """Slack's Web API address, ending in ``/``."""
    parts = _http_url(raw, "https://slack.com/api/")
    if _is_example_host(parts.hostname or ""):
        raise ValueError("is an example address; give Slack's Web API address, like https://slack.com/api/")
    return raw.rstrip("/") + "/"


def _http_url(raw: str, example: str) -> SplitResult:
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"should be an http(s) URL like {example}")
    if parts.username or parts.password:
        raise ValueError("should not carry a user name or password")
    return parts


def _is_example_host(host: str) -> bool:
    """A name reserved for examples (RFC 2606), such as pbx.example.com."""
    return EXAMPLE_HOST.search(host.rstrip(".")) is not None


def without_credentials(raw: str) -> str:
    """A value as it may be shown: a user name and password in a URL are masked."""
    return re.sub(r"//[^/@\s]*@", "//***@", raw)


def team_id(raw: str) -> str:
    if not re.fullmatch(r"T[A-Z0-9]{2,}", raw):
        raise ValueError("should be a workspace id like T0123456789")
    return raw


def channels(raw: str) -> frozenset[str]:
    items = [c.strip() for c in raw.split(",") if c.strip()]
    if not items or not all(CHANNEL_ID.match(c) for c in items):
        raise ValueError(f"should be channel ids like C0123456789, separated by commas: {FIND_CHANNEL_ID}")
    return frozenset(items)


def channel(raw: str) -> str:
    if not CHANNEL_ID.match(raw):
        raise ValueError(f"should be a channel id like C0123456789: {FIND_CHANNEL_ID}")
    return raw


WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WEEKLY = re.compile(r"([a-z]+)\s+([0-9]{1,2}):([0-9]{2})")


def weekly(raw: str) -> tuple[int, int, int]:
    """``mon 09:00``: a day of the week (0 is Monday) and a time of day (hour, minute), on the clocks of
    ``UNBLOCK_TIMEZONE``."""
    match = _WEEKLY.fullmatch(raw.strip().lower())
    day = next((day for day, name in enumerate(WEEKDAYS) if match and match[1] in (name, name[:3])), None)
    if match is None or day is None or int(match[2]) > 23 or int(match[3]) > 59:
        raise ValueError(
            "should be a day and a time of day in UNBLOCK_TIMEZONE (UTC unless set), like mon 09:00 (days: mon, "
            "tue, wed, thu, fri, sat, sun; the time from 00:00 to 23:59)"
        )
    return day, int(match[2]), int(match[3])


def timezone(raw: str) -> tzinfo:
    try:
        return ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(
            "is not a time zone this system knows: give an IANA name like Europe/Berlin, America/New_York or UTC"
        ) from None


def added_by(raw: str) -> frozenset[str] | None:
    if raw == "*":
        return None
    items = frozenset(item.strip() for item in raw.split(",") if item.strip())
    if not items:
        raise ValueError("should be AddedBy values separated by commas, or * for all")
    return items


def log_level(raw: str) -> str:
    level = raw.upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ValueError("should be DEBUG, INFO, WARNING or ERROR")
    return level


def ca_bundle(raw: str) -> str:
    """A file of CA certificates in PEM form, as the 3CX client will load it."""
    if not Path(raw).is_file():
        raise ValueError("is not a readable file")
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cafile=raw)
    except ssl.SSLError:
        raise ValueError(
            "holds no certificate that can be read; it should be a PEM file of the CA that signed 3CX's certificate"
        ) from None
    except OSError:
        raise ValueError("is not a readable file") from None
    return raw


def approvers(raw: str) -> Approvers:
    """``UNBLOCK_APPROVERS``: the comma-separated list; raises ValueError naming every bad item."""
    return approver_list([item.strip() for item in raw.split(",") if item.strip()])


def approver_list(items: list[str]) -> Approvers:
    """Approvers as ``UNBLOCK_APPROVERS`` gives them, one item each (a PBX's ``approvers`` of the PBXes file too):
    never the example ids of .env.example."""
    found = approver_ids(items)
    examples = sorted((found.users | found.groups) & EXAMPLE_IDS)
    if examples:
        raise ValueError(f"still holds the example ids from .env.example ({', '.join(examples)}); give your approvers")
    return found


def approver_ids(items: list[str]) -> Approvers:
    """User ids and user-group ids, or ``*`` alone for anyone; raises ValueError naming every bad item."""
    if not items:
        raise ValueError("is empty")
    if "*" in items:
        if len(items) > 1:
            raise ValueError("'*' (anyone) cannot be combined with ids")
        return Approvers(anyone=True)
    bad = [item for item in items if not (USER_ID.match(item) or GROUP_ID.match(item))]
    if bad:
        some = ", ".join(clipped(item) for item in bad[:3]) + (f" and {len(bad) - 3:,} more" if len(bad) > 3 else "")
        raise ValueError(f"has items that are neither user ids (U…/W…) nor user-group ids (S…): {some}")
    return Approvers(
        users=frozenset(i for i in items if USER_ID.match(i)),
        groups=frozenset(i for i in items if GROUP_ID.match(i)),
    )


def secret(prefix: str = "") -> Callable[[str], Secret]:
    def parse(raw: str) -> Secret:
        if not raw.startswith(prefix):
            raise ValueError(OTHER_TOKEN.get((prefix, raw[:5]), f"should start with {prefix}"))
        if "..." in raw or "…" in raw:
            raise ValueError("is still the placeholder from .env.example; paste the real value")
        return Secret(raw)

    return parse
