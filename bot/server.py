"""Serving the bot: HTTP mode (``POST /slack/events``, the probes and ``GET /metrics``) or Socket Mode (the
probes and the metrics only).

Over HTTP, Slack's requests go to Bolt through its aiohttp adapter; Bolt checks each signature, and
``bot.slack.admission`` admits what may reach a listener. What Bolt could not read is refused before: a body sent
too slowly (408), not UTF-8 or with a timestamp that is not digits (401), JSON nested too deep or broken (400).
The listener's limits are aiohttp's public settings (see ``Listener``); limits per client are the reverse proxy's.
"""

from __future__ import annotations

import asyncio
import logging
import os
from urllib.parse import parse_qs

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_sdk.web.async_client import AsyncWebClient

from . import metrics
from .app import Bot, StartupError, start_bot
from .config import Settings
from .logs import Redactor
from .slack.admission import TOO_DEEP, too_deep
from .slack.connecting import connect, socket_mode

log = logging.getLogger(__name__)

#: what a client that opens one connection too many reads before it is closed
_BUSY = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


def web_app(bot: Bot, socket: AsyncSocketModeHandler | None = None) -> web.Application:
    """The probes and the metrics, and in HTTP mode (no ``socket``) Slack's requests. In Socket Mode, ``/healthz``
    says whether the websocket to Slack is up; ``/readyz`` says that, and whether the database and 3CX are."""

    async def events(request: web.Request) -> web.Response:
        # a timer, not a task as wait_for makes: a body that has arrived is read without leaving this task; and
        # when the whole body came with the headers, there is nothing to wait for, so no timer
        read_timeout = None if request.content.is_eof() else bot.settings.http_read_timeout
        try:
            async with asyncio.timeout(read_timeout):
                body = await request.read()
        except TimeoutError:
            log.info("a client was too slow sending its request; closed")
            headers = {"Connection": "close"}
            return web.json_response({"error": "request body timed out"}, status=408, headers=headers)
        timestamp = request.headers.get("X-Slack-Request-Timestamp", "")
        try:
            text = body.decode()
            stamped = timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12
        except UnicodeDecodeError:  # Slack signs text
            stamped = False
        if not stamped:
            log.info("refused a request with a bad, stale or replayed signature")
            return web.json_response({"error": "invalid request"}, status=401)
        payloads = parse_qs(text).get("payload", []) if "payload" in text else []  # a click's JSON, in a form
        try:
            if any(too_deep(t) for t in (text, *payloads)):
                raise ValueError(TOO_DEEP)
            bolt_request = await to_bolt_request(request)
        except (ValueError, TypeError, AttributeError, LookupError) as error:  # what Bolt could not read
            log.info("refused a request that Slack would not send", extra={"problem": str(error)[:200]})
            return web.json_response({"error": "malformed request"}, status=400)
        return await to_aiohttp_response(await bot.app.async_dispatch(bolt_request))

    async def healthz(_: web.Request) -> web.Response:
        if socket is None:
            return web.json_response({"status": "ok", "mode": "http"})
        connected = await socket.client.is_connected()
        return web.json_response(
            {"status": "ok" if connected else "disconnected", "mode": "socket", "connected": connected},
            status=200 if connected else 503,
        )

    async def readyz(_: web.Request) -> web.Response:
        checks = await bot.readiness()
        if socket is not None:
            slack = "ok" if await socket.client.is_connected() else "the websocket to Slack is down"
            checks = {"slack": slack, **checks}
        fine = bot.ready(checks)
        return web.json_response(
            {"status": "ready" if fine else "not ready", "checks": checks}, status=200 if fine else 503
        )

    async def scrape(_: web.Request) -> web.Response:
        return web.Response(body=await bot.metrics(), headers={"Content-Type": metrics.CONTENT_TYPE})

    app = web.Application()
    if socket is None:
        app.router.add_post("/slack/events", events)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", scrape)
    return app


class _Refused(asyncio.Protocol):
    """A connection over the cap: told 503 and closed at once."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.WriteTransport)
        transport.write(_BUSY)
        transport.close()


class Listener:
    """An aiohttp application on ``host:port`` with at most ``HTTP_MAX_CONNECTIONS`` open connections (one more
    is answered 503 and closed), each closed when it has sent nothing for ``HTTP_READ_TIMEOUT`` seconds after
    opening or after an answer: aiohttp arms its keep-alive timer then, and does not re-arm it on partial data."""

    def __init__(self, app: web.Application, settings: Settings) -> None:
        self._runner = web.AppRunner(app, access_log=None, keepalive_timeout=settings.http_read_timeout)
        self._max = settings.http_max_connections
        self._server: asyncio.Server | None = None

    async def start(self, host: str, port: int) -> list[tuple[str, int]]:
        """Listen; the (host, port) pairs listened on."""
        await self._runner.setup()
        handlers = self._runner.server
        assert handlers is not None

        def accept() -> asyncio.BaseProtocol:
            if len(handlers.connections) < self._max:
                return handlers()
            log.warning("refused a connection: too many open", extra={"open": self._max})
            return _Refused()

        try:
            self._server = await asyncio.get_running_loop().create_server(accept, host, port, reuse_address=True)
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


async def serve(settings: Settings, redactor: Redactor, stop: asyncio.Event) -> None:
    """Run until ``stop`` is set, then stop taking requests and drain the work in flight. ``stop`` set while the
    bot starts (a database not up yet, Slack slow to answer) ends the start. In Socket Mode the probes come first,
    then the connection to Slack, tried until Slack gives one (or ``stop``)."""
    starting, stopped = (
        asyncio.ensure_future(start_bot(settings, redactor=redactor)),
        asyncio.ensure_future(stop.wait()),
    )
    try:
        await asyncio.wait((starting, stopped), return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
        starting.cancel()  # nothing, when it has finished
    await asyncio.wait((starting,))
    if starting.cancelled():
        log.info("stopped before the bot had started")
        return
    bot = starting.result()
    socket, connecting = None, None
    if settings.slack_app_token is not None:
        # for apps.connections.open alone, without retries of its own: a failed try is the connecting's to tell
        web_client = AsyncWebClient(base_url=settings.slack_api_url, session=bot.http, retry_handlers=[])
        socket = socket_mode(bot.app, settings.slack_app_token.reveal(), web_client, settings.socket_ping_interval)
    listener = Listener(web_app(bot, socket), settings)
    try:
        await listener.start(settings.host, settings.port)
        if socket is not None:
            connecting = asyncio.create_task(connect(socket))
        await stop.wait()
        log.info("stopping: finishing work in flight")
    finally:
        if connecting is not None:
            connecting.cancel()  # nothing, once connected
            await asyncio.wait((connecting,))
        if socket is not None:
            await socket.close_async()  # type: ignore[no-untyped-call]
        await listener.close()
        await bot.close()
