"""What text means: ``/unblock …`` never takes a phone number for an IP blocklist entry id, and what a message names
that could be unblocked (for the message shortcut) is what ``/unblock`` takes, and nothing that only looks like it."""

from __future__ import annotations

import pytest

from bot.slack.command_text import InvalidCommand, UnblockAddress, UnblockEntry, UnblockNumber, parse_command
from bot.slack.text_search import MAX_FOUND, unblockable


@pytest.mark.parametrize(
    ("text", "number", "reason"),
    [
        ("0044 20 7946 0958", "+442079460958", None),  # 00 is the international call prefix: a +
        ("0044 20 7946 0958 calls from London", "+442079460958", "calls from London"),
        ("00442079460958", "+442079460958", None),
        ("020 7946 0958", "02079460958", None),  # an id never starts with 0
        ("555-0100", "5550100", None),
        ("555.0100 robocaller", "5550100", "robocaller"),
        ("555.555.0100", "5555550100", None),  # a group too long for an address
        ("(555) 0100", "5550100", None),
        ("+1 555 0100", "+15550100", None),
        ("number 0044 20 7946 0958", "+442079460958", None),
    ],
)
def test_text_that_looks_like_a_phone_number_is_a_caller_number(text: str, number: str, reason: str | None) -> None:
    assert parse_command(text) == UnblockNumber(number, reason=reason)


@pytest.mark.parametrize(
    ("text", "entry_id", "reason"),
    [
        ("5550100", 5550100, None),  # a plain run of digits stays an entry id: 3CX's ids grow large
        ("2147483647", 2147483647, None),  # the highest
        ("42 VPN moved", 42, "VPN moved"),
        ("42 2 calls dropped", 42, "2 calls dropped"),
        ("42 100 failed logins", 42, "100 failed logins"),
        ("42 10 minutes ago", 42, "10 minutes ago"),
    ],
)
def test_a_plain_run_of_digits_stays_an_entry_id(text: str, entry_id: int, reason: str | None) -> None:
    assert parse_command(text) == UnblockEntry(entry_id, reason=reason)


@pytest.mark.parametrize("text", ["555 0100", "555 555 0100", "555 0100 robocaller", "20 7946 0958", "42 10"])
def test_digit_groups_after_an_id_are_asked_about(text: str) -> None:
    with pytest.raises(InvalidCommand) as raised:
        parse_command(text)

    first = text.split()[0]
    assert raised.value.message == (
        f"`{text}` looks like a phone number: did you mean `/unblock number {text}`? "
        f"For IP blocklist entry {first}, start the reason with a word, e.g. `/unblock {first} customer's VPN moved`."
    )


@pytest.mark.parametrize("text", ["555 0100", "44 20 7946 0958", "42 10"])
def test_in_a_form_digit_groups_after_an_id_are_the_rest_of_a_number(text: str) -> None:
    """A form has a field of its own for the reason (the form's path: tests/test_shortcuts.py)."""
    assert parse_command(text, reason_apart=True) == UnblockNumber(text.replace(" ", ""))


@pytest.mark.parametrize("text", ["99999999999", "2147483648"])
def test_an_id_out_of_range_says_how_to_look_up_a_caller_number(text: str) -> None:
    with pytest.raises(InvalidCommand) as raised:
        parse_command(text)

    assert raised.value.message == (
        f"`{text}` is out of range: blocklist entry ids go from 1 to 2147483647. "
        f"For a caller number, use `/unblock number {text}`."
    )


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("0", "`0` is out of range: blocklist entry ids go from 1 to 2147483647."),  # no number hint: too short
        ("4.2", "`4.2` is not a blocklist entry id."),
        ("1.000", "`1.000` is not a blocklist entry id."),
        ("010.0.0.1", "`010.0.0.1` is not an IP address."),  # dotted as an address is
        ("00", "`00` is not a phone number."),
    ],
)
def test_what_is_neither_keeps_its_own_explanation(text: str, says: str) -> None:
    with pytest.raises(InvalidCommand) as raised:
        parse_command(text)

    assert raised.value.message.startswith(says)
    assert "For a caller number" not in raised.value.message


# what a message names -----------------------------------------------------------------------------------------


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
    text = " ".join(f"10.0.0.{n}" for n in range(4 * MAX_FOUND))
    found = unblockable(text)
    assert len(found) == MAX_FOUND and found[0] == "10.0.0.0"
