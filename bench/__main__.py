"""``python -m bench [--duration S] [--smoke] [--json FILE]``: benchmark the bot over HTTP against the fakes.

Prints the report and writes it to ``bench/RESULTS.md`` (not in ``--smoke`` mode); ``--json FILE`` also
writes the key figures of every section, and where they come from, to FILE.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import signal
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from . import approvals, provenance, provider, scenarios, watching
from .procs import children
from .provenance import RESULTS
from .rig import Rig
from .scenarios import Section, Sizes


async def run(sizes: Sizes, logs: Path) -> list[Section]:
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    with children(logs) as procs:
        async with aiohttp.ClientSession() as http:
            rig = Rig(procs, logs, http)
            await rig.start_fakes()
            ack, steps, b = await scenarios.ack_path(rig, sizes)
            slow = await scenarios.slow_pbx(rig, sizes, b, steps)
            approved = await approvals.approvals(rig, sizes)
            footprint = await scenarios.footprint(rig, sizes)
            watch = await watching.watching(rig, sizes)
            scale = await provider.provider(rig, sizes)
    return [*ack, slow, approved, footprint, watch, scale]


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per closed-loop case (default 10)")
    parser.add_argument("--smoke", action="store_true", help="every scenario briefly, with tiny counts; "
                        "does not write RESULTS.md")  # fmt: skip
    parser.add_argument("--keep-logs", action="store_true", help="keep the processes' logs and print where")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the key figures as JSON to FILE")
    args = parser.parse_args()
    if not 0.2 <= args.duration <= 120:
        parser.error("--duration must be from 0.2 to 120 seconds")
    sizes = Sizes.smoke() if args.smoke else Sizes.full(args.duration)

    origin = provenance.collect()
    header = ["# unblock-bot benchmark", "", *provenance.lines(origin), ""]
    started = time.monotonic()
    logs = Path(tempfile.mkdtemp(prefix="unblock-bench-"))
    try:
        sections = asyncio.run(run(sizes, logs))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("interrupted; every process was stopped", file=sys.stderr)
        return 130
    finally:
        if args.keep_logs:
            print(f"logs: {logs}", file=sys.stderr)
        else:
            _remove(logs)
    whole = time.monotonic() - started
    footer = [f"Whole run: {whole:.0f} s{' (smoke mode)' if args.smoke else ''}.", ""]
    report = "\n".join([*header, *(line for s in sections for line in s.lines), *footer])
    print(report)
    if not args.smoke:
        RESULTS.write_text(report)
        print(f"written to {RESULTS}", file=sys.stderr)
    if args.json:
        summary = {
            "mode": "smoke" if args.smoke else "full",
            "sizes": dataclasses.asdict(sizes),
            "provenance": origin,
            **{s.key: s.figures for s in sections},
            "whole_run_s": round(whole, 1),
        }
        args.json.write_text(json.dumps(summary, indent=2, allow_nan=False) + "\n")
        print(f"summary written to {args.json}", file=sys.stderr)
    return 0


def _remove(path: Path) -> None:
    for child in sorted(path.rglob("*"), reverse=True):
        child.rmdir() if child.is_dir() else child.unlink()
    path.rmdir()


if __name__ == "__main__":
    sys.exit(main())
