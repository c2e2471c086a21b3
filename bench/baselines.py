"""What the bot is compared with, each served like ``bot/server.py`` serves the bot.

    python -m bench.baselines bolt|bolt-pbr|bare --port N --signing-secret S --slack-api-url URL --token T

- ``bolt``: a minimal slack-bolt ``AsyncApp`` with default settings (``process_before_response``
  is then False) whose ``/unblock`` handler only calls ``ack()``;
- ``bolt-pbr``: the same app with ``process_before_response=True``, as the bot sets it;
- ``bare``: a plain aiohttp handler that checks the Slack signature and answers 200.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient


def minimal_bolt(
    signing_secret: str, client: AsyncWebClient, *, process_before_response: bool | None
) -> web.Application:
    logger = logging.getLogger("slack_bolt")
    if process_before_response is None:  # Bolt's defaults, as a new app would have them
        bolt = AsyncApp(client=client, signing_secret=signing_secret, logger=logger)
    else:
        bolt = AsyncApp(
            client=client, signing_secret=signing_secret, logger=logger, process_before_response=process_before_response
        )

    @bolt.command("/unblock")
    async def unblock(ack: AsyncAck) -> None:
        await ack()

    async def events(request: web.Request) -> web.Response:
        response = await bolt.async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(response)

    app = web.Application()
    app.router.add_post("/slack/events", events)
    app.router.add_get("/healthz", _healthz)
    return app


def bare(signing_secret: str) -> web.Application:
    verifier = SignatureVerifier(signing_secret)

    async def events(request: web.Request) -> web.Response:
        body = await request.read()
        valid = verifier.is_valid(
            body, request.headers.get("X-Slack-Request-Timestamp"), request.headers.get("X-Slack-Signature")
        )
        return web.Response(status=200 if valid else 401)

    app = web.Application()
    app.router.add_post("/slack/events", events)
    app.router.add_get("/healthz", _healthz)
    return app


async def _healthz(_: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def _serve(app: web.Application, port: int) -> None:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


async def _main(args: argparse.Namespace) -> None:
    if args.kind == "bare":
        await _serve(bare(args.signing_secret), args.port)
        return
    client = AsyncWebClient(token=args.token, base_url=args.slack_api_url)
    pbr = True if args.kind == "bolt-pbr" else None
    await _serve(minimal_bolt(args.signing_secret, client, process_before_response=pbr), args.port)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.baselines")
    parser.add_argument("kind", choices=["bolt", "bolt-pbr", "bare"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--signing-secret", required=True)
    parser.add_argument("--slack-api-url", default="")
    parser.add_argument("--token", default="")
    logging.basicConfig(level=logging.WARNING)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_main(parser.parse_args()))


if __name__ == "__main__":
    main()
