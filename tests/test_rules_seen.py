"""The rules of ``UNBLOCK_RULES``, seen wherever people look: the card, its outcome, the requester's direct message,
the Home tab, ``/unblock history`` and ``/metrics``, through the real app."""

from __future__ import annotations

from pathlib import Path

from bot.domain.model import UnblockRequest
from bot.slack.buttons import APPROVE, APPROVE_ALLOW, HOME_APPROVE, UNDO

from .conftest import MakeHarness
from .harness import ALICE, BOB, CAROL, GENERAL, Harness, block_text, buttons, card_request_id
from .test_metrics import grew, scrape

SEC1, SEC2 = "U0SEC1", "U0SEC2"

RULES = """
[[rule]]
name = "Branch offices"
networks = ["198.51.100.0/24"]
auto = true

[[rule]]
name = "Wide networks"
wider_than = 24
approvers = ["U0SEC1", "U0SEC2", "S0SECURITY"]
approvals = 2
allow = []

[[rule]]
name = "Lobby phones"
networks = ["203.0.113.0/24"]
approvers = ["UBOB"]
allow = []

[[rule]]
name = "Caller numbers"
kind = "number"
approvers = ["U0VOICE1"]
"""
#: entry 42 (203.0.113.7) is a lobby phone; these are a wide network, a branch office and an address no rule is about
WIDE, BRANCH, ELSEWHERE = 50, 60, 70


async def with_rules(make_harness: MakeHarness, tmp_path: Path, rules: str = RULES) -> Harness:
    path = tmp_path / "rules.toml"
    path.write_text(rules, encoding="utf-8")
    harness = await make_harness(UNBLOCK_RULES=str(path))
    harness.slack.usergroups["S0SECURITY"] = ["U0SEC3"]
    harness.pbx.add_entry(WIDE, "100.64.0.0/16")
    harness.pbx.add_entry(BRANCH, "198.51.100.7")
    harness.pbx.add_entry(ELSEWHERE, "192.0.2.9")
    return harness


async def approve(harness: Harness, request: UnblockRequest, user: str) -> None:
    reply, _ = await harness.click(APPROVE, request, user=user)
    assert reply.status == 200
    await harness.settle()


async def test_a_two_approval_rules_card_names_the_rule_then_the_first_approval_then_both_approvers(
    make_harness: MakeHarness, tmp_path: Path
) -> None:
    harness = await with_rules(make_harness, tmp_path)
    request = await harness.open_card(str(WIDE))
    [card] = harness.cards()
    assert (
        "Rule: Wide networks, 2 approvals from <@U0SEC1>, <@U0SEC2> or a member of <!subteam^S0SECURITY>"
        in block_text(card.blocks)
    )
    assert "approvals:" not in block_text(card.blocks)  # nobody approved yet

    await approve(harness, request, SEC1)

    [update] = harness.slack.calls_to("chat.update")
    shown = block_text(update.args["blocks"])
    assert "1 of 2 approvals: <@U0SEC1>" in shown and "Rule: Wide networks, 2 approvals from" in shown
    assert APPROVE in [b["action_id"] for b in buttons(update.args["blocks"])]  # still waiting for the second
    assert harness.pbx.calls("DELETE") == []

    await approve(harness, request, SEC2)

    assert [r.path for r in harness.pbx.calls("DELETE")] == [f"/xapi/v1/Blocklist({WIDE})"]
    outcome = block_text(harness.cards()[0].blocks)
    assert "Request to unblock 100.64.0.0/16 was approved by <@U0SEC2>, and it is unblocked." in outcome
    assert "Rule: Wide networks · Approved by <@U0SEC1> and <@U0SEC2>" in outcome
    [direct] = [block_text(m.blocks) for m in harness.cards(ALICE)]
    assert "Rule: Wide networks · Approved by <@U0SEC1> and <@U0SEC2>." in direct


async def test_a_rule_without_durations_offers_no_approve_and_allow(make_harness: MakeHarness, tmp_path: Path) -> None:
    harness = await with_rules(make_harness, tmp_path)

    await harness.open_card("42")  # one address: Approve and allow would be offered under the settings
    await harness.open_card(str(ELSEWHERE))

    lobby, elsewhere = harness.cards()
    assert "Rule: Lobby phones, approval from <@UBOB>" in block_text(lobby.blocks)
    assert [b["action_id"] for b in buttons(lobby.blocks) if b["action_id"] == APPROVE_ALLOW] == []
    assert "Approve and allow" not in block_text(lobby.blocks)
    assert APPROVE_ALLOW in [b["action_id"] for b in buttons(elsewhere.blocks)]
    assert "Rule:" not in block_text(elsewhere.blocks)  # the settings decide: no rule to name


async def test_a_request_its_rule_carries_out_says_so_on_the_card_in_the_direct_message_and_at_home(
    make_harness: MakeHarness, tmp_path: Path
) -> None:
    harness = await with_rules(make_harness, tmp_path)
    await harness.open_home(ALICE)

    reply, _ = await harness.command(str(BRANCH))
    await harness.settle()

    assert reply.status == 200
    assert [r.path for r in harness.pbx.calls("DELETE")] == [f"/xapi/v1/Blocklist({BRANCH})"]
    [card] = harness.cards()
    assert "*Request to unblock 198.51.100.7 was unblocked automatically by rule 'Branch offices'.*" in block_text(
        card.blocks
    )
    [direct] = [block_text(m.blocks) for m in harness.cards(ALICE)]
    assert "*Your request to unblock 198.51.100.7 was unblocked automatically by rule 'Branch offices'.*" in direct
    home = block_text(harness.slack.homes[ALICE]["blocks"])
    assert "`198.51.100.7` *was unblocked automatically by rule 'Branch offices'*" in home
    for shown in (block_text(card.blocks), direct, home):
        assert "None" not in shown and "the bot" not in shown and "approved by" not in shown

    request = await harness.stored(card_request_id(card.blocks))  # its Undo
    await harness.click(UNDO, request, user=CAROL)
    await harness.settle()
    undone = "was undone by <@UCAROL>: it is blocked again.*\nUnblocked automatically by rule 'Branch offices', "
    assert undone + "requested by <@UALICE>." in block_text(harness.cards()[0].blocks)


async def test_the_home_tab_and_history_name_the_rule_and_the_approvals_so_far(
    make_harness: MakeHarness, tmp_path: Path
) -> None:
    harness = await with_rules(make_harness, tmp_path)
    request = await harness.open_card(str(WIDE))

    await harness.open_home(SEC1)
    reply = await harness.home_click(HOME_APPROVE, request, user=SEC1)
    await harness.settle()

    assert reply.status == 200
    assert (await harness.stored(request)).approvals == (SEC1,)
    approver = block_text(harness.slack.homes[SEC1]["blocks"])
    assert (
        "Your approval of <@UALICE>'s request to unblock `100.64.0.0/16` is recorded; it needs one more approver."
        in approver
    )
    assert f"rule 'Wide networks' · 1 of 2 approvals: <@U0SEC1> · request `{request.id}`" in approver
    own = block_text((await harness.open_home(ALICE))["blocks"])
    assert "`100.64.0.0/16` *is waiting for approval* · rule 'Wide networks' · 1 of 2 approvals" in own

    _, response_url = await harness.command("history", user=BOB, channel=GENERAL)
    await harness.settle()
    [history] = harness.shown(response_url)
    assert "*is waiting for approval* · rule 'Wide networks' · 1 of 2 approvals · requested by <@UALICE>" in history


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
