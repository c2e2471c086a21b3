"""The rules file (``UNBLOCK_RULES``, read by ``bot.config.rules.load_rules``): the example of docs/rules.md reads to
what it says, and each problem is one line naming the rule and the key, all of them at once."""

from __future__ import annotations

from ipaddress import ip_network
from pathlib import Path

import pytest

from bot.config import ConfigError, load_settings
from bot.config.rules import RulesError, load_rules
from bot.domain.entries import BlockedNumber, BlocklistEntry, Kind
from bot.domain.rules import Approvers, Rule, Rules

from .processes import ROOT

SETTINGS_APPROVERS = Approvers(users=frozenset({"UBOB"}), groups=frozenset({"SHELPDESK"}))
SETTINGS_ALLOW = (3600.0, 86400.0, 7 * 86400.0)
#: the settings' rule: what a rule leaves out
SETTINGS = Rule(approvers=SETTINGS_APPROVERS, allow=SETTINGS_ALLOW)
EXAMPLE = """\
[[rule]]
name = "Branch offices"                  # on cards, in history and in the audit record
networks = ["198.51.100.0/24", "2001:db8:100::/48"]  # the entry's address or network lies inside one
auto = true                              # carried out without approval

[[rule]]
name = "Wide networks"
wider_than = 24                          # IPv4 networks wider than /24; wider_than_v6 likewise (default 64)
approvers = ["U0SEC1", "U0SEC2", "S0SECURITY"]   # users and user groups, as in UNBLOCK_APPROVERS
approvals = 2                            # distinct approvers, never the requester
allow = []                               # no Approve and allow

[[rule]]
name = "Caller numbers"
kind = "number"                          # "ip" or "number"
approvers = ["U0VOICE1"]

[[rule]]
name = "Everything else"
allow = ["1h", "1d"]                     # the durations offered; nothing longer is accepted
"""
#: what a rule's remind_after and escalate_after take
AFTER = 'a duration from 5s to 7d, whole seconds or a number and a unit (s, m, h, d or w) like "15m", or 0 for never'
#: a rule without problems, to put a broken one beside
FINE = '[[rule]]\nname = "Fine"\nkind = "ip"\n'
BASE_ENV = {
    "SLACK_BOT_TOKEN": "xoxb-rules-test-token",
    "SLACK_SIGNING_SECRET": "rules-test-signing-secret",
    "THREECX_BASE_URL": "https://pbx.acme.test",
    "THREECX_CLIENT_ID": "unblock-bot",
    "THREECX_CLIENT_SECRET": "rules-test-client-secret",
    "UNBLOCK_APPROVERS": "UBOB,SHELPDESK",
}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rules.toml"
    path.write_text(text, encoding="utf-8")
    return path


def load(tmp_path: Path, text: str, approvers: Approvers = SETTINGS_APPROVERS) -> Rules:
    return load_rules(write(tmp_path, text), Rule(approvers=approvers, allow=SETTINGS_ALLOW))


def problems(tmp_path: Path, text: str, approvers: Approvers = SETTINGS_APPROVERS) -> list[str]:
    with pytest.raises(RulesError) as raised:
        load(tmp_path, text, approvers)
    assert all("\n" not in problem for problem in raised.value.problems)
    return raised.value.problems


def test_the_rules_pages_example_reads_to_what_it_says(tmp_path: Path) -> None:
    assert EXAMPLE in (ROOT / "docs" / "rules.md").read_text(encoding="utf-8")

    rules = load(tmp_path, EXAMPLE)

    assert rules.rules == (
        Rule("Branch offices", networks=(ip_network("198.51.100.0/24"), ip_network("2001:db8:100::/48")),
             approvers=SETTINGS_APPROVERS, allow=SETTINGS_ALLOW, auto=True),
        Rule("Wide networks", wider_than=24, approvals=2, allow=(),
             approvers=Approvers(users=frozenset({"U0SEC1", "U0SEC2"}), groups=frozenset({"S0SECURITY"}))),
        Rule("Caller numbers", kind=Kind.NUMBER, approvers=Approvers(users=frozenset({"U0VOICE1"})),
             allow=SETTINGS_ALLOW),
        Rule("Everything else", approvers=SETTINGS_APPROVERS, allow=(3600.0, 86400.0)),
    )  # fmt: skip
    assert rules.default == Rule(approvers=SETTINGS_APPROVERS, allow=SETTINGS_ALLOW)
    office = BlocklistEntry(1, "198.51.100.7", None, "Block", "AutoBlacklist", None, None)
    wide = BlocklistEntry(2, "203.0.0.0/16", None, "Block", "AutoBlacklist", None, None)
    assert rules.rule_for(office).name == "Branch offices"
    assert rules.rule_for(wide).name == "Wide networks"
    assert rules.rule_for(BlockedNumber("n1", "+15550100", None)).name == "Caller numbers"
    assert rules.rule_for_all([office, wide]).name == "Wide networks"


def test_every_key_and_the_other_forms_a_value_may_take(tmp_path: Path) -> None:
    rules = load(
        tmp_path,
        """
        [[rule]]
        name = "  Automatic blocks of big networks  "
        networks = ["10.0.0.0/8", "2001:db8::/32", "192.0.2.1"]
        wider_than = 16
        wider_than_v6 = 40
        kind = "ip"
        added_by = "AutoBlacklist"
        auto = true
        auto_on_watch = true
        approvals = 1
        allow = ["15m", 3600, "2w", "90d"]

        [[rule]]
        name = "Anyone"
        approvers = ["*"]
        approvals = 5
        """,
    )

    automatic, anyone = rules.rules
    assert automatic == Rule(
        "Automatic blocks of big networks",
        networks=(ip_network("10.0.0.0/8"), ip_network("2001:db8::/32"), ip_network("192.0.2.1/32")),
        wider_than=16, wider_than_v6=40, kind=Kind.ADDRESS, added_by="AutoBlacklist", approvers=SETTINGS_APPROVERS,
        approvals=1, allow=(900.0, 3600.0, 14 * 86400.0, 90 * 86400.0), auto=True, auto_on_watch=True,
    )  # fmt: skip
    assert anyone.approvers == Approvers(anyone=True) and anyone.approvals == 5


# each problem, one line naming the rule and the key ----------------------------------------------------------


KEYS = (
    "name, networks, wider_than, wider_than_v6, kind, added_by, approvers, approvals, allow, auto, auto_on_watch, "
    "allow_max, remind_after, escalate_after, escalate_to"
)
ALLOW = 'whole seconds, or a number and a unit (m, h, d or w), from 1m to 90d, like "1h" or "7d"'
NOT_WITH_AUTO = "cannot be given with it; remove one or the other"
#: a rule named "X" (its other keys) and its one problem, after ``rule 2 "X": `` (here and in NAMED, but for the
#: problems that test_several_problems_give_several_lines_at_once shows word for word)
PROBLEMS = [
    ('approvals = "2"', 'approvals must be a whole number of 1 or more (got "2")'),
    (
        'aprovers = ["U0SEC1"]',
        f'"aprovers" is not a key of a rule (did you mean approvers?); the keys are {KEYS}',
    ),
    (
        'networks = "198.51.100.0/24"',
        'networks must be a list of networks like ["198.51.100.0/24", "2001:db8::/48"] (got "198.51.100.0/24")',
    ),
    (
        "networks = []",
        "networks is empty, so the rule could never match: give at least one network, or leave the key out",
    ),
    ("wider_than_v6 = 129", "wider_than_v6 must be a prefix length, a whole number from 0 to 128 (got 129)"),
    ('kind = "phone"', 'kind must be "ip" or "number" (got "phone")'),
    (
        'added_by = ["AutoBlacklist"]',
        'added_by must be the AddedBy of 3CX\'s entries, like "AutoBlacklist" (got ["AutoBlacklist"])',
    ),
    ('allow = ["1y"]', f'allow has "1y", which is not a duration Approve and allow takes: {ALLOW}'),
    ('allow = ["30s"]', f'allow has "30s", which is not a duration Approve and allow takes: {ALLOW}'),
    ('allow = "1h"', 'allow must be a list of durations like ["1h", "1d"], or [] for none (got "1h")'),
    ('allow = ["1h", "60m"]', 'allow must hold at most 10 durations, each once (got ["1h", "60m"])'),
    ('auto = "yes"', 'auto must be true or false (got "yes")'),
    ('approvers = ["bob"]', "approvers has items that are neither user ids (U…/W…) nor user-group ids (S…): bob"),
    ('approvers = ["*", "U0SEC1"]', "approvers '*' (anyone) cannot be combined with ids"),
    (
        "approvers = []",
        "approvers is empty, so no one could approve: name at least one, or leave the key out for UNBLOCK_APPROVERS",
    ),
    (
        'approvers = "U0SEC1"',
        'approvers must be a list of user ids and user-group ids, like ["U0SEC1", "S0SECURITY"] (got "U0SEC1")',
    ),
    (
        'approvers = ["U0SEC1", "U0SEC2"]\napprovals = 3',
        "approvals is 3, but approvers names only 2 users and no user group, so no request could be approved",
    ),
    (
        'kind = "ip"\nauto_on_watch = true',
        "auto_on_watch = true needs auto = true: the watcher unblocks only entries that need no approval",
    ),
    (
        'kind = "ip"\nauto = true\napprovers = ["U0SEC1"]',
        f"auto = true carries entries out without approval, so approvers {NOT_WITH_AUTO}",
    ),
    ('kind = "number"\nwider_than = 16', 'wider_than cannot apply to kind = "number": caller numbers have no address'),
    (
        'kind = "number"\nwider_than_v6 = 32',
        'wider_than_v6 cannot apply to kind = "number": caller numbers have no address',
    ),
    (
        'kind = "number"\nadded_by = "AutoBlacklist"',
        'added_by cannot apply to kind = "number": caller numbers have no AddedBy',
    ),
    # reminders and escalation
    ('kind = "ip"\nremind_after = "1y"', f'remind_after must be {AFTER} (got "1y")'),
    ('kind = "ip"\nescalate_after = 2', f"escalate_after must be {AFTER} (got 2)"),
    ('kind = "ip"\nremind_after = true', f"remind_after must be {AFTER} (got true)"),
    (
        'kind = "ip"\nescalate_after = "1h"',
        "escalate_after needs someone to escalate to: give escalate_to (users and user groups), or set "
        "UNBLOCK_ESCALATE_TO",
    ),
    (
        'kind = "ip"\nescalate_after = "1h"\nescalate_to = ["*"]',
        "escalate_to cannot be * (anyone): name the users (U…) and user groups (S…) to mention",
    ),
    (
        'kind = "ip"\nescalate_to = []',
        "escalate_to is empty, so no one would be told: name at least one, or leave the key out",
    ),
    (
        'kind = "ip"\nescalate_to = "U0LEAD"',
        'escalate_to must be a list of user ids and user-group ids, like ["U0LEAD1", "S0ONCALL"] (got "U0LEAD")',
    ),
    (
        'kind = "ip"\nauto = true\nremind_after = "5m"\nescalate_to = ["U0LEAD"]',
        "auto = true carries entries out without approval, so remind_after and escalate_to cannot be given with "
        "it; remove one or the other",
    ),
]
#: a rule, and its one problem
NAMED = [
    (
        'name = "  "\nkind = "ip"',
        "rule 2: name is empty: every rule needs one, shown on cards, in history and in the audit record",
    ),
    ('name = 7\nkind = "ip"', 'rule 2: name must be text, like "Branch offices" (got 7)'),
]


@pytest.mark.parametrize(
    ("rule", "problem"), [(f'name = "X"\n{rule}', f'rule 2 "X": {problem}') for rule, problem in PROBLEMS] + NAMED
)
def test_each_problem_is_one_line_naming_the_rule_and_the_key(tmp_path: Path, rule: str, problem: str) -> None:
    assert problems(tmp_path, f"{FINE}\n[[rule]]\n{rule}\n") == [problem]


def test_more_approvals_than_the_settings_approvers_could_give(tmp_path: Path) -> None:
    two_users = Approvers(users=frozenset({"UBOB", "UCAROL"}))

    assert problems(tmp_path, '[[rule]]\nname = "Wide"\nwider_than = 16\napprovals = 3\n', two_users) == [
        'rule 1 "Wide": approvals is 3, but UNBLOCK_APPROVERS names only 2 users and no user group, so no request '
        "could be approved"
    ]
    # a user group, or anyone, could give any number
    assert load(tmp_path, '[[rule]]\nname = "Wide"\nwider_than = 16\napprovals = 3\n').rules[0].approvals == 3
    group = '[[rule]]\nname = "Wide"\nwider_than = 16\napprovals = 9\napprovers = ["U0SEC1", "S0SECURITY"]\n'
    assert load(tmp_path, group, two_users).rules[0].approvals == 9


def test_a_rule_without_conditions_before_others_names_the_rules_that_could_never_apply(tmp_path: Path) -> None:
    text = EXAMPLE.replace('name = "Wide networks"\nwider_than = 24', 'name = "Wide networks"')

    assert problems(tmp_path, text) == [
        'rule 2 "Wide networks": has no conditions, so it matches every entry and the rules after it never apply: '
        'rule 3 "Caller numbers", rule 4 "Everything else"'
    ]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", ["the file holds no rules: write one [[rule]] table for each"]),
        ("# nothing yet\n", ["the file holds no rules: write one [[rule]] table for each"]),
        ("rule = []\n", ["the file holds no rules: write one [[rule]] table for each"]),
        ('[rule]\nname = "One"\n', ["rule must be written as [[rule]] tables (with two brackets), one for each rule"]),
        ('rule = ["One"]\n', ["rule must be written as [[rule]] tables (with two brackets), one for each rule"]),
        (
            f'approvals = 2\n\n[defaults]\nallow = ["1h"]\n\n{FINE}',
            [
                '"approvals" is not known at the top of the file, which holds only [[rule]] tables',
                '"defaults" is not known at the top of the file, which holds only [[rule]] tables',
            ],
        ),
        (
            '[[rule]]\nname = "Branch offices"\nnetworks = [198.51.100.0/24]\n',
            ["the file is not valid TOML: unclosed array (at line 3, column 19)"],
        ),
    ],
)
def test_a_file_of_anything_but_rules_says_what_it_holds(tmp_path: Path, text: str, problem: list[str]) -> None:
    assert problems(tmp_path, text) == problem


#: valid TOML that no parser of Python reads as it stands
UNREADABLE = {
    "a number of 5,000 digits": (
        f"{FINE}approvals = {'7' * 5000}\n",
        "the file holds a number of more than 4,300 digits, which cannot be read",
    ),
    "arrays nested 3,000 deep": (
        f"{FINE}networks = {'[' * 3000}{']' * 3000}\n",
        "the file nests arrays or inline tables too deeply to be read",
    ),
    "inline tables nested 3,000 deep": (
        f"{FINE}allow = {'{ a = ' * 3000}1{' }' * 3000}\n",
        "the file nests arrays or inline tables too deeply to be read",
    ),
}


@pytest.mark.parametrize(("text", "problem"), UNREADABLE.values(), ids=UNREADABLE.keys())
def test_valid_toml_that_cannot_be_read_is_one_problem(tmp_path: Path, text: str, problem: str) -> None:
    assert problems(tmp_path, text) == [problem]


def test_a_list_nested_as_deep_as_can_be_read_is_shown_short(tmp_path: Path) -> None:
    assert problems(tmp_path, f"{FINE}networks = [{'[' * 200}1{']' * 200}]\n") == [
        'rule 1 "Fine": networks has [[[...]]], which is not a network in quotes, like "198.51.100.0/24"'
    ]


def test_what_the_file_says_is_repeated_cut_short(tmp_path: Path) -> None:
    long = "x" * 200_000
    text = (
        f'{long} = 1\n\n[[rule]]\nname = "Wide"\nwider_than = 16\n{long} = 2\napprovers = ["U0SEC1", "{long}"]\n'
        f'added_by = ["{long}"]\n\n[[rule]]\nname = "{long}"\n'
    )
    cut = "x" * 56 + "..."

    assert problems(tmp_path, text) == [
        f'"{cut} is not known at the top of the file, which holds only [[rule]] tables',
        f'rule 1 "Wide": "{cut} is not a key of a rule; the keys are name, networks, wider_than, wider_than_v6, '
        "kind, added_by, approvers, approvals, allow, auto, auto_on_watch, allow_max, remind_after, escalate_after, "
        "escalate_to",
        f'rule 1 "Wide": added_by must be the AddedBy of 3CX\'s entries, like "AutoBlacklist" (got ["{"x" * 55}...)',
        f'rule 1 "Wide": approvers has items that are neither user ids (U…/W…) nor user-group ids (S…): {"x" * 57}...',
        "rule 2: name must be at most 80 characters long (got 200,000)",
    ]


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("Branch\u200boffices", "contains an invisible character (U+200B) at position 7"),
        ("Branch\toffices", "contains an invisible character (U+0009) at position 7"),
        ("Wide\\u0007", "contains an invisible character (U+0007) at position 5"),
        ("\u2060Wide", "contains an invisible character (U+2060) at position 1"),
    ],
)
def test_a_name_with_an_invisible_character_says_which_and_where(tmp_path: Path, name: str, problem: str) -> None:
    assert problems(tmp_path, f'[[rule]]\nname = "{name}"\n') == [
        f"rule 1: name {problem}: a name is one line of characters people can see"
    ]


def test_a_file_that_cannot_be_read(tmp_path: Path) -> None:
    with pytest.raises(RulesError) as missing:
        load_rules(tmp_path / "nowhere.toml", SETTINGS)
    with pytest.raises(RulesError) as folder:
        load_rules(tmp_path, SETTINGS)
    (tmp_path / "latin1.toml").write_bytes('[[rule]]\nname = "Büro"\n'.encode("latin-1"))
    with pytest.raises(RulesError) as latin1:
        load_rules(tmp_path / "latin1.toml", SETTINGS)

    assert missing.value.problems == ["the file cannot be read (No such file or directory)"]
    assert folder.value.problems == ["the file cannot be read (Is a directory)"]
    assert latin1.value.problems == ["the file is not UTF-8 text, which TOML must be"]


def test_several_problems_give_several_lines_at_once(tmp_path: Path) -> None:
    text = """
        title = "Our rules"

        [[rule]]
        name = "Wide networks"
        wider_than = 40
        approvals = 0
        networks = ["198.51.100.7/24", "office", 5]

        [[rule]]
        kind = "number"
        networks = ["10.0.0.0/8"]

        [[rule]]
        name = "wide networks"
        auto = true
        approvals = 2
    """

    assert problems(tmp_path, text) == [
        '"title" is not known at the top of the file, which holds only [[rule]] tables',
        'rule 1 "Wide networks": networks has "198.51.100.7/24", whose address has bits set beyond its prefix (did '
        'you mean "198.51.100.0/24"?)',
        'rule 1 "Wide networks": networks has "office", which is not an address or network like 198.51.100.0/24 or '
        "2001:db8::/48",
        'rule 1 "Wide networks": networks has 5, which is not a network in quotes, like "198.51.100.0/24"',
        'rule 1 "Wide networks": wider_than must be a prefix length, a whole number from 0 to 32 (got 40)',
        'rule 1 "Wide networks": approvals must be a whole number of 1 or more (got 0)',
        "rule 2: name is missing: every rule needs one, shown on cards, in history and in the audit record",
        'rule 2: networks cannot apply to kind = "number": caller numbers have no address',
        'rule 3 "wide networks": name is also rule 1\'s: each rule needs a name of its own',
        'rule 3 "wide networks": auto = true carries entries out without approval, so approvals cannot be given with '
        "it; remove one or the other",
    ]


# the setting --------------------------------------------------------------------------------------------------


def test_unblock_rules_reads_the_file_into_the_settings(tmp_path: Path) -> None:
    path = write(tmp_path, EXAMPLE)

    settings = load_settings({**BASE_ENV, "UNBLOCK_RULES": str(path), "UNBLOCK_ALLOW_DURATIONS": "1h,2d"})

    assert [rule.name for rule in settings.rules.rules] == [
        "Branch offices", "Wide networks", "Caller numbers", "Everything else",
    ]  # fmt: skip
    assert settings.rules_file == str(path)
    assert settings.rules.default == Rule(approvers=SETTINGS_APPROVERS, allow=(3600.0, 172800.0), remind_after=600.0)
    assert settings.rules.rules[0].allow == (3600.0, 172800.0)  # left out: UNBLOCK_ALLOW_DURATIONS

    # without UNBLOCK_RULES, the settings decide
    settings = load_settings({**BASE_ENV, "UNBLOCK_ALLOW_DURATIONS": "off"})
    assert settings.rules == Rules((), Rule(approvers=SETTINGS_APPROVERS, allow=(), remind_after=600.0))
    assert settings.rules_file is None


def test_a_rules_reminders_and_escalation_and_the_settings_they_default_to(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[[rule]]\nname = "Wide"\nwider_than = 24\nremind_after = "5m"\nescalate_after = 3600\n'
        'escalate_to = ["U0LEAD", "S0ONCALL"]\n\n[[rule]]\nname = "Quiet"\nkind = "number"\nremind_after = 0\n\n'
        '[[rule]]\nname = "Rest"\n',
    )
    env = {**BASE_ENV, "UNBLOCK_RULES": str(path), "UNBLOCK_REQUEST_TTL": "1d", "UNBLOCK_REMIND_AFTER": "20m",
           "UNBLOCK_ESCALATE_AFTER": "2h", "UNBLOCK_ESCALATE_TO": "U0BOSS"}  # fmt: skip

    wide, quiet, rest = load_settings(env).rules.rules

    lead = Approvers(users=frozenset({"U0LEAD"}), groups=frozenset({"S0ONCALL"}))
    boss = Approvers(users=frozenset({"U0BOSS"}))
    assert (wide.remind_after, wide.escalate_after, wide.escalate_to) == (300.0, 3600.0, lead)
    assert (quiet.remind_after, quiet.escalate_after, quiet.escalate_to) == (0.0, 7200.0, boss)
    assert (rest.remind_after, rest.escalate_after, rest.escalate_to) == (1200.0, 7200.0, boss)


def late(what: str, ttl: str) -> str:
    return (f"{what} is not shorter than UNBLOCK_REQUEST_TTL ({ttl}), so it would never happen: requests expire "
            "first. Make it shorter, or the time to live longer.")  # fmt: skip


def test_a_rules_reminder_or_escalation_no_shorter_than_a_requests_life_is_a_problem(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[[rule]]\nname = "Wide"\nwider_than = 24\nremind_after = "1d"\n\n[[rule]]\nname = "Late"\nkind = "ip"\n'
        'escalate_after = 3600\nescalate_to = ["U0LEAD"]\n\n[[rule]]\nname = "Rest"\nremind_after = "59m"\n',
    )

    with pytest.raises(ConfigError) as raised:
        load_settings({**BASE_ENV, "UNBLOCK_RULES": str(path), "UNBLOCK_REQUEST_TTL": "1h"})

    where = f"UNBLOCK_RULES={str(path)!r}"
    assert raised.value.problems == [
        f'{where}: rule 1 "Wide": {late("remind_after (1d)", "1h")}',
        f'{where}: rule 2 "Late": {late("escalate_after (1h)", "1h")}',
    ]


def test_a_reminder_a_rule_takes_from_the_settings_is_the_settings_problem_alone(tmp_path: Path) -> None:
    path = write(tmp_path, EXAMPLE)
    # the default reminder (10 minutes) comes before the default time to live (15 minutes) ends, for every rule
    rules = load_settings({**BASE_ENV, "UNBLOCK_RULES": str(path)}).rules
    assert {rule.remind_after for rule in rules.every} == {600.0}

    with pytest.raises(ConfigError) as raised:
        load_settings({**BASE_ENV, "UNBLOCK_RULES": str(path), "UNBLOCK_REMIND_AFTER": "20m"})

    assert raised.value.problems == [late("UNBLOCK_REMIND_AFTER='20m'", "15m")]


def test_the_rules_files_problems_join_the_settings_problems(tmp_path: Path) -> None:
    path = write(tmp_path, '[[rule]]\nname = "Wide"\nwider_than = 40\n\n[[rule]]\nname = "Wide"\nkind = "ip"\n')

    with pytest.raises(ConfigError) as raised:
        load_settings({**BASE_ENV, "UNBLOCK_RULES": str(path), "PORT": "http"})

    assert sorted(raised.value.problems) == sorted([
        "PORT='http' should be a port number from 1 to 65535.",
        f"UNBLOCK_RULES={str(path)!r}: rule 1 \"Wide\": wider_than must be a prefix length, a whole number from 0 to "
        "32 (got 40).",
        f"UNBLOCK_RULES={str(path)!r}: rule 2 \"Wide\": name is also rule 1's: each rule needs a name of its own.",
    ])  # fmt: skip
