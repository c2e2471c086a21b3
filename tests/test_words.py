"""What people read: the buttons and their questions, one layout for both kinds of entry, one pattern for every
outcome, and notes that neither repeat themselves nor notify twice."""

from __future__ import annotations

from typing import Any

import pytest

from bot.domain.model import BlocklistEntry, Escalation, Outcome, Result, State, UnblockRequest
from bot.domain.report import WEEK, Ending, Report
from bot.slack.buttons import APPROVE, APPROVE_ALLOW, CANCEL, DENY, UNDO
from bot.slack.views.home import decided_notice
from bot.slack.views.lists import history
from bot.slack.views.notes import already_resolved
from bot.slack.views.notices import TOLD, direct_message
from bot.slack.views.outcome import outcome_card
from bot.slack.views.reminders import escalation_reply
from bot.slack.views.report import report

from .conftest import MakeHarness
from .harness import ALICE, BOB, CAROL, GENERAL, Harness, block_text, buttons

APPROVALS = "C0APPROVALS"


def by_action(blocks: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {b["action_id"]: b for b in buttons(blocks)}


async def test_approve_is_the_main_action_and_approve_and_allow_the_red_one(harness: Harness) -> None:
    await harness.open_card()

    shown = by_action(harness.cards()[0].blocks)
    assert shown[APPROVE]["style"] == "primary" and shown[APPROVE_ALLOW]["style"] == "danger"
    assert "style" not in shown[DENY] and "style" not in shown[CANCEL]
    # going back from a question is not Deny, nor the card's Cancel (with which the requester calls it off)
    assert shown[APPROVE]["confirm"]["deny"]["text"] == "Go back"
    assert shown[APPROVE_ALLOW]["confirm"]["deny"]["text"] == "Go back"


async def test_a_caller_number_has_the_layout_of_an_ip_entry_and_says_each_thing_once(harness: Harness) -> None:
    harness.pbx.add_number("n-17", "+15550100", "Robocaller?")
    request = await harness.open_card("number +15550100")

    card = block_text(harness.cards()[0].blocks)
    assert by_action(harness.cards()[0].blocks)[APPROVE]["confirm"]["title"]["text"] == (
        "Remove from the caller-number blacklist?"
    )
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


@pytest.mark.parametrize(
    ("fault", "said", "not_said"),
    [
        ("503", "3CX answered: HTTP 503 ·", "server error"),
        ("403", "3CX answered: HTTP 403 ·", "not allowed to do this"),
    ],
)
async def test_a_failure_is_said_once_and_its_context_agrees(
    harness: Harness, fault: str, said: str, not_said: str
) -> None:
    request = await harness.open_card()
    if fault == "503":
        harness.pbx.fail_next(503, times=10, method="DELETE")
    else:
        harness.pbx.forbidden = True

    await harness.click(APPROVE, request, user=BOB)
    await harness.settle()

    text = block_text(harness.cards()[0].blocks)
    assert "Request to unblock 203.0.113.7 was approved by <@UBOB>, but it could not be unblocked." in text
    assert said in text and not_said not in text
    if fault == "503":
        assert "3CX could not be reached, was unavailable or did not answer in time" in text


async def test_the_requester_reads_about_their_own_request_in_the_second_person(harness: Harness) -> None:
    harness.pbx.add_entry(43, "203.0.113.0/24")
    request = await harness.open_card("43")

    await harness.click(DENY, request, user=BOB)
    await harness.settle()

    [direct] = harness.cards(ALICE)
    assert direct.text == "Your request to unblock 203.0.113.0/24 was denied by <@UBOB>."
    assert "*Your request to unblock 203.0.113.0/24 was denied by <@UBOB>.*" in block_text(direct.blocks)
    assert "<@UALICE>" not in block_text(direct.blocks)


async def test_the_channel_where_it_was_asked_mentions_the_requester_only_when_it_is_their_one_notice(
    make_harness: MakeHarness,
) -> None:
    harness = await make_harness(UNBLOCK_APPROVAL_CHANNEL=APPROVALS, UNBLOCK_NOTIFY_REQUESTER="false")
    await harness.command("42", channel=GENERAL)
    await harness.settle()
    request = await harness.request_for(harness.cards(APPROVALS)[0])

    await harness.click(DENY, request, user=BOB)
    await harness.settle()

    assert harness.cards(ALICE) == []  # no direct message
    [line] = harness.cards(GENERAL)
    assert "Request to unblock 203.0.113.7 was denied by <@UBOB>.* Requested by <@UALICE>." in block_text(line.blocks)


async def test_an_undo_reads_undone_everywhere(harness: Harness) -> None:
    request = await harness.open_card()
    await harness.click(APPROVE, request, user=BOB)
    await harness.settle()
    await harness.click(UNDO, request, user=CAROL)
    await harness.settle()
    assert (await harness.stored(request)).state is State.UNDONE

    _, history_url = await harness.command("history", user=CAROL)
    await harness.settle()

    said = "was undone by <@UCAROL>: it is blocked again"
    assert said in block_text(harness.cards()[0].blocks)
    assert said in harness.shown(history_url)[0]
    assert said in block_text(harness.cards(ALICE)[-1].blocks)


async def test_asking_again_for_what_you_already_asked_says_so(harness: Harness) -> None:
    await harness.open_card()

    _, mine = await harness.command("42", user=ALICE)
    _, theirs = await harness.command("42", user=CAROL)
    await harness.settle()

    [note] = harness.notes(mine)
    assert "A request to unblock 203.0.113.7 (you asked for it) is already waiting for approval" in note
    [note] = harness.notes(theirs)
    assert "(asked by <@UALICE>) is already waiting for approval" in note


async def test_the_list_shows_allow_entries_apart_and_names_the_approver_as_a_person(harness: Harness) -> None:
    harness.pbx.add_entry(
        90, "198.51.100.7", block_type="Allow", added_by="unblock-bot",
        description="Allowed for 1 hour by unblock-bot: approved by Slack user UAPPROVE1, request 0123456789abcdef",
    )  # fmt: skip

    _, response_url = await harness.command("list")
    await harness.settle()

    [shown] = harness.shown(response_url)
    assert shown.startswith("*Newest IP blocklist entries* (1 to 2).")
    blocked, allowed = shown.index("*Blocks (1)*"), shown.index("*Allow entries (1)*")
    assert blocked < shown.index("203.0.113.7") < allowed < shown.index("198.51.100.7")
    assert "approved by <@UAPPROVE1>, request 0123456789abcdef" in shown and "Slack user" not in shown
    assert "Block type" not in shown and " · Block · " not in shown and " · Allow · " in shown


async def test_nothing_found_names_the_list_that_was_searched(harness: Harness) -> None:
    _, by_address = await harness.command("198.51.100.200")
    _, by_number = await harness.command("number +15559999")
    await harness.settle()

    assert harness.notes(by_address)[0].startswith("198.51.100.200 is not on the IP blocklist, so 3CX is not")
    assert harness.notes(by_number)[0].startswith("+15559999 is not on the caller-number blacklist, so 3CX is not")


async def test_help_names_every_button_and_the_approvals_channel(harness: Harness) -> None:
    reply, _ = await harness.command("help")

    for said in ("*Approve*", "*Deny*", "*Cancel*", "*Approve and allow*", "*Undo*", "approvals channel"):
        assert said in reply.message


# a request its rule carried out: nobody approved it, and every view says so ----------------------------------

BRANCH_ENTRY = BlocklistEntry(60, "198.51.100.7", None, "Block", "AutoBlacklist", None)
DELETED, GONE, REFUSED = (Result(Outcome.DELETED, "HTTP 204"), Result(Outcome.ALREADY_GONE, "HTTP 404"),
                          Result(Outcome.OTHER, "HTTP 400 no"))  # fmt: skip


@pytest.mark.parametrize(
    ("state", "results", "words"),
    [
        (State.EXECUTING, (), "is being unblocked automatically by rule 'Branch offices'…"),
        (State.UNBLOCKED, (GONE,), "was carried out automatically by rule 'Branch offices'; it was already gone"),
        (State.FAILED, (REFUSED,), "was carried out automatically by rule 'Branch offices', but it could not be"),
        (State.UNBLOCKED, (DELETED,), "was carried out automatically by rule 'Branch offices', and it is unblocked"),
        (State.UNDO_FAILED, (DELETED,), "was carried out automatically by rule 'Branch offices'; the undo by <@UCA"),
    ],
)
def test_a_request_its_rule_carried_out_names_the_rule_in_every_state(
    state: State, results: tuple[Result, ...], words: str
) -> None:
    request = UnblockRequest("0123456789abcdef", (BRANCH_ENTRY,), ALICE, GENERAL, 1.7e9, 1.7e9 + 900, state=state,
                             rule="Branch offices", auto=True, results=results, undone_by=CAROL)  # fmt: skip

    said = [block_text(outcome_card(request, 1.7e9 + 5)[1]), decided_notice(request), history([request], True)[0],
            block_text(history([request], True)[1]), already_resolved(request)]  # fmt: skip
    if state in TOLD:
        said.append(block_text(direct_message(request, None)[1]))

    assert words in said[0] and words in said[1] and words in said[3]
    assert state.undo_phase or "automatically by rule 'Branch offices'" in said[4]  # "This request was…"
    assert [s for s in said if "the bot" in s or "None" in s or "approved by" in s.lower()] == []


# agreement, one name for each thing, and a next step after what could not be done ---------------------------

ENTRIES = tuple(BlocklistEntry(n, f"198.51.100.{n}", None, "Block", "AutoBlacklist", None) for n in (1, 2, 3))


def decided(targets: tuple[BlocklistEntry, ...], state: State, *results: Result, **more: Any) -> UnblockRequest:
    return UnblockRequest("0123456789abcdef", targets, ALICE, GENERAL, 1.7e9, 1.7e9 + 900, state=state,
                          resolved_by=BOB, resolved_at=1.7e9 + 60, results=results, **more)  # fmt: skip


def test_the_entries_removed_of_several_agree_with_their_number() -> None:
    one = decided(ENTRIES, State.FAILED, DELETED, REFUSED, REFUSED)
    two = decided(ENTRIES, State.FAILED, DELETED, DELETED, REFUSED)

    assert "1 of 3 entries was removed. 3CX refused to remove it." in block_text(outcome_card(one, 1.7e9 + 90)[1])
    assert "2 of 3 entries were removed." in block_text(outcome_card(two, 1.7e9 + 90)[1])


def test_an_allow_entry_that_could_not_be_added_says_what_to_do_next() -> None:
    request = decided(ENTRIES[:1], State.UNBLOCKED, Result(Outcome.DELETED, "HTTP 204; allow entry: HTTP 400"),
                      allow_for=3600.0)  # fmt: skip

    text = block_text(outcome_card(request, 1.7e9 + 90)[1])

    assert (
        "The allow entry could not be added, so 3CX may block 198.51.100.1 again. To keep it in, an admin can add it "
        "by hand in 3CX's IP blocklist: 198.51.100.1, type Allow, for 1 hour; or ask again with `/unblock` and "
        "choose Approve and allow." in text
    )


async def test_an_entry_an_undo_could_not_put_back_is_described_for_3cxs_form(harness: Harness) -> None:
    request = await harness.open_card()
    await harness.click(APPROVE, request, user=BOB)
    await harness.settle()
    harness.pbx.forbidden = True

    await harness.click(UNDO, request, user=CAROL)
    await harness.settle()

    text = block_text(harness.cards()[0].blocks)
    assert "An admin can add it again by hand in 3CX: `203.0.113.7` on the IP blocklist, type Block, expiring " in text
    assert "|2026-12-01 08:00 UTC>, description _Failed SIP registrations_." in text
    assert '"IPAddrMask"' not in text and "console" not in text


def test_an_escalation_names_each_person_it_goes_to_once() -> None:
    escalation = Escalation(1.7e9 + 3600, 3600.0, users=("UERIN", "UERIN"), groups=("SHELPDESK",))
    request = UnblockRequest("0123456789abcdef", ENTRIES[:1], ALICE, GENERAL, 1.7e9, 1.7e9 + 7200,
                             escalation=escalation)  # fmt: skip

    text, blocks = escalation_reply(request, escalation)

    assert text.startswith("Escalated to <@UERIN> and <!subteam^SHELPDESK> after 1 hour: <@UALICE>'s request")
    for said in (text, block_text(blocks)):
        assert said.count("<@UERIN>") == 1 and said.count("<!subteam^SHELPDESK>") == 1


def test_the_report_counts_in_the_right_number_and_says_durations_in_words() -> None:
    figures = Report(since=1.7e9, until=1.7e9 + WEEK, total=21, endings=tuple((e, 0) for e in Ending), decided=21,
                     median=1.0, p90=3900.0, by_approver=tuple((f"U{n:010d}", 1) for n in range(21)), by_rule=0,
                     top=())  # fmt: skip

    shown = block_text(report(figures, 7)[1])

    assert "• 1 other approver: once" in shown
    assert "median 1 second, 90th percentile 1 hour 5 minutes" in shown
