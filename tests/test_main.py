"""``python -m bot`` as a real process: settings, the preflight check, HTTP mode, Socket Mode, restarts."""

from __future__ import annotations

import asyncio
import json
import socket
import sqlite3
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qsl

import aiohttp
import pytest

from bot.slack.buttons import APPROVE

from .fakes.slack import FakeSlack
from .fakes.threecx import FakeThreeCX
from .harness import ALICE, BOB, SIGNING_SECRET, Harness, base_env, block_text, buttons, wait_for
from .ports import free_port
from .processes import ROOT, BotProcess, healthy, start_http_bot
from .test_check import garbage, newer

# settings -----------------------------------------------------------------------------------------


async def test_missing_settings_are_all_listed_with_where_they_come_from(tmp_path: Path) -> None:
    process = BotProcess({}, tmp_path)

    assert await process.run() == 2

    for name in (
        "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "THREECX_BASE_URL", "THREECX_CLIENT_ID",
        "THREECX_CLIENT_SECRET", "UNBLOCK_APPROVERS",
    ):  # fmt: skip
        assert f"{name} is not set" in process.stderr
    assert ".env" in process.stderr and "Traceback" not in process.stderr


async def test_malformed_settings_are_explained_with_where_they_come_from_without_secrets(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("PORT=http\nTHREECX_TIMEOUT=5\n")
    env = {
        "SLACK_BOT_TOKEN": "xapp-1-A0APP-secret-4711",
        "SLACK_SIGNING_SECRET": "s3cret-signing",
        "THREECX_BASE_URL": "https://admin:pbx-admin-password-77@pbx.acme.test",
        "THREECX_CLIENT_ID": "bot",
        "THREECX_CLIENT_SECRET": "k" * 32,
        "UNBLOCK_APPROVERS": "bob, U0123",
        "THREECX_TIMEOUT": "-1",
        "UNBLOCK_ALLOW_SELF_APPROVAL": "maybe",
        "UNBLOCK_CHANNELS": "#general",
        "DATABASE_URL": "mysql://user:hunter2-db-password@db/unblock",
        "UNBLOCK_ALLOW_DURATIONS": "1h,forever",
        "UNBLOCK_WATCH_CHANNEL": "#security",
    }
    process = BotProcess(env, tmp_path)

    assert await process.run() == 2

    err = process.stderr
    assert "10 settings need attention" in err and "Traceback" not in err
    assert "UNBLOCK_ALLOW_DURATIONS='1h,forever' has 'forever': each duration is whole seconds, or a number and" in err
    assert "  - SLACK_BOT_TOKEN is the app-level token (xapp-…), which belongs in SLACK_APP_TOKEN;" in err
    assert "THREECX_BASE_URL='https://***@pbx.acme.test' should not carry a user name or password" in err
    assert "UNBLOCK_APPROVERS='bob, U0123' has items that are neither user ids" in err
    assert "PORT='http' should be a port number from 1 to 65535 (set in .env)." in err
    assert (
        "THREECX_TIMEOUT='-1' should be a duration from 0.1s to 5m: seconds like 90, or a number and a unit (s, m, h, "
        "d or w) like 90s, 15m, 1h, 7d or 2w (set in the environment)." in err
    )
    assert "UNBLOCK_ALLOW_SELF_APPROVAL='maybe' should be true or false" in err
    assert "UNBLOCK_CHANNELS='#general'" in err and "UNBLOCK_WATCH_CHANNEL='#security'" in err
    assert "DATABASE_URL is neither a SQLite URL like sqlite:///unblock.db nor a PostgreSQL URL" in err
    for secret in ("hunter2-db-password", "secret-4711", "k" * 32, "pbx-admin-password-77"):
        assert secret not in err + process.stdout


async def test_an_unchanged_copy_of_the_example_settings_names_every_example_value(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text((ROOT / ".env.example").read_text())
    process = BotProcess({}, tmp_path)

    assert await process.run() == 2

    err = process.stderr
    assert "SLACK_BOT_TOKEN is still the placeholder from .env.example" in err
    assert "THREECX_BASE_URL='https://pbx.example.com' is still the example address from .env.example" in err
    assert "UNBLOCK_APPROVERS='U0123456789,S0123456789' still holds the example ids from .env.example" in err
    for name in ("SLACK_SIGNING_SECRET", "THREECX_CLIENT_SECRET"):
        assert f"{name} is not set" in err
    assert "Traceback" not in err


#: settings that are all fine, and a rules file
RULES_ENV = {
    "SLACK_BOT_TOKEN": "xoxb-rules-test-token",
    "SLACK_SIGNING_SECRET": "rules-test-signing-secret",
    "THREECX_BASE_URL": "https://pbx.acme.test",
    "THREECX_CLIENT_ID": "unblock-bot",
    "THREECX_CLIENT_SECRET": "rules-test-client-secret",
    "UNBLOCK_APPROVERS": "UBOB",
    "UNBLOCK_RULES": "rules.toml",
}


async def test_a_broken_rules_file_stops_the_start_with_one_line_per_problem(tmp_path: Path) -> None:
    (tmp_path / "rules.toml").write_text(
        '[[rule]]\nname = "Wide networks"\nwider_than = 24\napprovals = 0\n\n'
        '[[rule]]\nname = "Caller numbers"\nkind = "phone"\naprovers = ["U0VOICE1"]\n'
    )
    process = BotProcess(RULES_ENV, tmp_path)

    assert await process.run() == 2

    problems = [line for line in process.stderr.splitlines() if line.startswith("  - ")]
    assert problems == [
        "  - UNBLOCK_RULES='rules.toml': rule 1 \"Wide networks\": approvals must be a whole number of 1 or more "
        "(got 0).",
        '  - UNBLOCK_RULES=\'rules.toml\': rule 2 "Caller numbers": "aprovers" is not a key of a rule (did you mean '
        "approvers?); the keys are name, networks, wider_than, wider_than_v6, kind, added_by, approvers, approvals, "
        "allow, auto, auto_on_watch, allow_max, remind_after, escalate_after, escalate_to.",
        '  - UNBLOCK_RULES=\'rules.toml\': rule 2 "Caller numbers": kind must be "ip" or "number" (got "phone").',
    ]
    assert "Traceback" not in process.stderr and process.stdout == ""


async def test_help_exits_0_and_names_the_program_as_invoked(tmp_path: Path) -> None:
    process = BotProcess({}, tmp_path, "check", "--help")

    assert await process.run() == 0

    assert process.stdout.startswith("usage: python -m bot [-h] [{run,check}]")
    assert "check" in process.stdout and process.stderr == ""


async def test_an_unknown_command_is_a_usage_error(tmp_path: Path) -> None:
    process = BotProcess({}, tmp_path, "chekc")

    assert await process.run() == 2

    assert "usage: python -m bot" in process.stderr and "invalid choice: 'chekc'" in process.stderr


# storage that cannot be used ----------------------------------------------------------------------


# run and check each say it their way (each way a file cannot be used: tests/test_check.py)
@pytest.mark.parametrize(("make", "command"), [(garbage, []), (newer, ["check"])])
async def test_a_database_that_cannot_be_used_stops_the_bot_with_one_sentence(
    slack: FakeSlack, pbx: FakeThreeCX, tmp_path: Path, make: Callable[[Path], str], command: list[str]
) -> None:
    database = tmp_path / "unblock.db"
    says = make(database)
    port = free_port()
    env = {**base_env(slack, pbx, str(database)), "HOST": "127.0.0.1", "PORT": str(port)}
    process = BotProcess(env, tmp_path, *command)

    assert await process.run() == 1

    if command:
        assert process.stderr == ""
        [line] = [line for line in process.stdout.splitlines() if "Database" in line]
        assert line.startswith("FAIL Database: ") and process.stdout.endswith("Some checks failed; see above.\n")
    else:
        [line] = process.stderr.splitlines()
        assert line.startswith("unblock-bot cannot start: ")
    assert says in line and str(database) in line
    assert "Traceback" not in process.stderr + process.stdout
    assert [c.method for c in slack.calls if c.method != "auth.test"] == []
    # check goes on to 3CX: its only changes are DELETEs of entries that do not exist, which change nothing
    assert [r.method for r in pbx.requests if r.method not in ("GET", "DELETE") and r.path != "/connect/token"] == []
    assert list(pbx.entries) == [42]


async def test_a_port_already_taken_stops_the_bot_with_one_sentence(
    slack: FakeSlack, pbx: FakeThreeCX, tmp_path: Path
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {**base_env(slack, pbx, str(tmp_path / "unblock.db")), "HOST": "127.0.0.1", "PORT": str(port)}
        process = BotProcess(env, tmp_path)

        assert await process.run() == 1

    *logged, line = process.stderr.splitlines()
    assert [json.loads(entry)["message"] for entry in logged] == ["the database is open"]
    assert line == (
        f"unblock-bot cannot start: cannot listen on 127.0.0.1:{port} (Address already in use): another program "
        "may be using that port; set HOST and PORT to an address the bot may take"
    )


async def test_a_locked_database_is_named(slack: FakeSlack, pbx: FakeThreeCX, tmp_path: Path) -> None:
    database = tmp_path / "unblock.db"
    holder = sqlite3.connect(database)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        process = BotProcess({**base_env(slack, pbx, str(database)), "DATABASE_WAIT": "2"}, tmp_path)
        assert await process.run() == 1
    finally:
        holder.close()

    *tries, line = process.stderr.splitlines()
    assert "is locked by another program" in line and str(database) in line
    assert tries and all(json.loads(t)["message"] == "the database is not up yet; trying again" for t in tries)


async def test_an_unreachable_postgresql_is_one_sentence_without_the_password(
    slack: FakeSlack, pbx: FakeThreeCX, tmp_path: Path
) -> None:
    port = free_port()
    url = f"postgresql://unblock:db-password-hunter2@127.0.0.1:{port}/unblock"
    process = BotProcess({**base_env(slack, pbx, ""), "DATABASE_URL": url, "DATABASE_WAIT": "1"}, tmp_path)

    assert await process.run() == 1

    *tries, line = process.stderr.splitlines()
    assert line.startswith("unblock-bot cannot start: cannot connect to PostgreSQL at 127.0.0.1:")
    assert f"127.0.0.1:{port}" in line and "DATABASE_URL" in line
    assert 1 <= len(tries) <= 3  # one line per try: at 0.5 and 1 s
    assert "db-password-hunter2" not in process.stderr + process.stdout


# HTTP mode ----------------------------------------------------------------------------------------


async def test_http_mode_serves_a_request_across_a_restart_and_keeps_secrets_out_of_debug_logs(
    processes: list[BotProcess], slack: FakeSlack, pbx: FakeThreeCX, tmp_path: Path
) -> None:
    url = "sqlite:///var/lib/unblock-bot/unblock.db"  # three slashes: under the working folder
    first, driver = await start_http_bot(processes, slack, pbx, tmp_path, LOG_LEVEL="DEBUG", DATABASE_URL=url)
    reply, _ = await driver.command("42", user=ALICE)
    assert reply.status == 200
    await wait_for(lambda: driver.cards(), what="the card")
    request_id = buttons(driver.cards()[0].blocks)[0]["value"]
    assert await first.stop() == 0

    second, driver = await start_http_bot(processes, slack, pbx, tmp_path, LOG_LEVEL="DEBUG", DATABASE_URL=url)
    reply, _ = await driver.click(APPROVE, request_id, user=BOB)
    assert reply.status == 200
    await wait_for(lambda: "unblocked" in block_text(driver.cards()[0].blocks), what="the outcome")
    assert await second.stop() == 0

    assert [r.path for r in pbx.calls("DELETE")] == ["/xapi/v1/Blocklist(42)"]
    logs = first.stderr + second.stderr
    lines = [json.loads(line) for line in logs.splitlines()]
    assert any(line.get("to") == "unblocked" and line.get("actor") == BOB for line in lines)
    file = tmp_path / "var/lib/unblock-bot/unblock.db"
    opened = [line["database"] for line in lines if line["message"] == "the database is open"]
    assert opened == [f"SQLite file {file.resolve(strict=True)}"] * 2
    # an ordinary start, restart and stop logs no warning
    assert {line["level"] for line in lines} == {"DEBUG", "INFO"}, logs
    assert "will be unused" not in logs
    secrets = [slack.bot_token, SIGNING_SECRET, pbx.client_secret, *pbx.tokens_issued]
    seen_by_people = json.dumps([c.args for c in slack.calls] + [p.body for p in slack.response_posts])
    for secret in secrets:
        assert secret not in logs
        assert secret not in seen_by_people


async def test_sigterm_finishes_the_work_in_flight(
    processes: list[BotProcess], slack: FakeSlack, pbx: FakeThreeCX, tmp_path: Path
) -> None:
    process, driver = await start_http_bot(processes, slack, pbx, tmp_path)
    await driver.command("42")
    await wait_for(lambda: driver.cards(), what="the card")
    request_id = buttons(driver.cards()[0].blocks)[0]["value"]
    pbx.delay = 0.5

    await driver.click(APPROVE, request_id, user=BOB)
    await wait_for(lambda: pbx.calls("DELETE"), what="the DELETE to start")
    assert await process.stop() == 0

    assert 42 not in pbx.entries
    assert "was approved by <@UBOB>, and it is unblocked.*" in block_text(driver.cards()[0].blocks)


# Socket Mode --------------------------------------------------------------------------------------


async def test_socket_mode_reconnects_a_dropped_websocket_and_the_probes_tell(
    processes: list[BotProcess], slack: FakeSlack, pbx: FakeThreeCX, tmp_path: Path
) -> None:
    port = free_port()
    env = base_env(slack, pbx, str(tmp_path / "unblock.db"))
    del env["SLACK_SIGNING_SECRET"]
    env.update(SLACK_APP_TOKEN=slack.app_token, SLACK_SOCKET_PING_INTERVAL="0.3", HOST="127.0.0.1", PORT=str(port))
    env["LOG_LEVEL"] = "DEBUG"
    process = BotProcess(env, tmp_path)
    processes.append(process)
    await process.start()
    await slack.wait_for_socket(timeout=20)
    url = f"http://127.0.0.1:{port}"
    await healthy(url)
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{url}/readyz") as response:
            assert response.status == 200 and (await response.json())["checks"]["slack"] == "ok"
        async with http.get(f"{url}/metrics") as response:  # the metrics on the probes' port
            assert response.status == 200 and response.headers["Content-Type"].startswith("text/plain")
            assert "unblock_requests_pending 0.0" in await response.text()

    slack.fail_next("apps.connections.open", "internal_error", times=10_000)  # Slack refuses new sockets
    await slack.drop_socket()
    async with aiohttp.ClientSession() as http:

        async def health() -> int:
            async with http.get(f"{url}/healthz") as response:
                body = await response.json()
                assert body["mode"] == "socket" and body["connected"] == (response.status == 200)
                return response.status

        async with asyncio.timeout(20):
            while await health() == 200:
                await asyncio.sleep(0.05)
        assert await health() == 503
        async with http.get(f"{url}/readyz") as response:
            body = await response.json()
            assert response.status == 503 and body["checks"]["slack"] == "the websocket to Slack is down"
            assert body["checks"]["database"] == body["checks"]["3cx"] == "ok"  # it names only what is wrong
        opens = len(slack.calls_to("apps.connections.open"))
        slack.stop_failing("apps.connections.open")
        await slack.wait_for_socket(timeout=20)
        await healthy(url)
        assert await health() == 200

    assert len(slack.calls_to("apps.connections.open")) > opens  # it kept trying, and got through
    driver = process.driver = Harness(slack, pbx, env)
    ack = await slack.send_envelope("slash_commands", dict(parse_qsl(driver.command_body("42")[0])))
    assert ack["envelope_id"] and not ack.get("payload")  # acknowledged, empty: the card is the answer
    await wait_for(lambda: driver.cards(), what="the card after reconnecting")
    click = driver.click_body(APPROVE, buttons(driver.cards()[0].blocks)[0]["value"], user=BOB)[0]
    await slack.send_envelope("interactive", json.loads(dict(parse_qsl(click))["payload"]))
    await wait_for(lambda: "unblocked" in block_text(driver.cards()[0].blocks), what="the outcome")
    assert await process.stop() == 0

    assert [r.path for r in pbx.calls("DELETE")] == ["/xapi/v1/Blocklist(42)"]
    assert slack.calls_to("apps.connections.open")[0].token == slack.app_token
    for secret in (slack.app_token, slack.bot_token, pbx.client_secret, *pbx.tokens_issued, *slack.tickets):
        assert secret not in process.stderr
    assert "ticket=***" in process.stderr  # Slack's websocket URL was logged, its ticket masked


#: what the log says of each failed try to connect, one line a try, for each way Slack gives no connection
NO_CONNECTION = {
    # nothing listens at Slack's address (the workspace is known without asking Slack)
    "unreachable": "could not reach Slack at 127.0.0.1:{port} (connection refused); trying again in ",
    "wrong app token": "Slack refused the app-level token (invalid_auth): check SLACK_APP_TOKEN; trying again in ",
    # Slack gives a websocket's address, but something on the way refuses websockets
    "websocket refused": "Failed to connect (error: 503, message='Invalid response status'",
}


@pytest.mark.parametrize("how", list(NO_CONNECTION))
async def test_socket_mode_without_a_connection_answers_the_probes_logs_a_line_a_try_and_stops_on_sigterm(
    processes: list[BotProcess], slack: FakeSlack, pbx: FakeThreeCX, tmp_path: Path, how: str
) -> None:
    port, nowhere = free_port(), free_port()
    env = base_env(slack, pbx, str(tmp_path / "unblock.db"))
    del env["SLACK_SIGNING_SECRET"]
    env.update(SLACK_APP_TOKEN=slack.app_token, SLACK_SOCKET_PING_INTERVAL="1", HOST="127.0.0.1", PORT=str(port))
    if how == "unreachable":
        env.update(SLACK_API_URL=f"http://127.0.0.1:{nowhere}/api/", SLACK_TEAM_ID=slack.team_id)
    elif how == "wrong app token":
        env["SLACK_APP_TOKEN"] = "xapp-1-A0WRONG-1-0123456789abcdef"
    else:
        slack.refuse_sockets = True
    process = BotProcess(env, tmp_path)
    processes.append(process)
    await process.start()

    url = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as http:
        async with asyncio.timeout(20):  # the probes answer, while there is no connection
            while not await _answers(http, f"{url}/healthz"):
                await asyncio.sleep(0.05)
        async with http.get(f"{url}/healthz") as response:
            assert response.status == 503 and (await response.json())["connected"] is False
        async with http.get(f"{url}/readyz") as response:
            body = await response.json()
            assert response.status == 503 and body["checks"]["slack"] == "the websocket to Slack is down"
            assert body["checks"]["database"] == body["checks"]["3cx"] == "ok"
    failed_try = NO_CONNECTION[how].format(port=nowhere)
    await process.logged(failed_try, times=2)
    assert await process.stop(timeout=20) == 0  # SIGTERM ends the tries

    assert "Traceback" not in process.stderr
    lines = [json.loads(line) for line in process.stderr.splitlines()]
    tries = [line["message"] for line in lines if failed_try in line["message"]]
    assert [line["message"] for line in lines if line["level"] in ("WARNING", "ERROR")] == tries
    if how != "websocket refused":  # the pause grows from one second
        assert tries[0].endswith("trying again in 1 second") and tries[1].endswith("trying again in 2 seconds")
    made = {"wrong app token": len(slack.calls_to("apps.connections.open")), "websocket refused": slack.sockets_refused}
    if how in made:  # one line a try (but for a try under way when SIGTERM came)
        assert len(tries) <= made[how] <= len(tries) + 1


async def _answers(http: aiohttp.ClientSession, url: str) -> bool:
    try:
        async with http.get(url):
            return True
    except aiohttp.ClientConnectionError:
        return False


async def test_sigterm_while_slack_has_not_answered_at_start_stops_the_bot(
    processes: list[BotProcess], slack: FakeSlack, pbx: FakeThreeCX, tmp_path: Path
) -> None:
    reached = asyncio.Event()

    async def silent(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        reached.set()  # the bot asks who it is (auth.test), and no answer comes

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    async with server:
        address = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/api/"
        env = {**base_env(slack, pbx, str(tmp_path / "unblock.db")), "SLACK_API_URL": address}
        process = BotProcess(env, tmp_path)
        processes.append(process)
        await process.start()
        async with asyncio.timeout(20):
            await reached.wait()

        assert await process.stop(timeout=20) == 0

    lines = [json.loads(line) for line in process.stderr.splitlines()]
    assert lines[-1]["message"] == "stopped before the bot had started"
    assert {line["level"] for line in lines} == {"INFO"}, process.stderr
