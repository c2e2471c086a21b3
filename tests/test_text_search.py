"""Finding what could be unblocked in a message's text: addresses, networks and caller numbers, as ``/unblock``
takes them, and nothing that only looks like one."""

from __future__ import annotations

import pytest

from bot.slack.command_text import UnblockAddress, UnblockNumber, parse_command
from bot.slack.text_search import MAX_FOUND, unblockable


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("IP 203.0.113.7 has been blacklisted", ["203.0.113.7"]),
        ("IP 203.0.113.7 has been blacklisted.", ["203.0.113.7"]),
        ("Blocked 2001:db8::7 (SIP flood)", ["2001:db8::7"]),
        ("Networks 198.51.100.0/24 and 2001:db8::/48 are blocked", ["198.51.100.0/24", "2001:db8::/48"]),
        ("a /32 is an address: 203.0.113.7/32", ["203.0.113.7"]),
        ("Caller +1 555 0100 was blacklisted", ["+15550100"]),
        ("Caller +1 (555) 010-0100.", ["+15550100100"]),
        ("Anonymous call from 0044 20 7946 0958", ["number 00442079460958"]),
        ("203.0.113.7, 203.0.113.7 and again 203.0.113.7", ["203.0.113.7"]),
        ("first 198.51.100.9 then +1 555 0100 then 203.0.113.7", ["198.51.100.9", "+15550100", "203.0.113.7"]),
    ],
)
def test_what_a_message_names(text: str, found: list[str]) -> None:
    assert unblockable(text) == found


@pytest.mark.parametrize(
    "text",
    [
        "The weekly backup finished at 03:00 without errors.",
        "Entry 42 expires on 2026-12-01 at 10:03:22",
        "Version 18.0.4.965, build 1.2.3.4.5",
        "Not an address: 203.0.113.300 nor 1:2",
        "Extension 101 and port 5060",
        "hostname sip203.0.113.7x",
        "",
    ],
)
def test_what_only_looks_like_an_address_or_a_number(text: str) -> None:
    assert unblockable(text) == []


def test_what_it_finds_is_what_unblock_takes() -> None:
    for found in unblockable("IP 203.0.113.7, net 2001:db8::/48, caller +1 555 0100, 0044 20 7946 0958"):
        assert isinstance(parse_command(found), UnblockAddress | UnblockNumber)


def test_a_long_message_gives_a_bounded_list() -> None:
    text = " ".join(f"10.0.{n // 250}.{n % 250}" for n in range(1000))
    found = unblockable(text)
    assert len(found) == MAX_FOUND and found[0] == "10.0.0.0"
