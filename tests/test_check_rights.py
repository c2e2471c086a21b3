"""``unblock-bot check`` proves the right to remove entries from both lists by a DELETE of an entry that does not
exist: 404 is the right, 403 a role without it. No entry that exists is ever sent a DELETE."""

from __future__ import annotations

import re
from pathlib import Path

from bot.threecx.models import MAX_ENTRY_ID

from .fakes.openapi_check import check_against_spec
from .fakes.slack import FakeSlack
from .fakes.threecx import FakeThreeCX
from .harness import base_env
from .processes import BotProcess

ROLE = "Give the 3CX API client the System Admin role (3CX: Admin > Integrations > API)."
NUMBER_KEY = r"'unblock-bot-check-[0-9a-f]{16}'"


async def check(slack: FakeSlack, pbx: FakeThreeCX, tmp_path: Path) -> tuple[int, list[str]]:
    """Run ``check`` against the fakes: its exit status, and its lines (``3CX at <url>: `` left out)."""
    process = BotProcess(base_env(slack, pbx, str(tmp_path / "unblock.db")), tmp_path, "check")
    status = await process.run()
    assert "Traceback" not in process.stdout + process.stderr
    return status, [line.replace(f" 3CX at {pbx.base_url}:", "", 1) for line in process.stdout.splitlines()]


def deleted(pbx: FakeThreeCX) -> list[str]:
    """The paths sent a DELETE, each of which the check had first asked for (and the fake had not)."""
    paths = [r.path for r in pbx.calls("DELETE")]
    asked = [r.path for r in pbx.calls("GET")]
    assert all(path in asked for path in paths), (paths, asked)
    return paths


def fill(pbx: FakeThreeCX) -> None:
    pbx.add_entry(1000, "198.51.100.20")
    pbx.add_number("7", "+15550100")
    pbx.add_number("1000042", "+15550199")


async def test_a_client_that_may_delete_is_told_so_for_both_lists(
    slack: FakeSlack, pbx: FakeThreeCX, tmp_path: Path
) -> None:
    fill(pbx)

    status, lines = await check(slack, pbx, tmp_path)

    assert status == 0, lines
    assert (
        "ok   the bot may remove IP blocklist entries (a DELETE of entry 1001000, which does not exist, was answered "
        "404)." in lines
    )
    [number_line] = [line for line in lines if "caller-number" in line]
    assert re.fullmatch(
        rf"ok   the bot may remove caller-number blacklist entries \(a DELETE of entry {NUMBER_KEY}, which does not "
        r"exist, was answered 404\)\.",
        number_line,
    )
    probe_ip, probe_number = deleted(pbx)
    assert probe_ip == "/xapi/v1/Blocklist(1001000)"
    assert re.fullmatch(rf"/xapi/v1/BlackListNumbers\({NUMBER_KEY}\)", probe_number)
    assert check_against_spec(pbx.requests) == []
    assert sorted(pbx.entries) == [42, 1000] and sorted(pbx.numbers) == ["1000042", "7"]


async def test_a_role_that_may_read_but_not_delete_fails_naming_the_role_for_both_lists(
    slack: FakeSlack, pbx: FakeThreeCX, tmp_path: Path
) -> None:
    fill(pbx)
    pbx.read_only = True

    status, lines = await check(slack, pbx, tmp_path)

    assert status == 1
    assert "ok   the IP blocklist can be read." in lines
    assert (
        "FAIL a DELETE of IP blocklist entry 1001000, which does not exist, failed (HTTP 403 (the 3CX API client is "
        f"not allowed to do this): Forbidden). {ROLE}" in lines
    )
    [number_line] = [line for line in lines if "caller-number" in line]
    assert re.fullmatch(
        rf"FAIL a DELETE of caller-number blacklist entry {NUMBER_KEY}, which does not exist, failed \(HTTP 403 "
        rf"\(the 3CX API client is not allowed to do this\): Forbidden\)\. {re.escape(ROLE)}",
        number_line,
    )
    assert lines[-1] == "Some checks failed; see above."
    assert len(deleted(pbx)) == 2
    assert sorted(pbx.entries) == [42, 1000] and sorted(pbx.numbers) == ["1000042", "7"]


async def test_one_list_refused_does_not_hide_the_other(slack: FakeSlack, pbx: FakeThreeCX, tmp_path: Path) -> None:
    pbx.fail_next(403, method="DELETE")  # the first DELETE only: the IP blocklist's

    status, lines = await check(slack, pbx, tmp_path)

    assert status == 1
    assert [line[:4] for line in lines if "may remove" in line or "DELETE" in line] == ["FAIL", "ok  "]
    assert any(line.startswith("FAIL a DELETE of IP blocklist entry 1000042") and line.endswith(ROLE) for line in lines)
    assert any(line.startswith("ok   the bot may remove caller-number blacklist entries") for line in lines)


async def test_an_id_that_exists_is_never_sent_a_delete(slack: FakeSlack, pbx: FakeThreeCX, tmp_path: Path) -> None:
    # the highest Id at the end of the int32 range: the Id far above it is capped to that same Id, which exists
    pbx.add_entry(MAX_ENTRY_ID, "198.51.100.30")

    status, lines = await check(slack, pbx, tmp_path)

    assert status == 0, lines
    assert f"/xapi/v1/Blocklist({MAX_ENTRY_ID})" in [r.path for r in pbx.calls("GET")]  # asked, found
    [probe_ip, _] = deleted(pbx)
    found = re.fullmatch(r"/xapi/v1/Blocklist\(([0-9]+)\)", probe_ip)
    assert found is not None and int(found[1]) not in (42, MAX_ENTRY_ID)
    assert any(f"a DELETE of entry {found[1]}, which does not exist, was answered 404" in line for line in lines)
    assert sorted(pbx.entries) == [42, MAX_ENTRY_ID]


async def test_a_delete_answered_204_for_an_entry_3cx_said_it_lacks_is_reported_as_such(
    slack: FakeSlack, pbx: FakeThreeCX, tmp_path: Path
) -> None:
    pbx.fail_next(204, method="DELETE", body="")

    status, lines = await check(slack, pbx, tmp_path)

    assert status == 0, lines
    assert (
        "ok   the bot may remove IP blocklist entries, but 3CX answered 204 (deleted) to a DELETE of entry 1000042, "
        "which it had just said does not exist." in lines
    )
    assert list(pbx.entries) == [42]
