"""The /unblock approval flow end to end: signed requests in, what Slack shows and what 3CX got out."""

from __future__ import annotations

import asyncio
import logging
import re

import pytest

from bot.domain.model import State

from .conftest import MakeHarness
from .harness import (
    ALICE,
    ALLOW_FOR,
    APPROVE,
    APPROVE_ALLOW,
    BOB,
    CANCEL,
    CAROL,
    DENY,
    GENERAL,
    MALLORY,
    UNDO,
    Harness,
    block_text,
    buttons,
)

ENTRY_PATH = "/xapi/v1/Blocklist(42)"


def decisions(blocks: list[dict[str, object]]) -> list[str]:
    """The decision buttons (Approve, Deny, Cancel) a card still shows."""
    return [b["action_id"] for b in buttons(blocks) if b["action_id"] in (APPROVE, DENY, CANCEL)]


def deletes(harness: Harness) -> list[str]:
    return [r.path for r in harness.pbx.calls("DELETE")]


# 1. the card --------------------------------------------------------------------------------------


async def test_command_acks_then_posts_a_card_with_the_entry(harness: Harness) -> None:
    reply, _ = await harness.command("42")

    assert reply.status == 200
    assert reply.message == ""  # no note of progress: the card, or one note, is the answer
    await harness.settle()

    [card] = harness.cards()
    text = block_text(card.blocks)
    entry = ("IP blocklist, entry 42", "Failed SIP registrations", "AutoBlacklist", "2026-12-01")
    for shown in ("<@UALICE>", "203.0.113.7", *entry):
        assert shown in text
    assert "Block type" not in text  # "Block" says nothing: only another block type is shown
    assert text.count("203.0.113.7") == 3  # the headline, and the two confirmations; not a field again
    approve, deny, cancel, choose, allow = buttons(card.blocks)
    assert (approve["action_id"], deny["action_id"], cancel["action_id"]) == (APPROVE, DENY, CANCEL)
    assert (choose["action_id"], allow["action_id"]) == (
        ALLOW_FOR,
        APPROVE_ALLOW,
    )  # Approve and allow, and for how long
    assert approve["confirm"]["text"]["text"] == "Unblock 203.0.113.7? Calls from it will reach the PBX again."
    # Approve is the main action and Approve and allow the red one; going back from a question is not Deny, nor
    # the card's Cancel (with which the requester calls it off)
    assert (approve["style"], allow["style"]) == ("primary", "danger") and "style" not in deny and "style" not in cancel
    assert approve["confirm"]["deny"]["text"] == allow["confirm"]["deny"]["text"] == "Go back"
    [get] = harness.pbx.calls("GET", "/xapi/v1/Blocklist")
    assert get.path == ENTRY_PATH
    assert get.headers["Accept"] == "application/json"
    assert get.headers["Authorization"].startswith("Bearer ")
    assert deletes(harness) == []


async def test_ack_does_not_wait_for_a_slow_pbx(make_harness: MakeHarness) -> None:
    harness = await make_harness(THREECX_TIMEOUT="5")
    harness.pbx.delay = 2.0  # longer than the bot waits before it says what it is doing

    reply, response_url = await harness.command("42")

    # the HTTP answer came back while 3CX was still thinking: no card yet
    assert reply.status == 200 and reply.message == ""
    assert harness.cards() == []
    await harness.settle()
    assert len(harness.cards()) == 1
    [note] = harness.slack.notes_after_command(response_url, reply.message)
    assert note == "Still looking up IP blocklist entry 42 in 3CX…"


async def test_card_goes_through_response_url_where_the_bot_is_not_a_member(harness: Harness) -> None:
    harness.slack.not_in_channel.add("C0PRIVATE")  # (channel_not_found is taken the same way)

    _, response_url = await harness.command("42", channel="C0PRIVATE")
    await harness.settle()

    [post] = harness.slack.posts_to(response_url)
    assert post.body["response_type"] == "in_channel"
    assert "203.0.113.7" in block_text(post.body["blocks"])
    request_id = buttons(post.body["blocks"])[0]["value"]

    _, click_url = await harness.click(APPROVE, request_id, user=BOB, channel="C0PRIVATE")
    await harness.settle()
    assert deletes(harness) == [ENTRY_PATH]
    final = harness.slack.posts_to(click_url)[-1].body
    assert final["replace_original"] is True
    assert (
        "*Request to unblock 203.0.113.7 was approved by <@UBOB>, and it is unblocked.*\nRequested by <@UALICE>."
        in (block_text(final["blocks"]))
    )


# 2. approve ---------------------------------------------------------------------------------------


async def test_entry_changed_since_the_card_is_left_alone(harness: Harness) -> None:
    harness.pbx.issue_etags = True
    harness.pbx.enforce_etags = True
    request = await harness.open_card()
    etag = harness.pbx.etag(42)
    harness.pbx.change_entry(42, Description="edited by an admin")

    await harness.click(APPROVE, request, user=BOB)
    await harness.settle()

    [delete] = harness.pbx.calls("DELETE")
    assert delete.headers["If-Match"] == etag  # the one 3CX gave with the entry
    assert 42 in harness.pbx.entries
    text = block_text(harness.cards()[0].blocks)
    assert "Request to unblock 203.0.113.7 was approved by <@UBOB>, but it could not be unblocked." in text
    assert "changed in 3CX after the request was made" in text
    stored = await harness.stored(request)
    assert (stored.state, stored.outcome) == (State.FAILED, "changed")
    assert "HTTP 412" in stored.done.results[0].answer


# 3. deny and cancel -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "user", "said"),
    [
        (
            DENY,
            CAROL,
            "unblock 203.0.113.7 was denied by <@UCAROL>.* Nothing was changed in 3CX.\nRequested by <@UALICE>",
        ),
        (CANCEL, ALICE, "Request to unblock 203.0.113.7 was cancelled by <@UALICE>.*"),
    ],
    ids=["deny by an approver", "cancel by the requester"],
)
async def test_deny_or_cancel_closes_the_request_without_touching_3cx(
    harness: Harness, action: str, user: str, said: str
) -> None:
    request = await harness.open_card()

    await harness.click(action, request, user=user)
    await harness.settle()

    assert deletes(harness) == []
    assert said in block_text(harness.cards()[0].blocks)
    assert decisions(harness.cards()[0].blocks) == []


# 4. who may approve -------------------------------------------------------------------------------


async def test_only_an_approver_who_did_not_ask_may_approve(harness: Harness) -> None:
    request = await harness.open_card(user=BOB)  # an approver's own request

    for action in (APPROVE, DENY):
        _, response_url = await harness.click(action, request, user=MALLORY)
        await harness.settle()
        [note] = harness.notes(response_url)
        assert "<@UBOB>, <@UCAROL> or a member of <!subteam^SHELPDESK>" in note and "Only the approvers can" in note
        assert harness.slack.posts_to(response_url)[0].body["response_type"] == "ephemeral"
    _, response_url = await harness.click(APPROVE, request, user=BOB)
    await harness.settle()
    assert harness.notes(response_url) == ["You asked for this unblock, so someone else has to approve it."]

    assert deletes(harness) == []
    assert harness.cards()[0].updates == 0
    assert (await harness.stored(request)).state is State.PENDING
    await harness.click(APPROVE, request, user="UDAVE")  # in SHELPDESK
    await harness.settle()
    assert deletes(harness) == [ENTRY_PATH]
    assert [c.args["usergroup"] for c in harness.slack.calls_to("usergroups.users.list")] == ["SHELPDESK"]


async def test_requester_approves_their_own_request_when_the_settings_allow_it(make_harness: MakeHarness) -> None:
    harness = await make_harness(UNBLOCK_ALLOW_SELF_APPROVAL="true")
    request = await harness.open_card(user=BOB)

    _, response_url = await harness.click(APPROVE, request, user=BOB)
    await harness.settle()

    assert deletes(harness) == [ENTRY_PATH] and harness.notes(response_url) == []


# 5. one DELETE, however many clicks ------------------------------------------------------------------


async def test_concurrent_and_repeated_clicks_send_one_delete(harness: Harness) -> None:
    harness.pbx.delay = 0.2
    request = await harness.open_card()

    replies = await asyncio.gather(*(harness.click(APPROVE, request, user=u) for u in (BOB, CAROL, BOB, "UDAVE")))
    await harness.settle()
    late, late_url = await harness.click(APPROVE, request, user=CAROL)
    await harness.settle()

    assert all(reply.status == 200 for reply, _ in replies) and late.status == 200
    assert deletes(harness) == [ENTRY_PATH]
    [winner] = re.findall(r"was approved by (<@\w+>), and it is unblocked", block_text(harness.cards()[0].blocks))
    [note] = harness.notes(late_url)
    assert f"was approved by {winner}" in note and "Nothing more was done" in note
    losers = [harness.notes(url) for _, url in replies]
    assert sum(1 for notes in losers if notes and "was approved by" in notes[-1]) == 3


# 6. expiry ----------------------------------------------------------------------------------------


async def test_a_late_click_changes_nothing_and_the_card_says_it_expired(harness: Harness) -> None:
    request = await harness.open_card()
    harness.clock.advance(900 + 1)  # 15 minutes by default (UNBLOCK_REQUEST_TTL: tests/test_settings_values.py)

    _, response_url = await harness.click(APPROVE, request, user=BOB)
    await harness.settle()

    assert deletes(harness) == []
    assert "Request to unblock 203.0.113.7 expired without approval.*" in block_text(harness.cards()[0].blocks)
    # like every outcome, it says when: the moment it expired
    assert f"<!date^{int(request.decision.expires_at)}^" in block_text(harness.cards()[0].blocks)
    [note] = harness.notes(response_url)
    assert "This request expired" in note
    assert (await harness.stored(request)).state is State.EXPIRED


# 7. the record ------------------------------------------------------------------------------------


async def test_every_transition_is_stored_and_logged(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    """Approve deletes the entry and replaces the card; each step is on record."""
    caplog.set_level(logging.INFO, logger="bot.audit")
    request = await harness.open_card()
    reply, _ = await harness.click(APPROVE, request, user=BOB)
    assert reply.status == 200
    await harness.settle()

    [delete] = harness.pbx.calls("DELETE")
    assert delete.path == ENTRY_PATH
    assert "If-Match" not in delete.headers  # this PBX sent no ETag
    assert 42 not in harness.pbx.entries
    [card] = harness.cards()
    assert card.updates == 2  # "…approved by <@UBOB>; unblocking…", then the outcome
    assert decisions(card.blocks) == []
    text = block_text(card.blocks)
    assert (
        "*Request to unblock 203.0.113.7 was approved by <@UBOB>, and it is unblocked.*\nRequested by <@UALICE>."
        in text
    )
    assert "3CX description: Failed SIP registrations" in text and "3CX answered: HTTP 204" in text
    assert harness.bot is not None
    steps = await harness.bot.store.transitions(request.id)
    assert [(s.from_state, s.to_state, s.actor) for s in steps] == [
        (None, State.PENDING, ALICE),
        (State.PENDING, State.EXECUTING, BOB),
        (State.EXECUTING, State.UNBLOCKED, BOB),
    ]
    assert steps[-1].answer == "HTTP 204"
    logged = [
        (r.__dict__["from"], r.__dict__["to"], r.__dict__["actor"]) for r in caplog.records if r.name == "bot.audit"
    ]
    assert logged == [(None, "pending", ALICE), ("pending", "executing", BOB), ("executing", "unblocked", BOB)]


# 8. usage and bad input ---------------------------------------------------------------------------


#: what a person may type that the bot cannot use, and what it says
BAD_INPUT = [
    ("abc", "is not something `/unblock` knows"),
    ("-1", "is not a blocklist entry id"),
    ("42) or 1 eq 1", "`42)` is not something"),
    ("x" * 5000, "is not something"),
    ("\u0664\u0662", "is not something"),  # Arabic-Indic digits
    ("\uff14\uff12", "is not something"),  # full-width digits
    ("<!channel>", "`&lt;!channel&gt;` is not something"),
    ("number", "Which number?"),
    ("number abc", "is not a phone number"),
    ("+12", "is not a phone number"),
    ("203.0.113.300", "is not an IP address"),
    ("203.0.113.7/33", "is not an IP address"),
    ("2001:db8::zz", "`2001:db8::zz` is not an IP address"),
    ("history 0", "takes a count from 1 to 50"),
    ("history lots", "takes a count from 1 to 50"),
    ("list " + "y" * 65, "plain text of at most 64 characters"),
    ("42 " + "why " * 100, "reason is too long: please keep it to at most 300 characters"),
]


async def test_usage_and_bad_input_are_explained_and_do_nothing(harness: Harness) -> None:
    for text in ("", "help", "  HELP  ", "help me", "?"):
        reply, _ = await harness.command(text)

        assert reply.status == 200
        assert "`/unblock 42`" in reply.message and "`/unblock list [text]`" in reply.message
        assert "`/unblock report [days]`" in reply.message
        for said in ("*Approve*", "*Deny*", "*Cancel*", "*Approve and allow*", "*Undo*", "approvals channel"):
            assert said in reply.message  # every button, and the approvals channel
    for text, says in BAD_INPUT:
        reply, _ = await harness.command(text)
        await harness.settle()

        assert reply.status == 200
        answer = reply.message
        assert says in answer, text
        assert len(answer) < 300 and "<!channel>" not in answer
    assert harness.pbx.requests == []
    assert harness.slack.calls_to("chat.postMessage") == []
    assert await harness.stored_count() == 0


async def test_unblock_channels_limits_where_the_command_works(make_harness: MakeHarness) -> None:
    harness = await make_harness(UNBLOCK_CHANNELS="C0ITDESK")

    reply, _ = await harness.command("42", channel=GENERAL)

    assert "not enabled in this channel" in reply.message and "<#C0ITDESK>" in reply.message
    assert harness.pbx.requests == []
    await harness.open_card(channel="C0ITDESK")  # a card there


async def test_an_entry_whose_delete_answer_was_lost_is_reported_unblocked_by_the_bot_with_undo(
    harness: Harness,
) -> None:
    request = await harness.open_card()
    harness.pbx.drop_next(method="DELETE", after_effect=True)  # 3CX deletes it; its answer never arrives

    await harness.click(APPROVE, request, user=BOB)
    await harness.settle()

    assert 42 not in harness.pbx.entries and len(harness.pbx.calls("DELETE")) == 2  # the second one got 404
    text = block_text(harness.cards()[0].blocks)
    assert "Request to unblock 203.0.113.7 was approved by <@UBOB>, and it is unblocked.*" in text
    assert "already gone" not in text
    stored = await harness.stored(request)
    assert (stored.state, stored.outcome) == (State.UNBLOCKED, "deleted") and stored.done.undo_until is not None

    await harness.click(UNDO, request, user=BOB)  # the bot's own unblock: its Undo puts the block back
    await harness.settle()
    assert (await harness.stored(request)).state is State.UNDONE
    assert [e["IPAddrMask"] for e in harness.pbx.entries.values()] == ["203.0.113.7"]


async def test_fifty_concurrent_approvals_share_one_token_fetch(harness: Harness) -> None:
    for n in range(100, 150):
        harness.pbx.add_entry(n, f"192.0.2.{n - 99}")
        await harness.command(str(n))
    await harness.settle()
    requests = [await harness.request_for(card) for card in harness.cards()]
    await harness.restart()  # a fresh process, with the token it keeps in its database
    harness.pbx.expire_tokens()  # which 3CX no longer takes: every approval gets a 401 at first
    harness.pbx.token_delay = 0.2
    tokens_before = harness.pbx.token_requests

    await asyncio.gather(*(harness.click(APPROVE, r, user=BOB) for r in requests))
    await harness.settle()

    assert harness.pbx.token_requests == tokens_before + 1
    renewed = f"Bearer {harness.pbx.tokens_issued[-1]}"
    carried_out = [r.path for r in harness.pbx.calls("DELETE") if r.headers["Authorization"] == renewed]
    assert sorted(carried_out) == sorted(f"/xapi/v1/Blocklist({n})" for n in range(100, 150))
    assert {(await harness.stored(r)).state for r in requests} == {State.UNBLOCKED}
