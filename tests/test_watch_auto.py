"""Trusted networks on the watcher: a new block inside a network whose rule has ``auto_on_watch`` is unblocked by
the watcher at once, and the watch channel says so, with Undo; any other new block is announced as before."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.domain.model import State
from bot.slack.buttons import REQUEST_ENTRY, UNDO

from .conftest import MakeHarness
from .fakes.slack import Message
from .harness import ALICE, BOB, Harness, block_text, buttons, card_request_id
from .test_watch import WATCH, announced, look, stop_loop

RULES = """
[[rule]]
name = "Branch offices"
networks = ["198.51.100.0/24"]
auto = true
auto_on_watch = true
"""


async def watching_with_rules(make_harness: MakeHarness, tmp_path: Path, **env: str) -> Harness:
    """A bot with the rules file that trusts 198.51.100.0/24, watching; the test makes its looks one at a time.
    The first look only sets the mark."""
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES)
    harness = await make_harness(
        UNBLOCK_RULES=str(rules), UNBLOCK_WATCH_CHANNEL=WATCH, UNBLOCK_WATCH_INTERVAL="3600", **env
    )
    await stop_loop(harness)
    await look(harness)
    return harness


def everything_said(harness: Harness) -> str:
    """Every text the bot sent to Slack: messages, updates, direct messages, Home tabs."""
    return "\n".join(str(call.args) for call in harness.slack.calls)


def first_version(harness: Harness, message: Message) -> str:
    """What a message said when it was posted (before any update)."""
    [post] = [c for c in harness.slack.calls_to("chat.postMessage")
              if c.args.get("channel") == message.channel and "Unblocked" in str(c.args)]  # fmt: skip
    return str(post.args)


async def test_a_block_inside_the_trusted_network_is_unblocked_at_once_and_an_approver_can_undo_it(
    make_harness: MakeHarness, tmp_path: Path
) -> None:
    harness = await watching_with_rules(make_harness, tmp_path)
    harness.pbx.add_entry(57, "198.51.100.57", description="Failed SIP registrations from 198.51.100.57")

    await look(harness)
    await look(harness)  # a second look does nothing more

    assert [c.path for c in harness.pbx.calls("DELETE")] == ["/xapi/v1/Blocklist(57)"]
    assert 57 not in harness.pbx.entries
    [card] = announced(harness)  # one message: no announcement with Request unblock beside it
    said = first_version(harness, card)
    assert "Unblocked 198.51.100.57 automatically by rule 'Branch offices'" in said
    assert "3CX entry 57, added by AutoBlacklist" in said
    text = block_text(card.blocks)
    carried_out = "was carried out automatically by rule 'Branch offices', and it is unblocked"
    assert f"Request to unblock 198.51.100.57 {carried_out}." in text
    assert "Requested by the bot, watching the IP blocklist." in text and "watcher" not in text
    assert [b["text"]["text"] for b in buttons(card.blocks)] == ["Undo"]
    request = await harness.stored(card_request_id(card.blocks))
    assert (request.state, request.requester, request.rule, request.channel) == (
        State.UNBLOCKED, "watcher", "Branch offices", WATCH
    )  # fmt: skip
    assert "<@watcher>" not in everything_said(harness)
    assert harness.slack.calls_to("conversations.open") == []
    assert {c.args.get("channel") for c in harness.slack.calls_to("chat.postMessage")} == {WATCH}  # no DM

    await harness.click(UNDO, request, user=BOB)
    await harness.settle()

    [put_back] = harness.pbx.calls("POST")
    assert put_back.path == "/xapi/v1/Blocklist" and put_back.json["IPAddrMask"] == "198.51.100.57"
    assert (await harness.stored(request)).state is State.UNDONE
    [card] = announced(harness)
    assert "was undone by <@UBOB>: it is blocked again" in block_text(card.blocks)
    assert buttons(card.blocks) == []
    assert "<@watcher>" not in everything_said(harness)
    assert {c.args.get("channel") for c in harness.slack.calls_to("chat.postMessage")} == {WATCH}


async def test_an_entry_the_undo_put_back_is_announced_and_not_unblocked_again(
    make_harness: MakeHarness, tmp_path: Path
) -> None:
    harness = await watching_with_rules(make_harness, tmp_path, UNBLOCK_WATCH_ADDED_BY="*")
    first = harness.pbx.block("198.51.100.57", added_by="AutoBlacklist")["Id"]
    await look(harness)
    [card] = announced(harness)
    request = await harness.stored(card_request_id(card.blocks))
    await harness.click(UNDO, request, user=BOB)
    await harness.settle()
    [back] = [i for i in harness.pbx.entries if i != 42]
    assert back > first  # 3CX gave the entry put back a new Id

    await look(harness)

    assert len(harness.pbx.calls("DELETE")) == 1
    [_, announcement] = announced(harness)
    assert "3CX blocked 198.51.100.57" in block_text(announcement.blocks)
    assert [b["value"] for b in buttons(announcement.blocks)] == [str(back)]  # Request unblock, for a person


async def test_an_entry_the_undo_of_a_persons_request_put_back_is_announced_and_not_unblocked_again(
    make_harness: MakeHarness, tmp_path: Path
) -> None:
    harness = await watching_with_rules(make_harness, tmp_path, UNBLOCK_WATCH_ADDED_BY="*")
    harness.pbx.add_entry(30, "198.51.100.57")  # listed before watching started: a person asks for it
    reply, _ = await harness.command("198.51.100.57", user=ALICE)
    assert reply.status == 200
    await harness.settle()
    [card] = harness.cards()
    request = await harness.stored(card_request_id(card.blocks))
    assert (request.state, request.requester) == (State.UNBLOCKED, ALICE)  # carried out by the rule at once
    await harness.click(UNDO, request, user=BOB)
    await harness.settle()
    assert (await harness.stored(request)).state is State.UNDONE
    [back] = [i for i, e in harness.pbx.entries.items() if e["IPAddrMask"] == "198.51.100.57"]

    await look(harness)

    assert [c.path for c in harness.pbx.calls("DELETE")] == ["/xapi/v1/Blocklist(30)"]  # never removed again
    assert back in harness.pbx.entries
    [announcement] = announced(harness)
    assert "3CX blocked 198.51.100.57" in block_text(announcement.blocks)
    assert [b["value"] for b in buttons(announcement.blocks)] == [str(back)]  # Request unblock, for a person


async def test_sixty_blocks_inside_the_trusted_network_in_one_look_are_unblocked_with_one_message(
    make_harness: MakeHarness, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    harness = await watching_with_rules(make_harness, tmp_path)
    caplog.set_level(logging.INFO, logger="bot.audit")
    for n in range(100, 160):
        harness.pbx.add_entry(n, f"198.51.100.{n}")

    await look(harness)
    await look(harness)  # a second look does nothing more

    # each unblocked as the rule says, once, and recorded as a request of its own
    assert sorted(c.path for c in harness.pbx.calls("DELETE")) == [f"/xapi/v1/Blocklist({n})" for n in range(100, 160)]
    carried_out = [r.__dict__ for r in caplog.records if r.name == "bot.audit" and r.__dict__["to"] == "unblocked"]
    assert len(carried_out) == 60 and {r["requester"] for r in carried_out} == {"watcher"}
    # one message in the channel (posted, then changed), not sixty cards
    [summary] = announced(harness)
    assert len(harness.slack.calls_to("chat.postMessage")) == 1
    text = block_text(summary.blocks)
    assert "Unblocked 60 entries automatically by rule 'Branch offices'." in text
    assert "`198.51.100.100`" in text and "and 55 more" in text
    assert "An approver can undo each until" in text

    # Show them all: privately, each request with Undo, which puts that entry back
    [show] = buttons(summary.blocks)
    _, response_url = await harness.click(show["action_id"], str(show["value"]), user=BOB, channel=WATCH)
    await harness.settle()
    [page] = harness.slack.posts_to(response_url)
    assert page.body["response_type"] == "ephemeral"
    assert "1 to 10 of 60" in block_text(page.body["blocks"])
    undos = [b for b in buttons(page.body["blocks"]) if b["action_id"] == UNDO]
    assert len(undos) == 10 and "`198.51.100.100` (3CX entry 100): unblocked" in block_text(page.body["blocks"])
    await harness.click(UNDO, str(undos[0]["value"]), user=BOB, channel=WATCH)
    await harness.settle()
    [put_back] = harness.pbx.calls("POST")
    assert put_back.json["IPAddrMask"] == "198.51.100.100"
    assert (await harness.stored(str(undos[0]["value"]))).state is State.UNDONE


async def test_a_burst_whose_message_slack_refused_is_unblocked_at_the_next_look_and_never_twice(
    make_harness: MakeHarness, tmp_path: Path
) -> None:
    harness = await watching_with_rules(make_harness, tmp_path)
    for n in range(100, 110):
        harness.pbx.add_entry(n, f"198.51.100.{n}")
    harness.slack.fail_next("chat.postMessage", "channel_not_found")

    await look(harness)
    assert harness.pbx.calls("DELETE") == [] and announced(harness) == []  # nothing unblocked unannounced

    await look(harness)
    await look(harness)
    assert len(harness.pbx.calls("DELETE")) == 10
    [summary] = announced(harness)
    assert "Unblocked 10 entries automatically by rule 'Branch offices'." in block_text(summary.blocks)


async def test_a_block_outside_the_trusted_network_is_announced_as_before_and_not_deleted(
    make_harness: MakeHarness, tmp_path: Path
) -> None:
    harness = await watching_with_rules(make_harness, tmp_path)
    harness.pbx.add_entry(58, "192.0.2.58")

    await look(harness)

    assert harness.pbx.calls("DELETE") == []
    [message] = announced(harness)
    assert "3CX blocked 192.0.2.58" in block_text(message.blocks)
    assert [(b["action_id"], b["text"]["text"]) for b in buttons(message.blocks)] == [
        (REQUEST_ENTRY, "Request unblock")
    ]
    await harness.click(REQUEST_ENTRY, "58", user=ALICE, channel=WATCH)
    await harness.settle()
    assert any("<@UALICE> asks to unblock 192.0.2.58" in block_text(m.blocks) for m in announced(harness))
    assert harness.pbx.calls("DELETE") == []


async def test_a_block_3cx_refuses_to_remove_is_shown_failed_with_the_reason(
    make_harness: MakeHarness, tmp_path: Path
) -> None:
    harness = await watching_with_rules(make_harness, tmp_path)
    harness.pbx.add_entry(57, "198.51.100.57")
    harness.pbx.fail_next(403, method="DELETE")

    await look(harness)
    await look(harness)  # not tried again: a person acts on what the card says

    assert len(harness.pbx.calls("DELETE")) == 1 and 57 in harness.pbx.entries
    [card] = announced(harness)
    text = block_text(card.blocks)
    assert "198.51.100.57" in text and "could not be unblocked" in text
    assert "403" in text
    assert buttons(card.blocks) == []
    assert "<@watcher>" not in everything_said(harness)
