"""The shortcuts (**Request an unblock**, **Unblock an address in this message**) and their form, as Slack sends
them, signed, over HTTP and Socket Mode: the form opens, a value it cannot use is answered on its field and
nothing reaches 3CX, a good one goes on as ``/unblock`` does, and a made-up submission changes nothing."""

from __future__ import annotations

import json
import pathlib
import re
import time
import uuid
from typing import Any
from urllib.parse import urlencode

from .conftest import MakeHarness
from .fakes.slack import FakeSlack
from .fakes.threecx import FakeThreeCX
from .harness import (
    ALICE,
    APPROVE,
    BOB,
    CANCEL,
    CHOOSE,
    GENERAL,
    MALLORY,
    Harness,
    Reply,
    block_text,
    buttons,
    card_request_id,
    socket_mode_bot,
    wait_for,
)

APPROVALS = "C0APPROVALS"
ALERTS = "C0ALERTS"
#: the shortcuts' callback ids (as in the manifest), and the form's fields (as its blocks name them)
UNBLOCK_REQUEST, UNBLOCK_FROM_MESSAGE = "unblock_request", "unblock_from_message"
WHAT, REASON, CHANNEL = "unblock_what", "unblock_reason", "unblock_channel"


# what Slack sends --------------------------------------------------------------------------------------------------


def common(harness: Harness, user: str) -> dict[str, Any]:
    """The fields every payload of a shortcut or a form carries."""
    return {
        "token": "legacy-verification-token",
        "team": {"id": harness.slack.team_id, "domain": "acme"},
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": harness.slack.team_id},
        "is_enterprise_install": False,
        "enterprise": None,
        "trigger_id": uuid.uuid4().hex,
    }


def request_shortcut(harness: Harness, user: str = ALICE) -> dict[str, Any]:
    """**Request an unblock**, chosen from the shortcuts menu (a global shortcut: no channel, no reply URL)."""
    return {
        **common(harness, user),
        "type": "shortcut",
        "action_ts": f"{time.time():.6f}",
        "callback_id": UNBLOCK_REQUEST,
    }


def message_shortcut(harness: Harness, text: str, *, user: str = ALICE, channel: str = ALERTS) -> dict[str, Any]:
    """**Unblock an address in this message**, on a message whose text is ``text``."""
    ts = "1700000123.000200"
    return {
        **common(harness, user),
        "type": "message_action",
        "action_ts": f"{time.time():.6f}",
        "channel": {"id": channel, "name": "alerts"},
        "callback_id": UNBLOCK_FROM_MESSAGE,
        "message_ts": ts,
        "response_url": harness.slack.new_response_url("actions"),
        "message": {"type": "message", "user": "U3CXALERTS", "ts": ts, "text": text},
    }


def submission(
    harness: Harness,
    modal: dict[str, Any],
    values: dict[str, Any],
    *,
    user: str = ALICE,
    view_id: str = "VMODAL1",
    team: str | None = None,
) -> dict[str, Any]:
    """The form ``modal`` (as the bot opened it) submitted by ``user`` with ``values`` (block -> element state)."""
    team = team or harness.slack.team_id
    view = {key: modal[key] for key in ("blocks", "private_metadata", "callback_id", "title")}
    view |= {"id": view_id, "type": "modal", "team_id": team, "app_installed_team_id": team, "hash": "1700000000.abc"}
    view |= {"app_id": "A0001", "bot_id": "B0001", "root_view_id": view_id, "previous_view_id": None}
    view["state"] = {"values": {block: {"value": state} for block, state in values.items()}}
    return {
        **common(harness, user),
        "type": "view_submission",
        "api_app_id": "A0001",
        "response_urls": [],
        "view": view,
    }


def typed(text: str | None) -> dict[str, Any]:
    return {"type": "plain_text_input", "value": text}


def picked(channel: str) -> dict[str, Any]:
    return {"type": "conversations_select", "selected_conversation": channel}


def chosen(value: str) -> dict[str, Any]:
    return {"type": "static_select", "selected_option": {"text": {"type": "plain_text", "text": value}, "value": value}}


async def send(harness: Harness, payload: dict[str, Any]) -> Reply:
    return await harness.post_signed(urlencode({"payload": json.dumps(payload)}))


async def open_form(harness: Harness, payload: dict[str, Any]) -> dict[str, Any]:
    """Use a shortcut; the form the bot opened for it."""
    before = len(harness.slack.modals)
    reply = await send(harness, payload)
    assert (reply.status, reply.text) == (200, "")
    await harness.settle()
    [call] = harness.slack.calls_to("views.open")[before:]
    assert call.args["trigger_id"] == payload["trigger_id"]
    return harness.slack.modals[-1]


def inputs(modal: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The form's input blocks, by block id."""
    return {block["block_id"]: block for block in modal["blocks"] if block["type"] == "input"}


def errors(reply: Reply) -> dict[str, str]:
    """The errors the ack shows on the form's fields."""
    assert reply.status == 200
    answer = json.loads(reply.text)
    assert answer["response_action"] == "errors"
    return dict(answer["errors"])


def direct_messages(harness: Harness, user: str = ALICE) -> list[str]:
    """What the bot wrote to ``user`` in its Messages tab."""
    return [block_text(m.blocks) or m.text for m in harness.slack.channel_messages(user)]


def nothing_happened(harness: Harness) -> None:
    """No card in any channel (direct messages aside), nothing asked of 3CX."""
    posted = [call.args["channel"] for call in harness.slack.calls_to("chat.postMessage")]
    assert [channel for channel in posted if channel not in (ALICE, BOB, MALLORY)] == []
    assert harness.pbx.requests == []


# Request an unblock -------------------------------------------------------------------------------------------------


async def test_a_required_reason_and_an_approvals_channel_shape_the_forms_and_the_cards_go_there(
    make_harness: MakeHarness,
) -> None:
    harness = await make_harness(UNBLOCK_REQUIRE_REASON="true", UNBLOCK_APPROVAL_CHANNEL=APPROVALS)
    reply, _ = await harness.command("42")  # and /unblock
    assert "Please add a reason" in reply.message
    modal = await open_form(harness, request_shortcut(harness))

    fields = inputs(modal)
    assert list(fields) == [WHAT, REASON]  # no channel to pick: the request goes to the approvals channel
    assert fields[REASON]["optional"] is False
    assert f"<#{APPROVALS}>" in block_text(modal["blocks"])
    left_out = await send(harness, submission(harness, modal, {WHAT: typed("42"), REASON: typed("   ")}))
    assert errors(left_out) == {REASON: "Please say why it should be unblocked."}
    await harness.settle()
    nothing_happened(harness)

    reply = await send(harness, submission(harness, modal, {WHAT: typed("203.0.113.7"), REASON: typed("moved")}))
    assert (reply.status, reply.text) == (200, "")
    await harness.settle()
    [card] = harness.cards(APPROVALS)
    assert "<@UALICE> asks to unblock 203.0.113.7*\n" in block_text(card.blocks)  # asked in no other channel
    assert harness.slack.calls_to("conversations.info") == []  # the approvals channel is checked at start
    await harness.click(CANCEL, card_request_id(card.blocks), user=ALICE, channel=APPROVALS)
    await harness.settle()

    # the message shortcut: the card goes to the approvals channel too, and names the message's channel
    modal = await open_form(harness, message_shortcut(harness, "IP 203.0.113.7 has been blacklisted"))
    values = {WHAT: typed("203.0.113.7"), REASON: typed("moved")}
    await send(harness, submission(harness, modal, values, view_id="VMODAL2"))
    await harness.settle()
    assert f"asks to unblock 203.0.113.7* in <#{ALERTS}>" in block_text(harness.cards(APPROVALS)[-1].blocks)
    [*_, note] = direct_messages(harness)  # a command's private note, as a direct message
    assert f"is waiting for approval in <#{APPROVALS}>" in note


async def test_a_value_the_form_cannot_use_is_shown_on_its_field_and_nothing_reaches_3cx(harness: Harness) -> None:
    modal = await open_form(harness, request_shortcut(harness))  # at once, before anything is asked of 3CX

    assert modal["type"] == "modal" and modal["title"]["text"] == "Request an unblock"
    fields = inputs(modal)
    assert list(fields) == [WHAT, REASON, CHANNEL]
    asked = fields[WHAT]
    assert asked["label"]["text"] == "What to unblock" and asked["element"]["type"] == "plain_text_input"
    assert "entry id" in asked["hint"]["text"] and "caller number" in asked["hint"]["text"]
    assert fields[REASON]["element"]["multiline"] is True and fields[REASON]["optional"] is True
    channel = fields[CHANNEL]
    assert channel["label"]["text"] == "Post the request in" and channel["optional"] is False
    assert channel["element"]["type"] == "conversations_select"

    values = {WHAT: typed("203.0.113.300"), REASON: typed(None), CHANNEL: picked(GENERAL)}
    bad_address = await send(harness, submission(harness, modal, values))
    assert list(errors(bad_address)) == [WHAT]
    assert "is not an IP address" in errors(bad_address)[WHAT]

    values = {WHAT: typed("42 VPN moved"), REASON: typed("x" * 301), CHANNEL: picked(GENERAL)}
    with_reason = await send(harness, submission(harness, modal, values))
    assert "reason goes in the field below" in errors(with_reason)[WHAT]
    assert "at most 300 characters" in errors(with_reason)[REASON]

    for what in ("list", "history", "help"):
        wrong = await send(harness, submission(harness, modal, {WHAT: typed(what), CHANNEL: picked(GENERAL)}))
        assert list(errors(wrong)) == [WHAT]
    no_channel = await send(harness, submission(harness, modal, {WHAT: typed("42"), REASON: typed(None)}))
    assert errors(no_channel) == {CHANNEL: "Pick the channel where the request should be posted."}

    await harness.settle()
    nothing_happened(harness)
    assert harness.cards() == [] and await harness.stored_count() == 0


async def test_the_form_gives_the_card_the_command_gives(harness: Harness) -> None:
    by_command = await harness.open_card("42 the customer's VPN moved")
    command_card = comparable(harness.cards(GENERAL)[0].blocks, by_command.id)
    await harness.click(CANCEL, by_command, user=ALICE)
    modal = await open_form(harness, request_shortcut(harness))

    values = {WHAT: typed(" 42 "), REASON: typed("the customer's VPN\nmoved"), CHANNEL: picked(GENERAL)}
    for _ in range(2):  # the same view, in two deliveries (each with its own trigger): one card
        reply = await send(harness, submission(harness, modal, values))
        assert (reply.status, reply.text) == (200, "")  # the form closes
    await harness.settle()

    [_, by_form] = harness.cards(GENERAL)
    form_request = card_request_id(by_form.blocks)
    assert comparable(by_form.blocks, form_request) == command_card
    assert [call.args["channel"] for call in harness.slack.calls_to("conversations.info")] == [GENERAL]
    assert await harness.stored_count() == 2
    await harness.click(APPROVE, form_request, user=BOB)
    await harness.settle()
    assert [r.path for r in harness.pbx.calls("DELETE")] == ["/xapi/v1/Blocklist(42)"]
    # the requester is told the outcome in a direct message, as after /unblock
    assert any("was approved by <@UBOB>" in text for text in direct_messages(harness))


def comparable(blocks: list[dict[str, Any]], request_id: str) -> str:
    """A card's blocks, but for its request's id and the times on it."""
    return re.sub(r"<!date\^[0-9]+\^[^>]*>", "<date>", json.dumps(blocks).replace(request_id, "<id>"))


async def test_several_matches_are_offered_privately(harness: Harness) -> None:
    harness.pbx.add_entry(7, "203.0.113.0/24")
    modal = await open_form(harness, request_shortcut(harness))

    await send(harness, submission(harness, modal, {WHAT: typed("203.0.113.7"), CHANNEL: picked(GENERAL)}))
    await harness.settle()

    assert harness.cards(GENERAL) == []
    [offer] = harness.slack.channel_messages(ALICE)
    assert "2 IP blocklist entries match 203.0.113.7" in block_text(offer.blocks)
    choices = buttons(offer.blocks)
    assert [b["action_id"] for b in choices] == [CHOOSE] * 3
    assert harness.pbx.calls("DELETE") == []

    # chosen in the direct message: the card goes to the channel the form named
    _, click_url = await harness.click(CHOOSE, choices[1]["value"], user=ALICE, channel="D0ALICE")
    await harness.settle()
    [card] = harness.cards(GENERAL)
    assert "<@UALICE> asks to unblock 203.0.113.0/24" in block_text(card.blocks)
    assert "Asked the approvers" in harness.notes(click_url)[-1]
    # someone else's click on that list does nothing
    await harness.click(CHOOSE, choices[0]["value"], user=BOB, channel="D0BOB")
    await harness.settle()
    assert len(harness.cards(GENERAL)) == 1


# Unblock an address in this message ---------------------------------------------------------------------------------


async def test_the_message_shortcut_fills_in_what_it_finds_and_the_card_goes_to_the_messages_channel(
    harness: Harness,
) -> None:
    nothing = message_shortcut(harness, "The weekly backup finished at 03:00 without errors.")
    reply = await send(harness, nothing)
    assert (reply.status, reply.text) == (200, "")
    await harness.settle()
    assert harness.slack.calls_to("views.open") == []
    [note] = harness.notes(nothing["response_url"])
    assert "found no IP address, network or caller number in that message" in note
    nothing_happened(harness)

    modal = await open_form(harness, message_shortcut(harness, "IP 203.0.113.7 has been blacklisted"))

    fields = inputs(modal)
    assert list(fields) == [WHAT, REASON]  # the card goes to the message's channel: nothing to pick
    assert fields[WHAT]["element"]["initial_value"] == "203.0.113.7"
    assert f"<#{ALERTS}>" in block_text(modal["blocks"])

    await send(harness, submission(harness, modal, {WHAT: typed("203.0.113.7"), REASON: typed("office phone")}))
    await harness.settle()

    [card] = harness.cards(ALERTS)
    assert "<@UALICE> asks to unblock 203.0.113.7" in block_text(card.blocks)
    assert "*Reason:* office phone" in block_text(card.blocks)

    # several: offered in a select
    harness.pbx.add_number("N1", "+15550100")
    text = "Blocked: IP 198.51.100.9, then 203.0.113.7 (entry 42) and caller +1 555 0100."
    modal = await open_form(harness, message_shortcut(harness, text))
    element = inputs(modal)[WHAT]["element"]
    assert element["type"] == "static_select"
    assert [o["value"] for o in element["options"]] == ["198.51.100.9", "203.0.113.7", "+15550100"]
    values = {WHAT: chosen("+15550100"), REASON: typed(None)}
    await send(harness, submission(harness, modal, values, view_id="VMODAL2"))
    await harness.settle()
    assert "asks to unblock +15550100" in block_text(harness.cards(ALERTS)[-1].blocks)


# made-up submissions --------------------------------------------------------------------------------------------------


async def test_a_made_up_submission_gets_an_error_or_a_refusal_and_never_a_card(harness: Harness) -> None:
    modal = await open_form(harness, request_shortcut(harness))
    good = {WHAT: typed("42"), REASON: typed("moved"), CHANNEL: picked(GENERAL)}

    # another user's form
    reply = await send(harness, submission(harness, modal, good, user=MALLORY))
    assert errors(reply) == {
        WHAT: "This form was opened by someone else, so nothing was done. Please use the shortcut again."
    }
    # values for a block the form does not have
    extra = {**good, "unblock_entry_ids": typed("42,43")}
    assert "out of date" in errors(await send(harness, submission(harness, modal, extra)))[WHAT]
    # an element the form's block does not have
    payload = submission(harness, modal, good)
    payload["view"]["state"]["values"][WHAT]["other"] = typed("43")
    assert "out of date" in errors(await send(harness, payload))[WHAT]
    # an over-long reason
    assert REASON in errors(await send(harness, submission(harness, modal, {**good, REASON: typed("r" * 5000)})))
    # a metadata made up, or none
    for metadata in (f"{ALICE}|D0DIRECT", "", "not|a|form", f"{ALICE}|{GENERAL}|more" + "x" * 100):
        forged = submission(harness, {**modal, "private_metadata": metadata}, good)
        assert "out of date" in errors(await send(harness, forged))[WHAT]
    # a view of another workspace
    other_team = submission(harness, modal, good, team="T0OTHER")
    assert "out of date" in errors(await send(harness, other_team))[WHAT]
    # a direct message as the channel
    direct = await send(harness, submission(harness, modal, {**good, CHANNEL: picked("D0DIRECT")}))
    assert errors(direct) == {CHANNEL: "Pick a channel of this workspace (not a direct message)."}
    # a value of a kind the form does not make
    made_up: list[Any] = [
        {"type": "plain_text_input", "value": 42},
        {"type": "static_select", "selected_option": "42"},
        [],
    ]
    for wrong in made_up:
        wrong_kind = submission(harness, modal, {**good, WHAT: wrong})
        assert "out of date" in errors(await send(harness, wrong_kind))[WHAT]
    # a shape Slack would not send
    payload = submission(harness, modal, good)
    payload["view"]["private_metadata"] = ["U1"]
    assert (await send(harness, payload)).status == 400
    shortcut = request_shortcut(harness)
    shortcut["trigger_id"] = 7
    assert (await send(harness, shortcut)).status == 400
    # a submission, and a shortcut, from another workspace: no answer, no form
    payload = submission(harness, modal, good, team="T0OTHER")
    shortcut = request_shortcut(harness)
    for sent in (payload, shortcut):
        sent["team"]["id"] = sent["user"]["team_id"] = "T0OTHER"
        reply = await send(harness, sent)
        assert (reply.status, reply.text) == (200, "")

    await harness.settle()
    nothing_happened(harness)
    assert len(harness.slack.calls_to("views.open")) == 1 and harness.slack.calls_to("chat.postMessage") == []
    assert await harness.stored_count() == 0


async def test_a_channel_the_bot_cannot_post_in_is_refused_politely_before_3cx(harness: Harness) -> None:
    modal = await open_form(harness, request_shortcut(harness))
    harness.slack.fail_next("conversations.info", "channel_not_found")  # another workspace's, or private

    reply = await send(harness, submission(harness, modal, {WHAT: typed("42"), CHANNEL: picked("C0ELSEWHERE")}))
    assert (reply.status, reply.text) == (200, "")
    await harness.settle()

    [note] = direct_messages(harness)
    assert "The bot cannot post in <#C0ELSEWHERE>" in note and "nothing was changed in 3CX" in note
    nothing_happened(harness)
    assert await harness.stored_count() == 0


# Socket Mode ----------------------------------------------------------------------------------------------------------


async def test_the_shortcut_and_its_form_over_socket_mode(
    slack: FakeSlack, pbx: FakeThreeCX, tmp_path: pathlib.Path
) -> None:
    async with socket_mode_bot(slack, pbx, tmp_path) as driver:
        await slack.send_envelope("interactive", request_shortcut(driver))
        await wait_for(lambda: slack.modals, what="the form")
        modal = slack.modals[0]

        values = {WHAT: typed("203.0.113.300"), CHANNEL: picked(GENERAL)}
        bad = await slack.send_envelope("interactive", submission(driver, modal, values))
        assert bad["payload"]["response_action"] == "errors" and WHAT in bad["payload"]["errors"]
        assert pbx.calls("GET") == []

        values = {WHAT: typed("42"), CHANNEL: picked(GENERAL)}
        good = await slack.send_envelope("interactive", submission(driver, modal, values))
        assert not good.get("payload")  # the form closes
        await wait_for(lambda: driver.cards(GENERAL), what="the card")
        assert "asks to unblock 203.0.113.7" in block_text(driver.cards(GENERAL)[0].blocks)
        assert card_request_id(driver.cards(GENERAL)[0].blocks)


async def test_a_choice_in_a_direct_message_is_taken_where_clicks_are_limited_to_some_channels(
    make_harness: MakeHarness, pbx: FakeThreeCX
) -> None:
    harness = await make_harness(UNBLOCK_CHANNELS=GENERAL)
    pbx.add_entry(7, "203.0.113.0/24")
    modal = await open_form(harness, request_shortcut(harness))
    await send(harness, submission(harness, modal, {WHAT: typed("203.0.113.7"), CHANNEL: picked(GENERAL)}))
    await harness.settle()
    [offer] = harness.slack.channel_messages(ALICE)
    choices = buttons(offer.blocks)
    _, url = await harness.click(CHOOSE, choices[1]["value"], user=ALICE, channel="D0ALICE")
    await harness.settle()
    [card] = harness.cards(GENERAL)
    assert "<@UALICE> asks to unblock 203.0.113.0/24" in block_text(card.blocks)
    assert "Asked the approvers" in harness.notes(url)[-1]
