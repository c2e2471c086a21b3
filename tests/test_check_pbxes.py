"""``unblock-bot check`` of a bot that serves several PBXes (``UNBLOCK_PBXES``): Slack once, then a block of lines for
each PBX, headed by its name and address, printed whole in the file's order though the PBXes are checked all at once;
``check <name>`` checks that PBX only, and a name that is none is refused with the names there are."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web

from bot.check import UnknownPbx, chosen, preflight
from bot.config import load_settings
from bot.logs import Redactor

from .fakes.openapi_check import check_against_spec, sent_by_the_bot
from .fakes.slack import FakeSlack
from .fakes.threecx import FakeThreeCX, RecordedRequest
from .harness import base_env
from .processes import BotProcess

NAMES = ("alpha", "beta")
#: what 3CX knows about addresses, the last of what check reads from a PBX (all at once)
EVIDENCE = ("/xapi/v1/EventLogs", "/xapi/v1/SipDevices", "/xapi/v1/AntiHackingSettings")


@pytest.fixture
async def fleet() -> AsyncIterator[dict[str, FakeThreeCX]]:
    """A fake 3CX for each of ``NAMES``, each with an API client secret of its own."""
    fakes = {name: FakeThreeCX() for name in NAMES}
    for name, fake in fakes.items():
        fake.client_secret = f"{name}-3cx-client-secret-{len(name)}x9Q"
        await fake.start()
        fake.add_entry(42, "203.0.113.7")
    yield fakes
    for fake in fakes.values():
        await fake.close()
    # every request check sent is one 3CX's OpenAPI document allows
    assert [check_against_spec(sent_by_the_bot(fake.requests)) for fake in fakes.values()] == [[], []]


def fleet_env(slack: FakeSlack, fleet: dict[str, FakeThreeCX], tmp_path: Path, **tables: str) -> dict[str, str]:
    """The settings of a bot serving ``fleet`` through a PBXes file, each PBX's secret in an environment variable of
    its own; ``tables``: more lines of a PBX's ``[[pbx]]`` table, by its name."""
    written = [
        f'[[pbx]]\nname = "{name}"\nurl = "{fake.base_url}"\nclient_id = "{fake.client_id}"\n'
        f'client_secret_env = "{name.upper()}_SECRET"\n{tables.get(name, "")}\n'
        for name, fake in fleet.items()
    ]
    (tmp_path / "pbxes.toml").write_text("".join(written))
    env = base_env(slack, next(iter(fleet.values())), str(tmp_path / "unblock.db"))
    for name in ("THREECX_BASE_URL", "THREECX_CLIENT_ID", "THREECX_CLIENT_SECRET"):
        del env[name]
    return {
        **env,
        "UNBLOCK_PBXES": str(tmp_path / "pbxes.toml"),
        **{f"{name.upper()}_SECRET": fake.client_secret for name, fake in fleet.items()},
    }


async def check(env: dict[str, str], name: str | None = None) -> tuple[bool, list[str]]:
    """Run ``check`` (``check <name>``) in this process as ``unblock-bot check`` does: whether it passed, and its
    lines."""
    settings = load_settings(env)
    lines: list[str] = []
    passed = await preflight(settings, Redactor(settings.secrets()), lines.append, chosen(settings, name))
    return passed, lines


def block(lines: list[str], fake: FakeThreeCX, name: str) -> list[str]:
    """The lines of the block of the PBX ``name``, its heading included."""
    start = lines.index(f"PBX {name} at {fake.base_url}:")
    ends = [i for i, line in enumerate(lines) if i > start and (line.startswith("PBX ") or " checks " in line)]
    return lines[start : ends[0]]


def opening(name: str, fake: FakeThreeCX, channels: list[str]) -> list[str]:
    """The first lines of the block of a PBX of the file without rules of its own: its heading, its channels' lines,
    its rules, and its 3CX's token, blocklist and right to remove."""
    where = f"ok   3CX at {fake.base_url}"
    return [
        f"PBX {name} at {fake.base_url}:",
        *channels,
        f"ok   Rules: no rules file ({name}'s rules, or UNBLOCK_RULES), so one approval by {name}'s approvers (or "
        "UNBLOCK_APPROVERS) for every entry.",
        "ok   Reminders: after 10 minutes; escalation: off.",
        f"{where}: the API client 'unblock-bot' got an access token.",
        f"{where}: the IP blocklist can be read.",
    ]


async def test_two_pbxes_are_two_blocks_each_with_its_own_token_and_channels_asked_once(
    slack: FakeSlack, fleet: dict[str, FakeThreeCX], tmp_path: Path
) -> None:
    alpha, beta = fleet["alpha"], fleet["beta"]
    env = fleet_env(
        slack,
        fleet,
        tmp_path,
        alpha='channels = ["C0ALPHA"]\n',
        beta='channels = ["C0BETA"]\nwatch_channel = "C0BETAWATCH"\n',
    )
    env["UNBLOCK_APPROVAL_CHANNEL"] = "C0APPROVE"  # both PBXes' approvals channel

    passed, lines = await check(env)

    assert passed, lines
    assert lines[0].startswith("ok   Database: ") and lines[1].startswith("ok   Slack: signed in as @unblock-bot")
    approvals = "ok   Slack: the bot can post in the approvals channel C0APPROVE."
    first, second = block(lines, alpha, "alpha"), block(lines, beta, "beta")
    assert first[:7] == opening("alpha", alpha, [approvals, "ok   Slack: the bot can post in the channel C0ALPHA."])
    watch = "ok   Slack: the bot can post in the watch channel C0BETAWATCH."
    assert second[:8] == opening(
        "beta", beta, [watch, approvals, "ok   Slack: the bot can post in the channel C0BETA."]
    )
    assert (
        second[8] == f"ok   3CX at {beta.base_url}: new blocks can be asked for (watching at an interval of 1 minute)."
    )
    # then each list's right to remove, and what 3CX knows about addresses
    assert [len(first), len(second)] == [10, 12] and all(line.startswith("ok   3CX") for line in first[7:] + second[9:])
    assert lines == [*lines[:2], *first, *second, "All checks passed."]
    # Slack was asked once about each channel, however many PBXes post in it
    asked = sorted(call.args["channel"] for call in slack.calls if call.method == "conversations.info")
    assert asked == ["C0ALPHA", "C0APPROVE", "C0BETA", "C0BETAWATCH"]
    assert [call.method for call in slack.calls].count("auth.test") == 1
    # each PBX keeps its own token in the database: a second check fetches none
    assert (await check(env))[0]
    assert [alpha.token_requests, beta.token_requests] == [1, 1]


async def test_a_pbx_that_refuses_the_login_fails_its_own_block_only(
    slack: FakeSlack, fleet: dict[str, FakeThreeCX], tmp_path: Path
) -> None:
    alpha, beta = fleet["alpha"], fleet["beta"]
    alpha.token_status = 401
    env = fleet_env(slack, fleet, tmp_path)

    passed, lines = await check(env)

    assert not passed
    assert block(lines, alpha, "alpha")[3:] == [
        f"FAIL 3CX at {alpha.base_url}: no access token (3CX refused the API client id or secret; HTTP 401: "
        "invalid_client). Check alpha's client_id and client_secret_file or client_secret_env (3CX: Admin > "
        "Integrations > API)."
    ]
    assert all(line.startswith("ok   ") for line in block(lines, beta, "beta")[1:]), lines
    assert len(beta.calls("DELETE")) == 2
    assert lines[-1] == "Some checks failed, for the PBX alpha; see above."
    assert not [line for line in lines for fake in fleet.values() if fake.client_secret in line]

    # as the command, for alpha alone: exit status 1, and nothing asked of beta
    beta.reset_log()
    process = BotProcess(env, tmp_path, "check", "alpha")

    assert await process.run() == 1

    assert process.stdout.endswith("\nSome checks failed, for the PBX alpha; see above.\n") and beta.requests == []
    assert not [fake for fake in fleet.values() if fake.client_secret in process.stdout + process.stderr]


async def test_check_with_a_name_checks_that_pbx_only(
    slack: FakeSlack, fleet: dict[str, FakeThreeCX], tmp_path: Path
) -> None:
    alpha, beta = fleet["alpha"], fleet["beta"]
    env = fleet_env(slack, fleet, tmp_path, alpha='approval_channel = "C0ALPHAOK"\n')

    passed, lines = await check(env, "beta")

    assert passed, lines
    assert lines[2] == f"PBX beta at {beta.base_url}:" and lines[-1] == "All checks passed."
    assert not any("alpha" in line or alpha.base_url in line for line in lines)
    assert alpha.requests == [] and beta.token_requests == 1
    assert [call.method for call in slack.calls] == ["auth.test"]  # not alpha's approvals channel


async def test_a_name_that_is_no_pbx_lists_the_names_there_are(
    slack: FakeSlack, fleet: dict[str, FakeThreeCX], tmp_path: Path
) -> None:
    env = fleet_env(slack, fleet, tmp_path)

    with pytest.raises(UnknownPbx) as refused:
        chosen(load_settings(env), "gamma")
    assert str(refused.value) == "unblock-bot check: there is no PBX 'gamma'; the PBXes are alpha, beta."

    # as the command: exit status 2 and that one line, before anything is asked of anyone
    process = BotProcess(env, tmp_path, "check", "gamma")

    assert await process.run() == 2

    assert process.stderr == f"{refused.value}\n" and process.stdout == ""
    assert slack.calls == [] and all(fake.requests == [] for fake in fleet.values())


async def test_a_bot_serving_one_pbx_has_no_name_to_check(slack: FakeSlack, pbx: FakeThreeCX, tmp_path: Path) -> None:
    settings = load_settings(base_env(slack, pbx, str(tmp_path / "unblock.db")))

    with pytest.raises(UnknownPbx) as refused:
        chosen(settings, "acme")

    assert str(refused.value) == (
        "unblock-bot check: there is no PBX 'acme': this bot serves one PBX, from the THREECX_* settings, which has "
        "no name (UNBLOCK_PBXES is not set); run unblock-bot check without a name."
    )


async def test_a_slow_pbx_holds_up_no_other_and_the_blocks_keep_the_files_order(
    slack: FakeSlack, fleet: dict[str, FakeThreeCX], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    alpha, beta = fleet["alpha"], fleet["beta"]
    env = {**fleet_env(slack, fleet, tmp_path), "THREECX_TIMEOUT": "20"}
    settings = load_settings(env)
    lines: list[str] = []
    # alpha, first in the file, answers its first request only once beta has been checked to the end
    beta_done = asyncio.Event()
    seen_when_beta_was_done: list[list[str]] = []

    def after_answer(request: RecordedRequest, status: int) -> None:
        if {r.path for r in beta.requests} >= set(EVIDENCE) and not beta_done.is_set():
            seen_when_beta_was_done.append([r.path for r in alpha.requests])
            seen_when_beta_was_done.append(list(lines))
            beta_done.set()

    beta.after_answer = after_answer
    answer: Callable[[RecordedRequest], Awaitable[web.Response]] = alpha._token_endpoint

    async def slow_answer(request: RecordedRequest) -> web.Response:
        await beta_done.wait()
        return await answer(request)

    monkeypatch.setattr(alpha, "_token_endpoint", slow_answer)

    passed = await preflight(settings, Redactor(settings.secrets()), lines.append)

    assert passed, lines
    asked_of_alpha, printed = seen_when_beta_was_done
    assert asked_of_alpha == ["/connect/token"]  # waiting for its answer
    assert len(printed) == 2  # the database's and Slack's lines: beta's block waits for alpha's
    assert lines.index(f"PBX alpha at {alpha.base_url}:") < lines.index(f"PBX beta at {beta.base_url}:")
    assert [len(block(lines, fake, name)) for name, fake in fleet.items()] == [8, 8]


@pytest.mark.parametrize(
    ("missing", "said"),
    [
        (
            "not_in_channel",
            "FAIL Slack: the bot is not in the approvals channel C0BETAOK; invite it with /invite @unblock-bot.",
        ),
        (
            "channel_not_found",
            "FAIL Slack: the approvals channel C0BETAOK cannot be read (channel_not_found). Check beta's "
            "approval_channel, and that the app has the channels:read and groups:read scopes.",
        ),
    ],
)
async def test_a_channel_the_bot_cannot_post_in_fails_the_block_of_its_pbx(
    slack: FakeSlack, fleet: dict[str, FakeThreeCX], tmp_path: Path, missing: str, said: str
) -> None:
    beta = fleet["beta"]
    if missing == "not_in_channel":
        slack.not_in_channel.add("C0BETAOK")
    else:
        slack.fail_next("conversations.info", missing)

    passed, lines = await check(fleet_env(slack, fleet, tmp_path, beta='approval_channel = "C0BETAOK"\n'))

    assert not passed
    assert block(lines, beta, "beta")[1] == said
    assert lines[-1] == "Some checks failed, for the PBX beta; see above."


async def test_check_of_a_pbxes_file_of_one_heads_its_block_with_the_pbxs_name(
    slack: FakeSlack, pbx: FakeThreeCX, tmp_path: Path
) -> None:
    passed, lines = await check(fleet_env(slack, {"alpha": pbx}, tmp_path))
    assert passed and f"PBX alpha at {pbx.base_url}:" in lines
