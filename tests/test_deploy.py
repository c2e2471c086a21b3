"""The deployment files as the bot needs them: deploy/unblock-bot.service gives it its own user, restarts on
failure within a start limit, a stop timeout longer than its drain, and hardening; deploy/unblock-bot@.service is
the same for one customer each, with its own settings and directory; deploy/alerts.yml alerts on metrics the bot
really serves, per PBX where they are about 3CX. What needs operating-system tools (``systemd-analyze verify`` and
``security`` of the units, ``promtool`` on the rules and on the metrics text) is checked by .ci/deploy-files, beside
the tests."""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot import metrics
from bot.app import Bot

from .fakes.slack import FakeSlack
from .fakes.threecx import FakeThreeCX
from .harness import base_env
from .processes import ROOT, BotProcess

UNIT = ROOT / "deploy" / "unblock-bot.service"
#: one process per customer, the instance name (``%i``) naming the customer
TEMPLATE = ROOT / "deploy" / "unblock-bot@.service"
ALERTS = ROOT / "deploy" / "alerts.yml"
#: the console script the package installs (pyproject.toml, [project.scripts]), as the test environment has it
SCRIPT = Path(sys.executable).parent / "unblock-bot"

Unit = dict[str, dict[str, list[str]]]


def parse(text: str) -> Unit:
    """section -> key -> every value given, in order (systemd allows a key more than once)."""
    unit: Unit = {}
    section: dict[str, list[str]] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = unit.setdefault(line[1:-1], {})
            continue
        key, equals, value = line.partition("=")
        assert equals, f"not a key=value line: {raw!r}"
        section.setdefault(key.strip(), []).append(value.strip())
    return unit


def service(key: str) -> str:
    """The one value of ``key`` in the unit's [Service] section."""
    [value] = parse(UNIT.read_text())["Service"][key]
    return value


def seconds(timespan: str) -> float:
    """A systemd time span of seconds and minutes (``90``, ``90s``, ``1min 30s``) in seconds."""
    parts = re.findall(r"([0-9]+)\s*(min|s|sec)?\s*", timespan)
    assert "".join(n + (u or "") for n, u in parts) == re.sub(r"\s", "", timespan), f"not understood: {timespan!r}"
    return sum(int(n) * (60 if u == "min" else 1) for n, u in parts)


def test_the_unit_runs_the_installed_script_as_a_user_of_its_own() -> None:
    assert service("ExecStart").split() == ["/opt/unblock-bot/.venv/bin/unblock-bot", "run"]
    assert SCRIPT.name == "unblock-bot"
    assert "DynamicUser" not in parse(UNIT.read_text())["Service"]
    assert "DATABASE_URL=sqlite:////var/lib/unblock-bot/unblock.db" in UNIT.read_text()
    assert parse(UNIT.read_text())["Unit"]["After"] == ["network-online.target"]
    assert parse(UNIT.read_text())["Unit"]["Wants"] == ["network-online.target"]


def test_a_bot_that_keeps_failing_at_start_is_given_up_and_shown_failed() -> None:
    unit = parse(UNIT.read_text())
    # systemd reads the start limit in [Unit] only (in [Service] it is an unknown key, and there is no limit)
    assert not {"StartLimitIntervalSec", "StartLimitBurst", "StartLimitInterval"} & unit["Service"].keys()
    [interval] = unit["Unit"]["StartLimitIntervalSec"]
    [burst] = unit["Unit"]["StartLimitBurst"]

    # the limit can be reached: a start failing at once is tried again every RestartSec, so the burst's starts
    # fit in the interval with room for each start's own time
    assert int(burst) >= 3 and seconds(service("RestartSec")) * (int(burst) - 1) <= seconds(interval) / 2
    # and a crash now and then (fewer than the burst within the interval) is still restarted
    assert seconds(interval) <= 30 * 60


def test_systemd_waits_longer_than_the_bot_drains_on_sigterm() -> None:
    # Bot.close gives the work in flight drain_timeout seconds, then the Slack messages waiting as long again
    drain = inspect.signature(Bot.close).parameters["drain_timeout"].default
    assert isinstance(drain, float) and drain > 0

    assert seconds(service("TimeoutStopSec")) >= 2 * drain + 20


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("User", "unblock-bot"),
        ("Group", "unblock-bot"),
        # the SQLite file's directory: made by systemd, writable though ProtectSystem=strict, the working directory
        ("StateDirectory", "unblock-bot"),
        ("WorkingDirectory", "/var/lib/unblock-bot"),
        ("EnvironmentFile", "/etc/unblock-bot/env"),
        ("Restart", "on-failure"),
        ("RestartPreventExitStatus", "2"),  # what the bot exits with when a setting is wrong: not restarted
        ("KillSignal", "SIGTERM"),
        ("SystemCallErrorNumber", "EPERM"),  # a call filtered out fails; it does not kill the bot
        ("MemoryDenyWriteExecute", "yes"),
        ("PrivateUsers", "yes"),
        ("RemoveIPC", "yes"),
        ("DevicePolicy", "closed"),
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("PrivateTmp", "yes"),
        ("ProtectHome", "yes"),
        ("CapabilityBoundingSet", ""),
        ("RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"),
    ],
)
def test_the_unit_runs_as_its_own_user_restarts_on_failure_and_is_hardened(key: str, value: str) -> None:
    assert service(key) == value


def test_the_unit_filters_system_calls_and_keeps_to_a_user_namespace_of_its_own() -> None:
    hardening = parse(UNIT.read_text())["Service"]

    assert hardening["SystemCallFilter"] == ["@system-service", "~@privileged @resources"]
    # /proc/stat stays readable: the process metrics need its boot time
    assert "ProcSubset" not in hardening


def test_the_time_spans_are_read_as_systemd_reads_them() -> None:
    assert [seconds(s) for s in ("90", "90s", "1min 30s", "2min")] == [90, 90, 90, 120]
    with pytest.raises(AssertionError):
        seconds("ninety")


def test_the_template_is_the_unit_but_for_the_lines_that_name_the_customer() -> None:
    unit, template = parse(UNIT.read_text()), parse(TEMPLATE.read_text())
    # the lines of their own: the customer's settings, its directory (its SQLite file's, by the default
    # DATABASE_URL relative to the working directory) and its name in what systemctl shows
    own = {"Unit": {"Description"}, "Service": {"EnvironmentFile", "StateDirectory", "WorkingDirectory"}}

    assert unit.keys() == template.keys()
    for section, keys in unit.items():
        mine = own.get(section, set())
        assert {k: v for k, v in template[section].items() if k not in mine} == {
            k: v for k, v in keys.items() if k not in mine
        }, section
    assert template["Service"]["EnvironmentFile"] == ["/etc/unblock-bot/%i.env"]
    assert template["Service"]["StateDirectory"] == ["unblock-bot/%i"]
    assert template["Service"]["WorkingDirectory"] == ["/var/lib/unblock-bot/%i"]
    [description] = template["Unit"]["Description"]
    assert "%i" in description


def environment_file(path: Path) -> dict[str, str]:
    """What systemd passes on from an EnvironmentFile= of plain ``KEY=value`` lines: every one, empty or not."""
    lines = [line.strip() for line in path.read_text().splitlines()]
    pairs = [line.partition("=") for line in lines if line and not line.startswith(("#", ";"))]
    return {key.strip(): value.strip() for key, _, value in pairs}


async def test_the_bot_starts_with_its_settings_from_an_environment_file_in_its_working_directory(
    slack: FakeSlack, pbx: FakeThreeCX, tmp_path: Path
) -> None:
    # /etc/unblock-bot/env is .env.example filled in (docs/install.md), and the state directory is the
    # working directory, with no .env in it
    state = tmp_path / "unblock-bot"
    state.mkdir()
    settings = environment_file(ROOT / ".env.example")
    assert "" in settings.values() and settings["DATABASE_URL"] == "sqlite:///unblock.db"
    filled = {name: value for name, value in base_env(slack, pbx, "").items() if name != "DATABASE_URL"}
    process = BotProcess(settings | filled, state, "check")

    assert await process.run() == 0, process.stdout + process.stderr

    assert process.stdout.splitlines()[-1] == "All checks passed."
    assert process.stderr == ""  # no log lines mixed in: below WARNING nothing is logged unless LOG_LEVEL asks
    assert (state / "unblock.db").is_file()  # the example's relative DATABASE_URL lands in the state directory


def alert_rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(ALERTS.read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def served_names() -> set[str]:
    """The names of every series the bot's registry renders for GET /metrics, those it declares included (a
    series of a PBX appears once the bot serves that PBX)."""
    lines = metrics.render().decode().splitlines()
    declared = {line.split()[2] for line in lines if line.startswith("# TYPE ")}
    return declared | {re.split(r"[{ ]", line, maxsplit=1)[0] for line in lines if line and not line.startswith("#")}


def test_the_alerts_are_the_ones_the_readme_suggests_each_saying_what_to_do() -> None:
    rules = alert_rules()

    expressions = " ".join(rule["expr"] for rule in rules)
    for suggested in (
        "unblock_watch_last_success_age_seconds > 600",
        'unblock_threecx_requests_total{status="403"}',
        "unblock_requests_pending",
        "unblock_background_work_refused_total",
        "unblock_threecx_answering == 0",
    ):
        assert suggested in expressions
    assert len({rule["alert"] for rule in rules}) == len(rules)
    for rule in rules:
        assert rule["labels"]["severity"] in ("warning", "critical"), rule
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], rule
    # the waiting requests are an alert once they outlast the default request TTL (15 minutes)
    [pending] = [rule for rule in rules if "unblock_requests_pending" in rule["expr"]]
    assert seconds(pending["for"].replace("m", "min")) > 15 * 60


def test_the_alerts_use_only_series_the_bot_serves_and_no_operation_names() -> None:
    served = served_names()
    used = {name for rule in alert_rules() for name in re.findall(r"\bunblock_[a-z_]+", rule["expr"])}

    assert used and used <= served, used - served
    # the values of the operation label (delete_blocklist, post_token, …) are the bot's to rename
    assert not [rule["alert"] for rule in alert_rules() if "operation" in rule["expr"]]


def test_the_alerts_about_3cx_are_per_pbx_and_name_it() -> None:
    about_3cx = [rule for rule in alert_rules() if re.search(r"\bunblock_(threecx|watch)_", rule["expr"])]

    assert len(about_3cx) == 4
    for rule in about_3cx:
        # a sum keeps the pbx label; a gauge compared alone keeps all of its series' labels
        grouped = re.findall(r"\bby \(([^)]*)\)", rule["expr"])
        assert all({"job", "instance", "pbx"} <= {label.strip() for label in by.split(",")} for by in grouped), rule
        # named only when it has a name: the one PBX of the THREECX_* settings has pbx=""
        assert "{{ with $labels.pbx }}" in rule["annotations"]["summary"], rule


def test_the_series_an_increase_alert_needs_are_served_from_zero_before_the_first_event() -> None:
    # Prometheus's increase() over a series whose first sample is already 1 is 0: the first 403 or refused login
    # would go unseen if the series appeared only with it. Rendered by a fresh interpreter: the other tests of this
    # worker count events in this one. Each PBX's series start once the bot knows its PBXes, as at its start
    code = "from bot import metrics; metrics.pbxes_known({'': [], 'acme': []}); print(metrics.render().decode())"
    text = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60).stdout

    for pbx in ("", "acme"):
        labelled = rf'\{{(?=[^}}]*\bpbx="{pbx}")'
        assert re.search(rf'^unblock_threecx_requests_total{labelled}[^}}]*status="403"[^}}]*\}} 0\.0$', text, re.M)
        assert re.search(
            rf'^unblock_threecx_token_fetches_total{labelled}[^}}]*result="refused"[^}}]*\}} 0\.0$', text, re.M
        )
    assert re.search(r'^unblock_background_work_refused_total\{lane="commands"\} 0\.0$', text, re.M)
