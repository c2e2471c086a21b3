"""``python -m bench [--duration S] [--smoke]``: benchmark the bot over HTTP against the fakes.

Prints the report and writes it to ``bench/RESULTS.md`` (not in ``--smoke`` mode).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import platform
import signal
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

import aiohttp

from . import scenarios
from .procs import children
from .rig import Rig
from .scenarios import Sizes

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine() -> list[str]:
    versions = ", ".join(f"{p} {metadata.version(p)}" for p in ("slack-bolt", "slack-sdk", "aiohttp"))
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return [
        f"- date: {datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}",
        f"- CPU: {cpu_model()}, {os.cpu_count()} cores (load average before the run: {load})",
        f"- Python {platform.python_version()} ({platform.python_implementation()}), {platform.system()} "
        f"{platform.release()}",
        f"- {versions}",
    ]


async def run(sizes: Sizes, logs: Path) -> list[str]:
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    with children(logs) as procs:
        async with aiohttp.ClientSession() as http:
            rig = Rig(procs, logs, http)
            await rig.start_fakes()
            ack, steps, b = await scenarios.ack_path(rig, sizes)
            slow = await scenarios.slow_pbx(rig, sizes, b, steps)
            approvals = await scenarios.approvals(rig, sizes)
            footprint = await scenarios.footprint(rig, sizes)
    return ack + slow + approvals + footprint


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per closed-loop case (default 10)")
    parser.add_argument("--smoke", action="store_true", help="every scenario for ~0.5 s with tiny counts; "
                        "does not write RESULTS.md")  # fmt: skip
    parser.add_argument("--keep-logs", action="store_true", help="keep the processes' logs and print where")
    args = parser.parse_args()
    if not 0.2 <= args.duration <= 120:
        parser.error("--duration must be from 0.2 to 120 seconds")
    sizes = Sizes.smoke() if args.smoke else Sizes.full(args.duration)

    header = ["# unblock-bot benchmark", "", *machine(), ""]
    started = time.monotonic()
    logs = Path(tempfile.mkdtemp(prefix="unblock-bench-"))
    try:
        body = asyncio.run(run(sizes, logs))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("interrupted; every process was stopped", file=sys.stderr)
        return 130
    finally:
        if args.keep_logs:
            print(f"logs: {logs}", file=sys.stderr)
        else:
            _remove(logs)
    footer = [f"Whole run: {time.monotonic() - started:.0f} s{' (smoke mode)' if args.smoke else ''}.", ""]
    report = "\n".join(header + body + footer)
    print(report)
    if not args.smoke:
        RESULTS.write_text(report)
        print(f"written to {RESULTS}", file=sys.stderr)
    return 0


def _remove(path: Path) -> None:
    for child in sorted(path.rglob("*"), reverse=True):
        child.rmdir() if child.is_dir() else child.unlink()
    path.rmdir()


if __name__ == "__main__":
    sys.exit(main())
