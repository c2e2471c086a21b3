"""Outbox: everything the bot says in Slack goes out through one queue per channel.

Slack lets an app post about one message per second per channel (short bursts
allowed) and answers 429 with ``Retry-After`` beyond that. Each channel's queue
sends one message at a time; on a 429 it waits as long as Slack asks and sends
the same message again, so nothing is lost to a rate limit. While it waits,
what matters most goes first: updates of cards already decided (a newer update
of a card replaces an older one still waiting), then private notes, then new
cards. Notes go through the command's or click's reply URL, which a channel's
rate limit does not hold back.

Callers get a future for each message: the ``ts`` of a posted card, whether an
update or a note arrived, or the error Slack gave. Nothing here raises.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse
from slack_sdk.webhook.async_client import AsyncWebhookClient

from .. import metrics
from .failures import error_code, http_code, status_of

log = logging.getLogger(__name__)

#: a 429 without a usable Retry-After waits this long
DEFAULT_PAUSE = 1.0
#: a 429 asking for longer is waited out this long at most, then the message is tried again
MAX_PAUSE = 60.0
#: the key of a Home tab's update in its queue
VIEW = "view"
#: errors other than rate limits that are worth one more try
TRANSIENT = frozenset({"internal_error", "fatal_error", "service_unavailable", "request_timeout"})


@dataclass(frozen=True, slots=True)
class Sent:
    """How a message ended: ``ok``, the ``ts`` of a posted message, or Slack's error code."""

    ok: bool
    ts: str | None = None
    error: str | None = None
    #: an update that a newer version of the same message replaced before it was sent
    superseded: bool = False


class MessageKind(enum.IntEnum):
    """Which messages go first when a channel has to wait (lower first)."""

    UPDATE = 0
    NOTE = 1
    POST = 2


@dataclass(eq=False)
class _Message:
    kind: MessageKind
    args: dict[str, Any]
    done: asyncio.Future[Sent]
    #: futures of updates this one replaced: they end as it ends
    replaced: list[asyncio.Future[Sent]] = field(default_factory=list)
    #: what an update replaces: a message's ``ts``, or ``view`` for a Home tab
    key: str = ""

    @property
    def kind_name(self) -> str:
        """``post``, ``update``, ``note`` or ``view``: the kind, for the metrics."""
        if self.kind is MessageKind.UPDATE:
            return "view" if self.key == VIEW else "update"
        return "note" if self.kind is MessageKind.NOTE else "post"

    @property
    def method(self) -> str:
        if self.kind is MessageKind.UPDATE:
            return "views.publish" if self.key == VIEW else "chat.update"
        return "chat.postMessage" if self.kind is MessageKind.POST else "response_url"


class _Channel:
    def __init__(self) -> None:
        self.updates: OrderedDict[str, _Message] = OrderedDict()
        self.notes: deque[_Message] = deque()
        self.posts: deque[_Message] = deque()
        #: chat.* calls wait until then (time.monotonic()); notes do not
        self.paused_until = 0.0
        self.wake = asyncio.Event()
        self.worker: asyncio.Task[None] | None = None

    def __bool__(self) -> bool:
        return bool(self.updates or self.notes or self.posts)

    def next(self, now: float) -> _Message | None:
        """The message to send now, if any may go."""
        if now >= self.paused_until:
            if self.updates:
                return self.updates.popitem(last=False)[1]
            if self.notes:
                return self.notes.popleft()
            if self.posts:
                return self.posts.popleft()
            return None
        return self.notes.popleft() if self.notes else None


class Outbox:
    def __init__(self, client: AsyncWebClient, session: aiohttp.ClientSession) -> None:
        self._client = client
        self._session = session
        self._channels: dict[str, _Channel] = {}
        self._closing = False

    # -- what callers send --------------------------------------------------------------

    def post(
        self, channel: str, text: str, blocks: list[dict[str, Any]], *, thread_ts: str | None = None
    ) -> asyncio.Future[Sent]:
        """A new message in ``channel`` (``chat.postMessage``); with ``thread_ts``, a reply in that message's
        thread."""
        args: dict[str, Any] = {"channel": channel, "text": text, "blocks": blocks}
        if thread_ts is not None:
            args["thread_ts"] = thread_ts
        return self._queue(channel, _Message(MessageKind.POST, args, _future()))

    def update(self, channel: str, ts: str, text: str, blocks: list[dict[str, Any]]) -> asyncio.Future[Sent]:
        """A new version of message ``ts`` (``chat.update``); replaces a version still waiting."""
        args = {"channel": channel, "ts": ts, "text": text, "blocks": blocks}
        return self._replacing(channel, _Message(MessageKind.UPDATE, args, _future(), key=ts))

    def publish(self, user: str, view: dict[str, Any]) -> asyncio.Future[Sent]:
        """A new version of ``user``'s Home tab (``views.publish``); replaces a version still waiting."""
        message = _Message(MessageKind.UPDATE, {"user_id": user, "view": view}, _future(), key=VIEW)
        return self._replacing(f"home:{user}", message)

    def _replacing(self, queue_name: str, message: _Message) -> asyncio.Future[Sent]:
        queue = self._channels.get(queue_name)
        older = queue.updates.pop(message.key, None) if queue is not None else None
        if older is not None:
            message.replaced = [*older.replaced, older.done]
        return self._queue(queue_name, message)

    def respond(self, channel: str, response_url: str, body: dict[str, Any]) -> asyncio.Future[Sent]:
        """A message through a command's or click's reply URL (a private note, or a card where the bot
        is not a member); in ``channel``'s queue, but never held back by its rate limit."""
        return self._queue(channel, _Message(MessageKind.NOTE, {"url": response_url, "body": body}, _future()))

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
        """Messages not sent yet, in every channel."""
        return sum(len(q.updates) + len(q.notes) + len(q.posts) for q in self._channels.values())

    def waiting_by_kind(self) -> dict[str, int]:
        """Messages not sent yet, by kind: ``post``, ``update`` (of a message), ``note``, ``view`` (a Home tab)."""
        found = {"post": 0, "update": 0, "note": 0, "view": 0}
        for queue in self._channels.values():
            for message in (*queue.updates.values(), *queue.notes, *queue.posts):
                found[message.kind_name] += 1
        return found

    # -- the queues ------------------------------------------------------------------------

    def _queue(self, channel: str, message: _Message) -> asyncio.Future[Sent]:
        if self._closing:
            message.done.set_result(Sent(False, error="shutting_down"))
            return message.done
        queue = self._channels.setdefault(channel, _Channel())
        if message.kind is MessageKind.UPDATE:
            queue.updates[message.key] = message
        elif message.kind is MessageKind.NOTE:
            queue.notes.append(message)
        else:
            queue.posts.append(message)
        queue.wake.set()
        if queue.worker is None:
            queue.worker = asyncio.get_running_loop().create_task(self._work(channel, queue), name=f"outbox-{channel}")
        return message.done

    async def _work(self, channel: str, queue: _Channel) -> None:
        try:
            while queue:
                message = queue.next(time.monotonic())
                if message is None:  # only chat.* messages wait, and the channel is paused
                    queue.wake.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(queue.wake.wait(), max(0.0, queue.paused_until - time.monotonic()))
                    continue
                sent = await self._send(message, queue)
                if sent is None:  # rate limited: it waits its turn again, at the front of its kind
                    self._requeue(queue, message)
                    continue
                for done in message.replaced:
                    if not done.done():
                        done.set_result(replace(sent, superseded=True))
                if not message.done.done():
                    message.done.set_result(sent)
        finally:
            queue.worker = None
            if not queue:
                self._channels.pop(channel, None)

    def _requeue(self, queue: _Channel, message: _Message) -> None:
        if message.kind is MessageKind.UPDATE:
            key = message.key
            newer = queue.updates.pop(key, None)
            if newer is not None:  # a newer version arrived meanwhile: it goes instead
                newer.replaced = [*message.replaced, message.done, *newer.replaced]
                message = newer
            queue.updates[key] = message
            queue.updates.move_to_end(key, last=False)
        elif message.kind is MessageKind.NOTE:
            queue.notes.appendleft(message)
        else:
            queue.posts.appendleft(message)

    async def _send(self, message: _Message, queue: _Channel) -> Sent | None:
        """Send one message; None when Slack asked to wait (the channel is paused)."""
        if message.kind is MessageKind.NOTE:
            return await self._respond(message.args["url"], message.args["body"], queue)
        methods: dict[str, Callable[..., Awaitable[AsyncSlackResponse]]] = {
            "views.publish": self._client.views_publish,
            "chat.update": self._client.chat_update,
            "chat.postMessage": self._client.chat_postMessage,
        }
        method = methods[message.method]
        for attempt in (1, 2):
            try:
                response = await method(**message.args)
            except Exception as error:  # Slack's error, a proxy's page, or no answer (after the client's retry)
                if isinstance(error, SlackApiError) and status_of(error) == 429:
                    metrics.SLACK_RATE_LIMITED.labels(message.kind_name).inc()
                    pause = _pause((getattr(error.response, "headers", None) or {}).get("Retry-After"))
                    queue.paused_until = time.monotonic() + pause
                    log.info("Slack asked the bot to slow down", extra={"method": message.method, "pause": pause})
                    return None
                code = error_code(error)
                metrics.SLACK_ERRORS.labels(message.method, code).inc()
                no_answer = not isinstance(error, SlackApiError) and code != "invalid_response"
                if attempt == 1 and (code in TRANSIENT or no_answer):  # passing trouble: one more try
                    continue
                log.warning("Slack did not take a message", extra={"method": message.method, "error": code})
                return Sent(False, error=code)
            ts = response.get("ts")
            return Sent(True, ts=ts if isinstance(ts, str) else None)
        raise AssertionError("unreachable")

    async def _respond(self, url: str, body: dict[str, Any], queue: _Channel) -> Sent | None:
        try:
            response = await AsyncWebhookClient(url, session=self._session).send_dict(body)
        except Exception as error:  # no answer, or one that could not be read
            code = error_code(error)
            log.warning("posting to a reply URL failed", extra={"method": "response_url", "error": code})
            metrics.SLACK_ERRORS.labels("response_url", code).inc()
            return Sent(False, error=code)
        if response.status_code == 429:
            metrics.SLACK_RATE_LIMITED.labels("note").inc()
            await asyncio.sleep(_pause(response.headers.get("Retry-After") if response.headers else None))
            return None
        if response.status_code != 200:
            code = http_code(response.status_code)
            metrics.SLACK_ERRORS.labels("response_url", code).inc()
            log.warning("posting to a reply URL failed", extra={"method": "response_url", "error": code})
            return Sent(False, error=code)
        return Sent(True)


def _future() -> asyncio.Future[Sent]:
    return asyncio.get_running_loop().create_future()


def _pause(retry_after: Any) -> float:
    try:
        seconds = float(retry_after)
    except (TypeError, ValueError):
        return DEFAULT_PAUSE
    return min(max(seconds, 0.0), MAX_PAUSE) or DEFAULT_PAUSE
