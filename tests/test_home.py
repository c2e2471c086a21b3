"""The bot's Home tab: approvers decide waiting requests there, everyone sees their own."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from bot.domain.model import State

from .harness import ALICE, APPROVE, BOB, CAROL, HOME_APPROVE, HOME_DENY, Harness, block_text, buttons

DAVE = "UDAVE"  # an approver through the user group SHELPDESK


def home_buttons(view: dict[str, Any]) -> list[tuple[str, str]]:
    return [(b["action_id"], b["value"]) for b in buttons(view["blocks"])]


async def test_an_approver_sees_the_waiting_requests_newest_first_with_approve_and_deny(harness: Harness) -> None:
    harness.pbx.add_entry(43, "198.51.100.9")
    await harness.open_home(BOB)
    first = await harness.open_card("42 lobby phone")
    # a new request appears in the open Home tab of an approver
    assert home_buttons(harness.slack.homes[BOB]) == [(HOME_APPROVE, first.id), (HOME_DENY, first.id)]
    second = await harness.open_card("43", user=CAROL)

    view = await harness.open_home(DAVE)

    text = block_text(view["blocks"])
    assert "Waiting for approval" in text
    assert text.index("198.51.100.9") < text.index("203.0.113.7")  # newest first
    assert "<@UALICE> asks to unblock *203.0.113.7* in <#C0GENERAL>" in text
    assert "lobby phone" in text
    assert home_buttons(view) == [(action, r.id) for r in (second, first) for action in (HOME_APPROVE, HOME_DENY)]
    # the same question as the card's Approve asks
    card_approve = next(b for b in buttons(harness.cards()[0].blocks) if b["action_id"] == APPROVE)
    assert buttons(view["blocks"])[2]["confirm"] == card_approve["confirm"]
    assert "You have not asked for an unblock yet." in text


async def test_approve_in_the_home_tab_works_like_the_card(harness: Harness) -> None:
    request = await harness.open_card()
    await harness.open_home(ALICE)
    await harness.open_home(BOB)
    # it keeps the card's rules: her own request, and she is no approver; nor is Mallory
    await harness.home_click(HOME_APPROVE, request, user=ALICE)
    await harness.settle()
    await harness.home_click(HOME_DENY, request, user="UMALLORY")
    await harness.settle()
    assert (await harness.stored(request)).state is State.PENDING and harness.pbx.calls("DELETE") == []
    assert "Only the approvers can approve an unblock" in block_text(harness.slack.homes[ALICE]["blocks"])
    assert "Only the approvers can deny an unblock request" in block_text(harness.slack.homes["UMALLORY"]["blocks"])

    reply = await harness.home_click(HOME_APPROVE, request, user=BOB)
    await harness.settle()

    assert reply.status == 200
    assert (await harness.stored(request)).state is State.UNBLOCKED
    assert [r.path for r in harness.pbx.calls("DELETE")] == ["/xapi/v1/Blocklist(42)"]
    assert "203.0.113.7 was approved by <@UBOB>, and it is unblocked.*" in block_text(harness.cards()[0].blocks)
    bob = block_text(harness.slack.homes[BOB]["blocks"])
    assert "<@UALICE>'s request to unblock `203.0.113.7` was approved by <@UBOB>, and it is unblocked." in bob
    assert "Nothing is waiting for approval." in bob
    # anyone else sees only their own requests, and how they ended
    alice = harness.slack.homes[ALICE]
    assert "Waiting for approval" not in block_text(alice["blocks"]) and home_buttons(alice) == []
    said = f"Request to unblock `203.0.113.7` *was approved by <@UBOB>, and it is unblocked* · `{request.id}`"
    assert said in block_text(alice["blocks"])


async def test_a_click_in_the_home_tab_and_one_on_the_card_remove_the_entry_once(harness: Harness) -> None:
    request = await harness.open_card()
    await harness.open_home(CAROL)
    harness.pbx.delay = 0.3  # both clicks arrive while 3CX is still answering

    _, (_, response_url) = await asyncio.gather(
        harness.home_click(HOME_APPROVE, request, user=CAROL), harness.click(APPROVE, request, user=BOB)
    )
    await harness.settle()

    assert len(harness.pbx.calls("DELETE")) == 1
    [winner] = re.findall(r"was approved by <@(\w+)>, and it is unblocked", block_text(harness.cards()[0].blocks))
    assert winner in (BOB, CAROL)
    # the other click was told who was first
    if winner == BOB:
        assert "This request was approved by <@UBOB>" in block_text(harness.slack.homes[CAROL]["blocks"])
    else:
        assert any("This request was approved by <@UCAROL>" in note for note in harness.notes(response_url))


async def test_the_messages_tab_and_other_workspaces_draw_nothing_and_change_nothing(harness: Harness) -> None:
    request = await harness.open_card()
    await harness.event({"type": "app_home_opened", "user": BOB, "channel": "D0HOME", "tab": "messages"})
    await harness.event({"type": "app_home_opened", "user": BOB, "tab": "home"}, team="T0OTHER")

    reply = await harness.home_click(HOME_APPROVE, request, user=BOB, team="T0OTHER")
    await harness.settle()

    assert reply.status == 200
    assert (await harness.stored(request)).state is State.PENDING and harness.pbx.calls("DELETE") == []
    assert harness.slack.calls_to("views.publish") == []


async def test_many_requests_with_hostile_text_keep_the_home_tabs_limits(harness: Harness) -> None:
    reason = "<!channel> *urgent* & <https://evil.example|click> " + "&" * 240
    for n in range(12):
        harness.pbx.add_entry(100 + n, f"198.51.100.{n}", description="d" * 5000)
        await harness.open_card(f"{100 + n} {reason}")

    view = await harness.open_home(BOB)

    text = block_text(view["blocks"])
    assert len(home_buttons(view)) == 2 * 10 and "…and more: see `/unblock history`." in text
    assert "<!channel>" not in text and "&lt;!channel&gt;" in text
    # every view the bot published kept Slack's limits (the fake refuses one that does not)
    assert harness.slack.violations == []
