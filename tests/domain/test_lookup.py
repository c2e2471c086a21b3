"""Finding entries from what people know (``bot.domain.lookup.Finder``): an address by the entries for it and
for every network holding it, a caller number however 3CX wrote it, and pages of the newest entries."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Awaitable, Callable
from typing import cast

import pytest

from bot.domain.entries import ALLOW, BlockedNumber, BlocklistEntry, CallFailed
from bot.domain.lookup import MAX_MATCHES, NUMBER_CANDIDATES, Finder, Network, TooSlow
from bot.domain.outcomes import Outcome

from .fakes import FakeBlacklist, FakeBlocklist


def entry(
    entry_id: int, mask: str | None, block_type: str | None = "Block", description: str | None = None
) -> BlocklistEntry:
    return BlocklistEntry(entry_id, mask, description, block_type, "AutoBlacklist", None, None)


def number(number_id: str, caller_id: str | None) -> BlockedNumber:
    return BlockedNumber(number_id, caller_id, None)


def finder(ip: FakeBlocklist | None = None, blacklist: FakeBlacklist | None = None) -> Finder:
    return Finder(ip or FakeBlocklist(), blacklist or FakeBlacklist())


def net(text: str) -> Network:
    return ipaddress.ip_network(text, strict=False)


# -- addresses and numbers ---------------------------------------------------------------------------

#: an address or network asked for, the masks 3CX lists (ids from 1), and the ids found, most specific first
ADDRESSES = [
    (
        "203.0.113.7",
        "0.0.0.0/0 203.0.0.0/16 203.0.113.0/255.255.255.0 203.0.113.0/24 203.0.113.7/32 203.0.113.7 198.51.100.0/24 "
        "203.0.113.8 203.0.113.128/25",
        [5, 6, 3, 4, 2, 1],
    ),
    ("2001:db8::7", "::/0 2001:db8::/32 2001:db8::7 2001:db8::/64 2001:db8:1::/48 0.0.0.0/0", [3, 4, 2, 1]),
    ("203.0.113.0/24", "203.0.113.0/24 203.0.113.0/25 203.0.113.7 203.0.112.0/255.255.254.0", [1, 4]),
]


@pytest.mark.parametrize(("asked", "listed", "found_ids"), ADDRESSES, ids=["address", "ipv6", "network"])
async def test_an_address_or_network_is_found_by_its_entries_and_every_network_holding_it_most_specific_first(
    asked: str, listed: str, found_ids: list[int]
) -> None:
    ip = FakeBlocklist([entry(n, mask) for n, mask in enumerate(listed.split(), 1)])
    found = await finder(ip).address(net(asked))

    assert [t.id for t in found.blocking] == found_ids and found.allowing == () and not found.truncated
    [(masks, top)] = cast(list[tuple[list[str], int]], ip.called("with_masks"))
    assert top == MAX_MATCHES + 1 and len(set(masks)) == len(masks)
    # every text of a network holding it, both ways for IPv4; a network is never named by its bare address
    for prefix in range(net(asked).prefixlen + 1):
        supernet = net(asked).supernet(new_prefix=prefix)
        assert f"{supernet.network_address}/{prefix}" in masks
        assert supernet.version == 6 or f"{supernet.network_address}/{supernet.netmask}" in masks
    assert (str(net(asked).network_address) in masks) is ("/" not in asked)
    assert len(masks) == ("/" not in asked) + (2 if net(asked).version == 4 else 1) * (net(asked).prefixlen + 1)


async def test_only_entries_that_hold_the_address_count_whatever_3cx_answers() -> None:
    """The finder checks containment itself: text that is no network, another family, a network beside it."""
    listed = ["203.0.113.0/24", "203.0.113.128/25", "198.51.100.7", "not an address", None, "", "::/0", " 203.0.113.7 "]
    ip = FakeBlocklist([entry(n, mask) for n, mask in enumerate(listed, 1)])
    ip.answers_all = True  # a 3CX that answers with every entry, whatever was asked
    found = await finder(ip).address(net("203.0.113.7"))
    assert [t.id for t in found.blocking] == [8, 1]


async def test_allow_entries_are_reported_and_never_offered() -> None:
    ip = FakeBlocklist([entry(1, "203.0.113.7"), entry(2, "203.0.113.0/24", ALLOW), entry(3, "203.0.113.7", ALLOW)])
    found = await finder(ip).address(net("203.0.113.7"))
    assert [t.id for t in found.blocking] == [1] and [e.id for e in found.allowing] == [3, 2]

    only = await finder(FakeBlocklist([entry(2, "203.0.113.0/24", ALLOW)])).address(net("203.0.113.7"))
    assert only.blocking == () and [e.id for e in only.allowing] == [2]


@pytest.mark.parametrize("listed", [MAX_MATCHES - 1, MAX_MATCHES, MAX_MATCHES + 1, MAX_MATCHES + 20])
async def test_more_matches_than_one_request_may_cover_are_cut_and_said_so(listed: int) -> None:
    ip = FakeBlocklist([entry(i, "203.0.113.7") for i in range(1, listed + 1)])
    found = await finder(ip).address(net("203.0.113.7"))
    assert [t.id for t in found.blocking] == list(range(1, min(listed, MAX_MATCHES) + 1))
    assert found.truncated is (listed > MAX_MATCHES)

    blacklist = FakeBlacklist([number(str(i), "+41445551234") for i in range(listed)])
    found = await finder(blacklist=blacklist).number("+41445551234")
    assert len(found.blocking) == min(listed, MAX_MATCHES) and found.truncated is (listed > MAX_MATCHES)


STORED = [
    number("a", "+41 44 555 12 34"),
    number("b", "(044) 555-1234"),
    number("c", "41-44-555.12.34"),
    number("d", "+41 44 555 12 345"),
    number("e", None),
    number("f", "+1 (415) 555-1234"),
    number("g", "0041 44 555 1 234"),
    number("h", "+41 4455 51234"),
    number("i", "41445551234"),
    number("j", "0041445551234"),
]


@pytest.mark.parametrize("exact", [True, False], ids=["as 3CX's filter answers", "a 3CX that answers with all"])
@pytest.mark.parametrize(("asked", "found_ids"), [("+41445551234", "acghij"), ("41445551234", "achi")])
async def test_a_number_matches_with_or_without_its_plus_or_00_whatever_punctuation_3cx_stored(
    exact: bool, asked: str, found_ids: str
) -> None:
    blacklist = FakeBlacklist(STORED)
    blacklist.answers_all = not exact
    found = await finder(blacklist=blacklist).number(asked)

    assert "".join(str(t.id) for t in found.blocking) == found_ids and found.allowing == ()
    assert blacklist.called("holding_digits") == [("1234", NUMBER_CANDIDATES)]


async def test_a_number_is_asked_for_by_its_last_digits_however_short() -> None:
    blacklist = FakeBlacklist([number("a", "1 1 2"), number("b", "11 2"), number("c", "+112")])
    found = await finder(blacklist=blacklist).number("112")

    assert [t.id for t in found.blocking] == ["b", "c"]  # "1 1 2" has more than one space among its last digits
    assert blacklist.called("holding_digits") == [("112", NUMBER_CANDIDATES)]


# -- entries by id, and pages --------------------------------------------------------------------


async def test_entries_are_read_by_their_ids() -> None:
    ip = FakeBlocklist([entry(1, "203.0.113.7"), entry(2, "198.51.100.0/24")])
    blacklist = FakeBlacklist([number("x1", "+41445551234")])
    find = Finder(ip, blacklist, deadline=5)

    assert (await find.entry(2)).address == "198.51.100.0/24"
    assert [e.id for e in await find.entries([2, 1])] == [2, 1]
    assert [n.number for n in await find.numbers(["x1"])] == ["+41445551234"]
    with pytest.raises(CallFailed) as raised:
        await find.entry(3)
    assert raised.value.reason is Outcome.NOT_FOUND and not isinstance(raised.value, TooSlow)  # failed in time


PAGES = [
    ("newest", (None,), {"size": 3}, [7, 6, 5], True, (None, 0, 4)),
    ("newest", (None,), {"skip": 6, "size": 3}, [1], False, (None, 6, 4)),
    ("newest", (None,), {"skip": 4, "size": 3}, [3, 2, 1], False, (None, 4, 4)),  # exactly the rest
    ("newest", ("SIP",), {"size": 4}, [7, 5, 3, 1], False, ("SIP", 0, 5)),
    ("newest", ("113.6",), {"size": 4}, [6], False, ("113.6", 0, 5)),  # in the address or the description
    ("between", (5, 20), {}, list(range(5, 15)), True, ((5, 20), 0, 11)),
    ("between", (5, 20), {"skip": 10}, list(range(15, 21)), False, ((5, 20), 10, 11)),
    ("between", (1, 4), {"size": 4}, [1, 2, 3, 4], False, ((1, 4), 0, 5)),
]


@pytest.mark.parametrize(("method", "args", "kwargs", "ids", "more", "asked"), PAGES)
async def test_pages_say_whether_there_is_more(
    method: str, args: tuple[object, ...], kwargs: dict[str, int], ids: list[int], more: bool, asked: object
) -> None:
    listed = range(1, 30 if method == "between" else 8)
    ip = FakeBlocklist([entry(i, f"203.0.113.{i}", description="SIP" if i % 2 else "web") for i in listed])
    page = await getattr(finder(ip), method)(*args, **kwargs)
    assert ([e.id for e in page.entries], page.skip, page.more) == (ids, kwargs.get("skip", 0), more)
    assert ip.called(method) == [asked]


# -- a deadline --------------------------------------------------------------------------------------


async def never_answers() -> None:
    await asyncio.Event().wait()


@pytest.mark.parametrize("method", ["with_masks", "holding_digits", "get", "newest"])
async def test_a_lookup_3cx_does_not_answer_is_given_up_after_its_deadline(method: str) -> None:
    ip, blacklist = FakeBlocklist([entry(10, "203.0.113.7")]), FakeBlacklist([number("a", "+41445551234")])
    (blacklist if method == "holding_digits" else ip).before[method] = never_answers
    find = Finder(ip, blacklist, deadline=0.01)
    lookups: dict[str, Callable[[], Awaitable[object]]] = {
        "with_masks": lambda: find.address(net("203.0.113.7")),
        "holding_digits": lambda: find.number("+41445551234"),
        "get": lambda: find.entries([10, 11]),
        "newest": lambda: find.newest(None),
    }

    with pytest.raises(TooSlow) as raised:
        await lookups[method]()

    assert raised.value.seconds == 0.01 and raised.value.reason is Outcome.UNAVAILABLE
