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
from dataclasses import dataclass, replace
from datetime import UTC, tzinfo
from pathlib import Path
from typing import Any

from dotenv import dotenv_values

from ..domain.rules import NOBODY, Approvers, Rule, Rules
from ..domain.watch import MIN_INTERVAL, WatchRules
from ..storage import urls
from . import values as v
from .pbxes import PER_PBX, PbxSettings, Shared, load_pbxes
from .rules import RulesError, label, load_rules
from .values import Secret

DEFAULT_ALLOW_DURATIONS = (3600.0, 86400.0, 7 * 86400.0)
#: shorter than the default time to live: with the defaults, approvers are reminded before a request expires
DEFAULT_REMIND_AFTER = 600.0
#: every setting, in the order its problems are listed (the checks across settings and the rules file's problems
#: follow them): the variable, what it gives (a field of ``Settings``, of
#: the settings' rule or, after ``watch_``, of the watch's rules), how its text is read, and its value when unset
SETTINGS: tuple[tuple[str, str, Callable[[str], Any], Any], ...] = (
    ("UNBLOCK_APPROVERS", "approvers", v.approvers, Approvers()),
    ("UNBLOCK_ALLOW_DURATIONS", "allow", v.durations, DEFAULT_ALLOW_DURATIONS),
    ("UNBLOCK_ESCALATE_AFTER", "escalate_after", v.after, None),
    ("UNBLOCK_ESCALATE_TO", "escalate_to", v.escalate_to, NOBODY),
    ("UNBLOCK_REMIND_AFTER", "remind_after", v.after, None),
    ("UNBLOCK_RULES", "rules_file", str, None),
    ("SLACK_APP_TOKEN", "slack_app_token", v.secret("xapp-"), None),
    ("SLACK_SIGNING_SECRET", "slack_signing_secret", v.secret(), None),
    ("SLACK_BOT_TOKEN", "slack_bot_token", v.secret("xoxb-"), Secret("")),
    ("SLACK_API_URL", "slack_api_url", v.slack_api_url, "https://slack.com/api/"),
    ("SLACK_TEAM_ID", "slack_team_id", v.team_id, None),
    ("SLACK_SOCKET_PING_INTERVAL", "socket_ping_interval", v.seconds(0.2, 300), 10.0),
    ("HOST", "host", str, "0.0.0.0"),
    ("PORT", "port", v.count(1, 65535, "a port number"), 3000),
    ("HTTP_READ_TIMEOUT", "http_read_timeout", v.seconds(0.5, 300), 10.0),
    ("HTTP_MAX_CONNECTIONS", "http_max_connections", v.count(1, 100_000), 500),
    ("UNBLOCK_PBXES", "pbxes_file", str, None),
    ("THREECX_BASE_URL", "threecx_base_url", v.pbx_url, ""),
    ("THREECX_CLIENT_ID", "threecx_client_id", str, ""),
    ("THREECX_CLIENT_SECRET", "threecx_client_secret", v.secret(), Secret("")),
    ("THREECX_CA_BUNDLE", "threecx_ca_bundle", v.ca_bundle, None),
    ("THREECX_TIMEOUT", "threecx_timeout", v.seconds(0.1, 300), 10.0),
    ("UNBLOCK_ALLOW_SELF_APPROVAL", "allow_self_approval", v.boolean, False),
    ("UNBLOCK_CHANNELS", "channels", v.channels, None),
    ("UNBLOCK_REQUEST_TTL", "request_ttl", v.seconds(10, 7 * 86400), 900.0),
    ("UNBLOCK_REQUIRE_REASON", "require_reason", v.boolean, False),
    ("UNBLOCK_UNDO_WINDOW", "undo_window", v.seconds(0, 86400), 600.0),
    ("UNBLOCK_ALLOW_WARN_BEFORE", "allow_warn_before", v.warn_before, None),
    ("DATABASE_URL", "database_url", urls.check, "sqlite:///unblock.db"),
    ("DATABASE_WAIT", "database_wait", v.seconds(0, 3600), 30.0),
    ("LOG_LEVEL", "log_level", v.log_level, "INFO"),
    ("UNBLOCK_WATCH_CHANNEL", "watch_channel", v.channel, None),
    ("UNBLOCK_WATCH_INTERVAL", "watch_interval", v.seconds(MIN_INTERVAL, 24 * 3600), 60.0),
    ("UNBLOCK_WATCH_ADDED_BY", "watch_added_by", v.added_by, frozenset({"AutoBlacklist"})),
    ("UNBLOCK_WATCH_BURST", "watch_burst", v.count(1, 50), 5),
    ("UNBLOCK_APPROVAL_CHANNEL", "approval_channel", v.channel, None),
    ("UNBLOCK_NOTIFY_REQUESTER", "notify_requester", v.boolean, True),
    ("UNBLOCK_HEARTBEAT", "heartbeat", v.seconds(0.2, 60), 3.0),
    ("UNBLOCK_REPORT_CHANNEL", "report_channel", v.channel, None),
    ("UNBLOCK_REPORT_AT", "report_at", v.weekly, (0, 9, 0)),
    ("UNBLOCK_TIMEZONE", "timezone", v.timezone, UTC),
)
#: the settings that must be given, and what each is, for the problem when one is not
REQUIRED = {
    "UNBLOCK_APPROVERS": "comma-separated Slack user ids (U…) or user-group ids (S…) who may approve, or * for anyone",
    # not when SLACK_APP_TOKEN is given: Socket Mode needs no signing secret
    "SLACK_SIGNING_SECRET": (
        "the Signing Secret from the Slack app's Basic Information page, for HTTP mode; or, for Socket Mode, which "
        "needs neither it nor a public address, set SLACK_APP_TOKEN to an app-level token (xapp-…) instead"
    ),
    "SLACK_BOT_TOKEN": "the Bot User OAuth Token (xoxb-…) from the Slack app's OAuth & Permissions page",
    "THREECX_BASE_URL": "the PBX's address, e.g. https://pbx.example.com",
    "THREECX_CLIENT_ID": "the client id of the 3CX API client",
    "THREECX_CLIENT_SECRET": "the API key shown once when the 3CX API client was created (Admin > Integrations > API)",
}
#: the settings whose value a problem does not show
SECRETS = frozenset(
    {"SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_BOT_TOKEN", "THREECX_CLIENT_SECRET", "DATABASE_URL"}
)
#: the settings of the reminders, by the field of the settings' rule each gives
REMINDER_SETTINGS = {"remind_after": "UNBLOCK_REMIND_AFTER", "escalate_after": "UNBLOCK_ESCALATE_AFTER"}


class ConfigError(Exception):
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        count = "1 setting needs" if len(problems) == 1 else f"{len(problems)} settings need"
        super().__init__(
            f"unblock-bot cannot start: {count} attention.\n{lines}\n"
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
    watch: WatchRules | None
    #: where every approval card goes (``UNBLOCK_APPROVAL_CHANNEL``); None: where the command was typed
    approval_channel: str | None
    #: the requester gets a direct message when their request is decided, expires or is undone
    notify_requester: bool
    #: how often a process working on a request renews its claim (a stopped one's is taken over after two
    #: heartbeats and the longest 3CX call); also how often upkeep runs
    heartbeat: float
    #: the rules file (``UNBLOCK_RULES``); None: no rules, the settings decide
    rules_file: str | None
    #: where the weekly report is posted (``UNBLOCK_REPORT_CHANNEL``); None: not posted
    report_channel: str | None
    #: when it is due (``UNBLOCK_REPORT_AT``): day of the week (0 is Monday), hour and minute, in ``timezone``
    report_at: tuple[int, int, int]
    #: the time zone of the report's time and dates (``UNBLOCK_TIMEZONE``, an IANA name); UTC when unset
    timezone: tzinfo
    #: how long before an allow entry's end its warning comes (``UNBLOCK_ALLOW_WARN_BEFORE``); None: a tenth of the
    #: allow's length, at least 5 minutes; 0: no warnings
    allow_warn_before: float | None = None
    #: the PBXes served: each ``[[pbx]]`` of ``pbxes_file``, or the one of the ``THREECX_*`` settings (named "")
    pbxes: tuple[PbxSettings, ...] = ()
    #: the PBXes file (``UNBLOCK_PBXES``); None: one PBX, from the ``THREECX_*`` settings
    pbxes_file: str | None = None

    @property
    def socket_mode(self) -> bool:
        return self.slack_app_token is not None

    def secrets(self) -> list[str]:
        """Every secret value, for the log redactor (a database password included)."""
        values = [self.slack_bot_token, self.slack_signing_secret, self.slack_app_token, self.threecx_client_secret]
        values += [pbx.client_secret for pbx in self.pbxes]
        found = list(dict.fromkeys(v.reveal() for v in values if v is not None and v.reveal()))
        database_password = urls.password(self.database_url)
        return [*found, database_password] if database_password else found


def the_one_pbx(settings: Settings) -> PbxSettings:
    """The PBX of the ``THREECX_*`` settings, when there is no PBXes file: named "", meant everywhere."""
    return PbxSettings(
        name="",
        url=settings.threecx_base_url,
        client_id=settings.threecx_client_id,
        client_secret=settings.threecx_client_secret,
        ca_bundle=settings.threecx_ca_bundle,
        channels=frozenset(),
        rules=settings.rules,
        approval_channel=settings.approval_channel,
        watch=settings.watch,
    )


def read_environment(dotenv: Path = Path(".env")) -> tuple[dict[str, str], dict[str, str]]:
    """The variables the bot reads: ``.env`` (if there is one) overlaid by the process environment, which wins; and
    where each came from ("the environment", or the path of the .env file)."""
    from_file = (
        {k: value for k, value in dotenv_values(dotenv).items() if value is not None} if dotenv.is_file() else {}
    )
    origins = {name: str(dotenv) for name in from_file} | {name: "the environment" for name in os.environ}
    return {**from_file, **os.environ}, origins


def _read(
    name: str, parse: Callable[[str], Any], default: Any, hint: str, env: Mapping[str, str], origins: Mapping[str, str]
) -> tuple[Any, str | None]:
    """The value of ``name`` (``default`` when it is unset or wrong), and the problem with it, if any: unset when a
    ``hint`` says it is required, or a value ``parse`` refused."""
    raw = env.get(name, "").strip()
    if not raw:
        return default, f"{name} is not set: {hint}." if hint else None
    try:
        return parse(raw), None
    except ValueError as error:
        secret = name in SECRETS
        shown = name if secret else f"{name}={v.without_credentials(raw)!r}"
        notes = [f"set in {origins[name]}"] if origins.get(name) else []
        notes += ["its value is not shown"] if secret else []
        return default, f"{shown} {error}" + (f" ({'; '.join(notes)})." if notes else ".")


def _never(rules: Rules, given: Mapping[str, str], ttl: float, where: str) -> list[str]:
    """A reminder or an escalation no shorter than a request's time to live would never happen: a problem for each
    setting of them that was ``given`` (its text, by the field it gives), and for each rule whose own value is such
    (one it takes from the settings is the setting's problem); ``where`` names the rules' file in them."""
    late = (
        f"is not shorter than UNBLOCK_REQUEST_TTL ({v.spoken(ttl)}), so it would never happen: requests expire "
        "first. Make it shorter, or the time to live longer."
    )
    settings = rules.default
    problems = [
        f"{name}={given[key]!r} {late}"
        for key, name in REMINDER_SETTINGS.items()
        if key in given and getattr(settings, key) >= ttl
    ]
    for number, rule in enumerate(rules.rules, start=1):
        for key in REMINDER_SETTINGS:
            after = getattr(rule, key)
            if after != getattr(settings, key) and after >= ttl:
                problems.append(f"{where}: {label(number, rule.name)}: {key} ({v.spoken(after)}) {late}")
    return problems


def _shared(settings: Settings, rules: Rules | None, watch: Mapping[str, Any], env: Mapping[str, str]) -> Shared:
    """What the PBXes of the file take from ``settings``: ``rules``, those of ``UNBLOCK_RULES`` (None: unset or
    unusable), and ``watch``, the watch's settings, whether it is on or not."""
    ttl = settings.request_ttl
    return Shared(
        rule=settings.rules.default,
        rules_file=settings.rules_file,
        rules=rules,
        approvers_given=bool(env.get("UNBLOCK_APPROVERS", "").strip()),
        approval_channel=settings.approval_channel,
        watch_channel=watch["channel"],
        watch_interval=watch["interval"],
        watch_burst=watch["burst"],
        watch_added_by=watch["added_by"],
        env=env,
        check_rules=lambda pbx_rules, where: _never(pbx_rules, {}, ttl, where),
    )


def load_settings(env: Mapping[str, str], origins: Mapping[str, str] | None = None) -> Settings:
    """Every setting from ``env``; ``origins`` says where each variable came from, for the problems."""
    read: dict[str, Any] = {}
    problems: list[str] = []
    # with a PBXes file, each PBX gives its own 3CX settings and channels (and may give its own approvers)
    pbxes_file = bool(env.get("UNBLOCK_PBXES", "").strip())
    per_pbx = [name for name in PER_PBX if pbxes_file and env.get(name, "").strip()]
    for name, field, parse, default in SETTINGS:
        socket_mode = name == "SLACK_SIGNING_SECRET" and read["slack_app_token"] is not None
        optional = socket_mode or (pbxes_file and name == "UNBLOCK_APPROVERS")
        if pbxes_file and name in PER_PBX:
            read[field] = default
            continue
        read[field], problem = _read(
            name, parse, default, "" if optional else REQUIRED.get(name, ""), env, origins or {}
        )
        problems += [problem] if problem else []
    if per_pbx:
        set_in = [f"{name} (set in {origins[name]})" if origins and name in origins else name for name in per_pbx]
        problems.append(
            f"{', '.join(set_in)} {'is' if len(per_pbx) == 1 else 'are'} set, but with UNBLOCK_PBXES, each PBX gives "
            "its own url, client_id, client secret, ca_bundle and channels in the file: unset "
            f"{'it' if len(per_pbx) == 1 else 'them'}."
        )
    afters = {key: read.pop(key) for key in REMINDER_SETTINGS}
    remind_after, escalate_after = afters["remind_after"], afters["escalate_after"]
    if escalate_after and not env.get("UNBLOCK_ESCALATE_TO", "").strip():
        problems.append(
            "UNBLOCK_ESCALATE_AFTER is set, but UNBLOCK_ESCALATE_TO is not: name the users (U…) and user groups "
            "(S…) a request still waiting is escalated to."
        )
    default = Rule(
        approvers=read.pop("approvers"),
        allow=read.pop("allow"),
        remind_after=DEFAULT_REMIND_AFTER if remind_after is None else remind_after,
        escalate_after=escalate_after or 0.0,
        escalate_to=read.pop("escalate_to"),
    )
    rules, read_rules = Rules((), default), False
    if read["rules_file"] is not None:
        try:
            rules, read_rules = load_rules(read["rules_file"], default), True
        except RulesError as error:
            problems += [f"UNBLOCK_RULES={read['rules_file']!r}: {problem}." for problem in error.problems]
    watch = {key.removeprefix("watch_"): read.pop(key) for key in list(read) if key.startswith("watch_")}
    settings = Settings(**read, rules=rules, watch=WatchRules(**watch) if watch["channel"] else None)
    settings = replace(settings, pbxes=(the_one_pbx(settings),))
    given = {key: env[REMINDER_SETTINGS[key]].strip() for key, after in afters.items() if after is not None}
    problems += _never(rules, given, settings.request_ttl, f"UNBLOCK_RULES={settings.rules_file!r}")
    if settings.pbxes_file is not None:
        pbxes, pbx_problems = load_pbxes(
            settings.pbxes_file, _shared(settings, rules if read_rules else None, watch, env)
        )
        settings = replace(settings, pbxes=pbxes)
        problems += pbx_problems
    if problems:
        raise ConfigError(problems)
    return settings
