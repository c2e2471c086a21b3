"""The pieces of a run: the two fakes, the bot and the baselines, each in its own process."""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from .fakes import MAX_ENTRIES, Control
from .load import APPROVER, SIGNING_SECRET
from .procs import HOST, Proc, Procs, free_port

#: the bot's 3CX connection pool (ThreeCXClient's default pool_size)
THREECX_POOL = 10
#: the connections it keeps for decisions on top (ThreeCXClient's default ``reserved``)
DECISION_POOL = 3


@dataclass
class Server:
    proc: Proc
    url: str

    @property
    def events(self) -> str:
        return f"{self.url}/slack/events"


class Rig:
    def __init__(self, procs: Procs, tmp: Path, http: aiohttp.ClientSession) -> None:
        self.procs = procs
        self.tmp = tmp
        self.http = http
        self.slack: Control
        self.pbx: Control
        self._next_entry = 1

    async def start_fakes(self) -> None:
        ready = {kind: self.tmp / f"{kind}.ready" for kind in ("slack", "threecx")}
        fakes = {kind: self.procs.spawn(f"fake-{kind}", ["-m", "bench.fakes", kind, "--ready", str(path)])
                 for kind, path in ready.items()}  # fmt: skip
        infos = {kind: await asyncio.to_thread(proc.wait_ready_file, ready[kind]) for kind, proc in fakes.items()}
        self.slack = Control(infos["slack"], self.http)
        self.pbx = Control(infos["threecx"], self.http)

    @property
    def response_url(self) -> str:
        return self.slack.info["response_url"]

    def bot_env(self, port: int, database: Path) -> dict[str, str]:
        return {
            "SLACK_BOT_TOKEN": self.slack.info["bot_token"],
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": self.slack.info["api_url"],
            "THREECX_BASE_URL": self.pbx.info["url"],
            "THREECX_CLIENT_ID": self.pbx.info["client_id"],
            "THREECX_CLIENT_SECRET": self.pbx.info["client_secret"],
            "UNBLOCK_APPROVERS": f"{APPROVER},UCAROL",
            "DATABASE_URL": f"sqlite:///{database}",
            "HOST": HOST,
            "PORT": str(port),
            "LOG_LEVEL": "WARNING",
        }

    async def start_bot(self, name: str = "bot", env: dict[str, str] | None = None) -> Server:
        """A new bot process on a new, empty database (``env`` added to its environment); returns once
        ``/healthz`` answers 200."""
        database = self.tmp / f"{name}" / "bench.db"
        database.parent.mkdir(exist_ok=True)
        for old in database.parent.glob("bench.db*"):
            old.unlink()
        port = free_port()
        proc = self.procs.spawn(
            name, ["-m", "bot"], env={**self.bot_env(port, database), **(env or {})}, cwd=database.parent
        )
        url = f"http://{HOST}:{port}"
        await proc.wait_http(f"{url}/healthz")
        return Server(proc, url)

    async def start_baseline(self, kind: str) -> Server:
        port = free_port()
        args = ["-m", "bench.baselines", kind, "--port", str(port), "--signing-secret", SIGNING_SECRET,
                "--slack-api-url", self.slack.info["api_url"], "--token", self.slack.info["bot_token"]]  # fmt: skip
        proc = self.procs.spawn(f"baseline-{kind}", args)
        url = f"http://{HOST}:{port}"
        await proc.wait_http(f"{url}/healthz")
        return Server(proc, url)

    def stop(self, server: Server) -> None:
        self.procs.stop(server.proc)

    async def startup_seconds(self, runs: int) -> float:
        """Median time from spawning ``python -m bot`` to its first ``/healthz`` 200."""
        times = []
        for run in range(runs):
            server = await self.start_bot(f"bot-startup-{run}")
            times.append(time.monotonic() - server.proc.started)
            self.stop(server)
        return statistics.median(times)

    # -- the fakes ---------------------------------------------------------------

    async def reset_fakes(self, pbx_delay: float = 0.0) -> None:
        await self.slack.post("/reset")
        await self.pbx.post("/reset")
        await self.pbx.post("/delay", {"seconds": pbx_delay})

    async def new_entries(self, count: int, added_by: str | None = None) -> int:
        """Add ``count`` blocklist entries no earlier request used (``AddedBy`` AutoBlacklist unless given);
        the first id."""
        first = self.take_ids(count)
        await self.pbx.post("/entries", {"first": first, "count": count, "added_by": added_by})
        return first

    def take_ids(self, count: int) -> int:
        """``count`` entry ids no earlier request used, each with an address of its own; the first."""
        first = self._next_entry
        if first + count > MAX_ENTRIES:
            raise RuntimeError("the run used up the entry ids that have a distinct address")
        self._next_entry += count
        return first

    async def pbx_requests(self, since: int = 0) -> tuple[int, list[dict[str, Any]]]:
        """The requests the fake 3CX answered from index ``since`` (time, sizes), and the index to ask from next."""
        data = await self.pbx.get("/requests", since=since)
        return int(data["next"]), list(data["requests"])

    async def pbx_mark(self) -> int:
        """Where the fake 3CX's record of requests ends now: ``pbx_requests(since=mark)`` gives what comes after."""
        return (await self.pbx_requests(sys.maxsize))[0]

    async def mark(self) -> int:
        """Where the fake Slack's record of calls ends now: ``messages(since=mark)`` gives what comes after."""
        return int((await self.slack.get("/stats"))["next"])

    async def messages(self, since: int = 0) -> tuple[int, list[dict[str, Any]]]:
        """chat.postMessage / chat.update calls from index ``since``, and the index to ask from next."""
        data = await self.slack.get("/messages", since=since)
        return int(data["next"]), list(data["messages"])

    async def wait_for_cards(self, entries: set[int], since: int, timeout: float) -> dict[int, dict[str, Any]]:
        """The first card posted for each entry in ``entries``, waiting up to ``timeout`` seconds."""
        cards: dict[int, dict[str, Any]] = {}
        deadline = time.monotonic() + timeout
        while True:
            since, messages = await self.messages(since)
            for message in messages:
                entry = message["entry"]
                if message["method"] == "chat.postMessage" and entry in entries and entry not in cards:
                    cards[entry] = message
            if len(cards) == len(entries) or time.monotonic() >= deadline:
                return cards
            await asyncio.sleep(0.05)
