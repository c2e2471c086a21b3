"""The PBXes the bot serves: one from the ``THREECX_*`` settings, or each ``[[pbx]]`` of the ``UNBLOCK_PBXES`` file.

``load_pbxes`` reads the file (TOML, one ``[[pbx]]`` table per PBX) into ``PbxSettings``, with every problem
found, one line each naming the PBX and the key (``[[pbx]] 2 "acme": url = "ftp://pbx" should be …``). What a
table leaves out comes from the settings (``Shared``). No problem repeats a secret.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import TypeVar

from ..domain.rules import Approvers, Rule, Rules
from ..domain.watch import WatchRules
from ..slack.ids import PBX_NAME
from . import rule_values as rv
from . import values as v
from .rules import RulesError, load_rules, read_toml
from .values import Secret

T = TypeVar("T")

#: the keys of a ``[[pbx]]`` table, in the order docs/configuration.md explains them
KEYS = (
    "name",
    "url",
    "client_id",
    "client_secret_file",
    "client_secret_env",
    "ca_bundle",
    "channels",
    "approvers",
    "approval_channel",
    "watch_channel",
    "watch_added_by",
    "rules",
    "connect_teams",
)
#: the keys whose value no problem shows: they lead to the secret, and may hold it by mistake
SECRET_KEYS = frozenset({"client_secret_file", "client_secret_env", "client_secret"})
#: the words ``/unblock`` reads before a PBX's name (the keywords of bot/slack/command_text.py's
#: ``parse_command``), which no PBX may be named: this set must follow those keywords
RESERVED = frozenset({"help", "list", "history", "report", "number"})
#: the settings each PBX of the file gives instead
PER_PBX = ("THREECX_BASE_URL", "THREECX_CLIENT_ID", "THREECX_CLIENT_SECRET", "THREECX_CA_BUNDLE", "UNBLOCK_CHANNELS")
#: the name of an environment variable
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: the most PBXes a problem names one by one
NAMED = 5
#: why no two PBXes may have the same value of each key that names a PBX
OWN = {
    "name": "each PBX needs a name of its own",
    "url": "a PBX is served under one name",
    "channels": "in a channel, /unblock means one PBX",
}


@dataclass(frozen=True, slots=True)
class PbxSettings:
    """One 3CX PBX: how to reach it, and its people and channels."""

    #: what people type (``/unblock acme 42``); "": the one PBX of the ``THREECX_*`` settings
    name: str
    url: str
    client_id: str
    client_secret: Secret
    ca_bundle: str | None
    #: the channels where ``/unblock`` means this PBX without its name
    channels: frozenset[str]
    #: who may unblock what on this PBX (``rules.default`` holds its approvers)
    rules: Rules
    #: where its approval cards go; None: where the command was typed
    approval_channel: str | None
    #: watching its blocklist; None: off
    watch: WatchRules | None
    #: the other workspaces (Slack Connect) whose people may ask about this PBX in its channels
    connect_teams: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Shared:
    """What each PBX of the file takes from the settings when its table leaves it out."""

    #: the settings' rule (``UNBLOCK_APPROVERS`` …); a PBX's own ``approvers`` replace its approvers
    rule: Rule
    #: ``UNBLOCK_RULES``, and what it was read into (None: unset, or it has problems of its own)
    rules_file: str | None
    rules: Rules | None
    #: ``UNBLOCK_APPROVERS`` is set
    approvers_given: bool
    approval_channel: str | None
    #: ``UNBLOCK_WATCH_CHANNEL``'s channel, and the watch's settings every PBX shares
    watch_channel: str | None
    watch_interval: float
    watch_burst: int
    watch_added_by: frozenset[str] | None
    #: the environment (``.env`` included), where ``client_secret_env`` is looked up
    env: Mapping[str, str]
    #: the problems of a PBX's own rules that only the settings see, given the rules and how to name them
    check_rules: Callable[[Rules, str], list[str]]


def load_pbxes(path: str, shared: Shared) -> tuple[tuple[PbxSettings, ...], list[str]]:
    """The PBXes of the file at ``path``, and every problem with it (each a line ready for ``ConfigError``)."""
    where = f"UNBLOCK_PBXES={path!r}"
    try:
        document = read_toml(path)
    except RulesError as error:
        return (), [f"{where}: {problem}." for problem in error.problems]
    problems: list[str] = []
    for key in document:
        if key != "pbx":
            problems.append(f"{where}: {rv.shown(key)} is not known at the top of the file, which holds only [[pbx]].")
    tables = document.get("pbx", [])
    if not isinstance(tables, list) or not all(isinstance(table, dict) for table in tables):
        return (), [*problems, f"{where}: pbx must be written as [[pbx]] tables (with two brackets), one per PBX."]
    if not tables:
        problems.append(f"{where}: the file holds no PBX: write one [[pbx]] table for each PBX the bot serves.")
    readers = [_PbxReader(number, table, shared, where) for number, table in enumerate(tables, start=1)]
    found = [reader.pbx() for reader in readers]
    problems += [problem for reader in readers for problem in reader.problems]
    problems += _shared_by_two(readers, where)
    lacking = [reader.label for reader in readers if "approvers" not in reader.table]
    if lacking and not shared.approvers_given:
        more = f" and {len(lacking) - NAMED:,} more" if len(lacking) > NAMED else ""
        problems.append(
            f"UNBLOCK_APPROVERS is not set, and {where} has PBXes that give no approvers of their own "
            f"({', '.join(lacking[:NAMED])}{more}): set it, or give each of them approvers."
        )
    return tuple(pbx for pbx in found if pbx is not None), problems


def _shared_by_two(readers: list[_PbxReader], where: str) -> list[str]:
    """A problem for each name, address and channel that a PBX has which an earlier one has too."""
    problems = []
    first: dict[tuple[str, str], str] = {}
    for reader in readers:
        for key, value in [("name", reader.name), ("url", reader.url), *(("channels", c) for c in reader.channels)]:
            if value is not None and (seen := first.setdefault((key, value), reader.label)) != reader.label:
                problems.append(f"{where}: {reader.label}: {key} {rv.shown(value)} is also {seen}'s: {OWN[key]}.")
    return problems


class _PbxReader:
    """Reads one ``[[pbx]]`` table, with a problem for each key that is wrong."""

    def __init__(self, number: int, table: dict[str, object], shared: Shared, where: str) -> None:
        self.table = table
        self.shared = shared
        self.where = where
        self.problems: list[str] = []
        self.label = f"[[pbx]] {number}"
        self.name = self.read("name", _name)
        self.label += f' "{self.name}"' if self.name is not None else ""
        self.channels = self.read("channels", _listed(v.channel, '["C0123456789"]')) or frozenset()
        self.url = self.read("url", _text(v.pbx_url))

    def problem(self, text: str) -> None:
        self.problems.append(f"{self.where}: {self.label}: {text}.")

    def pbx(self) -> PbxSettings | None:
        """The PBX, or None (and problems) when any key is wrong."""
        for key in self.table:
            if key == "client_secret":
                self.problem(
                    "client_secret must not be in the file: give client_secret_file (a file holding the secret) or "
                    "client_secret_env (the environment variable holding it)"
                )
            elif key not in KEYS:
                close = difflib.get_close_matches(key, KEYS, n=1)
                hint = f" (did you mean {close[0]}?)" if close else ""
                self.problem(f"{rv.shown(key)} is not a key of a [[pbx]]{hint}; the keys are {', '.join(KEYS)}")
        for key in ("name", "url", "client_id"):
            if key not in self.table:
                self.problem(f"{key} is missing: every PBX needs one")
        url = self.url
        client_id = self.read("client_id", _text(_filled))
        secret = self.secret()
        ca_bundle = self.read("ca_bundle", _text(v.ca_bundle))
        approvers = self.read("approvers", _approvers)
        approval_channel = self.read("approval_channel", _text(v.channel))
        watch_channel = self.read("watch_channel", _watch_channel)
        added_by = self.read("watch_added_by", _added_by)
        connect_teams = self.read("connect_teams", _listed(v.team_id, '["T0123456789"]'))
        rule = self.shared.rule if approvers is None else replace(self.shared.rule, approvers=approvers)
        rules = self.rules(rule, approvers is not None)
        if self.problems or url is None or client_id is None or secret is None or self.name is None or rules is None:
            return None
        channel = self.shared.watch_channel if watch_channel is None else watch_channel
        watch = None
        if channel:
            added = self.shared.watch_added_by if "watch_added_by" not in self.table else added_by
            watch = WatchRules(channel, self.shared.watch_interval, added, self.shared.watch_burst)
        return PbxSettings(
            name=self.name,
            url=url,
            client_id=client_id,
            client_secret=secret,
            ca_bundle=ca_bundle,
            channels=self.channels,
            rules=rules,
            approval_channel=self.shared.approval_channel if approval_channel is None else approval_channel,
            watch=watch,
            connect_teams=connect_teams or frozenset(),
        )

    def read(self, key: str, parse: Callable[[object], T]) -> T | None:
        """The value of ``key`` read by ``parse`` (which raises ValueError saying what it should be); None when the
        key is left out or wrong."""
        if key not in self.table:
            return None
        try:
            return parse(self.table[key])
        except ValueError as error:
            shown = "" if key in SECRET_KEYS else f" = {v.without_credentials(rv.shown(self.table[key]))}"
            self.problem(f"{key}{shown} {error}")
            return None

    def secret(self) -> Secret | None:
        """The client's secret, from the file ``client_secret_file`` names or the variable ``client_secret_env``
        names (neither the value nor where it is written is shown: either may hold the secret by mistake)."""
        given = [key for key in ("client_secret_file", "client_secret_env") if key in self.table]
        if len(given) != 1:
            if given or "client_secret" not in self.table:  # (client_secret has a problem of its own)
                self.problem(f"give exactly one of client_secret_file and client_secret_env (got {len(given)})")
            return None
        if given == ["client_secret_file"]:
            return self.read("client_secret_file", _text(_secret_file))
        return self.read("client_secret_env", _text(lambda name: _secret_env(name, self.shared.env)))

    def rules(self, rule: Rule, own_approvers: bool) -> Rules | None:
        """This PBX's rules: its ``rules`` file, else ``UNBLOCK_RULES`` (read again over this PBX's approvers when
        it gives its own), each over ``rule``; None when they have problems."""
        shared = self.shared
        if "rules" not in self.table:
            if not own_approvers or shared.rules is None:
                return shared.rules or Rules((), rule)
            key, path = f"UNBLOCK_RULES={shared.rules_file!r}, read with this PBX's approvers", shared.rules_file
        else:
            path = self.read("rules", _text(str))
            key = f"rules = {rv.shown(path)}"
        if path is None:
            return None
        try:
            rules = load_rules(path, rule, "the PBX's list of approvers" if own_approvers else "UNBLOCK_APPROVERS")
        except RulesError as error:
            for problem in error.problems:
                self.problem(f"{key}: {problem}")
            return None
        problems = shared.check_rules(rules, f"{self.where}: {self.label}: {key}") if "rules" in self.table else []
        self.problems += problems
        return None if problems else rules


def _name(value: object) -> str:
    if not isinstance(value, str) or not PBX_NAME.fullmatch(value):
        raise ValueError(
            "should be what people type after /unblock: a lowercase letter, then lowercase letters, digits and -, "
            'at most 24 characters, like "acme"'
        )
    if value in RESERVED:
        raise ValueError(f"is a word /unblock gives a meaning to ({', '.join(sorted(RESERVED))}): choose another")
    return value


def _text(parse: Callable[[str], T]) -> Callable[[object], T]:
    """``parse`` of a value that must be text."""

    def read(value: object) -> T:
        if not isinstance(value, str):
            raise ValueError("should be text in quotes")
        return parse(value.strip())

    return read


def _filled(text: str) -> str:
    if not text:
        raise ValueError("is empty")
    return text


def _listed(parse: Callable[[str], str], example: str) -> Callable[[object], frozenset[str]]:
    """A list of texts, each read by ``parse``."""

    def read(value: object) -> frozenset[str]:
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise ValueError(f"should be a list of texts in quotes, like {example}")
        for item in value:
            try:
                parse(item.strip())
            except ValueError as error:
                raise ValueError(f"has {rv.shown(item)}, which {error}") from None
        return frozenset(item.strip() for item in value)

    return read


def _approvers(value: object) -> Approvers:
    if value == "*":
        return Approvers(anyone=True)
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value) or not value:
        raise ValueError('should be a list of user ids and user-group ids, like ["U0SEC1", "S0SECURITY"], or "*"')
    return v.approver_list([item.strip() for item in value])


def _watch_channel(value: object) -> str:
    """A channel, or "" for ``false``: not watched."""
    if value is False:
        return ""
    if not isinstance(value, str):
        raise ValueError("should be a channel id in quotes, or false for no watching")
    return v.channel(value.strip())


def _added_by(value: object) -> frozenset[str] | None:
    if value == "*":
        return None
    if not isinstance(value, list) or not value or not all(isinstance(item, str) and item.strip() for item in value):
        raise ValueError('should be a list of AddedBy values, like ["AutoBlacklist"], or "*" for every entry')
    return frozenset(item.strip() for item in value)


def _secret_file(path: str) -> Secret:
    try:
        with open(path, encoding="utf-8") as file:
            text = file.read().strip()
    except OSError as error:
        raise ValueError(f"names a file that cannot be read ({error.strerror or type(error).__name__})") from None
    except UnicodeDecodeError:
        raise ValueError("names a file that is not UTF-8 text") from None
    if not text:
        raise ValueError("names an empty file")
    return Secret(text)


def _secret_env(name: str, env: Mapping[str, str]) -> Secret:
    if not ENV_NAME.fullmatch(name):
        raise ValueError("should be the name of an environment variable, like ACME_3CX_SECRET")
    text = env.get(name, "").strip()
    if not text:
        raise ValueError("names an environment variable that is not set (nor in .env)")
    return Secret(text)
