"""Child processes of a benchmark run: started on loopback, always stopped.

Every child gets its own session (a Ctrl-C in the terminal reaches only the
benchmark, which then stops its children itself) and is killed by the kernel
if the benchmark dies without cleaning up (``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
_PR_SET_PDEATHSIG = 1


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class Proc:
    """One child process; its output goes to ``log``."""

    def __init__(
        self, name: str, args: list[str], log: Path, *, env: Mapping[str, str] | None = None, cwd: Path = ROOT
    ) -> None:
        self.name = name
        self.log = log
        self.started = time.monotonic()
        with log.open("ab") as out:
            self.popen = subprocess.Popen(
                [sys.executable, *args],
                cwd=cwd,
                env={**os.environ, **(env or {})},
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def check_alive(self) -> None:
        if self.popen.poll() is not None:
            tail = self.log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{self.name} exited with {self.popen.returncode}:\n{tail}")

    def stop(self, grace: float = 2.0) -> None:
        """SIGTERM, then SIGKILL after ``grace`` seconds."""
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(grace)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)

    def rss_mb(self) -> float:
        """Resident memory (VmRSS) in MiB."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError(f"no VmRSS for {self.name}")

    def wait_ready_file(self, path: Path, timeout: float = 20.0) -> dict[str, str]:
        """Wait for the JSON a fake writes once it listens."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            if path.exists() and path.stat().st_size:
                data: dict[str, str] = json.loads(path.read_text())
                return data
            time.sleep(0.02)
        raise TimeoutError(f"{self.name} did not start within {timeout} s")

    async def wait_http(self, url: str, timeout: float = 20.0, interval: float = 0.005) -> float:
        """Poll ``url`` until it answers 200; seconds from spawn to that answer."""
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=1)) as http:
            while time.monotonic() < deadline:
                self.check_alive()
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    async with http.get(url) as response:
                        if response.status == 200:
                            return time.monotonic() - self.started
                await asyncio.sleep(interval)
        raise TimeoutError(f"{self.name} did not answer {url} within {timeout} s")


class Procs:
    """Every child of the run, stopped on exit whatever happens."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self._all: list[Proc] = []

    def spawn(self, name: str, args: list[str], *, env: Mapping[str, str] | None = None, cwd: Path = ROOT) -> Proc:
        """``python <args>``, its output in ``<logs>/<name>.log``."""
        proc = Proc(name, args, self.logs / f"{name}.log", env=env, cwd=cwd)
        self._all.append(proc)
        return proc

    def stop(self, proc: Proc) -> None:
        proc.stop()
        if proc in self._all:
            self._all.remove(proc)

    def stop_all(self) -> None:
        while self._all:
            self._all.pop().stop(grace=1.0)


@contextlib.contextmanager
def children(logs: Path) -> Iterator[Procs]:
    """``Procs`` that are all stopped on leaving, however that happens."""
    procs = Procs(logs)
    try:
        yield procs
    finally:
        procs.stop_all()
