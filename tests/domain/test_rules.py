"""Who may unblock what (``bot.domain.rules``): each condition of a rule, IPv4 and IPv6, the first rule that
matches decides, the settings decide when none does, and a request for several entries follows the strictest
of their rules."""

from __future__ import annotations

from ipaddress import ip_network

import pytest

from bot.domain.entries import BlockedNumber, BlocklistEntry, Kind, Target
from bot.domain.rules import Approvers, Rule, Rules

SETTINGS = Approvers(users=frozenset({"UBOB"}))
SECURITY = Approvers(users=frozenset({"U0SEC1", "U0SEC2"}), groups=frozenset({"S0SECURITY"}))
HOUR, DAY = 3600.0, 86400.0


def ip(address: str | None, added_by: str | None = "AutoBlacklist", entry_id: int = 42) -> BlocklistEntry:
    return BlocklistEntry(entry_id, address, "Failed SIP registrations", "Block", added_by, None, None)


def number(caller_id: str = "+15550100") -> BlockedNumber:
    return BlockedNumber("7", caller_id, None)


# each condition -----------------------------------------------------------------------------------------

BRANCH_NETWORKS = Rule("Branch offices", networks=(ip_network("198.51.100.0/24"), ip_network("2001:db8:100::/48")))
EVERYWHERE = Rule("Everywhere", networks=(ip_network("0.0.0.0/0"), ip_network("::/0")))
WIDER = Rule("Wide networks", wider_than=24)
WIDE_V6 = Rule("Wide IPv6", wider_than_v6=48)
VERY_WIDE = Rule("Very wide", wider_than=16, wider_than_v6=32)
NOT_A_HOST = Rule("Anything but a host", wider_than=32, wider_than_v6=128)
AUTOMATIC = Rule("Automatic", added_by="AutoBlacklist")
ALL_OF_THEM = Rule("Automatic wide blocks at the branches", networks=(ip_network("10.0.0.0/8"),), wider_than=24,
                   kind=Kind.ADDRESS, added_by="AutoBlacklist")  # fmt: skip

MATCHES = [
    (BRANCH_NETWORKS, ip("198.51.100.7"), True),
    (BRANCH_NETWORKS, ip("198.51.100.0/25"), True),
    (BRANCH_NETWORKS, ip("198.51.100.0/24"), True),
    (BRANCH_NETWORKS, ip("198.51.100.0/255.255.255.128"), True),  # 3CX also writes a mask
    (BRANCH_NETWORKS, ip(" 198.51.100.9 "), True),
    (BRANCH_NETWORKS, ip("198.51.0.0/16"), False),  # holds the network, does not lie inside it
    (BRANCH_NETWORKS, ip("198.51.101.7"), False),
    (BRANCH_NETWORKS, ip("2001:db8:100:5::1"), True),
    (BRANCH_NETWORKS, ip("2001:db8:100:5::/64"), True),
    (BRANCH_NETWORKS, ip("2001:db8::/32"), False),
    (BRANCH_NETWORKS, ip("2001:db8:200::1"), False),
    (BRANCH_NETWORKS, ip("::ffff:198.51.100.7"), False),  # an IPv6 address is not inside an IPv4 network
    (BRANCH_NETWORKS, ip("not an address"), False),
    (BRANCH_NETWORKS, ip(None), False),
    (EVERYWHERE, ip("203.0.113.7"), True),
    (EVERYWHERE, number(), False),  # networks never hold a caller number
    (WIDER, ip("10.0.0.0/16"), True),
    (WIDER, ip("10.0.0.0/23"), True),
    (WIDER, ip("10.0.0.0/24"), False),  # a /24 is not wider than /24
    (WIDER, ip("10.0.0.7"), False),
    (WIDER, ip("2001:db8::/63"), True),  # and IPv6 wider than /64
    (WIDER, ip("2001:db8::/64"), False),
    (WIDER, ip(None), False),
    (WIDE_V6, ip("2001:db8::/47"), True),
    (WIDE_V6, ip("2001:db8::/48"), False),
    (WIDE_V6, ip("10.0.0.0/23"), True),  # keeps /24 for IPv4
    (WIDE_V6, ip("10.0.0.0/24"), False),
    (VERY_WIDE, ip("10.0.0.0/8"), True),  # each width to its family
    (VERY_WIDE, ip("10.1.0.0/16"), False),
    (VERY_WIDE, ip("2001::/16"), True),
    (VERY_WIDE, ip("2001:db8::/32"), False),
    (NOT_A_HOST, ip("10.0.0.0/31"), True),
    (NOT_A_HOST, ip("2001:db8::/127"), True),
    (NOT_A_HOST, ip("10.0.0.7"), False),  # a single address is never wider
    (NOT_A_HOST, ip("10.0.0.7/32"), False),
    (NOT_A_HOST, ip("2001:db8::1"), False),
    (NOT_A_HOST, number(), False),
    (Rule("Addresses", kind=Kind.ADDRESS), ip("203.0.113.7"), True),
    (Rule("Addresses", kind=Kind.ADDRESS), number(), False),
    (Rule("Caller numbers", kind=Kind.NUMBER), number(), True),
    (Rule("Caller numbers", kind=Kind.NUMBER), ip("203.0.113.7"), False),
    (AUTOMATIC, ip("203.0.113.7", "autoblacklist"), True),  # ignoring case
    (AUTOMATIC, ip("203.0.113.7", "AUTOBLACKLIST "), True),
    (AUTOMATIC, ip("203.0.113.7", "Admin"), False),
    (AUTOMATIC, ip("203.0.113.7", None), False),
    (AUTOMATIC, number(), False),  # a caller number has no added_by
    (ALL_OF_THEM, ip("10.1.0.0/16"), True),
    (ALL_OF_THEM, ip("10.1.0.0/24"), False),  # not wider
    (ALL_OF_THEM, ip("172.16.0.0/16"), False),  # not inside
    (ALL_OF_THEM, ip("10.1.0.0/16", added_by="Admin"), False),  # added by someone else
    (Rule("Everything else"), ip(None), True),  # a rule without conditions matches every entry
    (Rule("Everything else"), number(), True),
]


@pytest.mark.parametrize(("rule", "entry", "matches"), MATCHES)
def test_a_rule_matches_an_entry_when_every_condition_holds(rule: Rule, entry: Target, matches: bool) -> None:
    assert rule.matches(entry) is matches


# which rule decides ---------------------------------------------------------------------------------------

BRANCHES = Rule("Branch offices", networks=(ip_network("198.51.100.0/24"),), auto=True, approvers=SETTINGS,
                allow=(HOUR,))  # fmt: skip
WIDE = Rule("Wide networks", wider_than=24, approvers=SECURITY, approvals=2)
NUMBERS = Rule("Caller numbers", kind=Kind.NUMBER, approvers=Approvers(users=frozenset({"U0VOICE1"})), allow=(HOUR,))
REST = Rule("Everything else", approvers=SETTINGS, allow=(HOUR, DAY))
DEFAULT = Rule(approvers=SETTINGS, allow=(HOUR, DAY, 7 * DAY))
RULES = Rules((BRANCHES, WIDE, NUMBERS, REST), DEFAULT)


@pytest.mark.parametrize(
    ("entry", "rule"),
    [
        (ip("198.51.100.7"), BRANCHES),  # "Everything else" matches it too: the rule written first decides
        (ip("198.51.100.0/24"), BRANCHES),
        (ip("198.51.0.0/16"), WIDE),  # not inside the branches' network: the next rule that matches
        (ip("10.0.0.0/8"), WIDE),
        (number(), NUMBERS),
        (ip("203.0.113.7"), REST),
    ],
)
def test_the_first_rule_that_matches_decides(entry: Target, rule: Rule) -> None:
    assert RULES.rule_for(entry) is rule


@pytest.mark.parametrize("entry", [ip("203.0.113.7"), number()])
def test_the_settings_decide_when_no_rule_matches(entry: Target) -> None:
    assert Rules((BRANCHES, WIDE), DEFAULT).rule_for(entry) is DEFAULT
    assert Rules((), DEFAULT).rule_for(entry) is DEFAULT


# the strictest of several ------------------------------------------------------------------------------------

WEEK = Rule("Week", networks=(ip_network("10.1.0.0/16"),), allow=(HOUR, 7 * DAY))
A_DAY = Rule("Day", networks=(ip_network("10.2.0.0/16"),), allow=(HOUR, DAY))
DAY_ONLY = Rule("Day only", networks=(ip_network("10.3.0.0/16"),), allow=(DAY,))
NEVER = Rule("Never", networks=(ip_network("10.4.0.0/16"),), allow=())
SAME_AS_DEFAULT = Rule("Same", networks=(ip_network("10.5.0.0/16"),), approvers=SETTINGS, allow=DEFAULT.allow)
HOUR_FIRST = Rule("First", networks=(ip_network("10.6.0.0/16"),), allow=(HOUR,))
HOUR_SECOND = Rule("Second", networks=(ip_network("10.7.0.0/16"),), allow=(HOUR,))
DURATIONS = Rules((WEEK, A_DAY, DAY_ONLY, NEVER, SAME_AS_DEFAULT, HOUR_FIRST, HOUR_SECOND), DEFAULT)


def in_network(n: int) -> BlocklistEntry:
    return ip(f"10.{n}.0.1", entry_id=n)


@pytest.mark.parametrize(
    ("rules", "entries", "strictest"),
    [
        # more approvals first, in whatever order the entries come
        (RULES, [ip("198.51.100.7"), ip("10.0.0.0/8", entry_id=43), ip("203.0.113.7", entry_id=44)], WIDE),
        (RULES, [ip("203.0.113.7", entry_id=44), ip("10.0.0.0/8", entry_id=43), ip("198.51.100.7")], WIDE),
        # then one that needs approval before one carried out without
        (RULES, [ip("198.51.100.7"), ip("203.0.113.7", entry_id=43)], REST),
        # then the shorter longest allow, then fewer durations, and none is strictest
        (DURATIONS, [in_network(1), in_network(2)], A_DAY),
        (DURATIONS, [in_network(2), in_network(3)], DAY_ONLY),
        (DURATIONS, [in_network(1), in_network(2), in_network(3), in_network(4)], NEVER),
        # then the rule written first; the settings' default counts as the last rule
        (DURATIONS, [in_network(7), in_network(6)], HOUR_FIRST),
        (DURATIONS, [ip("203.0.113.7"), in_network(5)], SAME_AS_DEFAULT),
        (RULES, [number()], NUMBERS),
        (RULES, [], DEFAULT),
    ],
)
def test_several_entries_follow_the_strictest_of_their_rules(
    rules: Rules, entries: list[Target], strictest: Rule
) -> None:
    assert rules.rule_for_all(entries) is strictest
