"""Slack's signature is checked once per request in HTTP mode, by Bolt: a good request is verified exactly once,
a bad one is a 401 that changes nothing."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from slack_sdk.signature import SignatureVerifier

from .harness import Harness, sign


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


@pytest.mark.parametrize("how", ["good", "wrong secret", "tampered body", "stale", "no signature"])
async def test_a_bad_signature_is_a_401_and_changes_nothing(harness: Harness, verified: list[bool], how: str) -> None:
    """A good one is verified exactly once, and handled."""
    body, response_url = harness.command_body("42")
    stamp = int(time.time()) - (10 * 60 if how == "stale" else 0)
    signature = {
        "good": sign(body, str(stamp)),
        "wrong secret": sign(body, str(stamp), "not-the-signing-secret"),
        "tampered body": sign(body.replace("42", "43"), str(stamp)),
        "stale": sign(body, str(stamp)),
        "no signature": "",
    }[how]

    reply = await harness.post_signed(body, timestamp=stamp, signature=signature)
    await harness.settle()

    if how == "good":
        assert (reply.status, verified, len(harness.cards())) == (200, [True], 1)
        assert [r.path for r in harness.pbx.calls("GET")] == ["/xapi/v1/Blocklist(42)"]
        return
    assert (reply.status, reply.text) == (401, '{"error": "invalid request"}')
    assert verified == [False]  # Bolt said no; no listener saw the request
    assert harness.pbx.requests == [] and harness.cards() == [] and harness.notes(response_url) == []
    assert harness.slack.response_posts == []
