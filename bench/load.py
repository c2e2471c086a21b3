"""The load generator: signed Slack requests over aiohttp, closed-loop or at a fixed arrival rate."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode

import aiohttp
from slack_sdk.signature import SignatureVerifier

SIGNING_SECRET = "bench-signing-secret-4d9a71c0e2"
TEAM = "T0001"
CHANNEL = "C0GENERAL"
REQUESTER = "UALICE"
APPROVER = "UBOB"
CONNECTIONS = 20
#: a request slower than this counts as an error
REQUEST_TIMEOUT = 10.0

#: index of the request -> its form-encoded body (a new one each time: the bot refuses replays)
Body = Callable[[int], str]


def command_body(text: str, response_url: str, user: str = REQUESTER) -> str:
    """A slash command as Slack sends it; like Slack's, each has its own trigger_id (the bot drops repeats)."""
    return urlencode({
        "token": "legacy-verification-token", "team_id": TEAM, "team_domain": "acme",
        "channel_id": CHANNEL, "channel_name": "general", "user_id": user, "user_name": user.lower(),
        "command": "/unblock", "text": text, "api_app_id": "A0001", "response_url": response_url,
        "trigger_id": uuid.uuid4().hex,
    })  # fmt: skip


def click_body(action_id: str, request_id: str, response_url: str, user: str = APPROVER) -> str:
    """A button click (block_actions), with its own trigger_id and action_ts."""
    payload = {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "team_id": TEAM},
        "api_app_id": "A0001",
        "token": "legacy-verification-token",
        "container": {"type": "message", "message_ts": "", "channel_id": CHANNEL, "is_ephemeral": False},
        "trigger_id": uuid.uuid4().hex,
        "team": {"id": TEAM, "domain": "acme"},
        "channel": {"id": CHANNEL, "name": "general"},
        "response_url": response_url,
        "actions": [{"action_id": action_id, "block_id": "unblock_decision", "value": request_id,
                     "type": "button", "action_ts": f"{time.time():.6f}"}],
    }  # fmt: skip
    return urlencode({"payload": json.dumps(payload)})


@dataclass
class Result:
    """What one run of requests gave; times are ``time.monotonic()`` seconds."""

    elapsed: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    #: what the errors were: HTTP status or exception name -> count
    failures: Counter[str] = field(default_factory=Counter)
    #: answers that said the bot was too busy to take the work on
    busy: int = 0
    #: request index -> when it was (meant to be) sent
    sent: dict[int, float] = field(default_factory=dict)
    #: open loop: how late the generator started the latest of its requests, seconds
    lag: float = 0.0

    def add(self, other: Result) -> None:
        """Pool another run of the same case into this one (request indices are not kept)."""
        self.elapsed += other.elapsed
        self.latencies += other.latencies
        self.errors += other.errors
        self.failures.update(other.failures)
        self.busy += other.busy
        self.lag = max(self.lag, other.lag)

    @property
    def done(self) -> int:
        return len(self.latencies)

    @property
    def rate(self) -> float:
        return self.done / self.elapsed if self.elapsed else 0.0

    def percentile_ms(self, p: float) -> float:
        return percentile(self.latencies, p) * 1000


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


class Loader:
    """Sends signed requests to one URL through one pool of ``CONNECTIONS`` connections."""

    def __init__(self, url: str, *, connections: int = CONNECTIONS) -> None:
        self.url = url
        self.connections = connections
        self._signer = SignatureVerifier(SIGNING_SECRET)
        self._http: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Loader:
        self._http = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self.connections),
            timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT),
        )
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._http is not None:
            await self._http.close()

    async def send(self, body: str, result: Result, since: float | None = None) -> None:
        """One request; its latency counts from ``since`` (when it was due) if given."""
        assert self._http is not None
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": self._signer.generate_signature(timestamp=timestamp, body=body) or "",
        }
        started = time.monotonic() if since is None else since
        try:
            async with self._http.post(self.url, data=body.encode(), headers=headers) as response:
                text = await response.read()
                failure = "" if response.status == 200 else f"HTTP {response.status}"
        except (aiohttp.ClientError, TimeoutError) as error:
            failure, text = type(error).__name__, b""
        if failure:
            result.errors += 1
            result.failures[failure] += 1
            return
        result.latencies.append(time.monotonic() - started)
        if b"very busy" in text:
            result.busy += 1

    async def closed_loop(self, body: Body, *, duration: float, limit: int | None = None,
                          workers: int | None = None) -> Result:  # fmt: skip
        """``workers`` (default: one per connection) each send a request as soon as the last one came back,
        for ``duration`` seconds or until ``limit`` requests were sent."""
        result = Result()
        counter = iter(range(limit if limit is not None else 10**9))
        started = time.monotonic()
        deadline = started + duration

        async def worker() -> None:
            for index in counter:
                if time.monotonic() >= deadline:
                    return
                result.sent[index] = time.monotonic()
                await self.send(body(index), result)

        await asyncio.gather(*(worker() for _ in range(workers or self.connections)))
        result.elapsed = time.monotonic() - started
        return result

    async def open_loop(self, body: Body, *, rate: float, duration: float, first: int = 0) -> Result:
        """Request ``first + i`` is due at ``start + i / rate``, whether or not earlier ones came back;
        latency counts from when it was due, so waiting for a free connection is included."""
        result = Result()
        count = max(1, round(rate * duration))
        tasks: list[asyncio.Task[None]] = []
        started = time.monotonic()
        for i in range(count):
            due = started + i / rate
            pause = due - time.monotonic()
            if pause > 0:
                await asyncio.sleep(pause)
            result.lag = max(result.lag, time.monotonic() - due)
            result.sent[first + i] = due
            tasks.append(asyncio.create_task(self.send(body(first + i), result, since=due)))
        _, late = await asyncio.wait(tasks, timeout=REQUEST_TIMEOUT + 1)
        for task in late:
            task.cancel()
        result.errors += len(late)
        result.failures.update({"unanswered": len(late)} if late else {})
        result.elapsed = time.monotonic() - started
        return result
