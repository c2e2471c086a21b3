"""``python -m bench --smoke`` runs every scenario end to end and prints the report (no timing checks)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEADINGS = (
    "# unblock-bot benchmark",
    "## 1. Ack path",
    "### 1b. Highest sustained rate",
    "## 2. Ack under a slow PBX",
    "## 3. Approval throughput",
    "## 4. Footprint",
)


def test_bench_smoke_runs_every_scenario() -> None:
    results = ROOT / "bench" / "RESULTS.md"
    before = results.read_bytes() if results.exists() else None

    done = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke"],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 0, done.stderr[-3000:]
    for heading in HEADINGS:
        assert heading in done.stdout, heading
    assert (results.read_bytes() if results.exists() else None) == before, "smoke mode must not write RESULTS.md"
