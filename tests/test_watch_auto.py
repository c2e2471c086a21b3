"""Trusted networks on the watcher: a new block inside a network whose rule has ``auto_on_watch`` is unblocked by
the watcher at once, and the watch channel says so, with Undo; any other new block is announced as before."""

from __future__ import annotations

from pathlib import Path

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
    assert "Request to unblock 198.51.100.57 was unblocked automatically by rule 'Branch offices'." in text
    assert "Requested by the watcher." in text
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
