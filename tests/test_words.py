"""What people read: the buttons and their questions, one layout for both kinds of entry, one pattern for every
outcome, and notes that neither repeat themselves nor notify twice."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .conftest import MakeHarness
from .harness import (
    ALICE,
    APPROVE,
    BOB,
    CANCEL,
    CAROL,
    CHOOSE,
    DENY,
    UNDO,
    Harness,
    block_text,
    buttons,
    card_request_id,
)


async def test_a_caller_number_has_the_layout_of_an_ip_entry_and_says_each_thing_once(harness: Harness) -> None:
    harness.pbx.add_number("n-17", "+15550100", "Robocaller?")
    request = await harness.open_card("number +15550100")

    card = block_text(harness.cards()[0].blocks)
    [approve] = [b for b in buttons(harness.cards()[0].blocks) if b["action_id"] == APPROVE]
    assert approve["confirm"]["title"]["text"] == "Remove from the caller-number blacklist?"
    assert "<@UALICE> asks to unblock +15550100*" in card
    assert "*List*\nCaller-number blacklist" in card and "*Description*\nRobocaller?" in card
    assert card.count("+15550100") == 2  # the headline and Approve's question, not a field again
    assert "blocked caller number" not in card

    await harness.click(APPROVE, request, user=BOB)
    await harness.settle()

    outcome = block_text(harness.cards()[0].blocks)
    assert "*Request to unblock +15550100 was approved by <@UBOB>, and it is unblocked.*" in outcome
    assert outcome.count("Robocaller?") == 1 and "3CX description: Robocaller?" in outcome
    assert outcome.count("+15550100") == 2  # the headline, and Undo's question
    assert "back on the caller-number blacklist as it was?" in outcome


async def test_the_list_shows_allow_entries_apart_and_names_the_approver_as_a_person(harness: Harness) -> None:
    written = "Allowed for 1 hour by unblock-bot: approved by Slack user UAPPROVE1, request 0123456789abcdef"
    harness.pbx.add_entry(90, "198.51.100.7", block_type="Allow", added_by="unblock-bot", description=written)

    _, response_url = await harness.command("list")
    await harness.settle()

    [shown] = harness.shown(response_url)
    assert shown.startswith("*Newest IP blocklist entries* (1 to 2).")
    blocked, allowed = shown.index("*Blocks (1)*"), shown.index("*Allow entries (1)*")
    assert blocked < shown.index("203.0.113.7") < allowed < shown.index("198.51.100.7")
    assert "approved by <@UAPPROVE1>, request 0123456789abcdef" in shown and "Slack user" not in shown
    assert "Block type" not in shown and " · Block · " not in shown and " · Allow · " in shown


# why a click does nothing, in the words people read ------------------------------------------------------------


async def test_each_refusal_is_said_in_its_words(make_harness: MakeHarness) -> None:
    harness = await make_harness(UNBLOCK_APPROVERS="SHELPDESK")  # Dave alone, through the group
    request = await harness.open_card()
    said: list[list[str]] = []

    async def click(action: str, user: str) -> None:
        _, response_url = await harness.click(action, request, user=user)
        await harness.settle()
        said.append(harness.notes(response_url))

    for action, user in ((DENY, ALICE), (APPROVE, ALICE), (CANCEL, BOB), (DENY, BOB)):
        await click(action, user)
    await click(APPROVE, "UDAVE")
    await click(UNDO, BOB)
    harness.clock.advance(601)
    await click(UNDO, "UDAVE")

    assert said == [
        ["You asked for this unblock, so you cannot deny it; to call it off, use Cancel."],
        ["Only the approvers can approve an unblock: a member of <!subteam^SHELPDESK>."],
        ["Only <@UALICE>, who asked, can cancel this request; an approver can deny it instead."],
        ["Only the approvers can deny an unblock request: a member of <!subteam^SHELPDESK>."],
        [],
        ["Only the approvers can undo an unblock: a member of <!subteam^SHELPDESK>."],
        ["It is too late to undo this; if needed, an admin can add the entry again by hand in 3CX."],
    ]


# a request its rule carried out: nobody approved it, and every view says so ----------------------------------


@pytest.mark.parametrize(
    ("ending", "words"),
    [
        ("unblocked", "was carried out automatically by rule 'Branch offices', and it is unblocked"),
        ("already gone", "was carried out automatically by rule 'Branch offices'; it was already gone"),
        ("failed", "was carried out automatically by rule 'Branch offices', but it could not be"),
        ("undo failed", "was carried out automatically by rule 'Branch offices'; the undo by <@UBOB>"),
    ],
)
async def test_a_request_its_rule_carried_out_names_the_rule_wherever_it_is_shown(
    make_harness: MakeHarness, tmp_path: Path, ending: str, words: str
) -> None:
    (tmp_path / "rules.toml").write_text(
        '[[rule]]\nname = "Branch offices"\nnetworks = ["198.51.100.0/24"]\nauto = true\n'
    )
    harness = await make_harness(UNBLOCK_RULES=str(tmp_path / "rules.toml"))
    harness.pbx.add_entry(60, "198.51.100.7")
    if ending == "already gone":  # removed in 3CX while the card is posted
        harness.slack.before["chat.postMessage"] = lambda _: harness.pbx.entries.clear()
    elif ending == "failed":
        harness.pbx.fail_next(400, method="DELETE")
    await harness.command("60")
    await harness.settle()
    if ending == "undo failed":
        harness.pbx.fail_next(400, method="POST")
        await harness.click(UNDO, card_request_id(harness.cards()[0].blocks), user=BOB)
        await harness.settle()

    _, history_url = await harness.command("history", user=BOB)
    await harness.settle()
    [history] = harness.shown(history_url)
    request_id = re.findall(r"`([0-9a-f]{16})`", history)[0]
    _, late_url = await harness.click(APPROVE, request_id, user=CAROL)
    await harness.settle()

    posted = str(harness.slack.calls_to("chat.update")[0].args)  # the card, while it is carried out
    assert "is being unblocked automatically by rule 'Branch offices'…" in posted
    card, home = block_text(harness.cards()[0].blocks), block_text((await harness.open_home(ALICE))["blocks"])
    assert words in card and words in home and words in history
    [late] = harness.notes(late_url)
    assert ending == "undo failed" or "This request was carried out automatically by rule 'Branch offices'" in late
    assert [s for s in (card, home, history, late) if "the bot" in s or "None" in s or "approved by" in s.lower()] == []


@pytest.mark.parametrize(
    ("refused", "said"),
    [(2, "1 of 3 entries was removed. 3CX refused to remove it."), (1, "2 of 3 entries were removed.")],
)
async def test_the_entries_removed_of_several_agree_with_their_number(
    harness: Harness, refused: int, said: str
) -> None:
    harness.pbx.add_entry(7, "203.0.113.0/24")
    harness.pbx.add_entry(8, "203.0.0.0/16")
    _, response_url = await harness.command("203.0.113.7")
    await harness.settle()
    await harness.click(
        CHOOSE, buttons(harness.slack.posts_to(response_url)[0].body["blocks"])[-1]["value"], user=ALICE
    )
    await harness.settle()
    harness.pbx.fail_next(400, times=refused, method="DELETE")

    await harness.click(APPROVE, card_request_id(harness.cards()[0].blocks), user=BOB)
    await harness.settle()

    assert said in block_text(harness.cards()[0].blocks)
