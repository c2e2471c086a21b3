"""Signed bodies of shapes Slack would not send (a field of the wrong type, no workspace at all) get a 400 or
a refusal, never a 500 and never a change in 3CX; the bodies Slack does send still work. Over HTTP and over
Socket Mode."""

from __future__ import annotations

import json
import logging
import pathlib
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.domain.model import State
from bot.slack.buttons import ALLOW_FOR, APPROVE, HOME_APPROVE
from bot.slack.views import notes as say

from .fakes.slack import FakeSlack
from .fakes.threecx import FakeThreeCX
from .harness import (
    ALICE,
    BOB,
    GENERAL,
    MALLORY,
    Harness,
    card_request_id,
    crashes,
    socket_mode_bot,
    wait_for,
)

JSON = {"Content-Type": "application/json"}
Path = tuple[str | int, ...]


# the bodies Slack sends: as the harness sends them, with the fields Slack documents besides -----------------------


def card_click(harness: Harness, user: str, request_id: str = "0" * 16, action_id: str = APPROVE) -> dict[str, Any]:
    """A click on a card's button (``block_actions``), as Slack sends it."""
    body, _ = harness.click_body(action_id, request_id, user=user, message_ts="1700000000.000100")
    payload = dict(json.loads(dict(parse_qsl(body))["payload"]))
    payload["user"]["name"] = user.lower()
    payload["actions"][0]["text"] = {"type": "plain_text", "text": "Approve", "emoji": True}
    card = {"type": "message", "ts": "1700000000.000100", "bot_id": "B0001", "text": "a card", "blocks": []}
    payload.update(enterprise=None, is_enterprise_install=False, state={"values": {}}, message=card)
    return payload


def home_click(harness: Harness, user: str, request_id: str = "0" * 16) -> dict[str, Any]:
    """A click on Approve in the bot's Home tab, as Slack sends it."""
    team = harness.slack.team_id
    view: dict[str, Any] = {"id": "V0HOME", "type": "home", "team_id": team, "blocks": [], "callback_id": ""}
    view |= {
        "state": {"values": {}},
        "hash": "1700000000.abc",
        "app_id": "A0001",
        "external_id": "",
        "private_metadata": "",
    }
    view |= {"app_installed_team_id": team, "bot_id": "B0001", "previous_view_id": None, "root_view_id": "V0HOME"}
    return harness.action_payload(
        {"action_id": HOME_APPROVE, "block_id": "home", "type": "button", "value": request_id},
        user=user,
        container={"type": "view", "view_id": "V0HOME"},
        view=view,
        enterprise=None,
        is_enterprise_install=False,
    )


def home_opened(harness: Harness, user: str) -> dict[str, Any]:
    """An ``app_home_opened`` event callback, as Slack sends it."""
    opened = {"type": "app_home_opened", "user": user, "channel": "D0HOME", "tab": "home"}
    body = harness.event_callback({**opened, "event_ts": f"{time.time():.6f}"})
    bot = {"enterprise_id": None, "team_id": harness.slack.team_id, "user_id": "UBOT", "is_bot": True}
    body["authorizations"] = [{**bot, "is_enterprise_install": False}]
    body["is_ext_shared_channel"], body["event_context"] = False, "4-eyJldCI6ImFwcF9ob21lX29wZW5lZCJ9"
    return body


def command_form(harness: Harness, text: str = "42", user: str = ALICE) -> dict[str, str]:
    """``/unblock <text>``, as Slack sends it (a form; every field a string)."""
    return {**dict(parse_qsl(harness.command_body(text, user=user)[0])), "is_enterprise_install": "false"}


# what Slack sends still works ---------------------------------------------------------------------------------


async def test_the_bodies_slack_sends_still_work(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    calls = len(harness.slack.calls)
    ssl_check = await harness.post_signed(urlencode({"token": "legacy-verification-token", "ssl_check": "1"}))
    await harness.settle()
    assert (ssl_check.status, ssl_check.text) == (200, "")  # Slack's check of the certificate, and nothing else
    assert harness.slack.calls[calls:] == [] and harness.slack.response_posts == [] and harness.pbx.requests == []

    reply = await harness.post_signed(urlencode(command_form(harness)))
    await harness.settle()
    assert reply.status == 200
    [card] = harness.cards()
    request = await harness.request_for(card)

    challenge = await harness.post_json(
        {"token": "legacy-verification-token", "challenge": "c1", "type": "url_verification"}
    )
    assert (challenge.status, json.loads(challenge.text)) == (200, {"challenge": "c1"})
    assert (await harness.post_json(home_opened(harness, BOB))).status == 200
    await harness.settle()
    assert BOB in harness.slack.homes

    assert (await harness.post_payload(home_click(harness, BOB, request.id))).status == 200
    await harness.settle()
    assert (await harness.stored(request)).state is State.UNBLOCKED
    assert [r.path for r in harness.pbx.calls("DELETE")] == ["/xapi/v1/Blocklist(42)"]

    harness.pbx.add_entry(43, "203.0.113.8")
    second = await harness.open_card("43")
    assert (await harness.post_payload(card_click(harness, BOB, second.id))).status == 200
    await harness.settle()
    assert (await harness.stored(second)).state is State.UNBLOCKED
    assert [r.path for r in harness.pbx.calls("DELETE")][1:] == ["/xapi/v1/Blocklist(43)"]
    assert crashes(caplog) == []


@pytest.mark.parametrize("readable", [True, False], ids=["as Slack sends it", "with a field Bolt cannot read"])
async def test_a_command_whose_text_says_payload_is_a_command(
    harness: Harness, caplog: pytest.LogCaptureFixture, readable: bool
) -> None:
    """Bolt reads any form holding the word "payload" as a click; a person may well type it. Such a form with a
    field Bolt cannot read gets a 400."""
    form = command_form(harness, "42 the payload server moved") | ({} if readable else {"authorizations": "x"})
    reply = await harness.post_signed(urlencode(form))
    await harness.settle()
    assert crashes(caplog) == []
    if not readable:
        assert reply.status == 400 and harness.cards() == [] and harness.pbx.requests == []
        return
    assert reply.status == 200
    [card] = harness.cards()
    assert (await harness.request_for(card)).asked.reason == "the payload server moved"
    assert [r.path for r in harness.pbx.calls("GET", "/xapi/v1/Blocklist")] == ["/xapi/v1/Blocklist(42)"]


# the shapes found to answer 500 --------------------------------------------------------------------------------


def _set(body: dict[str, Any], path: Path, value: Any) -> dict[str, Any]:
    node: Any = body
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    return body


WRONG_TYPES: dict[str, tuple[str, Path, Any]] = {
    "team as a string": ("click", ("team",), "T0001"),
    "user.team_id as a list": ("click", ("user", "team_id"), ["T0001"]),
    "channel as a string": ("click", ("channel",), GENERAL),
    "container as a string": ("click", ("container",), "message"),
    "a top-level team_id list": ("click", ("team_id",), ["T0001"]),
    "selected_option as a string": ("click", ("actions", 0, "selected_option"), "x"),
    "an event's team_id as a list": ("event", ("team_id",), ["T0001"]),
    "event as a string": ("event", ("event",), "x"),
}


async def test_a_click_or_an_event_with_a_field_of_the_wrong_type_gets_a_400(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    request = await harness.open_card()

    for name, (kind, path, value) in WRONG_TYPES.items():
        if kind == "click":
            action_id = ALLOW_FOR if path[-1] == "selected_option" else APPROVE
            reply = await harness.post_payload(_set(card_click(harness, BOB, request.id, action_id), path, value))
        else:
            reply = await harness.post_json(_set(home_opened(harness, ALICE), path, value))
        assert reply.status == 400, name
    await harness.settle()

    assert (await harness.stored(request)).state is State.PENDING and harness.pbx.calls("DELETE") == []
    assert harness.slack.homes == {} and crashes(caplog) == []
    logged = [r for r in caplog.records if "Slack would not send" in r.getMessage()]
    assert len(logged) == len(WRONG_TYPES)


def nested(body: dict[str, Any], depth: int) -> str:
    """``body`` as JSON text, its ``message`` (or its ``event``'s) an object nested ``depth`` levels deep: text
    ``json.dumps`` could not write."""
    where = body.get("event", body)
    where["message"] = "NESTED"
    return json.dumps(body).replace('"NESTED"', '{"text": ' * depth + "{}" + "}" * depth, 1)


async def test_json_nested_deeper_than_slack_nests_it_gets_a_400_not_a_500(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    request = await harness.open_card()

    for depth in (5000, 80):
        payload = nested(card_click(harness, BOB, request.id), depth)
        click = await harness.post_signed(urlencode({"payload": payload}))
        event = await harness.post_signed(nested(home_opened(harness, ALICE), depth), headers=JSON)
        assert (click.status, event.status) == (400, 400), depth
    await harness.settle()

    assert (await harness.stored(request)).state is State.PENDING and harness.pbx.calls("DELETE") == []
    assert harness.slack.homes == {} and crashes(caplog) == []
    assert len([r for r in caplog.records if "Slack would not send" in r.getMessage()]) == 4


# no workspace at all ------------------------------------------------------------------------------------------


async def test_a_click_that_names_no_workspace_is_refused(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    request = await harness.open_card()
    click = card_click(harness, BOB, request.id)
    del click["team"], click["user"]["team_id"]
    home = home_click(harness, BOB, request.id)
    del home["team"], home["user"]["team_id"], home["view"]["team_id"]

    replies = [await harness.post_payload(click), await harness.post_payload(home)]
    await harness.settle()

    assert [r.status for r in replies] == [200, 200]
    assert (await harness.stored(request)).state is State.PENDING and harness.pbx.calls("DELETE") == []
    assert any("own workspace" in note for note in harness.notes(click["response_url"]))
    assert crashes(caplog) == []


# any type in any field: never a 500 ----------------------------------------------------------------------------


def paths(value: Any, prefix: Path = ()) -> Iterator[Path]:
    """Every field and list item in ``value``, nested ones included."""
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, inner in items:
        yield (*prefix, key)
        yield from paths(inner, (*prefix, key))


def at(value: Any, path: Path) -> Any:
    for step in path:
        value = value[step]
    return value


#: a value of every JSON type
ANY_JSON = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**40), 2**40), st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8), st.lists(st.text(max_size=4), max_size=2),
    st.dictionaries(st.sampled_from(["id", "value", "type", "x"]), st.text(max_size=4), max_size=2),
)  # fmt: skip


def _json_type(value: Any) -> str:
    return "number" if isinstance(value, int | float) and not isinstance(value, bool) else type(value).__name__


@st.composite
def mutations(draw: st.DrawFn, template: dict[str, Any]) -> tuple[Path, Any]:
    """One field of ``template`` and a value of another JSON type for it."""
    path = draw(st.sampled_from(sorted(paths(template), key=str)))
    original = _json_type(at(template, path))
    return path, draw(ANY_JSON.filter(lambda v: _json_type(v) != original))


#: the payloads whose fields are changed: how each is made, for a person and a request, and how it is sent
KINDS: dict[str, Callable[[Harness, str, str], dict[str, Any]]] = {
    "card click": lambda h, user, request_id: card_click(h, user, request_id),
    "home click": lambda h, user, request_id: home_click(h, user, request_id),
    "home opened": lambda h, user, _: home_opened(h, user),
}
HYPOTHESIS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.mark.parametrize("kind", KINDS)
@given(data=st.data())
@settings(HYPOTHESIS, max_examples=60)
async def test_any_field_of_any_type_never_gets_a_500(
    harness: Harness, caplog: pytest.LogCaptureFixture, kind: str, data: st.DataObject
) -> None:
    caplog.clear()
    if not harness.cards():
        await harness.open_card()
    request = await harness.request_for(harness.cards()[0])
    body = KINDS[kind](harness, MALLORY, request.id)  # fresh: a new trigger id, reply URL and event id
    path, value = data.draw(mutations(body), label="mutation")

    changed = _set(body, path, value)
    reply = await (harness.post_json(changed) if kind == "home opened" else harness.post_payload(changed))
    await harness.settle()

    assert reply.status < 500
    assert crashes(caplog) == []
    assert harness.pbx.calls("DELETE") == []  # Mallory may not approve, whatever the body says
    assert (await harness.stored(request)).state is State.PENDING


@given(field=st.sampled_from(["command", "user_id", "channel_id", "team_id", "text", "response_url", "trigger_id"]),
       change=st.sampled_from(["drop", "twice", "empty", "other"]), other=st.text(max_size=30))  # fmt: skip
@HYPOTHESIS
async def test_any_change_to_a_slash_command_never_gets_a_500(
    harness: Harness, caplog: pytest.LogCaptureFixture, field: str, change: str, other: str
) -> None:
    caplog.clear()
    form = list(command_form(harness, user=MALLORY).items())
    index = next(i for i, (name, _) in enumerate(form) if name == field)
    if change == "drop":
        del form[index]
    elif change == "twice":
        form.insert(index, (field, other))
    else:
        form[index] = (field, "" if change == "empty" else other)

    reply = await harness.post_signed(urlencode(form))
    await harness.settle()

    assert reply.status < 500 and crashes(caplog) == []
    assert harness.pbx.calls("DELETE") == []


# Socket Mode ---------------------------------------------------------------------------------------------------


async def test_socket_mode_acknowledges_bodies_slack_would_not_send_and_handles_the_next(
    slack: FakeSlack, pbx: FakeThreeCX, tmp_path: pathlib.Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A field of the wrong type, JSON nested deeper than Slack nests it: acknowledged, nothing said, one log line
    each, and the next body is handled. ``/unblock`` is answered as over HTTP: a refusal comes back in the
    envelope's acknowledgement, and a command from another workspace does nothing."""
    caplog.set_level(logging.INFO)
    async with socket_mode_bot(slack, pbx, tmp_path) as driver:
        refused = await slack.send_envelope("slash_commands", command_form(driver, "abc"))
        other = await slack.send_envelope("slash_commands", {**command_form(driver), "team_id": "T0OTHER"})
        assert "`abc` is not" in refused["payload"]["text"]
        assert other["payload"] == {"text": say.OTHER_WORKSPACE}
        assert pbx.requests == [] and driver.cards() == []
        await slack.send_envelope("slash_commands", command_form(driver))
        await wait_for(lambda: driver.cards(), what="the card")
        request_id = card_request_id(driver.cards()[0].blocks)

        wrong = _set(card_click(driver, BOB, request_id), ("team",), "T0001")
        deep = [nested(card_click(driver, BOB, request_id), depth) for depth in (5000, 80)]
        bodies: list[dict[str, Any] | str] = [wrong, *deep]
        for body in bodies:
            ack = await slack.send_envelope("interactive", body, timeout=3)
            assert ack.get("envelope_id") and "payload" not in ack  # acknowledged, and nothing said
        logged = [r for r in caplog.records if "Socket Mode request that Slack would not send" in r.getMessage()]
        assert len(logged) == 3 and pbx.calls("DELETE") == []

        await slack.send_envelope("interactive", card_click(driver, BOB, request_id))
        await wait_for(lambda: pbx.calls("DELETE"), what="the DELETE")

    assert [r.path for r in pbx.calls("DELETE")] == ["/xapi/v1/Blocklist(42)"]
    assert crashes(caplog) == []
