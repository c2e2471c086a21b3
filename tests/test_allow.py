"""Allow entries: Approve and allow (the block removed, and an allow entry for the same address for the chosen
time), only for one address or a narrow network; and Allow only (an address asked for inside a blocked network gets
an allow entry of its own while the network stays blocked, as 3CX lets the most specific entry win)."""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from bot.domain.model import State, UnblockRequest
from bot.threecx.retry import RetryPolicy

from .conftest import MakeHarness
from .fakes.slack import FakeSlack
from .fakes.threecx import FakeThreeCX
from .harness import (
    ALICE,
    ALLOW_FOR,
    ALLOW_ONLY,
    APPROVE_ALLOW,
    BOB,
    CAROL,
    UNDO,
    Harness,
    actions_row,
    allow_row,
    block_text,
    buttons,
    posts,
    wait_for,
    xapi_calls,
)
from .processes import BotProcess, start_http_bot

HOUR, DAY = 3600, 86400
#: a blocked network, and the one address asked for inside it
NETWORK_ID, NETWORK, ASKED = 50, "203.0.113.0/24", "203.0.113.7"
NOT_ALLOWABLE = (
    "Approve and allow is only for one IP address, or a network no wider than /24 (IPv6: /64); nothing was changed."
)
NOT_OFFERED = "That duration is not offered; choose one on the card and try again."
RULES = """
[[rule]]
name = "Carrier ranges"
networks = ["10.0.0.0/8"]
allow = []

[[rule]]
name = "Wide networks"
wider_than = 24
allow = ["1h"]
"""


def blocked_network(pbx: FakeThreeCX) -> None:
    """3CX blocks the network and nothing else (not the address itself, which the fixture blocks)."""
    pbx.entries.clear()
    pbx.add_entry(NETWORK_ID, NETWORK, description="Too many failed registrations", added_by="AutoBlacklist")


async def allow(harness: Harness, action: str, request: UnblockRequest, seconds: int) -> str:
    """Click Approve and allow or Allow only for ``seconds`` as Bob; the click's reply URL."""
    reply, response_url = await harness.click(action, request, user=BOB, value=f"{request.id}:{seconds}")
    assert reply.status == 200
    await harness.settle()
    return response_url


def allowed(pbx: FakeThreeCX) -> list[tuple[int, dict[str, Any]]]:
    """The allow entries 3CX has."""
    return [(i, e) for i, e in pbx.entries.items() if e["BlockType"] == "Allow"]


def until(body: dict[str, Any]) -> float:
    """When the allow entry 3CX was asked to add ends."""
    return datetime.fromisoformat(body["ExpiresAt"]).timestamp()


async def undo(harness: Harness, request: UnblockRequest) -> None:
    harness.pbx.reset_log()
    await harness.click(UNDO, request, user=CAROL)
    await harness.settle()
    assert (await harness.stored(request)).state is State.UNDONE


async def refused(harness: Harness, response_url: str, request: UnblockRequest, note: str) -> None:
    """The click was refused privately in ``note``, and nothing changed."""
    assert harness.notes(response_url) == [note]
    assert (await harness.stored(request)).state is State.PENDING and xapi_calls(harness.pbx) == []


@pytest.mark.parametrize("inside", [False, True], ids=["approve and allow", "allow only"])
async def test_the_card_offers_the_durations_with_the_first_chosen_and_named(harness: Harness, inside: bool) -> None:
    if inside:
        blocked_network(harness.pbx)
    request = await harness.open_card(ASKED)
    row, label = "unblock_allow", "Approve and allow for"
    if inside:
        row, label = "unblock_allow_only", "Allow only 203.0.113.7 for"

    choose, button = actions_row(harness.cards()[0].blocks, row)
    assert choose["type"] == "static_select" and choose["action_id"] == ALLOW_FOR
    assert [o["text"]["text"] for o in choose["options"]] == ["Allow for 1 hour", "Allow for 1 day", "Allow for 7 days"]
    assert choose["initial_option"]["value"] == button["value"] == f"{request.id}:{HOUR}"
    assert button["action_id"] == (ALLOW_ONLY if inside else APPROVE_ALLOW)
    assert button["text"]["text"] == f"{label} 1 hour"
    question = button["confirm"]["text"]["text"]
    assert "203.0.113.7" in question and "1 hour" in question
    if inside:
        assert "allow entry for 203.0.113.7 alone for 1 hour" in question
        assert "The block on 203.0.113.0/24 stays" in question

    # choosing another duration redraws the card: the button and its confirmation name the new one
    await harness.choose(ALLOW_FOR, request, f"{request.id}:{DAY}", user=BOB)
    await harness.settle()
    choose, button = actions_row(harness.cards()[0].blocks, row)
    assert choose["initial_option"]["value"] == button["value"] == f"{request.id}:{DAY}"
    assert button["text"]["text"] == f"{label} 1 day" and "1 day" in button["confirm"]["text"]["text"]
    assert xapi_calls(harness.pbx) == [] and (await harness.stored(request)).state is State.PENDING


# Approve and allow -----------------------------------------------------------------------------------------------


async def test_approve_and_allow_removes_the_block_and_allows_the_address_until_then(harness: Harness) -> None:
    original = dict(harness.pbx.entries[42])
    request = await harness.open_card()

    await allow(harness, APPROVE_ALLOW, request, DAY)

    assert (await harness.stored(request)).state is State.UNBLOCKED
    # exactly what 3CX received: the block removed, then one allow entry for the same address
    assert xapi_calls(harness.pbx) == [("DELETE", "/xapi/v1/Blocklist(42)"), ("POST", "/xapi/v1/Blocklist")]
    [body] = posts(harness.pbx)
    assert body["IPAddrMask"] == "203.0.113.7" and body["BlockType"] == "Allow"
    assert abs(until(body) - (time.time() + DAY)) < 60
    assert "UBOB" in body["Description"] and request.id in body["Description"] and "1 day" in body["Description"]
    [(allow_id, entry)] = harness.pbx.entries.items()
    assert entry == {**body, "Id": allow_id, "AddedBy": None}
    text = block_text(harness.cards()[0].blocks)
    assert "Request to unblock 203.0.113.7 was approved by <@UBOB>, and it is unblocked.*" in text
    assert f"Allowed until <!date^{int(until(body))}^" in text and f"allow entry {allow_id}" in text
    [button] = [b for b in buttons(harness.cards()[0].blocks) if b["action_id"] == UNDO]
    assert "Remove the allow entry" in button["confirm"]["text"]["text"]

    # its undo, even once Approve and allow is turned off: the allow entry removed, the block put back as it was
    await harness.restart_with(UNBLOCK_ALLOW_DURATIONS="off")
    await undo(harness, request)

    assert xapi_calls(harness.pbx) == [("DELETE", f"/xapi/v1/Blocklist({allow_id})"), ("POST", "/xapi/v1/Blocklist")]
    [(new_id, entry)] = harness.pbx.entries.items()
    assert entry == {**original, "Id": new_id, "AddedBy": None}
    assert "was undone by <@UCAROL>: it is blocked again." in block_text(harness.cards()[0].blocks)


@pytest.mark.parametrize(
    ("network", "covers"),
    [
        ("198.18.0.0/15", "131,072 addresses"),
        ("10.0.0.0/16", "65,536 addresses"),
        ("0.0.0.0/0", "4,294,967,296 addresses"),
        ("203.0.112.0/23", "512 addresses"),
        ("2001:db8::/48", "2^80 addresses"),
        ("2001:db8::/63", "2^65 addresses"),
        ("number", None),  # a caller number is no network at all
    ],
)
async def test_a_wide_network_gets_no_approve_and_allow_and_a_forged_one_is_refused_and_3cx_receives_nothing(
    harness: Harness, network: str, covers: str | None
) -> None:
    if network == "number":
        harness.pbx.add_number("n1", "+15550100")
        request = await harness.open_card("number +15550100")
    else:
        harness.pbx.add_entry(60, network)
        request = await harness.open_card("60")
    assert allow_row(harness.cards()[0].blocks) == []
    text = block_text(harness.cards()[0].blocks)
    if covers is not None:
        assert f"*Covers*\n{covers}" in text
        assert "Approve and allow is offered only for one address or a network up to /24 (IPv6: /64)." in text
    harness.pbx.reset_log()

    # a value made exactly like the bot's own button, for a duration the bot offers
    response_url = await allow(harness, APPROVE_ALLOW, request, HOUR)

    await refused(harness, response_url, request, NOT_ALLOWABLE)
    assert allow_row(harness.cards()[0].blocks) == []  # the card is as it was


@pytest.mark.parametrize("address", ["203.0.113.0/24", "2001:db8:1:2::/64", "2001:db8::1"])
async def test_a_narrow_network_or_an_ipv6_address_still_gets_approve_and_allow(harness: Harness, address: str) -> None:
    """A /24 asked for by an address inside it is offered Allow only too: Approve and allow lifts its block."""
    harness.pbx.entries.clear()
    harness.pbx.add_entry(60, address)
    request = await harness.open_card(ASKED if address == NETWORK else "60")
    _, button = allow_row(harness.cards()[0].blocks)
    assert button["action_id"] == APPROVE_ALLOW and button["value"] == f"{request.id}:{HOUR}"

    await allow(harness, APPROVE_ALLOW, request, HOUR)

    assert (await harness.stored(request)).state is State.UNBLOCKED
    assert xapi_calls(harness.pbx) == [("DELETE", "/xapi/v1/Blocklist(60)"), ("POST", "/xapi/v1/Blocklist")]
    [body] = posts(harness.pbx)
    assert body["IPAddrMask"] == address and body["BlockType"] == "Allow" and allowed(harness.pbx)
    assert "to allow only" not in block_text(harness.cards()[0].blocks)


@pytest.mark.parametrize("durations", [None, "off"], ids=["a duration not offered", "turned off"])
async def test_a_duration_the_bot_does_not_offer_changes_nothing(
    make_harness: MakeHarness, durations: str | None
) -> None:
    harness = await make_harness(UNBLOCK_ALLOW_DURATIONS=durations)
    request = await harness.open_card()
    assert (allow_row(harness.cards()[0].blocks) == []) == (durations == "off")

    response_url = await allow(harness, APPROVE_ALLOW, request, 2 * HOUR if durations is None else HOUR)

    await refused(harness, response_url, request, NOT_OFFERED)


async def test_an_address_already_allowed_is_not_given_a_second_allow_entry(harness: Harness) -> None:
    harness.pbx.add_entry(77, NETWORK, block_type="Allow", added_by="Manual", expires_at="2031-01-01T00:00:00Z")
    harness.pbx.add_entry(78, ASKED, block_type="Allow", added_by="Manual", expires_at="2020-01-01T00:00:00Z")
    request = await harness.open_card()

    await allow(harness, APPROVE_ALLOW, request, DAY)

    assert xapi_calls(harness.pbx) == [("DELETE", "/xapi/v1/Blocklist(42)")]  # the expired entry 78 does not count
    text = block_text(harness.cards()[0].blocks)
    assert "was already allowed, until <!date^1924992000^" in text and "no second allow entry was added" in text

    # its undo puts the block back and leaves the allow entry that was there before alone
    await undo(harness, request)
    assert xapi_calls(harness.pbx) == [("POST", "/xapi/v1/Blocklist")] and 77 in harness.pbx.entries


async def test_an_allow_entry_3cx_refuses_leaves_the_unblock_done_and_says_what_to_do_next(harness: Harness) -> None:
    error = {"error": {"code": "", "message": "BlockType:\nWARNINGS.XAPI.INVALID"}}
    harness.pbx.fail_next(400, method="POST", body=json.dumps(error), content_type="application/json")
    request = await harness.open_card()

    await allow(harness, APPROVE_ALLOW, request, HOUR)

    assert (await harness.stored(request)).state is State.UNBLOCKED
    assert harness.pbx.entries == {} and len(posts(harness.pbx)) == 1
    text = block_text(harness.cards()[0].blocks)
    assert (
        "The allow entry could not be added, so 3CX may block 203.0.113.7 again. To keep it in, an admin can add it "
        "by hand in 3CX's IP blocklist: 203.0.113.7, type Allow, for 1 hour; or ask again with `/unblock` and "
        "choose Approve and allow." in text
    )
    assert "WARNINGS.XAPI.INVALID" in text


async def impatient(make_harness: MakeHarness) -> Harness:
    """A bot that waits half a second for each call of 3CX's, and gives up retrying after another half."""
    harness = await make_harness(THREECX_TIMEOUT="0.5")
    harness.retry = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05, budget=0.5)
    await harness.restart()
    return harness


async def test_a_lost_answer_to_the_allow_entry_is_looked_up_not_sent_again(make_harness: MakeHarness) -> None:
    harness = await impatient(make_harness)
    request = await harness.open_card()
    harness.pbx.drop_next(method="POST", after_effect=True)  # 3CX adds it; its answer never arrives

    await allow(harness, APPROVE_ALLOW, request, HOUR)

    assert len(posts(harness.pbx)) == 1
    [(allow_id, _)] = allowed(harness.pbx)
    assert f"allow entry {allow_id}" in block_text(harness.cards()[0].blocks)


async def test_an_allow_entry_3cx_added_after_its_answer_was_lost_and_looked_for_is_removed_by_undo(
    make_harness: MakeHarness,
) -> None:
    harness = await impatient(make_harness)
    request = await harness.open_card()
    harness.pbx.delay_of["POST"] = 3.0  # 3CX adds the allow entry long after the bot stopped waiting and looked

    await allow(harness, APPROVE_ALLOW, request, HOUR)
    assert (await harness.stored(request)).state is State.UNBLOCKED
    assert "The allow entry could not be added" in block_text(harness.cards()[0].blocks)
    await wait_for(lambda: allowed(harness.pbx), what="3CX's add")
    harness.pbx.delay_of.clear()

    await undo(harness, request)

    assert [(e["IPAddrMask"], e["BlockType"]) for e in harness.pbx.entries.values()] == [("203.0.113.7", "Block")]
    assert len(posts(harness.pbx)) == 1  # the block put back; the allow entry was found and removed


@pytest.mark.long(10)
async def test_an_allow_under_way_when_the_bot_was_killed_is_finished_once_after_a_restart(
    processes: list[BotProcess], slack: FakeSlack, pbx: FakeThreeCX, tmp_path: Path
) -> None:
    """Approve and allow, killed while 3CX adds the allow entry; 3CX refusing it instead (sent again), and Allow
    only (the same look after the restart), are the domain tests' (test_carrying_out.py)."""
    first, driver = await start_http_bot(processes, slack, pbx, tmp_path, THREECX_TIMEOUT="1")
    await driver.command(ASKED)
    await wait_for(lambda: driver.cards(), what="the card")
    request_id = str(buttons(driver.cards()[0].blocks)[0]["value"])

    pbx.delay_of["POST"] = 4.0  # 3CX adds the allow entry 4 s later: the longest one call of the bot's lasts
    await driver.click(APPROVE_ALLOW, request_id, user=BOB, value=f"{request_id}:{HOUR}")
    await wait_for(lambda: posts(pbx), what="the allow entry's POST to reach 3CX")
    first.kill()  # SIGKILL, between sending the POST and hearing 3CX's answer
    await first.wait()
    pbx.delay_of.clear()  # the call already under way keeps its 4 s
    second, driver = await start_http_bot(processes, slack, pbx, tmp_path, THREECX_TIMEOUT="1")
    await wait_for(lambda: "Allowed until" in block_text(driver.cards()[0].blocks), timeout=60, what="the card")
    assert await second.stop() == 0

    assert len(posts(pbx)) == 1  # found after the restart, not sent again: never two entries
    assert [e["BlockType"] for e in pbx.entries.values()] == ["Allow"]  # one allow entry, and the block gone
    assert "finished after a restart of the bot" in block_text(driver.cards()[0].blocks)
    assert [c.args["channel"] for c in slack.calls_to("chat.postMessage")].count(ALICE) == 1  # told once


# Allow only --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["203.0.113.7", "50", "203.0.113.0/28"], ids=["the address", "by id", "a network"])
async def test_allow_only_is_offered_only_for_one_address_asked_inside_a_wider_entry(
    harness: Harness, text: str
) -> None:
    if text != "203.0.113.7":
        blocked_network(harness.pbx)  # else the fixture's entry 42 blocks 203.0.113.7 itself
    request = await harness.open_card(text)

    assert actions_row(harness.cards()[0].blocks, "unblock_allow_only") == []
    assert ALLOW_ONLY not in [b["action_id"] for b in buttons(harness.cards()[0].blocks)]
    # a click made up for it changes nothing
    harness.pbx.reset_log()
    response_url = await allow(harness, ALLOW_ONLY, request, HOUR)
    assert len(harness.notes(response_url)) == 1 and "nothing was changed" in harness.notes(response_url)[0]
    assert xapi_calls(harness.pbx) == [] and (await harness.stored(request)).state is State.PENDING


async def test_allow_only_adds_one_allow_entry_for_the_address_and_the_network_stays_blocked(harness: Harness) -> None:
    blocked_network(harness.pbx)
    request = await harness.open_card(ASKED)
    network_entry = dict(harness.pbx.entries[NETWORK_ID])

    await allow(harness, ALLOW_ONLY, request, DAY)

    assert (await harness.stored(request)).state is State.UNBLOCKED
    # exactly what 3CX received: one allow entry for the address alone, and no DELETE
    assert xapi_calls(harness.pbx) == [("POST", "/xapi/v1/Blocklist")]
    [body] = posts(harness.pbx)
    assert (body["IPAddrMask"], body["BlockType"]) == (ASKED, "Allow")
    assert abs(until(body) - (time.time() + DAY)) < 60
    assert "UBOB" in body["Description"] and request.id in body["Description"]
    [(allow_id, _)] = allowed(harness.pbx)
    assert harness.pbx.entries == {
        NETWORK_ID: network_entry,  # the network's block is still listed, unchanged
        allow_id: {**body, "Id": allow_id, "AddedBy": None},
    }
    stays = f"203.0.113.7 is allowed until <!date^{int(until(body))}^"
    text = block_text(harness.cards()[0].blocks)
    assert "Request to unblock 203.0.113.0/24 was approved by <@UBOB> to allow only 203.0.113.7.*" in text
    assert stays in text and "; the block on 203.0.113.0/24 stays." in text
    [direct] = [block_text(m.blocks) for m in harness.cards(ALICE)]
    assert "*Your request to unblock 203.0.113.0/24 was approved by <@UBOB> to allow only 203.0.113.7.*" in direct
    assert stays in direct and "; the block on 203.0.113.0/24 stays." in direct

    # Undo removes the allow entry, and only that: the network's block was never touched
    [button] = [b for b in buttons(harness.cards()[0].blocks) if b["action_id"] == UNDO]
    assert "Remove the allow entry for 203.0.113.7?" in button["confirm"]["text"]["text"]
    await undo(harness, request)

    assert xapi_calls(harness.pbx) == [("DELETE", f"/xapi/v1/Blocklist({allow_id})")]
    assert harness.pbx.entries == {NETWORK_ID: network_entry}
    assert "was undone by <@UCAROL>: 203.0.113.7 is blocked again." in block_text(harness.cards()[0].blocks)


async def test_an_address_already_allowed_gets_no_second_allow_entry_and_no_undo(harness: Harness) -> None:
    blocked_network(harness.pbx)
    request = await harness.open_card(ASKED)
    harness.pbx.add_entry(77, ASKED, block_type="Allow", added_by="Manual", expires_at="2031-01-01T00:00:00Z")

    await allow(harness, ALLOW_ONLY, request, HOUR)

    assert xapi_calls(harness.pbx) == [] and (await harness.stored(request)).state is State.UNBLOCKED
    text = block_text(harness.cards()[0].blocks)
    assert "203.0.113.7 was already allowed, until <!date^1924992000^" in text and "no allow entry was added" in text
    assert UNDO not in [b["action_id"] for b in buttons(harness.cards()[0].blocks)]


async def test_allow_only_offers_the_durations_of_the_rule_and_nothing_when_it_has_none(
    make_harness: MakeHarness, tmp_path: Path
) -> None:
    (tmp_path / "rules.toml").write_text(RULES)
    harness = await make_harness(UNBLOCK_RULES=str(tmp_path / "rules.toml"))
    harness.pbx.entries.clear()
    harness.pbx.add_entry(60, "172.16.0.0/16")
    harness.pbx.add_entry(61, "10.1.0.0/16")

    wide = await harness.open_card("172.16.5.9")
    await harness.open_card("10.1.2.3")

    first, second = harness.cards()
    choose, button = actions_row(first.blocks, "unblock_allow_only")
    assert [o["text"]["text"] for o in choose["options"]] == ["Allow for 1 hour"]
    assert button["text"]["text"] == "Allow only 172.16.5.9 for 1 hour"
    assert actions_row(first.blocks, "unblock_allow") == []  # a /16 is too wide for Approve and allow
    assert actions_row(second.blocks, "unblock_allow_only") == []

    await allow(harness, ALLOW_ONLY, wide, HOUR)
    assert (await harness.stored(wide)).state is State.UNBLOCKED
    assert [p["IPAddrMask"] for p in posts(harness.pbx)] == ["172.16.5.9"]
    assert 60 in harness.pbx.entries and harness.pbx.calls("DELETE") == []
