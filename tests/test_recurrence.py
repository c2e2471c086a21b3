"""What keeps coming back: a card for an address the bot unblocked before says when and by whom, and offers
Approve and allow first, for the longest duration; a watch announcement of a block that comes back says it is
blocked again. Earlier unblocks are found by the address, never by 3CX's Id (3CX gives a re-added entry a new
one)."""

from __future__ import annotations

import re
from typing import Any

from bot.domain.model import State

from .conftest import MakeHarness
from .harness import (
    ALICE,
    ALLOW_FOR,
    APPROVE,
    APPROVE_ALLOW,
    BOB,
    CAROL,
    UNDO,
    Harness,
    allow_row,
    block_text,
    wait_for,
)
from .test_watch import announced, look, watching

HOUR, DAY = 3600, 86400
#: the words of the card's line, with the date as Slack's date token
LINE = re.compile(r"Unblocked (once|\d+ times) in the last 30 days \(last: <!date\^(\d+)\^[^>]*>, by (.+)\)")


def block_ids(blocks: list[dict[str, Any]]) -> list[str]:
    return [b.get("block_id", "") for b in blocks]


async def test_a_second_request_for_an_address_says_when_it_was_unblocked_and_offers_allow_first(
    harness: Harness,
) -> None:
    first = await harness.open_card("42")  # a first request: nothing to say, Approve first, the shortest duration
    blocks = harness.cards()[0].blocks
    assert "Unblocked" not in block_text(blocks)
    assert block_ids(blocks).index("unblock_decision") < block_ids(blocks).index("unblock_allow")
    assert allow_row(blocks)[0]["initial_option"]["value"] == f"{first.id}:{HOUR}"
    await harness.click(APPROVE, first, user=BOB)
    await harness.settle()
    assert (await harness.stored(first)).state is State.UNBLOCKED
    harness.pbx.add_entry(57, "203.0.113.7")  # 3CX blocks it again, with a new Id
    request = await harness.open_card("57", user=CAROL)

    blocks = harness.cards()[-1].blocks
    [line] = [m for m in LINE.finditer(block_text(blocks))]
    assert line.group(1) == "once" and line.group(3) == f"<@{BOB}>"
    assert int(line.group(2)) == int((await harness.stored(first)).decision.at or 0)
    # Approve and allow comes first, for the longest duration the rule offers
    assert block_ids(blocks).index("unblock_allow") < block_ids(blocks).index("unblock_decision")
    choose, allow = allow_row(blocks)
    assert choose["initial_option"]["value"] == allow["value"] == f"{request.id}:{7 * DAY}"
    assert allow["action_id"] == APPROVE_ALLOW and allow["text"]["text"] == "Approve and allow for 7 days"

    # a duration chosen later redraws the card with the line, after a restart too (read again from the store)
    await harness.restart()
    await harness.choose(ALLOW_FOR, request, f"{request.id}:{DAY}", user=BOB)
    await harness.settle()
    await wait_for(lambda: LINE.search(block_text(harness.cards()[-1].blocks)), what="the card drawn with the line")
    blocks = harness.cards()[-1].blocks
    assert block_ids(blocks).index("unblock_allow") < block_ids(blocks).index("unblock_decision")
    assert allow_row(blocks)[1]["value"] == f"{request.id}:{DAY}"
    assert (await harness.stored(request)).state is State.PENDING


async def test_a_request_after_an_undone_unblock_says_nothing_of_it_and_offers_approve_first(harness: Harness) -> None:
    first = await harness.open_card("42")
    await harness.click(APPROVE, first, user=BOB)
    await harness.settle()
    await harness.click(UNDO, first, user=CAROL)
    await harness.settle()
    restored = await harness.stored(first)
    assert restored.state is State.UNDONE
    new_id = restored.done.undo_results[0].new_id

    await harness.open_card(str(new_id), user=ALICE)

    blocks = harness.cards()[-1].blocks
    assert "Unblocked" not in block_text(blocks)
    assert block_ids(blocks).index("unblock_decision") < block_ids(blocks).index("unblock_allow")


async def test_a_block_that_comes_back_is_announced_as_blocked_again(make_harness: MakeHarness) -> None:
    harness = await watching(make_harness)  # entry 42 is on the list already
    await look(harness)
    first = await harness.open_card("42", user=ALICE)
    await harness.click(APPROVE, first, user=BOB)
    await harness.settle()
    harness.clock.advance(2 * DAY + 60)
    harness.pbx.add_entry(57, "203.0.113.7")  # 3CX blocks it again, with a new Id
    harness.pbx.add_entry(58, "198.51.100.9")  # never unblocked

    await look(harness)

    again, other = announced(harness)
    assert "3CX blocked 203.0.113.7" in block_text(again.blocks)
    assert f"Blocked again, 2 days after <@{BOB}> unblocked it." in block_text(again.blocks)
    assert "again" not in block_text(other.blocks)
