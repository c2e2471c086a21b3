"""Serving the bot: HTTP mode (``POST /slack/events``, ``GET /healthz``) or Socket Mode."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_sdk.signature import SignatureVerifier

from .app import Bot, start_bot
from .config import Settings
from .logs import Redactor

log = logging.getLogger(__name__)


class ReplayGuard:
    """Refuses a signed request that was already accepted once (a replay within Slack's 5-minute
    signature window). Slack's own retries (``X-Slack-Retry-Num``) are let through to the app,
    which recognises a command it already handled by its trigger_id, and a click by the
    request's state."""

    WINDOW = 5 * 60.0

    def __init__(self, signing_secret: str, *, limit: int = 200_000) -> None:
        self._verifier = SignatureVerifier(signing_secret)
        #: signature -> when it may be forgotten, oldest first
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._limit = limit

    def accept(self, body: bytes, timestamp: str, signature: str, *, retry: bool = False) -> bool:
        if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
            return False
        try:
            if not self._verifier.is_valid(body, timestamp, signature):
                return False
        except UnicodeDecodeError:
            return False
        if retry:
            return True
        now = time.monotonic()
        while self._seen and next(iter(self._seen.values())) < now:
            self._seen.popitem(last=False)
        if signature in self._seen:
            return False
        if len(self._seen) >= self._limit:  # a flood: forget the oldest rather than refuse everyone
            self._seen.popitem(last=False)
        self._seen[signature] = now + self.WINDOW
        return True


def web_app(bot: Bot) -> web.Application:
    """HTTP mode: Slack's requests and the health probe."""
    secret = bot.settings.slack_signing_secret
    guard = ReplayGuard(secret.reveal() if secret else "")

    async def events(request: web.Request) -> web.Response:
        body = await request.read()
        timestamp = request.headers.get("X-Slack-Request-Timestamp", "")
        signature = request.headers.get("X-Slack-Signature", "")
        if not guard.accept(body, timestamp, signature, retry="X-Slack-Retry-Num" in request.headers):
            log.info("refused a request with a bad, stale or replayed signature")
            return web.json_response({"error": "invalid request"}, status=401)
        response = await bot.app.async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(response)

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "mode": "http"})

    app = web.Application()
    app.router.add_post("/slack/events", events)
    app.router.add_get("/healthz", healthz)
    return app


def socket_health_app(handler: AsyncSocketModeHandler) -> web.Application:
    """Socket Mode: only the health probe, which says whether the websocket to Slack is up."""

    async def healthz(_: web.Request) -> web.Response:
        connected = await handler.client.is_connected()
        return web.json_response(
            {"status": "ok" if connected else "disconnected", "mode": "socket", "connected": connected},
            status=200 if connected else 503,
        )

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    return app


async def _listen(app: web.Application, settings: Settings) -> web.AppRunner:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, settings.host, settings.port).start()
    log.info("unblock-bot is listening", extra={"addresses": [list(a) for a in runner.addresses]})
    return runner


async def serve(settings: Settings, redactor: Redactor, stop: asyncio.Event) -> None:
    """Run until ``stop`` is set, then stop taking requests and drain the work in flight."""
    bot = await start_bot(settings, redactor=redactor)
    try:
        if settings.slack_app_token is not None:
            # the client pings Slack every ping_interval seconds and opens a new connection when
            # the current one is closed or its pings go unanswered
            handler = AsyncSocketModeHandler(
                bot.app,
                settings.slack_app_token.reveal(),
                web_client=bot.client,
                ping_interval=settings.socket_ping_interval,
            )
            await handler.connect_async()  # type: ignore[no-untyped-call]
            runner = await _listen(socket_health_app(handler), settings)
            log.info("unblock-bot is running in Socket Mode")
            await stop.wait()
            await handler.close_async()  # type: ignore[no-untyped-call]
        else:
            runner = await _listen(web_app(bot), settings)
            await stop.wait()
        await runner.cleanup()
        log.info("stopping: finishing work in flight")
    finally:
        await bot.close()
