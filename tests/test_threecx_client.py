"""The 3CX client against the fake XAPI: tokens, retries, errors, and requests that follow 3CX's spec."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from bot.threecx.client import ThreeCXClient
from bot.threecx.errors import (
    CredentialsError,
    ForbiddenError,
    NotFoundError,
    ThreeCXError,
    UnavailableError,
    UnexpectedResponseError,
)
from bot.threecx.lists import IpBlocklist
from bot.threecx.models import BLOCKLIST
from bot.threecx.retry import RetryPolicy

from .fakes.openapi_check import check_against_spec
from .fakes.threecx import FakeThreeCX
from .harness import FAST_RETRY

TOKEN = "/connect/token"


@pytest.fixture
async def client(pbx: FakeThreeCX) -> AsyncIterator[ThreeCXClient]:
    async with ThreeCXClient(pbx.base_url, pbx.client_id, pbx.client_secret, timeout=2, retry=FAST_RETRY) as c:
        yield c


def xapi_calls(pbx: FakeThreeCX) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in pbx.requests if r.path.startswith("/xapi/")]


async def test_requests_follow_the_3cx_openapi_file(pbx: FakeThreeCX, client: ThreeCXClient) -> None:
    pbx.add_entry(7, "198.51.100.0/24")
    entry = await client.get(BLOCKLIST, 42)
    listed = await client.query(BLOCKLIST, filter="contains(IPAddrMask,'198.51')", top=5)
    assert (await client.delete(BLOCKLIST, 7, etag='W/"1"')).deleted

    assert (entry.id, entry.address, entry.added_by) == (42, "203.0.113.7", "AutoBlacklist")
    assert [e.id for e in listed] == [7]
    assert [(r.method, r.path) for r in pbx.requests] == [
        ("POST", TOKEN),
        ("GET", "/xapi/v1/Blocklist(42)"),
        ("GET", "/xapi/v1/Blocklist"),
        ("DELETE", "/xapi/v1/Blocklist(7)"),
    ]
    assert pbx.requests[0].form == {
        "client_id": pbx.client_id,
        "client_secret": pbx.client_secret,
        "grant_type": "client_credentials",
    }
    assert pbx.requests[2].query == {"$top": "5", "$filter": "contains(IPAddrMask,'198.51')"}
    assert pbx.requests[3].headers["If-Match"] == 'W/"1"'
    assert all(r.headers["Accept"] == "application/json" for r in pbx.requests[1:])
    assert check_against_spec(pbx.requests) == []


@pytest.mark.parametrize("bad_id", [0, -1, 2**31, True])
async def test_ids_are_validated_before_anything_is_sent(pbx: FakeThreeCX, client: ThreeCXClient, bad_id: int) -> None:
    with pytest.raises(ValueError):
        await client.delete(BLOCKLIST, bad_id)
    assert pbx.requests == []


# tokens ------------------------------------------------------------------------------


async def test_a_token_near_its_end_is_renewed_before_use(pbx: FakeThreeCX) -> None:
    pbx.token_lifetime = 1  # renewed at half its life, so every call here needs a new one
    async with ThreeCXClient(pbx.base_url, pbx.client_id, pbx.client_secret, retry=FAST_RETRY) as c:
        await c.get(BLOCKLIST, 42)
        await asyncio.sleep(0.6)
        await c.get(BLOCKLIST, 42)
    assert pbx.token_requests == 2
    assert len(xapi_calls(pbx)) == 2  # renewed ahead of time: no 401 and no second try


async def test_a_401_gets_one_new_token_and_one_retry_and_one_that_persists_is_a_credentials_error(
    pbx: FakeThreeCX, client: ThreeCXClient
) -> None:
    await client.get(BLOCKLIST, 42)
    pbx.expire_tokens()
    assert (await client.get(BLOCKLIST, 42)).id == 42
    assert pbx.token_requests == 2
    assert xapi_calls(pbx) == [("GET", "/xapi/v1/Blocklist(42)")] * 3

    pbx.fail_next(401, times=5)
    with pytest.raises(CredentialsError) as caught:
        await client.get(BLOCKLIST, 42)
    assert caught.value.status == 401
    assert (pbx.token_requests, len(xapi_calls(pbx))) == (3, 5)  # one new token, one more try


@pytest.mark.parametrize("status", [400, 401])
async def test_a_refused_secret_is_a_credentials_error_without_the_secret(
    pbx: FakeThreeCX, client: ThreeCXClient, status: int
) -> None:
    pbx.token_status = status
    with pytest.raises(CredentialsError) as caught:
        await client.get(BLOCKLIST, 42)
    error = caught.value
    assert pbx.client_secret not in f"{error} {error.answer()} {error!r}"
    assert xapi_calls(pbx) == [] and pbx.token_requests == 1


# errors --------------------------------------------------------------------------------------


async def test_status_codes_and_answers_that_are_not_json_map_to_typed_errors(
    pbx: FakeThreeCX, client: ThreeCXClient
) -> None:
    with pytest.raises(NotFoundError):
        await client.get(BLOCKLIST, 9)
    pbx.forbidden = True
    with pytest.raises(ForbiddenError):
        await client.get(BLOCKLIST, 42)
    pbx.forbidden = False
    pbx.fail_next(400, body=b'{"error":{"code":"","message":"Number:\\nWARNINGS.XAPI.ALREADY_IN_USE"}}')
    with pytest.raises(UnexpectedResponseError) as other:
        await client.get(BLOCKLIST, 42)
    assert other.value.detail == "Number:\nWARNINGS.XAPI.ALREADY_IN_USE"
    assert "WARNINGS.XAPI.ALREADY_IN_USE" in other.value.answer()
    for body, content_type in ((b"<html><body>Sign in</body></html>", "text/html"), (b"\x00\xff", "application/json")):
        pbx.fail_next(200, body=body, content_type=content_type)
        with pytest.raises(UnexpectedResponseError, match="not JSON"):
            await client.get(BLOCKLIST, 42)


# retries ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "times", "tries"),
    [(502, 2, 3), (503, 2, 3), (504, 2, 3), (429, 2, 3), (503, 50, FAST_RETRY.attempts), (500, 5, 1)],
    ids=["502", "503", "504", "429", "bounded in count", "500 is not retried"],
)
async def test_transient_answers_are_retried_within_the_tries_allowed(
    pbx: FakeThreeCX, client: ThreeCXClient, status: int, times: int, tries: int
) -> None:
    pbx.fail_next(status, times=times, retry_after="0" if status == 429 else None)

    if times < tries:
        assert (await client.get(BLOCKLIST, 42)).id == 42
    else:
        with pytest.raises(UnavailableError):
            await client.get(BLOCKLIST, 42)

    assert len(xapi_calls(pbx)) == tries


async def test_retries_are_bounded_in_time_and_honour_retry_after(pbx: FakeThreeCX) -> None:
    policy = RetryPolicy(attempts=10, base_delay=0.01, max_delay=0.05, budget=0.5)
    pbx.fail_next(429, times=50, retry_after="0.2")
    async with ThreeCXClient(pbx.base_url, pbx.client_id, pbx.client_secret, retry=policy) as c:
        with pytest.raises(UnavailableError, match="rate limiting"):
            await c.get(BLOCKLIST, 42)
    # 0.2 s apart within a 0.5 s budget: the first try and two retries, then the budget says stop
    assert len(xapi_calls(pbx)) == 3


async def test_dropped_connections_and_timeouts_are_retried(pbx: FakeThreeCX) -> None:
    async with ThreeCXClient(pbx.base_url, pbx.client_id, pbx.client_secret, timeout=0.3, retry=FAST_RETRY) as c:
        pbx.drop_next(times=2)
        assert (await c.get(BLOCKLIST, 42)).id == 42
        pbx.delay = 0.5
        with pytest.raises(UnavailableError, match="did not answer in time"):
            await c.get(BLOCKLIST, 42)


async def test_an_unreachable_pbx_is_unavailable(unused_tcp_port: int) -> None:
    async with ThreeCXClient(f"http://127.0.0.1:{unused_tcp_port}", "id", "secret", retry=FAST_RETRY) as c:
        with pytest.raises(UnavailableError, match="could not be reached") as caught:
            await c.get(BLOCKLIST, 42)
    assert "secret" not in str(caught.value)
    assert isinstance(caught.value, ThreeCXError)
    # what is kept and shown says why in words, not with the name of a Python class
    assert "connection refused" in caught.value.answer() and "Error" not in caught.value.answer()


@pytest.mark.parametrize("drops", [0, 1, 2], ids=["someone removed it", "resent by aiohttp", "retried by the client"])
async def test_a_delete_whose_answer_was_lost_reports_the_entry_gone_after_a_lost_answer(
    pbx: FakeThreeCX, client: ThreeCXClient, drops: int
) -> None:
    await client.get(BLOCKLIST, 42)  # a kept-alive connection, as in real use
    if drops:
        pbx.drop_next(times=drops, method="DELETE", after_effect=True)
    else:
        del pbx.entries[42]

    removal = await client.delete(BLOCKLIST, 42)

    assert (removal.deleted, removal.answer_lost) == (False, drops > 0)
    lost = "HTTP 404 on a second try: the first, whose answer was lost, removed it"
    assert removal.answer == (lost if drops else "HTTP 404: the entry was already gone")
    assert 42 not in pbx.entries and len(pbx.calls("DELETE")) == drops + 1


async def test_a_delete_that_never_got_an_answer_may_have_been_carried_out(
    pbx: FakeThreeCX, client: ThreeCXClient
) -> None:
    pbx.drop_next(times=8, method="DELETE")  # every try reaches 3CX; no answer comes back

    with pytest.raises(UnavailableError) as caught:
        await client.delete(BLOCKLIST, 42)

    assert caught.value.maybe_applied


async def test_waiting_for_a_free_connection_is_not_a_timeout(pbx: FakeThreeCX) -> None:
    pbx.delay = 0.25
    async with ThreeCXClient(
        pbx.base_url, pbx.client_id, pbx.client_secret, timeout=0.55, pool_size=2, retry=FAST_RETRY
    ) as client:
        # 8 calls through 2 connections take 4 rounds of 0.25 s, longer than the 0.55 s timeout
        entries = await asyncio.gather(*(client.get(BLOCKLIST, 42) for _ in range(8)))

    assert [e.id for e in entries] == [42] * 8
    assert len(pbx.calls("GET")) == 8  # none timed out and went again


@pytest.mark.parametrize("takes_in", [True, False])
async def test_which_of_many_entries_are_still_listed_is_one_query_or_a_few_within_odatas_limit(
    pbx: FakeThreeCX, client: ThreeCXClient, takes_in: bool
) -> None:
    """One filter with ``in``; where 3CX refuses it (400), filters of equality tests that each stay within the 100
    nodes ASP.NET Core OData allows (the fake refuses more)."""
    pbx.takes_in = takes_in
    for entry_id in range(1000, 1040, 2):
        pbx.add_entry(entry_id, f"192.0.2.{entry_id % 256}")
    blocklist = IpBlocklist(client)

    for _ in range(2):
        assert await blocklist.still_listed(list(range(1000, 1040))) == set(range(1000, 1040, 2))
    assert await blocklist.still_listed([]) == set()  # nothing asked

    filters = [r.query["$filter"] for r in pbx.calls("GET", "/xapi/v1/Blocklist")]
    if takes_in:
        assert filters == [f"Id in ({','.join(map(str, range(1000, 1040)))})"] * 2
    else:  # refused once, then 18 + 18 + 4 tests for each call
        assert filters[0].startswith("Id in (") and len(filters) == 7
        assert [len(f.split(" or ")) for f in filters[1:]] == [18, 18, 4] * 2


async def test_the_fake_refuses_a_filter_of_more_than_100_nodes_as_aspnet_core_odata_does(
    pbx: FakeThreeCX, client: ThreeCXClient
) -> None:
    def tests(count: int) -> str:
        return " or ".join(f"IPAddrMask eq '192.0.2.{n}'" for n in range(count))

    await client.query(BLOCKLIST, filter=tests(20), top=1)  # 20 x 4 + 19 = 99 nodes
    await client.query(BLOCKLIST, filter=f"BlockType eq Pbx.BlockType'Block' and ({tests(19)})", top=1)  # 99
    await client.query(BLOCKLIST, filter=f"IPAddrMask in ({','.join(repr(str(n)) for n in range(500))})", top=1)
    for too_many in (tests(21), f"BlockType eq Pbx.BlockType'Block' and ({tests(20)})"):
        with pytest.raises(UnexpectedResponseError) as refused:
            await client.query(BLOCKLIST, filter=too_many, top=1)
        assert "HTTP 400" in refused.value.answer() and "node count limit of '100'" in refused.value.answer()
