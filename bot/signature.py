"""Slack's signature on a request, checked once (Bolt's own check is off), and replays refused."""

from __future__ import annotations

import enum
import hmac
import time
from collections import OrderedDict

from slack_sdk.signature import SignatureVerifier


class Verdict(enum.Enum):
    ACCEPT = "accept"
    #: Slack retrying a delivery this process already accepted: answered, not handled again
    REPEAT = "repeat"
    REFUSE = "refuse"


class _Verifier(SignatureVerifier):
    """slack_sdk's check of a signature (the timestamp's age, then the signature compared in constant time), with
    the signature computed in one call: HMAC-SHA256 of ``v0:<timestamp>:<body>`` keyed with the signing secret, in
    hex after ``v0=``, from the body's bytes as they came."""

    def __init__(self, signing_secret: str) -> None:
        super().__init__(signing_secret)
        self._key = signing_secret.encode()

    def generate_signature(self, *, timestamp: str, body: str | bytes) -> str | None:
        if timestamp is None:
            return None
        if isinstance(body, str):
            body = body.encode()
        else:
            body.decode()  # a body that is not UTF-8 fails here, as it does in slack_sdk's own computation
        message = b"v0:" + timestamp.encode() + b":" + body
        return "v0=" + hmac.digest(self._key, message, "sha256").hex()


class ReplayGuard:
    """Checks Slack's signature (the only check of it: Bolt's own is off), and remembers the signatures it
    accepted for as long as they are valid (5 minutes), so that a signed request sent again is never
    handled twice. A repeat that says it is Slack's retry (``X-Slack-Retry-Num``) is answered 200 and not
    handled; any other repeat is refused. (Across processes, the store recognises a delivery by what Slack
    keeps the same across its retries.)"""

    WINDOW = 5 * 60.0

    def __init__(self, signing_secret: str, *, limit: int = 200_000) -> None:
        self._verifier = _Verifier(signing_secret)
        #: signature -> when it may be forgotten, oldest first
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._limit = limit

    def check(self, body: bytes, timestamp: str, signature: str, *, retry: bool = False) -> Verdict:
        if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
            return Verdict.REFUSE
        try:
            if not self._verifier.is_valid(body, timestamp, signature):
                return Verdict.REFUSE
        except UnicodeDecodeError:
            return Verdict.REFUSE
        now = time.monotonic()
        while self._seen and next(iter(self._seen.values())) < now:
            self._seen.popitem(last=False)
        if signature in self._seen:
            return Verdict.REPEAT if retry else Verdict.REFUSE
        if len(self._seen) >= self._limit:  # a flood: forget the oldest rather than refuse everyone
            self._seen.popitem(last=False)
        self._seen[signature] = now + self.WINDOW
        return Verdict.ACCEPT
