"""What ``unblock-bot check`` tells an operator when something is wrong: plain sentences, one level of
brackets, no Python names, advice where there is something to check, and the bot's own name."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from .fakes.slack import FakeSlack
from .fakes.threecx import FakeThreeCX
from .harness import base_env
from .ports import free_port
from .processes import BotProcess
from .test_rules_file import EXAMPLE

BASE_URL_ADVICE = (
    "Check THREECX_BASE_URL: it should be the PBX's root address, the one its web client opens at (like "
    "https://pbx.acme.net), without /xapi/v1."
)


async def check(slack: FakeSlack, pbx: FakeThreeCX, tmp_path: Path, **env: str) -> tuple[int, list[str]]:
    """Run ``check``: its exit status and its lines."""
    process = BotProcess({**base_env(slack, pbx, str(tmp_path / "unblock.db")), **env}, tmp_path, "check")
    status = await process.run()
    assert "Traceback" not in process.stdout + process.stderr
    return status, process.stdout.splitlines()


def plain(line: str) -> bool:
    """No bracket inside another, and nothing after the last word."""
    depth = 0
    for char in line:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth > 1:
            return False
    return line == line.rstrip()


async def test_a_refused_client_secret_is_said_with_one_level_of_brackets(
    slack: FakeSlack, pbx: FakeThreeCX, tmp_path: Path
) -> None:
    pbx.token_status = 401

    status, lines = await check(slack, pbx, tmp_path)

    assert status == 1
    assert (
        f"FAIL 3CX at {pbx.base_url}: no access token (3CX refused the API client id or secret; HTTP 401: "
        "invalid_client). Check THREECX_CLIENT_ID and THREECX_CLIENT_SECRET (3CX: Admin > Integrations > API)." in lines
    )
    assert all(plain(line) for line in lines), lines


async def test_unreachable_hosts_are_named_with_what_to_check_and_without_python_names(
    slack: FakeSlack, pbx: FakeThreeCX, tmp_path: Path
) -> None:
    pbx_host, slack_host = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    nowhere = f"http://{pbx_host}"

    status, lines = await check(slack, pbx, tmp_path, THREECX_BASE_URL=nowhere, SLACK_API_URL=f"http://{slack_host}/")

    assert status == 1
    assert lines[1] == (
        f"FAIL Slack: {slack_host} could not be reached (connection refused). Check the DNS, that no firewall stops "
        f"this machine from making outbound HTTPS connections to {slack_host}, and HTTPS_PROXY in the environment if "
        "it must use a proxy."
    )
    assert lines[-2] == (
        f"FAIL 3CX at {nowhere}: no access token (the PBX {pbx_host} could not be reached: connection refused). "
        f"Check the host in THREECX_BASE_URL, the DNS, and that no firewall stops this machine from reaching "
        f"{pbx_host} over HTTPS."
    )
    assert "SLACK_BOT_TOKEN" not in "".join(lines)
    assert not any(re.search(r"[A-Z][a-z]+[A-Z]\w*Error", line) for line in lines), lines
    assert all(plain(line) for line in lines), lines


async def test_a_base_url_that_answers_404_gets_advice_about_the_address(
    slack: FakeSlack, pbx: FakeThreeCX, tmp_path: Path
) -> None:
    wrong = f"{pbx.base_url}/webclient"

    status, lines = await check(slack, pbx, tmp_path, THREECX_BASE_URL=wrong)

    assert status == 1
    assert lines[-2] == f"FAIL 3CX at {wrong}: no access token (not found; HTTP 404). {BASE_URL_ADVICE}"
    assert all(plain(line) for line in lines), lines


async def test_a_list_query_answered_404_gets_the_same_advice(
    slack: FakeSlack, pbx: FakeThreeCX, tmp_path: Path
) -> None:
    no_route = '{"error": {"code": "", "message": "No route for GET /xapi/v1/Blocklist"}}'
    pbx.fail_next(404, method="GET", body=no_route, content_type="application/json")

    status, lines = await check(slack, pbx, tmp_path)

    assert status == 1
    assert lines[-2] == (
        f"FAIL 3CX at {pbx.base_url}: reading the IP blocklist failed (not found; HTTP 404: No route for GET "
        f"/xapi/v1/Blocklist). {BASE_URL_ADVICE}"
    )
    assert all(plain(line) for line in lines), lines


async def test_a_base_url_with_the_xapi_path_is_refused_before_anything_is_asked(
    slack: FakeSlack, pbx: FakeThreeCX, tmp_path: Path
) -> None:
    process = BotProcess(
        {**base_env(slack, pbx, str(tmp_path / "unblock.db")), "THREECX_BASE_URL": f"{pbx.base_url}/xapi/v1"},
        tmp_path,
        "check",
    )

    assert await process.run() == 2

    assert (
        f"THREECX_BASE_URL='{pbx.base_url}/xapi/v1' should be the PBX's root address, without /xapi/v1: "
        f"{pbx.base_url} (set in the environment)." in process.stderr
    )
    assert pbx.requests == []


async def test_one_setting_with_a_problem_is_counted_in_the_singular(
    slack: FakeSlack, pbx: FakeThreeCX, tmp_path: Path
) -> None:
    process = BotProcess(
        {**base_env(slack, pbx, str(tmp_path / "unblock.db")), "UNBLOCK_TIMEZONE": "Europe/Atlantis"},
        tmp_path,
        "check",
    )

    assert await process.run() == 2

    assert "unblock-bot cannot start: 1 setting needs attention." in process.stderr
    assert (
        "UNBLOCK_TIMEZONE='Europe/Atlantis' is not a time zone this system knows: give an IANA name like "
        "Europe/Berlin, America/New_York or UTC (set in the environment)." in process.stderr
    )
    assert "Traceback" not in process.stderr and pbx.requests == []


async def test_the_watch_interval_is_said_in_words(slack: FakeSlack, pbx: FakeThreeCX, tmp_path: Path) -> None:
    status, lines = await check(slack, pbx, tmp_path, UNBLOCK_WATCH_CHANNEL="C0WATCH", UNBLOCK_WATCH_INTERVAL="90")

    assert status == 0, lines
    assert f"ok   3CX at {pbx.base_url}: new blocks can be asked for (watching at an interval of 90 seconds)." in lines


async def test_the_invitation_to_a_channel_names_the_bot_as_slack_knows_it(
    slack: FakeSlack, pbx: FakeThreeCX, tmp_path: Path
) -> None:
    signed_in = slack._methods["auth.test"]

    def renamed(args: dict[str, Any]) -> dict[str, Any]:
        return {**signed_in(args), "user": "blocklist-helper"}

    slack._methods["auth.test"] = renamed
    slack.not_in_channel.add("C0WATCH")

    status, lines = await check(slack, pbx, tmp_path, UNBLOCK_WATCH_CHANNEL="C0WATCH")

    assert status == 1
    assert lines[1].startswith("ok   Slack: signed in as @blocklist-helper in workspace Acme")
    assert "FAIL Slack: the bot is not in the watch channel C0WATCH; invite it with /invite @blocklist-helper." in lines


async def test_check_names_the_rules_it_read(slack: FakeSlack, pbx: FakeThreeCX, tmp_path: Path) -> None:
    (tmp_path / "rules.toml").write_text(EXAMPLE)

    status, lines = await check(slack, pbx, tmp_path, UNBLOCK_RULES="rules.toml")

    assert status == 0, lines
    assert (
        "ok   Rules: 4 rules in rules.toml: Branch offices (auto), Wide networks (2 approvals), Caller numbers, "
        "Everything else." in lines
    )
    assert all(plain(line) for line in lines), lines


async def test_check_counts_the_rules_beyond_the_first_ten(slack: FakeSlack, pbx: FakeThreeCX, tmp_path: Path) -> None:
    rules = "".join(
        f'[[rule]]\nname = "Office {n}"\nnetworks = ["10.{n // 256}.{n % 256}.0/24"]\n' for n in range(20_000)
    )
    (tmp_path / "rules.toml").write_text(rules)

    status, lines = await check(slack, pbx, tmp_path, UNBLOCK_RULES="rules.toml")

    assert status == 0, lines
    offices = ", ".join(f"Office {n}" for n in range(10))
    assert f"ok   Rules: 20,000 rules in rules.toml: {offices} and 19,990 more." in lines


@pytest.mark.parametrize(
    ("env", "said"),
    [
        ({}, "ok   Reminders: after 10 minutes; escalation: off."),
        (
            {"UNBLOCK_REQUEST_TTL": "1d", "UNBLOCK_ESCALATE_AFTER": "2h", "UNBLOCK_ESCALATE_TO": "U0LEAD,S0ONCALL"},
            "ok   Reminders: after 10 minutes; escalation: after 2 hours to U0LEAD, S0ONCALL.",
        ),
        (
            {"UNBLOCK_REQUEST_TTL": "5m"},
            "ok   Reminders: never, as requests expire first (UNBLOCK_REQUEST_TTL, 5 minutes); escalation: off.",
        ),
    ],
)
async def test_check_says_what_reminders_and_escalation_will_do(
    slack: FakeSlack, pbx: FakeThreeCX, tmp_path: Path, env: dict[str, str], said: str
) -> None:
    status, lines = await check(slack, pbx, tmp_path, **env)

    assert status == 0, lines
    assert said in lines
    assert all(plain(line) for line in lines), lines
