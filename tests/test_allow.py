"""Approve and allow: the block removed, and an allow entry for the same address for the chosen time."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.domain.model import State, UnblockRequest
from bot.slack.buttons import ALLOW_FOR, APPROVE_ALLOW, UNDO
from bot.threecx.models import expires_at
from bot.threecx.retry import RetryPolicy

from .conftest import MakeHarness
from .fakes.slack import FakeSlack
from .fakes.threecx import FakeThreeCX
from .harness import ALICE, BOB, CAROL, Harness, allow_row, block_text, buttons, posts, wait_for, xapi_calls
from .processes import BotProcess, start_http_bot

HOUR, DAY = 3600, 86400


async def approve_and_allow(harness: Harness, request: UnblockRequest, seconds: int, user: str = BOB) -> UnblockRequest:
    reply, _ = await harness.click(APPROVE_ALLOW, request, user=user, value=f"{request.id}:{seconds}")
    assert reply.status == 200
    await harness.settle()
    return await harness.stored(request)


async def undo_removes_the_allow_entry_then_blocks(harness: Harness, request: UnblockRequest, allow_id: int) -> None:
    """Click Undo: 3CX is asked, after the unblock's DELETE and POST, to remove the allow entry, then to add the
    block back."""
    await harness.click(UNDO, request, user=CAROL)
    await harness.settle()
    assert (await harness.stored(request)).state is State.UNDONE
    assert xapi_calls(harness.pbx)[2:] == [
        ("DELETE", f"/xapi/v1/Blocklist({allow_id})"),
        ("POST", "/xapi/v1/Blocklist"),
    ]


async def test_the_card_offers_approve_and_allow_with_the_first_duration_chosen_and_named(harness: Harness) -> None:
    request = await harness.open_card()

    choose, allow = allow_row(harness.cards()[0].blocks)
    assert choose["type"] == "static_select" and choose["action_id"] == ALLOW_FOR
    assert [o["text"]["text"] for o in choose["options"]] == ["Allow for 1 hour", "Allow for 1 day", "Allow for 7 days"]
    assert choose["initial_option"]["value"] == f"{request.id}:{HOUR}"
    assert (allow["action_id"], allow["value"]) == (APPROVE_ALLOW, f"{request.id}:{HOUR}")
    assert allow["text"]["text"] == "Approve and allow for 1 hour"
    assert "203.0.113.7" in allow["confirm"]["text"]["text"] and "1 hour" in allow["confirm"]["text"]["text"]

    # choosing another duration redraws the card: the button and its confirmation name the new one
    await harness.choose(ALLOW_FOR, request, f"{request.id}:{DAY}", user=BOB)
    await harness.settle()
    choose, allow = allow_row(harness.cards()[0].blocks)
    assert choose["initial_option"]["value"] == allow["value"] == f"{request.id}:{DAY}"
    assert allow["text"]["text"] == "Approve and allow for 1 day" and "1 day" in allow["confirm"]["text"]["text"]
    assert xapi_calls(harness.pbx) == [] and (await harness.stored(request)).state is State.PENDING


async def test_approve_and_allow_removes_the_block_and_allows_the_address_until_then(harness: Harness) -> None:
    request = await harness.open_card()

    done = await approve_and_allow(harness, request, DAY)

    assert done.state is State.UNBLOCKED and done.allow_for == DAY
    [result] = done.results
    assert result.allow_id is not None and result.allowed_until is not None and not result.allow_existed
    assert done.resolved_at is not None and 0 <= result.allowed_until - (done.resolved_at + DAY) < 60
    # exactly what 3CX received: the block removed, then one allow entry for the same address
    assert xapi_calls(harness.pbx) == [("DELETE", "/xapi/v1/Blocklist(42)"), ("POST", "/xapi/v1/Blocklist")]
    [body] = posts(harness.pbx)
    assert body["IPAddrMask"] == "203.0.113.7" and body["BlockType"] == "Allow"
    assert body["ExpiresAt"] == expires_at(result.allowed_until)
    assert "UBOB" in body["Description"] and request.id in body["Description"] and "1 day" in body["Description"]
    assert harness.pbx.entries == {result.allow_id: {**body, "Id": result.allow_id, "AddedBy": None}}
    text = block_text(harness.cards()[0].blocks)
    assert "Request to unblock 203.0.113.7 was approved by <@UBOB>, and it is unblocked.*" in text
    assert f"Allowed until <!date^{int(result.allowed_until)}^" in text and f"allow entry {result.allow_id}" in text


async def test_undo_of_an_allowed_unblock_removes_the_allow_entry_and_puts_the_block_back(harness: Harness) -> None:
    original = dict(harness.pbx.entries[42])
    request = await harness.open_card()
    done = await approve_and_allow(harness, request, HOUR)
    allow_id = done.results[0].allow_id
    assert allow_id is not None
    [undo] = [b for b in buttons(harness.cards()[0].blocks) if b["action_id"] == UNDO]
    assert "Remove the allow entry" in undo["confirm"]["text"]["text"]

    await undo_removes_the_allow_entry_then_blocks(harness, request, allow_id)
    block = posts(harness.pbx)[1]
    assert block == {k: original[k] for k in ("IPAddrMask", "Description", "BlockType", "ExpiresAt")}
    [(new_id, entry)] = harness.pbx.entries.items()
    assert entry == {**original, "Id": new_id, "AddedBy": None}  # the block as it was, and no allow entry
    assert "was undone by <@UCAROL>: it is blocked again." in block_text(harness.cards()[0].blocks)


async def test_a_caller_number_is_not_offered_an_allow_and_a_forged_click_changes_nothing(harness: Harness) -> None:
    harness.pbx.add_number("n1", "+15550100")
    request = await harness.open_card("number +15550100")

    assert allow_row(harness.cards()[0].blocks) == []
    _, response_url = await harness.click(APPROVE_ALLOW, request, user=BOB, value=f"{request.id}:{HOUR}")
    await harness.settle()

    assert harness.notes(response_url) == [
        "Approve and allow is only for one IP address, or a network no wider than /24 (IPv6: /64); nothing was changed."
    ]
    assert (await harness.stored(request)).state is State.PENDING and xapi_calls(harness.pbx) == []


async def test_a_duration_the_bot_does_not_offer_changes_nothing(harness: Harness) -> None:
    request = await harness.open_card()

    _, response_url = await harness.click(APPROVE_ALLOW, request, user=BOB, value=f"{request.id}:{2 * HOUR}")
    await harness.settle()

    assert harness.notes(response_url) == ["That duration is not offered; choose one on the card and try again."]
    assert (await harness.stored(request)).state is State.PENDING and xapi_calls(harness.pbx) == []


async def test_an_address_already_allowed_is_not_given_a_second_allow_entry(harness: Harness) -> None:
    harness.pbx.add_entry(
        77, "203.0.113.0/24", block_type="Allow", added_by="Manual", expires_at="2031-01-01T00:00:00Z"
    )
    harness.pbx.add_entry(78, "203.0.113.7", block_type="Allow", added_by="Manual", expires_at="2020-01-01T00:00:00Z")
    request = await harness.open_card()

    done = await approve_and_allow(harness, request, DAY)

    assert xapi_calls(harness.pbx) == [("DELETE", "/xapi/v1/Blocklist(42)")]  # the expired entry 78 does not count
    [result] = done.results
    assert (result.allow_id, result.allow_existed) == (77, True)
    text = block_text(harness.cards()[0].blocks)
    assert "was already allowed, until <!date^1924992000^" in text and "no second allow entry was added" in text

    # its undo puts the block back and leaves the allow entry that was there before alone
    await harness.click(UNDO, request, user=CAROL)
    await harness.settle()
    assert xapi_calls(harness.pbx)[1:] == [("POST", "/xapi/v1/Blocklist")] and 77 in harness.pbx.entries


async def test_an_allow_entry_3cx_refuses_leaves_the_unblock_done_and_says_so(harness: Harness) -> None:
    error = {"error": {"code": "", "message": "BlockType:\nWARNINGS.XAPI.INVALID"}}
    harness.pbx.fail_next(400, method="POST", body=json.dumps(error), content_type="application/json")
    request = await harness.open_card()

    done = await approve_and_allow(harness, request, HOUR)

    assert done.state is State.UNBLOCKED and done.results[0].allow_id is None
    assert 42 not in harness.pbx.entries and len(posts(harness.pbx)) == 1
    text = block_text(harness.cards()[0].blocks)
    assert "The allow entry could not be added, so 3CX may block 203.0.113.7 again" in text
    assert "WARNINGS.XAPI.INVALID" in text


async def test_a_lost_answer_to_the_allow_entry_is_looked_up_not_sent_again(make_harness: MakeHarness) -> None:
    harness = await make_harness(THREECX_TIMEOUT="0.5")
    harness.retry = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05, budget=0.5)
    await harness.restart()
    request = await harness.open_card()
    harness.pbx.drop_next(method="POST", after_effect=True)  # 3CX adds it; its answer never arrives

    done = await approve_and_allow(harness, request, HOUR)

    assert len(posts(harness.pbx)) == 1
    [allow_id] = [i for i, e in harness.pbx.entries.items() if e["BlockType"] == "Allow"]
    assert done.results[0].allow_id == allow_id and "Allowed until" in block_text(harness.cards()[0].blocks)


async def test_an_allow_entry_3cx_added_after_its_answer_was_lost_and_looked_for_is_removed_by_undo(
    make_harness: MakeHarness,
) -> None:
    harness = await make_harness(THREECX_TIMEOUT="0.5")
    harness.retry = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05, budget=0.5)
    await harness.restart()
    request = await harness.open_card()
    harness.pbx.delay_of["POST"] = 3.0  # 3CX adds the allow entry long after the bot stopped waiting and looked

    done = await approve_and_allow(harness, request, HOUR)
    assert done.state is State.UNBLOCKED and done.results[0].allow_id is None
    await wait_for(lambda: any(e["BlockType"] == "Allow" for e in harness.pbx.entries.values()), what="3CX's add")
    harness.pbx.delay_of.clear()

    await harness.click(UNDO, request, user=CAROL)
    await harness.settle()

    assert (await harness.stored(request)).state is State.UNDONE
    assert [(e["IPAddrMask"], e["BlockType"]) for e in harness.pbx.entries.values()] == [("203.0.113.7", "Block")]
    assert len(posts(harness.pbx)) == 2  # the allow entry's, once, and the block put back


@pytest.mark.parametrize("applied", [True, False], ids=["3CX added it after the kill", "3CX refused it"])
async def test_an_allow_under_way_when_the_bot_was_killed_is_finished_once_after_a_restart(
    processes: list[BotProcess], slack: FakeSlack, pbx: FakeThreeCX, tmp_path: Path, applied: bool
) -> None:
    first, driver = await start_http_bot(processes, slack, pbx, tmp_path, THREECX_TIMEOUT="1")
    await driver.command("42")
    await wait_for(lambda: driver.cards(), what="the card")
    request_id = str(buttons(driver.cards()[0].blocks)[0]["value"])

    pbx.delay_of["POST"] = 4.0  # 3CX takes 4 s to add the allow entry (or, unless applied, to refuse it)
    if not applied:
        pbx.fail_next(503, method="POST")
    await driver.click(APPROVE_ALLOW, request_id, user=BOB, value=f"{request_id}:{HOUR}")
    await wait_for(lambda: posts(pbx), what="the allow entry's POST to reach 3CX")
    first.kill()  # SIGKILL, between sending the POST and hearing 3CX's answer
    await first.wait()
    pbx.delay_of.clear()  # the call already under way keeps its 4 s
    assert 42 not in pbx.entries
    second, driver = await start_http_bot(processes, slack, pbx, tmp_path, THREECX_TIMEOUT="1")
    await wait_for(lambda: "Allowed until" in block_text(driver.cards()[0].blocks), timeout=60, what="the card")
    assert await second.stop() == 0

    assert len(posts(pbx)) == (1 if applied else 2)
    assert [e["BlockType"] for e in pbx.entries.values()] == ["Allow"]  # one allow entry, and the block gone
    assert "finished after a restart of the bot" in block_text(driver.cards()[0].blocks)
    assert [c.args["channel"] for c in slack.calls_to("chat.postMessage")].count(ALICE) == 1  # told once


async def test_approve_and_allow_can_be_turned_off(make_harness: MakeHarness) -> None:
    harness = await make_harness(UNBLOCK_ALLOW_DURATIONS="off")
    request = await harness.open_card()

    assert allow_row(harness.cards()[0].blocks) == []
    _, response_url = await harness.click(APPROVE_ALLOW, request, user=BOB, value=f"{request.id}:{HOUR}")
    await harness.settle()

    assert harness.notes(response_url) == ["That duration is not offered; choose one on the card and try again."]
    assert (await harness.stored(request)).state is State.PENDING and xapi_calls(harness.pbx) == []


async def test_an_undo_after_approve_and_allow_was_turned_off_still_removes_its_allow_entry(
    harness: Harness,
) -> None:
    request = await harness.open_card()
    allow_id = (await approve_and_allow(harness, request, HOUR)).results[0].allow_id
    assert allow_id is not None
    await harness.restart_with(UNBLOCK_ALLOW_DURATIONS="off")

    await undo_removes_the_allow_entry_then_blocks(harness, request, allow_id)
    assert [e["BlockType"] for e in harness.pbx.entries.values()] == ["Block"]
