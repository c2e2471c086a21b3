"""The rules of ``UNBLOCK_RULES``, seen wherever people look: the card, the Home tab, ``/unblock history`` and
``/metrics``, through the real app (the outcomes of the rules' flows, on the card, in the requester's direct message
and at home, are in ``test_rules_flow.py``)."""

from __future__ import annotations

from pathlib import Path

from bot.slack.buttons import APPROVE_ALLOW, HOME_APPROVE

from .conftest import MakeHarness
from .harness import ALICE, BOB, GENERAL, block_text, buttons
from .test_metrics import grew, scrape
from .test_rules_flow import BRANCH, ELSEWHERE, RULES, SEC1, SEC2, WIDE, WIDE_NETWORK, with_rules


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


async def test_the_home_tab_and_history_name_the_rule_and_the_approvals_so_far(
    make_harness: MakeHarness, tmp_path: Path
) -> None:
    harness = await with_rules(make_harness, tmp_path)
    request = await harness.open_card(str(WIDE))

    await harness.open_home(SEC1)
    reply = await harness.home_click(HOME_APPROVE, request, user=SEC1)
    await harness.settle()

    assert reply.status == 200
    assert (await harness.stored(request)).approved_by == (SEC1,)
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
