"""The 3CX fake, exercised over HTTP with aiohttp, and the spec check on what it recorded (what the bot meets of
it, GET, DELETE, ETags, 404, its failures and dropped connections, is proven through the bot)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest_asyncio
from yarl import URL

from tests.fakes.openapi_check import check_against_spec
from tests.fakes.threecx import FakeThreeCX, RecordedRequest


@pytest_asyncio.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


async def fetch_token(session: aiohttp.ClientSession, pbx: FakeThreeCX) -> str:
    form = {"client_id": pbx.client_id, "client_secret": pbx.client_secret, "grant_type": "client_credentials"}
    async with session.post(f"{pbx.base_url}/connect/token", data=form) as response:
        assert response.status == 200, await response.text()
        token: str = (await response.json())["access_token"]
        return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_token_flow_and_401(pbx: FakeThreeCX, session: aiohttp.ClientSession) -> None:
    url = f"{pbx.base_url}/xapi/v1/Blocklist(42)"

    async with session.get(url) as response:
        assert response.status == 401
        assert (await response.json())["error"]["message"]

    wrong = {"client_id": pbx.client_id, "client_secret": "nope", "grant_type": "client_credentials"}
    async with session.post(f"{pbx.base_url}/connect/token", data=wrong) as response:
        assert (response.status, await response.json()) == (400, {"error": "invalid_client"})

    first = await fetch_token(session, pbx)
    async with session.get(url, headers=bearer(first)) as response:
        assert response.status == 200

    second = await fetch_token(session, pbx)  # one active token per client: `first` is now void
    async with session.get(url, headers=bearer(first)) as response:
        assert response.status == 401
    async with session.get(url, headers=bearer(second)) as response:
        assert response.status == 200

    pbx.expire_tokens()
    async with session.get(url, headers=bearer(second)) as response:
        assert response.status == 401
    assert pbx.token_requests == 3
    assert pbx.tokens_issued == [first, second]


async def test_filter_and_string_keys_with_doubled_quotes(pbx: FakeThreeCX, session: aiohttp.ClientSession) -> None:
    pbx.add_entry(1, "203.0.113.7", description="Bob's desk phone")
    pbx.add_entry(2, "203.0.113.8", description="Bob desk phone")
    pbx.add_entry(3, "198.51.100.9", description="Bob's softphone", block_type="Allow")
    pbx.add_number("it's", "+441234567890")
    headers = bearer(await fetch_token(session, pbx))

    query = {
        "$filter": "contains(Description,'Bob''s')"
        " and (BlockType eq Pbx.BlockType'Block' or contains(IPAddrMask,'198.'))",
        "$orderby": "Id desc",
    }
    async with session.get(f"{pbx.base_url}/xapi/v1/Blocklist", params=query, headers=headers) as response:
        assert [e["Id"] for e in (await response.json())["value"]] == [3, 1]

    bad = {"$filter": "contains(Description,'Bob's')"}
    async with session.get(f"{pbx.base_url}/xapi/v1/Blocklist", params=bad, headers=headers) as response:
        assert response.status == 400

    key = URL(f"{pbx.base_url}/xapi/v1/BlackListNumbers(%27it%27%27s%27)", encoded=True)
    async with session.get(key, headers=headers) as response:
        assert (await response.json())["CallerId"] == "+441234567890"
    assert pbx.requests[-1].path == "/xapi/v1/BlackListNumbers(%27it%27%27s%27)"
    async with session.get(f"{pbx.base_url}/xapi/v1/BlackListNumbers(it's)", headers=headers) as response:
        assert response.status == 400


async def test_spec_check_accepts_good_requests_and_reports_bad_ones(
    pbx: FakeThreeCX, session: aiohttp.ClientSession
) -> None:
    pbx.add_number("n1", "+15551234")
    headers = bearer(await fetch_token(session, pbx))
    base = pbx.base_url + "/xapi/v1"
    await session.get(
        f"{base}/Blocklist", params={"$filter": "IPAddrMask eq '203.0.113.7'", "$top": "5"}, headers=headers
    )
    await session.get(f"{base}/Blocklist(42)", headers=headers)
    await session.delete(f"{base}/Blocklist(42)", headers={**headers, "If-Match": 'W/"1"'})
    await session.post(f"{base}/Blocklist", json={"IPAddrMask": "192.0.2.1", "BlockType": "Block"}, headers=headers)
    await session.delete(f"{base}/BlackListNumbers('n1')", headers=headers)
    assert check_against_spec(pbx.requests) == []

    pbx.reset_log()
    await session.get(f"{base}/Blocklist(abc)", headers=headers)
    await session.get(f"{base}/Blocklist/42", headers=headers)
    await session.put(f"{base}/Blocklist(42)", json={}, headers=headers)
    await session.get(f"{base}/Blocklist", params={"$top": "-1"}, headers=headers)
    await session.get(f"{base}/Blocklist", params={"top": "5"}, headers=headers)
    await session.get(f"{base}/BlackListNumbers(n1)", headers=headers)
    await session.get(f"{base}/Blocklist")
    problems = check_against_spec(pbx.requests)
    assert len(problems) == len(pbx.requests) == 7
    for problem, request in zip(problems, pbx.requests, strict=True):
        assert problem.startswith(f"{request.method} {request.path}: ")

    token_request = RecordedRequest("POST", "/connect/token", {}, "", {}, {"grant_type": "password"}, None, b"")
    assert len(check_against_spec([token_request])) == 1
