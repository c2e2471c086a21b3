"""One database for several PBXes, through the store's contract: the same tests run against SQLite and PostgreSQL.

1. A view bound to one PBX (``Store.scoped``) lists only that PBX's requests, announcements and allow entries, and
   has its own 3CX token and watch lease; the store ``open_store`` returns lists every PBX's.
2. ``adopt``: the URL of each PBX served is recorded, and the data of a name no longer served moves to the PBX
   served at its URL, nothing lost; the data of a bot that served one PBX, whose URL was never recorded, is refused.
3. A database written before PBXes had names (``tests/data/before-pbxes.sql``) is migrated and adopted whole.
"""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

import bot.storage.contract
import bot.storage.postgres
from bot.domain.actions import Result
from bot.domain.allows import Allow, How
from bot.domain.entries import BlocklistEntry
from bot.domain.model import State, UnblockRequest
from bot.domain.outcomes import Outcome
from bot.domain.policy import ApprovalPolicy
from bot.domain.ports import AlreadyOpen, Announcement
from bot.domain.reads import Reads
from bot.domain.rules import Rule, Rules
from bot.storage.adopting import PbxesUnknown
from bot.storage.contract import Store
from bot.storage.database import migrations
from bot.storage.opening import open_store

from .conftest import NewStore
from .domain.fakes import FakeMembership, MemoryAllows, MemoryStore, WatchStore
from .harness import ALICE, BOB, CAROL, GENERAL, move
from .postgres import PostgresServer
from .test_storage import ALLOW_HOUR, Fetches, entry, pending

ACME, BETA = "https://acme.3cx.eu", "https://beta.3cx.eu:5001"
DATA = Path(__file__).resolve().parent / "data"


def request(
    id: str,
    pbx: str,
    *entries: BlocklistEntry,
    created_at: float = 1000.0,
    expires_at: float = 1900.0,
    requester: str = ALICE,
) -> UnblockRequest:
    """A pending request of ``pbx`` for ``entries`` (entry 42 unless named)."""
    targets = entries or (entry(42, "203.0.113.7"),)
    made = pending(id, targets=targets, created_at=created_at, expires_at=expires_at, requester=requester)
    return replace(made, pbx=pbx)


def announcement(id: int) -> Announcement:
    return Announcement(entry(id, "192.0.2.7"), GENERAL)


async def unblocked_with_allow(store: Store, request: UnblockRequest) -> None:
    """``request`` added, unblocked with an allow entry of an hour, and that allow entry kept."""
    allowed = (Result(Outcome.DELETED, "HTTP 204; allow entry 9 added (HTTP 201)", None, False, 9, 5000.5),)
    await store.add(request)
    await move(store, request.id, State.PENDING, State.EXECUTING, actor=BOB, at=40.0, action=ALLOW_HOUR, owner="p")
    await move(store, request.id, State.EXECUTING, State.UNBLOCKED, actor=BOB, at=41.0, results=allowed, owner="p")
    await store.keep_allow(Allow(request.id, 9, "203.0.113.7", 41.0, 3641.0, 3600.0))


def ids(requests: list[UnblockRequest]) -> list[str]:
    return sorted(r.id[0] for r in requests)


# 1. views bound to one PBX -------------------------------------------------------------------------


async def test_each_pbx_lists_its_own_requests_and_the_unscoped_store_lists_every_pbxs(store: Store) -> None:
    acme, beta = store.scoped("acme"), store.scoped("beta")
    await acme.add(request("a" * 16, "acme", created_at=10.0, expires_at=100.0))
    await beta.add(request("b" * 16, "beta", created_at=20.0, expires_at=100.0))  # entry 42 of another PBX
    await store.add(request("c" * 16, "", created_at=30.0, expires_at=100.0))  # and of the one PBX ""
    with pytest.raises(AlreadyOpen):
        await beta.add(request("d" * 16, "beta"))
    await acme.add(request("e" * 16, "acme", entry(7, "198.51.100.7"), created_at=40.0, requester=CAROL))
    await move(acme, "e" * 16, State.PENDING, State.EXECUTING, actor=BOB, at=50.0, owner="p")

    assert ids(await acme.recent(10)) == ["a", "e"] and ids(await beta.recent(10)) == ["b"]
    assert ids(await store.scoped("").recent(10)) == ["c"] and ids(await store.recent(10)) == ["a", "b", "c", "e"]
    assert ids(await acme.recent(10, GENERAL)) == ["a", "e"] and await store.scoped("other").recent(10) == []
    assert ids(await acme.waiting(10)) == ["a"] and ids(await store.waiting(10)) == ["a", "b", "c"]
    assert [r.id[0] for r in await store.waiting(10, {"acme", ""})] == ["c", "a"]  # of those PBXes, newest first
    assert await store.waiting(10, {"other"}) == [] and await store.waiting(10, set()) == []
    assert (await acme.count_pending(), await beta.count_pending(), await store.count_pending()) == (1, 1, 3)
    assert ids(await beta.requested_by(ALICE, 10)) == ["b"] and ids(await store.requested_by(ALICE, 10)) == [
        "a",
        "b",
        "c",
    ]
    assert ids(await acme.requested_by(CAROL, 10)) == ["e"]
    assert ids(await beta.pending_expired(100.0)) == ["b"] and len(await store.pending_expired(100.0)) == 3
    assert ids(await acme.still_waiting(60.0, 60.0, None)) == ["a"]
    assert ids(await store.still_waiting(60.0, 60.0, None)) == ["a", "b", "c"]
    assert ids(await beta.between(0.0, 100.0, 10)) == ["b"] and len(await store.between(0.0, 100.0, 10)) == 4
    assert ids(await acme.abandoned(60.0)) == ["e"] and await beta.abandoned(60.0) == []
    # by its id, a request is found through its own PBX's view and the unscoped store, and knows its PBX; another
    # PBX's view does not find it
    found = await acme.get("a" * 16)
    assert found is not None and found.pbx == "acme" and found == await store.get("a" * 16)
    assert await beta.get("a" * 16) is None


async def test_what_was_unblocked_and_undone_is_listed_for_its_own_pbx(store: Store) -> None:
    acme, beta = store.scoped("acme"), store.scoped("beta")
    for view, id in ((acme, "a"), (beta, "b")):
        await unblocked_with_allow(view, request(id * 16, view.pbx or ""))
    await move(beta, "b" * 16, State.UNBLOCKED, State.UNDOING, actor=CAROL, at=50.0, owner="p")

    assert ids(await acme.unblocked_since(0.0)) == ["a"] and ids(await store.unblocked_since(0.0)) == ["a"]
    assert ids(await beta.undone(10)) == ["b"] and await acme.undone(10) == []
    assert ids(await store.undone(10)) == ["b"]


async def test_allow_entries_are_kept_for_the_pbx_of_the_view_that_keeps_them(store: Store) -> None:
    acme, beta = store.scoped("acme"), store.scoped("beta")
    await unblocked_with_allow(acme, request("a" * 16, "acme"))
    await unblocked_with_allow(beta, request("b" * 16, "beta"))
    for view, id in ((acme, "c"), (beta, "d")):  # unblocked with an allow entry not kept yet
        await view.add(request(id * 16, view.pbx or "", entry(ord(id), "192.0.2.1")))
        await move(view, id * 16, State.PENDING, State.EXECUTING, actor=BOB, at=40.0, action=ALLOW_HOUR, owner="p")
        await move(view, id * 16, State.EXECUTING, State.UNBLOCKED, actor=BOB, at=41.0, owner="p", results=())

    assert [a.request_id[0] for a in await acme.allows_in_force(10)] == ["a"]
    assert sorted(a.request_id[0] for a in await store.allows_in_force(10)) == ["a", "b"]  # the Home tab's
    assert [r.id[0] for r in await beta.allowing_unkept(0.0, 10)] == ["d"]
    assert await beta.end_allow("b" * 16, How.REMOVED, None, 60.0, "x") is not None  # by its request's id
    assert [a.request_id[0] for a in await beta.allows_untold(10)] == ["b"] and await acme.allows_untold(10) == []
    assert await acme.allow_of("b" * 16) is None and await beta.allow_of("b" * 16) is not None  # its own PBX's


async def test_each_pbx_announces_its_own_entry_42_and_has_its_own_lease(store: Store) -> None:
    acme, beta, one = store.scoped("acme"), store.scoped("beta"), store.scoped("")
    for view in (acme, beta, one):
        assert await view.hold_watch("p1", 1000.0, 900.0) == (True, None)
    assert await beta.hold_watch("p2", 1001.0, 901.0) == (False, None)  # held, in beta too
    assert await store.hold_watch("p2", 1001.0, 901.0) == (False, None)  # the unscoped store's is the one of ""
    assert await acme.advance_watch("p1", None, 50, [announcement(42)], 1000.0)
    assert await beta.advance_watch("p1", None, 60, [announcement(42), announcement(43)], 1000.0)
    assert await beta.hold_watch("p1", 1002.0, 902.0) == (True, 60) and await acme.hold_watch("p1", 1002.0, 902.0) == (
        True,
        50,
    )

    await acme.posted([42], "1.0001", in_summary=False)
    await beta.checked([42], 1500.0)
    assert await beta.mark_gone(43) and not await acme.mark_gone(43)
    assert [(a.entry.id, a.ref) for a in await acme.showing(10)] == [(42, "1.0001")] and await acme.unposted(10) == []
    assert [a.entry.id for a in await beta.unposted(10)] == [42] and await beta.showing(10) == []
    found = await store.found_between(0.0, 2000.0, 10)
    assert sorted((f.entry.id, f.pbx) for f in found) == [(42, "acme"), (42, "beta"), (43, "beta")]
    assert [f.entry.id for f in await acme.found_between(0.0, 2000.0, 10)] == [42]
    await acme.release_watch("p1")
    assert await acme.hold_watch("p2", 1003.0, 903.0) == (True, 50)
    assert await beta.hold_watch("p2", 1003.0, 903.0) == (False, None)  # p1 holds beta's still


async def test_the_domains_fakes_keep_pbxes_apart_as_the_stores_do() -> None:
    requests, watch = MemoryStore(), WatchStore()
    allows = MemoryAllows(requests)
    acme, beta = requests.scoped("acme"), requests.scoped("beta")
    await acme.add(request("a" * 16, "acme"))
    await beta.add(request("b" * 16, "beta"))
    with pytest.raises(AlreadyOpen):
        await beta.add(request("c" * 16, "beta"))
    assert ids(await acme.waiting(10)) == ["a"] and ids(await requests.waiting(10)) == ["a", "b"]
    assert ids(await requests.waiting(10, {"beta"})) == ["b"] and await requests.waiting(10, set()) == []
    assert await requests.scoped("").recent(10) == [] and await acme.get("b" * 16) is None
    assert await beta.get("b" * 16) is not None and await requests.get("b" * 16) is not None

    await allows.scoped("acme").keep_allow(Allow("a" * 16, 9, "203.0.113.7", 41.0, 3641.0, 3600.0))
    assert await allows.scoped("beta").allows_in_force(10) == [] and len(await allows.allows_in_force(10)) == 1

    for view in (watch.scoped("acme"), watch.scoped("beta")):
        assert await view.hold_watch("p1", 1000.0, 900.0) == (True, None)
        assert await view.advance_watch("p1", None, 50, [announcement(42)], 1000.0)
    assert await watch.scoped("beta").hold_watch("p2", 1001.0, 901.0) == (False, None)
    assert await watch.hold_watch("p2", 1001.0, 901.0) == (True, None)  # the PBX ""'s lease
    assert await watch.scoped("acme").mark_gone(42) and len(await watch.scoped("beta").unposted(10)) == 1
    assert [a.entry.id for a in await watch.unposted(10)] == [42] and watch.scoped("acme").mark == 50
    assert watch.scoped("beta").mark == 50


async def test_each_pbx_has_its_own_3cx_token_and_a_view_closes_nothing(new_store: NewStore) -> None:
    store, other = await new_store(), await new_store()  # two processes
    fetches = {name: Fetches(delay=0.05) for name in ("a", "b", "")}
    tokens = await asyncio.gather(
        *(s.scoped(name).renew_token(None, fetches[name]) for s in (store, other) for name in ("a", "b"))
    )
    # each PBX's token fetched once, shared by both processes
    assert [token for token, _ in tokens] == ["token-1"] * 4 and fetches["a"].count == fetches["b"].count == 1
    assert (await store.renew_token(None, fetches[""]))[0] == "token-1"  # the one PBX's: the unscoped store's
    assert (await other.scoped("").renew_token(None, fetches[""]))[0] == "token-1" and fetches[""].count == 1
    assert (await other.scoped("a").renew_token("token-1", fetches["a"]))[0] == "token-2"  # refused: a's alone
    assert (await store.scoped("b").renew_token(None, fetches["b"]))[0] == "token-1"

    await store.scoped("a").close()
    assert (await store.scoped("a").renew_token(None, fetches["a"]))[0] == "token-2"
    await store.ping()


# 2. adopt ------------------------------------------------------------------------------------------


async def kept_for(store: Store, pbx: str) -> tuple[list[str], list[str], list[int], int | None]:
    """What a PBX has: its requests, allow entries in force and announcements not yet posted, and its mark."""
    view = store.scoped(pbx)
    _, mark = await view.hold_watch("someone-else", 2000.0, 2000.0)  # taken, whoever held it
    await view.release_watch("someone-else")
    return (
        ids(await view.recent(100)),
        [a.request_id[0] for a in await view.allows_in_force(100)],
        [a.entry.id for a in await view.unposted(100)],
        mark,
    )


async def test_a_pbx_renamed_keeps_everything_under_its_new_name_and_adopting_again_moves_nothing(
    new_store: NewStore,
) -> None:
    store = await new_store()
    assert await store.adopt({"old": ACME, "beta": BETA}) == []
    old, new = store.scoped("old"), store.scoped("new")
    await old.add(request("a" * 16, "old"))
    await unblocked_with_allow(old, request("b" * 16, "old", entry(7, "198.51.100.7")))
    await old.hold_watch("p1", 1000.0, 900.0)
    await old.advance_watch("p1", None, 50, [announcement(42), announcement(43)], 1000.0)
    fetch = Fetches(delay=0)
    await old.renew_token(None, fetch)
    await store.scoped("beta").add(request("c" * 16, "beta"))
    await new.add(request("d" * 16, "new", entry(8, "192.0.2.8")))  # made before it was the new name
    await new.hold_watch("p1", 1000.0, 900.0)
    await new.advance_watch("p1", None, 70, [announcement(43)], 1000.0)
    before = await kept_for(store, "old")

    # two replicas starting at once, the PBX now named "new"
    other = await new_store()
    lines = await asyncio.gather(*(s.adopt({"new": ACME, "beta": BETA}) for s in (store, other)))

    assert sorted(len(found) for found in lines) == [0, 1]
    [line] = lines[0] or lines[1]
    assert "the PBX old (https://acme.3cx.eu)" in line and "the PBX new's" in line and "requests: 2," in line
    assert await kept_for(store, "new") == (["a", "b", "d"], ["b"], [42, 43], 70)  # its own mark and 43 stay
    assert before == (["a", "b"], ["b"], [42, 43], 50)
    # nothing lost: what could not move (the new name had its own) stays under the old name
    assert await kept_for(store, "old") == ([], [], [43], 50)
    assert (await new.renew_token(None, fetch))[0] == "token-1" and fetch.count == 1
    with pytest.raises(AlreadyOpen):  # the entry is still taken, now under the new name
        await new.add(request("e" * 16, "new"))
    moved = await new.get("a" * 16)
    assert moved is not None and moved.pbx == "new"
    assert ids(await store.scoped("beta").recent(10)) == ["c"]
    assert await store.adopt({"new": ACME, "beta": BETA}) == []


async def test_the_one_pbxs_data_moves_to_the_named_pbx_of_its_url_once_its_url_was_recorded(store: Store) -> None:
    await store.add(request("a" * 16, ""))
    await unblocked_with_allow(store, request("b" * 16, "", entry(7, "198.51.100.7")))
    await store.hold_watch("p1", 1000.0, 900.0)
    await store.advance_watch("p1", None, 50, [announcement(42)], 1000.0)
    fetch = Fetches(delay=0)
    await store.renew_token(None, fetch)

    with pytest.raises(PbxesUnknown) as refused:
        await store.adopt({"acme": ACME, "beta": BETA})
    assert str(refused.value) == (
        "the database holds requests from before UNBLOCK_PBXES and cannot tell which PBX they were for: start the bot"
        " once without UNBLOCK_PBXES, with the THREECX_* settings it had, then again with the file"
    )
    assert await store.adopt({"": ACME}) == []  # one PBX: its URL recorded, nothing moved
    assert await kept_for(store, "") == (["a", "b"], ["b"], [42], 50)
    assert await store.adopt({"acme": ACME, "beta": BETA}) != []

    assert await kept_for(store, "acme") == (["a", "b"], ["b"], [42], 50)
    assert await kept_for(store, "") == ([], [], [], None) and await kept_for(store, "beta") == ([], [], [], None)
    assert (await store.scoped("acme").renew_token(None, fetch))[0] == "token-1" and fetch.count == 1
    with pytest.raises(AlreadyOpen):
        await store.scoped("acme").add(request("c" * 16, "acme"))
    assert await store.adopt({"acme": ACME, "beta": BETA}) == []


async def test_nothing_moves_to_a_url_served_by_two_pbxes_nor_from_a_name_still_served(store: Store) -> None:
    assert await store.adopt({"": ACME}) == []
    await store.add(request("a" * 16, ""))
    await store.adopt({"acme": ACME, "acme2": ACME})
    assert ids(await store.scoped("").recent(10)) == ["a"]
    await store.adopt({"": BETA, "acme": ACME})  # "" is served (at another URL now): its data stays its own
    assert ids(await store.scoped("").recent(10)) == ["a"] and await store.scoped("acme").recent(10) == []


async def test_a_database_with_no_data_of_the_one_pbx_takes_a_pbxes_file_at_once(store: Store) -> None:
    await store.renew_token(None, Fetches(delay=0))  # a token alone is no data to keep
    assert await store.adopt({"acme": ACME, "beta": BETA}) == []


# 3. a database written before PBXes had names --------------------------------------------------------


async def test_a_database_from_before_pbxes_is_migrated_and_adopted_whole(tmp_path: Path) -> None:
    path = tmp_path / "unblock.db"
    with sqlite3.connect(path) as db:
        db.executescript((DATA / "before-pbxes.sql").read_text(encoding="utf-8"))
    store = await open_store(f"sqlite:///{path}")
    try:
        assert await store.adopt({"": ACME}) == []  # started once as before: the URL is recorded
        before = [await store.get(id * 16) for id in "abcde"]
        assert all(r is not None and r.pbx == "" for r in before)

        [line] = await store.adopt({"acme": ACME, "beta": BETA})

        acme = store.scoped("acme")
        assert line == (
            "what was kept for the one PBX served before PBXes had names (https://acme.3cx.eu) is now the PBX acme's"
            " (requests: 5, allow entries: 1, announcements: 1, the 3CX token, the watcher's mark)"
        )
        after = [await acme.get(id * 16) for id in "abcde"]
        assert after == [replace(r, pbx="acme") for r in before if r is not None]
        assert [r.id[0] for r in await acme.recent(10)] == ["e", "d", "c", "b", "a"]
        assert [r.id[0] for r in await acme.waiting(10)] == ["a"]
        assert [r.id[0] for r in await acme.abandoned(2_000_000_000.0)] == ["d"]
        assert [r.id[0] for r in await acme.unblocked_since(0.0)] == ["e", "b"]
        assert [(a.request_id[0], a.entry_id) for a in await acme.allows_in_force(10)] == [("e", 97)]
        assert [(a.entry.id, a.ref) for a in await acme.showing(10)] == [(50, "1800000000.000200")]
        assert await acme.hold_watch("bot-old", 1_800_000_100.0, 0.0) == (True, 50)
        fetch = Fetches(delay=0)
        assert await acme.renew_token(None, fetch) == ("token-before-pbxes", 4_102_444_800.0) and fetch.count == 0
        for id, taken in (("1", 42), ("2", 44)):
            with pytest.raises(AlreadyOpen):
                await acme.add(request(id * 16, "acme", entry(taken, "203.0.113.7")))
        assert await store.scoped("").recent(10) == [] and await store.scoped("beta").recent(10) == []
        assert await store.adopt({"acme": ACME, "beta": BETA}) == []
    finally:
        await store.close()


async def test_a_postgresql_database_from_before_pbxes_is_migrated_and_adopted_whole(
    postgres: PostgresServer, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    known = migrations("postgres")
    with monkeypatch.context() as before:  # the schema as it was before PBXes had names
        before.setattr(bot.storage.postgres, "migrations", lambda kind: [m for m in known if m[0] < "0013"])
        old = await open_store(database_url)
        await old.close()
    targets = '[{"kind": "address", "Id": 42, "IPAddrMask": "203.0.113.7"}]'
    for sql, *values in (
        (
            "INSERT INTO requests (id, targets, requester, channel, created_at, expires_at, state, allow_for)"
            " VALUES ($1, $2, 'UALICE', 'C0GENERAL', 1.0, 2e9, 'pending', 3600)",
            "a" * 16,
            targets,
        ),
        ("INSERT INTO open_targets (target, request_id) VALUES ('address:42', $1)", "a" * 16),
        (
            "INSERT INTO announcements (entry_id, entry, channel, at) VALUES (50, $1, 'C0WATCH', 1.0)",
            '{"kind": "address", "Id": 50, "IPAddrMask": "192.0.2.50"}',
        ),
        (
            "INSERT INTO allows (request_id, entry_id, address, added_at, ends_at, duration)"
            " VALUES ($1, 97, '203.0.113.7', 1.0, 3601.0, 3600.0)",
            "a" * 16,
        ),
        ("INSERT INTO watch_state (name, high_water) VALUES ('blocklist', 50)",),
        ("INSERT INTO access_tokens (name, token, renew_at) VALUES ('threecx', 'token-before-pbxes', 4102444800)",),
    ):
        await postgres.query(database_url, sql, *values)

    store = await open_store(database_url)
    try:
        with pytest.raises(PbxesUnknown):
            await store.adopt({"acme": ACME})
        assert await store.adopt({"": ACME}) == []
        assert await kept_for(store, "") == (["a"], ["a"], [50], 50)
        [line] = await store.adopt({"acme": ACME, "beta": BETA})
        assert "(requests: 1, allow entries: 1, announcements: 1, the 3CX token, the watcher's mark)" in line
        assert await kept_for(store, "acme") == (["a"], ["a"], [50], 50)
        fetch = Fetches(delay=0)
        assert (await store.scoped("acme").renew_token(None, fetch))[0] == "token-before-pbxes" and fetch.count == 0
        with pytest.raises(AlreadyOpen):
            await store.scoped("acme").add(request("1" * 16, "acme"))
    finally:
        await store.close()


async def test_pbxes_slow_to_give_a_token_leave_the_database_to_the_others(store: Store) -> None:
    answer = asyncio.Event()

    async def slow_fetch() -> tuple[str, float]:
        await answer.wait()
        return "token", 1e12

    renewing = [asyncio.ensure_future(store.scoped(f"slow{n}").renew_token(None, slow_fetch)) for n in range(6)]
    for _ in range(50):  # (each renewal takes its connection, or waits for its turn)
        await asyncio.sleep(0.01)
    try:
        assert await asyncio.wait_for(store.scoped("quick").count_pending(), 10.0) == 0
    finally:
        answer.set()
        assert [token for token, _ in await asyncio.gather(*renewing)] == ["token"] * 6


async def test_a_pbx_no_longer_served_with_open_requests_is_named_and_one_moved_or_finished_is_not(
    store: Store,
) -> None:
    assert await store.adopt({"acme": "https://acme.example", "gamma": "https://gamma.example"}) == []
    await store.scoped("gamma").add(request("c" * 16, "gamma"))
    await store.scoped("acme").add(request("a" * 16, "acme"))
    served = {"acme": "https://acme.example"}
    await store.adopt(served)
    assert await store.unserved(served) == {"gamma": "https://gamma.example"}
    await move(store, "c" * 16, State.PENDING, State.EXPIRED, actor=None, at=50.0)
    assert await store.unserved(served) == {}


async def test_the_earlier_unblocks_of_a_quiet_pbx_are_never_crowded_out_by_a_busy_ones(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bot.storage.contract, "UNBLOCKS_READ", 2)
    await unblocked_with_allow(store.scoped("acme"), request("a" * 16, "acme"))
    beta = store.scoped("beta")
    for n in "bcd":  # more of the busy PBX's, unblocked later, than one read takes
        await beta.add(request(n * 16, "beta", entry(ord(n), f"198.51.100.{ord(n)}")))
        await move(beta, n * 16, State.PENDING, State.EXECUTING, actor=BOB, at=50.0, owner="p")
        await move(beta, n * 16, State.EXECUTING, State.UNBLOCKED, actor=BOB, at=51.0, owner="p", results=())
    reads = Reads(store, ApprovalPolicy(Rules((), Rule()), FakeMembership({})))
    assert [r.id for r in (await reads.unblocks(100.0, "acme")).requests] == ["a" * 16]
