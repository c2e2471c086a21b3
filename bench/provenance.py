"""Where a run's numbers come from: the command, the commit, the benchmark's own code, the machine, the versions.

``code_hash()`` is the one definition of the hash of the benchmark's code; ``bench/RESULTS.md`` records it
and ``tests/test_bench_smoke.py`` compares it with the code as it is now.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import platform
import re
import shlex
import sqlite3
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "RESULTS.md"
#: the runtime packages whose versions change what is measured (the bot, its HTTP stack, the baselines)
PACKAGES = ("slack-bolt", "slack-sdk", "aiohttp", "yarl", "multidict", "python-dotenv")
#: how RESULTS.md names the hash of the code that wrote it
_CODE_LINE = "- bench code sha256: "
_CODE_HASH = re.compile(r"^" + re.escape(_CODE_LINE) + r"`?([0-9a-f]{64})`?", re.MULTILINE)


def code_hash(folder: Path = BENCH) -> str:
    """sha256 over the sorted ``*.py`` files of ``folder`` (not RESULTS.md, not README.md), names and contents.

    It is the sha256 of what ``sha256sum`` prints for those files, so the shell gives the same digest:
    ``cd bench && LC_ALL=C sha256sum *.py | sha256sum``.
    """
    listing = "".join(
        f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {path.name}\n"
        for path in sorted(folder.glob("*.py"), key=lambda p: p.name.encode())
    )
    return hashlib.sha256(listing.encode()).hexdigest()


def recorded_code_hash(results: str) -> str | None:
    """The code hash a RESULTS.md text names, or None."""
    match = _CODE_HASH.search(results)
    return match[1] if match else None


def command(argv: list[str] | None = None) -> str:
    """The command line of this run, as one would type it again."""
    args = sys.argv[1:] if argv is None else argv
    return shlex.join(["python", "-m", "bench", *args])


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args], cwd=ROOT, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def git_state() -> dict[str, Any]:
    """``git rev-parse HEAD`` and the paths with uncommitted changes (bench/RESULTS.md itself aside)."""
    head = _git("rev-parse", "HEAD")
    status = _git("status", "--porcelain=v1", "--untracked-files=all")
    results = RESULTS.relative_to(ROOT).as_posix()
    changed = None if status is None else [line[3:] for line in status.splitlines() if line[3:] != results]
    return {"commit": head.strip() if head else None, "uncommitted": changed}


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _aiohttp_compiled() -> bool:
    """Whether aiohttp parses HTTP with its C extension (``AIOHTTP_NO_EXTENSIONS`` or a pure wheel: not)."""
    try:
        from aiohttp import http_parser

        return http_parser.HttpRequestParser is getattr(http_parser, "HttpRequestParserC", None)
    except ImportError:
        return False


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def collect(argv: list[str] | None = None) -> dict[str, Any]:
    """Everything the header of RESULTS.md names, taken before the run starts."""
    return {
        "command": command(argv),
        **git_state(),
        "code_sha256": code_hash(),
        "date": f"{datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}",
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "python": f"{platform.python_version()} ({platform.python_implementation()})",
        "system": f"{platform.system()} {platform.release()}",
        "packages": {p: _version(p) for p in PACKAGES},
        "aiohttp_c_extensions": _aiohttp_compiled(),
        "sqlite": sqlite3.sqlite_version,
    }


def lines(info: dict[str, Any]) -> list[str]:
    """The header of the report (markdown list items)."""
    changed: list[str] | None = info["uncommitted"]
    if changed is None:
        tree = " (git status failed: uncommitted changes unknown)"
    elif changed:
        shown = ", ".join(f"`{path}`" for path in changed[:8])
        more = f" and {len(changed) - 8} more" if len(changed) > 8 else ""
        tree = f" **plus uncommitted changes** to {shown}{more}"
    else:
        tree = " (clean work tree)"
    load = " ".join(f"{x:.2f}" for x in info["load_average"])
    versions = ", ".join(f"{p} {v}" for p, v in info["packages"].items())
    c_ext = "with" if info["aiohttp_c_extensions"] else "without"
    return [
        f"- command: `{info['command']}`",
        f"- commit: `{info['commit'] or 'unknown'}`{tree}",
        f"{_CODE_LINE}`{info['code_sha256']}` (bench/*.py; `cd bench && LC_ALL=C sha256sum *.py | sha256sum`)",
        f"- date: {info['date']}",
        f"- CPU: {info['cpu']}, {info['cores']} cores (load average before the run: {load})",
        f"- Python {info['python']}, {info['system']}",
        f"- {versions} (aiohttp {c_ext} its C extensions), SQLite {info['sqlite']}",
    ]
