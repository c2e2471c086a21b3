"""Finding entries from what people know (``bot.domain.lookup.Finder``): an address by the entries for it and
for every network holding it, a caller number however 3CX wrote it, and pages of the newest entries."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Awaitable, Callable, Sequence
from typing import cast

import pytest

from bot.domain.entries import ALLOW, BlockedNumber, BlocklistEntry, CallFailed
from bot.domain.lookup import (
    MAX_MATCHES,
    NUMBER_CANDIDATES,
    Finder,
    Network,
    TooSlow,
    candidate_masks,
    containing_prefix,
)
from bot.domain.outcomes import Outcome

from .fakes import Failed, FakeBlacklist, FakeBlocklist


def entry(
    entry_id: int, mask: str | None, block_type: str | None = "Block", description: str | None = None
) -> BlocklistEntry:
    return BlocklistEntry(entry_id, mask, description, block_type, "AutoBlacklist", None, None)


def number(number_id: str, caller_id: str | None) -> BlockedNumber:
    return BlockedNumber(number_id, caller_id, None)


def addresses(entries: Sequence[BlocklistEntry] = (), *, exact: bool = True) -> FakeBlocklist:
    """The IP blocklist as lookups read it (``exact=False``: a 3CX that answers with every entry whatever was
    asked)."""
    found = FakeBlocklist(entries)
    found.answers_all = not exact
    return found


def numbers(entries: Sequence[BlockedNumber] = (), *, exact: bool = True) -> FakeBlacklist:
    """The caller-number blacklist as lookups read it (``exact=False``: every entry, whatever was asked)."""
    found = FakeBlacklist(entries)
    found.answers_all = not exact
    return found


def masks_asked(ip: FakeBlocklist) -> list[tuple[list[str], int]]:
    """The masks and the ``top`` of each lookup by masks, in order."""
    return [cast(tuple[list[str], int], about) for about in ip.called("with_masks")]


def finder(ip: FakeBlocklist | None = None, blacklist: FakeBlacklist | None = None) -> Finder:
    return Finder(ip or addresses(), blacklist or numbers())


def net(text: str) -> Network:
    return ipaddress.ip_network(text, strict=False)


# -- addresses -----------------------------------------------------------------------------------


async def test_an_address_is_found_by_its_entries_and_every_network_holding_it_most_specific_first() -> None:
    ip = addresses(
        [
            entry(14, "0.0.0.0/0"),
            entry(13, "203.0.0.0/16"),
            entry(12, "203.0.113.0/255.255.255.0"),
            entry(11, "203.0.113.0/24"),
            entry(17, "203.0.113.7/32"),
            entry(10, "203.0.113.7"),
            entry(15, "198.51.100.0/24"),
            entry(16, "203.0.113.8"),
            entry(18, "203.0.113.128/25"),
        ]
    )
    found = await finder(ip).address(net("203.0.113.7"))

    assert [t.id for t in found.blocking] == [10, 17, 11, 12, 13, 14]
    assert found.allowing == ()
    assert not found.truncated
    assert ip.called("with_masks") == [(candidate_masks(net("203.0.113.7")), MAX_MATCHES + 1)]


async def test_only_entries_that_hold_the_address_count_whatever_3cx_answers() -> None:
    """The finder checks containment itself: text that is no network, another family, a network beside it."""
    ip = addresses(
        [
            entry(1, "203.0.113.0/24"),
            entry(2, "203.0.113.128/25"),
            entry(3, "198.51.100.7"),
            entry(4, "not an address"),
            entry(5, None),
            entry(6, ""),
            entry(7, "::/0"),
            entry(8, " 203.0.113.7 "),
        ],
        exact=False,
    )
    found = await finder(ip).address(net("203.0.113.7"))
    assert [t.id for t in found.blocking] == [8, 1]


async def test_an_ipv6_address_is_found_by_its_entries_and_the_networks_holding_it() -> None:
    ip = addresses(
        [
            entry(1, "::/0"),
            entry(2, "2001:db8::/32"),
            entry(3, "2001:db8::7"),
            entry(4, "2001:db8::/64"),
            entry(5, "2001:db8:1::/48"),
            entry(6, "0.0.0.0/0"),
        ]
    )
    found = await finder(ip).address(net("2001:db8::7"))

    assert [t.id for t in found.blocking] == [3, 4, 2, 1]
    [(masks, top)] = masks_asked(ip)
    assert (masks, top) == (candidate_masks(net("2001:db8::7")), MAX_MATCHES + 1)
    assert masks[:2] == ["2001:db8::7", "2001:db8::7/128"]
    assert {"2001:db8::/64", "2001:db8::/32", "::/0"} <= set(masks)


async def test_a_network_is_found_by_the_entries_for_it_and_the_networks_holding_it_not_those_inside_it() -> None:
    ip = addresses(
        [
            entry(1, "203.0.113.0/24"),
            entry(2, "203.0.113.0/25"),
            entry(3, "203.0.113.7"),
            entry(4, "203.0.112.0/255.255.254.0"),
        ]
    )
    found = await finder(ip).address(net("203.0.113.0/24"))

    assert [t.id for t in found.blocking] == [1, 4]
    [(masks, _)] = masks_asked(ip)
    assert "203.0.113.0" not in masks  # a network is never named by its bare address
    assert masks[:2] == ["203.0.113.0/24", "203.0.113.0/255.255.255.0"]


async def test_allow_entries_are_reported_and_never_offered() -> None:
    ip = addresses(
        [
            entry(1, "203.0.113.7"),
            entry(2, "203.0.113.0/24", ALLOW),
            entry(3, "203.0.113.7", ALLOW),
            entry(4, "203.0.0.0/16"),
        ]
    )
    found = await finder(ip).address(net("203.0.113.7"))

    assert [t.id for t in found.blocking] == [1, 4]
    assert [e.id for e in found.allowing] == [3, 2]


async def test_an_address_only_allowed_has_nothing_to_offer() -> None:
    found = await finder(addresses([entry(2, "203.0.113.0/24", ALLOW)])).address(net("203.0.113.7"))
    assert found.blocking == ()
    assert [e.id for e in found.allowing] == [2]
    assert not found.truncated


@pytest.mark.parametrize(("listed", "truncated"), [(MAX_MATCHES - 1, False), (MAX_MATCHES, False),
                                                   (MAX_MATCHES + 1, True), (MAX_MATCHES + 20, True)])  # fmt: skip
async def test_more_matches_than_one_request_may_cover_are_cut_and_said_so(listed: int, truncated: bool) -> None:
    ip = addresses([entry(i, "203.0.113.7") for i in range(1, listed + 1)])
    found = await finder(ip).address(net("203.0.113.7"))

    assert [t.id for t in found.blocking] == list(range(1, min(listed, MAX_MATCHES) + 1))
    assert found.truncated is truncated


# -- the masks asked -------------------------------------------------------------------------------


def test_candidate_masks_name_an_address_and_every_supernet_both_ways() -> None:
    masks = candidate_masks(net("192.0.2.1"))

    assert masks[:5] == ["192.0.2.1", "192.0.2.1/32", "192.0.2.1/255.255.255.255", "192.0.2.0/31",
                         "192.0.2.0/255.255.255.254"]  # fmt: skip
    assert masks[-2:] == ["0.0.0.0/0", "0.0.0.0/0.0.0.0"]
    assert len(masks) == 1 + 2 * 33
    assert len(set(masks)) == len(masks)
    for prefix in range(33):
        supernet = net("192.0.2.1").supernet(new_prefix=prefix)
        assert f"{supernet.network_address}/{prefix}" in masks
        assert f"{supernet.network_address}/{supernet.netmask}" in masks
    # each names a network holding the address
    assert all(containing_prefix(m, net("192.0.2.1")) is not None for m in masks)


def test_candidate_masks_of_a_network_start_at_its_own_prefix() -> None:
    masks = candidate_masks(net("198.51.100.0/22"))
    assert masks[0] == "198.51.100.0/22"
    assert len(masks) == 2 * 23
    assert "198.51.100.0" not in masks
    assert "198.51.96.0/20" in masks and "198.51.96.0/255.255.240.0" in masks


def test_candidate_masks_of_ipv6_are_prefix_lengths_only() -> None:
    masks = candidate_masks(net("2001:db8::7"))
    assert len(masks) == 1 + 129
    assert masks[-1] == "::/0"
    assert all(containing_prefix(m, net("2001:db8::7")) is not None for m in masks)
    assert {ipaddress.ip_network(m).prefixlen for m in masks[1:]} == set(range(129))


def test_containing_prefix_is_none_for_what_does_not_hold_the_network() -> None:
    assert containing_prefix("203.0.113.0/24", net("203.0.113.7")) == 24
    assert containing_prefix("203.0.113.0/255.255.255.0", net("203.0.113.7")) == 24
    assert containing_prefix("203.0.113.0/25", net("203.0.113.0/24")) is None
    assert containing_prefix("::/0", net("203.0.113.7")) is None
    assert containing_prefix("203.0.113.300", net("203.0.113.7")) is None
    assert containing_prefix(None, net("203.0.113.7")) is None


# -- numbers -------------------------------------------------------------------------------------


async def test_a_number_is_asked_with_and_without_its_plus_and_with_00_for_its_plus() -> None:
    stored = [number("a", "+41445551234"), number("b", "41445551234"), number("c", "0041445551234")]
    blacklist = numbers([*stored, number("d", "41445551235")])
    found = await finder(blacklist=blacklist).number("+41445551234")

    assert [t.id for t in found.blocking] == ["a", "b", "c"]
    assert blacklist.called("holding_digits") == [("1234", NUMBER_CANDIDATES)]
    assert found.allowing == ()
    assert not found.truncated


async def test_a_number_without_a_plus_is_asked_with_and_without_one() -> None:
    blacklist = numbers([number("a", "+41445551234"), number("b", "41445551234"), number("c", "0041445551234")])
    found = await finder(blacklist=blacklist).number("41445551234")

    assert [t.id for t in found.blocking] == ["a", "b"]
    assert blacklist.called("holding_digits") == [("1234", NUMBER_CANDIDATES)]
    assert found.allowing == ()
    assert not found.truncated


@pytest.mark.parametrize("exact", [True, False], ids=["as 3CX's filter answers", "a 3CX that answers with all"])
async def test_a_number_matches_whatever_punctuation_3cx_stored(exact: bool) -> None:
    blacklist = numbers(
        [
            number("a", "+41 44 555 12 34"),
            number("b", "(044) 555-1234"),
            number("c", "41-44-555.12.34"),
            number("d", "+41 44 555 12 345"),
            number("e", None),
            number("f", "+1 (415) 555-1234"),
            number("g", "0041 44 555 1 234"),
            number("h", "+41 4455 51234"),
        ],
        exact=exact,
    )
    found = await finder(blacklist=blacklist).number("+41445551234")
    assert [t.id for t in found.blocking] == ["a", "c", "g", "h"]


async def test_a_number_is_asked_for_by_its_last_digits_however_short() -> None:
    blacklist = numbers([number("a", "1 1 2"), number("b", "11 2"), number("c", "+112")])
    found = await finder(blacklist=blacklist).number("112")

    assert [t.id for t in found.blocking] == ["b", "c"]  # "1 1 2" has more than one space among its last digits
    assert blacklist.called("holding_digits") == [("112", NUMBER_CANDIDATES)]


async def test_more_numbers_than_one_request_may_cover_are_cut_and_said_so() -> None:
    blacklist = numbers([number(str(i), "+41445551234") for i in range(MAX_MATCHES + 5)])
    found = await finder(blacklist=blacklist).number("+41445551234")
    assert len(found.blocking) == MAX_MATCHES
    assert found.truncated

    exact = numbers([number(str(i), "+41445551234") for i in range(MAX_MATCHES)])
    assert not (await finder(blacklist=exact).number("+41445551234")).truncated


# -- entries by id, and pages --------------------------------------------------------------------


async def test_entries_are_read_by_their_ids() -> None:
    ip = addresses([entry(1, "203.0.113.7"), entry(2, "198.51.100.0/24")])
    blacklist = numbers([number("x1", "+41445551234")])
    find = finder(ip, blacklist)

    assert (await find.entry(2)).address == "198.51.100.0/24"
    assert [e.id for e in await find.entries([2, 1])] == [2, 1]
    assert [n.number for n in await find.numbers(["x1"])] == ["+41445551234"]
    with pytest.raises(CallFailed) as raised:
        await find.entry(3)
    assert raised.value.reason is Outcome.NOT_FOUND


async def test_pages_of_the_newest_say_whether_there_is_more() -> None:
    ip = addresses([entry(i, f"203.0.113.{i}", description="SIP" if i % 2 else "web") for i in range(1, 8)])
    find = finder(ip)

    first = await find.newest(None, size=3)
    assert [e.id for e in first.entries] == [7, 6, 5]
    assert (first.skip, first.more) == (0, True)

    last = await find.newest(None, skip=6, size=3)
    assert [e.id for e in last.entries] == [1]
    assert (last.skip, last.more) == (6, False)

    full = await find.newest(None, skip=4, size=3)  # exactly the rest: nothing more
    assert [e.id for e in full.entries] == [3, 2, 1]
    assert not full.more

    sip = await find.newest("SIP", size=4)
    assert [e.id for e in sip.entries] == [7, 5, 3, 1]
    assert not sip.more

    by_address = await find.newest("113.6", size=4)  # the text is looked for in the address or the description
    assert [e.id for e in by_address.entries] == [6]

    assert ip.called("newest") == [(None, 0, 4), (None, 6, 4), (None, 4, 4), ("SIP", 0, 5), ("113.6", 0, 5)]


async def test_pages_between_two_ids_say_whether_there_is_more() -> None:
    ip = addresses([entry(i, f"203.0.113.{i}") for i in range(1, 30)])
    find = finder(ip)

    first = await find.between(5, 20)
    assert [e.id for e in first.entries] == list(range(5, 15))
    assert first.more

    second = await find.between(5, 20, skip=10)
    assert [e.id for e in second.entries] == list(range(15, 21))
    assert (second.skip, second.more) == (10, False)

    exact = await find.between(1, 4, size=4)
    assert [e.id for e in exact.entries] == [1, 2, 3, 4]
    assert not exact.more

    assert ip.called("between") == [((5, 20), 0, 11), ((5, 20), 10, 11), ((1, 4), 0, 5)]


# -- a deadline --------------------------------------------------------------------------------------


async def never_answers() -> None:
    await asyncio.Event().wait()


@pytest.mark.parametrize("method", ["with_masks", "holding_digits", "get", "newest"])
async def test_a_lookup_3cx_does_not_answer_is_given_up_after_its_deadline(method: str) -> None:
    ip, blacklist = addresses([entry(10, "203.0.113.7")]), numbers([number("a", "+41445551234")])
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


async def test_a_lookup_that_fails_in_time_says_why_and_not_that_it_was_slow() -> None:
    ip = addresses()
    ip.fail("get", Failed(Outcome.NOT_FOUND, "Not Found", status=404))

    with pytest.raises(Failed) as raised:
        await Finder(ip, numbers(), deadline=5).entry(10)
    assert raised.value.reason is Outcome.NOT_FOUND
