"""Replicas: two or more bot processes on one PostgreSQL database, and what happens to them when the
database restarts or goes away, or one of them dies. Two ``python -m bot`` processes, driven with signed
Slack requests, against the fakes."""

from __future__ import annotations

import asyncio
import ipaddress
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from .fakes.slack import FakeSlack, Message
from .fakes.threecx import FakeThreeCX
from .harness import ALICE, APPROVE, BOB, CAROL, CHOOSE, UNDO, Harness, block_text, buttons, wait_for
from .postgres import PostgresServer, running_server
from .processes import BotProcess, start_http_bot

# the store and the token, shared ---------------------------------------------------------------------


async def test_two_processes_on_one_database_send_one_delete_and_share_one_token(
    processes: list[BotProcess],
    slack: FakeSlack,
    pbx: FakeThreeCX,
    postgres: PostgresServer,
    database_url: str,
    tmp_path: Path,
) -> None:
    pbx.add_entry(43, "198.51.100.4")
    (first, a), (second, b) = await two_replicas(processes, slack, pbx, tmp_path, database_url)
    await a.command("42", user=ALICE)
    await wait_for(lambda: len(a.cards()) == 1, what="the card made by A")
    await b.command("43", user=ALICE)  # B calls 3CX too, with the token A fetched
    await wait_for(lambda: len(a.cards()) == 2, what="the card made by B")
    [card] = [c for c in a.cards() if "203.0.113.7" in block_text(c.blocks)]
    request_id = str(buttons(card.blocks)[0]["value"])
    pbx.delay = 0.2  # the winner's DELETE is still under way while the other clicks land

    clicks = await asyncio.gather(
        *(driver.click(APPROVE, request_id, user=user) for driver in (a, b) for user in (BOB, CAROL, BOB, CAROL))
    )
    assert [reply.status for reply, _ in clicks] == [200] * 8

    def answered() -> int:
        return sum(1 for _, url in clicks if a.notes(url))

    await wait_for(lambda: "unblocked" in block_text(card.blocks) and answered() == 7, what="every click's answer")
    assert await first.stop() == 0 and await second.stop() == 0

    assert [r.path for r in pbx.calls("DELETE")] == ["/xapi/v1/Blocklist(42)"]
    updates = [c.args.get("text", "") for c in slack.calls_to("chat.update") if c.args.get("ts") == card.ts]
    assert len(updates) == 2 and updates[0].endswith("unblocking…") and "it is unblocked" in updates[1]
    [row] = await postgres.query(database_url, "SELECT resolved_by FROM requests WHERE id = $1", request_id)
    winner = row["resolved_by"]
    notes = [a.notes(url) for _, url in clicks]
    assert sorted(len(n) for n in notes) == [0] + [1] * 7  # the winner sees the card change
    for [note] in (n for n in notes if n):
        assert f"This request was approved by <@{winner}>" in note and "Nothing more was done" in note
    log = await postgres.query(
        database_url, "SELECT from_state, to_state FROM transitions WHERE request_id = $1 ORDER BY seq", request_id
    )
    assert [(row["from_state"], row["to_state"]) for row in log] == [
        (None, "pending"),
        ("pending", "executing"),
        ("executing", "unblocked"),
    ]
    # one token for both processes: had either fetched its own, 3CX would have refused the other's
    assert pbx.token_requests == 1
    xapi = [r for r in pbx.requests if r.path.startswith("/xapi/")]
    entries = [r.path for r in xapi if r.method == "GET" and r.path.startswith("/xapi/v1/Blocklist")]
    assert entries == ["/xapi/v1/Blocklist(42)", "/xapi/v1/Blocklist(43)"]
    assert {r.headers["Authorization"] for r in xapi} == {f"Bearer {pbx.tokens_issued[0]}"}


# replicas that survive their database and each other -----------------------------------------------------


@pytest.fixture(scope="module")
def own_postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server of this module's own, which its tests stop and start."""
    yield from running_server("the tests of replicas")


@pytest.fixture
async def shared_url(own_postgres: PostgresServer) -> AsyncIterator[str]:
    yield await own_postgres.new_database()
    if not (own_postgres.data / "postmaster.pid").exists():
        await asyncio.to_thread(own_postgres.resume)  # a test that stopped it left it stopped


async def two_replicas(
    processes: list[BotProcess], slack: FakeSlack, pbx: FakeThreeCX, tmp_path: Path, url: str, **extra: str
) -> tuple[tuple[BotProcess, Harness], tuple[BotProcess, Harness]]:
    a = await start_http_bot(processes, slack, pbx, tmp_path, DATABASE_URL=url, **extra)
    b = await start_http_bot(processes, slack, pbx, tmp_path, DATABASE_URL=url, **extra)
    return a, b


def address(n: int) -> str:
    """The address this module gives entry ``n``."""
    return f"198.51.{n // 256}.{n % 256}"


def card_for(driver: Harness, n: int) -> Message | None:
    """The card asking to unblock entry ``n`` (as first posted: found by the entry in its fields)."""
    return next((c for c in driver.cards() if f"IP blocklist, entry {n}\n" in block_text(c.blocks)), None)


async def open_cards(driver: Harness, entries: range) -> list[Message]:
    """``/unblock`` each entry (added to 3CX first); their cards (the fake keeps each up to date)."""
    for n in entries:
        driver.pbx.add_entry(n, address(n))
        await driver.command(str(n))
    await wait_for(lambda: all(card_for(driver, n) for n in entries), what="the cards")
    return [card for n in entries if (card := card_for(driver, n))]


def request_id(card: Message) -> str:
    return str(buttons(card.blocks)[0]["value"])


def saying(cards: list[Message], text: str) -> int:
    return sum(text in block_text(card.blocks) for card in cards)


@pytest.mark.long(10)
async def test_a_database_away_for_a_moment_loses_no_command_no_click_and_no_answer_from_3cx(
    processes: list[BotProcess],
    slack: FakeSlack,
    pbx: FakeThreeCX,
    own_postgres: PostgresServer,
    shared_url: str,
    tmp_path: Path,
) -> None:
    (a, da), (b, db) = await two_replicas(processes, slack, pbx, tmp_path, shared_url, THREECX_TIMEOUT="5")
    cards = await open_cards(da, range(100, 106))
    ids = [request_id(card) for card in cards]
    pbx.delay = 2.0
    await db.click(APPROVE, ids[-1], user=BOB)
    await wait_for(lambda: pbx.calls("DELETE"), what="a DELETE under way")
    for n in range(200, 220):
        pbx.add_entry(n, address(n))

    await asyncio.to_thread(own_postgres.halt)  # the DELETE's answer comes while the database is away
    pbx.delay = 0.2
    commands = [await (da if n % 2 else db).command(str(n), user=CAROL) for n in range(200, 220)]
    clicks = [await (db if i % 2 else da).click(APPROVE, request, user=BOB) for i, request in enumerate(ids[:-1])]
    await asyncio.sleep(1.5)
    await asyncio.to_thread(own_postgres.resume)

    assert all(reply.status == 200 for reply, _ in commands + clicks)
    await wait_for(
        lambda: all(card_for(da, n) for n in range(200, 220)),
        timeout=60,
        what="a card for every command acknowledged while the database was away",
    )
    await wait_for(lambda: saying(cards, "unblocked") == 6, timeout=60, what="every approval's outcome")
    assert await a.stop() == 0 and await b.stop() == 0

    assert sorted(r.path for r in pbx.calls("DELETE")) == sorted(f"/xapi/v1/Blocklist({n})" for n in range(100, 106))
    states = await own_postgres.query(shared_url, "SELECT state FROM requests WHERE id = ANY($1::text[])", ids)
    assert [row["state"] for row in states] == ["unblocked"] * 6
    assert "the database is not answering; trying again" in a.stderr + b.stderr  # it was away, and waited for


async def probe(driver: Harness, path: str) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as http, http.get(f"{driver.url}{path}") as response:
        return response.status, await response.json()


async def test_a_database_away_for_longer_than_the_bot_waits_is_told_and_seen_by_the_probes(
    processes: list[BotProcess],
    slack: FakeSlack,
    pbx: FakeThreeCX,
    own_postgres: PostgresServer,
    shared_url: str,
    tmp_path: Path,
) -> None:
    (_, da), (_, db) = await two_replicas(processes, slack, pbx, tmp_path, shared_url, DATABASE_WAIT="1")
    cards = await open_cards(da, range(100, 102))
    assert (await probe(da, "/readyz"))[0] == 200

    await asyncio.to_thread(own_postgres.halt)
    asked = [await (da, db)[n % 2].command(str(n)) for n in range(100, 104)]
    clicked = [await (db, da)[i].click(APPROVE, request_id(card), user=BOB) for i, card in enumerate(cards)]
    urls = [url for _, url in asked + clicked]
    await wait_for(lambda: all(da.notes(url) for url in urls), timeout=30, what="a note to everyone")
    not_ready, live = await probe(db, "/readyz"), await probe(db, "/healthz")
    await asyncio.to_thread(own_postgres.resume)

    for url in urls:
        [note] = da.notes(url)
        assert "could not reach its database just now" in note and "nothing was changed in 3CX" in note
    assert not_ready[0] == 503 and not_ready[1]["checks"]["database"].startswith("the database does not answer")
    assert live[0] == 200  # alive: a supervisor should not restart it for this
    assert pbx.calls("DELETE") == []
    assert all(buttons(card.blocks)[0]["action_id"] == APPROVE for card in cards)  # the cards are as they were
    await da.click(APPROVE, request_id(cards[0]), user=BOB)  # and with the database back, it works
    await wait_for(lambda: saying(cards, "unblocked") == 1, what="the approval after the outage")
    assert (await probe(da, "/readyz"))[0] == 200


@pytest.mark.long(20)
async def test_a_live_replicas_long_claim_is_never_taken_and_a_killed_ones_is_settled_by_another_within_a_minute(
    processes: list[BotProcess], slack: FakeSlack, pbx: FakeThreeCX, shared_url: str, tmp_path: Path
) -> None:
    # with entry 42, 25 entries block 203.0.113.7; removing them all takes longer than a stopped claim is
    # waited for
    masks = [str(ipaddress.ip_network(f"203.0.113.7/{p}", strict=False)) for p in range(31, 7, -1)]
    for n, mask in enumerate(masks, start=300):
        pbx.add_entry(n, mask)
    (a, da), (b, _) = await two_replicas(processes, slack, pbx, tmp_path, shared_url, THREECX_TIMEOUT="1")
    _, offer_url = await da.command("203.0.113.7")
    await wait_for(lambda: da.slack.posts_to(offer_url), what="the choice")
    every = buttons(da.slack.posts_to(offer_url)[0].body["blocks"])[-1]
    assert every["text"]["text"] == "Request all 25"
    await da.click(CHOOSE, every["value"], user=ALICE)
    await wait_for(lambda: da.cards(), what="the card")
    [long] = da.cards()
    # 25 x 0.4 s: longer than the 7 s after which a silent claim is taken over (a heartbeat of 0.5 s, two of them,
    # and a call's 4 s at most with a 3CX timeout of 1 s, its retries included, and 2 s to spare)
    pbx.delay = 0.4
    before = len(pbx.requests)

    await da.click(APPROVE, request_id(long), user=BOB)
    await wait_for(lambda: "unblocked" in block_text(long.blocks), timeout=60, what="the outcome")

    deleted = sorted(f"/xapi/v1/Blocklist({n})" for n in (42, *range(300, 324)))
    assert sorted(r.path for r in pbx.calls("DELETE")) == deleted
    assert [r.method for r in pbx.requests[before:]] == ["DELETE"] * 25  # nobody took it over to check 3CX
    assert "finished after a restart" not in block_text(long.blocks)

    # killed, its claim is B's once every call A could have made must have ended
    pbx.delay = 0
    [card] = await open_cards(da, range(100, 101))
    pbx.delay = 2.0  # 3CX carries the DELETE out after the replica that sent it was killed
    await da.click(APPROVE, request_id(card), user=BOB)
    await wait_for(lambda: pbx.calls("DELETE", "/xapi/v1/Blocklist(100)"), what="the DELETE under way")
    a.kill()
    await a.wait()
    pbx.delay = 0  # the DELETE under way keeps its 2 s
    await wait_for(lambda: "unblocking…" not in block_text(card.blocks), timeout=60, what="the other replica")
    assert await b.stop() == 0

    text = block_text(card.blocks)
    assert (
        f"{address(100)} was approved by <@UBOB>, and it is unblocked.*" in text
        and "finished after a restart of the bot" in text
    )
    assert len(pbx.calls("DELETE", "/xapi/v1/Blocklist(100)")) == 1  # checked, not sent again
    assert 100 not in pbx.entries and [button["action_id"] for button in buttons(card.blocks)] == [UNDO]  # Undo offered
    assert "finishing a request whose process stopped" in b.stderr


async def test_a_replica_started_before_its_database_waits_for_it(
    processes: list[BotProcess],
    slack: FakeSlack,
    pbx: FakeThreeCX,
    own_postgres: PostgresServer,
    shared_url: str,
    tmp_path: Path,
) -> None:
    await asyncio.to_thread(own_postgres.halt)
    starting = asyncio.create_task(start_http_bot(processes, slack, pbx, tmp_path, DATABASE_URL=shared_url))
    await wait_for(lambda: processes and processes[-1].proc is not None, what="the bot to start")
    await processes[-1].logged("the database is not up yet", times=2)  # it waits, and tries again
    await asyncio.to_thread(own_postgres.resume)
    process, driver = await starting
    await driver.command("42")
    await wait_for(lambda: driver.cards(), what="the card")
    assert await process.stop() == 0

    tries = [json.loads(line) for line in process.stderr.splitlines() if "the database is not up yet" in line]
    # however long the server took to start: each pause twice the one before, up to 10 s
    assert [t["in"] for t in tries] == [min(0.5 * 2**n, 10.0) for n in range(len(tries))]
    assert "Traceback" not in process.stderr


@pytest.mark.long(10)
async def test_check_during_a_burst_of_approvals_fights_nobody_for_the_token(
    processes: list[BotProcess], slack: FakeSlack, pbx: FakeThreeCX, shared_url: str, tmp_path: Path
) -> None:
    (a, da), (b, db) = await two_replicas(processes, slack, pbx, tmp_path, shared_url)
    cards = await open_cards(da, range(100, 130))
    pbx.delay = 0.05

    checks = [BotProcess({**da.env, "PORT": "1"}, tmp_path, "check") for _ in range(2)]
    clicks = [(da, db)[i % 2].click(APPROVE, request_id(card), user=BOB) for i, card in enumerate(cards)]
    results = await asyncio.gather(*(check.run() for check in checks), *clicks)
    await wait_for(lambda: saying(cards, "unblocked") == 30, timeout=60, what="every approval")
    assert await a.stop() == 0 and await b.stop() == 0

    assert results[:2] == [0, 0], checks[0].stdout + checks[1].stdout
    assert pbx.token_requests == 1  # one token for both replicas and both checks
    approved = {f"/xapi/v1/Blocklist({n})" for n in range(100, 130)}
    deletes = [r.path for r in pbx.calls("DELETE")]
    assert sorted(path for path in deletes if path in approved) == sorted(approved)
    # besides, each check's two DELETEs that prove the right to remove, of entries that do not exist
    assert len(deletes) == 30 + 2 * 2 and list(pbx.entries) == [42]
