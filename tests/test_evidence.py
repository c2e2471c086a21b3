"""What 3CX knows, through the real app: the card shows the event-log lines that name the address, the phones
registered there and when 3CX lifts the block by itself; the outcome and the requester's direct message say what
usually fixes it; a part 3CX refuses, lacks or is slow to tell is left out and the card still comes; a block that
comes back within 30 days is also said in the thread of the card that unblocked it."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from .conftest import MakeHarness
from .harness import ALICE, APPROVE, BOB, CAROL, GENERAL, Harness, block_text
from .test_watch import announced, look, watching

FAILED = "Failed authentication for extension 104 from 203.0.113.7:5060"
FIX = (
    "3CX logged failed registrations for extension 104 from this address: check that phone's SIP password, or 3CX "
    "will block it again after 5 tries."
)
EVIDENCE_PATHS = ("/xapi/v1/EventLogs", "/xapi/v1/SipDevices", "/xapi/v1/AntiHackingSettings")


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


def what_3cx_knows(harness: Harness) -> None:
    """Entry 42 (203.0.113.7) blocked for 40 more minutes; four lines of the event log name the address (and one
    names another that starts the same), Alice's phone registers from it; 3CX blocks after 5 failures."""
    now = harness.clock()
    harness.pbx.add_entry(42, "203.0.113.7", expires_at=iso(now + 40 * 60 + 30))
    harness.pbx.log_event("Registration of 105 from 203.0.113.70 failed", at=now - 500)
    for minutes in (30, 20, 10):
        harness.pbx.log_event(f"Call from 203.0.113.7 rejected ({minutes})", at=now - minutes * 60)
    harness.pbx.log_event(FAILED, at=now - 60)
    harness.pbx.add_phone("203.0.113.7:5060", "104", "Alice Smith", "Yealink", "T54W")
    harness.pbx.add_phone("203.0.113.70:5060", "105", "Dan Other", "Snom", "D785")
    harness.pbx.anti_hacking(HackAuthRequests=5, HackBlacklistDuration=86400)


async def test_the_card_shows_what_3cx_logged_the_phones_there_and_when_3cx_lifts_the_block(harness: Harness) -> None:
    what_3cx_knows(harness)

    await harness.open_card("42 my desk phone")

    text = block_text(harness.cards()[-1].blocks)
    assert "*3CX logged:*" in text
    assert FAILED in text and "rejected (10)" in text and "rejected (20)" in text  # the newest three
    assert "rejected (30)" not in text and "203.0.113.70" not in text
    assert "Phones at this address: 104 Alice Smith (Yealink T54W)" in text and "Dan Other" not in text
    assert "3CX lifts this block by itself at <!date^" in text and "(in 40 minutes)." in text
    # asked alongside the entry, each once, filtered by 3CX
    [logs] = harness.pbx.calls("GET", "/xapi/v1/EventLogs")
    assert logs.query["$top"] == "15" and "203.0.113.7" in logs.query["$filter"]
    [phones] = harness.pbx.calls("GET", "/xapi/v1/SipDevices")
    assert "203.0.113.7" in phones.query["$filter"] and phones.query["$expand"] == "DN"
    assert len(harness.pbx.calls("GET", "/xapi/v1/AntiHackingSettings")) == 1


async def test_after_the_unblock_the_outcome_and_the_requester_are_told_what_usually_fixes_it(
    harness: Harness,
) -> None:
    what_3cx_knows(harness)
    request = await harness.open_card("42")

    await harness.click(APPROVE, request, user=BOB)
    await harness.settle()

    assert FIX in block_text(harness.cards()[-1].blocks)
    [dm] = harness.cards(ALICE)
    assert FIX in block_text(dm.blocks)


@pytest.mark.parametrize("path", EVIDENCE_PATHS)
@pytest.mark.parametrize("status", [403, 404])
async def test_a_part_3cx_refuses_or_lacks_is_left_out_and_the_rest_is_shown(
    harness: Harness, path: str, status: int
) -> None:
    what_3cx_knows(harness)
    harness.pbx.refuse(path.removeprefix("/xapi/v1"), status)

    request = await harness.open_card("42")
    card = block_text(harness.cards()[-1].blocks)
    await harness.click(APPROVE, request, user=BOB)
    await harness.settle()

    logs, phones, thresholds = (path == p for p in EVIDENCE_PATHS)
    assert ("*3CX logged:*" in card) is not logs
    assert ("Phones at this address: 104 Alice Smith" in card) is not phones
    told = block_text(harness.cards(ALICE)[0].blocks)
    assert ("check that phone's SIP password" in told) is not logs
    assert ("after 5 tries" in told) is not (logs or thresholds)
    assert (await harness.stored(request)).state.value == "unblocked"


async def test_a_3cx_slow_to_tell_leaves_it_out_and_the_card_still_comes(make_harness: MakeHarness) -> None:
    harness = await make_harness(THREECX_TIMEOUT="0.5")
    what_3cx_knows(harness)
    for path in EVIDENCE_PATHS:
        harness.pbx.slow(path.removeprefix("/xapi/v1"), 30)

    await harness.open_card("42")

    text = block_text(harness.cards()[-1].blocks)
    assert "3CX logged" not in text and "Phones at this address" not in text
    assert "3CX lifts this block by itself" in text  # the entry's own expiry is never waited for


async def test_a_block_that_comes_back_is_said_in_the_thread_of_the_card_that_unblocked_it(harness: Harness) -> None:
    what_3cx_knows(harness)
    first = await harness.open_card("42")
    await harness.click(APPROVE, first, user=BOB)
    await harness.settle()
    harness.pbx.add_entry(57, "203.0.113.7")  # blocked again, with a new Id
    harness.pbx.log_event("Failed authentication for extension 104 from 203.0.113.7 again", at=harness.clock())

    await harness.open_card("203.0.113.7", user=CAROL)

    first_ts = await harness.card_ts(first)
    assert first_ts is not None
    [reply] = harness.slack.replies(GENERAL, first_ts)
    text = block_text(reply.blocks)
    assert "Blocked again: 203.0.113.7." in text
    assert f"<@{CAROL}> asks to unblock it again" in text and f"after <@{BOB}> unblocked it" in text
    assert "See the new request" in text and "again" in text.split("*3CX logged:*")[1]
    # and the report lists it, with how soon
    _, response_url = await harness.command("report", user=BOB)
    await harness.settle()
    [report] = harness.shown(response_url)
    assert "*Blocked again within 30 days of an unblock*" in report
    assert re.search(rf"• 203\.0\.113\.7: \d+ seconds after <@{BOB}> unblocked it", report)


async def test_a_block_the_watcher_finds_again_is_said_in_the_earlier_cards_thread(make_harness: MakeHarness) -> None:
    harness = await watching(make_harness)
    await look(harness)  # the mark: entry 42 is not news
    first = await harness.open_card("42")
    await harness.click(APPROVE, first, user=BOB)
    await harness.settle()
    harness.pbx.add_entry(57, "203.0.113.7")
    harness.pbx.log_event(FAILED, at=harness.clock())

    await look(harness)

    [announcement] = announced(harness)
    assert "Blocked again" in block_text(announcement.blocks)
    first_ts = await harness.card_ts(first)
    assert first_ts is not None
    [reply] = harness.slack.replies(GENERAL, first_ts)
    text = block_text(reply.blocks)
    assert "3CX blocked it again" in text and f"after <@{BOB}> unblocked it" in text
    assert "See the announcement" in text and FAILED in text
    # the report lists it though nobody asked about it again
    _, response_url = await harness.command("report", user=BOB)
    await harness.settle()
    [report] = harness.shown(response_url)
    assert re.search(rf"• 203\.0\.113\.7: \d+ seconds after <@{BOB}> unblocked it", report)
