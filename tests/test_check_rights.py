"""``unblock-bot check`` proves the right to remove entries from both lists by a DELETE of an entry that does not
exist: 404 is the right, 403 a role without it. No entry that exists is ever sent a DELETE, and the DELETE carries an
``If-Match`` no entry matches, so that an entry 3CX adds at that Id in the meantime is left alone."""

from __future__ import annotations

import re
from pathlib import Path

from bot.threecx.models import MAX_ENTRY_ID

from .fakes.openapi_check import check_against_spec
from .fakes.slack import FakeSlack
from .fakes.threecx import FakeThreeCX, RecordedRequest
from .harness import base_env
from .processes import BotProcess

ROLE = "Give the 3CX API client the System Admin role (3CX: Admin > Integrations > API)."
NUMBER_KEY = r"'unblock-bot-check-[0-9a-f]{16}'"
#: the ETag the check's DELETE is sent on condition of
NO_ENTRY_ETAG = 'W/"unblock-bot-check-matches-no-entry"'


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
    assert [r.headers.get("If-Match") for r in pbx.calls("DELETE")] == [NO_ENTRY_ETAG, NO_ENTRY_ETAG]
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
        "FAIL a DELETE of IP blocklist entry 1001000, which does not exist, failed (the 3CX API client is not "
        f"allowed to do this; HTTP 403: Forbidden). {ROLE}" in lines
    )
    [number_line] = [line for line in lines if "caller-number" in line]
    assert re.fullmatch(
        rf"FAIL a DELETE of caller-number blacklist entry {NUMBER_KEY}, which does not exist, failed \(the 3CX API "
        rf"client is not allowed to do this; HTTP 403: Forbidden\)\. {re.escape(ROLE)}",
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


async def test_a_delete_answered_204_for_an_entry_3cx_said_it_lacks_fails_naming_the_entry(
    slack: FakeSlack, pbx: FakeThreeCX, tmp_path: Path
) -> None:
    pbx.fail_next(204, method="DELETE", body="")

    status, lines = await check(slack, pbx, tmp_path)

    assert status == 1, lines
    assert (
        "FAIL IP blocklist entry 1000042 may have been removed: a moment after saying it had no such entry, 3CX "
        "answered that a DELETE of it was carried out, though the DELETE carried an If-Match that no entry matches. "
        "This 3CX does not honour If-Match, so an entry added at that Id in between is gone. The check never read "
        "that entry and cannot put it back: look for it in 3CX and add it again if it was one." in lines
    )
    assert not any("may remove IP blocklist" in line for line in lines)
    assert lines[-1] == "Some checks failed; see above."
    assert list(pbx.entries) == [42]


# a 3CX that does not sort or cut its lists ------------------------------------------------------------------


async def test_a_3cx_that_ignores_orderby_and_top_is_probed_above_its_real_highest_id(
    slack: FakeSlack, pbx: FakeThreeCX, tmp_path: Path
) -> None:
    # 3CX lists 42 first; the Id it hands out next is 1000042, which is 42 + the probe's distance
    pbx.add_entry(1000041, "198.51.100.41")
    pbx.ignored_options = frozenset({"$orderby", "$top"})
    blocked: list[dict[str, object]] = []

    def block_meanwhile(request: RecordedRequest, status: int) -> None:
        """3CX blocks an address between the probe's GET and its DELETE (once)."""
        if request.method == "GET" and status == 404 and request.path.startswith("/xapi/v1/Blocklist(") and not blocked:
            blocked.append(pbx.block("203.0.113.99", description="Failed SIP registrations"))

    pbx.after_answer = block_meanwhile

    status, lines = await check(slack, pbx, tmp_path)

    assert status == 0, lines
    assert [entry["Id"] for entry in blocked] == [1000042]
    assert sorted(pbx.entries) == [42, 1000041, 1000042]  # the new block is still there
    probe_ip, _ = deleted(pbx)
    assert probe_ip == "/xapi/v1/Blocklist(2000041)"  # far above the highest, not above the first listed
    assert (
        "ok   the bot may remove IP blocklist entries (a DELETE of entry 2000041, which does not exist, was answered "
        "404)." in lines
    )
    assert lines[-1] == "All checks passed."


async def test_a_3cx_that_ignores_orderby_but_not_top_is_asked_for_higher_ids(
    slack: FakeSlack, pbx: FakeThreeCX, tmp_path: Path
) -> None:
    pbx.add_entry(7, "198.51.100.7")
    pbx.add_entry(1000041, "198.51.100.41")
    pbx.add_entry(500000, "198.51.100.50")
    pbx.ignored_options = frozenset({"$orderby"})  # one entry at a time, the lowest Ids first

    status, lines = await check(slack, pbx, tmp_path)

    assert status == 0, lines
    assert deleted(pbx)[0] == "/xapi/v1/Blocklist(2000041)"
    assert sorted(pbx.entries) == [7, 42, 500000, 1000041]


def appear_at_the_probe(pbx: FakeThreeCX) -> None:
    """3CX adds an entry at the probe's Id between the probe's GET and its DELETE."""

    def add(request: RecordedRequest, status: int) -> None:
        if request.method == "GET" and status == 404 and request.path == "/xapi/v1/Blocklist(1000042)":
            pbx.add_entry(1000042, "203.0.113.99")

    pbx.after_answer = add


async def test_an_entry_that_appears_at_the_probe_id_is_left_alone(
    slack: FakeSlack, pbx: FakeThreeCX, tmp_path: Path
) -> None:
    appear_at_the_probe(pbx)

    status, lines = await check(slack, pbx, tmp_path)

    assert status == 0, lines
    assert sorted(pbx.entries) == [42, 1000042]  # still there
    assert deleted(pbx)[0] == "/xapi/v1/Blocklist(1000042)"
    assert (
        "ok   the bot may remove IP blocklist entries (a DELETE of entry 1000042, sent with an If-Match that no entry "
        "matches, was answered 412, not 403: 3CX left that Id alone, whatever it holds now)." in lines
    )
    assert lines[-1] == "All checks passed."
    assert check_against_spec(pbx.requests) == []


async def test_a_3cx_that_ignores_if_match_and_removes_an_entry_at_the_probe_id_is_a_fail_naming_it(
    slack: FakeSlack, pbx: FakeThreeCX, tmp_path: Path
) -> None:
    pbx.enforce_etags = False
    appear_at_the_probe(pbx)

    status, lines = await check(slack, pbx, tmp_path)

    assert status == 1, lines
    assert any(line.startswith("FAIL IP blocklist entry 1000042 may have been removed: ") for line in lines)
    assert not any("All checks passed" in line for line in lines)
    assert lines[-1] == "Some checks failed; see above."
    # the other list is still proven
    assert any(line.startswith("ok   the bot may remove caller-number blacklist entries") for line in lines)
