"""A PostgreSQL restart under traffic loses nothing: whatever asyncpg raises when a connection goes away is
waited out like the server itself, and a write tried again whose first try was applied is recognised.

1. ``pg_ctl restart`` ten times while people type commands and click, on two replicas sharing one
   database: every command acknowledged gets its card, every approval its outcome, 3CX one DELETE each.
2. The same, one way at a time and every time, with a proxy in front of the server that cuts a
   connection where the test says: before a statement reaches the server, as the server reports a
   statement done (its answer lost), or with the server's goodbye arriving before the connection closes.
"""

from __future__ import annotations

import asyncio
import logging
import re
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import asyncpg  # type: ignore[import-untyped]
import pytest

from bot.domain.model import State
from bot.domain.ports import Announcement
from bot.slack.buttons import APPROVE
from bot.slack.views.notes import DATABASE_AWAY
from bot.storage.postgres import PostgresStore
from bot.storage.postgres_errors import transient

from .conftest import MakeHarness
from .fakes.slack import Message
from .harness import BOB, CAROL, Harness, block_text, card_request_id, move
from .postgres import PostgresServer
from .test_storage import Fetches, entry, pending

# 1. restarts under traffic, two replicas ---------------------------------------------------------------

#: restarts of the server, each under a burst of commands and clicks
RESTARTS = 10
#: commands and clicks sent during each restart, alternately to either replica
BURST = 12
#: between two of them
SPACING = 0.02


def restart(server: PostgresServer) -> None:
    """``pg_ctl stop -m fast`` and start: every connection is cut, and the server is back in a moment."""
    server.halt()
    server.resume()


def address(n: int) -> str:
    return f"198.51.{n // 256}.{n % 256}"


def card_for(bot: Harness, n: int) -> Message | None:
    """The card about entry ``n`` (found by its address, whatever the card says now)."""
    named = re.compile(rf"(?<![\d.]){re.escape(address(n))}(?![\d/])")
    return next((c for c in bot.cards() if named.search(block_text(c.blocks))), None)


@pytest.mark.long(8)
async def test_restarts_under_traffic_lose_no_acknowledged_command_and_no_click(
    make_harness: MakeHarness, postgres: PostgresServer, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    a = await make_harness(DATABASE_URL=database_url)
    b = await make_harness(DATABASE_URL=database_url)
    replicas = (a, b)
    commands: dict[int, str] = {}  # entry -> the command's response_url
    clicks: dict[int, str] = {}  # entry -> the click's response_url
    waiting: list[int] = []  # entries whose card is out, not approved yet

    async def command(n: int) -> None:
        a.pbx.add_entry(n, address(n))
        reply, url = await replicas[n % 2].command(str(n), user=CAROL)
        assert reply.status == 200
        commands[n] = url

    async def click(n: int) -> None:
        card = card_for(a, n)
        assert card is not None
        reply, url = await replicas[(n + 1) % 2].click(APPROVE, card_request_id(card.blocks), user=BOB)
        assert reply.status == 200
        clicks[n] = url

    async def traffic(start: int) -> None:
        for i in range(BURST):  # a click first (its connection was idle in the pool), then in turns
            await (click(waiting.pop(0)) if waiting and i % 2 == 0 else command(start + i))
            await asyncio.sleep(SPACING)

    for round in range(RESTARTS):
        await asyncio.gather(asyncio.to_thread(restart, postgres), traffic(100 + round * BURST))
        for bot in replicas:
            await bot.settle()
        waiting += [n for n in commands if n not in clicks and n not in waiting and card_for(a, n)]

    for bot in replicas:
        await bot.settle()
    lost = [n for n, url in commands.items() if card_for(a, n) is None and DATABASE_AWAY not in a.notes(url)]
    assert lost == [], "acknowledged commands that got neither a card nor a note"
    undecided = [n for n in clicks if "unblocked" not in block_text(card_for(a, n).blocks)]  # type: ignore[union-attr]
    assert undecided == [], "approvals that got no outcome"
    assert len(commands) >= RESTARTS * BURST // 2 and len(clicks) >= RESTARTS
    # the server was back within a second: nobody had to be told to try again, and 3CX got one DELETE each
    assert [n for n, url in {**commands, **clicks}.items() if a.notes(url) and DATABASE_AWAY in a.notes(url)] == []
    assert sorted(r.path for r in a.pbx.calls("DELETE")) == sorted(f"/xapi/v1/Blocklist({n})" for n in clicks)
    log = await postgres.query(
        database_url, "SELECT from_state, to_state, count(*) AS n FROM transitions GROUP BY from_state, to_state"
    )
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []  # nothing escaped
    made, approved = len(commands), len(clicks)
    assert {(row["from_state"], row["to_state"]): row["n"] for row in log} == {
        (None, "pending"): made,
        ("pending", "executing"): approved,
        ("executing", "unblocked"): approved,
    }


# 2. one connection cut at a time ----------------------------------------------------------------------

#: what PostgreSQL says to each connection as it shuts down: an ErrorResponse, FATAL 57P01
GOODBYE_FIELDS = b"SFATAL\x00VFATAL\x00C57P01\x00Mterminating connection due to administrator command\x00\x00"
GOODBYE = b"E" + struct.pack("!i", 4 + len(GOODBYE_FIELDS)) + GOODBYE_FIELDS


def done(tag: str) -> re.Pattern[bytes]:
    """A CommandComplete message: the server reporting a statement (``SELECT``, ``COMMIT``…) done."""
    return re.compile(rb"C\x00\x00\x00.%s[\d ]*\x00" % tag.encode(), re.DOTALL)


@dataclass
class Link:
    client: asyncio.StreamWriter
    server: asyncio.StreamWriter
    #: the server's next report of a statement done like this is dropped, and the link cut
    losing: re.Pattern[bytes] | None = None

    def cut(self) -> None:
        for side in (self.client, self.server):
            side.transport.abort()


@dataclass
class Cutter:
    """A TCP proxy on 127.0.0.1 in front of PostgreSQL, which cuts its connections where a test says."""

    upstream: int
    links: list[Link] = field(default_factory=list)
    #: the next statement containing this text: (its text, the report of it done that is lost; None: it is cut
    #: before it reaches the server)
    armed: tuple[bytes, re.Pattern[bytes] | None] | None = None
    cuts: int = 0
    server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._link, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        for link in self.links:
            link.cut()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    def before(self, statement: str) -> None:
        """Cut the connection that sends ``statement`` next, before the server sees it."""
        self.armed = (statement.encode(), None)

    def answer(self, statement: str, tag: str = "SELECT") -> None:
        """Let the server carry out ``statement`` (the next that contains this text), and cut its connection
        as the server reports ``tag`` done (the statement, or the transaction's COMMIT): the server did it, the
        bot never hears so."""
        self.armed = (statement.encode(), done(tag))

    async def goodbye(self) -> None:
        """Every connection gets the server's FATAL goodbye now, and is closed a moment later (as in a restart
        whose goodbye is read before the connection's end)."""
        links, self.links = self.links, []
        for link in links:
            link.client.write(GOODBYE)
            asyncio.get_running_loop().call_later(0.5, link.cut)
        await asyncio.sleep(0.05)  # read by asyncpg, the connections still open

    async def _link(self, client_reader: asyncio.StreamReader, client: asyncio.StreamWriter) -> None:
        server_reader, server = await asyncio.open_connection("127.0.0.1", self.upstream)
        link = Link(client, server)
        self.links.append(link)
        await asyncio.gather(self._requests(link, client_reader), self._answers(link, server_reader))

    async def _requests(self, link: Link, reader: asyncio.StreamReader) -> None:
        while data := await reader.read(65536):
            if self.armed is not None and self.armed[0] in data:
                link.losing, self.armed = self.armed[1], None
                if link.losing is None:
                    self.cuts += 1
                    link.cut()
                    return
            link.server.write(data)
        link.cut()

    async def _answers(self, link: Link, reader: asyncio.StreamReader) -> None:
        while data := await reader.read(65536):
            if link.losing is not None and link.losing.search(data):
                self.cuts += 1
                link.cut()
                return
            link.client.write(data)
        link.cut()


@pytest.fixture
async def cutter(database_url: str) -> AsyncIterator[Cutter]:
    proxy = Cutter(int(urlsplit(database_url).port or 5432))
    await proxy.start()
    yield proxy
    await proxy.close()


@pytest.fixture
async def cut_store(cutter: Cutter, database_url: str) -> AsyncIterator[PostgresStore]:
    """A store whose connections go through the cutter."""
    assert cutter.server is not None
    url = urlsplit(database_url)
    via = url._replace(netloc=f"{url.netloc.rsplit(':', 1)[0]}:{cutter.server.sockets[0].getsockname()[1]}")
    store = PostgresStore(via.geturl(), wait=10)
    await store.open()
    yield store
    await store.close()


async def test_a_transaction_whose_connection_is_cut_is_made_again(cut_store: PostgresStore, cutter: Cutter) -> None:
    request = pending("00000000000000a1")
    cutter.before("INSERT INTO transitions")  # the request is inserted; the transaction's end never comes
    await cut_store.add(request)  # asyncpg: "cannot call Transaction.__aexit__(): the underlying connection…"
    assert cutter.cuts == 1 and await cut_store.get(request.id) == request
    assert [(t.from_state, t.to_state) for t in await cut_store.transitions(request.id)] == [(None, State.PENDING)]


async def test_a_move_whose_answer_was_lost_is_recognised_when_tried_again(
    cut_store: PostgresStore, cutter: Cutter
) -> None:
    request = pending("00000000000000a2")
    await cut_store.add(request)
    cutter.answer("WITH moved AS")
    claimed = await move(cut_store, request.id, State.PENDING, State.EXECUTING, actor=BOB, at=1100.0, owner="p1")
    assert cutter.cuts == 1
    assert claimed is not None and claimed.state is State.EXECUTING and claimed.owner == "p1"  # won, not lost
    steps = [(t.from_state, t.to_state, t.actor) for t in await cut_store.transitions(request.id)]
    assert steps == [(None, State.PENDING, request.asked.by), (State.PENDING, State.EXECUTING, BOB)]
    # a move that was really made by someone else is still lost
    assert await move(cut_store, request.id, State.PENDING, State.DENIED, actor=CAROL, at=1101.0) is None


async def test_a_take_over_whose_answer_was_lost_is_recognised_when_tried_again(
    cut_store: PostgresStore, cutter: Cutter
) -> None:
    request = pending("00000000000000a3")
    await cut_store.add(request)
    await move(cut_store, request.id, State.PENDING, State.EXECUTING, actor=BOB, at=1100.0, owner="gone")
    cutter.answer("UPDATE requests SET owner")
    taken = await cut_store.take_over(request.id, "p2", 1100.0, 1200.0)
    assert cutter.cuts == 1 and taken is not None and taken.owner == "p2" and taken.heartbeat_at == 1200.0
    assert await cut_store.take_over(request.id, "p3", 1100.0, 1201.0) is None  # taken: not again


async def test_a_watch_mark_whose_commit_answer_was_lost_is_recognised_when_tried_again(
    cut_store: PostgresStore, cutter: Cutter
) -> None:
    assert await cut_store.hold_watch("p1", 100.0, stale_before=0.0) == (True, None)
    cutter.answer("UPDATE watch_state SET high_water", "COMMIT")  # committed; the answer to COMMIT is lost
    found = [Announcement(entry(7, "192.0.2.7"), "C0WATCH")]
    assert await cut_store.advance_watch("p1", None, 7, found, 101.0) is True
    assert cutter.cuts == 1 and [a.entry.id for a in await cut_store.unposted(10)] == [7]
    assert await cut_store.advance_watch("p1", None, 8, [], 102.0) is False  # the mark is 7 now


async def test_the_servers_goodbye_read_before_the_connection_ends_is_waited_out(
    cut_store: PostgresStore, cutter: Cutter
) -> None:
    request = pending("00000000000000a4")
    await cut_store.add(request)
    await cutter.goodbye()  # the idle connection in the pool read it: asyncpg "cannot switch to state …"
    assert await cut_store.get(request.id) == request
    await cutter.goodbye()
    assert await move(cut_store, request.id, State.PENDING, State.DENIED, actor=CAROL, at=1100.0) is not None


async def test_a_token_endpoint_out_of_reach_is_not_taken_for_the_database(cut_store: PostgresStore) -> None:
    fetches = 0

    async def fetch() -> tuple[str, float]:
        nonlocal fetches
        fetches += 1
        raise ConnectionRefusedError(111, "Connection refused")  # what reaching 3CX raises, as the database would

    with pytest.raises(ConnectionRefusedError):
        await asyncio.wait_for(cut_store.renew_token(None, fetch), 5)
    assert fetches == 1  # 3CX's failure is 3CX's to retry (its client's policy), not waited out here


async def test_a_token_renewal_cut_off_is_made_again(cut_store: PostgresStore, cutter: Cutter) -> None:
    fetch = Fetches(delay=0)
    cutter.before("INSERT INTO access_tokens")
    token, _ = await cut_store.renew_token(None, fetch)
    assert cutter.cuts == 1 and token == "token-2" and fetch.count == 2  # the first token was never kept
    assert (await cut_store.renew_token(None, fetch))[0] == "token-2"


def lost_while_handling_a_lost_connection() -> asyncpg.InterfaceError:
    try:
        try:
            raise asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation")
        except asyncpg.PostgresError:
            raise asyncpg.InterfaceError("cannot perform operation: another operation is cancelling") from None
    except asyncpg.InterfaceError as error:
        assert error.__context__ is not None
        return error


@pytest.mark.parametrize(
    ("error", "worth_waiting"),
    [
        (asyncpg.InterfaceError("cannot call Transaction.__aexit__(): the underlying connection is closed"), True),
        (asyncpg.InternalClientError("cannot switch to state 15; another operation (2) is in progress"), True),
        (asyncpg.InterfaceError("cannot perform operation: connection is closed"), True),
        (asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"), True),
        (asyncpg.CannotConnectNowError("the database system is starting up"), True),
        (ConnectionRefusedError(111, "Connection refused"), True),
        (lost_while_handling_a_lost_connection(), True),
        # mistakes of the bot, raised at once
        (asyncpg.InterfaceError("the server expects 2 arguments for this query, 1 was passed"), False),
        (asyncpg.InterfaceError("cannot call Connection.fetch(): the underlying connection has been released"), False),
        (asyncpg.InterfaceError("cannot perform operation: another operation is in progress"), False),
        (asyncpg.InterfaceError("pool is closing"), False),
        (asyncpg.UniqueViolationError("duplicate key value violates unique constraint"), False),
        (RuntimeError("connection is closed"), False),  # not asyncpg's
    ],
    ids=str,
)
def test_a_connection_gone_is_worth_waiting_for_and_a_mistake_is_raised_at_once(
    error: Exception, worth_waiting: bool
) -> None:
    assert transient(error) is worth_waiting
