"""``python -m bench --smoke`` runs every scenario end to end, and its counts show that something was measured.

Only counts are checked, never a time or a rate: the machines that run this are shared and noisy. The judging of
sections 5 and 6 is also checked without processes, on what the fakes would record of a run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench import bigwatch, provenance, replicas
from bench.approvals import Round, deletes_of, deletes_row
from bench.fakes import MAX_ENTRIES, entry_ip, entry_of
from bench.load import Result
from bench.many import Clicks, Many
from bench.provider import click_figures, many_figures
from bench.scenarios import Sizes
from bench.served import looks_of
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
    "## 6. At a provider's scale",
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


@pytest.mark.long(60)
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
        timeout=180,
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

    # 6: many PBXes from one process: every PBX looked at at least twice, each look 1 or 2 requests (some 2: the
    # check of a new block announced), one token each; every request got its card; every click on a quick PBX its
    # DELETE while the slow ones were still being asked; two replicas: one token per PBX, one replica at a time,
    # every PBX of the killed one taken over; the big list: looks of 1 or 2 small requests, its lookup measured
    scale = summary["provider"]
    many, clicks, shared, big = scale["goals_1_2"], scale["goal_3"], scale["goal_4"], scale["goal_5"]
    assert many["pbxes"] == smoke.pbxes and many["looks_per_pbx_min"] >= 2, many
    assert many["looks"] >= 2 * smoke.pbxes and many["looks_of_two_requests"] > 0, many
    assert 1 <= many["requests_per_look_max"] <= 2 and many["few_requests_per_look"], many
    assert (many["token_requests"], many["token_requests_per_pbx_max"]) == (smoke.pbxes, 1), many
    assert many["sent"] == many["asked"] == many["cards"] == smoke.fleet_requests, many
    assert many["rss_before_mb"] is not None and many["rss_after_mb"] is not None, many
    quick = (smoke.pbxes - smoke.slow_pbxes) * smoke.clicks_per_pbx
    assert quick > 0 and clicks["clicks"] == clicks["cards"] == clicks["click_to_delete_measured"] == quick, clicks
    assert clicks["deletes"] == quick and clicks["deletes_are_the_entries"], clicks
    assert clicks["burst_answered"] == clicks["burst_sent"] == smoke.fleet_burst, clicks
    assert clicks["slow_requests_received"] > clicks["slow_requests_answered"], clicks
    assert shared["cards"] == shared["asked"] == 2 * smoke.pbxes, shared
    assert shared["looks"] >= smoke.pbxes and shared["looks_unattributed"] == 0, shared
    assert sum(shared["watched_before_kill"].values()) == smoke.pbxes and shared["one_replica_at_a_time"], shared
    assert shared["shared_evenly"], shared
    assert shared["victim_watched"] > 0 and shared["taken_over"] == shared["victim_watched"], shared
    assert shared["pbxes_with_one_token_request"] == smoke.pbxes and shared["one_token_each"], shared
    assert big["entries"] == smoke.big_list and big["looks"] >= bigwatch.LOOKS, big
    assert sorted(set(big["requests_per_look"])) == [1, 2] and big["few_requests_per_look"], big
    assert 0 < max(big["response_bytes_per_look"]) < big["whole_list_bytes"] and big["full_scans"] == 0, big
    assert big["lookup_card_posted"] and big["lookup_parts"]["blocklist"] > 0, big


# -- section 6 judged without processes: what the fake PBXes would record ---------------------------------------


def at(t: float, query: dict[str, str], by: str | None = None, path: str = "/xapi/v1/Blocklist") -> dict[str, Any]:
    sizes = {"request_bytes": 250, "response_bytes": 400}
    return {"method": "GET", "path": path, "query": query, "received": t, "by": by, **sizes}


def test_a_look_is_its_opening_query_and_its_check_and_nothing_a_lookup_asks() -> None:
    records = [
        at(0, {"$orderby": "Id desc", "$top": "1"}),
        at(1, {}, path="/xapi/v1/Blocklist(7)"),
        at(2, {"$filter": "contains(Message,'198.18.0.7')"}, path="/xapi/v1/EventLogs"),
        at(60, {"$filter": "Id gt 9", "$orderby": "Id", "$top": "500"}),
        at(60.1, {"$filter": "IPAddrMask in ('198.18.0.7','198.18.0.7/32')"}),
        at(60.2, {"$filter": "Id in (10,11)", "$top": "2"}),
        at(120, {"$filter": "Id gt 11", "$orderby": "Id", "$top": "500"}),
        at(120.1, {"$filter": "Id eq 10 or Id eq 11", "$top": "2"}),  # from a 3CX that refuses `in`
    ]

    assert [[r["received"] for r in look] for look in looks_of(records)] == [[0], [60, 60.2], [120, 120.1]]


def many(records: list[list[dict[str, Any]]], cards: int = 4) -> Many:
    return Many(len(records), 60.0, records, 1.0, 4, Result(), cards, [(0, 60.0), (4, 61.0)], 0)


def test_looks_of_more_than_two_requests_or_fewer_than_two_looks_miss_goal_one() -> None:
    two = [at(0, {"$orderby": "Id desc"}), at(60, {"$filter": "Id gt 9"}), at(60.1, {"$filter": "Id eq 10"})]

    assert many_figures(many([two, two]))["few_requests_per_look"]
    assert not many_figures(many([two, [*two, at(60.2, {"$filter": "Id eq 11"})]]))["few_requests_per_look"]
    assert not many_figures(many([two, two[:1]]))["few_requests_per_look"]
    assert not many_figures(many([[], []]))["few_requests_per_look"]  # no look at all measures nothing
    assert not many_figures(many([two, two], cards=3))["memory_within_goal"]  # a card missing


def test_no_click_measured_misses_goal_three() -> None:
    clicked = Result(latencies=[0.01], sent={0: 1.0})
    fine = Clicks(9, 1, 1, Result(), clicked, [0.02], 1, True, Result(), 3, 0)

    assert click_figures(fine)["click_to_delete_within_goal"]
    assert not click_figures(Clicks(9, 1, 0, Result(), Result(), [], 0, True, Result(), 3, 0))[
        "click_to_delete_within_goal"
    ]
    assert not click_figures(Clicks(9, 1, 1, Result(), clicked, [0.2], 1, True, Result(), 3, 0))[
        "click_to_delete_within_goal"
    ]


def observed(looks: list[list[tuple[float, str | None]]], tokens: int = 1) -> replicas.Observed:
    return replicas.Observed(
        pbxes=len(looks),
        interval=60.0,
        looks=tuple(tuple(replicas.Look(t, by, 1) for t, by in pbx) for pbx in looks),
        killed_at=10.0,
        victim="a",
        token_requests=(tokens,) * len(looks),
        cards=2 * len(looks),
        asked=2 * len(looks),
    )


def test_replicas_sharing_the_watch_and_taking_over_in_time_meet_goal_four() -> None:
    j = replicas.judge(observed([[(0, "a"), (35, "b")], [(1, "b")]]))

    assert (j.watched_before, j.victim_held, j.takeover_s) == ({"a": 1, "b": 1}, 1, (25.0,))
    assert j.one_token_each and j.one_at_a_time and j.shared and j.took_over


def test_a_pbx_handed_on_an_interval_after_its_last_look_is_the_new_holders_own() -> None:
    # the second PBX: looked at by a, then by b 65 s later (a handed it on): b's at the kill, not taken over
    j = replicas.judge(observed([[(0, "a"), (35, "b")], [(-60, "a"), (5, "b")]]))

    assert (j.watched_before, j.both_before, j.victim_held) == ({"a": 1, "b": 1}, 1, 1)
    assert j.one_at_a_time and j.shared and j.took_over


@pytest.mark.parametrize(
    ("looks", "tokens", "missed"),
    [
        ([[(0, "a"), (5, "b")], [(1, "b")]], 1, "one_at_a_time"),  # both look at one PBX while both live
        ([[(0, "a"), (41, "b")]], 1, "took_over"),  # 31 s after the kill
        ([[(0, "a")]], 1, "took_over"),  # never taken over
        ([[(0, None)]], 1, "one_at_a_time"),  # a look nobody can be said to have made
        ([[(0, "a"), (35, "b")]], 2, "one_token_each"),
        ([[], []], 1, "took_over"),  # no look at all measures nothing
        ([[(0, "a"), (35, "b")], [(1, "a"), (36, "b")]], 1, "shared"),  # a watched both
    ],
    ids=[
        "looked at by both",
        "taken over late",
        "not taken over",
        "sender unknown",
        "two tokens",
        "no looks",
        "not shared",
    ],
)
def test_replicas_missing_goal_four(looks: list[list[tuple[float, str | None]]], tokens: int, missed: str) -> None:
    assert getattr(replicas.judge(observed(looks, tokens)), missed) is False


def big_seen(records: list[dict[str, Any]], lookup: int = 3) -> bigwatch.Observed:
    asked = tuple(at(100, {"$filter": "IPAddrMask in ('10.0.0.1','10.0.0.1/32')"}) for _ in range(lookup))
    first = (*asked, at(100, {}, path="/xapi/v1/AntiHackingSettings"))
    return bigwatch.Observed(400_000, 80_000_000, tuple(records), "10.0.0.1", asked, True, 0, first)


def test_the_big_list_judged() -> None:
    opening = at(0, {"$orderby": "Id desc", "$top": "1"})
    looks = [opening, at(5, {"$filter": "Id gt 9"}), at(10, {"$filter": "Id gt 11"}), at(10.1, {"$filter": "Id eq 10"})]
    j = bigwatch.judge(big_seen(looks))

    assert [look[0] for look in j.looks] == [1, 1, 2] and j.few_requests and j.small_answers and j.lookup_within_goal
    assert not bigwatch.judge(big_seen([*looks, at(10.2, {"$filter": "Id eq 12"})])).few_requests
    assert not bigwatch.judge(big_seen(looks[:2])).few_requests  # fewer looks than waited for
    assert not bigwatch.judge(big_seen(looks, lookup=4)).lookup_within_goal
    assert not bigwatch.judge(big_seen(looks, lookup=0)).lookup_within_goal  # nothing measured
