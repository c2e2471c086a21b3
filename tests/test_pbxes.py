"""One bot serving several PBXes (``UNBLOCK_PBXES``), through the real app: which PBX a command, a click or a form
is for, each PBX's calls on its own fake 3CX only, a slow PBX beside a quick one, people of a customer's workspace
in a Slack Connect channel, ``/readyz`` and the metrics."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp

from bot.calls import Lane
from bot.domain.model import State
from bot.domain.watch import HOLD_EVERY
from bot.slack.views import modal as form
from bot.slack.views import notes as say
from bot.tasks import Limits

from .conftest import MakeHarness
from .fakes.threecx import FakeThreeCX
from .harness import ALICE, APPROVE, APPROVE_ALLOW, BOB, CAROL, GENERAL, REQUEST_ENTRY, Harness, move, wait_for
from .pbxes import (
    ACME_ROOM,
    BETA_ROOM,
    CUSTOMER,
    CUSTOMER_ADMIN,
    CUSTOMER_USER,
    PBX,
    STRANGER,
    UNKNOWN_REQUEST,
    deleted,
    pbxes_file,
    serving,
    serving_both,
)
from .postgres import PostgresServer
from .test_shortcuts import (
    CHANNEL,
    REASON,
    WHAT,
    chosen,
    errors,
    inputs,
    message_shortcut,
    open_form,
    picked,
    request_shortcut,
    send,
    submission,
    typed,
)

#: where beta's cards go, when it has an approvals channel of its own
BETA_APPROVALS = "C0BETAAPPROVALS"


async def test_a_pbx_named_first_is_the_one_asked_and_the_only_one_changed(
    fleet: Harness, pbx: FakeThreeCX, beta: FakeThreeCX
) -> None:
    reply, _ = await fleet.command("beta 42 moved office")
    assert reply.status == 200
    await fleet.settle()
    [card] = fleet.cards(GENERAL)
    assert "beta" in card.text and "198.51.100.9" in json.dumps(card.blocks)
    request = await fleet.request_for(card)
    assert request.pbx == "beta"
    await fleet.click(APPROVE, request, user=CAROL)
    await fleet.settle()
    assert deleted(beta) == ["/xapi/v1/Blocklist(42)"]
    assert pbx.calls("DELETE") == [] and pbx.calls("GET") == []  # acme was never asked
    assert (await fleet.request_for(card)).state.value == "unblocked"


async def test_a_pbxs_channel_means_that_pbx(fleet: Harness, pbx: FakeThreeCX, beta: FakeThreeCX) -> None:
    request = await fleet.open_card("42", channel=ACME_ROOM)
    assert request.pbx == "acme" and request.what.targets[0].label == "203.0.113.7"
    await fleet.click(APPROVE, request, user=BOB)
    await fleet.settle()
    assert deleted(pbx) == ["/xapi/v1/Blocklist(42)"] and beta.calls("DELETE") == []


async def test_a_channel_with_no_pbx_or_a_name_that_is_none_lists_the_pbxes(
    fleet: Harness, pbx: FakeThreeCX, beta: FakeThreeCX
) -> None:
    for text, channel in (("42", GENERAL), ("zeta 42", GENERAL), ("zeta 42", ACME_ROOM)):
        reply, _ = await fleet.command(text, channel=channel)
        assert "Which PBX?" in reply.message and "`acme`, `beta`" in reply.message
    await fleet.settle()
    assert fleet.cards(GENERAL) == []
    assert pbx.calls("GET") == [] and beta.calls("GET") == []


async def test_help_and_history_need_no_pbx(fleet: Harness) -> None:
    reply, _ = await fleet.command("help")
    assert "/unblock 42" in reply.message and "Which PBX?" in reply.message
    await fleet.open_card("acme 42")
    await fleet.open_card("42", channel=BETA_ROOM)
    reply, response_url = await fleet.command("history", user=BOB)
    await fleet.settle()
    [shown] = fleet.shown(response_url)
    assert "203.0.113.7" in shown and "198.51.100.9" in shown


async def test_a_slow_pbx_does_not_hold_up_another(
    make_harness: MakeHarness, pbx: FakeThreeCX, beta: FakeThreeCX, tmp_path: Path
) -> None:
    # one decision at a time for each PBX: beta's slow DELETE must not take acme's turn
    limits = {Lane.DECISIONS: Limits(1, 10), Lane.COMMANDS: Limits(2, 50)}
    fleet = await serving_both(make_harness, pbx, beta, tmp_path, limits=limits, THREECX_TIMEOUT="10")
    on_acme = await fleet.open_card("42", channel=ACME_ROOM)
    on_beta = await fleet.open_card("42", channel=BETA_ROOM)
    beta.add_entry(43, "198.51.100.10")
    waiting = await fleet.open_card("43", channel=BETA_ROOM)
    beta.delay_of["DELETE"] = beta.delay_of["GET"] = 2.0  # its lookups too
    for _ in range(3):
        await fleet.command("42", channel=BETA_ROOM)
    await fleet.click(APPROVE, on_beta, user=CAROL)
    await wait_for(lambda: beta.calls("DELETE"), what="beta's DELETE sent")
    await fleet.click(APPROVE, waiting, user=CAROL)  # waits for beta's turn
    await fleet.click(APPROVE, on_acme, user=BOB)
    await wait_for(lambda: pbx.calls("DELETE"), what="acme's DELETE sent")
    # acme's was sent while beta's was still waiting for its answer
    assert (await fleet.stored(on_beta)).state is State.EXECUTING
    await fleet.settle()
    states = {(await fleet.stored(request)).state for request in (on_acme, on_beta, waiting)}
    assert states == {State.UNBLOCKED}


async def test_people_of_a_listed_workspace_ask_in_their_pbxs_channel(
    fleet: Harness, pbx: FakeThreeCX, beta: FakeThreeCX
) -> None:
    reply, _ = await fleet.command("42", user=CUSTOMER_USER, channel=ACME_ROOM, team=CUSTOMER)
    assert reply.status == 200
    await fleet.settle()
    [card] = fleet.cards(ACME_ROOM)
    request = await fleet.request_for(card)
    assert request.asked.by == CUSTOMER_USER
    # one of theirs that acme's approvers do not name may not approve; one they name may
    await fleet.click(APPROVE, request, user=CUSTOMER_USER, user_team=CUSTOMER)
    await fleet.settle()
    assert pbx.calls("DELETE") == []
    await fleet.click(APPROVE, request, user=CUSTOMER_ADMIN, user_team=CUSTOMER)
    await fleet.settle()
    assert deleted(pbx) == ["/xapi/v1/Blocklist(42)"]


async def test_people_of_a_workspace_not_listed_or_elsewhere_are_refused(
    fleet: Harness, pbx: FakeThreeCX, beta: FakeThreeCX
) -> None:
    reply, _ = await fleet.command("42", user="USTRANGER", channel=ACME_ROOM, team=STRANGER)
    assert "only takes requests from people of its own workspace" in reply.message
    # the customer's people ask about acme in acme's channel only: not beta, not elsewhere
    reply, _ = await fleet.command("beta 42", user=CUSTOMER_USER, channel=ACME_ROOM, team=CUSTOMER)
    assert reply.message == say.only_this_pbx("acme")
    reply, _ = await fleet.command("zeta 42", user=CUSTOMER_USER, channel=ACME_ROOM, team=CUSTOMER)
    assert "Which PBX?" in reply.message and "`acme`." in reply.message and "`beta`" not in reply.message
    reply, _ = await fleet.command("acme 42", user=CUSTOMER_USER, channel=BETA_ROOM, team=CUSTOMER)
    assert "only takes requests from people of its own workspace" in reply.message
    await fleet.settle()
    assert pbx.calls("GET") == [] and beta.calls("GET") == []
    # a click on a card of beta's from the customer's workspace does nothing
    request = await fleet.open_card("42", channel=BETA_ROOM)
    await fleet.click(APPROVE, request, user=CUSTOMER_ADMIN, user_team=CUSTOMER)
    await fleet.settle()
    assert beta.calls("DELETE") == []


async def test_readiness_names_the_pbx_that_does_not_answer(fleet: Harness, beta: FakeThreeCX) -> None:
    await beta.close()
    assert fleet.bot is not None
    checks = await fleet.bot.readiness()
    assert checks["database"] == checks["3cx acme"] == "ok"
    assert checks["3cx beta"].startswith("no 3CX access token")
    assert fleet.bot.ready(checks)
    async with aiohttp.ClientSession() as http, http.get(f"{fleet.url}/readyz") as response:
        body: dict[str, Any] = await response.json()
    assert response.status == 200 and body["status"] == "ready" and "3cx beta" in body["checks"]


async def test_the_metrics_name_the_pbx(fleet: Harness, beta: FakeThreeCX) -> None:
    series = (
        'unblock_requests_opened_total{kind="address",pbx="beta",rule=""}',
        'unblock_requests_ended_total{kind="address",outcome="unblocked",pbx="beta"}',
        'unblock_threecx_requests_total{operation="delete_blocklist",pbx="beta",status="204"}',
    )
    before = await scraped(fleet)
    request = await fleet.open_card("42", channel=BETA_ROOM)
    await fleet.click(APPROVE, request, user=CAROL)
    await fleet.settle()
    after = await scraped(fleet)
    assert [after[name] - before.get(name, 0.0) for name in series] == [1.0, 1.0, 1.0]
    assert after['unblock_threecx_answering{pbx="beta"}'] == 1.0
    acme = 'unblock_requests_opened_total{kind="address",pbx="acme",rule=""}'
    assert after[acme] == before[acme]


async def scraped(harness: Harness) -> dict[str, float]:
    """Each series of ``/metrics`` and its value."""
    async with aiohttp.ClientSession() as http, http.get(f"{harness.url}/metrics") as response:
        text = await response.text()
    lines = [line.rsplit(" ", 1) for line in text.splitlines() if line and not line.startswith("#")]
    return {name: float(value) for name, value in lines}


async def test_the_shortcuts_form_asks_which_pbx_where_the_channel_does_not_say(
    fleet: Harness, pbx: FakeThreeCX, beta: FakeThreeCX
) -> None:
    modal = await open_form(fleet, request_shortcut(fleet))
    fields = inputs(modal)
    assert list(fields) == [PBX, WHAT, REASON, CHANNEL]
    assert [option["value"] for option in fields[PBX]["element"]["options"]] == ["acme", "beta"]
    left_out = submission(fleet, modal, {WHAT: typed("42"), REASON: typed(None), CHANNEL: picked(GENERAL)})
    assert errors(await send(fleet, left_out)) == {PBX: "Pick the PBX whose block this is."}
    values = {PBX: chosen("beta"), WHAT: typed("42"), REASON: typed(None), CHANNEL: picked(GENERAL)}
    reply = await send(fleet, submission(fleet, modal, values, view_id="VMODAL2"))
    assert (reply.status, reply.text) == (200, "")
    await fleet.settle()
    [card] = fleet.cards(GENERAL)
    assert (await fleet.request_for(card)).pbx == "beta" and pbx.calls("GET") == []
    # in a PBX's channel, the message's shortcut needs no choice
    modal = await open_form(fleet, message_shortcut(fleet, "blocked 203.0.113.7", channel=ACME_ROOM))
    assert PBX not in inputs(modal)
    reply = await send(fleet, submission(fleet, modal, {WHAT: typed("203.0.113.7"), REASON: typed(None)}))
    await fleet.settle()
    [card] = fleet.cards(ACME_ROOM)
    assert (await fleet.request_for(card)).pbx == "acme"


async def test_each_pbx_is_watched_and_its_announcements_ask_about_it(
    make_harness: MakeHarness, pbx: FakeThreeCX, beta: FakeThreeCX, tmp_path: Path
) -> None:
    harness = await serving_both(
        make_harness, pbx, beta, tmp_path, UNBLOCK_WATCH_CHANNEL="C0NOC", UNBLOCK_WATCH_ADDED_BY="*"
    )
    assert harness.bot is not None
    watchers = [served.watcher for served in harness.bot.served]
    for watcher in watchers:
        assert watcher is not None
        await watcher.stop()
        await watcher.look()  # watching starts: what is listed is not news
    pbx.add_entry(43, "203.0.113.8")
    beta.add_entry(43, "198.51.100.10")
    for watcher in watchers:
        assert watcher is not None
        await watcher.look()
    await harness.settle()
    announced = harness.cards("C0NOC")
    assert sorted(m.text.split(" · ")[0] for m in announced) == ["acme", "beta"]
    [on_beta] = [m for m in announced if m.text.startswith("beta")]
    [button] = [e for b in on_beta.blocks if b["type"] == "actions" for e in b["elements"]]
    assert button["value"] == "beta/43"
    await harness.click(REQUEST_ENTRY, "", user=ALICE, channel="C0NOC", value=button["value"])
    await harness.settle()
    [card] = [m for m in harness.cards("C0NOC") if m not in announced]
    request = await harness.request_for(card)
    assert request.pbx == "beta" and request.what.targets[0].label == "198.51.100.10"


async def test_two_replicas_share_the_pbxes_watches_and_one_takes_both_once_the_other_stops(
    make_harness: MakeHarness,
    pbx: FakeThreeCX,
    beta: FakeThreeCX,
    tmp_path: Path,
    postgres: PostgresServer,
    database_url: str,
) -> None:
    path = pbxes_file(tmp_path / "pbxes.toml", pbx, beta)
    watching = {"DATABASE_URL": database_url, "UNBLOCK_WATCH_CHANNEL": "C0NOC", "UNBLOCK_WATCH_ADDED_BY": "*"}
    one, two = [await serving(make_harness, path, pbx, **watching) for _ in range(2)]
    assert one.bot is not None and two.bot is not None
    for bot in (one.bot, two.bot):  # the rounds are made here, one at a time
        for served in bot.served:
            assert served.watcher is not None
            await served.watcher.stop()  # (hands on what it held)
    for harness in (two, one, two):  # each says it is there and counts the other (its last count due again)
        assert harness.bot is not None
        harness.clock.advance(HOLD_EVERY)
        await harness.bot.share.count()

    async def holders() -> list[str | None]:
        return [row["holder"] for row in await postgres.query(database_url, "SELECT holder FROM watch_state")]

    async def rounds(harness: Harness) -> None:
        """A round of each of the bot's watchers: a look, once it holds the watch or takes it."""
        assert harness.bot is not None
        for served in harness.bot.served:
            assert served.watcher is not None
            await served.watcher.look()

    await rounds(one)
    await rounds(two)
    held = await holders()
    assert len(held) == 2 and None not in held and len(set(held)) == 2  # one watch each
    # a watch another holds is tried twice as often as one's own is renewed: a dead holder's is taken sooner
    assert sorted(served.watcher.every for served in one.bot.served if served.watcher) == [
        HOLD_EVERY / 2,
        HOLD_EVERY,
    ]

    await two.close()  # a clean stop: it hands its watch on and no longer counts
    await one.bot.share.count()  # (as its rounds do in the background)
    await rounds(one)
    assert len(set(await holders())) == 1
    pbx.add_entry(43, "203.0.113.8")
    beta.add_entry(43, "198.51.100.10")
    await rounds(one)
    await one.settle()
    assert sorted(m.text.split(" · ")[0] for m in one.cards("C0NOC")) == ["acme", "beta"]


async def test_after_a_restart_a_request_left_under_way_is_finished_on_its_own_pbx_only(
    fleet: Harness, pbx: FakeThreeCX, beta: FakeThreeCX
) -> None:
    # both PBXes have an entry 42; beta's request was claimed by a process that died before it asked 3CX
    await fleet.open_card("42", channel=ACME_ROOM)
    request = await fleet.open_card("42", channel=BETA_ROOM)
    assert fleet.bot is not None
    gone = fleet.clock() - 3600
    claimed = await move(
        fleet.bot.store,
        request.id,
        State.PENDING,
        State.EXECUTING,
        actor=CAROL,
        at=gone,
        owner="gone",
    )
    assert claimed is not None
    await fleet.restart()
    assert fleet.bot is not None
    for served in fleet.bot.served:
        await served.sweeper.tick()  # (unless the sweeper's own first round, at the start, took it over first)

    async def finished() -> bool:
        return (await fleet.stored(request)).state is State.UNBLOCKED

    await wait_for(finished, what="the request finished")
    assert deleted(beta) == ["/xapi/v1/Blocklist(42)"] and pbx.calls("DELETE") == []


async def test_a_button_whose_value_names_another_pbx_than_its_requests_does_nothing(
    fleet: Harness, pbx: FakeThreeCX, beta: FakeThreeCX
) -> None:
    on_beta = await fleet.open_card("42", channel=BETA_ROOM)
    [card] = fleet.cards(BETA_ROOM)
    values = [e["value"] for b in card.blocks if b["type"] == "actions" for e in b["elements"] if "value" in e]
    assert f"beta/{on_beta.id}" in values  # the card's buttons name their PBX
    for action, value in ((APPROVE, f"acme/{on_beta.id}"), (APPROVE_ALLOW, f"acme/{on_beta.id}:3600")):
        _, response_url = await fleet.click(action, on_beta, user=BOB, channel=ACME_ROOM, value=value)
        await fleet.settle()
        assert fleet.notes(response_url) == [UNKNOWN_REQUEST]
    assert pbx.calls("DELETE") == [] and beta.calls("DELETE") == []
    assert (await fleet.stored(on_beta)).state is State.PENDING


async def test_a_customers_approver_sees_their_own_pbxs_history_and_no_report(fleet: Harness) -> None:
    await fleet.open_card("42", channel=BETA_ROOM)
    await fleet.open_card("42", channel=ACME_ROOM)
    _, url = await fleet.command("history", user=CUSTOMER_ADMIN, channel=ACME_ROOM, team=CUSTOMER)
    await fleet.settle()
    [shown] = fleet.shown(url)
    assert "203.0.113.7" in shown and "198.51.100.9" not in shown and "beta" not in shown
    _, url = await fleet.command("report", user=CUSTOMER_ADMIN, channel=ACME_ROOM, team=CUSTOMER)
    await fleet.settle()
    assert fleet.shown(url) == [say.REPORT_OWN_WORKSPACE]
    # the provider's approvers see every PBX's
    _, url = await fleet.command("history", user=BOB, channel=ACME_ROOM)
    await fleet.settle()
    [shown] = fleet.shown(url)
    assert "203.0.113.7" in shown and "198.51.100.9" in shown


async def test_a_channel_shared_with_a_customer_shows_no_other_pbxs_card(
    fleet: Harness, pbx: FakeThreeCX, beta: FakeThreeCX
) -> None:
    reply, _ = await fleet.command("beta 42", user=BOB, channel=ACME_ROOM)
    assert reply.message == say.only_this_pbx("acme")
    modal = await open_form(fleet, request_shortcut(fleet))
    values = {PBX: chosen("beta"), WHAT: typed("42"), REASON: typed(None), CHANNEL: picked(ACME_ROOM)}
    assert errors(await send(fleet, submission(fleet, modal, values))) == {CHANNEL: say.only_this_pbx("acme")}
    await fleet.settle()
    assert fleet.cards(ACME_ROOM) == [] and beta.calls("GET") == [] and pbx.calls("GET") == []


async def test_people_of_another_workspace_decide_only_when_named_and_click_only_their_pbxs_buttons(
    fleet: Harness, pbx: FakeThreeCX, beta: FakeThreeCX
) -> None:
    # a member of a user group acme's approvers name, but not named by user id: may not approve from outside
    fleet.slack.usergroups["SHELPDESK"].append(CUSTOMER_USER)
    request = await fleet.open_card("42", user=ALICE, channel=ACME_ROOM)
    _, url = await fleet.click(APPROVE, request, user=CUSTOMER_USER, user_team=CUSTOMER)
    await fleet.settle()
    assert fleet.notes(url) == [say.GUEST_NOT_APPROVER] and pbx.calls("DELETE") == []
    # a button that names beta, clicked in acme's channel: nothing asked of beta
    _, url = await fleet.click(
        REQUEST_ENTRY, "", user=CUSTOMER_USER, channel=ACME_ROOM, value="beta/42", user_team=CUSTOMER
    )
    await fleet.settle()
    assert fleet.notes(url) == [say.OTHER_WORKSPACE] and beta.calls("GET") == []


async def test_people_of_another_workspace_use_the_shortcuts_only_in_their_pbxs_channel(
    fleet: Harness, pbx: FakeThreeCX, beta: FakeThreeCX
) -> None:
    def theirs(payload: dict[str, Any]) -> dict[str, Any]:
        payload["user"]["team_id"] = CUSTOMER
        return payload

    await send(fleet, theirs(request_shortcut(fleet, user=CUSTOMER_USER)))  # from anywhere: which PBX is not theirs
    refused = theirs(message_shortcut(fleet, "blocked 203.0.113.7", user=CUSTOMER_USER, channel=BETA_ROOM))
    await send(fleet, refused)
    await fleet.settle()
    assert fleet.slack.calls_to("views.open") == []
    told = [call.args.get("text", "") for call in fleet.slack.calls_to("chat.postMessage")]
    assert say.OTHER_WORKSPACE in told and fleet.notes(refused["response_url"]) == [say.OTHER_WORKSPACE]

    asked = theirs(message_shortcut(fleet, "blocked 203.0.113.7", user=CUSTOMER_USER, channel=ACME_ROOM))
    modal = await open_form(fleet, asked)
    assert PBX not in inputs(modal)
    done = theirs(submission(fleet, modal, {WHAT: typed("203.0.113.7"), REASON: typed(None)}, user=CUSTOMER_USER))
    assert (await send(fleet, done)).status == 200
    await fleet.settle()
    [card] = fleet.cards(ACME_ROOM)
    assert (await fleet.request_for(card)).pbx == "acme" and beta.calls("GET") == []


async def test_a_pbxs_own_rules_say_which_durations_its_cards_offer(
    make_harness: MakeHarness, pbx: FakeThreeCX, beta: FakeThreeCX, tmp_path: Path
) -> None:
    rules = tmp_path / "beta-rules.toml"
    rules.write_text('[[rule]]\nname = "Beta"\nallow = ["2h"]\n')
    fleet = await serving_both(make_harness, pbx, beta, tmp_path, beta_rules=rules)

    on_acme = await fleet.open_card("42", channel=ACME_ROOM)
    on_beta = await fleet.open_card("42", channel=BETA_ROOM)
    _, url = await fleet.click(APPROVE_ALLOW, on_acme, user=BOB, value=f"acme/{on_acme.id}:7200")
    await fleet.settle()
    assert fleet.notes(url) == [say.DURATION_NOT_OFFERED] and pbx.calls("DELETE") == []
    await fleet.click(APPROVE_ALLOW, on_beta, user=BOB, value=f"beta/{on_beta.id}:7200")
    await fleet.settle()
    assert deleted(beta) == ["/xapi/v1/Blocklist(42)"] and pbx.calls("DELETE") == []


async def test_a_member_names_a_pbx_in_the_channel_of_another_not_shared_with_anyone(
    fleet: Harness, pbx: FakeThreeCX, beta: FakeThreeCX
) -> None:
    # beta's channel is not shared with another workspace: a card of acme may go there
    request = await fleet.open_card("acme 42", user=BOB, channel=BETA_ROOM)
    assert request.pbx == "acme" and request.what.targets[0].label == "203.0.113.7"
    assert beta.calls("GET") == []


async def test_a_pbxs_name_is_read_whatever_its_case(fleet: Harness, pbx: FakeThreeCX, beta: FakeThreeCX) -> None:
    request = await fleet.open_card("Beta 42")
    assert request.pbx == "beta" and request.what.targets[0].label == "198.51.100.9"
    assert pbx.calls("GET") == []


async def one_named_pbx(make_harness: MakeHarness, acme: FakeThreeCX, tmp_path: Path) -> Harness:
    """The bot serving acme alone, from a PBXes file of one."""
    path = tmp_path / "one.toml"
    path.write_text(
        f'[[pbx]]\nname = "acme"\nurl = "{acme.base_url}"\nclient_id = "{acme.client_id}"\n'
        f'client_secret_env = "ACME_SECRET"\nchannels = ["{ACME_ROOM}"]\n'
    )
    return await serving(make_harness, str(path), acme)


async def test_a_bot_of_one_named_pbx_says_which_when_a_command_names_another(
    make_harness: MakeHarness, pbx: FakeThreeCX, tmp_path: Path
) -> None:
    harness = await one_named_pbx(make_harness, pbx, tmp_path)
    reply, _ = await harness.command("zeta 42", channel=ACME_ROOM)
    assert "Which PBX?" in reply.message and "`acme`" in reply.message
    await harness.settle()
    assert harness.cards(ACME_ROOM) == [] and pbx.calls("GET") == []


async def test_in_a_pbxs_channel_a_command_that_cannot_be_read_says_why_not_which_pbx(
    fleet: Harness, pbx: FakeThreeCX
) -> None:
    # the first word could be a PBX's name, but what follows it cannot be read either: a mistyped command
    reply, _ = await fleet.command("unblok the phone", channel=ACME_ROOM)
    assert "`unblok` is not something `/unblock` knows" in reply.message and "Which PBX?" not in reply.message
    await fleet.settle()
    assert fleet.cards(ACME_ROOM) == [] and pbx.calls("GET") == []


async def test_a_button_of_a_card_from_before_the_pbxes_had_names_acts_on_its_requests_pbx(
    fleet: Harness, pbx: FakeThreeCX, beta: FakeThreeCX
) -> None:
    request = await fleet.open_card("42", channel=BETA_ROOM)
    # the value names no PBX, as the buttons of a card drawn before the bot served several did not
    _, url = await fleet.click(APPROVE, request, user=CAROL, value=request.id)
    await fleet.settle()
    assert fleet.notes(url) == []
    assert deleted(beta) == ["/xapi/v1/Blocklist(42)"] and pbx.calls("DELETE") == []
    assert (await fleet.stored(request)).state is State.UNBLOCKED


async def test_a_button_that_names_a_pbx_the_bot_does_not_serve_says_so(
    fleet: Harness, pbx: FakeThreeCX, beta: FakeThreeCX
) -> None:
    request = await fleet.open_card("42", channel=BETA_ROOM)
    _, url = await fleet.click(APPROVE, request, user=CAROL, value=f"zeta/{request.id}")
    await fleet.settle()
    assert fleet.notes(url) == [say.UNKNOWN_REQUEST]
    assert beta.calls("DELETE") == [] and (await fleet.stored(request)).state is State.PENDING


async def test_a_pbxs_own_approvals_channel_gets_its_cards(
    make_harness: MakeHarness, pbx: FakeThreeCX, beta: FakeThreeCX, tmp_path: Path
) -> None:
    fleet = await serving_both(make_harness, pbx, beta, tmp_path)
    with_approvals_channel(Path(fleet.env["UNBLOCK_PBXES"]), BETA_APPROVALS)
    await fleet.restart()
    reply, _ = await fleet.command("42", channel=BETA_ROOM)
    assert reply.status == 200
    await fleet.settle()
    [card] = fleet.cards(BETA_APPROVALS)
    assert (await fleet.request_for(card)).pbx == "beta" and fleet.cards(BETA_ROOM) == []
    await fleet.open_card("42", channel=ACME_ROOM)  # acme's cards stay where they are asked for


def with_approvals_channel(path: Path, channel: str) -> None:
    """The PBXes file of ``serving_both``, where beta's cards go to ``channel``."""
    path.write_text(f'{path.read_text()}approval_channel = "{channel}"\n')


async def test_a_form_opened_before_the_bot_served_several_pbxes_is_out_of_date(
    harness: Harness, pbx: FakeThreeCX, beta: FakeThreeCX, tmp_path: Path
) -> None:
    modal = await open_form(harness, request_shortcut(harness))  # the one PBX's form: it asks no PBX
    for name in ("THREECX_BASE_URL", "THREECX_CLIENT_ID", "THREECX_CLIENT_SECRET"):
        harness.env.pop(name)
    pbxes = pbxes_file(tmp_path / "pbxes.toml", pbx, beta)
    await harness.restart_with(UNBLOCK_PBXES=pbxes, ACME_SECRET=pbx.client_secret)
    values = {WHAT: typed("42"), REASON: typed(None), CHANNEL: picked(GENERAL)}
    assert errors(await send(harness, submission(harness, modal, values))) == {WHAT: form.OUT_OF_DATE}
    await harness.settle()
    assert harness.cards(GENERAL) == [] and pbx.calls("GET") == [] and beta.calls("GET") == []
