"""The test fakes of Slack and 3CX, each in a process of its own, with a small control API.

    python -m bench.fakes slack|threecx --ready FILE

starts the fake on a free loopback port and a control server on another, then
writes ``{"url": ..., "control": ..., ...}`` to FILE. Control routes (JSON):

- ``GET  /stats``          counters, including TCP connections accepted by the fake
- ``POST /reset``          forget recorded calls and zero the counters
- ``GET  /messages?since=N`` (slack) chat.postMessage / chat.update calls from index N,
  each with the time it arrived (``time.monotonic()``, the same clock in every process)
- ``POST /entries`` (threecx) ``{"first": 1, "count": 100}`` adds blocklist entries (``"added_by"``: their
  ``AddedBy``, AutoBlacklist unless given); ``POST /entries/clear`` removes every entry
- ``GET  /requests?since=N`` (threecx) the requests from index N with the time each arrived (``received``)
  and was answered (``t``), and its size: ``request_bytes`` (request line, headers and body as received)
  and ``response_bytes`` (the body)
- ``POST /delay``   (threecx) ``{"seconds": 2}`` sets how long the XAPI takes to answer
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import signal
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
from aiohttp import web

from tests.fakes.slack import FakeSlack
from tests.fakes.threecx import FakeThreeCX, RecordedRequest

T = TypeVar("T")
Handler = Callable[[web.Request], Awaitable[web.Response]]
#: what starting a fake gives: what the benchmark needs to know, control routes, how to stop it
Started = tuple[dict[str, str], dict[str, Handler], Callable[[], Awaitable[None]]]

#: the address of entry ``n`` is ``198.18.<n // 256>.<n % 256>`` (RFC 2544's benchmarking range), so a card
#: names its entry by its address; ``entry_ip`` and ``_ENTRY_IP`` are both built from this prefix
ENTRY_PREFIX = "198.18."
_ENTRY_IP = re.compile(r"(?<![\d.])" + re.escape(ENTRY_PREFIX) + r"(\d{1,3})\.(\d{1,3})(?![\d/])")
MAX_ENTRIES = 256 * 256


def entry_ip(entry_id: int) -> str:
    if not 0 < entry_id < MAX_ENTRIES:
        raise ValueError(f"entry ids go up to {MAX_ENTRIES - 1}")
    return f"{ENTRY_PREFIX}{entry_id // 256}.{entry_id % 256}"


def entry_of(text: str) -> int | None:
    """The entry whose address ``text`` names first (see ``entry_ip``), or None."""
    match = _ENTRY_IP.search(text)
    return int(match[1]) * 256 + int(match[2]) if match else None


def _first_button_value(blocks: Any) -> str | None:
    """The value of a card's first button: the request id (see ``tests.harness.card_request_id``)."""
    if not isinstance(blocks, list):
        return None
    actions = [b for b in blocks if isinstance(b, dict) and b.get("type") == "actions"]
    for element in actions[0].get("elements", []) if actions else []:
        if isinstance(element, dict) and isinstance(element.get("value"), str):
            return str(element["value"])
    return None


class TimedList(list[T]):
    """A list that notes when each item was appended."""

    def __init__(self) -> None:
        super().__init__()
        self.times: list[float] = []

    def append(self, item: T) -> None:
        self.times.append(time.monotonic())
        super().append(item)

    def clear(self) -> None:
        self.times.clear()
        super().clear()


class ConnectionCounter:
    """Counts the TCP connections accepted by servers created after :meth:`install`."""

    def __init__(self) -> None:
        self.accepted = 0

    def install(self, loop: asyncio.AbstractEventLoop) -> Callable[[], None]:
        original = loop.create_server

        async def create_server(factory: Callable[[], asyncio.BaseProtocol], *args: Any, **kwargs: Any) -> Any:
            def counted() -> asyncio.BaseProtocol:
                self.accepted += 1
                return factory()

            return await original(counted, *args, **kwargs)

        setattr(loop, "create_server", create_server)  # noqa: B010
        return lambda: setattr(loop, "create_server", original)


def _json(data: Any) -> web.Response:
    return web.json_response(data)


def _message_record(index: int, at: float, method: str, args: dict[str, Any]) -> dict[str, Any]:
    text = str(args.get("text") or "")
    return {
        "i": index,
        "t": at,
        "method": method,
        "channel": args.get("channel"),
        "ts": args.get("ts"),
        "text": text[:200],
        "entry": entry_of(text) or entry_of(json.dumps(args.get("blocks") or [])),
        "request": _first_button_value(args.get("blocks")),
    }


async def _start_slack(counter: ConnectionCounter) -> Started:
    fake = FakeSlack()
    fake.calls = TimedList()
    restore = counter.install(asyncio.get_running_loop())
    await fake.start()
    restore()

    async def stats(_: web.Request) -> web.Response:
        methods: dict[str, int] = {}
        for call in fake.calls:
            methods[call.method] = methods.get(call.method, 0) + 1
        return _json({
            "connections": counter.accepted,
            "calls": methods,
            "next": len(fake.calls),
            "response_posts": len(fake.response_posts),
        })  # fmt: skip

    async def reset(_: web.Request) -> web.Response:
        fake.calls.clear()
        fake.response_posts.clear()
        counter.accepted = 0
        return _json({"ok": True})

    async def messages(request: web.Request) -> web.Response:
        since = int(request.query.get("since", "0"))
        calls, times = fake.calls, getattr(fake.calls, "times", [])
        if len(times) != len(calls):
            raise web.HTTPInternalServerError(text="FakeSlack no longer appends to .calls; times are unknown")
        wanted = ("chat.postMessage", "chat.update")
        records = [
            _message_record(i, times[i], calls[i].method, calls[i].args)
            for i in range(since, len(calls))
            if calls[i].method in wanted
        ]
        return _json({"next": len(calls), "messages": records})

    info = {"url": fake.api_url.removesuffix("/api/"), "api_url": fake.api_url,
            "bot_token": fake.bot_token, "response_url": fake.new_response_url()}  # fmt: skip
    routes: dict[str, Handler] = {"GET /stats": stats, "POST /reset": reset, "GET /messages": messages}
    return info, routes, fake.close


class MeteredThreeCX(FakeThreeCX):
    """``FakeThreeCX`` that also notes, for each request it answers, when and how many bytes went each way."""

    def __init__(self) -> None:
        super().__init__()
        self.metered: list[dict[str, Any]] = []
        #: names the process a request came from (``by`` in the record), while that process is alive to ask
        self.owner_of: Callable[[web.Request], str | None] | None = None

    async def _record(self, request: web.Request) -> RecordedRequest:
        received = time.monotonic()
        request[_BY] = self.owner_of(request) if self.owner_of is not None else None
        recorded = await super()._record(request)
        request[_RECORDED] = recorded
        request[_RECEIVED] = received
        return recorded

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        response = await super()._handle(request)
        recorded: RecordedRequest | None = request.get(_RECORDED)
        if recorded is not None:
            body = response.body if isinstance(response, web.Response) else None
            size = len(body) if isinstance(body, bytes) else 0
            self.metered.append(_metered(recorded, request[_RECEIVED], response.status, size) | {"by": request[_BY]})
        return response


_RECORDED = "bench.recorded"
_RECEIVED = "bench.received"
_BY = "bench.by"


def _metered(recorded: RecordedRequest, received: float, status: int, response_bytes: int) -> dict[str, Any]:
    target = recorded.path + (f"?{recorded.raw_query}" if recorded.raw_query else "")
    head = f"{recorded.method} {target} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in recorded.headers.items())
    return {
        "t": time.monotonic(),
        "received": received,
        "method": recorded.method,
        "path": recorded.path,
        "query": {k: v for k, v in recorded.query.items() if k.startswith("$")},
        "status": status,
        "request_bytes": len(head.encode()) + 2 + len(recorded.body),
        "response_bytes": response_bytes,
    }


async def _start_threecx(counter: ConnectionCounter) -> Started:
    fake = MeteredThreeCX()
    restore = counter.install(asyncio.get_running_loop())
    await fake.start()
    restore()

    async def stats(_: web.Request) -> web.Response:
        deletes = [r.path for r in fake.calls("DELETE")]
        return _json({
            "connections": counter.accepted,
            "token_requests": fake.token_requests,
            "gets": len(fake.calls("GET")),
            "deletes": deletes,
            "requests": len(fake.requests),
        })  # fmt: skip

    async def reset(_: web.Request) -> web.Response:
        fake.requests.clear()
        fake.metered.clear()
        counter.accepted = 0
        return _json({"ok": True})

    async def entries(request: web.Request) -> web.Response:
        body = await request.json()
        first, count = int(body["first"]), int(body["count"])
        added_by = str(body.get("added_by") or "AutoBlacklist")
        for entry_id in range(first, first + count):
            fake.add_entry(entry_id, entry_ip(entry_id), added_by=added_by)
        return _json({"ok": True})

    async def clear_entries(_: web.Request) -> web.Response:
        fake.entries.clear()
        return _json({"ok": True})

    async def requests(request: web.Request) -> web.Response:
        since = int(request.query.get("since", "0"))
        return _json({"next": len(fake.metered), "requests": fake.metered[since:]})

    async def delay(request: web.Request) -> web.Response:
        fake.delay = float((await request.json())["seconds"])
        return _json({"ok": True})

    info = {"url": fake.base_url, "client_id": fake.client_id, "client_secret": fake.client_secret}
    routes: dict[str, Handler] = {
        "GET /stats": stats,
        "POST /reset": reset,
        "POST /entries": entries,
        "POST /entries/clear": clear_entries,
        "GET /requests": requests,
        "POST /delay": delay,
    }
    return info, routes, fake.close


async def _serve(kind: str, ready: Path) -> None:
    counter = ConnectionCounter()
    start = _start_slack if kind == "slack" else _start_threecx
    info, routes, close = await start(counter)
    control = web.Application()
    for route, handler in routes.items():
        method, path = route.split()
        control.router.add_route(method, path, handler)
    runner = web.AppRunner(control, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    tmp = ready.with_suffix(".tmp")
    tmp.write_text(json.dumps({**info, "control": f"http://127.0.0.1:{port}", "pid": str(os.getpid())}))
    tmp.rename(ready)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
        await close()


class Control:
    """The benchmark's side of a fake's control API."""

    def __init__(self, info: dict[str, str], http: aiohttp.ClientSession) -> None:
        self.info = info
        self._base = info["control"]
        self._http = http

    async def get(self, path: str, **params: str | int) -> Any:
        async with self._http.get(self._base + path, params={k: str(v) for k, v in params.items()}) as response:
            response.raise_for_status()
            return await response.json()

    async def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        async with self._http.post(self._base + path, json=body or {}) as response:
            response.raise_for_status()
            return await response.json()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.fakes", description="run one fake in this process")
    parser.add_argument("kind", choices=["slack", "threecx"])
    parser.add_argument("--ready", type=Path, required=True, help="file to write the URLs to once listening")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.kind, args.ready))


if __name__ == "__main__":
    main()
