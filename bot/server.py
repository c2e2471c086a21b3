"""Serving the bot: HTTP mode (``POST /slack/events``, the probes and ``GET /metrics``) or Socket Mode (the
probes and the metrics only).

In HTTP mode every request passes three gates before Bolt sees it: the signature
(and a memory of signatures already accepted, so a replay does nothing), the
shape of the body (anything Slack would not send gets a 400), and the
listener's own limits (a cap on open connections, and a time limit for reading
a request's headers and body, so slow or idle clients cannot hold the bot).
``/unblock`` is answered here, past the first two gates (``bot.slack.commands``); Bolt gets the rest, parsed,
Slack's own checks of the Request URL (``ssl_check``, ``url_verification``) among them, which Bolt's built-in
middlewares answer.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.web.async_client import AsyncWebClient

from . import metrics
from .app import Bot, StartupError, start_bot
from .config import Settings
from .logs import Redactor
from .signature import ReplayGuard, Verdict
from .slack.connecting import connect
from .slack.inbound import Refused, is_command, read
from .slack.socket_mode import CheckedSocketModeHandler

log = logging.getLogger(__name__)

#: what a client that opens one connection too many reads before it is closed
_BUSY = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


def web_app(bot: Bot) -> web.Application:
    """HTTP mode: Slack's requests and the health probe."""
    secret = bot.settings.slack_signing_secret
    guard = ReplayGuard(secret.reveal() if secret else "")
    read_timeout = bot.settings.http_read_timeout

    async def events(request: web.Request) -> web.Response:
        if request.content.is_eof():  # the whole body came with the headers: nothing to wait for, so no timer
            body = await request.read()
        else:
            try:
                # a timer, not a task as wait_for makes: a body that has arrived is read without leaving this task
                async with asyncio.timeout(read_timeout):
                    body = await request.read()
            except TimeoutError:
                log.info("a client was too slow sending its request; closed")
                return web.json_response(
                    {"error": "request body timed out"}, status=408, headers={"Connection": "close"}
                )
        headers = request.headers
        timestamp = headers.get("X-Slack-Request-Timestamp", "")
        signature = headers.get("X-Slack-Signature", "")
        retry_num, retry_reason = headers.get("X-Slack-Retry-Num"), headers.get("X-Slack-Retry-Reason")
        verdict = guard.check(body, timestamp, signature, retry=retry_num is not None)
        if verdict is Verdict.REFUSE:
            log.info("refused a request with a bad, stale or replayed signature")
            return web.json_response({"error": "invalid request"}, status=401)
        if verdict is Verdict.REPEAT:
            log.info("Slack retried a request already accepted; not handled again")
            return web.Response(status=200)
        parsed = read(request.content_type, body)
        if isinstance(parsed, Refused):
            log.info("refused a signed request that Slack would not send", extra={"problem": parsed.problem})
            return web.json_response({"error": "malformed request"}, status=400)
        if is_command(parsed):  # ``/unblock``: answered beside Bolt (``bot.slack.commands``)
            return command_answer(bot.commands.answer(parsed))
        # the signature was checked above, the only time (Bolt's own check is off), and the body is parsed: Bolt
        # takes a parsed body as Socket Mode brings one, and reads the mode for nothing else but its own check
        # of the signature and the raw text (neither is used here); a request in HTTP mode, which did not come
        # through here, is refused (``listeners.Admit``). Of the headers, Bolt is given what its own Socket Mode
        # adapter gives it, Slack's retry count and reason: no other header is Slack's word about the request
        # (and one, ``X-Slack-Bolt-Lazy-Only``, would have Bolt skip the listeners' acknowledgement)
        retries: dict[str, str | Sequence[str]] = {"x-slack-retry-num": retry_num} if retry_num is not None else {}
        if retry_reason is not None:
            retries["x-slack-retry-reason"] = retry_reason
        bolt_request = AsyncBoltRequest(body=parsed, headers=retries, mode="socket_mode")
        return await to_aiohttp_response(await bot.app.async_dispatch(bolt_request))

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "mode": "http"})

    async def readyz(_: web.Request) -> web.Response:
        return ready(await bot.readiness())

    app = web.Application()
    app.router.add_post("/slack/events", events)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_of(bot))
    return app


def command_answer(text: str | None) -> web.Response:
    """A slash command's acknowledgement: its text (which Slack shows only to the person who typed the command),
    or nothing; as Bolt sends a listener's ``ack(text=...)``."""
    return web.Response(text=text, content_type="text/plain") if text else web.Response(body=b"")


def metrics_of(bot: Bot) -> Callable[[web.Request], Awaitable[web.Response]]:
    """``GET /metrics``: the Prometheus text format."""

    async def scrape(_: web.Request) -> web.Response:
        return web.Response(body=await bot.metrics(), headers={"Content-Type": metrics.CONTENT_TYPE})

    return scrape


def ready(checks: dict[str, str]) -> web.Response:
    """200 when every check says ``ok``; else 503 naming what is not ready."""
    fine = all(result == "ok" for result in checks.values())
    return web.json_response(
        {"status": "ready" if fine else "not ready", "checks": checks}, status=200 if fine else 503
    )


def socket_health_app(bot: Bot, handler: AsyncSocketModeHandler) -> web.Application:
    """Socket Mode: the probes only. ``/healthz`` says whether the websocket to Slack is up; ``/readyz``
    says that, and whether the database and 3CX are."""

    async def healthz(_: web.Request) -> web.Response:
        connected = await handler.client.is_connected()
        return web.json_response(
            {"status": "ok" if connected else "disconnected", "mode": "socket", "connected": connected},
            status=200 if connected else 503,
        )

    async def readyz(_: web.Request) -> web.Response:
        connected = await handler.client.is_connected()
        checks = {"slack": "ok" if connected else "the websocket to Slack is down", **await bot.readiness()}
        return ready(checks)

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_of(bot))
    return app


class _Refused(asyncio.Protocol):
    """A connection over the cap: told 503 and closed at once."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.WriteTransport)
        transport.write(_BUSY)
        transport.close()


#: where a connection's bytes came while it was answering a request (not waiting for the next one)
_ANSWERING = object()


class _Connection(RequestHandler):
    """aiohttp's handler of one connection, which also knows whether the connection is idle: it has answered
    a request, waits for the next one, and no byte of that one has come yet.

    aiohttp waits for a connection's next request on a future of its own (``_waiter``, a new one each
    time); bytes that came while the current future was waiting, and did not make a whole request, are a
    request being sent."""

    __slots__ = ("_heard_while", "heard_at")

    def __init__(self, manager: web.Server, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        #: aiohttp's future for the next request when bytes last came (``_ANSWERING``: none was waiting);
        #: None until the first byte
        self._heard_while: object = None
        #: when bytes last came (or the connection opened), on the loop's clock
        self.heard_at = self._loop.time()

    def data_received(self, data: bytes) -> None:
        RequestHandler.data_received(self, data)
        if data:
            self._heard_while = self._waiter if self._waiter is not None else _ANSWERING
            self.heard_at = self._loop.time()

    @property
    def idle(self) -> bool:
        waiting = self._waiter
        return (
            self.transport is not None
            and self._heard_while is not None  # it has sent a request: a kept-alive connection
            and waiting is not None
            and not waiting.done()  # aiohttp waits for its next request…
            and self._heard_while is not waiting  # …and nothing of that one has come
        )


class Listener:
    """An aiohttp application on ``host:port`` with at most ``max_connections`` open connections;
    a connection must send a request's headers within ``read_timeout`` seconds of opening (or of its
    last answer), and the body within ``read_timeout`` more. When all are taken, a new connection closes
    the kept-alive connection idle the longest (one that waits for its next request, of which nothing
    has come); only when none is idle is it answered 503."""

    def __init__(self, app: web.Application, *, max_connections: int, read_timeout: float) -> None:
        # aiohttp arms its keep-alive timer when a connection opens and after each answer, and does not
        # re-arm it on partial data: it bounds idle connections and half-sent headers alike
        self._runner = web.AppRunner(app, access_log=None, keepalive_timeout=read_timeout)
        self._max = max_connections
        self._server: asyncio.Server | None = None
        self._refused = 0

    async def start(self, host: str, port: int) -> list[tuple[str, int]]:
        """Listen; the (host, port) pairs listened on."""
        await self._runner.setup()
        handlers = self._runner.server
        assert handlers is not None

        loop = asyncio.get_running_loop()

        def accept() -> asyncio.BaseProtocol:
            open_now = [c for c in handlers.connections if c.transport is not None]
            if len(open_now) >= self._max:
                idle = [c for c in open_now if isinstance(c, _Connection) and c.idle]
                if not idle:
                    self._refused += 1
                    log.warning("refused a connection: too many open",
                                extra={"open": self._max, "refused": self._refused})  # fmt: skip
                    return _Refused()
                # as aiohttp closes a connection idle past its keep-alive time: no request is cut short
                min(idle, key=lambda c: c.heard_at).force_close()
                log.info("closed an idle connection to make room for a new one", extra={"open": self._max})
            return _Connection(handlers, loop=loop, **handlers._kwargs)

        try:
            self._server = await loop.create_server(accept, host, port, reuse_address=True)
        except OSError as error:
            await self._runner.cleanup()
            why = os.strerror(error.errno) if error.errno else type(error).__name__
            raise StartupError(
                f"cannot listen on {host}:{port} ({why}): another program may be using that port; set HOST and PORT "
                "to an address the bot may take"
            ) from None
        addresses = [sock.getsockname()[:2] for sock in self._server.sockets]
        log.info("unblock-bot is listening", extra={"addresses": [list(a) for a in addresses]})
        return addresses

    async def close(self) -> None:
        """Stop accepting, then let the requests in progress finish."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        await self._runner.cleanup()


def listener_for(app: web.Application, settings: Settings) -> Listener:
    return Listener(app, max_connections=settings.http_max_connections, read_timeout=settings.http_read_timeout)


async def serve(settings: Settings, redactor: Redactor, stop: asyncio.Event) -> None:
    """Run until ``stop`` is set, then stop taking requests and drain the work in flight. ``stop`` set while the
    bot starts (a database not up yet, Slack slow to answer) ends the start."""
    bot = await _started(start_bot(settings, redactor=redactor), stop)
    if bot is None:
        log.info("stopped before the bot had started")
        return
    try:
        if settings.slack_app_token is not None:
            await _serve_socket_mode(bot, settings.slack_app_token.reveal(), stop)
        else:
            listener = listener_for(web_app(bot), settings)
            await listener.start(settings.host, settings.port)
            await stop.wait()
            await listener.close()
        log.info("stopping: finishing work in flight")
    finally:
        await bot.close()


async def _started(starting: Coroutine[Any, Any, Bot], stop: asyncio.Event) -> Bot | None:
    """The bot ``starting`` builds, or None when ``stop`` is set first (the start is then cancelled)."""
    start, stopped = asyncio.ensure_future(starting), asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait((start, stopped), return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
        start.cancel()  # nothing, when it has finished
    await asyncio.wait((start,))
    return None if start.cancelled() else start.result()


async def _serve_socket_mode(bot: Bot, app_token: str, stop: asyncio.Event) -> None:
    """Socket Mode: the probes first, then the connection to Slack, tried until Slack gives one (or ``stop``)."""
    settings = bot.settings
    # the client pings Slack every ping_interval seconds and opens a new connection when the current one is
    # closed or its pings go unanswered; each request is checked for its shape, as over HTTP, before Bolt sees it
    handler = CheckedSocketModeHandler(
        bot.app,
        app_token,
        answer_command=bot.commands.answer,
        # for apps.connections.open alone, without retries of its own: a failed try is the connecting's to tell
        web_client=AsyncWebClient(base_url=settings.slack_api_url, session=bot.http, retry_handlers=[]),
        ping_interval=settings.socket_ping_interval,
    )
    connecting: asyncio.Task[None] | None = None
    try:
        listener = listener_for(socket_health_app(bot, handler), settings)
        await listener.start(settings.host, settings.port)
        connecting = asyncio.create_task(connect(handler))
        await stop.wait()
    finally:
        if connecting is not None:
            connecting.cancel()  # nothing, once connected
            await asyncio.wait((connecting,))
        await handler.close_async()  # type: ignore[no-untyped-call]
    await listener.close()
