"""Many fake 3CX PBXes in one process, each on a loopback port of its own, with one control API.

    python -m bench.fleet --count N [--big ENTRIES] --ready FILE

starts N ``MeteredThreeCX`` (PBX 0 to N-1) and, with ``--big``, one more (PBX N) whose blocklist holds ENTRIES
entries (``bench.biglist``), then writes ``{"urls": [...], "client_id": ..., "client_secret": ..., "control": ...}``
to FILE. Control routes (JSON), each PBX by its index:

- ``GET  /requests?pbx=I&since=N`` the requests PBX I answered from index N, as ``bench.fakes``' ``/requests``
  has them, each also with ``by``: the name of the process that sent it (see ``/owners``), or null
- ``GET  /stats``   for each PBX its token requests, requests received and answered; the big list's full scans
- ``POST /entries`` ``{"pbx": I, "first": 1, "count": 100}`` adds blocklist entries (``"added_by"`` as in
  ``bench.fakes``); entry n has the address ``entry_ip(n)`` (above those, ``198.51.<n / 256 % 256>.<n % 256>``)
- ``POST /delay``   ``{"pbxes": [I, ...], "seconds": 20}`` sets how long those PBXes take to answer the XAPI
- ``POST /owners``  ``{"a": PID, "b": PID}``: from now on each request names the process (of these) it came from,
  found as ``ss -p`` finds it: the client end of its TCP connection, in ``/proc/net/tcp``, is a socket one of these
  processes holds open
- ``GET  /whole``   the size of the big list as one GET without options would send it, in bytes
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from aiohttp import web

from .biglist import BigList
from .fakes import MAX_ENTRIES, MeteredThreeCX, entry_ip

Handler = Any


def entry_address(entry_id: int) -> str:
    return entry_ip(entry_id) if entry_id < MAX_ENTRIES else f"198.51.{entry_id // 256 % 256}.{entry_id % 256}"


def _port(hex_address: str) -> int:
    return int(hex_address.rsplit(":", 1)[1], 16)


def socket_of(local_port: int, remote_port: int) -> int | None:
    """The inode of the loopback TCP socket whose ends are these two ports (``local_port`` its own), or None."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if _port(fields[1]) == local_port and _port(fields[2]) == remote_port:
                    return int(fields[9])
    return None


def holder_of(inode: int, processes: Mapping[str, int]) -> str | None:
    """Which of ``processes`` (name -> pid) holds the socket ``inode`` open, or None."""
    wanted = f"socket:[{inode}]"
    for name, pid in processes.items():
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    if os.readlink(f"/proc/{pid}/fd/{fd}") == wanted:
                        return name
    return None


class Owners:
    """Names the process each connection comes from, once per connection."""

    def __init__(self) -> None:
        self.processes: dict[str, int] = {}
        self._known: dict[object, str | None] = {}

    def __call__(self, request: web.Request) -> str | None:
        transport = request.transport
        if not self.processes or transport is None:
            return None
        if transport not in self._known:
            peer, own = transport.get_extra_info("peername"), transport.get_extra_info("sockname")
            inode = socket_of(int(peer[1]), int(own[1])) if peer and own else None
            self._known[transport] = holder_of(inode, self.processes) if inode is not None else None
        return self._known[transport]


async def _serve(count: int, big: int | None, ready: Path) -> None:
    fakes: list[MeteredThreeCX] = [MeteredThreeCX() for _ in range(count)]
    biglist = BigList(big) if big is not None else None
    if biglist is not None:
        fakes.append(biglist)
    owners = Owners()
    for fake in fakes:
        fake.owner_of = owners
        await fake.start()

    def pbx(index: Any) -> MeteredThreeCX:
        return fakes[int(index)]

    async def requests(request: web.Request) -> web.Response:
        fake, since = pbx(request.query["pbx"]), int(request.query.get("since", "0"))
        return web.json_response({"next": len(fake.metered), "requests": fake.metered[since:]})

    async def stats(_: web.Request) -> web.Response:
        pbxes = [
            {"token_requests": f.token_requests, "requests": len(f.metered), "received": len(f.requests)} for f in fakes
        ]
        scans = biglist.full_scans if biglist is not None else 0
        return web.json_response({"pbxes": pbxes, "full_scans": scans})

    async def entries(request: web.Request) -> web.Response:
        body = await request.json()
        fake, first, many = pbx(body["pbx"]), int(body["first"]), int(body["count"])
        added_by = str(body.get("added_by") or "AutoBlacklist")
        for entry_id in range(first, first + many):
            fake.add_entry(entry_id, entry_address(entry_id), added_by=added_by)
        return web.json_response({"ok": True})

    async def delay(request: web.Request) -> web.Response:
        body = await request.json()
        for index in body["pbxes"]:
            pbx(index).delay = float(body["seconds"])
        return web.json_response({"ok": True})

    async def name_owners(request: web.Request) -> web.Response:
        owners.processes = {str(name): int(pid) for name, pid in (await request.json()).items()}
        return web.json_response({"ok": True})

    async def whole(_: web.Request) -> web.Response:
        size = biglist.whole_list_bytes() if biglist is not None else 0
        return web.json_response({"bytes": size})

    control = web.Application()
    for method, path, handler in (
        ("GET", "/requests", requests),
        ("GET", "/stats", stats),
        ("POST", "/entries", entries),
        ("POST", "/delay", delay),
        ("POST", "/owners", name_owners),
        ("GET", "/whole", whole),
    ):
        control.router.add_route(method, path, handler)
    runner = web.AppRunner(control, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    info = {
        "urls": [f.base_url for f in fakes],
        "client_id": fakes[0].client_id,
        "client_secret": fakes[0].client_secret,
        "control": f"http://127.0.0.1:{runner.addresses[0][1]}",
    }
    tmp = ready.with_suffix(".tmp")
    tmp.write_text(json.dumps(info))
    tmp.rename(ready)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
        await asyncio.gather(*(fake.close() for fake in fakes))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.fleet", description="run many fake 3CX PBXes")
    parser.add_argument("--count", type=int, required=True, help="how many PBXes")
    parser.add_argument("--big", type=int, help="one more PBX, whose blocklist holds this many entries")
    parser.add_argument("--ready", type=Path, required=True, help="file to write the URLs to once listening")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.count, args.big, args.ready))


if __name__ == "__main__":
    main()


# -- the benchmark's side ------------------------------------------------------------------------------------


class FleetFakes:
    """The benchmark's side of a ``python -m bench.fleet`` process: its PBXes' URLs and its control API."""

    def __init__(self, info: Mapping[str, Any], http: Any) -> None:
        self.urls: list[str] = list(info["urls"])
        self.client_id = str(info["client_id"])
        self.client_secret = str(info["client_secret"])
        self._base = str(info["control"])
        self._http = http

    async def get(self, path: str, **params: str | int) -> Any:
        async with self._http.get(self._base + path, params={k: str(v) for k, v in params.items()}) as response:
            response.raise_for_status()
            return await response.json()

    async def post(self, path: str, body: Any) -> Any:
        async with self._http.post(self._base + path, json=body) as response:
            response.raise_for_status()
            return await response.json()

    async def add(self, pbx: int, first: int, count: int, added_by: str | None = None) -> None:
        await self.post("/entries", {"pbx": pbx, "first": first, "count": count, "added_by": added_by})

    async def requests(self, pbx: int, since: int = 0) -> tuple[int, list[dict[str, Any]]]:
        data = await self.get("/requests", pbx=pbx, since=since)
        return int(data["next"]), list(data["requests"])


class Tape:
    """What each PBX of a fleet answered, read on as it comes: ``records[i]`` for PBX i."""

    def __init__(self, fakes: FleetFakes, pbxes: int) -> None:
        self.fakes = fakes
        self.records: list[list[dict[str, Any]]] = [[] for _ in range(pbxes)]
        self._next = [0] * pbxes

    async def skip(self) -> None:
        """Forget what was answered up to now."""
        await self.read()
        for records in self.records:
            records.clear()

    async def read(self, pbxes: Iterable[int] | None = None) -> None:
        """Read on what every PBX (or those of ``pbxes``) answered."""
        chosen = sorted(set(pbxes)) if pbxes is not None else list(range(len(self._next)))
        found = await asyncio.gather(*(self.fakes.requests(i, self._next[i]) for i in chosen))
        for i, (after, new) in zip(chosen, found, strict=True):
            self._next[i] = after
            self.records[i].extend(new)
