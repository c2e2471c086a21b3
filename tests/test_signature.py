"""Slack's signature is checked once per request in HTTP mode, by Bolt: a good request is verified exactly once,
a bad one is a 401 that changes nothing, also when it is handed to Bolt directly (Socket Mode, which has no
signature, goes on as before)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from urllib.parse import parse_qsl

import pytest
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.signature import SignatureVerifier

from bot.domain.model import State
from bot.slack.buttons import APPROVE

from .harness import BOB, Harness, sign


@pytest.fixture
def verified(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """What each check of a Slack signature answered, in this test (whoever made it: the server or Bolt)."""
    answers: list[bool] = []
    check: Callable[..., bool] = SignatureVerifier.is_valid

    def counted(self: SignatureVerifier, *args: object, **kwargs: object) -> bool:
        answers.append(check(self, *args, **kwargs))
        return answers[-1]

    monkeypatch.setattr(SignatureVerifier, "is_valid", counted)
    return answers


async def test_a_good_request_is_verified_exactly_once(harness: Harness, verified: list[bool]) -> None:
    reply, _ = await harness.command("42")
    await harness.settle()

    assert reply.status == 200
    assert verified == [True]
    assert len(harness.cards()) == 1 and [r.path for r in harness.pbx.calls("GET")] == ["/xapi/v1/Blocklist(42)"]


@pytest.mark.parametrize("how", ["wrong secret", "tampered body", "stale", "no signature"])
async def test_a_bad_signature_is_a_401_and_changes_nothing(harness: Harness, verified: list[bool], how: str) -> None:
    body, response_url = harness.command_body("42")
    stamp = int(time.time()) - (10 * 60 if how == "stale" else 0)
    signature = {
        "wrong secret": sign(body, str(stamp), "not-the-signing-secret"),
        "tampered body": sign(body.replace("42", "43"), str(stamp)),
        "stale": sign(body, str(stamp)),
        "no signature": "",
    }[how]

    reply = await harness.post_signed(body, timestamp=stamp, signature=signature)
    await harness.settle()

    assert (reply.status, reply.text) == (401, '{"error": "invalid request"}')
    assert verified == [False]  # Bolt said no; no listener saw the request
    assert harness.pbx.requests == [] and harness.cards() == [] and harness.notes(response_url) == []
    assert harness.slack.response_posts == []


async def test_bolt_itself_refuses_a_badly_signed_request_handed_to_it(harness: Harness) -> None:
    assert harness.bot is not None
    request = await harness.open_card("42")
    body, response_url = harness.click_body(APPROVE, request.id, user=BOB)
    stamp = str(int(time.time()))
    headers: dict[str, str | Sequence[str]] = {
        "content-type": "application/x-www-form-urlencoded",
        "x-slack-request-timestamp": stamp,
        "x-slack-signature": sign(body, stamp, "not-the-signing-secret"),
    }

    response = await harness.bot.app.async_dispatch(AsyncBoltRequest(body=body, headers=headers))
    await harness.settle()

    assert response.status == 401
    assert harness.pbx.calls("DELETE") == [] and harness.notes(response_url) == []
    assert (await harness.stored(request)).state is State.PENDING


async def test_socket_mode_requests_reach_the_listeners_without_a_signature(harness: Harness) -> None:
    assert harness.bot is not None
    request = await harness.open_card("42")
    body, _ = harness.click_body(APPROVE, request.id, user=BOB)

    socket_body = json.loads(dict(parse_qsl(body))["payload"])
    response = await harness.bot.app.async_dispatch(AsyncBoltRequest(body=socket_body, mode="socket_mode"))
    await harness.settle()

    assert response.status == 200
    assert [r.path for r in harness.pbx.calls("DELETE")] == ["/xapi/v1/Blocklist(42)"]
