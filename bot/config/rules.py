"""The rules file (``UNBLOCK_RULES``): TOML, one ``[[rule]]`` table per rule, read and checked all at once.

``load_rules`` either returns the :class:`~bot.domain.rules.Rules` the file says, or raises
:class:`RulesError` with every problem, one line each, naming the rule and the key
(``rule 2 "Wide networks": approvals must be a whole number of 1 or more (got 0)``).
"""

from __future__ import annotations

import difflib
import sys
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from ..domain.entries import Kind
from ..domain.rules import NOBODY, Approvers, Rule, Rules
from . import rule_values as rv

T = TypeVar("T")

#: the keys a rule may have, in the order docs/rules.md explains them, and how each one's value is read
PARSERS: dict[str, Callable[[object], object]] = {
    "name": rv.name,
    "networks": rv.networks,
    "wider_than": rv.width(32),
    "wider_than_v6": rv.width(128),
    "kind": rv.kind,
    "added_by": rv.added_by,
    "approvers": rv.approvers,
    "approvals": rv.approvals,
    "allow": rv.allow,
    "auto": rv.boolean,
    "auto_on_watch": rv.boolean,
    "allow_max": rv.allow_max,
    "remind_after": rv.after,
    "escalate_after": rv.after,
    "escalate_to": rv.escalate_to,
}
KEYS = tuple(PARSERS)
#: the keys that are conditions: a rule with none of them matches every entry
CONDITIONS = ("networks", "wider_than", "wider_than_v6", "kind", "added_by")
#: the conditions a rule of caller numbers cannot have, and what caller numbers lack for them
NOT_FOR_NUMBERS = {"networks": "address", "wider_than": "address", "wider_than_v6": "address", "added_by": "AddedBy"}


class RulesError(Exception):
    """The rules file cannot be used: ``problems``, one line each."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


def load_rules(path: str | Path, default: Rule, approvers_from: str = "UNBLOCK_APPROVERS") -> Rules:
    """The rules of the TOML file at ``path``; what a rule leaves out comes from the settings' rule ``default``
    (its approvers, one approval, its Approve-and-allow durations, its reminders and escalation), which is also
    the rule of the entries no rule matches; ``approvers_from`` says where its approvers were given.

    Raises:
        RulesError: every problem with the file, one line each.
    """
    document = read_toml(path)
    problems: list[str] = []
    tables = _tables(document, problems)
    names: dict[str, int] = {}
    read = [
        _RuleReader(number, table, problems).rule(default, names, approvers_from)
        for number, table in enumerate(tables, start=1)
    ]
    problems += _unreachable(tables)
    if problems:
        raise RulesError(problems)
    return Rules(tuple(rule for rule in read if rule is not None), default)


def read_toml(path: str | Path) -> dict[str, Any]:
    """The TOML document at ``path`` (the rules file, or the PBXes file).

    Raises:
        RulesError: the one line saying why the file cannot be read.
    """
    try:
        with open(path, "rb") as file:
            document = tomllib.load(file)
    except OSError as error:
        raise RulesError([f"the file cannot be read ({error.strerror or type(error).__name__})"]) from None
    except tomllib.TOMLDecodeError as error:
        message = str(error)  # its first letter small, to follow a colon
        raise RulesError([f"the file is not valid TOML: {message[:1].lower()}{message[1:]}"]) from None
    except UnicodeDecodeError:
        raise RulesError(["the file is not UTF-8 text, which TOML must be"]) from None
    except ValueError:  # of tomllib, the one thing that is not a TOMLDecodeError: Python's cap on a number's length
        digits = sys.get_int_max_str_digits()
        raise RulesError([f"the file holds a number of more than {digits:,} digits, which cannot be read"]) from None
    except RecursionError:
        raise RulesError(["the file nests arrays or inline tables too deeply to be read"]) from None
    return document


def _tables(document: Mapping[str, object], problems: list[str]) -> list[dict[str, object]]:
    """The ``[[rule]]`` tables; a problem for anything else at the top of the file, or for none."""
    for key in document:
        if key != "rule":
            problems.append(f"{rv.shown(key)} is not known at the top of the file, which holds only [[rule]] tables")
    found = document.get("rule", [])
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

    def rule(self, default: Rule, names: dict[str, int], approvers_from: str) -> Rule | None:
        """The rule, or None (and problems) when any key is wrong; what it leaves out is ``default``'s (the
        settings')."""
        for key in self.table:
            if key not in KEYS:
                close = difflib.get_close_matches(key, KEYS, n=1)
                hint = f" (did you mean {close[0]}?)" if close else ""
                self.problem(f"{rv.shown(key)} is not a key of a rule{hint}; the keys are {', '.join(KEYS)}")
        name = self.name(names)
        read = {key: self.read(key, parse) for key, parse in PARSERS.items() if key in self.table and key != "name"}
        given: dict[str, Any] = {key: value for key, value in read.items() if value is not None}
        inherited = ("approvers", "allow", "remind_after", "escalate_after", "escalate_to")
        rule = Rule(**{**{key: getattr(default, key) for key in inherited}, **given, "name": name})
        for key, lacking in NOT_FOR_NUMBERS.items():
            if rule.kind is Kind.NUMBER and key in self.table:
                self.problem(f'{key} cannot apply to kind = "number": caller numbers have no {lacking}')
        if rule.auto_on_watch and not rule.auto:
            self.problem(
                "auto_on_watch = true needs auto = true: the watcher unblocks only entries that need no approval"
            )
        said = [key for key, says in (("approvers", "approvers" in given), ("approvals", rule.approvals > 1)) if says]
        said += [key for key in ("remind_after", "escalate_after", "escalate_to") if key in self.table]
        if rule.auto and said:
            self.problem(
                f"auto = true carries entries out without approval, so {' and '.join(said)} cannot be given with "
                "it; remove one or the other"
            )
        if not rule.auto and ("approvers" in given or "approvers" not in self.table):
            self.can_be_approved(rule.approvals, given.get("approvers"), default.approvers, approvers_from)
        unnamed = rule.escalate_to == NOBODY and "escalate_to" not in self.table  # (a wrong one has its own problem)
        if rule.escalate_after and unnamed and "escalate_after" in self.table:
            self.problem(
                "escalate_after needs someone to escalate to: give escalate_to (users and user groups), or set "
                "UNBLOCK_ESCALATE_TO"
            )
        return None if len(self.problems) > self.count or name is None else rule

    def name(self, names: dict[str, int]) -> str | None:
        if "name" not in self.table:
            self.problem("name is missing: every rule needs one, shown on cards, in history and in the audit record")
            return None
        name = self.read("name", rv.name)
        if name is None:
            return None
        if name.casefold() in names:
            self.problem(f"name is also rule {names[name.casefold()]}'s: each rule needs a name of its own")
            return None
        names[name.casefold()] = self.number
        return name

    def read(self, key: str, parse: Callable[[object], T]) -> T | None:
        """The value of ``key`` read by ``parse`` (which raises ValueError with what is wrong, each thing as
        one of its arguments); None when the key is wrong."""
        try:
            return parse(self.table[key])
        except ValueError as error:  # one line for each thing wrong with the value
            for problem in error.args:
                self.problem(f"{key} {problem}")
            return None

    def can_be_approved(self, approvals: int, own: Approvers | None, settings: Approvers, settings_from: str) -> None:
        """A problem when the approvers named could never give ``approvals`` distinct approvals: they are
        user ids only, and fewer than that."""
        approvers, where = (own, "approvers") if own is not None else (settings, settings_from)
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
            after = ", ".join(labels[number:])
            never = f"has no conditions, so it matches every entry and the rules after it never apply: {after}"
            return [f"{labels[number - 1]}: {never}"]
    return []


def label(number: int, name: str | None) -> str:
    """How problems name a rule: ``rule 2 "Wide networks"``, or ``rule 2`` while it has no name."""
    return f'rule {number} "{name}"' if name is not None else f"rule {number}"


def _label(number: int, table: dict[str, object]) -> str:
    """The label of the rule ``table`` (without a name while its name is not one)."""
    try:
        return label(number, rv.name(table["name"]))
    except (KeyError, ValueError):
        return label(number, None)
