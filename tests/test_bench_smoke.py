"""``python -m bench --smoke`` runs every scenario end to end, and its counts show that something was measured.

Only counts are checked, never a time or a rate: the machines that run this are shared and noisy. Section 5's
judging is also checked without processes, on what the fakes would record of a run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench import provenance
from bench.approvals import Round, deletes_of, deletes_row
from bench.fakes import MAX_ENTRIES, entry_ip, entry_of
from bench.load import Result
from bench.scenarios import Sizes
from bench.watching import WATCH_BURST, WATCH_CHANNEL, Judged, Observed, judge, report
from bot.domain.entries import BlocklistEntry
from bot.slack.views.watch import burst, new_block

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


# -- section 3's DELETEs judged without processes: what the fake 3CX would record of a round ----------------


def received(*entries: int, method: str = "DELETE") -> list[dict[str, Any]]:
    return [{"method": method, "path": f"/xapi/v1/Blocklist({e})", "received": 1.0 + i} for i, e in enumerate(entries)]


def round_of(requests: list[dict[str, Any]], entries: set[int]) -> Round:
    found = Round(len(entries), 1, Result(), len(entries))
    found.deletes, found.exact = deletes_of(requests, entries)
    return found


def test_one_delete_for_each_entry_meets_the_goal() -> None:
    entries = {7, 8, 9}
    r = round_of([*received(9, 7), *received(8, method="GET"), *received(8)], entries)

    assert (len(r.deletes), r.exact) == (3, True)
    figures = r.figures()
    assert (figures["deletes"], figures["distinct_deletes"], figures["deletes_are_the_entries"]) == (3, 3, True)
    assert deletes_row({"one": r}) == "| DELETEs (one per entry) | 3 (3 distinct) | exactly the entries: yes |"


@pytest.mark.parametrize(
    ("requests", "counts"),
    [(received(7, 8, 9, 8), (4, 3)), (received(7, 8), (2, 2)), (received(7, 8, 9, 10), (4, 4))],
    ids=["an entry deleted twice", "an entry not deleted", "an entry not clicked deleted"],
)
def test_deletes_not_exactly_one_for_each_entry_are_a_failure(
    requests: list[dict[str, Any]], counts: tuple[int, int]
) -> None:
    r = round_of(requests, {7, 8, 9})

    assert r.exact is False
    figures = r.figures()
    assert (figures["deletes"], figures["distinct_deletes"], figures["deletes_are_the_entries"]) == (*counts, False)
    fine = round_of(received(1), {1})
    deletes, distinct = counts
    assert deletes_row({"fine": fine, "this": r}) == (
        f"| DELETEs (one per entry) | 1 (1 distinct) | {deletes} ({distinct} distinct) | exactly the entries: **NO** |"
    )


# -- section 5 judged without processes: what the fakes would record of a run ------------------------------

WHOLE_LIST = 36_000
SINGLES = (201, 202, 203)
BURST = tuple(range(205, 215))
BY_ADMIN = (204, 215)


def entry(entry_id: int) -> BlocklistEntry:
    return BlocklistEntry(entry_id, entry_ip(entry_id), "SIP flood", "Block", "AutoBlacklist", None)


def message(text: str, blocks: list[dict[str, Any]], method: str = "chat.postMessage") -> dict[str, Any]:
    """A call as the fake Slack records it: the entry is the first address its text (or blocks) names."""
    found = entry_of(text) or entry_of(json.dumps(blocks))
    return {"method": method, "channel": WATCH_CHANNEL, "text": text, "entry": found}


def announced(entry_id: int) -> dict[str, Any]:
    return message(*new_block(entry(entry_id)))


def summarised(entries: tuple[int, ...]) -> dict[str, Any]:
    return message(*burst([entry(e) for e in entries]))


def xapi(query: dict[str, str], response_bytes: int = 400) -> dict[str, Any]:
    path = "/xapi/v1/Blocklist"
    return {"method": "GET", "path": path, "query": query, "request_bytes": 250, "response_bytes": response_bytes}


TOKEN = {"method": "POST", "path": "/connect/token", "query": {}, "request_bytes": 300, "response_bytes": 90}
LOOKS = (
    TOKEN,
    xapi({"$orderby": "Id desc", "$top": "1"}),
    xapi({"$filter": "Id gt 200"}),
    xapi({"$filter": "Id gt 204"}),
    xapi({"$filter": "Id eq 201 or Id eq 202 or Id eq 203"}),
)
POSTS = (*(announced(e) for e in SINGLES), summarised(BURST))


def judged(messages: tuple[dict[str, Any], ...] = POSTS, requests: tuple[dict[str, Any], ...] = LOOKS) -> Judged:
    seen = Observed(entries=200, whole_list_bytes=WHOLE_LIST, planned=(len(SINGLES), len(BURST)), quiet_polls=0,
                    added=(SINGLES, BURST), by_admin=BY_ADMIN, requests=requests, messages=messages,
                    token_requests=1)  # fmt: skip
    return judge(seen)


def test_a_run_that_announces_each_entry_once_and_the_burst_once_meets_every_goal() -> None:
    assert len(SINGLES) <= WATCH_BURST < len(BURST)
    j = judged()

    assert j.enough_looks and j.few_requests and j.small_answers
    assert j.announced_once and j.bursts_as_one_message and j.nothing_else
    assert [p.requests for p in j.polls] == [1, 1, 2]
    assert j.polls[2].queries == ("Id gt 204", "Id eq 201 or Id eq 202 or Id eq 203")
    assert (j.requests_outside_polls, j.requests_per_poll_max, j.response_bytes_per_poll_max) == (0, 2, 800)
    assert (j.added_singly, j.announced_singly, j.missing, j.repeated, j.unexpected) == (3, 3, 0, 0, 0)
    assert (j.burst_sizes, j.summaries, j.not_autoblacklist_added, j.other_slack_messages) == ((10,), 1, 2, 0)
    section = report(j)
    assert "**NO**" not in "\n".join(section.lines)
    assert section.figures["announced_once"] and section.figures["bursts_as_one_message"]


@pytest.mark.parametrize(
    ("posts", "wrong"),
    [
        ((announced(201), announced(203), summarised(BURST)), (1, 0, 0)),
        ((*POSTS, announced(202)), (0, 1, 0)),
        ((*POSTS, announced(BY_ADMIN[0])), (0, 0, 1)),
        ((*POSTS, announced(BURST[0])), (0, 0, 1)),
    ],
    ids=["missing", "repeated", "an admin's entry", "an entry of the burst alone"],
)
def test_an_entry_added_alone_not_announced_exactly_once_is_a_failure(
    posts: tuple[dict[str, Any], ...], wrong: tuple[int, int, int]
) -> None:
    j = judged(posts)

    assert not j.announced_once
    assert (j.missing, j.repeated, j.unexpected) == wrong
    row = next(line for line in report(j).lines if line.startswith("| new entries announced one by one"))
    assert row.endswith("each once: **NO** |"), row
    assert report(j).figures["announced_once"] is False


@pytest.mark.parametrize(
    "posts",
    [
        tuple(announced(e) for e in SINGLES),
        (*POSTS, summarised(BURST)),
        (*(announced(e) for e in SINGLES), summarised(BURST[:-1])),
        (*(announced(e) for e in SINGLES), summarised(tuple(range(206, 216)))),
    ],
    ids=["no summary", "two summaries", "the wrong size", "not naming the burst's first entry"],
)
def test_a_burst_not_summarised_once_by_its_size_is_a_failure(posts: tuple[dict[str, Any], ...]) -> None:
    j = judged(posts)

    assert not j.bursts_as_one_message
    assert j.announced_once  # the burst's summary is not an entry announced alone
    assert report(j).figures["bursts_as_one_message"] is False


UPDATE = message(*new_block(entry(201), gone=True), method="chat.update")


@pytest.mark.parametrize(
    ("posts", "requests", "goal", "row"),
    [
        ((*POSTS, UPDATE), LOOKS, "nothing_else", "| other chat.postMessage / chat.update calls | 1 | 0: **NO** |"),
        (POSTS, (*LOOKS, xapi({"$filter": "Id eq 205"})), "few_requests", "| 3 / 1.67 | <= 2: **NO** |"),
        (POSTS[:3], LOOKS[:3], "enough_looks", "| looks seen | 2 | >= 3: **NO** |"),  # no look after the burst
    ],
    ids=["another Slack message", "a look of three requests", "fewer looks than waited for"],
)
def test_a_run_that_misses_a_goal_is_a_failure_with_its_count(
    posts: tuple[dict[str, Any], ...], requests: tuple[dict[str, Any], ...], goal: str, row: str
) -> None:
    j = judged(posts, requests)

    assert getattr(j, goal) is False and report(j).figures[goal] is False
    assert j.announced_once and j.small_answers
    assert any(line.endswith(row) for line in report(j).lines), report(j).lines


@pytest.mark.parametrize(("check", "small"), [(WHOLE_LIST // 10 - 1, True), (WHOLE_LIST // 10, False)])
def test_a_look_whose_answers_reach_a_tenth_of_the_whole_list_is_a_failure(check: int, small: bool) -> None:
    # the last look: its opening query's answer (400 bytes) and its check of the entries announced
    j = judged(requests=(*LOOKS[:-1], xapi({"$filter": "Id eq 201 or Id eq 202 or Id eq 203"}, check - 400)))

    assert (j.response_bytes_per_poll_max, j.few_requests, j.small_answers) == (check, True, small)


def test_xapi_requests_before_the_first_look_are_counted_apart() -> None:
    j = judged(requests=(TOKEN, xapi({"$filter": "Id eq 1"}), *LOOKS[1:]))

    assert (j.requests_outside_polls, len(j.polls), j.requests_per_poll_max) == (1, 3, 2)
    assert report(j).figures["requests_outside_polls"] == 1


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
    assert watch["polls"] >= 1 + len(smoke.watch_batches) and watch["enough_looks"], watch
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
