"""Undo: an approver puts back, once and as it was, what an unblock removed, within its window; an entry already
gone is not put back, and an undo 3CX refused says what to add again by hand."""

from __future__ import annotations

import asyncio

from bot.domain.model import State, UnblockRequest

from .fakes.openapi_check import check_against_spec
from .harness import ALICE, APPROVE, BOB, CAROL, UNDO, Harness, block_text, buttons


async def unblocked(harness: Harness, text: str = "42", requester: str = ALICE) -> UnblockRequest:
    """A request for ``text`` that Bob approved."""
    request = await harness.open_card(text, user=requester)
    await harness.click(APPROVE, request, user=BOB)
    await harness.settle()
    return request


async def test_undo_puts_the_entry_back_as_it_was(harness: Harness) -> None:
    request = await unblocked(harness)
    [undo] = buttons(harness.cards()[0].blocks)
    assert undo["action_id"] == UNDO and "confirm" in undo
    await harness.click(UNDO, request, user=CAROL)
    await harness.settle()

    [post] = harness.pbx.calls("POST", "/xapi/v1/Blocklist")
    assert post.json == {
        "IPAddrMask": "203.0.113.7",
        "Description": "Failed SIP registrations",
        "BlockType": "Block",
        "ExpiresAt": "2026-12-01T08:00:00+00:00",
    }
    restored = [e for e in harness.pbx.entries.values() if e["IPAddrMask"] == "203.0.113.7"]
    assert len(restored) == 1
    text = block_text(harness.cards()[0].blocks)
    assert (
        "203.0.113.7 was undone by <@UCAROL>: it is blocked again.*\nApproved by <@UBOB>, requested by <@UALICE>."
        in text
    )
    assert buttons(harness.cards()[0].blocks) == []
    # undone, in the same words everywhere: the card, the requester's message and the history
    _, history_url = await harness.command("history", user=CAROL)
    await harness.settle()
    said = "was undone by <@UCAROL>: it is blocked again"
    assert said in block_text(harness.cards(ALICE)[-1].blocks) and said in harness.shown(history_url)[0]
    stored = await harness.stored(request)
    assert (stored.state, stored.done.undone_by) == (State.UNDONE, CAROL)
    assert stored.done.undo_results[0].new_id == str(restored[0]["Id"])
    assert check_against_spec(harness.pbx.requests) == []


async def test_undo_of_a_number(harness: Harness) -> None:
    harness.pbx.add_number("n-5", "+15550100", "Robocaller?")
    request = await unblocked(harness, "+15550100")

    await harness.click(UNDO, request, user=CAROL)
    await harness.settle()

    [post] = harness.pbx.calls("POST", "/xapi/v1/BlackListNumbers")
    assert post.json == {"CallerId": "+15550100", "Description": "Robocaller?"}


async def test_undo_by_the_approver_who_asked_or_after_the_window_is_refused(harness: Harness) -> None:
    request = await unblocked(harness, requester=CAROL)  # (a person who is no approver: tests/test_words.py)

    _, response_url = await harness.click(UNDO, request, user=CAROL)
    await harness.settle()
    assert "someone else has to undo it" in harness.notes(response_url)[0]
    harness.clock.advance(601)
    _, response_url = await harness.click(UNDO, request, user=BOB)
    await harness.settle()

    assert "too late to undo" in harness.notes(response_url)[0]
    assert buttons(harness.cards()[0].blocks) == []  # the button goes
    assert (await harness.stored(request)).state is State.UNBLOCKED
    assert harness.pbx.calls("POST", "/xapi/v1/") == []


async def test_a_failed_undo_says_what_to_add_again(harness: Harness) -> None:
    request = await unblocked(harness)
    harness.pbx.forbidden = True

    await harness.click(UNDO, request, user=CAROL)
    await harness.settle()

    text = block_text(harness.cards()[0].blocks)
    assert "203.0.113.7 was approved by <@UBOB>; the undo by <@UCAROL> could not block it again" in text
    assert "System Admin role" in text
    # what to add, in the words of 3CX's own form
    assert "An admin can add it again by hand in 3CX: `203.0.113.7` on the IP blocklist, type Block, expiring " in text
    assert "|2026-12-01 08:00 UTC>, description _Failed SIP registrations_." in text
    assert '"IPAddrMask"' not in text and "console" not in text
    assert (await harness.stored(request)).state is State.UNDO_FAILED


async def test_approving_and_undoing_twice_puts_the_entry_back_once(harness: Harness) -> None:
    await asyncio.gather(harness.command("42", user=ALICE), harness.command("42", user=CAROL))
    await harness.settle()
    [card] = harness.cards()
    request = await harness.request_for(card)
    await harness.click(APPROVE, request, user=BOB)
    await harness.settle()
    harness.pbx.delay = 0.2

    clicks = await asyncio.gather(*(harness.click(UNDO, request, user=u) for u in (CAROL, BOB, CAROL)))
    await harness.settle()

    assert len(harness.pbx.calls("POST", "/xapi/v1/")) == 1
    assert [e["IPAddrMask"] for e in harness.pbx.entries.values()] == ["203.0.113.7"]
    notes = [n for _, url in clicks for n in harness.notes(url)]
    assert sum("already undone" in n for n in notes) == 2


async def test_an_entry_that_was_already_gone_is_not_put_back(harness: Harness) -> None:
    request = await harness.open_card()
    del harness.pbx.entries[42]  # someone removed it in 3CX meanwhile

    await harness.click(APPROVE, request, user=BOB)
    await harness.settle()
    text = block_text(harness.cards()[0].blocks)
    assert "Request to unblock 203.0.113.7 was approved by <@UBOB>; it was already gone from 3CX.*" in text
    stored = await harness.stored(request)
    assert (stored.state, stored.outcome) == (State.UNBLOCKED, "already_gone")
    assert all(r.path == "/xapi/v1/Blocklist(42)" for r in harness.pbx.calls("DELETE"))
    _, url = await harness.click(UNDO, request, user=BOB)
    await harness.settle()

    assert buttons(harness.cards()[0].blocks) == []  # no Undo offered
    assert harness.notes(url) == ["There is nothing to undo: this request removed nothing from 3CX."]
    assert harness.pbx.calls("POST", "/xapi/v1/") == [] and harness.pbx.entries == {}
