"""Slack's signature is checked once per request in HTTP mode, by Bolt: a good request is verified exactly once,
a bad, stale or malformed one (a timestamp that is not digits, a body that is not UTF-8) is a 401 that changes
nothing."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable

import aiohttp
import pytest
from slack_sdk.signature import SignatureVerifier

from .harness import SIGNING_SECRET, Harness, sign


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


def hmac_signed(raw: bytes, stamp: str) -> str:
    """Signed as Slack signs (HMAC-SHA256 of ``v0:<timestamp>:<body>``), over bytes Slack never sends."""
    return "v0=" + hmac.new(SIGNING_SECRET.encode(), f"v0:{stamp}:".encode() + raw, hashlib.sha256).hexdigest()


async def test_a_bad_signature_is_a_401_and_changes_nothing(harness: Harness, verified: list[bool]) -> None:
    body, response_url = harness.command_body("42")
    now = str(int(time.time()))
    good = await harness.post_signed(body, timestamp=int(now))
    await harness.settle()
    assert (good.status, verified, len(harness.cards())) == (200, [True], 1)
    assert [r.path for r in harness.pbx.calls("GET", "/xapi/v1/Blocklist")] == ["/xapi/v1/Blocklist(42)"]
    sent = len(harness.pbx.requests)

    stale, raw, zeros = str(int(now) - 10 * 60), body.encode(), "v0=" + "0" * 64
    not_utf8 = raw + b"&note=\xff\xfe"
    checked_by_bolt = {
        "wrong secret": (raw, now, sign(body, now, "not-the-signing-secret")),
        "tampered body": (raw, now, sign(body.replace("42", "43"), now)),
        "stale": (raw, stale, sign(body, stale)),
        "no signature": (raw, now, ""),
    }
    malformed = {
        "signed, not UTF-8": (not_utf8, now, hmac_signed(not_utf8, now)),
        "not UTF-8": (b"text=\xff\xfe&command=/unblock", now, zeros),
        **{f"timestamp {t!r}": (raw, t, zeros) for t in ("abc", "-1", "1e9", "", "9" * 40, "\u0661\u0662")},
    }
    calls, posts = len(harness.slack.calls), len(harness.slack.response_posts)
    async with aiohttp.ClientSession() as http:
        for how, (data, stamp, signature) in {**checked_by_bolt, **malformed}.items():
            headers = {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": signature}
            if how in checked_by_bolt:
                headers["Content-Type"] = "application/x-www-form-urlencoded"
            async with http.post(f"{harness.url}/slack/events", data=data, headers=headers) as response:
                assert (response.status, await response.text()) == (401, '{"error": "invalid request"}'), how
    await harness.settle()

    assert verified == [True] + [False] * len(checked_by_bolt)  # Bolt said no; no listener saw a bad request
    assert len(harness.pbx.requests) == sent and len(harness.cards()) == 1 and harness.notes(response_url) == []
    assert (len(harness.slack.calls), len(harness.slack.response_posts)) == (calls, posts)
