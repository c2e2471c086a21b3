"""Approve and allow (``bot.domain.allowing.Allowing``): an allow entry that names its duration, its approver
and its request, none when an allow entry already lets the address in, found again by its marker, removed
even when it is gone already."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from bot.domain.allowing import Allowed, Allowing, duration_words, failed, marker, merge
from bot.domain.entries import ALLOW, BlockedNumber, BlocklistEntry, Removal
from bot.domain.lookup import Finder, candidate_masks
from bot.domain.model import Result, State, UnblockRequest
from bot.domain.outcomes import Outcome
from bot.threecx.errors import ForbiddenError, UnexpectedResponseError
from bot.threecx.models import allow_body, blocklist_entry, expires_at

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
        id=request_id, targets=(blocked,), requester="UALICE", channel="C0GENERAL", created_at=NOW - 60,
        expires_at=NOW + 3600, state=State.EXECUTING, resolved_by=resolved_by, resolved_at=NOW - 1,
        allow_for=3600,
    )  # fmt: skip


@dataclass
class Blocklist:
    """3CX's IP list as allowing writes it and lookups read it: ``IPAddrMask`` compared as text."""

    entries: list[BlocklistEntry] = field(default_factory=list)
    next_id: int = 1000
    #: what each request asked
    added: list[dict[str, Any]] = field(default_factory=list)
    removed: list[int] = field(default_factory=list)
    asked: list[list[str]] = field(default_factory=list)
    marked_asked: list[tuple[str, str]] = field(default_factory=list)

    async def allow(self, address: str, until: float, note: str) -> tuple[int, str]:
        body = allow_body(address, until, note)
        self.added.append(body)
        self.next_id += 1
        created = blocklist_entry({"Id": self.next_id, **body})
        self.entries.append(created)
        return created.id, "HTTP 201"

    async def remove_entry(self, entry_id: int) -> Removal:
        self.removed.append(entry_id)
        listed = [e for e in self.entries if e.id == entry_id]
        if not listed:
            return Removal(deleted=False, answer="HTTP 404: the entry was already gone")
        self.entries.remove(listed[0])
        return Removal(deleted=True, answer="HTTP 204")

    async def marked(self, mask: str, marker: str) -> list[BlocklistEntry]:
        self.marked_asked.append((mask, marker))
        return [e for e in self.entries if e.address == mask and marker in (e.description or "")]

    async def get(self, entry_id: int) -> BlocklistEntry:
        raise AssertionError("allowing reads no entry by its id")

    async def with_masks(self, masks: Sequence[str], top: int) -> list[BlocklistEntry]:
        self.asked.append(list(masks))
        return [e for e in self.entries if e.address in masks][:top]

    async def newest(self, text: str | None, *, skip: int, top: int) -> list[BlocklistEntry]:
        raise AssertionError("allowing reads no page")

    async def between(self, first_id: int, last_id: int, *, skip: int, top: int) -> list[BlocklistEntry]:
        raise AssertionError("allowing reads no page")


class NoNumbers:
    async def get(self, number_id: str) -> BlockedNumber:
        raise AssertionError("allowing reads no number")

    async def with_caller_ids(self, caller_ids: Sequence[str], top: int) -> list[BlockedNumber]:
        raise AssertionError("allowing reads no number")


def allowing(blocklist: Blocklist, now: float = NOW) -> Allowing:
    return Allowing(blocklist, Finder(blocklist, NoNumbers()), lambda: now)


# -- adding ------------------------------------------------------------------------------------------


async def test_an_allow_entry_names_its_duration_its_approver_and_its_request_and_ends_when_allowed() -> None:
    blocklist = Blocklist([entry(7, "203.0.113.7", "Block")])
    allowed = await allowing(blocklist).allow(request(), "203.0.113.7", 3600)

    assert blocklist.added == [
        {
            "IPAddrMask": "203.0.113.7",
            "BlockType": ALLOW,
            "ExpiresAt": expires_at(NOW + 3600),
            "Description": "Allowed for 1 hour by unblock-bot: approved by Slack user UBOB, request 0123456789abcdef",
        }
    ]
    assert allowed == Allowed(1001, NOW + 3600, False, "allow entry 1001 added (HTTP 201)")
    [created] = [e for e in blocklist.entries if e.id == 1001]
    assert not created.blocks
    assert created.ends_at == NOW + 3600
    # the address was looked up as any address is, before
    assert blocklist.asked == [candidate_masks(ipaddress.ip_network("203.0.113.7"))]


async def test_an_allow_entry_without_a_known_approver_says_so() -> None:
    blocklist = Blocklist()
    await allowing(blocklist).allow(request(resolved_by=None), "198.51.100.0/24", 2 * 86400)
    [body] = blocklist.added
    assert body["IPAddrMask"] == "198.51.100.0/24"
    assert body["Description"] == (
        "Allowed for 2 days by unblock-bot: approved by Slack user unknown, request 0123456789abcdef"
    )
    assert body["ExpiresAt"] == expires_at(NOW + 2 * 86400)


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
    blocklist = Blocklist([existing])
    allowed = await allowing(blocklist).allow(request(), "203.0.113.7", 3600)

    assert allowed == Allowed(5, existing.ends_at, True, "already allowed by entry 5")
    assert blocklist.added == []
    assert [e.id for e in blocklist.entries] == [5]


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
    blocklist = Blocklist([other])
    allowed = await allowing(blocklist).allow(request(), "203.0.113.7", 1800)

    assert allowed == Allowed(1001, NOW + 1800, False, "allow entry 1001 added (HTTP 201)")
    assert [b["IPAddrMask"] for b in blocklist.added] == ["203.0.113.7"]
    assert blocklist.added[0]["Description"].startswith("Allowed for 30 minutes by unblock-bot")


async def test_a_network_is_covered_only_by_an_allow_entry_holding_all_of_it() -> None:
    blocklist = Blocklist([entry(5, "203.0.113.7", ends=NOW + 600), entry(6, "203.0.113.0/25", ends=NOW + 600)])
    allowed = await allowing(blocklist).allow(request(), "203.0.113.0/24", 3600)
    assert not allowed.existed
    assert [b["IPAddrMask"] for b in blocklist.added] == ["203.0.113.0/24"]

    blocklist = Blocklist([entry(8, "203.0.112.0/23", ends=NOW + 600)])
    assert (await allowing(blocklist).allow(request(), "203.0.113.0/24", 3600)).existed


async def test_the_allow_entry_that_holds_longest_is_reported() -> None:
    covering = [
        entry(1, "203.0.113.0/24", ends=NOW + 100),
        entry(2, "203.0.113.7", ends=NOW + 5000),
        entry(3, "203.0.0.0/16", ends=NOW + 1000),
        entry(4, "203.0.113.7", ends=NOW - 10),
    ]
    blocklist = Blocklist(list(covering))
    allowed = await allowing(blocklist).allow(request(), "203.0.113.7", 3600)
    assert allowed == Allowed(2, NOW + 5000, True, "already allowed by entry 2")

    blocklist = Blocklist([*covering, entry(9, "0.0.0.0/0", expires=None)])
    assert (await allowing(blocklist).covering("203.0.113.7")) == entry(9, "0.0.0.0/0", expires=None)
    assert blocklist.added == []


async def test_expiry_is_judged_by_the_clock() -> None:
    blocklist = Blocklist([entry(5, "203.0.113.0/24", ends=NOW + 600)])
    assert (await allowing(blocklist, now=NOW + 599).covering("203.0.113.7")) is not None
    assert (await allowing(blocklist, now=NOW + 600).covering("203.0.113.7")) is None


async def test_text_that_is_no_address_is_covered_by_nothing_and_not_looked_up() -> None:
    blocklist = Blocklist([entry(5, "0.0.0.0/0")])
    assert await allowing(blocklist).covering("entry 42") is None
    assert blocklist.asked == []


# -- finding it again, removing it -----------------------------------------------------------------


async def test_find_added_finds_this_requests_allow_entry_by_its_marker() -> None:
    mine = f"Allowed for 1 hour by unblock-bot: approved by Slack user UBOB, {marker(request())}"
    theirs = "Allowed for 1 hour by unblock-bot: approved by Slack user UBOB, request fedcba9876543210"
    blocklist = Blocklist(
        [
            entry(3, "203.0.113.7", "Block", description=mine),
            entry(4, "203.0.113.7", ends=NOW + 60, description=theirs),
            entry(5, "203.0.113.7", ends=NOW + 3600, description=mine),
        ]
    )
    found = await allowing(blocklist).find_added(request(), "203.0.113.7")

    assert found == Allowed(5, NOW + 3600, False, "3CX lists allow entry 5")
    assert blocklist.marked_asked == [("203.0.113.7", "request 0123456789abcdef")]
    assert blocklist.added == []


async def test_find_added_finds_nothing_when_this_request_added_none() -> None:
    blocklist = Blocklist([entry(4, "203.0.113.7", description="request fedcba9876543210")])
    assert await allowing(blocklist).find_added(request(), "203.0.113.7") is None


async def test_an_allow_entry_added_is_found_again_by_its_request() -> None:
    blocklist = Blocklist()
    added = await allowing(blocklist).allow(request(), "203.0.113.7", 3600)
    found = await allowing(blocklist).find_added(request(), "203.0.113.7")
    assert found is not None
    assert (found.entry_id, found.until, found.existed) == (added.entry_id, added.until, False)
    assert await allowing(blocklist).find_added(request(request_id="fedcba9876543210"), "203.0.113.7") is None


async def test_remove_takes_the_allow_entry_out() -> None:
    blocklist = Blocklist([entry(5, "203.0.113.7", ends=NOW + 600)])
    assert await allowing(blocklist).remove(5) == "allow entry 5 removed (HTTP 204)"
    assert blocklist.removed == [5]
    assert blocklist.entries == []


async def test_remove_of_an_allow_entry_already_gone_is_fine() -> None:
    blocklist = Blocklist()
    assert await allowing(blocklist).remove(5) == "allow entry 5 was already gone"
    assert blocklist.removed == [5]


async def test_remove_passes_on_what_3cx_refused() -> None:
    class Refusing(Blocklist):
        async def remove_entry(self, entry_id: int) -> Removal:
            raise ForbiddenError("forbidden", method="DELETE", status=403)

    with pytest.raises(ForbiddenError):
        await allowing(Refusing()).remove(5)


# -- words and results -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (60, "1 minute"), (120, "2 minutes"), (5400, "90 minutes"), (3600, "1 hour"), (7200, "2 hours"),
        (90000, "25 hours"), (86400, "1 day"), (7 * 86400, "7 days"), (45, "45 seconds"), (90, "90 seconds"),
        (3660, "61 minutes"),
    ],
)  # fmt: skip
def test_duration_words(seconds: float, words: str) -> None:
    assert duration_words(seconds) == words


def test_merge_appends_the_allow_entry_to_the_unblocks_result() -> None:
    result = Result(Outcome.DELETED, "HTTP 204")
    merged = merge(result, Allowed(7, NOW + 60, False, "allow entry 7 added (HTTP 201)"))
    assert merged == Result(Outcome.DELETED, "HTTP 204; allow entry 7 added (HTTP 201)", allow_id=7,
                            allowed_until=NOW + 60, allow_existed=False)  # fmt: skip
    assert merged.added_allow == 7
    existing = merge(result, Allowed(8, None, True, "already allowed by entry 8"))
    assert existing.added_allow is None


def test_failed_says_why_the_allow_entry_was_not_added() -> None:
    result = Result(Outcome.DELETED, "HTTP 204")
    refused = failed(result, UnexpectedResponseError("refused", status=400, detail="bad mask"))
    assert refused.answer == "HTTP 204; the allow entry was not added: HTTP 400 (refused): bad mask"
    assert refused.allow_id is None
    assert failed(result, KeyError("x")).answer == "HTTP 204; the allow entry was not added: internal error (KeyError)"
