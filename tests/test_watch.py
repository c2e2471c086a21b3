"""Watching the blocklist: new blocks are announced in the watch channel, once, with a way to ask for an
unblock; a burst is one summary; an announcement says when its entry is gone. A new block inside a network whose
rule has ``auto_on_watch`` is unblocked by the watcher at once, and the watch channel says so, with Undo."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from bot.domain.model import State
from bot.domain.watch import HOLD_EVERY, Watch
from bot.slack.watcher import Watcher

from .conftest import MakeHarness
from .fakes.slack import Message
from .fakes.threecx import FakeThreeCX
from .harness import (
    ALICE,
    APPROVE,
    BOB,
    BURST_LIST,
    GENERAL,
    REQUEST_ENTRY,
    UNDO,
    Harness,
    block_text,
    buttons,
    card_request_id,
    wait_for,
)

WATCH = "C0WATCH"


async def watching(make_harness: MakeHarness, **env: str) -> Harness:
    """A bot that watches, whose looks the test makes one at a time (its own loop is stopped after the first)."""
    harness = await make_harness(UNBLOCK_WATCH_CHANNEL=WATCH, UNBLOCK_WATCH_INTERVAL="3600", **env)
    await stop_loop(harness)
    return harness


async def stop_loop(harness: Harness) -> None:
    assert harness.bot is not None and harness.bot.served[0].watcher is not None
    await harness.bot.served[0].watcher.stop()


async def look(harness: Harness) -> None:
    assert harness.bot is not None and harness.bot.served[0].watcher is not None
    await harness.bot.served[0].watcher.look()
    await harness.settle()


def announced(harness: Harness) -> list[Message]:
    return harness.cards(WATCH)


def blocklist_queries(harness: Harness) -> list[dict[str, str]]:
    return [c.query for c in harness.pbx.calls("GET", "/xapi/v1/Blocklist")]


async def test_between_looks_each_round_holds_the_watch_and_asks_3cx_nothing_and_one_that_lost_it_looks_next(
    make_harness: MakeHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    harness = await watching(make_harness)  # looks an hour apart
    assert harness.bot is not None
    watcher = harness.bot.served[0].watcher
    assert watcher is not None
    await look(harness)
    asked = len(harness.pbx.calls("GET"))
    holds: list[bool] = []
    held = Watch.hold

    async def counted(watch: Watch) -> bool:
        holds.append(await held(watch))
        return holds[-1]

    monkeypatch.setattr(Watch, "hold", counted)
    await watcher.tick()
    await watcher.tick()
    assert holds == [True, True] and len(harness.pbx.calls("GET")) == asked and watcher.last_look is not None

    async def taken(watch: Watch) -> bool:  # another process took the watch over
        return False

    monkeypatch.setattr(Watch, "hold", taken)
    await watcher.tick()
    assert watcher.last_look is None and len(harness.pbx.calls("GET")) == asked
    monkeypatch.setattr(Watch, "hold", held)
    await watcher.tick()  # looks at once, as soon as it can take the watch back
    assert watcher.last_look is not None and len(harness.pbx.calls("GET")) > asked


async def test_a_new_autoblacklist_entry_is_announced_once_and_what_was_listed_before_is_not(
    make_harness: MakeHarness,
) -> None:
    harness = await watching(make_harness)  # entry 42 is on the list already
    await look(harness)
    assert announced(harness) == []

    harness.pbx.add_entry(57, "198.51.100.23", description="Failed SIP registrations from 198.51.100.23")
    await look(harness)
    await look(harness)

    [message] = announced(harness)
    text = block_text(message.blocks)
    assert "3CX blocked 198.51.100.23" in text and "entry 57" in text and "AutoBlacklist" in text
    assert "Failed SIP registrations from 198.51.100.23" in text
    assert [b["text"]["text"] for b in buttons(message.blocks)] == ["Request unblock"]
    # each look asked only for what is new: Ids above the mark, lowest first, a page at most
    queries = blocklist_queries(harness)
    assert {"$filter": "Id gt 42", "$orderby": "Id", "$top": "500"} in queries
    assert {"$filter": "Id gt 57", "$orderby": "Id", "$top": "500"} in queries
    assert all("$filter" in q or q.get("$top") == "1" for q in queries)  # never the whole list


async def test_watching_starts_above_the_highest_entry_even_when_3cx_ignores_order_and_top(
    make_harness: MakeHarness, pbx: FakeThreeCX
) -> None:
    pbx.add_entry(7, "198.51.100.7")  # listed before watching starts, like 42: neither is news
    pbx.ignored_options = frozenset({"$orderby", "$top"})  # the whole list comes back, lowest Id first
    harness = await watching(make_harness)
    await look(harness)
    await look(harness)
    assert announced(harness) == []


async def test_a_manual_entry_is_announced_only_when_every_kind_is_watched(make_harness: MakeHarness) -> None:
    harness = await watching(make_harness)
    await look(harness)
    harness.pbx.add_entry(60, "198.51.100.60", added_by="Manual")
    await look(harness)
    assert announced(harness) == []
    await harness.close()

    everything = await watching(make_harness, UNBLOCK_WATCH_ADDED_BY="*")  # the same database
    await look(everything)
    everything.pbx.add_entry(61, "198.51.100.61", added_by="Manual")
    await look(everything)
    assert ["Manual" in block_text(m.blocks) for m in announced(everything)] == [True]


async def test_two_hundred_new_entries_in_one_look_are_one_summary(make_harness: MakeHarness) -> None:
    harness = await watching(make_harness)
    await look(harness)
    for n in range(200):
        harness.pbx.add_entry(1000 + n, f"198.18.{n // 100}.{n % 100}", description=f"attack wave {n % 3}")

    await look(harness)
    await look(harness)

    [summary] = announced(harness)
    text = block_text(summary.blocks)
    assert "3CX blocked 200 addresses at once" in text
    assert "attack wave 0_: 67" in text and "attack wave 1_: 67" in text and "attack wave 2_: 66" in text
    assert "`198.18.0.0`" in text and "and 195 more" in text

    # Show them all: privately, a page at a time, each with Request unblock
    [show] = buttons(summary.blocks)
    _, response_url = await harness.click(BURST_LIST, str(show["value"]), user=ALICE, channel=WATCH)
    await harness.settle()
    [page] = harness.slack.posts_to(response_url)
    assert page.body["response_type"] == "ephemeral"
    assert "Entries blocked together (1000\N{EN DASH}1199)*, 1 to 10 of those still blocked" in block_text(
        page.body["blocks"]
    )
    picks = [b for b in buttons(page.body["blocks"]) if b["action_id"] == REQUEST_ENTRY]
    assert [p["value"] for p in picks] == [str(n) for n in range(1000, 1010)]
    more = [b for b in buttons(page.body["blocks"]) if b["action_id"] == BURST_LIST]
    _, next_url = await harness.click(BURST_LIST, str(more[0]["value"]), user=ALICE, channel=WATCH)
    await harness.settle()
    [second] = harness.slack.posts_to(next_url)
    assert next(b["value"] for b in buttons(second.body["blocks"]) if b["action_id"] == REQUEST_ENTRY) == "1010"


async def test_a_restart_announces_nothing_twice(make_harness: MakeHarness) -> None:
    harness = await watching(make_harness)
    await look(harness)
    harness.pbx.add_entry(57, "198.51.100.23")
    await look(harness)

    await harness.restart()
    await stop_loop(harness)
    harness.pbx.add_entry(58, "198.51.100.24")
    await look(harness)
    await look(harness)

    texts = [block_text(m.blocks) for m in announced(harness)]
    assert [("198.51.100.23" in t, "198.51.100.24" in t) for t in texts] == [(True, False), (False, True)]


async def test_3cx_away_pauses_watching_and_nothing_is_lost(
    make_harness: MakeHarness, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # its own loop, looking every 50 ms (the settings allow 5 s at least, and hold the watch between looks)
    monkeypatch.setattr(Watcher, "every", 0.05)
    monkeypatch.setattr(Watcher, "tick", Watcher.look)
    harness = await make_harness(UNBLOCK_WATCH_CHANNEL=WATCH, UNBLOCK_WATCH_INTERVAL="5")
    await wait_for(lambda: harness.pbx.calls("GET", "/xapi/v1/Blocklist"), what="watching to start")
    caplog.set_level(logging.WARNING, logger="bot.slack.watcher")
    harness.pbx.fail_next(503, times=1000, method="GET")
    harness.pbx.add_entry(57, "198.51.100.23")
    harness.pbx.add_entry(58, "198.51.100.24")
    await wait_for(lambda: "pauses" in caplog.text, timeout=20, what="watching to pause")

    harness.pbx.clear_faults()
    await wait_for(lambda: len(announced(harness)) == 2, timeout=20, what="both entries announced")
    # one more look, for what came after them: nothing again
    next_look = {"$filter": "Id gt 58", "$orderby": "Id", "$top": "500"}
    await wait_for(lambda: next_look in blocklist_queries(harness), timeout=20, what="the next look")
    await harness.settle()
    assert len(announced(harness)) == 2
    assert [r.message for r in caplog.records].count("watching the blocklist pauses until what it needs answers") == 1
    assert "watching the blocklist resumes" in caplog.text


async def test_request_unblock_opens_the_card_and_the_announcement_shows_the_entry_gone_and_a_forged_one_nothing(
    make_harness: MakeHarness,
) -> None:
    harness = await watching(make_harness)
    _, forged_url = await harness.click(REQUEST_ENTRY, "0; DROP", user=ALICE, channel=WATCH)
    await look(harness)
    assert harness.notes(forged_url) == [
        "That button does not name an IP blocklist entry, so nothing was done. Try `/unblock` and the entry's id."
    ]
    harness.pbx.add_entry(57, "198.51.100.23")
    await look(harness)
    [announcement] = announced(harness)

    await harness.click(REQUEST_ENTRY, "57", user=ALICE, channel=WATCH)
    await harness.settle()
    card = next(m for m in announced(harness) if "asks to unblock" in block_text(m.blocks))
    assert "<@UALICE> asks to unblock 198.51.100.23" in block_text(card.blocks)  # in the watch channel
    assert "IP blocklist, entry 57" in block_text(card.blocks)
    request = card_request_id(card.blocks)

    await harness.click(APPROVE, request, user=BOB, channel=WATCH)
    await harness.settle()
    assert [c.path for c in harness.pbx.calls("DELETE")] == ["/xapi/v1/Blocklist(57)"]
    assert (await harness.stored(request)).state is State.UNBLOCKED

    await look(harness)
    now = next(m for m in announced(harness) if m.ts == announcement.ts)
    assert "198.51.100.23 is no longer blocked" in block_text(now.blocks)
    assert buttons(now.blocks) == []


async def test_two_replicas_announce_each_entry_once_and_the_survivor_takes_over(
    make_harness: MakeHarness, database_url: str
) -> None:
    a = await watching(make_harness, DATABASE_URL=database_url)
    b = await watching(make_harness, DATABASE_URL=database_url)
    await look(a)
    await look(b)
    a.pbx.add_entry(57, "198.51.100.23")
    await asyncio.gather(look(a), look(b), look(a), look(b))
    assert len(announced(a)) == 1

    # the watcher stops looking (as if killed: it does not hand the watch on); the other one takes over once
    # the watch has not been held for twice the hold's period, whatever the interval between looks
    a.pbx.add_entry(58, "198.51.100.24")
    await look(b)
    assert len(announced(b)) == 1
    b.clock.advance(2 * HOLD_EVERY + 1)
    await look(b)
    await look(b)
    assert ["198.51.100.24" in block_text(m.blocks) for m in announced(b)] == [False, True]


# trusted networks ----------------------------------------------------------------------------------------------


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
    harness = await watching(make_harness, UNBLOCK_RULES=str(rules), **env)
    await look(harness)
    return harness


def everything_said(harness: Harness) -> str:
    """Every text the bot sent to Slack: messages, updates, direct messages, Home tabs."""
    return "\n".join(str(call.args) for call in harness.slack.calls)


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
    [post] = harness.slack.calls_to("chat.postMessage")  # what it said before it was changed
    said = str(post.args)
    assert "Unblocked 198.51.100.57 automatically by rule 'Branch offices'" in said
    assert "3CX entry 57, added by AutoBlacklist" in said
    text = block_text(card.blocks)
    carried_out = "was carried out automatically by rule 'Branch offices', and it is unblocked"
    assert f"Request to unblock 198.51.100.57 {carried_out}." in text
    assert "Requested by the bot, watching the IP blocklist." in text and "watcher" not in text
    assert [b["text"]["text"] for b in buttons(card.blocks)] == ["Undo"]
    request = card_request_id(card.blocks)
    assert "<@watcher>" not in everything_said(harness)
    assert harness.slack.calls_to("conversations.open") == []
    assert {c.args.get("channel") for c in harness.slack.calls_to("chat.postMessage")} == {WATCH}  # no DM

    await harness.click(UNDO, request, user=BOB, channel=WATCH)
    await harness.settle()

    [put_back] = harness.pbx.calls("POST")
    assert put_back.path == "/xapi/v1/Blocklist" and put_back.json["IPAddrMask"] == "198.51.100.57"
    assert (await harness.stored(request)).state is State.UNDONE
    [card] = announced(harness)
    assert "was undone by <@UBOB>: it is blocked again" in block_text(card.blocks)
    assert buttons(card.blocks) == []
    assert "<@watcher>" not in everything_said(harness)
    assert {c.args.get("channel") for c in harness.slack.calls_to("chat.postMessage")} == {WATCH}


@pytest.mark.parametrize("whose", ["the watcher's", "a person's"])
async def test_an_entry_an_undo_put_back_is_announced_and_not_unblocked_again(
    make_harness: MakeHarness, tmp_path: Path, whose: str
) -> None:
    # every kind watched ("*"): 3CX does not say who added an entry put back
    harness = await watching_with_rules(make_harness, tmp_path, UNBLOCK_WATCH_ADDED_BY="*")
    if whose == "a person's":
        harness.pbx.add_entry(30, "198.51.100.57")  # listed before watching started: a person asks for it
        reply, _ = await harness.command("198.51.100.57", user=ALICE)
        assert reply.status == 200
    else:
        harness.pbx.block("198.51.100.57", added_by="AutoBlacklist")
        await look(harness)
    await harness.settle()
    [card] = harness.cards(WATCH if whose == "the watcher's" else GENERAL)
    assert "was carried out automatically by rule 'Branch offices'" in block_text(card.blocks)  # at once
    request = card_request_id(card.blocks)
    await harness.click(UNDO, request, user=BOB, channel=card.channel)
    await harness.settle()
    assert (await harness.stored(request)).state is State.UNDONE
    [back] = [i for i, e in harness.pbx.entries.items() if e["IPAddrMask"] == "198.51.100.57"]  # a new Id

    await look(harness)

    assert len(harness.pbx.calls("DELETE")) == 1 and back in harness.pbx.entries  # never removed again
    announcement = announced(harness)[-1]
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
