"""Outbox: everything the bot says in Slack goes out through one queue per channel, or per reply URL.

Slack lets an app post about one message per second per channel (short bursts
allowed) and answers 429 with ``Retry-After`` beyond that. Each channel's queue
sends one message at a time; on a 429 it waits as long as Slack asks and sends
the same message again, so nothing is lost to a rate limit. While it waits,
what matters most goes first: updates of cards already decided (a newer update
of a card replaces an older one still waiting), then new cards. Private notes go
through the command's or click's reply URL, which a channel's rate limit does not
hold back: each reply URL has a queue of its own, its notes in order, so that one
person's note never waits behind another's.

Callers get a future for each message: the ``ts`` of a posted card, whether an
update or a note arrived, or the error Slack gave. Nothing here raises.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from .. import metrics
from .failures import error_code, status_of

log = logging.getLogger(__name__)

#: a 429 without a usable Retry-After waits this long
DEFAULT_PAUSE = 1.0
#: a 429 asking for longer is waited out this long at most, then the message is tried again
MAX_PAUSE = 60.0
#: errors other than rate limits that are worth one more try
TRANSIENT = frozenset({"internal_error", "fatal_error", "service_unavailable", "request_timeout"})
#: each kind of message (as the metrics name it): how it is sent (a Web API method, or the reply URL), and the order
#: in which the kinds go when a channel has to wait
KINDS = {
    "update": ("chat.update", 0),
    "view": ("views.publish", 0),
    "note": ("response_url", 1),
    "post": ("chat.postMessage", 2),
}


@dataclass(frozen=True, slots=True)
class Sent:
    """How a message ended: ``ok``, the ``ts`` of a posted message, or Slack's error code."""

    ok: bool
    ts: str | None = None
    error: str | None = None
    #: an update that a newer version of the same message replaced before it was sent
    superseded: bool = False


@dataclass(eq=False)
class _Message:
    #: ``post``, ``update`` (of a message), ``note`` or ``view`` (a Home tab)
    kind: str
    args: dict[str, Any]
    done: asyncio.Future[Sent] = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    #: what an update replaces: a message's ``ts``, or the Home tab's user
    key: str = ""
    #: futures of updates this one replaced: they end as it ends
    replaced: list[asyncio.Future[Sent]] = field(default_factory=list)
    #: it was tried again once after passing trouble
    again: bool = False

    @property
    def method(self) -> str:
        return KINDS[self.kind][0]


@dataclass(eq=False)
class _Channel:
    waiting: list[_Message] = field(default_factory=list)
    #: nothing is sent before then (time.monotonic()): Slack asked to wait (a reply URL's queue waits inline)
    paused_until: float = 0.0
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    worker: asyncio.Task[None] | None = None

    def next(self, now: float) -> _Message | None:
        """The message to send now (the first of the kind that goes first), unless the queue is paused."""
        if not self.waiting or now < self.paused_until:
            return None
        message = min(self.waiting, key=lambda m: KINDS[m.kind][1])
        self.waiting.remove(message)
        return message

    def take_update(self, key: str) -> _Message | None:
        """The update of ``key`` still waiting, taken out of the queue."""
        older = next((m for m in self.waiting if m.key == key and KINDS[m.kind][1] == 0), None)
        if older is not None:
            self.waiting.remove(older)
        return older


class Outbox:
    def __init__(self, client: AsyncWebClient, session: aiohttp.ClientSession) -> None:
        self._client = client
        self._session = session
        self._channels: dict[str, _Channel] = {}
        self._closing = False

    def post(
        self, channel: str, text: str, blocks: list[dict[str, Any]], *, thread_ts: str | None = None
    ) -> asyncio.Future[Sent]:
        """A new message in ``channel`` (``chat.postMessage``); with ``thread_ts``, a reply in that message's
        thread."""
        args: dict[str, Any] = {"channel": channel, "text": text, "blocks": blocks}
        if thread_ts is not None:
            args["thread_ts"] = thread_ts
        return self._queue(channel, _Message("post", args))

    def update(self, channel: str, ts: str, text: str, blocks: list[dict[str, Any]]) -> asyncio.Future[Sent]:
        """A new version of message ``ts`` (``chat.update``); replaces a version still waiting."""
        args = {"channel": channel, "ts": ts, "text": text, "blocks": blocks}
        return self._queue(channel, _Message("update", args, key=ts))

    def publish(self, user: str, view: dict[str, Any]) -> asyncio.Future[Sent]:
        """A new version of ``user``'s Home tab (``views.publish``); replaces a version still waiting."""
        return self._queue(f"home:{user}", _Message("view", {"user_id": user, "view": view}, key=user))

    def respond(self, response_url: str, body: dict[str, Any]) -> asyncio.Future[Sent]:
        """A message through a command's or click's reply URL (a private note, or a card where the bot
        is not a member); in a queue of that URL's own (its notes in order), never held back by a channel's rate
        limit, nor by other people's notes."""
        return self._queue(f"note:{response_url}", _Message("note", {"url": response_url, "body": body}))

    async def close(self, timeout: float = 30.0) -> None:
        """Send what is waiting (for up to ``timeout`` seconds), then stop."""
        self._closing = True
        workers = [q.worker for q in self._channels.values() if q.worker is not None]
        if not workers:
            return
        _, late = await asyncio.wait(workers, timeout=timeout)
        for worker in late:
            worker.cancel()
        if late:
            log.error("messages still waiting for Slack at shutdown were not sent", extra={"channels": len(late)})
            await asyncio.wait(late)

    async def idle(self) -> None:
        """Wait until every message waiting now (and any queued meanwhile) was sent."""
        while workers := [q.worker for q in self._channels.values() if q.worker is not None]:
            await asyncio.wait(workers)

    @property
    def waiting(self) -> int:
        return sum(len(q.waiting) for q in self._channels.values())

    def waiting_by_kind(self) -> dict[str, int]:
        """Messages not sent yet, by kind: ``post``, ``update`` (of a message), ``note``, ``view`` (a Home tab)."""
        return {**dict.fromkeys(KINDS, 0), **Counter(m.kind for q in self._channels.values() for m in q.waiting)}

    def _queue(self, channel: str, message: _Message) -> asyncio.Future[Sent]:
        if self._closing:
            message.done.set_result(Sent(False, error="shutting_down"))
            return message.done
        queue = self._channels.setdefault(channel, _Channel())
        if message.key and (older := queue.take_update(message.key)) is not None:
            message.replaced = [*older.replaced, older.done]
        queue.waiting.append(message)
        queue.wake.set()
        if queue.worker is None:
            queue.worker = asyncio.get_running_loop().create_task(self._work(channel, queue), name=f"outbox-{channel}")
        return message.done

    async def _work(self, channel: str, queue: _Channel) -> None:
        try:
            while queue.waiting:
                message = queue.next(time.monotonic())
                if message is None:  # the channel is paused
                    queue.wake.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(queue.wake.wait(), max(0.0, queue.paused_until - time.monotonic()))
                    continue
                sent = await self._send(message, queue)
                if sent is None:  # rate limited: it waits its turn again, at the front (a newer update goes instead)
                    newer = queue.take_update(message.key) if message.key else None
                    if newer is not None:
                        newer.replaced = [*message.replaced, message.done, *newer.replaced]
                    queue.waiting.insert(0, newer or message)
                    continue
                for done in message.replaced:
                    if not done.done():
                        done.set_result(replace(sent, superseded=True))
                if not message.done.done():
                    message.done.set_result(sent)
        finally:
            queue.worker = None
            if not queue.waiting:
                self._channels.pop(channel, None)

    async def _send(self, message: _Message, queue: _Channel) -> Sent | None:
        """Send one message; None when Slack asked to wait (the channel is paused, or the note waited)."""
        try:
            if message.kind == "note":
                answer = await AsyncWebhookClient(message.args["url"], session=self._session).send_dict(
                    message.args["body"]
                )
                if answer.status_code == 429:
                    metrics.SLACK_RATE_LIMITED.labels("note").inc()
                    await asyncio.sleep(_pause((answer.headers or {}).get("Retry-After")))
                    return None
                if answer.status_code != 200:
                    return self._failed(message, f"http_{answer.status_code}")
                return Sent(True)
            # as slack_sdk's own chat_postMessage, chat_update and views_publish send them
            response = await self._client.api_call(message.method, json=message.args)
        except Exception as error:  # Slack's error, a proxy's page, or no answer (after the client's retries)
            if isinstance(error, SlackApiError) and status_of(error) == 429:
                metrics.SLACK_RATE_LIMITED.labels(message.kind).inc()
                pause = _pause((getattr(error.response, "headers", None) or {}).get("Retry-After"))
                queue.paused_until = time.monotonic() + pause
                log.info("Slack asked the bot to slow down", extra={"method": message.method, "pause": pause})
                return None
            code = error_code(error)
            no_answer = not isinstance(error, SlackApiError) and code != "invalid_response"
            if not message.again and message.kind != "note" and (code in TRANSIENT or no_answer):
                message.again = True  # passing trouble (after the client's own retry): one more try
                return await self._send(message, queue)
            return self._failed(message, code)
        ts = response.get("ts")
        return Sent(True, ts=ts if isinstance(ts, str) else None)

    def _failed(self, message: _Message, code: str) -> Sent:
        metrics.SLACK_ERRORS.labels(message.method, code).inc()
        log.warning("Slack did not take a message", extra={"method": message.method, "error": code})
        return Sent(False, error=code)


def _pause(retry_after: Any) -> float:
    try:
        seconds = float(retry_after)
    except (TypeError, ValueError):
        return DEFAULT_PAUSE
    return min(max(seconds, 0.0), MAX_PAUSE) or DEFAULT_PAUSE
