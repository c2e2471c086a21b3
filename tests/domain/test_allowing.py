"""Approve and allow (``bot.domain.allowing.Allowing``): an allow entry that names its duration, its approver
and its request, none when an allow entry already lets the address in, found again by its marker, removed
even when it is gone already."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from bot.domain.actions import Action, Does
from bot.domain.allowing import Allowed, Allowing, duration_words, marker
from bot.domain.entries import ALLOW, BlocklistEntry
from bot.domain.lookup import MAX_MATCHES, Finder, candidate_masks
from bot.domain.model import Asked, Decision, Done, State, UnblockRequest, What

from .fakes import FakeBlacklist, FakeBlocklist, expires_at

NOW = 1_800_000_000.0
REQUEST_ID = "0123456789abcdef"
APPROVER = "UBOB"


def entry(entry_id: int, mask: str, block_type: str = ALLOW, *, ends: float | None = None,
          expires: str | None = None, description: str | None = None) -> BlocklistEntry:  # fmt: skip
    when = expires_at(ends) if ends is not None else expires
    return BlocklistEntry(entry_id, mask, description, block_type, "Admin", when, None)


def request(*, resolved_by: str | None = APPROVER, request_id: str = REQUEST_ID) -> UnblockRequest:
    blocked = BlocklistEntry(42, "203.0.113.7", "Failed SIP registrations", "Block", "AutoBlacklist", None, None)
    return UnblockRequest(
        id=request_id,
        asked=Asked("UALICE", "C0GENERAL", NOW - 60),
        what=What((blocked,)),
        decision=Decision(NOW + 3600, by=resolved_by, at=NOW - 1),
        state=State.EXECUTING,
        done=Done(Action(Does.UNBLOCK_AND_ALLOW, 3600)),
    )


def added(blocklist: FakeBlocklist) -> list[dict[str, Any]]:
    """What allowing asked 3CX to add: each allow entry it made, as the fields 3CX is sent."""
    return [
        {"IPAddrMask": e.address, "BlockType": e.block_type, "ExpiresAt": e.expires_at, "Description": e.description}
        for e in blocklist.entries.values()
        if e.added_by == "API"
    ]


def allowing(blocklist: FakeBlocklist, now: float = NOW) -> Allowing:
    return Allowing(blocklist, Finder(blocklist, FakeBlacklist()), lambda: now)


# -- adding ------------------------------------------------------------------------------------------


async def test_an_allow_entry_names_its_duration_its_approver_or_unknown_and_its_request_and_ends_when_allowed() -> (
    None
):
    blocklist = FakeBlocklist([entry(7, "203.0.113.7", "Block")])
    allowed = await allowing(blocklist).allow(request(), "203.0.113.7", 3600)

    assert added(blocklist) == [
        {
            "IPAddrMask": "203.0.113.7",
            "BlockType": ALLOW,
            "ExpiresAt": expires_at(NOW + 3600),
            "Description": "Allowed for 1 hour by unblock-bot: approved by UBOB, request 0123456789abcdef",
        }
    ]
    assert allowed == Allowed(1000, NOW + 3600, False, "allow entry 1000 added (HTTP 201)")
    created = blocklist.entries[1000]
    assert not created.blocks
    assert created.ends_at == NOW + 3600
    # the address was looked up as any address is, before
    assert blocklist.called("with_masks") == [(candidate_masks(ipaddress.ip_network("203.0.113.7")), MAX_MATCHES + 1)]

    await allowing(blocklist).allow(request(resolved_by=None), "198.51.100.0/24", 2 * 86400)
    assert added(blocklist)[-1] == {
        "IPAddrMask": "198.51.100.0/24",
        "BlockType": ALLOW,
        "ExpiresAt": expires_at(NOW + 2 * 86400),
        "Description": "Allowed for 2 days by unblock-bot: approved by unknown, request 0123456789abcdef",
    }


@pytest.mark.parametrize(
    "existing",
    [
        entry(5, "203.0.113.7", ends=NOW + 600),
        entry(5, "203.0.113.0/24", ends=NOW + 1),
        entry(5, "203.0.113.0/255.255.255.0", ends=NOW + 600),
        entry(5, "0.0.0.0/0", expires=None),
        entry(5, "203.0.0.0/16", expires="0001-01-01T00:00:00Z"),
    ],
    ids=["the-address", "its-network", "its-network-by-mask", "everything-without-end", "year-one"],
)
async def test_no_second_allow_entry_when_an_unexpired_one_covers_the_address(existing: BlocklistEntry) -> None:
    blocklist = FakeBlocklist([existing])
    allowed = await allowing(blocklist).allow(request(), "203.0.113.7", 3600)

    assert allowed == Allowed(5, existing.ends_at, True, "already allowed by entry 5")
    assert added(blocklist) == []
    assert list(blocklist.entries) == [5]


@pytest.mark.parametrize(
    "other",
    [
        entry(5, "203.0.113.0/24", ends=NOW - 1),
        entry(5, "203.0.113.0/24", ends=NOW),
        entry(5, "203.0.113.8", ends=NOW + 600),
        entry(5, "203.0.113.128/25", ends=NOW + 600),
        entry(5, "203.0.113.7/32", "Block"),
    ],
    ids=["expired", "expiring-now", "another-address", "a-network-beside-it", "a-block"],
)
async def test_an_allow_entry_that_does_not_let_the_address_in_now_does_not_count(other: BlocklistEntry) -> None:
    blocklist = FakeBlocklist([other])
    allowed = await allowing(blocklist).allow(request(), "203.0.113.7", 1800)

    assert allowed == Allowed(1000, NOW + 1800, False, "allow entry 1000 added (HTTP 201)")
    assert [b["IPAddrMask"] for b in added(blocklist)] == ["203.0.113.7"]
    assert added(blocklist)[0]["Description"].startswith("Allowed for 30 minutes by unblock-bot")


async def test_a_network_is_covered_only_by_an_allow_entry_holding_all_of_it() -> None:
    blocklist = FakeBlocklist([entry(5, "203.0.113.7", ends=NOW + 600), entry(6, "203.0.113.0/25", ends=NOW + 600)])
    allowed = await allowing(blocklist).allow(request(), "203.0.113.0/24", 3600)
    assert not allowed.existed
    assert [b["IPAddrMask"] for b in added(blocklist)] == ["203.0.113.0/24"]

    blocklist = FakeBlocklist([entry(8, "203.0.112.0/23", ends=NOW + 600)])
    assert (await allowing(blocklist).allow(request(), "203.0.113.0/24", 3600)).existed


async def test_the_allow_entry_that_holds_longest_is_reported() -> None:
    covering = [
        entry(1, "203.0.113.0/24", ends=NOW + 100),
        entry(2, "203.0.113.7", ends=NOW + 5000),
        entry(3, "203.0.0.0/16", ends=NOW + 1000),
        entry(4, "203.0.113.7", ends=NOW - 10),
    ]
    blocklist = FakeBlocklist(list(covering))
    allowed = await allowing(blocklist).allow(request(), "203.0.113.7", 3600)
    assert allowed == Allowed(2, NOW + 5000, True, "already allowed by entry 2")

    blocklist = FakeBlocklist([*covering, entry(9, "0.0.0.0/0", expires=None)])
    assert (await allowing(blocklist).covering("203.0.113.7")) == entry(9, "0.0.0.0/0", expires=None)
    assert added(blocklist) == []


async def test_expiry_is_judged_by_the_clock() -> None:
    blocklist = FakeBlocklist([entry(5, "203.0.113.0/24", ends=NOW + 600)])
    assert (await allowing(blocklist, now=NOW + 599).covering("203.0.113.7")) is not None
    assert (await allowing(blocklist, now=NOW + 600).covering("203.0.113.7")) is None


async def test_text_that_is_no_address_is_covered_by_nothing_and_not_looked_up() -> None:
    blocklist = FakeBlocklist([entry(5, "0.0.0.0/0")])
    assert await allowing(blocklist).covering("entry 42") is None
    assert blocklist.called("with_masks") == []


# -- finding it again, removing it -----------------------------------------------------------------


async def test_find_added_finds_this_requests_allow_entry_by_its_marker() -> None:
    mine = f"Allowed for 1 hour by unblock-bot: approved by UBOB, {marker(request())}"
    theirs = "Allowed for 1 hour by unblock-bot: approved by UBOB, request fedcba9876543210"
    blocklist = FakeBlocklist(
        [
            entry(3, "203.0.113.7", "Block", description=mine),
            entry(4, "203.0.113.7", ends=NOW + 60, description=theirs),
            entry(5, "203.0.113.7", ends=NOW + 3600, description=mine),
        ]
    )
    found = await allowing(blocklist).find_added(request(), "203.0.113.7")

    assert found == Allowed(5, NOW + 3600, False, "3CX lists allow entry 5")
    assert blocklist.called("marked") == ["203.0.113.7"] and marker(request()) == "request 0123456789abcdef"
    assert added(blocklist) == []


async def test_an_allow_entry_added_is_found_again_by_its_request_only() -> None:
    blocklist = FakeBlocklist([entry(4, "203.0.113.7", ends=NOW - 1, description="request 1111222233334444")])
    assert await allowing(blocklist).find_added(request(), "203.0.113.7") is None
    added = await allowing(blocklist).allow(request(), "203.0.113.7", 3600)
    found = await allowing(blocklist).find_added(request(), "203.0.113.7")
    assert found is not None
    assert (found.entry_id, found.until, found.existed) == (added.entry_id, added.until, False)
    assert await allowing(blocklist).find_added(request(request_id="fedcba9876543210"), "203.0.113.7") is None


# -- words and results -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (60, "1 minute"),
        (120, "2 minutes"),
        (5400, "90 minutes"),
        (3600, "1 hour"),
        (7200, "2 hours"),
        (90000, "25 hours"),
        (86400, "1 day"),
        (7 * 86400, "7 days"),
        (45, "45 seconds"),
        (90, "90 seconds"),
        (3660, "61 minutes"),
        (1, "1 second"),
        (2.5, "2.5 seconds"),
        (0.2, "0.2 seconds"),
        (100_001, "100001 seconds"),
    ],
)
def test_duration_words(seconds: float, words: str) -> None:
    assert duration_words(seconds) == words
