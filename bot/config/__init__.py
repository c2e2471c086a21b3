"""Settings from the environment (and ``.env``), checked all at once.

``load_settings`` either returns a complete ``Settings`` or raises
``ConfigError`` listing every problem, each with where its value comes from
(the environment or ``.env``). Values still holding an example from
``.env.example`` are problems too. Secrets are wrapped in ``Secret`` so that no
repr, log line or traceback shows them. How each value is read is in
``bot.config.values``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, tzinfo
from pathlib import Path
from typing import TypeVar

from dotenv import dotenv_values

from ..domain.rules import NOBODY, Approvers, Rule, Rules
from ..domain.watch import MIN_INTERVAL, WatchRules
from ..storage import urls
from . import values as v
from .rules import RulesError, label, load_rules
from .values import Secret

T = TypeVar("T")

DEFAULT_ALLOW_DURATIONS = (3600.0, 86400.0, 7 * 86400.0)
#: shorter than the default time to live: with the defaults, approvers are reminded before a request expires
DEFAULT_REMIND_AFTER = 600.0
#: the settings of the reminders, by the field of the settings' rule each gives
REMINDER_SETTINGS = {"remind_after": "UNBLOCK_REMIND_AFTER", "escalate_after": "UNBLOCK_ESCALATE_AFTER"}


class ConfigError(Exception):
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(
            f"unblock-bot cannot start: {_need_attention(len(problems))}.\n{lines}\n"
            "Settings come from the environment or from a .env file in the working directory "
            "(see .env.example)."
        )


#: the time zone when ``UNBLOCK_TIMEZONE`` is unset (the standard library's, which needs no time zone data)
_UTC: tzinfo = UTC


def _need_attention(count: int) -> str:
    return "1 setting needs attention" if count == 1 else f"{count} settings need attention"


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
    allow_self_approval: bool
    channels: frozenset[str] | None
    request_ttl: float
    require_reason: bool
    undo_window: float
    database_url: str
    database_wait: float
    log_level: str
    #: who may unblock what: the rules of ``UNBLOCK_RULES``, or the settings alone when it is unset; what a rule
    #: leaves out, and the entries no rule matches, follow the settings (``rules.default``: ``UNBLOCK_APPROVERS``,
    #: ``UNBLOCK_ALLOW_DURATIONS``, ``UNBLOCK_REMIND_AFTER``, ``UNBLOCK_ESCALATE_AFTER``, ``UNBLOCK_ESCALATE_TO``)
    rules: Rules
    #: watching the blocklist (``UNBLOCK_WATCH_CHANNEL``); None: off
    watch: WatchRules | None = None
    #: where every approval card goes (``UNBLOCK_APPROVAL_CHANNEL``); None: where the command was typed
    approval_channel: str | None = None
    #: the requester gets a direct message when their request is decided, expires or is undone
    notify_requester: bool = True
    #: how often a process working on a request renews its claim (a stopped one's is taken over after two
    #: heartbeats and the longest 3CX call); also how often upkeep runs
    heartbeat: float = 3.0
    #: the rules file (``UNBLOCK_RULES``); None: no rules, the settings decide
    rules_file: str | None = None
    #: where the weekly report is posted (``UNBLOCK_REPORT_CHANNEL``); None: not posted
    report_channel: str | None = None
    #: when it is due (``UNBLOCK_REPORT_AT``): day of the week (0 is Monday), hour and minute, in ``timezone``
    report_at: tuple[int, int, int] = (0, 9, 0)
    #: the time zone of the report's time and dates (``UNBLOCK_TIMEZONE``, an IANA name); UTC when unset
    timezone: tzinfo = UTC

    @property
    def socket_mode(self) -> bool:
        return self.slack_app_token is not None

    def secrets(self) -> list[str]:
        """Every secret value, for the log redactor (a database password included)."""
        values = [self.slack_bot_token, self.slack_signing_secret, self.slack_app_token, self.threecx_client_secret]
        found = [v.reveal() for v in values if v is not None and v.reveal()]
        database_password = urls.password(self.database_url)
        return [*found, database_password] if database_password else found


def read_environment(dotenv: Path = Path(".env")) -> tuple[dict[str, str], dict[str, str]]:
    """The variables the bot reads: ``.env`` (if there is one) overlaid by the process environment, which wins; and
    where each came from ("the environment", or the path of the .env file)."""
    from_file = (
        {k: value for k, value in dotenv_values(dotenv).items() if value is not None} if dotenv.is_file() else {}
    )
    origins = {name: str(dotenv) for name in from_file} | {name: "the environment" for name in os.environ}
    return {**from_file, **os.environ}, origins


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
            shown = name if secret else f"{name}={v.without_credentials(raw)!r}"
            origin = self.origins.get(name)
            notes = [f"set in {origin}"] if origin else []
            notes += ["its value is not shown"] if secret else []
            self.problems.append(f"{shown} {error}" + (f" ({'; '.join(notes)})." if notes else "."))
            return default


def _watch(r: _Reader) -> WatchRules | None:
    channel = r.parsed("UNBLOCK_WATCH_CHANNEL", None, v.channel)
    autoblacklist: frozenset[str] | None = frozenset({"AutoBlacklist"})
    rules = WatchRules(
        channel=channel or "",
        interval=r.parsed("UNBLOCK_WATCH_INTERVAL", 60.0, v.seconds(MIN_INTERVAL, 24 * 3600)),
        added_by=r.parsed("UNBLOCK_WATCH_ADDED_BY", autoblacklist, v.added_by),
        burst=r.parsed("UNBLOCK_WATCH_BURST", 5, v.count(1, 50)),
    )
    return rules if channel else None


def _default_rule(r: _Reader) -> tuple[Rule, frozenset[str]]:
    """The settings' rule, for what a rule leaves out and for the entries no rule matches: ``UNBLOCK_APPROVERS``,
    ``UNBLOCK_ALLOW_DURATIONS``, and the reminders and escalation of ``UNBLOCK_REMIND_AFTER``,
    ``UNBLOCK_ESCALATE_AFTER`` and ``UNBLOCK_ESCALATE_TO``; with the fields whose setting was given (and valid)."""
    approvers = r.parsed(
        "UNBLOCK_APPROVERS",
        Approvers(),
        v.approvers,
        hint="comma-separated Slack user ids (U…) or user-group ids (S…) who may approve, or * for anyone",
    )
    allow: tuple[float, ...] = r.parsed("UNBLOCK_ALLOW_DURATIONS", DEFAULT_ALLOW_DURATIONS, v.durations)
    escalate_after = r.parsed("UNBLOCK_ESCALATE_AFTER", None, v.after)
    escalate_to = r.parsed("UNBLOCK_ESCALATE_TO", NOBODY, v.escalate_to)
    if escalate_after and r.text("UNBLOCK_ESCALATE_TO") is None:
        r.problems.append(
            "UNBLOCK_ESCALATE_AFTER is set, but UNBLOCK_ESCALATE_TO is not: name the users (U…) and user groups "
            "(S…) a request still waiting is escalated to."
        )
    remind_after = r.parsed("UNBLOCK_REMIND_AFTER", None, v.after)
    given = {"remind_after": remind_after, "escalate_after": escalate_after}
    rule = Rule(
        approvers=approvers,
        allow=allow,
        remind_after=DEFAULT_REMIND_AFTER if remind_after is None else remind_after,
        escalate_after=escalate_after or 0.0,
        escalate_to=escalate_to,
    )
    return rule, frozenset(name for name, after in given.items() if after is not None)


def _rules(r: _Reader, default: Rule) -> tuple[str | None, Rules]:
    """``UNBLOCK_RULES`` and the rules its file holds; each problem with the file is a problem of its own."""
    path = r.text("UNBLOCK_RULES")
    if path is not None:
        try:
            return path, load_rules(path, default)
        except RulesError as error:
            r.problems += [f"UNBLOCK_RULES={path!r}: {problem}." for problem in error.problems]
    return path, Rules((), default)


def _afters(rule: Rule) -> dict[str, float]:
    return {"remind_after": rule.remind_after, "escalate_after": rule.escalate_after}


def _in_time(r: _Reader, rules: Rules, given: frozenset[str], ttl: float, path: str | None) -> None:
    """A reminder or an escalation no shorter than a request's time to live would never happen: a problem for each
    setting of them that was ``given``, and for each rule whose own value is such (one it takes from the settings
    is the setting's problem)."""
    late = (
        f"is not shorter than UNBLOCK_REQUEST_TTL ({v.spoken(ttl)}), so it would never happen: requests expire "
        "first. Make it shorter, or the time to live longer."
    )
    settings = _afters(rules.default)
    for key, name in REMINDER_SETTINGS.items():
        if key in given and settings[key] >= ttl:
            r.problems.append(f"{name}={r.text(name)!r} {late}")
    for number, rule in enumerate(rules.rules, start=1):
        for key, after in _afters(rule).items():
            if after != settings[key] and after >= ttl:
                where = f"UNBLOCK_RULES={path!r}: {label(number, rule.name)}"
                r.problems.append(f"{where}: {key} ({v.spoken(after)}) {late}")


def load_settings(env: Mapping[str, str], origins: Mapping[str, str] | None = None) -> Settings:
    """Every setting from ``env``; ``origins`` says where each variable came from, for the problems."""
    r = _Reader(env, origins or {})
    default, given = _default_rule(r)
    rules_file, rules = _rules(r, default)
    app_token = r.parsed("SLACK_APP_TOKEN", None, v.secret("xapp-"), secret=True)
    signing_secret = r.parsed(
        "SLACK_SIGNING_SECRET", None, v.secret(), secret=True, hint="" if app_token else v.SIGNING_SECRET
    )
    settings = Settings(
        slack_bot_token=r.parsed(
            "SLACK_BOT_TOKEN",
            Secret(""),
            v.secret("xoxb-"),
            secret=True,
            hint="the Bot User OAuth Token (xoxb-…) from the Slack app's OAuth & Permissions page",
        ),
        slack_signing_secret=signing_secret,
        slack_app_token=app_token,
        slack_api_url=r.parsed("SLACK_API_URL", "https://slack.com/api/", v.slack_api_url),
        slack_team_id=r.parsed("SLACK_TEAM_ID", None, v.team_id),
        socket_ping_interval=r.parsed("SLACK_SOCKET_PING_INTERVAL", 10.0, v.seconds(0.2, 300)),
        host=r.text("HOST") or "0.0.0.0",
        port=r.parsed("PORT", 3000, v.count(1, 65535, "a port number")),
        http_read_timeout=r.parsed("HTTP_READ_TIMEOUT", 10.0, v.seconds(0.5, 300)),
        http_max_connections=r.parsed("HTTP_MAX_CONNECTIONS", 500, v.count(1, 100_000)),
        threecx_base_url=r.parsed(
            "THREECX_BASE_URL", "", v.pbx_url, hint="the PBX's address, e.g. https://pbx.example.com"
        ),
        threecx_client_id=r.text("THREECX_CLIENT_ID", hint="the client id of the 3CX API client") or "",
        threecx_client_secret=r.parsed(
            "THREECX_CLIENT_SECRET",
            Secret(""),
            v.secret(),
            secret=True,
            hint="the API key shown once when the 3CX API client was created (Admin > Integrations > API)",
        ),
        threecx_ca_bundle=r.parsed("THREECX_CA_BUNDLE", None, v.ca_bundle),
        threecx_timeout=r.parsed("THREECX_TIMEOUT", 10.0, v.seconds(0.1, 300)),
        allow_self_approval=r.parsed("UNBLOCK_ALLOW_SELF_APPROVAL", False, v.boolean),
        channels=r.parsed("UNBLOCK_CHANNELS", None, v.channels),
        request_ttl=r.parsed("UNBLOCK_REQUEST_TTL", 900.0, v.seconds(10, 7 * 86400)),
        require_reason=r.parsed("UNBLOCK_REQUIRE_REASON", False, v.boolean),
        undo_window=r.parsed("UNBLOCK_UNDO_WINDOW", 600.0, v.seconds(0, 86400)),
        database_url=r.parsed("DATABASE_URL", "sqlite:///unblock.db", urls.check, secret=True),
        database_wait=r.parsed("DATABASE_WAIT", 30.0, v.seconds(0, 3600)),
        log_level=r.parsed("LOG_LEVEL", "INFO", v.log_level),
        rules=rules,
        watch=_watch(r),
        approval_channel=r.parsed("UNBLOCK_APPROVAL_CHANNEL", None, v.channel),
        notify_requester=r.parsed("UNBLOCK_NOTIFY_REQUESTER", True, v.boolean),
        heartbeat=r.parsed("UNBLOCK_HEARTBEAT", 3.0, v.seconds(0.2, 60)),
        rules_file=rules_file,
        report_channel=r.parsed("UNBLOCK_REPORT_CHANNEL", None, v.channel),
        report_at=r.parsed("UNBLOCK_REPORT_AT", (0, 9, 0), v.weekly),
        timezone=r.parsed("UNBLOCK_TIMEZONE", _UTC, v.timezone),
    )
    _in_time(r, rules, given, settings.request_ttl, rules_file)
    if r.problems:
        raise ConfigError(r.problems)
    return settings
