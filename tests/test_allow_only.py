"""Allow only: ``/unblock 203.0.113.7`` finds the address inside a blocked network; an allow entry for that one
address lets it through while the network stays blocked (3CX lets the most specific entry win), and Undo
removes only that allow entry."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.domain.model import State, UnblockRequest
from bot.slack.buttons import ALLOW_FOR, ALLOW_ONLY, APPROVE_ALLOW, UNDO
from bot.threecx.models import expires_at

from .conftest import MakeHarness
from .fakes.slack import FakeSlack
from .fakes.threecx import FakeThreeCX
from .harness import ALICE, BOB, CAROL, Harness, actions_row, block_text, buttons, posts, wait_for, xapi_calls
from .processes import BotProcess, start_http_bot

HOUR, DAY = 3600, 86400
#: the blocked network, and the one address asked for inside it
NETWORK_ID, NETWORK, ASKED = 50, "203.0.113.0/24", "203.0.113.7"


def blocked_network(pbx: FakeThreeCX, network: str = NETWORK, entry_id: int = NETWORK_ID) -> None:
    """3CX blocks ``network`` and nothing else (not the address itself, which the fixture blocks)."""
    pbx.entries.clear()
    pbx.add_entry(entry_id, network, description="Too many failed registrations", added_by="AutoBlacklist")


async def asked_inside(harness: Harness, text: str = ASKED) -> UnblockRequest:
    blocked_network(harness.pbx)
    return await harness.open_card(text)


async def allow_only(harness: Harness, request: UnblockRequest, seconds: int, user: str = BOB) -> UnblockRequest:
    reply, _ = await harness.click(ALLOW_ONLY, request, user=user, value=f"{request.id}:{seconds}")
    assert reply.status == 200
    await harness.settle()
    return await harness.stored(request)


async def test_the_card_of_an_address_inside_a_blocked_network_offers_allow_only(harness: Harness) -> None:
    request = await asked_inside(harness)

    assert request.asked_address == ASKED and [t.id for t in request.targets] == [NETWORK_ID]
    choose, allow = actions_row(harness.cards()[0].blocks, "unblock_allow_only")
    assert choose["type"] == "static_select" and choose["action_id"] == ALLOW_FOR
    assert [o["text"]["text"] for o in choose["options"]] == ["Allow for 1 hour", "Allow for 1 day", "Allow for 7 days"]
    assert (allow["action_id"], allow["value"]) == (ALLOW_ONLY, f"{request.id}:{HOUR}")
    assert allow["text"]["text"] == "Allow only 203.0.113.7 for 1 hour"
    question = allow["confirm"]["text"]["text"]
    assert "allow entry for 203.0.113.7 alone for 1 hour" in question
    assert "The block on 203.0.113.0/24 stays" in question

    # choosing another duration redraws the card: the Allow only button and its confirmation name it
    await harness.choose(ALLOW_FOR, request, f"{request.id}:{DAY}", user=BOB)
    await harness.settle()
    choose, allow = actions_row(harness.cards()[0].blocks, "unblock_allow_only")
    assert choose["initial_option"]["value"] == allow["value"] == f"{request.id}:{DAY}"
    assert allow["text"]["text"] == "Allow only 203.0.113.7 for 1 day"
    assert "for 1 day?" in allow["confirm"]["text"]["text"]
    assert xapi_calls(harness.pbx) == [] and (await harness.stored(request)).state is State.PENDING


@pytest.mark.parametrize("text", ["203.0.113.7", "50", "203.0.113.0/28"], ids=["the address", "by id", "a network"])
async def test_allow_only_is_offered_only_for_one_address_asked_inside_a_wider_entry(
    harness: Harness, text: str
) -> None:
    if text != "203.0.113.7":
        blocked_network(harness.pbx)  # else the fixture's entry 42 blocks 203.0.113.7 itself
    request = await harness.open_card(text)

    assert request.asked_address is None
    assert actions_row(harness.cards()[0].blocks, "unblock_allow_only") == []
    assert ALLOW_ONLY not in [b["action_id"] for b in buttons(harness.cards()[0].blocks)]


async def test_allow_only_adds_one_allow_entry_for_the_address_and_the_network_stays_blocked(harness: Harness) -> None:
    request = await asked_inside(harness)
    network_entry = dict(harness.pbx.entries[NETWORK_ID])

    done = await allow_only(harness, request, DAY)

    assert (done.state, done.allow_only, done.allow_for) == (State.UNBLOCKED, True, DAY)
    [result] = done.results
    assert result.allow_id is not None and result.allowed_until is not None and not result.allow_existed
    assert done.resolved_at is not None and 0 <= result.allowed_until - (done.resolved_at + DAY) < 60
    # exactly what 3CX received: one allow entry for the address alone, and no DELETE
    assert xapi_calls(harness.pbx) == [("POST", "/xapi/v1/Blocklist")]
    [body] = posts(harness.pbx)
    assert (body["IPAddrMask"], body["BlockType"]) == (ASKED, "Allow")
    assert body["ExpiresAt"] == expires_at(result.allowed_until)
    assert "UBOB" in body["Description"] and request.id in body["Description"]
    assert harness.pbx.entries == {
        NETWORK_ID: network_entry,  # the network's block is still listed, unchanged
        result.allow_id: {**body, "Id": result.allow_id, "AddedBy": None},
    }
    until = f"<!date^{int(result.allowed_until)}^"
    text = block_text(harness.cards()[0].blocks)
    assert "Request to unblock 203.0.113.0/24 was approved by <@UBOB> to allow only 203.0.113.7.*" in text
    assert f"203.0.113.7 is allowed until {until}" in text and "; the block on 203.0.113.0/24 stays." in text
    [direct] = [block_text(m.blocks) for m in harness.cards(ALICE)]
    assert "*Your request to unblock 203.0.113.0/24 was approved by <@UBOB> to allow only 203.0.113.7.*" in direct
    assert f"203.0.113.7 is allowed until {until}" in direct and "; the block on 203.0.113.0/24 stays." in direct

    # Undo removes the allow entry, and only that: the network's block was never touched
    [undo] = [b for b in buttons(harness.cards()[0].blocks) if b["action_id"] == UNDO]
    assert "Remove the allow entry for 203.0.113.7?" in undo["confirm"]["text"]["text"]
    harness.pbx.reset_log()
    await harness.click(UNDO, request, user=CAROL)
    await harness.settle()

    assert xapi_calls(harness.pbx) == [("DELETE", f"/xapi/v1/Blocklist({result.allow_id})")]
    assert harness.pbx.entries == {NETWORK_ID: network_entry}
    assert (await harness.stored(request)).state is State.UNDONE
    assert "was undone by <@UCAROL>: 203.0.113.7 is blocked again." in block_text(harness.cards()[0].blocks)


async def test_an_address_already_allowed_gets_no_second_allow_entry_and_no_undo(harness: Harness) -> None:
    request = await asked_inside(harness)
    harness.pbx.add_entry(77, ASKED, block_type="Allow", added_by="Manual", expires_at="2031-01-01T00:00:00Z")

    done = await allow_only(harness, request, HOUR)

    assert xapi_calls(harness.pbx) == [] and done.state is State.UNBLOCKED
    [result] = done.results
    assert (result.allow_id, result.allow_existed) == (77, True)
    text = block_text(harness.cards()[0].blocks)
    assert "203.0.113.7 was already allowed, until <!date^1924992000^" in text and "no allow entry was added" in text
    assert UNDO not in [b["action_id"] for b in buttons(harness.cards()[0].blocks)]


async def test_a_click_made_up_for_a_request_without_an_asked_address_changes_nothing(harness: Harness) -> None:
    blocked_network(harness.pbx)
    request = await harness.open_card(str(NETWORK_ID))  # asked by its id: no address inside it
    harness.pbx.reset_log()

    _, response_url = await harness.click(ALLOW_ONLY, request, user=BOB, value=f"{request.id}:{HOUR}")
    await harness.settle()

    assert len(harness.notes(response_url)) == 1 and "nothing was changed" in harness.notes(response_url)[0]
    assert xapi_calls(harness.pbx) == [] and (await harness.stored(request)).state is State.PENDING


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


async def test_allow_only_offers_the_durations_of_the_rule_and_nothing_when_it_has_none(
    make_harness: MakeHarness, tmp_path: Path
) -> None:
    (tmp_path / "rules.toml").write_text(RULES)
    harness = await make_harness(UNBLOCK_RULES=str(tmp_path / "rules.toml"))
    harness.pbx.entries.clear()
    harness.pbx.add_entry(60, "172.16.0.0/16")
    harness.pbx.add_entry(61, "10.1.0.0/16")

    wide = await harness.open_card("172.16.5.9")
    carrier = await harness.open_card("10.1.2.3")

    first, second = harness.cards()
    choose, allow = actions_row(first.blocks, "unblock_allow_only")
    assert [o["text"]["text"] for o in choose["options"]] == ["Allow for 1 hour"]
    assert allow["text"]["text"] == "Allow only 172.16.5.9 for 1 hour"
    assert actions_row(first.blocks, "unblock_allow") == []  # a /16 is too wide for Approve and allow
    assert carrier.asked_address == "10.1.2.3" and actions_row(second.blocks, "unblock_allow_only") == []

    done = await allow_only(harness, wide, HOUR)
    assert done.state is State.UNBLOCKED and [p["IPAddrMask"] for p in posts(harness.pbx)] == ["172.16.5.9"]
    assert 60 in harness.pbx.entries and harness.pbx.calls("DELETE") == []


async def test_approve_and_allow_still_removes_the_network_and_allows_it(harness: Harness) -> None:
    """Both are offered for a /24: Approve and allow lifts the network's block, unlike Allow only."""
    request = await asked_inside(harness)
    assert actions_row(harness.cards()[0].blocks, "unblock_allow") != []

    reply, _ = await harness.click(APPROVE_ALLOW, request, user=BOB, value=f"{request.id}:{HOUR}")
    assert reply.status == 200
    await harness.settle()

    assert xapi_calls(harness.pbx) == [("DELETE", f"/xapi/v1/Blocklist({NETWORK_ID})"), ("POST", "/xapi/v1/Blocklist")]
    assert [p["IPAddrMask"] for p in posts(harness.pbx)] == [NETWORK]
    assert not (await harness.stored(request)).allow_only


async def test_an_allow_only_under_way_when_the_bot_was_killed_is_finished_once_after_a_restart(
    processes: list[BotProcess], slack: FakeSlack, pbx: FakeThreeCX, tmp_path: Path
) -> None:
    blocked_network(pbx)
    first, driver = await start_http_bot(processes, slack, pbx, tmp_path, THREECX_TIMEOUT="1")
    await driver.command(ASKED)
    await wait_for(lambda: driver.cards(), what="the card")
    request_id = str(buttons(driver.cards()[0].blocks)[0]["value"])

    pbx.delay_of["POST"] = 4.0  # 3CX takes 4 s to add the allow entry
    await driver.click(ALLOW_ONLY, request_id, user=BOB, value=f"{request_id}:{HOUR}")
    await wait_for(lambda: posts(pbx), what="the allow entry's POST to reach 3CX")
    first.kill()  # SIGKILL, between sending the POST and hearing 3CX's answer
    await first.wait()
    pbx.delay_of.clear()  # the call already under way keeps its 4 s
    second, driver = await start_http_bot(processes, slack, pbx, tmp_path, THREECX_TIMEOUT="1")
    await wait_for(lambda: "is allowed until" in block_text(driver.cards()[0].blocks), timeout=60, what="the card")
    assert await second.stop() == 0

    assert len(posts(pbx)) == 1 and pbx.calls("DELETE") == []  # found after the restart, not added again
    assert sorted(e["BlockType"] for e in pbx.entries.values()) == ["Allow", "Block"]  # the network still blocked
    text = block_text(driver.cards()[0].blocks)
    assert "the block on 203.0.113.0/24 stays." in text and "finished after a restart of the bot" in text
    assert [c.args["channel"] for c in slack.calls_to("chat.postMessage")].count(ALICE) == 1  # told once
