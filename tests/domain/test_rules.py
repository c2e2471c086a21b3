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


@pytest.mark.parametrize(
    ("address", "inside"),
    [
        ("198.51.100.7", True),
        ("198.51.100.0/25", True),
        ("198.51.100.0/24", True),
        ("198.51.100.0/255.255.255.128", True),  # 3CX also writes a mask
        (" 198.51.100.9 ", True),
        ("198.51.0.0/16", False),  # holds the network, does not lie inside it
        ("198.51.101.7", False),
        ("2001:db8:100:5::1", True),
        ("2001:db8:100:5::/64", True),
        ("2001:db8::/32", False),
        ("2001:db8:200::1", False),
        ("::ffff:198.51.100.7", False),  # an IPv6 address is not inside an IPv4 network
        ("not an address", False),
        (None, False),
    ],
)
def test_networks_hold_an_entry_whose_address_or_network_lies_inside_one(address: str | None, inside: bool) -> None:
    rule = Rule("Branch offices", networks=(ip_network("198.51.100.0/24"), ip_network("2001:db8:100::/48")))

    assert rule.matches(ip(address)) is inside


def test_networks_never_hold_a_caller_number() -> None:
    rule = Rule("Everywhere", networks=(ip_network("0.0.0.0/0"), ip_network("::/0")))

    assert rule.matches(ip("203.0.113.7"))
    assert not rule.matches(number())


@pytest.mark.parametrize(
    ("address", "wider"),
    [
        ("10.0.0.0/16", True),
        ("10.0.0.0/23", True),
        ("10.0.0.0/24", False),  # a /24 is not wider than /24
        ("10.0.0.0/28", False),
        ("10.0.0.7", False),
        ("2001:db8::/48", True),
        ("2001:db8::/63", True),
        ("2001:db8::/64", False),
        ("2001:db8::1", False),
        (None, False),
    ],
)
def test_wider_than_24_holds_ipv4_networks_wider_and_ipv6_wider_than_64(address: str | None, wider: bool) -> None:
    assert Rule("Wide networks", wider_than=24).matches(ip(address)) is wider


@pytest.mark.parametrize(
    ("address", "wider"),
    [("2001:db8::/47", True), ("2001:db8::/48", False), ("10.0.0.0/23", True), ("10.0.0.0/24", False)],
)
def test_wider_than_v6_alone_keeps_24_for_ipv4(address: str, wider: bool) -> None:
    assert Rule("Wide IPv6", wider_than_v6=48).matches(ip(address)) is wider


def test_both_widths_apply_each_to_its_family() -> None:
    rule = Rule("Very wide", wider_than=16, wider_than_v6=32)

    assert rule.matches(ip("10.0.0.0/8")) and not rule.matches(ip("10.1.0.0/16"))
    assert rule.matches(ip("2001::/16")) and not rule.matches(ip("2001:db8::/32"))


def test_a_single_address_is_never_wider_nor_a_caller_number() -> None:
    everything_wider = Rule("Anything but a host", wider_than=32, wider_than_v6=128)

    assert everything_wider.matches(ip("10.0.0.0/31")) and everything_wider.matches(ip("2001:db8::/127"))
    assert not everything_wider.matches(ip("10.0.0.7"))
    assert not everything_wider.matches(ip("10.0.0.7/32"))
    assert not everything_wider.matches(ip("2001:db8::1"))
    assert not everything_wider.matches(number())


def test_kind_tells_the_ip_blocklist_from_the_caller_number_blacklist() -> None:
    addresses, numbers = Rule("Addresses", kind=Kind.ADDRESS), Rule("Caller numbers", kind=Kind.NUMBER)

    assert addresses.matches(ip("203.0.113.7")) and not addresses.matches(number())
    assert numbers.matches(number()) and not numbers.matches(ip("203.0.113.7"))


@pytest.mark.parametrize(
    ("added_by", "same"),
    [("AutoBlacklist", True), ("autoblacklist", True), ("AUTOBLACKLIST ", True), ("Admin", False), (None, False)],
)
def test_added_by_equals_the_entrys_ignoring_case(added_by: str | None, same: bool) -> None:
    assert Rule("Automatic", added_by="AutoBlacklist").matches(ip("203.0.113.7", added_by)) is same


def test_a_caller_number_has_no_added_by() -> None:
    assert not Rule("Automatic", added_by="AutoBlacklist").matches(number())


def test_every_condition_must_hold() -> None:
    rule = Rule("Automatic wide blocks at the branches", networks=(ip_network("10.0.0.0/8"),), wider_than=24,
                kind=Kind.ADDRESS, added_by="AutoBlacklist")  # fmt: skip

    assert rule.matches(ip("10.1.0.0/16"))
    assert not rule.matches(ip("10.1.0.0/24"))  # not wider
    assert not rule.matches(ip("172.16.0.0/16"))  # not inside
    assert not rule.matches(ip("10.1.0.0/16", added_by="Admin"))  # added by someone else


def test_a_rule_without_conditions_matches_every_entry() -> None:
    rule = Rule("Everything else")

    assert all(rule.matches(entry) for entry in (ip("203.0.113.7"), ip(None), ip("10.0.0.0/8"), number()))


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
        (ip("198.51.100.7"), BRANCHES),
        (ip("198.51.100.0/24"), BRANCHES),
        (ip("198.51.0.0/16"), WIDE),  # not inside the branches' network: the next rule that matches
        (ip("10.0.0.0/8"), WIDE),
        (number(), NUMBERS),
        (ip("203.0.113.7"), REST),
    ],
)
def test_the_first_rule_that_matches_decides(entry: Target, rule: Rule) -> None:
    assert RULES.rule_for(entry) is rule


def test_an_entry_that_lies_in_two_rules_follows_the_one_written_first() -> None:
    office = Rule("Office", networks=(ip_network("10.0.0.0/24"),), auto=True)
    wide = Rule("Whole company", networks=(ip_network("10.0.0.0/8"),), approvals=2)

    assert Rules((office, wide), DEFAULT).rule_for(ip("10.0.0.9")) is office
    assert Rules((wide, office), DEFAULT).rule_for(ip("10.0.0.9")) is wide


def test_when_no_rule_matches_the_settings_decide() -> None:
    rules = Rules((BRANCHES, WIDE), DEFAULT)

    assert rules.rule_for(ip("203.0.113.7")) is DEFAULT
    assert rules.rule_for(number()) is DEFAULT


def test_without_a_rules_file_the_settings_decide_for_every_entry() -> None:
    rules = Rules((), Rule(approvers=SETTINGS, allow=(HOUR, DAY)))

    assert rules.rules == ()
    for entry in (ip("203.0.113.7"), ip("10.0.0.0/8"), number()):
        decided = rules.rule_for(entry)
        assert decided.name is None and decided.approvers == SETTINGS and decided.approvals == 1
        assert decided.allow == (HOUR, DAY) and not decided.auto and not decided.auto_on_watch


# the strictest of several ------------------------------------------------------------------------------------


def test_several_entries_follow_the_rule_that_needs_more_approvals() -> None:
    entries = [ip("198.51.100.7"), ip("10.0.0.0/8", entry_id=43), ip("203.0.113.7", entry_id=44)]

    assert RULES.rule_for_all(entries) is WIDE
    assert RULES.rule_for_all(list(reversed(entries))) is WIDE


def test_then_a_rule_that_needs_approval_is_stricter_than_one_carried_out_without() -> None:
    assert RULES.rule_for_all([ip("198.51.100.7"), ip("203.0.113.7", entry_id=43)]) is REST


def test_then_the_shorter_longest_allow_then_fewer_durations_and_none_is_strictest() -> None:
    week = Rule("Week", networks=(ip_network("10.1.0.0/16"),), allow=(HOUR, 7 * DAY))
    day = Rule("Day", networks=(ip_network("10.2.0.0/16"),), allow=(HOUR, DAY))
    day_only = Rule("Day only", networks=(ip_network("10.3.0.0/16"),), allow=(DAY,))
    never = Rule("Never", networks=(ip_network("10.4.0.0/16"),), allow=())
    rules = Rules((week, day, day_only, never), DEFAULT)
    a, b, c, d = (ip(f"10.{n}.0.1", entry_id=n) for n in (1, 2, 3, 4))

    assert rules.rule_for_all([a, b]) is day
    assert rules.rule_for_all([b, c]) is day_only
    assert rules.rule_for_all([a, b, c, d]) is never


def test_then_the_rule_written_first() -> None:
    first = Rule("First", networks=(ip_network("10.1.0.0/16"),), allow=(HOUR,))
    second = Rule("Second", networks=(ip_network("10.2.0.0/16"),), allow=(HOUR,))
    a, b = ip("10.1.0.1", entry_id=1), ip("10.2.0.1", entry_id=2)

    assert Rules((first, second), DEFAULT).rule_for_all([b, a]) is first
    assert Rules((second, first), DEFAULT).rule_for_all([a, b]) is second


def test_the_settings_default_counts_as_the_last_rule() -> None:
    same_as_default = Rule("Same", networks=(ip_network("10.1.0.0/16"),), approvers=SETTINGS, allow=DEFAULT.allow)
    rules = Rules((same_as_default,), DEFAULT)

    assert rules.rule_for_all([ip("203.0.113.7"), ip("10.1.0.1", entry_id=2)]) is same_as_default


def test_one_entry_follows_its_own_rule_and_none_the_settings() -> None:
    assert RULES.rule_for_all([number()]) is NUMBERS
    assert RULES.rule_for_all([]) is DEFAULT
