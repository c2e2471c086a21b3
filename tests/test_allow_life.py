"""An allow entry's life end to end: the warning in the card's thread before it ends, with Extend and End now;
Extend (exactly the PATCH 3CX received) and End now (the DELETE), each once and only for whom the rules say; the
message once it ended (at its expiry, or gone from 3CX before), not repeated by a restart; and the Home tab's
list of the allow entries in force."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot import calls
from bot.config import values
from bot.config.rules import RulesError, load_rules
from bot.domain.allows import Allow, Changed
from bot.domain.rules import DEFAULT_ALLOW_MAX, Rule
from bot.slack.views import allows as views

from .conftest import MakeHarness
from .domain.fakes import APPROVER, CHANNEL
from .domain.test_allow_life import allowed as allowed_in
from .domain.test_allow_life import life
from .fakes.slack import FakeSlack, SlackCall
from .fakes.threecx import FakeThreeCX
from .harness import ALICE, APPROVE_ALLOW, BOB, CAROL, GENERAL, MALLORY, Harness, block_text, buttons, wait_for
from .processes import BotProcess, start_http_bot

HOUR = 3600
DAY = 86400
EXTEND, END, HOME_END = "unblock_allow_extend", "unblock_allow_end", "unblock_home_allow_end"


def replies(slack: FakeSlack) -> list[SlackCall]:
    """The bot's replies in a thread that Slack took."""
    return [call for call in slack.calls_to("chat.postMessage") if call.args.get("thread_ts")]


def blocks_of(call: SlackCall) -> list[dict[str, Any]]:
    blocks: Any = call.args.get("blocks")
    return json.loads(blocks) if isinstance(blocks, str) else blocks or []


def texts(slack: FakeSlack) -> list[str]:
    return [block_text(blocks_of(call)) for call in replies(slack)]


async def rounds(harness: Harness, count: int = 2) -> None:
    """Rounds of upkeep now (besides the sweeper's own every half second)."""
    assert harness.bot is not None
    for _ in range(count):
        await harness.bot.served[0].sweeper.tick()
    await harness.settle()


async def allowed(harness: Harness, entry: str = "42", seconds: int = HOUR) -> tuple[str, Allow]:
    """Approve and allow ``entry`` for ``seconds`` as Bob: the request's id and its allow as kept."""
    assert harness.bot is not None
    request = await harness.open_card(entry)
    await harness.click(APPROVE_ALLOW, request, user=BOB, value=f"{request.id}:{seconds}")
    await harness.settle()
    kept = await harness.bot.store.allow_of(request.id)
    assert kept is not None
    return request.id, kept


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


async def test_the_warning_offers_extend_and_end_now_each_done_once_and_only_by_whom_it_may(
    make_harness: MakeHarness,
) -> None:
    harness = await make_harness()
    request_id, allow = await allowed(harness)
    await rounds(harness)
    assert replies(harness.slack) == []

    harness.clock.advance(HOUR - 350)  # a tenth of an hour before its end: six minutes
    await rounds(harness)
    await wait_for(lambda: len(replies(harness.slack)) == 1, what="the warning")
    await rounds(harness, 3)
    [warning] = replies(harness.slack)
    card = await harness.bot.store.card_of(request_id) if harness.bot else None
    assert (warning.args["channel"], warning.args["thread_ts"]) == (GENERAL, card)
    assert "The allow entry for 203.0.113.7 ends <!date^" in texts(harness.slack)[0]
    assert "(in 5 minutes)" in texts(harness.slack)[0]
    extend, end = buttons(blocks_of(warning))
    assert (extend["text"]["text"], end["text"]["text"]) == ("Extend by 1 hour", "End now")
    assert (extend["action_id"], end["action_id"], end["value"]) == (EXTEND, END, request_id)

    harness.pbx.reset_log()
    _, refused = await harness.click(EXTEND, request_id, user=ALICE, value=extend["value"])  # the requester only
    await harness.settle()
    assert harness.notes(refused) == [
        "Only the approvers of this request may extend its allow entry; nothing was changed."
    ]
    assert harness.pbx.calls("PATCH") == [] and len(replies(harness.slack)) == 1

    await harness.click(EXTEND, request_id, user=BOB, value=extend["value"])
    await harness.settle()
    [patch] = harness.pbx.calls("PATCH")
    assert (patch.path, patch.json) == (
        f"/xapi/v1/Blocklist({allow.entry_id})",
        {"ExpiresAt": iso(allow.ends_at + HOUR)},
    )
    assert harness.pbx.entries[allow.entry_id]["ExpiresAt"] == iso(allow.ends_at + HOUR)
    assert "<@UBOB> extended the allow entry for 203.0.113.7 until <!date^" in texts(harness.slack)[1]

    _, again = await harness.click(EXTEND, request_id, user=CAROL, value=extend["value"])  # the same button, later
    await harness.settle()
    assert "already extended by <@UBOB>" in harness.notes(again)[0]
    _, stranger = await harness.click(END, request_id, user=MALLORY)
    await harness.settle()
    assert "Only the approvers of this request, or the person who asked for it" in harness.notes(stranger)[0]
    assert len(harness.pbx.calls("PATCH")) == 1 and harness.pbx.calls("DELETE") == []

    await harness.click(END, request_id, user=ALICE)
    await harness.settle()
    assert [r.path for r in harness.pbx.calls("DELETE")] == [f"/xapi/v1/Blocklist({allow.entry_id})"]
    assert allow.entry_id not in harness.pbx.entries
    assert texts(harness.slack)[2].endswith("The allow entry for 203.0.113.7 was ended by <@UALICE> (End now).")
    harness.clock.advance(2 * HOUR)
    await rounds(harness, 3)
    assert len(replies(harness.slack)) == 3  # nothing more: no warning, no other end


async def test_the_end_is_told_once_when_3cx_lifted_it_or_it_was_gone_before_even_after_a_restart(
    make_harness: MakeHarness,
) -> None:
    harness = await make_harness()
    harness.pbx.add_entry(43, "198.51.100.7")
    expiring, _ = await allowed(harness, "42", DAY)
    removed, second = await allowed(harness, "43", DAY)
    del harness.pbx.entries[second.entry_id]  # an admin removed it in 3CX
    harness.clock.advance(61)
    await rounds(harness)
    await wait_for(lambda: len(replies(harness.slack)) == 1, what="the message of the removed one")
    assert texts(harness.slack) == [
        ":lock: The allow entry for 198.51.100.7 was gone from 3CX before its end (someone removed it)."
    ]

    await harness.restart()
    harness.clock.advance(DAY)
    await rounds(harness)
    await wait_for(lambda: len(replies(harness.slack)) == 2, what="the message of the expired one")
    await rounds(harness, 3)
    assert texts(harness.slack)[1].startswith(":lock: 3CX lifted the allow entry for 203.0.113.7 at its expiry (")
    assert len(replies(harness.slack)) == 2
    assert [call.args["thread_ts"] for call in replies(harness.slack)] == [
        await harness.bot.store.card_of(request) if harness.bot else None for request in (removed, expiring)
    ]


async def test_the_home_tab_lists_the_allow_entries_in_force_with_end_now_for_whom_may_end_them(
    make_harness: MakeHarness,
) -> None:
    harness = await make_harness()
    request_id, allow = await allowed(harness)
    home = block_text((await harness.open_home(BOB))["blocks"])
    assert "Allow entries in force" in home and "203.0.113.7" in home
    [end] = [b for b in buttons(harness.slack.homes[BOB]["blocks"]) if b["action_id"] == HOME_END]
    assert end["value"] == request_id
    assert "Allow entries in force" not in block_text((await harness.open_home(MALLORY))["blocks"])

    harness.pbx.reset_log()
    await harness.home_click(HOME_END, request_id, user=MALLORY)
    await harness.settle()
    assert harness.pbx.calls("DELETE") == []
    await harness.home_click(HOME_END, request_id, user=BOB)
    await harness.settle()
    assert [r.path for r in harness.pbx.calls("DELETE")] == [f"/xapi/v1/Blocklist({allow.entry_id})"]
    shown = block_text(harness.slack.homes[BOB]["blocks"])
    assert "was ended by <@UBOB> (End now)" in shown and "Allow entries in force" not in shown


def test_allow_max_is_a_rules_key_and_the_warning_a_setting(tmp_path: Path) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(
        '[[rule]]\nname = "Offices"\nnetworks = ["10.0.0.0/8"]\nallow_max = "7d"\n\n[[rule]]\nname = "Rest"\n'
    )
    offices, rest = load_rules(rules, Rule()).rules
    assert (offices.allow_max, rest.allow_max) == (7 * DAY, DEFAULT_ALLOW_MAX)
    rules.write_text('[[rule]]\nname = "Offices"\nallow_max = "400d"\n')
    with pytest.raises(RulesError, match=r'allow_max must be a duration from 1m to 365d.*got "400d"'):
        load_rules(rules, Rule())
    assert (values.warn_before("2h"), values.warn_before("off"), values.warn_before("0")) == (2 * HOUR, 0.0, 0.0)
    with pytest.raises(ValueError, match="from 1m to 30d"):
        values.warn_before("31d")


async def test_history_notes_the_allow_entry_of_each_request_that_added_one(make_harness: MakeHarness) -> None:
    harness = await make_harness()
    harness.pbx.add_entry(43, "198.51.100.7")
    ended, _ = await allowed(harness, "42")
    await allowed(harness, "43", DAY)
    await harness.click(END, ended, user=BOB)
    await harness.settle()
    _, response_url = await harness.command("history", user=BOB)
    await harness.settle()
    [shown] = harness.shown(response_url)
    assert "allow ended by <@UBOB>" in shown and "allow until <!date^" in shown


async def test_3cx_refusing_the_patch_is_explained_and_changes_nothing(make_harness: MakeHarness) -> None:
    harness = await make_harness()
    request_id, allow = await allowed(harness)
    harness.pbx.reset_log()
    harness.pbx.fail_next(403, method="PATCH")
    _, refused = await harness.click(EXTEND, request_id, user=BOB, value=f"{request_id}:{int(allow.ends_at)}")
    await harness.settle()
    [note] = harness.notes(refused)
    assert note.startswith("3CX did not change the allow entry for 203.0.113.7: 3CX did not give the bot the right")
    assert "try again" not in note.lower() and len(harness.pbx.calls("PATCH")) == 1
    kept = await harness.bot.store.allow_of(request_id) if harness.bot else None
    assert kept is not None and (kept.phase, kept.ends_at) == (allow.phase, allow.ends_at)
    assert harness.pbx.entries[allow.entry_id]["ExpiresAt"] == iso(allow.ends_at)


def test_a_warning_at_allow_max_says_why_it_cannot_be_extended() -> None:
    allow = Allow("aa0000000000000a", 9, "203.0.113.7", 0.0, 7 * DAY, HOUR)
    _, blocks = views.warning(allow, 0.0, 7 * DAY, 7 * DAY - 600)
    assert "It cannot be extended: its rule lets an allow entry last 7 days at most." in block_text(blocks)
    assert [b["text"]["text"] for b in buttons(blocks)] == ["End now"]


async def test_a_click_calls_3cx_only_under_a_permit_that_ends_before_its_claim_may_be_taken_over() -> None:
    """(On the domain's fakes: the permit is what the 3CX client checks before each try.)"""
    a = life()
    request = await allowed_in(a.w)
    held: list[calls.Permit | None] = []

    async def see() -> None:
        held.append(calls.PERMIT.get())

    a.w.ip.before["remove_entry"] = see
    before = time.monotonic()
    assert isinstance(await a.process().end(request.id, APPROVER, CHANNEL), Changed)
    [permit] = held
    assert permit is not None and before < permit.until <= time.monotonic() + 2 * a.w.timing.heartbeat


@pytest.mark.long(10)
async def test_an_extend_under_way_when_the_bot_was_killed_is_finished_once_after_a_restart(
    processes: list[BotProcess], slack: FakeSlack, pbx: FakeThreeCX, tmp_path: Path
) -> None:
    """Extend, killed while 3CX changes the entry's end: the bot started again looks at the entry before sending
    anything (the PATCH had been applied), records the extension, and says it once. The other answers of a taken
    over change (a PATCH not applied, End now) are the domain tests' (test_allow_life.py)."""
    first, driver = await start_http_bot(processes, slack, pbx, tmp_path, THREECX_TIMEOUT="1")
    await driver.command("42")
    await wait_for(lambda: driver.cards(), what="the card")
    request_id = str(buttons(driver.cards()[0].blocks)[0]["value"])
    await driver.click(APPROVE_ALLOW, request_id, user=BOB, value=f"{request_id}:{HOUR}")
    await wait_for(lambda: any(e["BlockType"] == "Allow" for e in pbx.entries.values()), what="the allow entry")
    [(entry_id, entry)] = [(i, e) for i, e in pbx.entries.items() if e["BlockType"] == "Allow"]
    ends = int(datetime.fromisoformat(entry["ExpiresAt"]).timestamp())

    pbx.delay_of["PATCH"] = 4.0  # 3CX changes the end 4 s later: longer than the bot's whole call may last
    await driver.click(EXTEND, request_id, user=BOB, value=f"{request_id}:{ends}")
    await wait_for(lambda: pbx.calls("PATCH"), what="the PATCH to reach 3CX")
    first.kill()  # SIGKILL, between sending the PATCH and hearing 3CX's answer
    await first.wait()
    pbx.delay_of.clear()  # the call already under way keeps its 4 s
    second, driver = await start_http_bot(processes, slack, pbx, tmp_path, THREECX_TIMEOUT="1")
    extended = "<@UBOB> extended the allow entry for 203.0.113.7 until"
    await wait_for(lambda: any(extended in text for text in texts(slack)), timeout=60, what="the extension said")
    assert await second.stop() == 0

    assert len(pbx.calls("PATCH")) == 1  # looked at, not sent again
    assert pbx.entries[entry_id]["ExpiresAt"] == iso(ends + HOUR)
    assert sum(extended in text for text in texts(slack)) == 1
