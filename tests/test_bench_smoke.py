"""``python -m bench --smoke`` runs every scenario end to end, and its counts show that something was measured.

Only counts are checked, never a time or a rate: the machines that run this are shared and noisy.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench import provenance
from bench.fakes import MAX_ENTRIES, entry_ip, entry_of
from bench.scenarios import WATCH_BURST, Sizes

ROOT = Path(__file__).resolve().parent.parent
HEADINGS = (
    "# unblock-bot benchmark",
    "## 1. Ack path",
    "### 1b. Highest sustained rate",
    "## 2. Ack under a slow PBX",
    "## 3. Approvals",
    "## 4. Footprint",
    "## 5. Watching the blocklist",
)


def test_a_card_names_its_entry_by_the_address_the_fake_gives_it() -> None:
    for entry in (1, 255, 256, 257, 4660, MAX_ENTRIES - 1):
        assert entry_of(f"Remove `{entry_ip(entry)}` from the blocklist?") == entry
    assert entry_of("203.0.113.7") is None


def test_results_md_was_written_by_the_bench_code_as_it_is() -> None:
    results = provenance.RESULTS
    assert results.exists(), "bench/RESULTS.md is missing; run python -m bench"
    recorded = provenance.recorded_code_hash(results.read_text())
    assert recorded is not None, "bench/RESULTS.md names no bench code sha256; run python -m bench"
    assert recorded == provenance.code_hash(), "bench/ changed since RESULTS.md was written; run python -m bench"


def test_bench_smoke_measures_every_scenario(tmp_path: Path) -> None:
    results = provenance.RESULTS
    before = results.read_bytes() if results.exists() else None
    summary_file = tmp_path / "summary.json"

    done = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--json", str(summary_file)],
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

    summary: dict[str, Any] = json.loads(summary_file.read_text())
    n = Sizes.smoke().approvals
    assert summary["mode"] == "smoke"
    assert summary["provenance"]["code_sha256"] == provenance.code_hash()

    # 1b: every open-loop command got its card, at every step that ran
    steps = summary["sustained"]["steps"]
    assert steps, "section 1b ran no step"
    for step in steps:
        assert step["sent"] > 0, step
        assert step["cards"] == step["sent"], f"a command of the {step['rate']}/s step got no card: {step}"

    # 2: with 3CX answering in 2 s, some cards were still posted
    assert summary["slow_pbx"]["cards_posted"] > 0, summary["slow_pbx"]

    # 3: in every round (one at a time, in waves, during a burst of commands) every request approved, each entry
    # deleted once, each click's DELETE seen by 3CX and timed, every outcome update delivered; one 3CX token
    approvals = summary["approvals"]
    smoke = Sizes.smoke()
    for name, asked in (("one_at_a_time", smoke.single_clicks), ("in_flight", n), ("during_burst", n)):
        round_ = approvals[name]
        assert round_["asked"] == round_["cards"] == round_["clicks"] == asked, (name, round_)
        assert (round_["deletes"], round_["distinct_deletes"]) == (asked, asked), (name, round_)
        assert round_["deletes_are_the_entries"], (name, round_)
        assert round_["click_to_delete_measured"] == asked, (name, round_)
        assert round_["click_to_delete_p50_ms"] is not None, (name, round_)
        assert (round_["updates_delivered"], round_["failed"]) == (asked, 0), (name, round_)
    burst = approvals["during_burst"]
    assert burst["burst_answered"] == burst["burst_sent"] == smoke.burst, burst
    assert approvals["in_flight"]["deletes_per_s"] is not None, approvals
    assert approvals["token_requests"] == 1, approvals

    # 4: as many requests as asked for
    footprint = summary["footprint"]
    assert footprint["sent"] == footprint["asked"] == Sizes.smoke().footprint, footprint

    # 5: the bot looked at the blocklist several times, with one small query per look whatever the list's size,
    # and announced every new AutoBlacklist entry once, the burst as one summary
    watch = summary["watch"]
    smoke = Sizes.smoke()
    singly = sum(b for b in smoke.watch_batches if b <= WATCH_BURST)
    bursts = [b for b in smoke.watch_batches if b > WATCH_BURST]
    assert singly > 0 and bursts, "the smoke sizes must add entries one by one and in a burst"
    assert watch["entries"] == smoke.blocklist, watch
    assert watch["whole_list_bytes"] >= 50 * smoke.blocklist, watch
    assert watch["polls"] >= 1 + len(smoke.watch_batches), watch
    assert 1 <= watch["requests_per_poll_max"] <= 2, watch
    assert 0 < watch["response_bytes_per_poll_max"] < watch["whole_list_bytes"], watch
    assert watch["requests_outside_polls"] == 0, watch
    assert (watch["added_singly"], watch["announced_singly"]) == (singly, singly), watch
    assert (watch["missing"], watch["repeated"], watch["unexpected"]) == (0, 0, 0), watch
    assert watch["announced_once"], watch
    assert watch["not_autoblacklist_added"] == len(smoke.watch_batches), watch
    assert (watch["bursts"], watch["burst_entries"], watch["summaries"]) == (len(bursts), sum(bursts), len(bursts))
    assert watch["bursts_as_one_message"], watch
    assert watch["other_slack_messages"] == 0, watch
