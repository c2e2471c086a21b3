"""Unblocking by what people know: an address, a network, a caller number; a reason; list and history."""

from __future__ import annotations

import ipaddress
import json
import re

from bot.threecx.retry import RetryPolicy

from .conftest import MakeHarness
from .fakes.openapi_check import check_against_spec
from .fakes.slack import Message
from .harness import (
    ALICE,
    APPROVE,
    BOB,
    CHOOSE,
    LIST_MORE,
    Harness,
    block_text,
    buttons,
    card_request_id,
    wait_for,
)


async def only_card(harness: Harness) -> tuple[Message, str]:
    """The one card in the channel, and the id of its request."""
    await harness.settle()
    [card] = harness.cards()
    return card, card_request_id(card.blocks)


def entries(card: Message) -> list[int]:
    """The IP blocklist entries a card asks to unblock."""
    return [int(n) for n in re.findall(r"entry (\d+)", block_text(card.blocks))]


def blocklist_queries(harness: Harness) -> list[dict[str, str]]:
    return [r.query for r in harness.pbx.calls("GET") if r.path == "/xapi/v1/Blocklist"]


async def approve(harness: Harness, request_id: str, user: str = BOB) -> None:
    await harness.click(APPROVE, request_id, user=user)
    await harness.settle()


# 1. by IP address -------------------------------------------------------------------------------


async def test_an_address_with_one_entry_gets_the_usual_card(harness: Harness) -> None:
    reply, _ = await harness.command("203.0.113.7")

    assert reply.message == ""  # the card is the answer: no note of progress is left behind
    card, _request = await only_card(harness)
    assert entries(card) == [42]
    assert "Unblock 203.0.113.7?" in buttons(card.blocks)[0]["confirm"]["text"]["text"]
    [query] = blocklist_queries(harness)  # one small query, never a full listing
    assert query["$filter"].startswith("IPAddrMask in ('203.0.113.7','203.0.113.7/32',") and query["$top"] == "51"

    # allow entries never crowd out the block that holds an address: every Approve and allow leaves an allow entry
    # for the address; sixty of them are older than the block
    for n in range(60):
        harness.pbx.add_entry(100 + n, "203.0.113.99", block_type="Allow", expires_at="2026-01-01T00:00:00Z")
    harness.pbx.add_entry(500, "203.0.113.0/24", description="Failed SIP registrations")
    await harness.command("203.0.113.99")
    await harness.settle()
    assert entries(harness.cards()[-1]) == [500]
    assert all(int(query["$top"]) <= 51 for query in blocklist_queries(harness))
    assert check_against_spec(harness.pbx.requests) == []


async def test_a_3cx_that_refuses_in_is_asked_with_equality_tests_from_then_on(harness: Harness) -> None:
    """The fake refuses ``in`` as a 3CX of OData 4.0 would, and every filter of more than 100 nodes as ASP.NET Core
    OData does by default: each lookup still finds the network, with a few filters of equality tests."""
    harness.pbx.add_entry(70, "198.51.0.0/255.255.0.0")
    harness.pbx.takes_in = False

    for asked in ("198.51.100.23", "198.51.7.1"):
        await harness.command(asked)
        await harness.settle()
        assert entries(harness.cards()[-1]) == [70]

    filters = [query["$filter"] for query in blocklist_queries(harness)]
    assert filters[0].startswith("IPAddrMask in (")  # refused (400), and never sent again
    chunks = [f.split(" or ") for f in filters[1:]]
    assert len(chunks) == 8 and all(len(tests) <= 18 for tests in chunks)
    assert sum(len(tests) for tests in chunks) == 2 * 67
    assert not any(" in (" in f for f in filters[1:])


async def test_an_entry_that_holds_what_was_asked_for_is_found(harness: Harness) -> None:
    harness.pbx.add_entry(8, "198.51.0.0/16", description="Wider range", block_type="Allow")  # never offered
    harness.pbx.add_entry(9, "198.51.101.0/24")  # a neighbour: holds none of them
    # a network that holds the address, a network written with a dotted mask, IPv6
    held = [("198.51.100.0/24", "198.51.100.23"), ("203.0.113.0/255.255.255.0", "203.0.113.0/24")]
    for entry_id, (entry, asked) in enumerate([*held, ("2001:db8::/32", "2001:db8:0:1::7")], start=60):
        harness.pbx.add_entry(entry_id, entry)
        await harness.command(asked)
        await harness.settle()

        assert entries(harness.cards()[-1]) == [entry_id], asked
    assert all("$filter" in q for q in blocklist_queries(harness))


async def test_several_matches_offer_a_choice_and_all_up_to_a_limit(harness: Harness) -> None:
    harness.pbx.add_entry(7, "203.0.113.0/24")
    harness.pbx.add_entry(8, "203.0.0.0/16")

    _, response_url = await harness.command("203.0.113.7 remote worker")
    await harness.settle()

    assert harness.cards() == []
    [offer] = harness.slack.posts_to(response_url)
    assert offer.body["response_type"] == "ephemeral"
    text = block_text(offer.body["blocks"])
    assert "3 IP blocklist entries match 203.0.113.7" in text
    assert text.index("`203.0.113.7`") < text.index("`203.0.113.0/24`") < text.index("`203.0.0.0/16`")
    choices = buttons(offer.body["blocks"])
    assert [b["text"]["text"] for b in choices] == ["Request unblock"] * 3 + ["Request all 3"]
    assert harness.pbx.calls("DELETE") == []

    _, click_url = await harness.click(CHOOSE, choices[-1]["value"], user=ALICE)
    card, request = await only_card(harness)
    assert entries(card) == [42, 7, 8]
    assert "<@UALICE> asks to unblock 3 entries" in block_text(card.blocks)
    assert "*Reason:* remote worker" in block_text(card.blocks)
    assert harness.slack.posts_to(click_url)[-1].body["replace_original"] is True  # the choice is used up

    await approve(harness, request)
    assert sorted(r.path for r in harness.pbx.calls("DELETE")) == [f"/xapi/v1/Blocklist({n})" for n in (42, 7, 8)]
    assert "Request to unblock 3 entries was approved by <@UBOB>, and they are unblocked" in block_text(
        harness.cards()[0].blocks
    )
    # the choice is kept for a day, then forgotten: a button of it clicked later does nothing
    harness.clock.advance(24 * 3600 + 1)
    assert harness.bot is not None
    await harness.bot.served[0].sweeper.tick()
    _, late_url = await harness.click(CHOOSE, choices[1]["value"], user=ALICE)
    await harness.settle()
    assert "out of date" in harness.notes(late_url)[0] and len(harness.cards()) == 1

    # many: listed up to a limit
    for n, prefix in enumerate(range(31, 19, -1)):
        harness.pbx.add_entry(100 + n, str(ipaddress.ip_network(f"203.0.113.1/{prefix}", strict=False)))
    _, response_url = await harness.command("203.0.113.1")
    await harness.settle()
    blocks = harness.slack.posts_to(response_url)[0].body["blocks"]
    assert "…and 2 more" in block_text(blocks)
    assert buttons(blocks)[-1]["text"]["text"] == "Request all 12"
    assert len(buttons(blocks)) == 11


async def test_what_is_not_blocked_says_so(harness: Harness) -> None:
    harness.pbx.add_entry(5, "203.0.113.99", block_type="Allow")
    said = [
        ("203.0.113.98", "203.0.113.98 is not on the IP blocklist, so 3CX is not blocking it there"),
        (
            "203.0.113.99",
            "203.0.113.99 is not blocked: 3CX lets it in through an allow entry: `203.0.113.99` (entry 5).",
        ),
        ("5", "Entry 5 (`203.0.113.99`) is an allow entry, not a block"),
        ("number +44 20 7946 0000", "+442079460000 is not on the caller-number blacklist"),
    ]
    for text, says in said:
        _, response_url = await harness.command(text)
        await harness.settle()

        [note] = harness.notes(response_url)
        assert says in note
    assert harness.cards() == [] and harness.pbx.calls("DELETE") == []


# 2. blocked caller numbers ------------------------------------------------------------------------


async def test_a_blocked_number_is_found_and_unblocked(harness: Harness) -> None:
    # as 3CX stored it, and asked for as written (other ways: tests/domain/test_lookup.py, tests/test_command_text.py)
    harness.pbx.add_number("n-17", "001 (555) 010.0", "Robocaller?")
    harness.pbx.add_number("n-18", "+1 555 0101", "Another robocaller")
    harness.pbx.add_number("n-19", "+44 20 7946 0100", "Same last digits")

    reply, _ = await harness.command("+1 (555) 010-0")
    assert reply.message == ""
    card, request = await only_card(harness)
    assert "<@UALICE> asks to unblock 001 (555) 010.0*" in block_text(card.blocks)  # that one only
    [query] = [r.query for r in harness.pbx.calls("GET") if r.path == "/xapi/v1/BlackListNumbers"]
    assert int(query["$top"]) <= 250

    await approve(harness, request)

    assert [r.path for r in harness.pbx.calls("DELETE")] == ["/xapi/v1/BlackListNumbers('n-17')"]
    assert set(harness.pbx.numbers) == {"n-18", "n-19"}
    assert "001 (555) 010.0 was approved by <@UBOB>, and it is unblocked" in block_text(harness.cards()[0].blocks)
    assert check_against_spec(harness.pbx.requests) == []


async def test_quotes_in_keys_cannot_change_the_path_or_the_filter(harness: Harness) -> None:
    harness.pbx.add_number("o'reilly/../1", "+15550100")
    harness.pbx.add_number("1", "+15550199")
    harness.pbx.add_entry(70, "192.0.2.1", description="o'brien's office")

    await harness.command("+15550100")
    _card, request = await only_card(harness)
    await approve(harness, request)
    _, list_url = await harness.command("list o'brien")
    await harness.settle()

    [delete] = harness.pbx.calls("DELETE")
    assert delete.path == "/xapi/v1/BlackListNumbers('o''reilly%2F..%2F1')"
    assert set(harness.pbx.numbers) == {"1"}  # exactly that entry, and no other, is gone
    [listing] = [r for r in harness.pbx.calls("GET") if r.query.get("$orderby")]
    assert listing.query["$filter"] == "contains(IPAddrMask,'o''brien') or contains(Description,'o''brien')"
    listed = block_text(harness.slack.posts_to(list_url)[0].body["blocks"])
    assert "o'brien's office" in listed and "entry 42" not in listed


async def test_a_number_with_the_international_prefix_00_is_a_number_and_never_an_entry_id(harness: Harness) -> None:
    harness.pbx.add_entry(44, "198.51.100.44")
    harness.pbx.add_number("n-44", "+442079460958", "Robocaller?")

    await harness.command("0044 20 7946 0958 calls from London")
    card, _request = await only_card(harness)

    assert "asks to unblock +442079460958*" in block_text(card.blocks)
    assert "*Reason:* calls from London" in block_text(card.blocks)
    paths = [r.path for r in harness.pbx.calls("GET")]
    assert "/xapi/v1/Blocklist(44)" not in paths and "/xapi/v1/BlackListNumbers" in paths
    assert check_against_spec(harness.pbx.requests) == []


async def test_digit_groups_after_an_id_are_asked_about_and_nothing_is_done(harness: Harness) -> None:
    harness.pbx.add_entry(555, "198.51.100.55")

    reply, _ = await harness.command("555 0100")
    await harness.settle()

    assert "did you mean `/unblock number 555 0100`?" in reply.message
    assert harness.pbx.requests == []
    assert harness.cards() == []


async def test_an_id_3cx_does_not_have_says_how_to_look_up_a_caller_number(harness: Harness) -> None:
    harness.slack.delay_of["response_url"] = 2.0  # the answer still on its way when 3CX would count as slow

    reply, response_url = await harness.command("5550100")
    await harness.settle()

    # the person is left with one note: Slack cannot replace a command's acknowledgement, so the bot acks empty;
    # and the answer is never followed by a note that the bot is still looking
    [note] = harness.slack.notes_after_command(response_url, reply.message)
    assert "There is no IP blocklist entry 5550100 in 3CX" in note
    assert "For a caller number, use `/unblock number 5550100`." in note
    assert [r.path for r in harness.pbx.calls("GET")] == ["/xapi/v1/Blocklist(5550100)"]
    assert harness.cards() == [] and await harness.stored_count() == 0


async def test_lookups_3cx_is_too_slow_for_end_in_a_sentence_once_their_time_is_up(make_harness: MakeHarness) -> None:
    harness = await make_harness(THREECX_TIMEOUT="0.2")
    harness.retry = RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.05, budget=0.6)
    await harness.restart()  # one call of 3CX's lasts 0.8 seconds at most, its retries included
    harness.pbx.delay = 5.0  # longer than any try waits
    # a burst: each lookup makes six calls, many more than the bot has connections to 3CX, so calls wait for one
    # another; each lookup still ends within its own time
    asked = [f"2001:db8::{n}" for n in range(1, 61)] + ["number +1 555 0100", "203.0.113.7"]
    urls = [url for _, url in [await harness.command(text) for text in asked]]

    def final(url: str) -> str | None:
        notes = harness.notes(url)
        return notes[-1] if notes and not notes[-1].startswith("Still looking") else None

    await wait_for(lambda: all(final(url) for url in urls), timeout=30, what="a final note for each lookup")

    whats = [f"IP blocklist entry for {text}" for text in asked[:-2]]
    whats += ["caller-number blacklist entry for +15550100", "IP blocklist entry for 203.0.113.7"]
    for url, what in zip(urls, whats, strict=True):
        assert final(url) in (
            f"3CX did not answer in time: the bot waited 0.8 seconds for the {what}. Nothing was requested. Please "
            "try again in a few minutes.",
            # a call that gave up on its own first
            "3CX could not be reached, was unavailable or did not answer in time, even after retries. Please try "
            "again in a few minutes. Nothing was requested.",
        )
    assert harness.cards() == [] and harness.pbx.calls("DELETE") == []


# 4. listing -------------------------------------------------------------------------------------------------------


async def test_list_shows_the_newest_entries_a_page_at_a_time(harness: Harness) -> None:
    for n in range(1, 21):
        harness.pbx.add_entry(100 + n, f"192.0.2.{n}", added_by="Manual")

    reply, response_url = await harness.command("list")
    await harness.settle()

    assert reply.status == 200
    [first] = harness.slack.posts_to(response_url)
    assert first.body["response_type"] == "ephemeral"
    text = block_text(first.body["blocks"])
    assert "(1 to 15)" in text and "entry 120" in text and "entry 106" in text and "entry 105" not in text
    assert text.index("entry 120") < text.index("entry 119")
    [more] = buttons(first.body["blocks"])

    _, more_url = await harness.click(LIST_MORE, more["value"], user=ALICE)
    await harness.settle()

    [second] = harness.slack.posts_to(more_url)
    assert second.body["replace_original"] is True
    page_two = block_text(second.body["blocks"])
    assert "(16 to 21)" in page_two and "entry 105" in page_two and "entry 42" in page_two
    assert buttons(second.body["blocks"]) == []
    assert [q["$top"] for q in blocklist_queries(harness)] == ["16", "16"]
    assert [q.get("$skip") for q in blocklist_queries(harness)] == [None, "15"]


# 5. history --------------------------------------------------------------------------------------------------------


async def test_history_lists_requests_newest_first_and_survives_a_restart(harness: Harness) -> None:
    harness.pbx.add_entry(43, "198.51.100.4")
    await harness.command("42")
    _card, request = await only_card(harness)
    await approve(harness, request)
    await harness.command("43 printer VPN")
    await harness.settle()

    await harness.restart()
    _, response_url = await harness.command("history 5")
    await harness.settle()

    [note] = harness.shown(response_url)
    lines = note.splitlines()
    assert lines[0] == "*Latest unblock requests in this channel*"
    assert (
        "Request to unblock `198.51.100.4` *is waiting for approval* · requested by <@UALICE> · _printer VPN_"
        in lines[1]
    )
    assert "`203.0.113.7` *was approved by <@UBOB>, and it is unblocked* · requested by <@UALICE>" in lines[2]
    assert len(lines) == 3


# 6. a choice or a page made up ------------------------------------------------------------------------------------


#: the values of a List more or a choice button made up: not JSON, or not what the bot puts there
TAMPERED = [
    *((LIST_MORE, value) for value in ("not json", '{"t": null, "s": -5}', '{"t": "' + "x" * 99 + '", "s": 0}', "[]")),
    (CHOOSE, "not json"),
    *(
        (CHOOSE, json.dumps({"k": kind, "ids": ids, "r": reason}))
        for kind, ids, reason in [
            ("address", [0], None),
            ("address", ["42"], None),
            ("address", [42, 42], None),
            ("address", list(range(1, 60)), None),
            ("other", [42], None),
            ("address", [42], "x" * 400),
        ]
    ),
]


async def test_a_tampered_choice_or_more_button_is_refused(harness: Harness) -> None:
    for action, value in TAMPERED:
        _, response_url = await harness.click(action, value, user=ALICE)
        await harness.settle()

        assert "out of date" in harness.notes(response_url)[0], value
    assert harness.pbx.requests == [] and harness.cards() == []
