"""The rules decide, through Slack and 3CX: a rule that needs two approvals (the first recorded on the card, the
second carrying it out), a forged click by an approver of another rule, a rule that carries requests out without
approval, and two second approvals at once on two replicas sharing one PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from bot.domain.model import State
from bot.slack.buttons import APPROVE, UNDO

from .conftest import MakeHarness
from .fakes.slack import FakeSlack, Message
from .fakes.threecx import FakeThreeCX
from .harness import ALICE, BOB, Harness, block_text, buttons, card_request_id, wait_for
from .postgres import PostgresServer
from .processes import BotProcess, start_http_bot

SEC1, SEC2, SEC3, VOICE1 = "U0SEC1", "U0SEC2", "U0SEC3", "U0VOICE1"
SECURITY = "S0SECURITY"
#: on the IP blocklist beside entry 42: a wide network, and an address of a branch office
WIDE_ENTRY, WIDE_NETWORK = 50, "203.0.112.0/22"
BRANCH_ENTRY, BRANCH_ADDRESS = 60, "198.51.100.7"

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
name = "Caller numbers"
kind = "number"
approvers = ["{VOICE1}"]
"""


def rules_file(tmp_path: Path) -> str:
    path = tmp_path / "rules.toml"
    path.write_text(RULES)
    return str(path)


def with_entries(pbx: FakeThreeCX, slack: FakeSlack) -> None:
    pbx.add_entry(WIDE_ENTRY, WIDE_NETWORK)
    pbx.add_entry(BRANCH_ENTRY, BRANCH_ADDRESS)
    slack.usergroups[SECURITY] = [SEC3]


def changes(pbx: FakeThreeCX) -> list[tuple[str, str]]:
    """Every call that changes 3CX's lists, in order."""
    return [(r.method, r.path) for r in pbx.requests if r.method != "GET" and r.path.startswith("/xapi/")]


def actions(card: Message) -> list[str]:
    return [str(b["action_id"]) for b in buttons(card.blocks)]


async def ruled(make_harness: MakeHarness, tmp_path: Path) -> Harness:
    harness = await make_harness(UNBLOCK_RULES=rules_file(tmp_path))
    with_entries(harness.pbx, harness.slack)
    return harness


async def test_a_rule_of_two_approvals_records_the_first_and_carries_out_the_second(
    make_harness: MakeHarness, tmp_path: Path
) -> None:
    harness = await ruled(make_harness, tmp_path)
    request = await harness.open_card(str(WIDE_ENTRY))
    [card] = harness.cards()
    pending = block_text(card.blocks)

    await harness.click(APPROVE, request, user=SEC1)
    await harness.settle()

    assert changes(harness.pbx) == []
    assert APPROVE in actions(card)  # the card still asks for an approval
    stored = await harness.stored(request)
    assert (stored.state, stored.approvals, stored.rule) == (State.PENDING, (SEC1,), "Wide networks")
    recorded = block_text(card.blocks)
    _, again = await harness.click(APPROVE, request, user=SEC1)  # the same approver once more
    await harness.settle()
    assert changes(harness.pbx) == []
    [note] = harness.notes(again)
    assert note.startswith("You have approved this already. It needs 2 approvals")

    await harness.click(APPROVE, request, user=SEC2)
    await harness.settle()

    assert changes(harness.pbx) == [("DELETE", f"/xapi/v1/Blocklist({WIDE_ENTRY})")]
    assert APPROVE not in actions(card)
    done = await harness.stored(request)
    assert (done.state, done.approvals, done.resolved_by) == (State.UNBLOCKED, (SEC1, SEC2), SEC2)
    outcome = block_text(card.blocks)
    assert "unblocked" in outcome
    # the words (the views say them)
    assert f"Rule: Wide networks, 2 approvals from <@{SEC1}>, <@{SEC2}> or a member of <!subteam^{SECURITY}>" in pending
    assert f"1 of 2 approvals: <@{SEC1}>" in recorded
    assert "Rule: Wide networks" in outcome and f"Approved by <@{SEC1}> and <@{SEC2}>" in outcome


async def test_a_forged_approval_by_an_approver_of_another_rule_is_refused_privately(
    make_harness: MakeHarness, tmp_path: Path
) -> None:
    harness = await ruled(make_harness, tmp_path)
    request = await harness.open_card(str(WIDE_ENTRY))
    [card] = harness.cards()
    before = len(harness.pbx.requests)

    for user in (VOICE1, BOB):  # an approver of "Caller numbers", an approver of the settings only
        _, response_url = await harness.click(APPROVE, request, user=user)
        await harness.settle()
        [note] = harness.notes(response_url)
        assert note == (
            f"Only the approvers of rule 'Wide networks' can approve an unblock: <@{SEC1}>, <@{SEC2}> or a member of"
            f" <!subteam^{SECURITY}>."
        )
        assert harness.slack.posts_to(response_url)[0].body["response_type"] == "ephemeral"

    assert len(harness.pbx.requests) == before  # 3CX heard nothing of either click
    assert card.updates == 0
    stored = await harness.stored(request)
    assert (stored.state, stored.approvals) == (State.PENDING, ())


async def test_a_rule_without_approval_carries_the_request_out_at_once_and_an_approver_may_undo_it(
    make_harness: MakeHarness, tmp_path: Path
) -> None:
    harness = await ruled(make_harness, tmp_path)
    original = dict(harness.pbx.entries[BRANCH_ENTRY])

    reply, _ = await harness.command(str(BRANCH_ENTRY), user=ALICE)
    assert reply.status == 200
    await harness.settle()

    assert changes(harness.pbx) == [("DELETE", f"/xapi/v1/Blocklist({BRANCH_ENTRY})")]
    [card] = harness.cards()
    request = await harness.stored(card_request_id(card.blocks))
    assert (request.state, request.rule, request.auto, request.resolved_by) == (
        State.UNBLOCKED, "Branch offices", True, None
    )  # fmt: skip
    assert UNDO in actions(card)
    outcome = block_text(card.blocks)

    await harness.click(UNDO, request, user=BOB)
    await harness.settle()

    assert changes(harness.pbx)[1:] == [("POST", "/xapi/v1/Blocklist")]
    [(new_id, entry)] = [(i, e) for i, e in harness.pbx.entries.items() if e["IPAddrMask"] == BRANCH_ADDRESS]
    assert entry["BlockType"] == original["BlockType"] and new_id != BRANCH_ENTRY
    undone = await harness.stored(request)
    assert (undone.state, undone.undone_by) == (State.UNDONE, BOB)
    # the words (the views say them)
    assert f"Request to unblock {BRANCH_ADDRESS} was unblocked automatically by rule 'Branch offices'." in outcome, (
        outcome
    )


async def test_two_second_approvals_at_once_on_two_replicas_send_one_delete(
    processes: list[BotProcess], slack: FakeSlack, pbx: FakeThreeCX, postgres: PostgresServer,
    database_url: str, tmp_path: Path,
) -> None:  # fmt: skip
    with_entries(pbx, slack)
    rules = rules_file(tmp_path)
    first, a = await start_http_bot(processes, slack, pbx, tmp_path, DATABASE_URL=database_url, UNBLOCK_RULES=rules)
    second, b = await start_http_bot(processes, slack, pbx, tmp_path, DATABASE_URL=database_url, UNBLOCK_RULES=rules)
    await a.command(str(WIDE_ENTRY), user=ALICE)
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

    assert changes(pbx) == [("DELETE", f"/xapi/v1/Blocklist({WIDE_ENTRY})")]
    [row] = await postgres.query(
        database_url, "SELECT state, resolved_by, approvals FROM requests WHERE id = $1", request_id
    )
    assert row["state"] == "unblocked" and row["resolved_by"] in (SEC2, SEC3)
    assert json.loads(row["approvals"]) == [SEC1, row["resolved_by"]]
    log = await postgres.query(
        database_url, "SELECT from_state, to_state FROM transitions WHERE request_id = $1 ORDER BY seq", request_id
    )
    assert [(r["from_state"], r["to_state"]) for r in log] == [
        (None, "pending"), ("pending", "pending"), ("pending", "executing"), ("executing", "unblocked"),
    ]  # fmt: skip
    loser = [url for _, url in clicks if a.notes(url)]
    assert len(loser) == 1 and "Nothing more was done" in a.notes(loser[0])[0]


async def test_a_request_its_rule_carries_out_is_carried_out_once_when_the_bot_was_killed_before_claiming_it(
    processes: list[BotProcess], slack: FakeSlack, pbx: FakeThreeCX, tmp_path: Path
) -> None:
    with_entries(pbx, slack)
    env = {"UNBLOCK_RULES": rules_file(tmp_path), "THREECX_TIMEOUT": "1"}
    first, driver = await start_http_bot(processes, slack, pbx, tmp_path, **env)
    slack.delay_of["chat.postMessage"] = 5.0  # the card is on its way when the bot is killed
    await driver.command(str(BRANCH_ENTRY), user=ALICE)
    await wait_for(lambda: slack.calls_to("chat.postMessage"), what="the card to be posted")
    first.kill()  # SIGKILL: the request is open, and not yet claimed
    await first.wait()
    assert changes(pbx) == []
    slack.delay_of.clear()

    second, driver = await start_http_bot(processes, slack, pbx, tmp_path, **env)
    await wait_for(lambda: changes(pbx), timeout=60, what="the DELETE after the restart")
    await wait_for(lambda: [c for c in slack.calls_to("chat.postMessage") if c.args["channel"] == ALICE],
                   what="the requester to be told")  # fmt: skip
    assert await second.stop() == 0

    assert changes(pbx) == [("DELETE", f"/xapi/v1/Blocklist({BRANCH_ENTRY})")]
    told = [c for c in slack.calls_to("chat.postMessage") if c.args["channel"] == ALICE]
    assert len(told) == 1 and "unblocked automatically by rule 'Branch offices'" in str(told[0].args)
