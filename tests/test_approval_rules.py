"""The rules decide, through Slack and 3CX: a rule that needs two approvals (the first recorded on the card, the
second carrying it out), a forged click by an approver of another rule, two second approvals at once on two
replicas sharing one PostgreSQL, and a request its rule carries out left by a killed bot; and the rules seen wherever
people look: the card, the Home tab, ``/unblock history`` and ``/metrics``."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import pytest

from .conftest import MakeHarness
from .fakes.slack import FakeSlack, Message, SlackCall
from .fakes.threecx import FakeThreeCX
from .harness import (
    ALICE,
    ALLOW_ONLY,
    APPROVE,
    APPROVE_ALLOW,
    BOB,
    CAROL,
    GENERAL,
    HOME_APPROVE,
    Harness,
    block_text,
    buttons,
    card_request_id,
    wait_for,
    xapi_calls,
)
from .postgres import PostgresServer
from .processes import BotProcess, start_http_bot
from .test_metrics import grew, scrape

SEC1, SEC2, SEC3, VOICE1 = "U0SEC1", "U0SEC2", "U0SEC3", "U0VOICE1"
SECURITY = "S0SECURITY"

RULES = f"""
[[rule]]
name = "Branch offices"
networks = ["198.51.100.0/24"]
auto = true

[[rule]]
name = "Wide networks"
wider_than = 24
approvers = ["{SEC1}", "{SEC2}", "{SECURITY}"]
approvals = 2
allow = []

[[rule]]
name = "Lobby phones"
networks = ["203.0.113.0/24"]
approvers = ["{BOB}"]
allow = []

[[rule]]
name = "Caller numbers"
kind = "number"
approvers = ["{VOICE1}"]
"""
#: beside entry 42 (203.0.113.7, a lobby phone): a wide network, a branch office and an address no rule is about
WIDE, WIDE_NETWORK = 50, "100.64.0.0/16"
BRANCH, BRANCH_ADDRESS = 60, "198.51.100.7"
ELSEWHERE = 70


def rules_file(tmp_path: Path, rules: str = RULES) -> str:
    path = tmp_path / "rules.toml"
    path.write_text(rules, encoding="utf-8")
    return str(path)


def with_entries(pbx: FakeThreeCX, slack: FakeSlack) -> None:
    pbx.add_entry(WIDE, WIDE_NETWORK)
    pbx.add_entry(BRANCH, BRANCH_ADDRESS)
    pbx.add_entry(ELSEWHERE, "192.0.2.9")
    slack.usergroups[SECURITY] = [SEC3]


async def with_rules(make_harness: MakeHarness, tmp_path: Path, rules: str = RULES) -> Harness:
    """A bot deciding by ``rules``, with the entries above on 3CX's blocklist."""
    harness = await make_harness(UNBLOCK_RULES=rules_file(tmp_path, rules))
    with_entries(harness.pbx, harness.slack)
    return harness


def actions(card: Message) -> list[str]:
    return [str(b["action_id"]) for b in buttons(card.blocks)]


async def test_a_rule_of_two_approvals_records_the_first_and_carries_out_the_second(
    make_harness: MakeHarness, tmp_path: Path
) -> None:
    harness = await with_rules(make_harness, tmp_path)
    request = await harness.open_card(str(WIDE))
    [card] = harness.cards()
    pending = block_text(card.blocks)
    assert "approvals:" not in pending  # nobody approved yet
    before = len(harness.pbx.requests)
    for user in (VOICE1, CAROL):  # an approver of "Caller numbers", an approver of the settings only
        _, response_url = await harness.click(APPROVE, request, user=user)
        await harness.settle()
        assert harness.notes(response_url) == [
            f"Only the approvers of rule 'Wide networks' can approve an unblock: <@{SEC1}>, <@{SEC2}> or a member "
            f"of <!subteam^{SECURITY}>."
        ]
        assert harness.slack.posts_to(response_url)[0].body["response_type"] == "ephemeral"
    assert len(harness.pbx.requests) == before and card.updates == 0  # 3CX heard nothing; no approval recorded

    await harness.click(APPROVE, request, user=SEC1)
    await harness.settle()

    assert xapi_calls(harness.pbx) == []
    assert APPROVE in actions(card)  # the card still asks for an approval
    recorded = block_text(card.blocks)
    _, again = await harness.click(APPROVE, request, user=SEC1)  # the same approver once more
    await harness.settle()
    assert xapi_calls(harness.pbx) == []
    [note] = harness.notes(again)
    assert note.startswith("You have approved this already. It needs 2 approvals")

    await harness.click(APPROVE, request, user=SEC2)
    await harness.settle()

    assert xapi_calls(harness.pbx) == [("DELETE", f"/xapi/v1/Blocklist({WIDE})")]
    assert APPROVE not in actions(card)
    # the words (the views say them): the rule, then the first approval, then both approvers
    assert f"Rule: Wide networks, 2 approvals from <@{SEC1}>, <@{SEC2}> or a member of <!subteam^{SECURITY}>" in pending
    assert f"1 of 2 approvals: <@{SEC1}>" in recorded and "Rule: Wide networks, 2 approvals from" in recorded
    outcome = block_text(card.blocks)
    assert f"Request to unblock {WIDE_NETWORK} was approved by <@{SEC2}>, and it is unblocked." in outcome
    assert f"Rule: Wide networks · Approved by <@{SEC1}> and <@{SEC2}>" in outcome
    [direct] = [block_text(m.blocks) for m in harness.cards(ALICE)]
    assert f"Rule: Wide networks · Approved by <@{SEC1}> and <@{SEC2}>." in direct


async def test_two_approvals_for_different_actions_carry_out_only_what_both_approved(
    make_harness: MakeHarness, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    two_of_us = f"""
[[rule]]
name = "Office"
networks = ["192.0.2.0/24"]
approvers = ["{SEC1}", "{SEC2}"]
approvals = 2
allow = ["1h"]
"""
    harness = await make_harness(UNBLOCK_RULES=rules_file(tmp_path, two_of_us))
    harness.pbx.add_entry(80, "192.0.2.128/25")
    network = dict(harness.pbx.entries[80])
    request = await harness.open_card("192.0.2.130")
    [card] = harness.cards()
    caplog.set_level(logging.INFO, logger="bot.audit")

    await harness.click(ALLOW_ONLY, request, user=SEC1, value=f"{request.id}:3600")
    await harness.settle()
    assert f"1 of 2 approvals: <@{SEC1}> (allow only 192.0.2.130 for 1 hour)" in block_text(card.blocks)
    # the second approver is told, before they confirm, that Approve now carries out only the narrower action
    [approve] = [b for b in buttons(card.blocks) if b["action_id"] == APPROVE]
    assert approve["confirm"]["text"]["text"].startswith(
        "With the approvals so far, yours carries out only what each approved: allow only 192.0.2.130 for 1 hour."
    )
    await harness.click(APPROVE, request, user=SEC2)
    await harness.settle()

    # both approved letting 192.0.2.130 in; only one approved removing the /25: the block stays
    assert xapi_calls(harness.pbx) == [("POST", "/xapi/v1/Blocklist")]
    assert harness.pbx.entries[80] == network
    outcome = block_text(card.blocks)
    assert "to allow only 192.0.2.130" in outcome
    assert f"Approved by <@{SEC1}> (allow only 192.0.2.130 for 1 hour) and <@{SEC2}> (unblock)" in outcome
    [audit] = [r.__dict__ for r in caplog.records if r.name == "bot.audit" and r.__dict__["to"] == "executing"]
    assert audit["approvals"] == [
        {"user": SEC1, "action": "allow_only", "allow_for": 3600.0},
        {"user": SEC2, "action": "unblock"},
    ]
    assert audit["allow_only"] == "192.0.2.130"


async def test_two_second_approvals_at_once_on_two_replicas_send_one_delete(
    processes: list[BotProcess],
    slack: FakeSlack,
    pbx: FakeThreeCX,
    postgres: PostgresServer,
    database_url: str,
    tmp_path: Path,
) -> None:
    with_entries(pbx, slack)
    rules = rules_file(tmp_path)
    first, a = await start_http_bot(processes, slack, pbx, tmp_path, DATABASE_URL=database_url, UNBLOCK_RULES=rules)
    second, b = await start_http_bot(processes, slack, pbx, tmp_path, DATABASE_URL=database_url, UNBLOCK_RULES=rules)
    await a.command(str(WIDE), user=ALICE)
    await wait_for(lambda: len(a.cards()) == 1, what="the card")
    [card] = a.cards()
    request_id = card_request_id(card.blocks)
    await b.click(APPROVE, request_id, user=SEC1)

    async def approvals() -> list[str]:
        [row] = await postgres.query(database_url, "SELECT approvals FROM requests WHERE id = $1", request_id)
        return list(json.loads(row["approvals"]))

    for _ in range(200):
        if await approvals() == [SEC1]:
            break
        await asyncio.sleep(0.05)
    assert await approvals() == [SEC1]
    pbx.delay = 0.2  # the winner's DELETE is still under way while the other click lands

    clicks = await asyncio.gather(a.click(APPROVE, request_id, user=SEC2), b.click(APPROVE, request_id, user=SEC3))
    assert [reply.status for reply, _ in clicks] == [200, 200]

    def answered() -> int:
        return sum(1 for _, url in clicks if a.notes(url))

    def settled() -> bool:
        return len(pbx.calls("DELETE")) > 1 or ("unblocked" in block_text(card.blocks) and answered() == 1)

    await wait_for(settled, what="the outcome, and the other click's answer")
    assert await first.stop() == 0 and await second.stop() == 0

    assert xapi_calls(pbx) == [("DELETE", f"/xapi/v1/Blocklist({WIDE})")]
    [row] = await postgres.query(
        database_url, "SELECT state, resolved_by, approvals FROM requests WHERE id = $1", request_id
    )
    assert row["state"] == "unblocked" and row["resolved_by"] in (SEC2, SEC3)
    assert json.loads(row["approvals"]) == [SEC1, row["resolved_by"]]
    log = await postgres.query(
        database_url, "SELECT from_state, to_state FROM transitions WHERE request_id = $1 ORDER BY seq", request_id
    )
    moves = [(None, "pending"), ("pending", "pending"), ("pending", "executing"), ("executing", "unblocked")]
    assert [(r["from_state"], r["to_state"]) for r in log] == moves
    loser = [url for _, url in clicks if a.notes(url)]
    assert len(loser) == 1 and "Nothing more was done" in a.notes(loser[0])[0]


@pytest.mark.long(9)
async def test_a_request_its_rule_carries_out_is_carried_out_once_when_the_bot_was_killed_before_claiming_it(
    processes: list[BotProcess], slack: FakeSlack, pbx: FakeThreeCX, tmp_path: Path
) -> None:
    with_entries(pbx, slack)
    env = {"UNBLOCK_RULES": rules_file(tmp_path), "THREECX_TIMEOUT": "0.5"}  # taken up 5 s after it was opened
    first, driver = await start_http_bot(processes, slack, pbx, tmp_path, **env)
    slack.delay_of["chat.postMessage"] = 5.0  # the card is on its way when the bot is killed
    await driver.command(str(BRANCH), user=ALICE)
    await wait_for(lambda: slack.calls_to("chat.postMessage"), what="the card to be posted")
    first.kill()  # SIGKILL: the request is open, and not yet claimed
    await first.wait()
    assert xapi_calls(pbx) == []
    slack.delay_of.clear()

    second, driver = await start_http_bot(processes, slack, pbx, tmp_path, **env)
    await wait_for(lambda: xapi_calls(pbx), timeout=60, what="the DELETE after the restart")

    def told() -> list[SlackCall]:
        return [c for c in slack.calls_to("chat.postMessage") if c.args["channel"] == ALICE]

    await wait_for(told, what="the requester to be told")
    assert await second.stop() == 0

    assert xapi_calls(pbx) == [("DELETE", f"/xapi/v1/Blocklist({BRANCH})")]
    [once] = told()
    assert "carried out automatically by rule 'Branch offices'" in str(once.args)


# the rules seen -----------------------------------------------------------------------------------------------


async def test_the_home_tab_and_history_name_the_rule_and_the_approvals_so_far(
    make_harness: MakeHarness, tmp_path: Path
) -> None:
    harness = await with_rules(make_harness, tmp_path)
    request = await harness.open_card(str(WIDE))

    await harness.open_home(SEC1)
    reply = await harness.home_click(HOME_APPROVE, request, user=SEC1)
    await harness.settle()

    assert reply.status == 200
    approver = block_text(harness.slack.homes[SEC1]["blocks"])
    assert (
        "Your approval of <@UALICE>'s request to unblock `100.64.0.0/16` is recorded; it needs one more approver."
        in approver
    )
    assert "Nothing is waiting for approval." in approver  # they approved it: it waits for another approver
    another = block_text((await harness.open_home(SEC2))["blocks"])
    assert f"rule 'Wide networks' · 1 of 2 approvals: <@U0SEC1> · request `{request.id}`" in another
    own = block_text((await harness.open_home(ALICE))["blocks"])
    assert "`100.64.0.0/16` *is waiting for approval* · rule 'Wide networks' · 1 of 2 approvals" in own

    _, response_url = await harness.command("history", user=BOB, channel=GENERAL)
    await harness.settle()
    [history] = harness.shown(response_url)
    assert "*is waiting for approval* · rule 'Wide networks' · 1 of 2 approvals · requested by <@UALICE>" in history


async def test_the_home_tab_lists_to_each_approver_only_what_they_may_approve(
    make_harness: MakeHarness, tmp_path: Path
) -> None:
    harness = await with_rules(make_harness, tmp_path)
    lobby = await harness.open_card("42")  # rule "Lobby phones": Bob
    wide = await harness.open_card(str(WIDE))  # rule "Wide networks": the security approvers
    elsewhere = await harness.open_card(str(ELSEWHERE))  # no rule: the settings' approvers, Bob among them

    # a rule without durations offers no Approve and allow (one address: the settings would offer it)
    lobby_card, _, elsewhere_card = (block_text(card.blocks) for card in harness.cards())
    assert "Rule: Lobby phones, approval from <@UBOB>" in lobby_card and "Approve and allow" not in lobby_card
    assert APPROVE_ALLOW not in actions(harness.cards()[0]) and APPROVE_ALLOW in actions(harness.cards()[2])
    assert "Rule:" not in elsewhere_card  # the settings decide: no rule to name

    bob = (await harness.open_home(BOB))["blocks"]
    security = (await harness.open_home(SEC1))["blocks"]

    assert {b["value"] for b in buttons(bob)} == {lobby.id, elsewhere.id}
    assert WIDE_NETWORK not in block_text(bob)
    assert {b["value"] for b in buttons(security)} == {wide.id}
    assert "203.0.113.7" not in block_text(security)


async def test_metrics_count_the_requests_opened_by_rule_from_zero(make_harness: MakeHarness, tmp_path: Path) -> None:
    # a name of its own (the counters are the process's), with what a name may hold: quotes, accents, spaces
    night = 'Night "Zürich" lines'
    rules = RULES + '\n[[rule]]\nname = "Night \\"Zürich\\" lines"\nnetworks = ["10.0.0.0/8"]\n'
    harness = await with_rules(make_harness, tmp_path, rules)
    before = await scrape(harness)

    await harness.open_card(str(WIDE))
    await harness.command(str(BRANCH))
    await harness.settle()
    await harness.open_card(str(ELSEWHERE))
    after = await scrape(harness)

    assert before[("unblock_requests_opened_total", (("kind", "address"), ("rule", night)))] == 0  # from the start
    assert before[("unblock_requests_opened_total", (("kind", "number"), ("rule", "Caller numbers")))] == 0
    assert grew(before, after, "unblock_requests_opened_total", kind="address", rule="Wide networks") == 1
    assert grew(before, after, "unblock_requests_opened_total", kind="address", rule="Branch offices") == 1
    assert grew(before, after, "unblock_requests_opened_total", kind="address", rule="") == 1  # the settings
    assert grew(before, after, "unblock_requests_opened_total", kind="address", rule=night) == 0
    # the decisions and ends keep their labels: the request its rule carried out counts as approved and unblocked
    assert grew(before, after, "unblock_requests_ended_total", kind="address", outcome="unblocked") == 1
    assert grew(before, after, "unblock_decision_seconds_count", decision="approve") == 1
