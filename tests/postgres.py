"""A throwaway PostgreSQL server for the tests: its own data directory in a temporary folder,
listening on 127.0.0.1 on a free port, with a fresh empty database for each test that asks.

    server = PostgresServer.start()   # raises PostgresUnavailable, saying why, if it cannot
    url = await server.new_database()  # postgresql://postgres@127.0.0.1:PORT/test_…
    server.stop()

PostgreSQL refuses to run as root, so as root its commands run as the ``postgres`` user.
"""

from __future__ import annotations

import glob
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest

SUPERUSER = "postgres"
#: the OS user that runs the server when the tests run as root
OS_USER = "postgres"
START_TIMEOUT = 60


class PostgresUnavailable(Exception):
    """PostgreSQL could not be found or started; the message says what to do."""


def find_binaries() -> Path:
    """The folder holding ``initdb``, ``pg_ctl`` and ``postgres``: from PATH, else the newest Debian install."""
    on_path = shutil.which("initdb")
    candidates = [Path(on_path).resolve().parent] if on_path else []
    versions = glob.glob("/usr/lib/postgresql/*/bin")
    candidates += [Path(v) for v in sorted(versions, key=_version, reverse=True)]
    for folder in candidates:
        if all((folder / name).is_file() for name in ("initdb", "pg_ctl", "postgres")):
            return folder
    raise PostgresUnavailable(
        "PostgreSQL is not installed (no initdb on PATH nor in /usr/lib/postgresql/*/bin); "
        "install it, e.g. `apt-get install postgresql` (.ci/run does so)"
    )


def _version(folder: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", Path(folder).parent.name))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PostgresServer:
    bin: Path
    root: Path
    port: int
    #: run the server commands as this OS user (None: as the current one)
    user: str | None

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def log(self) -> Path:
        return self.root / "server.log"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    @classmethod
    def start(cls, port: int | None = None) -> PostgresServer:
        folder = find_binaries()
        user = None
        if os.geteuid() == 0:
            try:
                pwd.getpwnam(OS_USER)
            except KeyError:
                raise PostgresUnavailable(
                    f"the tests run as root, and PostgreSQL refuses to run as root, but there is no {OS_USER!r} "
                    "user to run it as (installing Debian's postgresql package creates it)"
                ) from None
            user = OS_USER
        # directly under the system temp folder: pytest's own (mode 0700, root's) would lock the server out
        root = Path(tempfile.mkdtemp(prefix="unblock-pg-"))
        if user is not None:
            shutil.chown(root, user, user)
        server = cls(folder, root, port or free_port(), user)
        try:
            server._run(
                "initdb", "-D", str(server.data), "-U", SUPERUSER, "--auth=trust",
                "--encoding=UTF8", "--locale=C", "--no-sync",
            )  # fmt: skip
            server.resume()
        except PostgresUnavailable:
            server._remove()
            raise
        return server

    def resume(self) -> None:
        """Start the server (again)."""
        options = (
            f"-h 127.0.0.1 -p {self.port} -k {self.root} -F"
            " -c full_page_writes=off -c synchronous_commit=off -c max_connections=200"
        )
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", str(START_TIMEOUT),
            "start",
        )  # fmt: skip

    def halt(self) -> None:
        """Stop the server, as an admin would (its data stays)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def restart(self) -> None:
        """``pg_ctl restart``: every connection is cut, and the server is back in a moment."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", str(START_TIMEOUT), "restart")

    def stop(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            self._remove()

    async def new_database(self) -> str:
        """Create an empty database with a name of its own; its URL."""
        name = f"test_{uuid.uuid4().hex[:16]}"
        db = await asyncpg.connect(self.url(), timeout=10)
        try:
            await db.execute(f'CREATE DATABASE "{name}"')
        finally:
            await db.close()
        return self.url(name)

    async def query(self, database_url: str, sql: str, *args: Any) -> list[Any]:
        """Rows of one query, for looking into a database from a test."""
        db = await asyncpg.connect(database_url, timeout=10)
        try:
            return list(await db.fetch(sql, *args))
        finally:
            await db.close()

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bin / program), *args]
        try:
            done = subprocess.run(
                command, cwd=self.root, user=self.user, group=self.user, extra_groups=[] if self.user else None,
                stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=START_TIMEOUT + 30,
            )  # fmt: skip
        except (OSError, subprocess.TimeoutExpired) as error:
            raise PostgresUnavailable(f"{program} could not run: {error}") from error
        if done.returncode != 0:
            log = self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""
            raise PostgresUnavailable(
                f"{program} failed (exit {done.returncode}):\n{done.stdout}{done.stderr}\n{log}".rstrip()
            )

    def _remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def running_server(needed_by: str) -> Iterator[PostgresServer]:
    """A PostgreSQL server for a fixture: the tests that use it fail (never skip) without one."""
    try:
        server = PostgresServer.start()
    except PostgresUnavailable as error:
        pytest.fail(f"PostgreSQL is needed for {needed_by}: {error}", pytrace=False)
    yield server
    server.stop()
