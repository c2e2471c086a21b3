"""``python -m bot`` as a process of its own, for tests that need a real start, stop or kill."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import aiohttp

from .fakes.slack import FakeSlack
from .fakes.threecx import FakeThreeCX
from .harness import Harness, base_env
from .ports import free_port

ROOT = Path(__file__).resolve().parents[1]


class BotProcess:
    """``python -m bot`` started in ``cwd`` with exactly ``env`` (plus PATH), its output kept."""

    def __init__(self, env: dict[str, str], cwd: Path, *args: str) -> None:
        self.env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT), **env}
        self.cwd = cwd
        self.args = args
        self.proc: asyncio.subprocess.Process | None = None
        self.stdout = ""
        self.stderr = ""
        #: its log read while it runs (:meth:`logged`), the start of ``stderr``
        self._log_read = ""
        #: what sends it Slack requests, closed with it
        self.driver: Harness | None = None

    async def run(self, timeout: float = 30) -> int:
        """Run to completion (for ``check`` and settings errors)."""
        await self.start()
        return await self.wait(timeout)

    async def start(self) -> None:
        pipe = asyncio.subprocess.PIPE
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", *self.args, cwd=self.cwd, env=self.env, stdout=pipe, stderr=pipe
        )

    async def wait(self, timeout: float = 30) -> int:
        assert self.proc is not None
        out, err = await asyncio.wait_for(self.proc.communicate(), timeout)
        self.stdout, self.stderr = out.decode(), self._log_read + err.decode()
        return int(self.proc.returncode or 0)

    async def logged(self, text: str, times: int = 1, timeout: float = 20) -> None:
        """Wait until ``times`` lines of its log (stderr) hold ``text``; what is read stays the start of ``stderr``."""
        assert self.proc is not None and self.proc.stderr is not None
        async with asyncio.timeout(timeout):
            while sum(text in line for line in self._log_read.splitlines()) < times:
                line = await self.proc.stderr.readline()
                assert line, f"the bot ended before it logged {text!r} {times} times:\n{self._log_read}"
                self._log_read += line.decode()

    async def stop(self, timeout: float = 30) -> int:
        """SIGTERM, then wait for a clean exit."""
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
        return await self.wait(timeout)

    def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()


async def healthy(url: str, process: BotProcess | None = None, timeout: float = 20) -> None:
    """Wait until ``/healthz`` at ``url`` answers 200; fails at once, with what it said, if ``process`` ended."""
    async with aiohttp.ClientSession() as http:

        async def ok() -> bool:
            try:
                async with http.get(f"{url}/healthz") as response:
                    return response.status == 200
            except aiohttp.ClientError:
                return False

        deadline = asyncio.get_running_loop().time() + timeout
        while not await ok():
            if process is not None and process.proc is not None and process.proc.returncode is not None:
                await process.wait()
                raise BotEnded(process.stderr)
            assert asyncio.get_running_loop().time() < deadline, "the bot did not become healthy"
            await asyncio.sleep(0.05)


class BotEnded(Exception):
    """The bot ended before it became healthy; the message is what it wrote on stderr."""


#: tries for a port: another process may take the free port found before the bot binds it
PORT_TRIES = 3


async def start_http_bot(
    processes: list[BotProcess], slack: FakeSlack, pbx: FakeThreeCX, tmp_path: Path, **extra: str
) -> tuple[BotProcess, Harness]:
    for attempt in range(1, PORT_TRIES + 1):
        port = free_port()
        env = {**base_env(slack, pbx, str(tmp_path / "unblock.db")), "HOST": "127.0.0.1", "PORT": str(port), **extra}
        process = BotProcess(env, tmp_path)
        processes.append(process)
        await process.start()
        driver = process.driver = Harness(slack, pbx, env, url=f"http://127.0.0.1:{port}")
        try:
            await healthy(driver.url, process)
        except BotEnded as ended:
            if "cannot listen on" not in str(ended) or attempt == PORT_TRIES:
                raise AssertionError(f"the bot ended before it became healthy:\n{ended}") from None
            continue
        return process, driver
    raise AssertionError("unreachable")
