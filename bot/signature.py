"""Slack's signature on a request, checked once (Bolt's own check is off), and replays refused."""

from __future__ import annotations

import enum
import time
from collections import OrderedDict

from slack_sdk.signature import SignatureVerifier


class Verdict(enum.Enum):
    ACCEPT = "accept"
    #: Slack retrying a delivery this process already accepted: answered, not handled again
    REPEAT = "repeat"
    REFUSE = "refuse"


class ReplayGuard:
    """Checks Slack's signature (the only check of it: Bolt's own is off), and remembers the signatures it
    accepted for as long as they are valid (5 minutes), so that a signed request sent again is never
    handled twice. A repeat that says it is Slack's retry (``X-Slack-Retry-Num``) is answered 200 and not
    handled; any other repeat is refused. (Across processes, the store recognises a delivery by what Slack
    keeps the same across its retries.)"""

    WINDOW = 5 * 60.0

    def __init__(self, signing_secret: str, *, limit: int = 200_000) -> None:
        self._verifier = SignatureVerifier(signing_secret)
        #: signature -> when it may be forgotten, oldest first
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._limit = limit

    def check(self, body: bytes, timestamp: str, signature: str, *, retry: bool = False) -> Verdict:
        if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
            return Verdict.REFUSE
        try:
            if not self._verifier.is_valid(body, timestamp, signature):
                return Verdict.REFUSE
        except UnicodeDecodeError:  # slack_sdk reads the body as UTF-8 to sign it
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
