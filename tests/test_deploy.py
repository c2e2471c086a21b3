"""deploy/unblock-bot.service: ``systemd-analyze verify`` accepts it (and refuses a broken copy), and it says what
the bot needs: its own user, restarts on failure, a stop timeout longer than the bot's drain, hardening."""

from __future__ import annotations

import inspect
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.app import Bot

from .fakes.slack import FakeSlack
from .fakes.threecx import FakeThreeCX
from .harness import base_env
from .processes import ROOT, BotProcess

UNIT = ROOT / "deploy" / "unblock-bot.service"
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


def with_exec_start(text: str, program: Path) -> str:
    """The unit with ExecStart's program replaced by ``program`` (its arguments kept)."""
    changed, count = re.subn(r"(?m)^ExecStart=\S+", f"ExecStart={program}", text)
    assert count == 1
    return changed


def verify(text: str, folder: Path) -> tuple[int, list[str]]:
    """``systemd-analyze verify`` of ``text`` as unblock-bot.service: its exit status, and the lines it printed
    about the unit (each names it; lines about other units on the machine are not the unit's problems)."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.fail(
            "systemd-analyze is not installed; install Debian's systemd package, e.g. "
            "`apt-get install systemd` (.ci/run does so)",
            pytrace=False,
        )
    folder.mkdir(exist_ok=True)
    path = folder / "unblock-bot.service"
    path.write_text(text)
    done = subprocess.run([analyze, "verify", str(path)], capture_output=True, text=True, timeout=60, check=False)
    said = (done.stdout + done.stderr).splitlines()
    return done.returncode, [line for line in said if "unblock-bot.service" in line]


def installed_unit() -> str:
    """The unit, starting the console script of this test environment."""
    if not SCRIPT.is_file():
        pytest.fail(f"{SCRIPT} is missing: install the package into this environment (pip install -e .)")
    return with_exec_start(UNIT.read_text(), SCRIPT)


def test_systemd_analyze_verify_accepts_the_unit(tmp_path: Path) -> None:
    status, problems = verify(installed_unit(), tmp_path)

    assert (status, problems) == (0, [])


@pytest.mark.parametrize(
    ("broken", "said"),
    [
        (lambda text: text.replace("\nPrivateTmp=yes", "\nPrivateTpm=yes"), "Unknown key 'PrivateTpm'"),
        (lambda text: re.sub(r"(?m)^TimeoutStopSec=.*$", "TimeoutStopSec=ninety", text), "ninety"),
        (lambda text: with_exec_start(text, SCRIPT.with_name("unblock-bot-missing")), "unblock-bot-missing"),
    ],
    ids=["misspelled-directive", "malformed-value", "missing-program"],
)
def test_systemd_analyze_verify_finds_a_broken_copy(tmp_path: Path, broken: Callable[[str], str], said: str) -> None:
    text = installed_unit()
    copy = broken(text)
    assert copy != text

    status, problems = verify(copy, tmp_path)

    # systemd reports an unknown key or a bad value on a line of its own and goes on (status 0), and a program
    # that cannot be run with status 1: a problem is either
    assert status != 0 or problems, problems
    assert any(said in line for line in problems), problems


def test_the_unit_runs_the_installed_script_as_a_user_of_its_own() -> None:
    assert service("ExecStart").split() == ["/opt/unblock-bot/.venv/bin/unblock-bot", "run"]
    assert SCRIPT.name == "unblock-bot"
    assert service("User") == service("Group") == "unblock-bot"
    assert "DynamicUser" not in parse(UNIT.read_text())["Service"]
    # the SQLite file's directory: made by systemd, writable though ProtectSystem=strict, the working directory
    assert service("StateDirectory") == "unblock-bot"
    assert service("WorkingDirectory") == "/var/lib/unblock-bot"
    assert service("EnvironmentFile") == "/etc/unblock-bot/env"
    assert "DATABASE_URL=sqlite:////var/lib/unblock-bot/unblock.db" in UNIT.read_text()
    assert parse(UNIT.read_text())["Unit"]["After"] == ["network-online.target"]
    assert parse(UNIT.read_text())["Unit"]["Wants"] == ["network-online.target"]


def test_the_unit_restarts_on_failure_but_not_for_settings_errors() -> None:
    assert service("Restart") == "on-failure"
    assert service("RestartPreventExitStatus") == "2"  # what the bot exits with when a setting is wrong


def test_systemd_waits_longer_than_the_bot_drains_on_sigterm() -> None:
    # Bot.close gives the work in flight drain_timeout seconds, then the Slack messages waiting as long again
    drain = inspect.signature(Bot.close).parameters["drain_timeout"].default
    assert isinstance(drain, float) and drain > 0

    assert service("KillSignal") == "SIGTERM"
    assert seconds(service("TimeoutStopSec")) >= 2 * drain + 20


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("PrivateTmp", "yes"),
        ("ProtectHome", "yes"),
        ("CapabilityBoundingSet", ""),
        ("RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"),
    ],
)
def test_the_unit_is_hardened(key: str, value: str) -> None:
    assert service(key) == value


def test_the_time_spans_are_read_as_systemd_reads_them() -> None:
    assert [seconds(s) for s in ("90", "90s", "1min 30s", "2min")] == [90, 90, 90, 120]
    with pytest.raises(AssertionError):
        seconds("ninety")


def environment_file(path: Path) -> dict[str, str]:
    """What systemd passes on from an EnvironmentFile= of plain ``KEY=value`` lines: every one, empty or not."""
    lines = [line.strip() for line in path.read_text().splitlines()]
    pairs = [line.partition("=") for line in lines if line and not line.startswith(("#", ";"))]
    return {key.strip(): value.strip() for key, _, value in pairs}


async def test_the_bot_starts_with_its_settings_from_an_environment_file_in_its_working_directory(
    slack: FakeSlack, pbx: FakeThreeCX, tmp_path: Path
) -> None:
    # /etc/unblock-bot/env is .env.example filled in (README.md, Deployment), and the state directory is the
    # working directory, with no .env in it
    state = tmp_path / "unblock-bot"
    state.mkdir()
    settings = environment_file(ROOT / ".env.example")
    assert "" in settings.values() and settings["DATABASE_URL"] == "sqlite:///unblock.db"
    filled = {name: value for name, value in base_env(slack, pbx, "").items() if name != "DATABASE_URL"}
    process = BotProcess(settings | filled, state, "check")

    assert await process.run() == 0, process.stdout + process.stderr

    assert process.stdout.splitlines()[-1] == "All checks passed."
    assert (state / "unblock.db").is_file()  # the example's relative DATABASE_URL lands in the state directory
