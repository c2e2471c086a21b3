"""The rules file (``UNBLOCK_RULES``): TOML, one ``[[rule]]`` table per rule, read and checked all at once.

``load_rules`` either returns the :class:`~bot.domain.rules.Rules` the file says, or raises
:class:`RulesError` with every problem, one line each, naming the rule and the key
(``rule 2 "Wide networks": approvals must be a whole number of 1 or more (got 0)``).
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import tomllib
from collections.abc import Callable, Mapping
from datetime import date, datetime, time
from pathlib import Path
from typing import TypeVar

from ..domain.entries import Kind
from ..domain.policy import Approvers
from ..domain.rules import NOBODY, Network, Rule, Rules
from . import values as v

__all__ = ["KEYS", "RulesError", "load_rules"]

T = TypeVar("T")

#: the keys a rule may have, in the order the README explains them
KEYS = (
    "name", "networks", "wider_than", "wider_than_v6", "kind", "added_by",
    "approvers", "approvals", "allow", "auto", "auto_on_watch", "remind_after", "escalate_after", "escalate_to",
)  # fmt: skip
#: the keys that are conditions: a rule with none of them matches every entry
CONDITIONS = ("networks", "wider_than", "wider_than_v6", "kind", "added_by")
#: what ``kind`` says, and the list it means
KINDS = {"ip": Kind.ADDRESS, "number": Kind.NUMBER}
#: the longest name, shown on cards
MAX_NAME = 80
#: the most durations Approve and allow offers
MAX_ALLOW_DURATIONS = 10
_DURATION_FORMS = 'whole seconds, or a number and a unit (m, h, d or w), from 1m to 90d, like "1h" or "7d"'
_AFTER_FORMS = (
    'a duration from 5s to 7d, whole seconds or a number and a unit (s, m, h or d) like "15m", or 0 for never'
)


class RulesError(Exception):
    """The rules file cannot be used: ``problems``, one line each."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


def load_rules(
    path: str | Path, *, approvers: Approvers, allow: tuple[float, ...], remind_after: float = 0.0,
    escalate_after: float = 0.0, escalate_to: Approvers = NOBODY,
) -> Rules:  # fmt: skip
    """The rules of the TOML file at ``path``; what a rule leaves out comes from the settings (``approvers``,
    one approval, ``allow``, and the reminders and escalation: ``remind_after``, ``escalate_after``,
    ``escalate_to``).

    Raises:
        RulesError: every problem with the file, one line each.
    """
    try:
        with open(path, "rb") as file:
            document = tomllib.load(file)
    except OSError as error:
        raise RulesError([f"the file cannot be read ({error.strerror or type(error).__name__})"]) from None
    except tomllib.TOMLDecodeError as error:
        raise RulesError([f"the file is not valid TOML: {_sentence(str(error))}"]) from None
    except UnicodeDecodeError:
        raise RulesError(["the file is not UTF-8 text, which TOML must be"]) from None
    problems: list[str] = []
    tables = _tables(document, problems)
    rules: list[Rule] = []
    names: dict[str, int] = {}
    default = Rule(approvers=approvers, allow=allow, remind_after=remind_after, escalate_after=escalate_after,
                   escalate_to=escalate_to)  # fmt: skip
    for number, table in enumerate(tables, start=1):
        reader = _RuleReader(number, table, problems)
        rule = reader.rule(default, names)
        if rule is not None:
            rules.append(rule)
    problems += _unreachable(tables)
    if problems:
        raise RulesError(problems)
    return Rules(tuple(rules), default)


def _tables(document: Mapping[str, object], problems: list[str]) -> list[dict[str, object]]:
    """The ``[[rule]]`` tables; a problem for anything else at the top of the file, or for none."""
    for key in document:
        if key != "rule":
            problems.append(f"{_quoted(key)} is not known at the top of the file, which holds only [[rule]] tables")
    found = document.get("rule")
    if found is None:
        problems.append("the file holds no rules: write one [[rule]] table for each")
        return []
    if not isinstance(found, list) or not all(isinstance(table, dict) for table in found):
        problems.append("rule must be written as [[rule]] tables (with two brackets), one for each rule")
        return []
    if not found:
        problems.append("the file holds no rules: write one [[rule]] table for each")
    return found


class _RuleReader:
    """Reads one ``[[rule]]`` table, adding a problem for each key that is wrong."""

    def __init__(self, number: int, table: dict[str, object], problems: list[str]) -> None:
        self.table = table
        self.problems = problems
        self.number = number
        self.label = _label(number, table)
        self.count = len(problems)

    def problem(self, text: str) -> None:
        self.problems.append(f"{self.label}: {text}")

    def rule(self, default: Rule, names: dict[str, int]) -> Rule | None:
        """The rule, or None (and problems) when any key is wrong; what it leaves out is ``default``'s (the
        settings')."""
        approvers, allow = default.approvers, default.allow
        for key in self.table:
            if key not in KEYS:
                close = difflib.get_close_matches(key, KEYS, n=1)
                hint = f" (did you mean {close[0]}?)" if close else ""
                self.problem(f"{_quoted(key)} is not a key of a rule{hint}; the keys are {', '.join(KEYS)}")
        name = self.name(names)
        networks: tuple[Network, ...] = self.read("networks", (), _networks)
        wider_than = self.read("wider_than", None, _width(32))
        wider_than_v6 = self.read("wider_than_v6", None, _width(128))
        kind = self.read("kind", None, _kind)
        added_by = self.read("added_by", None, _added_by)
        own_approvers = self.read("approvers", None, _approvers)
        approvals = self.read("approvals", 1, _approvals)
        durations = self.read("allow", None, _allow)
        auto = self.read("auto", False, _boolean)
        auto_on_watch = self.read("auto_on_watch", False, _boolean)
        remind_after = self.read("remind_after", default.remind_after, _after)
        escalate_after = self.read("escalate_after", default.escalate_after, _after)
        escalate_to = self.read("escalate_to", default.escalate_to, _escalate_to)
        if kind is Kind.NUMBER:
            for key in ("networks", "wider_than", "wider_than_v6"):
                if key in self.table:
                    self.problem(f'{key} cannot apply to kind = "number": caller numbers have no address')
            if "added_by" in self.table:
                self.problem('added_by cannot apply to kind = "number": caller numbers have no AddedBy')
        if auto_on_watch and not auto:
            self.problem(
                "auto_on_watch = true needs auto = true: the watcher unblocks only entries that need no approval"
            )
        given = [key for key, says in (("approvers", own_approvers is not None), ("approvals", approvals > 1)) if says]
        given += [key for key in ("remind_after", "escalate_after", "escalate_to") if key in self.table]
        if auto and given:
            self.problem(
                f"auto = true carries entries out without approval, so {' and '.join(given)} cannot be given with "
                "it; remove one or the other"
            )
        if not auto and (own_approvers is not None or "approvers" not in self.table):
            self.can_be_approved(approvals, own_approvers, approvers)
        unnamed = escalate_to == NOBODY and "escalate_to" not in self.table  # (a wrong one has a problem of its own)
        if escalate_after and unnamed and "escalate_after" in self.table:
            self.problem(
                "escalate_after needs someone to escalate to: give escalate_to (users and user groups), or set "
                "UNBLOCK_ESCALATE_TO"
            )
        if len(self.problems) > self.count or name is None:
            return None
        return Rule(
            name=name, networks=networks, wider_than=wider_than, wider_than_v6=wider_than_v6, kind=kind,
            added_by=added_by, approvers=approvers if own_approvers is None else own_approvers, approvals=approvals,
            allow=allow if durations is None else durations, auto=auto, auto_on_watch=auto_on_watch,
            remind_after=remind_after, escalate_after=escalate_after, escalate_to=escalate_to,
        )  # fmt: skip

    def name(self, names: dict[str, int]) -> str | None:
        if "name" not in self.table:
            self.problem("name is missing: every rule needs one, shown on cards, in history and in the audit record")
            return None
        name = self.read("name", None, _name)
        if name is None:
            return None
        if name.casefold() in names:
            self.problem(f"name is also rule {names[name.casefold()]}'s: each rule needs a name of its own")
            return None
        names[name.casefold()] = self.number
        return name

    def read(self, key: str, default: T, parse: Callable[[object], T]) -> T:
        """The value of ``key`` read by ``parse`` (which raises ValueError with what is wrong, each thing as
        one of its arguments); ``default`` when the key is left out or wrong."""
        if key not in self.table:
            return default
        try:
            return parse(self.table[key])
        except ValueError as error:  # one line for each thing wrong with the value
            for problem in error.args:
                self.problem(f"{key} {problem}")
            return default

    def can_be_approved(self, approvals: int, own: Approvers | None, settings: Approvers) -> None:
        """A problem when the approvers named could never give ``approvals`` distinct approvals: they are
        user ids only, and fewer than that."""
        approvers, where = (own, "approvers") if own is not None else (settings, "UNBLOCK_APPROVERS")
        unknown = approvers == Approvers()  # UNBLOCK_APPROVERS has a problem of its own
        if approvers.anyone or approvers.groups or unknown or len(approvers.users) >= approvals:
            return
        users = len(approvers.users)
        self.problem(
            f"approvals is {approvals}, but {where} names only {users} user{'s' if users != 1 else ''} and no user "
            f"group, so no request could be approved"
        )


def _unreachable(tables: list[dict[str, object]]) -> list[str]:
    """A problem for the first rule without conditions that other rules follow: they could never apply."""
    labels = [_label(number, table) for number, table in enumerate(tables, start=1)]
    for number, table in enumerate(tables, start=1):
        if number < len(tables) and not any(key in table for key in CONDITIONS):
            return [f"{labels[number - 1]}: has no conditions, so it matches every entry and the rules after it "
                    f"never apply: {', '.join(labels[number:])}"]  # fmt: skip
    return []


def _label(number: int, table: dict[str, object]) -> str:
    """How problems name a rule: ``rule 2 "Wide networks"``, or ``rule 2`` while its name is not one."""
    try:
        return f'rule {number} "{_name(table["name"])}"'
    except (KeyError, ValueError):
        return f"rule {number}"


# parsers of values: each returns the value or raises ValueError with what it should be ---------------------


def _name(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f'must be text, like "Branch offices" (got {_shown(value)})')
    name = value.strip()
    if not name:
        raise ValueError("is empty: every rule needs one, shown on cards, in history and in the audit record")
    if len(name) > MAX_NAME or any(not char.isprintable() for char in name):
        raise ValueError(f"must be one line of at most {MAX_NAME} characters (got {len(name)})")
    return name


def _networks(value: object) -> tuple[Network, ...]:
    if not isinstance(value, list):
        raise ValueError(f'must be a list of networks like ["198.51.100.0/24", "2001:db8::/48"] (got {_shown(value)})')
    if not value:
        raise ValueError("is empty, so the rule could never match: give at least one network, or leave the key out")
    found, bad = [], []
    for item in value:
        try:
            found.append(ipaddress.ip_network(item.strip()) if isinstance(item, str) else None)
        except ValueError:
            bad.append(_network_problem(item))
        if not isinstance(item, str):
            bad.append(f'{_shown(item)}, which is not a network in quotes, like "198.51.100.0/24"')
    if bad:
        raise ValueError(*(f"has {problem}" for problem in bad))
    return tuple(network for network in found if network is not None)


def _network_problem(item: str) -> str:
    try:
        loose = ipaddress.ip_network(item.strip(), strict=False)
    except ValueError:
        return f"{_shown(item)}, which is not an address or network like 198.51.100.0/24 or 2001:db8::/48"
    return f'{_shown(item)}, whose address has bits set beyond its prefix (did you mean "{loose}"?)'


def _width(highest: int) -> Callable[[object], int]:
    def parse(value: object) -> int:
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= highest:
            raise ValueError(f"must be a prefix length, a whole number from 0 to {highest} (got {_shown(value)})")
        return value

    return parse


def _kind(value: object) -> Kind:
    if not isinstance(value, str) or value not in KINDS:
        raise ValueError(f'must be "ip" or "number" (got {_shown(value)})')
    return KINDS[value]


def _added_by(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f'must be the AddedBy of 3CX\'s entries, like "AutoBlacklist" (got {_shown(value)})')
    return value.strip()


def _approvers(value: object) -> Approvers:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError(f'must be a list of user ids and user-group ids, like ["U0SEC1", "S0SECURITY"] (got '
                         f"{_shown(value)})")  # fmt: skip
    if not value:
        raise ValueError(
            "is empty, so no one could approve: name at least one, or leave the key out for UNBLOCK_APPROVERS"
        )
    return v.approver_ids([item.strip() for item in value])


def _approvals(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"must be a whole number of 1 or more (got {_shown(value)})")
    return value


def _allow(value: object) -> tuple[float, ...]:
    if not isinstance(value, list):
        raise ValueError(f'must be a list of durations like ["1h", "1d"], or [] for none (got {_shown(value)})')
    found, bad = [], []
    for item in value:
        seconds = v.allow_duration(str(item)) if isinstance(item, str | int) and not isinstance(item, bool) else None
        if seconds is None:
            bad.append(_shown(item))
        else:
            found.append(seconds)
    if bad:
        raise ValueError(
            *(f"has {item}, which is not a duration Approve and allow takes: {_DURATION_FORMS}" for item in bad)
        )
    if len(found) > MAX_ALLOW_DURATIONS or len(set(found)) != len(found):
        raise ValueError(f"must hold at most {MAX_ALLOW_DURATIONS} durations, each once (got {_shown(value)})")
    return tuple(found)


def _after(value: object) -> float:
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    try:
        if isinstance(text, str):
            return v.after(text)
    except ValueError:
        pass
    raise ValueError(f"must be {_AFTER_FORMS} (got {_shown(value)})")


def _escalate_to(value: object) -> Approvers:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError(f'must be a list of user ids and user-group ids, like ["U0LEAD1", "S0ONCALL"] (got '
                         f"{_shown(value)})")  # fmt: skip
    if not value:
        raise ValueError("is empty, so no one would be told: name at least one, or leave the key out")
    return v.people(v.approver_ids([item.strip() for item in value]))


def _boolean(value: object) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"must be true or false (got {_shown(value)})")
    return value


def _shown(value: object) -> str:
    """A value as the file would write it, cut short when long."""
    text = _toml(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(item) for item in value) + "]"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value)


def _quoted(key: str) -> str:
    return json.dumps(key, ensure_ascii=False)


def _sentence(text: str) -> str:
    """tomllib's message with its first letter small, to follow a colon."""
    return text[:1].lower() + text[1:]
