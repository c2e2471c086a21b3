"""Who may ask, decide and see what, of which PBX, when the bot serves several: people of a customer's workspace
(Slack Connect), and approvers of one PBX only."""

from __future__ import annotations

import json
from pathlib import Path

from bot.domain.model import State
from bot.domain.reads import WAITING_CHECKED
from bot.slack.buttons import HOME_ALLOW_END
from bot.slack.views import modal as form

from .fakes.threecx import FakeThreeCX
from .harness import APPROVE, APPROVE_ALLOW, BOB, CANCEL, CAROL, Harness, block_text, buttons
from .pbxes import ACME_ROOM, BETA_ROOM, CUSTOMER, CUSTOMER_ADMIN, CUSTOMER_USER, deleted
from .test_pbx_storage import request
from .test_shortcuts import REASON, WHAT, errors, message_shortcut, open_form, send, submission, typed
from .test_storage import entry


async def test_a_guest_who_is_no_approver_may_still_cancel_their_own_request(fleet: Harness, pbx: FakeThreeCX) -> None:
    reply, _ = await fleet.command("42", user=CUSTOMER_USER, channel=ACME_ROOM, team=CUSTOMER)
    assert reply.status == 200
    await fleet.settle()
    [card] = fleet.cards(ACME_ROOM)
    request = await fleet.request_for(card)
    _, url = await fleet.click(CANCEL, request, user=CUSTOMER_USER, user_team=CUSTOMER)
    await fleet.settle()
    assert fleet.notes(url) == []
    assert (await fleet.stored(request)).state is State.CANCELLED and deleted(pbx) == []


def customer_asks_about_beta_only(path: Path) -> None:
    """The PBXes file of ``serving_both``, where beta now lists the customer's workspace, and acme does not."""
    kept = path.read_text().replace(f'connect_teams = ["{CUSTOMER}"]\n', "")
    path.write_text(f'{kept}connect_teams = ["{CUSTOMER}"]\n')


async def test_a_form_opened_before_a_workspace_lost_its_pbx_is_out_of_date(
    fleet: Harness, pbx: FakeThreeCX, beta: FakeThreeCX
) -> None:
    asked = message_shortcut(fleet, "blocked 203.0.113.7", user=CUSTOMER_USER, channel=ACME_ROOM)
    asked["user"]["team_id"] = CUSTOMER
    modal = await open_form(fleet, asked)
    # meanwhile the customer's workspace may ask about beta only, no longer about acme
    customer_asks_about_beta_only(Path(fleet.env["UNBLOCK_PBXES"]))
    await fleet.restart()
    done = submission(fleet, modal, {WHAT: typed("203.0.113.7"), REASON: typed(None)}, user=CUSTOMER_USER)
    done["user"]["team_id"] = CUSTOMER
    assert errors(await send(fleet, done)) == {WHAT: form.OUT_OF_DATE}
    await fleet.settle()
    assert fleet.cards(ACME_ROOM) == [] and pbx.calls("GET") == []


async def test_a_workspace_listed_by_a_pbx_that_is_not_the_first_asks_in_its_channel(
    fleet: Harness, pbx: FakeThreeCX, beta: FakeThreeCX
) -> None:
    customer_asks_about_beta_only(Path(fleet.env["UNBLOCK_PBXES"]))
    await fleet.restart()
    reply, _ = await fleet.command("42", user=CUSTOMER_USER, channel=BETA_ROOM, team=CUSTOMER)
    assert reply.status == 200 and reply.message == ""
    await fleet.settle()
    [card] = fleet.cards(BETA_ROOM)
    assert (await fleet.request_for(card)).asked.by == CUSTOMER_USER and pbx.calls("GET") == []


async def test_an_approver_of_one_pbx_only_finds_its_requests_in_the_home_tab(
    fleet: Harness, pbx: FakeThreeCX, beta: FakeThreeCX
) -> None:
    # CAROL approves beta's requests (the settings' approvers), not acme's (acme names its own)
    await fleet.open_card("42", channel=ACME_ROOM)
    await fleet.open_card("42", channel=BETA_ROOM)
    shown = json.dumps(await fleet.open_home(CAROL))
    assert "198.51.100.9" in shown and "203.0.113.7" not in shown


async def test_an_approver_of_one_pbx_sees_its_requests_of_every_channel_in_history(fleet: Harness) -> None:
    await fleet.open_card("42", channel=BETA_ROOM)
    _, url = await fleet.command("history", user=CAROL)
    await fleet.settle()
    [shown] = fleet.shown(url)
    assert "198.51.100.9" in shown


async def test_a_card_counts_the_earlier_unblocks_of_its_own_pbx_only(
    fleet: Harness, pbx: FakeThreeCX, beta: FakeThreeCX
) -> None:
    # the same address, blocked on both PBXes: unblocked on acme, then asked about on beta
    beta.add_entry(43, "203.0.113.7")
    on_acme = await fleet.open_card("42", channel=ACME_ROOM)
    await fleet.click(APPROVE, on_acme, user=BOB)
    await fleet.settle()
    assert deleted(pbx) == ["/xapi/v1/Blocklist(42)"]
    await fleet.open_card("43", channel=BETA_ROOM)
    [card] = fleet.cards(BETA_ROOM)
    assert "203.0.113.7" in block_text(card.blocks) and "Unblocked" not in block_text(card.blocks)


async def test_the_home_tab_lists_an_approver_the_allow_entries_of_the_pbxs_they_approve_for_only(
    fleet: Harness, beta: FakeThreeCX
) -> None:
    request = await fleet.open_card("42", channel=BETA_ROOM)
    await fleet.click(APPROVE_ALLOW, request, user=BOB, value=f"beta/{request.id}:3600")
    await fleet.settle()
    assert deleted(beta) == ["/xapi/v1/Blocklist(42)"]
    for approver, sees in ((CAROL, True), (BOB, True), (CUSTOMER_ADMIN, False)):  # beta's, both's, acme's only
        home = await fleet.open_home(approver)
        assert ("198.51.100.9" in json.dumps(home)) is sees, approver
        assert (HOME_ALLOW_END in [button["action_id"] for button in buttons(home["blocks"])]) is sees, approver


async def test_the_home_tab_lists_what_waits_on_a_quiet_pbx_behind_more_of_a_busy_ones_than_a_read_holds(
    fleet: Harness, beta: FakeThreeCX
) -> None:
    waiting = await fleet.open_card("42", channel=BETA_ROOM)
    assert fleet.bot is not None
    acme, now = fleet.bot.store.scoped("acme"), fleet.clock()
    for n in range(WAITING_CHECKED):  # all newer than beta's
        made = request(
            f"{n:016x}", "acme", entry(1000 + n, "203.0.113.7"), created_at=now + 1 + n, expires_at=now + 3600
        )
        await acme.add(made)
    home = json.dumps(await fleet.open_home(CAROL))  # beta's approver, not acme's
    assert waiting.id in home and "0000000000000000" not in home
