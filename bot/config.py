"""Settings from the environment (and ``.env``), checked all at once.

``load_settings`` either returns a complete ``Settings`` or raises
``ConfigError`` listing every problem, each with where its value comes from
(the environment or ``.env``). Values still holding an example from
``.env.example`` are problems too. Secrets are wrapped in ``Secret`` so that no
repr, log line or traceback shows them.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from dotenv import dotenv_values

from .domain.policy import CHANNEL_ID, Approvers
from .domain.watch import MIN_INTERVAL, WatchRules
from .storage import urls

T = TypeVar("T")

DEFAULT_SLACK_API_URL = "https://slack.com/api/"
DEFAULT_DATABASE_URL = "sqlite:///unblock.db"
MAX_REQUEST_TTL = 7 * 24 * 3600
MAX_UNDO_WINDOW = 24 * 3600
#: the user and group ids .env.example shows
EXAMPLE_IDS = frozenset({"U0123456789", "S0123456789"})


class Secret:
    """A string that does not show itself: ``repr`` and ``str`` print ``'***'``."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


class ConfigError(Exception):
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(
            f"unblock-bot cannot start: {len(problems)} setting(s) need attention.\n{lines}\n"
            "Settings come from the environment or from a .env file in the working directory "
            "(see .env.example)."
        )


@dataclass(frozen=True, slots=True)
class Settings:
    slack_bot_token: Secret
    slack_signing_secret: Secret | None
    slack_app_token: Secret | None
    slack_api_url: str
    slack_team_id: str | None
    socket_ping_interval: float
    host: str
    port: int
    http_read_timeout: float
    http_max_connections: int
    threecx_base_url: str
    threecx_client_id: str
    threecx_client_secret: Secret
    threecx_ca_bundle: str | None
    threecx_timeout: float
    approvers: Approvers
    allow_self_approval: bool
    channels: frozenset[str] | None
    request_ttl: float
    require_reason: bool
    undo_window: float
    database_url: str
    database_wait: float
    log_level: str
    #: watching the blocklist (``UNBLOCK_WATCH_CHANNEL``); None: off
    watch: WatchRules | None = None
    #: the durations Approve and allow offers, in seconds, the first preselected; empty: not offered
    allow_durations: tuple[float, ...] = (3600.0, 86400.0, 7 * 86400.0)
    #: where every approval card goes (``UNBLOCK_APPROVAL_CHANNEL``); None: where the command was typed
    approval_channel: str | None = None
    #: the requester gets a direct message when their request is decided, expires or is undone
    notify_requester: bool = True

    @property
    def socket_mode(self) -> bool:
        return self.slack_app_token is not None

    def secrets(self) -> list[str]:
        """Every secret value, for the log redactor (a database password included)."""
        values = [self.slack_bot_token, self.slack_signing_secret, self.slack_app_token, self.threecx_client_secret]
        found = [v.reveal() for v in values if v is not None and v.reveal()]
        database_password = urls.password(self.database_url)
        return [*found, database_password] if database_password else found


@dataclass(frozen=True)
class Environment:
    """The variables the bot reads, and where each came from."""

    values: Mapping[str, str]
    #: variable -> "the environment" or the path of the .env file
    origins: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def read(cls, dotenv: Path = Path(".env"), environ: Mapping[str, str] = os.environ) -> Environment:
        """``.env`` (if there is one) overlaid by the process environment, which wins."""
        from_file = {k: v for k, v in dotenv_values(dotenv).items() if v is not None} if dotenv.is_file() else {}
        origins = {name: str(dotenv) for name in from_file} | {name: "the environment" for name in environ}
        return cls({**from_file, **environ}, origins)


class _Reader:
    """Reads variables and collects problems instead of stopping at the first one."""

    def __init__(self, env: Mapping[str, str], origins: Mapping[str, str]) -> None:
        self.env = env
        self.origins = origins
        self.problems: list[str] = []

    def text(self, name: str, *, hint: str = "") -> str | None:
        """The trimmed value; when empty, None (and a problem if a ``hint`` says it is required)."""
        value = self.env.get(name, "").strip()
        if value:
            return value
        if hint:
            self.problems.append(f"{name} is not set: {hint}.")
        return None

    def parsed(self, name: str, default: T, parse: Callable[[str], T], *, hint: str = "", secret: bool = False) -> T:
        raw = self.text(name, hint=hint)
        if raw is None:
            return default
        try:
            return parse(raw)
        except ValueError as error:
            shown = name if secret else f"{name}={_without_credentials(raw)!r}"
            origin = self.origins.get(name)
            self.problems.append(f"{shown} {error}" + (f" (set in {origin})." if origin else "."))
            return default


def _without_credentials(raw: str) -> str:
    """A value as it may be shown: a user name and password in a URL are masked."""
    return re.sub(r"//[^/@\s]*@", "//***@", raw)


def _boolean(raw: str) -> bool:
    lowered = raw.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError("should be true or false")


def _seconds(low: float, high: float) -> Callable[[str], float]:
    def parse(raw: str) -> float:
        problem = f"should be a number of seconds from {low:g} to {high:g}"
        try:
            value = float(raw)
        except ValueError:
            raise ValueError(problem) from None
        if not math.isfinite(value) or not low <= value <= high:
            raise ValueError(problem)
        return value

    return parse


def _count(low: int, high: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        if not raw.isascii() or not raw.isdigit() or not low <= int(raw) <= high:
            raise ValueError(f"should be a whole number from {low} to {high}")
        return int(raw)

    return parse


def _port(raw: str) -> int:
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= 65535:
        raise ValueError("should be a port number from 1 to 65535")
    return int(raw)


def _http_url(raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("should be an http(s) URL like https://pbx.example.com")
    if parts.username or parts.password:
        raise ValueError("should not carry a user name or password")
    if _is_example_host(parts.hostname):
        raise ValueError("is still the example address from .env.example; give your PBX's address")
    return raw.rstrip("/")


def _is_example_host(host: str) -> bool:
    """A name reserved for examples (RFC 2606), such as pbx.example.com."""
    labels = host.lower().rstrip(".").split(".")
    if labels[-1] in ("example", "invalid"):
        return True
    return len(labels) >= 2 and labels[-2] == "example" and labels[-1] in ("com", "net", "org")


def _api_url(raw: str) -> str:
    return _http_url(raw) + "/"


def _team_id(raw: str) -> str:
    if not re.fullmatch(r"T[A-Z0-9]{2,}", raw):
        raise ValueError("should be a workspace id like T0123456789")
    return raw


def _channels(raw: str) -> frozenset[str]:
    items = [c.strip() for c in raw.split(",") if c.strip()]
    bad = [c for c in items if not CHANNEL_ID.match(c)]
    if bad or not items:
        raise ValueError("should be channel ids like C0123456789, separated by commas")
    return frozenset(items)


def _channel(raw: str) -> str:
    if not CHANNEL_ID.match(raw):
        raise ValueError("should be a channel id like C0123456789")
    return raw


def _added_by(raw: str) -> frozenset[str] | None:
    if raw == "*":
        return None
    items = frozenset(item.strip() for item in raw.split(",") if item.strip())
    if not items:
        raise ValueError("should be AddedBy values separated by commas, or * for all")
    return items


#: seconds per unit of a duration (``90m``, ``1h``, ``7d``, ``2w``)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
MAX_ALLOW = 90 * 86400


def _durations(raw: str) -> tuple[float, ...]:
    if raw.strip().lower() == "off":
        return ()
    items = [item.strip().lower() for item in raw.split(",") if item.strip()]
    found = []
    for item in items:
        match = re.fullmatch(r"([0-9]{1,6})([smhdw])", item)
        seconds = int(match.group(1)) * _UNITS[match.group(2)] if match else 0
        if not 60 <= seconds <= MAX_ALLOW:
            raise ValueError(
                f"has {item!r}: each duration is a number and a unit (m, h, d or w), from 1m to 90d, like 1h,1d,7d; "
                "or off"
            )
        found.append(float(seconds))
    if not 1 <= len(found) <= 10 or len(set(found)) != len(found):
        raise ValueError("should be 1 to 10 different durations separated by commas, like 1h,1d,7d; or off")
    return tuple(found)


def _watch(r: _Reader) -> WatchRules | None:
    channel = r.parsed("UNBLOCK_WATCH_CHANNEL", None, _channel)
    autoblacklist: frozenset[str] | None = frozenset({"AutoBlacklist"})
    rules = WatchRules(
        channel=channel or "",
        interval=r.parsed("UNBLOCK_WATCH_INTERVAL", 60.0, _seconds(MIN_INTERVAL, 24 * 3600)),
        added_by=r.parsed("UNBLOCK_WATCH_ADDED_BY", autoblacklist, _added_by),
        burst=r.parsed("UNBLOCK_WATCH_BURST", 5, _count(1, 50)),
    )
    return rules if channel else None


def _database_url(raw: str) -> str:
    return urls.check(raw)


def _log_level(raw: str) -> str:
    level = raw.upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ValueError("should be DEBUG, INFO, WARNING or ERROR")
    return level


def _ca_bundle(raw: str) -> str:
    if not Path(raw).is_file():
        raise ValueError("is not a readable file")
    return raw


def _approvers(raw: str) -> Approvers:
    approvers = Approvers.parse(raw)
    examples = sorted((approvers.users | approvers.groups) & EXAMPLE_IDS)
    if examples:
        raise ValueError(f"still holds the example ids from .env.example ({', '.join(examples)}); give your approvers")
    return approvers


def _secret(prefix: str = "") -> Callable[[str], Secret]:
    def parse(raw: str) -> Secret:
        if not raw.startswith(prefix):
            raise ValueError(f"should start with {prefix} (value not shown)")
        if "..." in raw or "…" in raw:
            raise ValueError("is still the placeholder from .env.example; paste the real value")
        return Secret(raw)

    return parse


def load_settings(env: Mapping[str, str], origins: Mapping[str, str] | None = None) -> Settings:
    """Every setting from ``env``; ``origins`` says where each variable came from, for the problems."""
    r = _Reader(env, origins or {})
    app_token = r.parsed("SLACK_APP_TOKEN", None, _secret("xapp-"), secret=True)
    signing_secret = r.parsed(
        "SLACK_SIGNING_SECRET", None, _secret(), secret=True,
        hint="" if app_token else "the Signing Secret from the Slack app's Basic Information page (HTTP mode)",
    )  # fmt: skip
    settings = Settings(
        slack_bot_token=r.parsed(
            "SLACK_BOT_TOKEN", Secret(""), _secret("xoxb-"), secret=True,
            hint="the Bot User OAuth Token (xoxb-…) from the Slack app's OAuth & Permissions page",
        ),
        slack_signing_secret=signing_secret,
        slack_app_token=app_token,
        slack_api_url=r.parsed("SLACK_API_URL", DEFAULT_SLACK_API_URL, _api_url),
        slack_team_id=r.parsed("SLACK_TEAM_ID", None, _team_id),
        socket_ping_interval=r.parsed("SLACK_SOCKET_PING_INTERVAL", 10.0, _seconds(0.2, 300)),
        host=r.text("HOST") or "0.0.0.0",
        port=r.parsed("PORT", 3000, _port),
        http_read_timeout=r.parsed("HTTP_READ_TIMEOUT", 10.0, _seconds(0.5, 300)),
        http_max_connections=r.parsed("HTTP_MAX_CONNECTIONS", 500, _count(1, 100_000)),
        threecx_base_url=r.parsed(
            "THREECX_BASE_URL", "", _http_url, hint="the PBX's address, e.g. https://pbx.example.com"
        ),
        threecx_client_id=r.text("THREECX_CLIENT_ID", hint="the client id of the 3CX API client") or "",
        threecx_client_secret=r.parsed(
            "THREECX_CLIENT_SECRET", Secret(""), _secret(), secret=True,
            hint="the API key shown once when the 3CX API client was created (Admin > Integrations > API)",
        ),
        threecx_ca_bundle=r.parsed("THREECX_CA_BUNDLE", None, _ca_bundle),
        threecx_timeout=r.parsed("THREECX_TIMEOUT", 10.0, _seconds(0.1, 300)),
        approvers=r.parsed(
            "UNBLOCK_APPROVERS", Approvers(), _approvers,
            hint="comma-separated Slack user ids (U…) or user-group ids (S…) who may approve, or * for anyone",
        ),
        allow_self_approval=r.parsed("UNBLOCK_ALLOW_SELF_APPROVAL", False, _boolean),
        channels=r.parsed("UNBLOCK_CHANNELS", None, _channels),
        request_ttl=r.parsed("UNBLOCK_REQUEST_TTL", 900.0, _seconds(10, MAX_REQUEST_TTL)),
        require_reason=r.parsed("UNBLOCK_REQUIRE_REASON", False, _boolean),
        undo_window=r.parsed("UNBLOCK_UNDO_WINDOW", 600.0, _seconds(0, MAX_UNDO_WINDOW)),
        database_url=r.parsed("DATABASE_URL", DEFAULT_DATABASE_URL, _database_url, secret=True),
        database_wait=r.parsed("DATABASE_WAIT", 30.0, _seconds(0, 3600)),
        log_level=r.parsed("LOG_LEVEL", "INFO", _log_level),
        watch=_watch(r),
        allow_durations=r.parsed("UNBLOCK_ALLOW_DURATIONS", (3600.0, 86400.0, 7 * 86400.0), _durations),
        approval_channel=r.parsed("UNBLOCK_APPROVAL_CHANNEL", None, _channel),
        notify_requester=r.parsed("UNBLOCK_NOTIFY_REQUESTER", True, _boolean),
    )  # fmt: skip
    if r.problems:
        raise ConfigError(r.problems)
    return settings
