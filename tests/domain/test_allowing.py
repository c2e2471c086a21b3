"""Approve and allow (``bot.domain.allowing.Allowing``): an allow entry that names its duration, its approver
and its request, none when an allow entry already lets the address in, found again by its marker."""

from __future__ import annotations

import ipaddress

import pytest

from bot.domain.actions import Action, Does
from bot.domain.allowing import Allowing, allowed, duration_words, marker
from bot.domain.entries import ALLOW, BlocklistEntry
from bot.domain.lookup import MAX_MATCHES, Finder, candidate_masks
from bot.domain.model import Asked, Decision, Done, State, UnblockRequest, What

from .fakes import FakeBlacklist, FakeBlocklist, expires_at

NOW = 1_800_000_000.0
REQUEST_ID = "0123456789abcdef"


def entry(
    entry_id: int, mask: str, ends: float | str | None = None, block_type: str = ALLOW, description: str | None = None
) -> BlocklistEntry:
    """An entry of the IP list; ``ends``: when it ends (or its expiry as 3CX wrote it; None: without an end)."""
    when = expires_at(ends) if isinstance(ends, float) else ends
    return BlocklistEntry(entry_id, mask, description, block_type, "Admin", when, None)


def request(*, approver: str | None = "UBOB", request_id: str = REQUEST_ID) -> UnblockRequest:
    blocked = BlocklistEntry(42, "203.0.113.7", "Failed SIP registrations", "Block", "AutoBlacklist", None, None)
    return UnblockRequest(
        id=request_id,
        asked=Asked("UALICE", "C0GENERAL", NOW - 60),
        what=What((blocked,)),
        decision=Decision(NOW + 3600, by=approver, at=NOW - 1),
        state=State.EXECUTING,
        done=Done(Action(Does.UNBLOCK_AND_ALLOW, 3600)),
    )


def added(blocklist: FakeBlocklist) -> list[tuple[str | None, str | None, str | None]]:
    """The allow entries allowing asked 3CX to add: mask, expiry, description."""
    made = [e for e in blocklist.entries.values() if e.added_by == "API"]
    assert all(e.block_type == ALLOW for e in made)
    return [(e.address, e.expires_at, e.description) for e in made]


def allowing(blocklist: FakeBlocklist, now: float = NOW) -> Allowing:
    return Allowing(blocklist, Finder(blocklist, FakeBlacklist()), lambda: now)


async def test_an_allow_entry_names_its_duration_its_approver_or_unknown_and_its_request_and_ends_then() -> None:
    blocklist = FakeBlocklist([entry(7, "203.0.113.7", block_type="Block")])
    assert await allowing(blocklist).allow(request(), "203.0.113.7", 3600) == allowed(
        1000, NOW + 3600, "allow entry 1000 added (HTTP 201)"
    )
    await allowing(blocklist).allow(request(approver=None), "198.51.100.0/24", 2 * 86400)
    assert added(blocklist) == [
        (
            "203.0.113.7",
            expires_at(NOW + 3600),
            f"Allowed for 1 hour by unblock-bot: approved by UBOB, request {REQUEST_ID}",
        ),
        (
            "198.51.100.0/24",
            expires_at(NOW + 2 * 86400),
            f"Allowed for 2 days by unblock-bot: approved by unknown, request {REQUEST_ID}",
        ),
    ]
    assert blocklist.entries[1000].ends_at == NOW + 3600
    # the address was looked up as any address is, before; text that is no address is not looked up
    assert await allowing(blocklist).covering("entry 42") is None and len(blocklist.called("with_masks")) == 2
    assert blocklist.called("with_masks")[0] == (candidate_masks(ipaddress.ip_network("203.0.113.7")), MAX_MATCHES + 1)


LETS_IN = [
    ("the address", [entry(5, "203.0.113.7", NOW + 600)], "203.0.113.7", 5),
    ("its network", [entry(5, "203.0.113.0/24", NOW + 1)], "203.0.113.7", 5),
    ("its network by mask", [entry(5, "203.0.113.0/255.255.255.0", NOW + 600)], "203.0.113.7", 5),
    ("everything without end", [entry(5, "0.0.0.0/0")], "203.0.113.7", 5),
    ("year one", [entry(5, "203.0.0.0/16", "0001-01-01T00:00:00Z")], "203.0.113.7", 5),
    ("a wider network", [entry(8, "203.0.112.0/23", NOW + 600)], "203.0.113.0/24", 8),
    (
        "the longest",
        [
            entry(1, "203.0.113.0/24", NOW + 100),
            entry(2, "203.0.113.7", NOW + 5000),
            entry(3, "203.0.0.0/16", NOW + 1000),
            entry(4, "203.0.113.7", NOW - 10),
        ],
        "203.0.113.7",
        2,
    ),
    ("expired", [entry(5, "203.0.113.0/24", NOW - 1)], "203.0.113.7", None),
    ("expiring now", [entry(5, "203.0.113.0/24", NOW)], "203.0.113.7", None),
    ("another address", [entry(5, "203.0.113.8", NOW + 600)], "203.0.113.7", None),
    ("a network beside it", [entry(5, "203.0.113.128/25", NOW + 600)], "203.0.113.7", None),
    ("a block", [entry(5, "203.0.113.7/32", block_type="Block")], "203.0.113.7", None),
    (
        "part of the network",
        [entry(5, "203.0.113.7", NOW + 600), entry(6, "203.0.113.0/25", NOW + 600)],
        "203.0.113.0/24",
        None,
    ),
]


@pytest.mark.parametrize(("listed", "mask", "covered_by"), [case[1:] for case in LETS_IN], ids=[c[0] for c in LETS_IN])
async def test_no_second_allow_entry_when_an_unexpired_one_lets_all_of_it_in(
    listed: list[BlocklistEntry], mask: str, covered_by: int | None
) -> None:
    blocklist = FakeBlocklist(listed)
    result = await allowing(blocklist).allow(request(), mask, 1800)
    if covered_by is None:
        assert result == allowed(1000, NOW + 1800, "allow entry 1000 added (HTTP 201)")
        [(made, _, description)] = added(blocklist)
        assert made == mask and (description or "").startswith("Allowed for 30 minutes by unblock-bot")
    else:
        ends = blocklist.entries[covered_by].ends_at
        assert result == allowed(covered_by, ends, f"already allowed by entry {covered_by}", existed=True)
        assert added(blocklist) == []


async def test_the_allow_entry_a_request_added_is_found_again_by_its_marker_only() -> None:
    mine = f"Allowed for 1 hour by unblock-bot: approved by UBOB, {marker(request())}"
    theirs = "Allowed for 1 hour by unblock-bot: approved by UBOB, request fedcba9876543210"
    blocklist = FakeBlocklist(
        [
            entry(3, "203.0.113.7", block_type="Block", description=mine),
            entry(4, "203.0.113.7", NOW + 60, description=theirs),
            entry(5, "203.0.113.7", NOW + 3600, description=mine),
        ]
    )
    found = await allowing(blocklist).find_added(request(), "203.0.113.7")
    assert found == allowed(5, NOW + 3600, "3CX lists allow entry 5") and marker(request()) == f"request {REQUEST_ID}"
    theirs_found = await allowing(blocklist).find_added(request(request_id="fedcba9876543210"), "203.0.113.7")
    assert theirs_found is not None and theirs_found.allow_id == 4
    assert await allowing(blocklist).find_added(request(request_id="1111222233334444"), "203.0.113.7") is None
    assert blocklist.called("marked") == ["203.0.113.7"] * 3 and added(blocklist) == []


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
