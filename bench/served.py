"""What the parts of section 6 share: PBXes files, bots serving the PBXes of a ``bench.fleet``, and the looks of
each PBX read from what its fake recorded."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path
from typing import Any

from bot.config.pbxes import PER_PBX

from .fleet import FleetFakes, Tape
from .procs import HOST, free_port
from .rig import Rig, Server
from .watching import starts_poll

#: the environment variable the PBXes file names for every PBX's API key (the fakes share one)
SECRET_ENV = "BENCH_THREECX_SECRET"
LIST_PATH = "/xapi/v1/Blocklist"


def name(i: int) -> str:
    return f"acme-{i}"


def write_pbxes(path: Path, fakes: FleetFakes, count: int, watch: str) -> Path:
    """A PBXes file naming the first ``count`` PBXes of ``fakes``, each watched in a channel of its own (``watch``
    and its number: ``CWA0007``)."""
    tables = [
        f'[[pbx]]\nname = "{name(i)}"\nurl = "{fakes.urls[i]}"\nclient_id = "{fakes.client_id}"\n'
        f'client_secret_env = "{SECRET_ENV}"\nwatch_channel = "{watch}{i:04d}"\n'
        for i in range(count)
    ]
    path.write_text("\n".join(tables))
    return path


def spawn_bot(rig: Rig, label: str, fakes: FleetFakes, pbxes: Path, interval: float, database: str | None) -> Server:
    """A bot serving the PBXes of the file ``pbxes`` (a new, empty SQLite file unless ``database`` is a URL), not waited
    for: ``await server.proc.wait_http(server.url + "/healthz")``."""
    folder = rig.tmp / label
    folder.mkdir(exist_ok=True)
    for old in folder.glob("bench.db*"):
        old.unlink()
    port = free_port()
    env = {k: v for k, v in rig.bot_env(port, folder / "bench.db").items() if k not in PER_PBX}
    env |= {"UNBLOCK_PBXES": str(pbxes), SECRET_ENV: fakes.client_secret, "UNBLOCK_WATCH_INTERVAL": f"{interval:g}"}
    if database is not None:
        env["DATABASE_URL"] = database
    return Server(rig.procs.spawn(label, ["-m", "bot"], env=env, cwd=folder), f"http://{HOST}:{port}")


async def start_fleet(rig: Rig, label: str, count: int, big: int | None = None) -> FleetFakes:
    ready = rig.tmp / f"{label}.ready"
    args = ["-m", "bench.fleet", "--count", str(count), "--ready", str(ready)]
    proc = rig.procs.spawn(label, [*args, *(["--big", str(big)] if big is not None else [])])
    info: dict[str, Any] = await asyncio.to_thread(proc.wait_ready_file, ready)
    return FleetFakes(info, rig.http)


def is_watch_query(record: dict[str, Any]) -> bool:
    """A request of a look: its opening query, or its check of announced entries (``Id in (a,b)``, or
    ``Id eq a or Id eq b`` where 3CX refuses ``in``)."""
    if record["method"] != "GET" or record["path"] != LIST_PATH:
        return False
    checks = record["query"].get("$filter", "")
    return starts_poll(record) or bool(re.fullmatch(r"Id in \(\d+(?:,\d+)*\)|Id eq \d+(?: or Id eq \d+)*", checks))


def looks_of(records: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """A PBX's looks, each its XAPI requests from its opening query to the next look's; a lookup's or a
    decision's requests (an entry by its path, the event log, an address's entries) are in none."""
    looks: list[list[dict[str, Any]]] = []
    for record in records:
        if is_watch_query(record):
            if starts_poll(record):
                looks.append([])
            if looks:
                looks[-1].append(record)
    return looks


def tokens_of(records: list[dict[str, Any]]) -> int:
    return sum(r["path"] == "/connect/token" for r in records)


async def wait_looks(tape: Tape, count: int, timeout: float) -> bool:
    """Until every PBX of ``tape`` had ``count`` looks (or ``timeout`` seconds); whether they all did."""
    deadline = time.monotonic() + timeout
    while True:
        await tape.read()
        if all(len(looks_of(records)) >= count for records in tape.records):
            return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(0.5)
