"""What 3CX knows about a blocked address, read from the fake XAPI on loopback: the exact requests 3CX receives, the
reading of its lines and devices, the bot's own filtering (for a network, or when 3CX refuses the filter), and its
refusals as the domain's failures."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime

import pytest

from bot.domain.entries import CallFailed
from bot.domain.evidence import Logged, Phone, Thresholds, Witness
from bot.domain.outcomes import Outcome
from bot.threecx.client import ThreeCXClient
from bot.threecx.evidence import ThreeCXEvidence
from bot.threecx.lists import contains

from .fakes.openapi_check import check_against_spec, sent_by_the_bot
from .fakes.threecx import FakeThreeCX, RecordedRequest
from .harness import FAST_RETRY

NEWEST = {"$orderby": "TimeGenerated desc"}
LOGGED_FILTER = "contains(Message,'203.0.113.7') or Params/any(p: contains(p,'203.0.113.7'))"
MORNING = datetime(2026, 12, 1, 8, 0, tzinfo=UTC).timestamp()


@pytest.fixture
async def client(pbx: FakeThreeCX) -> AsyncIterator[ThreeCXClient]:
    async with ThreeCXClient(pbx.base_url, pbx.client_id, pbx.client_secret, timeout=2, retry=FAST_RETRY) as c:
        yield c


@pytest.fixture
def evidence(client: ThreeCXClient) -> ThreeCXEvidence:
    return ThreeCXEvidence(client)


def asked(pbx: FakeThreeCX) -> list[tuple[str, dict[str, str]]]:
    """What the XAPI received: each path and its query."""
    return [(r.path, r.query) for r in pbx.requests if r.path.startswith("/xapi/")]


def log_the_morning(pbx: FakeThreeCX) -> None:
    """Lines a minute apart from 08:00: about the address, about others, and one about 203.0.113.70, which 3CX's
    `contains` finds for 203.0.113.7 too."""
    lines = [
        ("Failed authentication for extension 104 from 203.0.113.7", ()),
        ("IP 203.0.113.70 blocked for failed registrations", ()),
        ("Registration failed", ("203.0.113.7:5060", "105")),
        ("Call from 198.51.100.4 to 100", ()),
        ("Blacklisted IP 203.0.113.7 (too many requests)", ()),
    ]
    for minute, (message, params) in enumerate(lines):
        pbx.log_event(message, params, at=MORNING + 60 * minute)


# the event log -------------------------------------------------------------------------------------------------


async def test_the_newest_lines_naming_an_address_are_asked_of_3cx_and_read_as_it_wrote_them(
    pbx: FakeThreeCX, evidence: ThreeCXEvidence
) -> None:
    log_the_morning(pbx)

    logged = await evidence.logged("203.0.113.7", 3)

    # 3CX's `contains` also finds the line about 203.0.113.70: the bot asks for more and keeps whole addresses only
    assert logged == (
        Logged(MORNING + 240, "Blacklisted IP 203.0.113.7 (too many requests)"),
        Logged(MORNING + 120, "Registration failed", failed_auth=True, extension="105"),
        Logged(MORNING, "Failed authentication for extension 104 from 203.0.113.7", failed_auth=True, extension="104"),
    )
    assert asked(pbx) == [("/xapi/v1/EventLogs", {"$filter": LOGGED_FILTER, **NEWEST, "$top": "15"})]
    assert check_against_spec(pbx.requests) == []
    # the bot's client names itself, so that every test's requests are checked at its end (tests/conftest.py)
    assert sent_by_the_bot(pbx.requests) == pbx.requests


async def test_for_a_network_the_newest_lines_are_read_and_those_inside_it_kept(
    pbx: FakeThreeCX, evidence: ThreeCXEvidence
) -> None:
    log_the_morning(pbx)

    logged = await evidence.logged("203.0.113.0/24", 3)

    assert [line.text for line in logged] == [
        "Blacklisted IP 203.0.113.7 (too many requests)",
        "Registration failed",
        "IP 203.0.113.70 blocked for failed registrations",
    ]
    assert asked(pbx) == [("/xapi/v1/EventLogs", {**NEWEST, "$top": "300"})]


async def test_a_refused_filter_reads_the_newest_lines_and_keeps_those_naming_the_whole_address(
    pbx: FakeThreeCX, evidence: ThreeCXEvidence
) -> None:
    log_the_morning(pbx)
    pbx.refuse_filter("/EventLogs")

    logged = await evidence.logged("203.0.113.7", 5)

    assert [line.at for line in logged] == [MORNING + 240, MORNING + 120, MORNING]
    assert asked(pbx) == [
        ("/xapi/v1/EventLogs", {"$filter": LOGGED_FILTER, **NEWEST, "$top": "25"}),
        ("/xapi/v1/EventLogs", {**NEWEST, "$top": "300"}),
    ]


@pytest.mark.parametrize(
    ("message", "params", "failed_auth", "extension"),
    [
        ("Failed authentication for extension 104 from 203.0.113.7", (), True, "104"),
        ("203.0.113.7: AUTH FAILED (Ext. 221)", (), True, "221"),
        ("Registration failed from 203.0.113.7; Extension: 3001", (), True, "3001"),
        ("authentication attempts from 203.0.113.7 failed", (), True, None),
        ("Blacklisted IP 203.0.113.7", (), False, None),
        ("Too many calls from 203.0.113.7 to extension 5", (), False, "5"),
        ("Failed authentication", ("203.0.113.7", "104"), True, "104"),
        (None, ("203.0.113.7", "failed authentication"), True, None),
    ],
)
async def test_what_a_line_tells(
    pbx: FakeThreeCX,
    evidence: ThreeCXEvidence,
    message: str | None,
    params: tuple[str, ...],
    failed_auth: bool,
    extension: str | None,
) -> None:
    pbx.log_event(message, params, at="2026-12-01T08:00:00.1234567+01:00")

    [line] = await evidence.logged("203.0.113.7", 3)

    assert (line.failed_auth, line.extension) == (failed_auth, extension)
    assert line.text == (message or ", ".join(params))
    assert line.at == pytest.approx(MORNING - 3600 + 0.123456)


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("from 203.0.113.7.", True),
        ("from 203.0.113.7:5060", True),
        ("from 203.0.113.70", False),
        ("from 1203.0.113.7", False),
        ("version 203.0.113.7.1", False),
    ],
)
async def test_an_address_is_named_only_whole(
    pbx: FakeThreeCX, evidence: ThreeCXEvidence, text: str, named: bool
) -> None:
    pbx.log_event(text)

    assert len(await evidence.logged("203.0.113.7", 3)) == named


async def test_ipv6_lines_are_found_by_network(pbx: FakeThreeCX, evidence: ThreeCXEvidence) -> None:
    pbx.log_event("Failed authentication from [2001:db8::7]:5060", at=MORNING)
    pbx.log_event("Failed authentication from 2001:db8:1::7", at=MORNING + 1)

    assert [line.at for line in await evidence.logged("2001:db8::/48", 3)] == [MORNING]
    assert [line.at for line in await evidence.logged("2001:db8::7", 3)] == [MORNING]


# the phones ----------------------------------------------------------------------------------------------------


async def test_the_phones_registered_from_an_address_compare_the_host_exactly(
    pbx: FakeThreeCX, evidence: ThreeCXEvidence
) -> None:
    pbx.add_phone("203.0.113.7:5060", "104", "Reception", " Yealink", "T54W ")
    pbx.add_phone("203.0.113.7", "105", None, None, "Softphone")
    pbx.add_phone("203.0.113.70:5060", "106", "Back office", "Snom", "D785")
    pbx.add_phone("198.51.100.4:5060", "107", "Sales", "Fanvil", "X6U")

    phones = await evidence.phones("203.0.113.7")

    assert phones == (Phone("104", "Reception", "Yealink T54W"), Phone("105", None, "Softphone"))
    query = {"$expand": "DN", "$top": "500", "$filter": contains("Registrar/IpAddress", "203.0.113.7")}
    assert asked(pbx) == [("/xapi/v1/SipDevices", query)]
    assert check_against_spec(pbx.requests) == []


async def test_phones_of_a_network_or_when_the_filter_is_refused_are_filtered_by_the_bot(
    pbx: FakeThreeCX, evidence: ThreeCXEvidence
) -> None:
    pbx.add_phone("203.0.113.70:5060", "106", "Back office", "Snom", "D785")
    pbx.add_phone("[2001:db8::7]:5060", "108", "Lab", "Grandstream", "GRP2612")
    pbx.add_phone("198.51.100.4:5060", "107", "Sales", "Fanvil", "X6U")

    in_network = await evidence.phones("203.0.113.0/24")
    pbx.refuse_filter("/SipDevices")
    refused = await evidence.phones("2001:db8::7")
    none = await evidence.phones("203.0.113.7")

    assert in_network == (Phone("106", "Back office", "Snom D785"),)
    assert refused == (Phone("108", "Lab", "Grandstream GRP2612"),)
    assert none == ()
    read = {"$expand": "DN", "$top": "500"}
    assert asked(pbx) == [
        ("/xapi/v1/SipDevices", read),
        ("/xapi/v1/SipDevices", {**read, "$filter": "contains(Registrar/IpAddress,'2001:db8::7')"}),
        ("/xapi/v1/SipDevices", read),
        ("/xapi/v1/SipDevices", {**read, "$filter": "contains(Registrar/IpAddress,'203.0.113.7')"}),
        ("/xapi/v1/SipDevices", read),
    ]


# the anti-hacking settings -------------------------------------------------------------------------------------


async def test_the_thresholds_are_3cxs_anti_hacking_settings(pbx: FakeThreeCX, evidence: ThreeCXEvidence) -> None:
    default = await evidence.thresholds()
    pbx.anti_hacking(HackAuthRequests=5, HackBlacklistDuration=None)
    changed = await evidence.thresholds()

    assert (default, changed) == (Thresholds(25, 86400), Thresholds(5, None))
    assert asked(pbx) == [("/xapi/v1/AntiHackingSettings", {})] * 2


# failures ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "reason"), [(403, Outcome.FORBIDDEN), (404, Outcome.NOT_FOUND)])
@pytest.mark.parametrize("path", ["/EventLogs", "/SipDevices", "/AntiHackingSettings"])
async def test_a_refused_or_missing_path_is_a_failed_call(
    pbx: FakeThreeCX, evidence: ThreeCXEvidence, path: str, status: int, reason: Outcome
) -> None:
    pbx.refuse(path, status)
    calls: dict[str, Callable[[], Awaitable[object]]] = {
        "/EventLogs": lambda: evidence.logged("203.0.113.7", 3),
        "/SipDevices": lambda: evidence.phones("203.0.113.7"),
        "/AntiHackingSettings": evidence.thresholds,
    }

    with pytest.raises(CallFailed) as failed:
        await calls[path]()

    assert failed.value.reason is reason
    assert [p for p, _ in asked(pbx)] == [f"/xapi/v1{path}"]


async def test_a_slow_event_log_leaves_only_the_lines_out(pbx: FakeThreeCX, evidence: ThreeCXEvidence) -> None:
    pbx.log_event("Failed authentication from 203.0.113.7")
    pbx.add_phone("203.0.113.7:5060", "104", "Reception", "Yealink", "T54W")
    pbx.slow("/EventLogs", 30)

    found = await Witness(evidence, within=0.5).about("203.0.113.7")

    assert (found.logged, found.phones, found.thresholds) == (
        None,
        (Phone("104", "Reception", "Yealink T54W"),),
        Thresholds(25, 86400),
    )


# the spec check on these paths -----------------------------------------------------------------------------------


def request(path: str, **query: str) -> RecordedRequest:
    return RecordedRequest("GET", f"/xapi/v1{path}", query, "", {"Authorization": "Bearer t"}, {}, None, b"")


def test_the_spec_check_refuses_options_3cxs_document_does_not_allow_on_these_paths() -> None:
    allowed = [
        request("/EventLogs", **{"$filter": LOGGED_FILTER, "$orderby": "TimeGenerated desc", "$top": "15"}),
        request("/SipDevices", **{"$expand": "DN", "$orderby": "Registrar/IpAddress", "$select": "Id,Registrar"}),
        request("/AntiHackingSettings", **{"$select": "HackAuthRequests"}),
    ]
    refused = [
        request("/EventLogs", **{"$orderby": "Time desc"}),
        request("/EventLogs", **{"$orderby": "Params"}),
        request("/EventLogs", **{"$orderby": "TimeGenerated down"}),
        request("/SipDevices", **{"$expand": "Registrar"}),
        request("/SipDevices", **{"$select": "DN/Number"}),
        request("/SipDevices", **{"$orderby": "Registrar/Address"}),
        request("/AntiHackingSettings", **{"$filter": "HackAuthRequests gt 5"}),
        request("/AntiHackingSettings", **{"$top": "1"}),
        request("/EventLogs(1)"),
    ]

    assert check_against_spec(allowed) == []
    assert len(check_against_spec(refused)) == len(refused)
