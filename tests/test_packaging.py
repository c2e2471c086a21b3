"""The package as a user installs it: ``python -m build`` makes an sdist and a wheel (the wheel from the
sdist, so the sdist is complete); the sdist holds what an admin needs beside the code (the licence, the
Slack app manifest, the settings' template, ``deploy/``) and no tests; the wheel says its licence, and
installed into a fresh virtual environment runs from another folder, with its command, its help, its
version and its PostgreSQL migrations.

The build runs without isolation and the fresh environment borrows this one's installed dependencies
(through a ``.pth`` file), so no test reaches a package index; the bot itself comes only from the wheel.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tomllib
import zipfile
from email.parser import HeaderParser
from pathlib import Path

import pytest

from .fakes.slack import FakeSlack
from .fakes.threecx import FakeThreeCX
from .harness import base_env
from .postgres import PostgresServer
from .test_standalone import NOT_COPIED

ROOT = Path(__file__).resolve().parents[1]
MIGRATIONS = sorted(p.name for p in (ROOT / "bot" / "storage" / "migrations" / "postgres").glob("*.sql"))
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """(the sdist, the wheel, the fresh environment's bin folder)."""
    top = tmp_path_factory.mktemp("packaging")
    source, dist, venv = top / "source", top / "dist", top / "venv"
    shutil.copytree(ROOT, source, ignore=NOT_COPIED)
    run(sys.executable, "-m", "build", "--no-isolation", "--outdir", str(dist), str(source), cwd=top)
    [sdist], [wheel] = sorted(dist.glob("*.tar.gz")), sorted(dist.glob("*.whl"))
    run(sys.executable, "-m", "venv", "--without-pip", str(venv), cwd=top)
    python = venv / "bin" / "python"
    run(sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", "--no-index", str(wheel),
        cwd=top)  # fmt: skip
    purelib = run(str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=top).strip()
    (Path(purelib) / "borrowed-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return sdist, wheel, venv / "bin"


def run(*command: str, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{command}: {done.stdout[-2000:]}{done.stderr[-2000:]}"
    return done.stdout


def test_the_sdist_and_the_wheel_hold_the_package_migrations_and_licence(installed: tuple[Path, Path, Path]) -> None:
    sdist, wheel, _ = installed

    with tarfile.open(sdist) as tar:
        in_sdist = {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}
    with zipfile.ZipFile(wheel) as whl:
        in_wheel = set(whl.namelist())

    shipped = [f"bot/storage/migrations/{kind}/{m}" for kind in ("postgres", "sqlite") for m in MIGRATIONS]
    for name in ("bot/__main__.py", "bot/threecx/client.py", *shipped):
        assert name in in_wheel and name in in_sdist
    assert {"README.md", "pyproject.toml"} <= in_sdist
    assert not any(name.startswith(("tests/", "bench/")) for name in in_wheel)
    # what an admin needs beside the code; the tests and the benchmark stay in the repository
    files = [p for folder in ("deploy", "docs") for p in (ROOT / folder).rglob("*") if p.is_file()]
    beside = {p.relative_to(ROOT).as_posix() for p in files}
    assert {"deploy/unblock-bot.service", "docs/install.md"} <= beside
    assert {"LICENSE", "CHANGELOG.md", "manifest.yml", "manifest-socket-mode.yml", ".env.example", *beside} <= in_sdist
    assert not any(name.startswith(("tests/", "bench/")) for name in in_sdist)
    assert not any("__pycache__" in name or name.endswith(".pyc") for name in in_sdist | in_wheel)
    entry_points = next(n for n in in_wheel if n.endswith(".dist-info/entry_points.txt"))
    with zipfile.ZipFile(wheel) as whl:
        assert "unblock-bot = bot.__main__:main" in whl.read(entry_points).decode()
        # the wheel says its licence and carries it
        dist_info = next(n for n in whl.namelist() if n.endswith(".dist-info/METADATA")).rsplit("/", 1)[0]
        metadata = HeaderParser().parsestr(whl.read(f"{dist_info}/METADATA").decode())
        licence = whl.read(f"{dist_info}/licenses/LICENSE").decode()

    assert metadata["License-Expression"] == "MIT"
    assert metadata.get_all("License-File") == ["LICENSE"]
    assert licence == (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert licence.startswith("MIT License") and "Copyright (c) 2026 The unblock-bot authors" in licence


def test_the_installed_command_runs_from_another_folder(installed: tuple[Path, Path, Path], tmp_path: Path) -> None:
    _, _, bin_dir = installed
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}

    shown = run(str(bin_dir / "unblock-bot"), "--help", cwd=tmp_path, env=env)
    version = run(str(bin_dir / "unblock-bot"), "--version", cwd=tmp_path, env=env)  # exits 0, or run() fails
    where = run(str(bin_dir / "python"), "-c", "import bot; print(bot.__file__)", cwd=tmp_path, env=env)

    assert shown.startswith("usage: unblock-bot [-h] [{run,check}] [PBX] [--version]")
    assert "--version" in shown.split("options:")[1]
    assert version == f"unblock-bot {VERSION}\n"
    assert Path(where.strip()).is_relative_to(bin_dir.parent)


async def test_the_installed_check_works_against_the_fakes_and_finds_the_migrations(
    installed: tuple[Path, Path, Path],
    slack: FakeSlack,
    pbx: FakeThreeCX,
    postgres: PostgresServer,
    database_url: str,
    tmp_path: Path,
) -> None:
    _, _, bin_dir = installed
    env = {**base_env(slack, pbx, ""), "DATABASE_URL": database_url, "PATH": os.environ["PATH"]}

    process = await asyncio.create_subprocess_exec(
        str(bin_dir / "python"), "-m", "bot", "check", cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 60)

    assert process.returncode == 0, out.decode() + err.decode()
    assert out.decode().splitlines()[-1] == "All checks passed."
    rows = await postgres.query(database_url, "SELECT name FROM schema_migrations ORDER BY name")
    assert [row["name"] + ".sql" for row in rows] == MIGRATIONS
