"""``GET /metrics`` after real flows, read with prometheus_client's own parser; what it serves before any
event; ``/readyz`` for each dependency."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from bot import metrics
from bot.calls import Lane
from bot.domain.entries import Kind
from bot.domain.model import State
from bot.slack import outbox
from bot.slack.buttons import APPROVE, DENY, UNDO
from bot.tasks import Limits

from .conftest import MakeHarness
from .harness import ALICE, BOB, CAROL, GENERAL, Harness

#: (sample name, labels as sorted pairs) -> value
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def get(harness: Harness, path: str) -> tuple[int, str, str]:
    async with aiohttp.ClientSession() as http, http.get(f"{harness.url}{path}") as response:
        return response.status, response.headers["Content-Type"], await response.text()


async def scrape(harness: Harness) -> Samples:
    status, content_type, text = await get(harness, "/metrics")
    assert status == 200 and content_type.startswith("text/plain; version=0.0.4")
    return parse(text)


def parse(text: str) -> Samples:
    """Each sample, by name and labels; the empty ``pbx`` of a bot that serves one PBX left out, as Prometheus
    leaves out an empty label."""
    return {
        (sample.name, tuple(sorted((k, v) for k, v in sample.labels.items() if (k, v) != ("pbx", "")))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def grew(before: Samples, after: Samples, name: str, **labels: str) -> float:
    """How much the sample ``name`` with ``labels`` grew between two scrapes (the counters are the process's)."""
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0.0) - before.get(key, 0.0)


async def test_metrics_after_a_flow_count_what_happened_and_name_no_one(harness: Harness) -> None:
    harness.pbx.add_entry(43, "198.51.100.9")
    harness.pbx.add_number("n1", "+15550100")
    before = await scrape(harness)
    approved = await harness.open_card("42")
    denied = await harness.open_card("43")
    await harness.open_card("number +15550100")  # still waiting
    harness.pbx.fail_next(503, method="DELETE")  # one try fails; the retry goes through
    harness.slack.rate_limit_next("chat.update", retry_after=0)

    await harness.click(APPROVE, approved, user=BOB)
    await harness.click(DENY, denied, user=BOB)
    await harness.settle()
    await harness.click(UNDO, approved, user=CAROL)
    await harness.settle()
    after = await scrape(harness)

    assert grew(before, after, "unblock_requests_opened_total", kind="address", rule="") == 2  # no rules file
    assert grew(before, after, "unblock_requests_opened_total", kind="number", rule="") == 1
    assert grew(before, after, "unblock_requests_ended_total", kind="address", outcome="unblocked") == 1
    assert grew(before, after, "unblock_requests_ended_total", kind="address", outcome="denied") == 1
    assert grew(before, after, "unblock_undos_total", kind="address", outcome="undone") == 1  # counted apart
    assert grew(before, after, "unblock_decision_seconds_count", decision="approve") == 1
    assert grew(before, after, "unblock_decision_seconds_count", decision="deny") == 1
    assert after[("unblock_requests_pending", ())] == 1
    # exactly what 3CX was asked, by operation and status
    assert grew(before, after, "unblock_threecx_requests_total", operation="delete_blocklist", status="503") == 1
    assert grew(before, after, "unblock_threecx_requests_total", operation="delete_blocklist", status="204") == 1
    assert grew(before, after, "unblock_threecx_requests_total", operation="get_blocklist", status="200") == 2
    assert grew(before, after, "unblock_threecx_requests_total", operation="get_blacklistnumbers", status="200") == 1
    assert grew(before, after, "unblock_threecx_request_duration_seconds_count", operation="delete_blocklist") == 2
    assert grew(before, after, "unblock_threecx_token_fetches_total", result="ok") == 1
    assert grew(before, after, "unblock_slack_rate_limited_total", kind="update") == 1
    assert after[("unblock_slack_queue_length", (("kind", "post"),))] == 0
    # no address, number, user, channel or request in any label, and each label value one word
    # (but the rule's label: the operator's names of the rules, "" for the settings)
    values = {value for _, pairs in after for name, value in pairs if name != "rule"}
    labels = " ".join(values)
    for private in ("203.0.113.7", "198.51.100.9", "15550100", ALICE, BOB, GENERAL, approved.id, "(42)"):
        assert private not in labels
    assert [value for value in values if not value or any(c.isspace() for c in value)] == []
    # beside what counted: the process, the version, and the series that have not counted yet
    process = {"process_cpu_seconds_total", "process_resident_memory_bytes", "process_start_time_seconds"}
    assert {*process, "process_open_fds", "python_info"} <= {name for name, _ in after}
    built = [(labels, value) for (name, labels), value in after.items() if name == "unblock_build_info"]
    assert built == [((("version", version("unblock-bot")),), 1)]
    assert [
        (name, labels) for name, labels in ZERO_FROM_THE_START if (name, tuple(sorted(labels.items()))) not in after
    ] == []


#: the series an alert needs from the start, with what they are for
ZERO_FROM_THE_START = [
    *[("unblock_requests_opened_total", {"kind": kind.value, "rule": ""}) for kind in Kind],
    *[("unblock_requests_ended_total", {"kind": kind.value, "outcome": outcome}) for kind in Kind
      for outcome in ("unblocked", "failed", "denied", "cancelled", "withdrawn", "expired")],
    *[("unblock_undos_total", {"kind": kind.value, "outcome": state.value}) for kind in Kind
      for state in (State.UNDONE, State.UNDO_FAILED)],
    *[("unblock_decision_seconds_count", {"decision": decision}) for decision in ("approve", "deny", "cancel")],
    *[("unblock_threecx_requests_total", {"operation": operation, "status": status})
      for operation in ("get_blocklist", "delete_blocklist", "post_blocklist", "get_blacklistnumbers",
                        "delete_blacklistnumbers", "post_blacklistnumbers", "patch_blocklist", "get_eventlogs",
                        "get_sipdevices", "get_antihackingsettings", "post_token")
      for status in ("401", "403", "429", "500", "502", "503", "504", "no_answer")],
    *[("unblock_threecx_token_fetches_total", {"result": result}) for result in ("ok", "refused", "failed")],
    *[("unblock_slack_rate_limited_total", {"kind": kind}) for kind in ("post", "update", "note", "view")],
    *[("unblock_background_work_refused_total", {"lane": lane.value}) for lane in Lane],
    *[("unblock_slack_api_errors_total", {"method": method, "error": error}) for method in metrics.SLACK_METHODS
      for error in ("invalid_auth", "token_revoked", "missing_scope", "not_in_channel", "channel_not_found",
                    "http_500", "http_502", "http_503")],
]  # fmt: skip


def test_every_known_series_is_served_at_zero_before_any_event(tmp_path: Path) -> None:
    """In a process that has done nothing yet but know its one PBX, so that ``increase(...) > 0`` sees the first
    event."""
    program = (
        "import sys; from bot import metrics; metrics.pbxes_known({'': []}); "
        "sys.stdout.write(metrics.render().decode())"
    )
    done = subprocess.run(
        [sys.executable, "-c", program],
        cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    samples = parse(done.stdout)

    missing = [(name, labels) for name, labels in ZERO_FROM_THE_START
               if samples.get((name, tuple(sorted(labels.items())))) != 0]  # fmt: skip
    assert missing == []
    assert [value for _, pairs in samples for name, value in pairs
            if name != "rule" and any(c.isspace() for c in value)] == []  # fmt: skip


def test_every_slack_method_whose_errors_are_counted_starts_at_zero() -> None:
    source = "\n".join(path.read_text() for path in (Path(__file__).resolve().parents[1] / "bot").rglob("*.py"))
    counted = set(re.findall(r'(?:SLACK_ERRORS\.labels|counted)\("([^"]+)"', source))
    counted |= {method for method, _ in outbox.KINDS.values()}  # the outbox's methods

    assert {"response_url", "chat.postMessage", "views.open"} <= counted
    assert sorted(counted - set(metrics.SLACK_METHODS)) == []


async def test_slack_errors_and_refused_work_are_counted(make_harness: MakeHarness) -> None:
    harness = await make_harness(limits={Lane.COMMANDS: Limits(concurrency=1, max_pending=1)})
    before = await scrape(harness)
    harness.pbx.delay = 0.5  # the first command holds the lane while the second arrives
    harness.slack.fail_next("chat.postMessage", "channel_not_found")

    await harness.command("42")
    await harness.command("list")
    await harness.settle()
    after = await scrape(harness)

    assert grew(before, after, "unblock_background_work_refused_total", lane="commands") == 1
    assert (
        grew(before, after, "unblock_slack_api_errors_total", method="chat.postMessage", error="channel_not_found") == 1
    )


async def test_the_watcher_says_how_long_ago_it_last_looked(make_harness: MakeHarness) -> None:
    harness = await make_harness(UNBLOCK_WATCH_CHANNEL="C0WATCH", UNBLOCK_WATCH_INTERVAL="5")
    assert harness.bot is not None and harness.bot.served[0].watcher is not None
    await harness.bot.served[0].watcher.look()

    after = await scrape(harness)

    assert 0 <= after[("unblock_watch_last_success_age_seconds", ())] < 60


# /readyz --------------------------------------------------------------------------------------------------


async def readiness(harness: Harness) -> tuple[int, dict[str, Any]]:
    status, _, text = await get(harness, "/readyz")
    return status, json.loads(text)


async def test_not_ready_while_3cx_refuses_the_bot_a_token(harness: Harness) -> None:
    harness.pbx.expire_tokens()
    harness.pbx.token_status = 401

    status, body = await readiness(harness)

    assert status == 503 and body["status"] == "not ready" and body["checks"]["database"] == "ok"
    assert body["checks"]["3cx"].startswith("no 3CX access token: ")
    assert harness.pbx.client_secret not in str(body)
    harness.pbx.token_status = None
    assert (await readiness(harness))[0] == 200  # and ready again once 3CX gives one


async def test_not_ready_while_the_database_does_not_answer(make_harness: MakeHarness) -> None:
    harness = await make_harness(DATABASE_WAIT="0")
    assert harness.bot is not None
    # the bot holds a 3CX token now
    assert await readiness(harness) == (200, {"status": "ready", "checks": {"database": "ok", "3cx": "ok"}})
    await harness.bot.served[0].sweeper.stop()
    await harness.bot.store.close()  # as if the database had gone away

    status, body = await readiness(harness)

    assert status == 503 and body["checks"]["3cx"] == "ok"
    assert body["checks"]["database"].startswith("the database does not answer")
