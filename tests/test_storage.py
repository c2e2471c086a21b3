"""The store, through its contract: the same tests run against SQLite and PostgreSQL.

1. The ``RequestStore`` contract: requests, transitions, claims and their heartbeats, one open
   request per entry, deliveries and choices.
2. What a store does besides: migrations (one scheme of SQL files for both databases, applied
   once by processes starting together, a newer schema refused), the 3CX token shared and
   renewed by one process at a time, ``DATABASE_URL``.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from bot.domain.actions import Action, Does, Result
from bot.domain.allows import Allow, How, Phase
from bot.domain.entries import BlockedNumber, BlocklistEntry, Target
from bot.domain.evidence import Evidence, Logged, Thresholds
from bot.domain.model import Approval, Asked, Decision, Escalation, State, Transition, UnblockRequest, What
from bot.domain.outcomes import Outcome
from bot.domain.ports import AlreadyOpen
from bot.storage import rows, urls
from bot.storage.contract import Store
from bot.storage.database import StoreUnavailable, migrations
from bot.storage.opening import open_store
from bot.storage.postgres import PostgresStore
from bot.storage.sqlite import SQLiteStore

from .conftest import NewStore
from .harness import ALICE, BOB, CAROL, GENERAL, move
from .postgres import PostgresServer


def entry(id: int, ip: str, etag: str | None = None) -> BlocklistEntry:
    return BlocklistEntry(id, ip, "Failed SIP registrations at «zürich» (ß)", "Block", "AutoBlacklist", None, etag)


def pending(
    id: str,
    *,
    created_at: float = 1000.0,
    expires_at: float = 1900.0,
    targets: tuple[Target, ...] | None = None,
    requester: str = ALICE,
    channel: str = GENERAL,
    reason: str | None = None,
    asked_in: str | None = None,
    approvals_needed: int = 1,
) -> UnblockRequest:
    """A pending request, about an entry of its own unless ``targets`` (one open request per entry)."""
    own = (entry(int(id[:6], 16) % 100_000 + 1, "203.0.113.7"),)
    return UnblockRequest(
        id=id,
        asked=Asked(requester, channel, created_at, reason, asked_in),
        what=What(targets or own),
        decision=Decision(expires_at, needed=approvals_needed),
    )


# 1. the RequestStore contract, in SQLite and in PostgreSQL -----------------------------------------


async def test_a_request_round_trips_whole_and_every_transition_is_logged(store: Store) -> None:
    targets = (
        entry(42, "203.0.113.7", etag='W/"3"'),
        entry(43, "198.51.100.0/24"),
        BlockedNumber("7f1c-22", "+15551234567", None, 'W/"1"'),
    )
    request = pending("0123456789abcdef", targets=targets, reason="printer VPN 'β' \\ \"quoted\"")
    # what 3CX knew, a part it did not tell included
    logged = (Logged(999.5, "Failed authentication for 'β' from 203.0.113.7", True, "104"), Logged(None, "x"))
    request = replace(request, what=replace(request.what, evidence=Evidence(logged, None, Thresholds(5, None))))
    await store.add(request)

    assert await store.get(request.id) == request and await store.card_of(request.id) is None
    await store.card_posted(request.id, "1700000000.000100")
    assert await store.card_of(request.id) == "1700000000.000100" and await store.get(request.id) == request
    assert await store.get("ffffffffffffffff") is None and await store.transitions("ffffffffffffffff") == []

    claimed = await move(store, request.id, State.PENDING, State.EXECUTING, actor=BOB, at=1010.0)
    assert claimed is not None and claimed.state is State.EXECUTING
    # the wrong from_state moves nothing and logs nothing
    assert await move(store, request.id, State.PENDING, State.DENIED, actor=CAROL, at=1011.0) is None
    results = (
        Result(Outcome.DELETED, "HTTP 204"),
        Result(Outcome.ALREADY_GONE, "HTTP 404: the entry was already gone"),
        Result(Outcome.CHANGED, "HTTP 412: changed in 3CX"),
    )
    failed = await move(
        store, request.id, State.EXECUTING, State.FAILED, actor=BOB, at=1012.5, results=results, undo_until=1700.25
    )
    assert failed is not None and failed == await store.get(request.id) and failed.what.targets == targets
    # resolved_* are set by the move out of pending only
    assert (failed.decision.by, failed.decision.at, failed.done.undone_by) == (BOB, 1010.0, None)
    assert (failed.done.results, failed.done.undo_until) == (results, 1700.25)
    undoing = await move(store, request.id, State.FAILED, State.UNDOING, actor=CAROL, at=1100.0)
    assert undoing is not None and (undoing.done.undone_by, undoing.done.undone_at) == (CAROL, 1100.0)
    undo_results = (Result(Outcome.RESTORED, "HTTP 201", new_id="77"), Result(Outcome.FORBIDDEN, "HTTP 403"))
    undone = await move(
        store, request.id, State.UNDOING, State.UNDO_FAILED, actor=CAROL, at=1101.0, undo_results=undo_results
    )
    assert undone is not None and undone == await store.get(request.id)
    assert (undone.done.undo_results, undone.done.results, undone.done.undone_at) == (undo_results, results, 1100.0)

    assert await store.transitions(request.id) == [
        Transition(request.id, None, State.PENDING, ALICE, 1000.0),
        Transition(request.id, State.PENDING, State.EXECUTING, BOB, 1010.0),
        Transition(request.id, State.EXECUTING, State.FAILED, BOB, 1012.5, "; ".join(r.answer for r in results)),
        Transition(request.id, State.FAILED, State.UNDOING, CAROL, 1100.0),
        Transition(request.id, State.UNDOING, State.UNDO_FAILED, CAROL, 1101.0, "HTTP 201; HTTP 403"),
    ]


async def test_of_20_concurrent_claims_from_two_stores_exactly_one_wins(new_store: NewStore) -> None:
    first, second = await new_store(), await new_store()
    request = pending("00000000000000c1")
    await first.add(request)

    outcomes = await asyncio.gather(
        *(
            move(
                first if n % 2 else second, request.id, State.PENDING, State.EXECUTING, actor=f"U{n:02d}", at=1100.0 + n
            )
            for n in range(20)
        )
    )

    [winner] = [moved for moved in outcomes if moved is not None]
    assert winner.state is State.EXECUTING and await second.get(request.id) == winner
    log = await first.transitions(request.id)
    assert [(t.from_state, t.to_state, t.actor) for t in log] == [
        (None, State.PENDING, ALICE),
        (State.PENDING, State.EXECUTING, winner.decision.by),
    ]


ALLOW_HOUR = Action(Does.UNBLOCK_AND_ALLOW, 3600.0)


async def test_listings_are_newest_first_with_ties_in_the_order_they_were_made(store: Store) -> None:
    await store.add(pending("a" * 16, created_at=10.0, channel="C0APPROVALS", asked_in=GENERAL))
    await store.add(pending("b" * 16, created_at=30.0, requester=CAROL))
    await store.add(pending("c" * 16, created_at=20.0, channel="C0OTHER"))
    await store.add(pending("d" * 16, created_at=30.0))
    allowed = (Result(Outcome.DELETED, "HTTP 204; allow entry 9 added (HTTP 201)", None, False, 9, 5000.5),)
    await move(store, "c" * 16, State.PENDING, State.EXECUTING, actor=BOB, at=40.0, action=ALLOW_HOUR, owner="p1")
    done = await move(
        store, "c" * 16, State.EXECUTING, State.UNBLOCKED, actor=BOB, at=41.0, results=allowed, owner="p1"
    )

    assert done is not None and done.done.action == ALLOW_HOUR and done.done.results == allowed
    assert done.done.results[0].added_allow == 9
    assert [r.id[0] for r in await store.recent(3)] == ["d", "b", "c"]
    assert [r.id[0] for r in await store.recent(50)] == ["d", "b", "c", "a"]
    assert await store.recent(0) == []
    # the channel where it was asked, not the one its card is in
    assert [r.id[0] for r in await store.recent(10, GENERAL)] == ["d", "b", "a"]
    assert [r.id[0] for r in await store.recent(10, "C0OTHER")] == ["c"]
    assert await store.recent(10, "C0APPROVALS") == []
    assert [r.id[0] for r in await store.waiting(10)] == ["d", "b", "a"]
    assert [r.id[0] for r in await store.waiting(1)] == ["d"]
    assert await store.count_pending() == 3
    assert [r.id[0] for r in await store.requested_by(ALICE, 10)] == ["d", "c", "a"]


async def test_abandoned_lists_claims_whose_heartbeat_is_older_than_the_cutoff(store: Store) -> None:
    for id in "abcde":
        await store.add(pending(id * 16))
    await move(store, "a" * 16, State.PENDING, State.EXECUTING, actor=BOB, at=10.0, owner="p1")
    await move(store, "b" * 16, State.PENDING, State.EXECUTING, actor=BOB, at=50.0, owner="p1")
    await move(store, "c" * 16, State.PENDING, State.EXECUTING, actor=BOB, at=5.0, owner="p2")
    await move(store, "c" * 16, State.EXECUTING, State.UNBLOCKED, actor=BOB, at=6.0, owner="p2",
                           results=(Result(Outcome.DELETED, "HTTP 204"),))  # fmt: skip
    await move(store, "c" * 16, State.UNBLOCKED, State.UNDOING, actor=CAROL, at=20.0, owner="p2")
    await move(store, "d" * 16, State.PENDING, State.EXECUTING, actor=BOB, at=1.0, owner="p1")
    await move(store, "d" * 16, State.EXECUTING, State.FAILED, actor=BOB, at=2.0, owner="p1", results=())

    assert sorted(r.id[0] for r in await store.abandoned(30.0)) == ["a", "c"]
    assert await store.abandoned(5.0) == []  # a heartbeat at 5 is not older than 5
    # the owner renews: its claim is no longer abandoned; nobody else can renew it
    assert await store.renew("a" * 16, "p1", 40.0) is True
    assert await store.renew("a" * 16, "p2", 41.0) is False
    assert [r.id[0] for r in await store.abandoned(30.0)] == ["c"]
    assert {r.state for r in await store.abandoned(100.0)} == {State.EXECUTING, State.UNDOING}


async def test_a_claim_is_taken_over_once_and_only_its_new_owner_finishes_it(new_store: NewStore) -> None:
    one, two = await new_store(), await new_store()
    request = pending("f" * 16)
    await one.add(request)
    claimed = await move(one, request.id, State.PENDING, State.EXECUTING, actor=BOB, at=10.0, owner="dead")
    assert claimed is not None and (claimed.owner, claimed.heartbeat_at) == ("dead", 10.0)

    taken = await asyncio.gather(*(s.take_over(request.id, f"new-{n}", 10.0, 70.0) for n, s in enumerate((one, two))))
    [winner] = [t for t in taken if t is not None]
    assert winner.heartbeat_at == 70.0 and winner.state is State.EXECUTING
    done = (Result(Outcome.DELETED, "HTTP 204"),)
    for owner in ("dead", "new-0" if winner.owner == "new-1" else "new-1"):  # the old owner, the loser
        assert await move(one, request.id, State.EXECUTING, State.UNBLOCKED, actor=BOB, at=71.0, owner=owner,
                                    results=done) is None  # fmt: skip
    finished = await move(two, request.id, State.EXECUTING, State.UNBLOCKED, actor=BOB, at=72.0,
                                    owner=winner.owner, results=done)  # fmt: skip
    assert finished is not None and finished.owner is None and finished.decision.by == BOB


async def test_one_open_request_per_entry(store: Store) -> None:
    first = pending("1" * 16)
    await store.add(first)
    same_entry = pending("2" * 16, targets=(*first.what.targets, entry(7, "198.51.100.7")))

    with pytest.raises(AlreadyOpen) as taken:
        await store.add(same_entry)
    assert taken.value.request_id == first.id and await store.get(same_entry.id) is None
    await store.add(pending("3" * 16, targets=(entry(7, "198.51.100.7"),)))  # nothing of the failed one was kept

    # executing still holds the entry; leaving the open states frees it
    await move(store, first.id, State.PENDING, State.EXECUTING, actor=BOB, at=1.0, owner="p")
    with pytest.raises(AlreadyOpen):
        await store.add(pending("4" * 16, targets=first.what.targets))
    await move(store, first.id, State.EXECUTING, State.FAILED, actor=BOB, at=2.0, owner="p", results=())
    await store.add(pending("4" * 16, targets=first.what.targets))


async def test_a_claim_must_come_before_expiry(store: Store) -> None:
    request = pending("e" * 16, expires_at=100.0)
    await store.add(request)

    assert await move(store, request.id, State.PENDING, State.EXECUTING, actor=BOB, at=100.0,
                                  unexpired=True) is None  # fmt: skip
    assert (await store.get(request.id)).state is State.PENDING  # type: ignore[union-attr]
    moved = await move(store, request.id, State.PENDING, State.EXECUTING, actor=BOB, at=99.9, unexpired=True)
    assert moved is not None and moved.state is State.EXECUTING


async def test_an_undo_must_come_within_its_window(store: Store) -> None:
    request = pending("f" * 16)
    await store.add(request)
    await move(store, request.id, State.PENDING, State.EXECUTING, actor=BOB, at=10.0)
    done = (Result(Outcome.DELETED, "HTTP 204"),)
    await move(store, request.id, State.EXECUTING, State.UNBLOCKED, actor=BOB, at=11.0, results=done, undo_until=50.0)

    assert await move(store, request.id, State.UNBLOCKED, State.UNDOING, actor=CAROL, at=50.1,
                      unexpired=True) is None  # fmt: skip
    assert (await store.get(request.id)).state is State.UNBLOCKED  # type: ignore[union-attr]
    moved = await move(store, request.id, State.UNBLOCKED, State.UNDOING, actor=CAROL, at=50.0, unexpired=True)
    assert moved is not None and moved.state is State.UNDOING


async def test_approvals_keep_what_each_approved_and_compare_as_kept(store: Store) -> None:
    await store.add(pending("a" * 16, approvals_needed=3))
    first = (Approval(BOB, Action(Does.ALLOW_ONLY, 3600.0)),)
    both = (*first, Approval(CAROL))
    await move(store, "a" * 16, State.PENDING, State.PENDING, actor=BOB, at=2.0, approvals=first)
    stale = await move(store, "a" * 16, State.PENDING, State.PENDING, actor=CAROL, at=3.0, approvals=both)
    assert stale is None  # compared with the approvals kept: one is there now
    recorded = await move(store, "a" * 16, State.PENDING, State.PENDING, actor=CAROL, at=3.0, approvals=both,
                          approvals_were=first)  # fmt: skip

    assert (
        recorded is not None
        and recorded.decision.approvals == both == (await store.get("a" * 16) or recorded).decision.approvals
    )
    assert recorded.decision.approved_by == (BOB, CAROL)


def test_approvals_kept_before_they_named_their_action_read_as_approve() -> None:
    row = dict(zip(rows.NAMES, rows.request_row(pending("a" * 16)), strict=True))
    row["approvals"] = json.dumps(
        [BOB, {"user": CAROL}, {"user": ALICE, "action": "unblock_and_allow", "allow_for": 60}]
    )

    read = rows.request_from_row(tuple(row.values()))

    assert read.decision.approvals == (
        Approval(BOB),
        Approval(CAROL),
        Approval(ALICE, Action(Does.UNBLOCK_AND_ALLOW, 60.0)),
    )
    # an Approve is kept as it always was, so a request waiting across an upgrade still takes its next approval
    assert rows.approvals_json((Approval(BOB),)) == json.dumps([BOB])
    for broken in ([{"action": "unblock"}], [{"user": BOB, "action": "allow_only"}], [{"user": BOB, "action": "x"}]):
        row["approvals"] = json.dumps(broken)
        with pytest.raises(ValueError, match="stored approval"):
            rows.request_from_row(tuple(row.values()))


async def test_who_looked_at_the_home_tab_lately(store: Store) -> None:
    await store.home_opened(BOB, 10.0)
    await store.home_opened(CAROL, 20.0)
    await store.home_opened(BOB, 30.0)  # again: the newest time counts

    assert await store.home_viewers(15.0) == [BOB, CAROL]
    assert await store.home_viewers(25.0) == [BOB]
    assert await store.home_viewers(31.0) == []


async def test_pending_expired_lists_pending_requests_due_by_then_soonest_first(store: Store) -> None:
    for id, expires_at in (("a", 100.0), ("b", 50.0), ("c", 200.0), ("d", 60.0)):
        await store.add(pending(id * 16, created_at=1.0, expires_at=expires_at))
    await move(store, "d" * 16, State.PENDING, State.DENIED, actor=BOB, at=2.0)

    assert [r.id[0] for r in await store.pending_expired(100.0)] == ["b", "a"]  # due at 100: due
    assert [r.id[0] for r in await store.pending_expired(99.9)] == ["b"]
    assert await store.pending_expired(10.0) == []


async def test_requests_still_waiting_are_listed_oldest_first_until_reminded_and_escalated(store: Store) -> None:
    for id, created_at in (("aa0000000000000a", 1000.0), ("bb0000000000000b", 1100.0), ("cc0000000000000c", 1200.0)):
        await store.add(pending(id, created_at=created_at))
    await move(store, "cc0000000000000c", State.PENDING, State.DENIED, actor=BOB, at=1210.0)

    assert [r.id for r in await store.still_waiting(1300.0, 1100.0, None)] == ["aa0000000000000a", "bb0000000000000b"]
    assert [r.id for r in await store.still_waiting(1300.0, None, 1000.0)] == ["aa0000000000000a"]
    assert await store.still_waiting(1300.0, None, None) == []
    assert await store.still_waiting(1900.0, 1100.0, 1100.0) == []  # their time is up

    reminded = await store.mark_reminded("aa0000000000000a", 1300.0)
    assert reminded is not None and reminded.decision.reminded_at == 1300.0 and reminded == await store.get(reminded.id)
    assert [r.id for r in await store.still_waiting(1300.0, 1100.0, None)] == ["bb0000000000000b"]
    assert [r.id for r in await store.still_waiting(1300.0, None, 1100.0)] == ["aa0000000000000a", "bb0000000000000b"]


async def test_a_request_is_reminded_and_escalated_once_only_while_it_waits(new_store: NewStore) -> None:
    first, second = await new_store(), await new_store()  # two processes
    await first.add(pending("aa0000000000000a"))
    await first.add(pending("bb0000000000000b"))
    escalation = Escalation(1300.0, 300.0, (BOB, CAROL), ("SHELPDESK",))

    marks = await asyncio.gather(*(s.mark_reminded("aa0000000000000a", 1300.0) for s in (first, second) * 5))
    assert sum(m is not None for m in marks) == 1
    assert await second.mark_reminded("aa0000000000000a", 1400.0) is None
    escalated = await asyncio.gather(*(s.mark_escalated("aa0000000000000a", escalation) for s in (first, second) * 5))
    assert sum(m is not None for m in escalated) == 1
    kept = await second.get("aa0000000000000a")
    assert kept is not None and (kept.decision.reminded_at, kept.decision.escalation) == (1300.0, escalation)
    assert await first.mark_escalated("aa0000000000000a", replace(escalation, at=1400.0)) is None

    await move(first, "bb0000000000000b", State.PENDING, State.DENIED, actor=BOB, at=1100.0)
    assert await first.mark_reminded("bb0000000000000b", 1300.0) is None  # decided
    assert await first.mark_escalated("bb0000000000000b", escalation) is None
    await first.add(pending("cc0000000000000c"))
    assert await first.mark_reminded("cc0000000000000c", 1900.0) is None  # its time is up
    assert await first.mark_escalated("cc0000000000000c", replace(escalation, at=1900.0)) is None
    assert await first.mark_reminded("ffffffffffffffff", 1300.0) is None


async def test_a_reminder_is_claimed_by_one_process_until_it_is_sent_let_go_or_stale(new_store: NewStore) -> None:
    first, second = await new_store(), await new_store()  # two processes
    await first.add(pending("aa0000000000000a"))
    request = "aa0000000000000a"

    tries = ((first, "a"), (second, "b")) * 3
    claims = await asyncio.gather(*(s.claim_reminder(request, name, 1300.0, 1000.0) for s, name in tries))
    assert sum(c is not None for c in claims) == 1  # one round of one process
    holder, other = ("a", "b") if any(claims[0::2]) else ("b", "a")
    assert await first.claim_reminder(request, other, 1310.0, 1290.0) is None  # fresh: still its holder's
    await first.release_reminder(request, other)  # not its claim: nothing changes
    assert await second.claim_reminder(request, other, 1320.0, 1290.0) is None
    await second.release_reminder(request, holder)  # Slack refused it: claimed again by whoever comes next
    claimed = await first.claim_reminder(request, other, 1330.0, 1000.0)
    assert claimed is not None and claimed.decision.reminded_at is None
    assert await second.claim_reminder(request, holder, 1400.0, 1331.0) is not None  # stale: taken over
    assert await first.mark_reminded(request, 1410.0) is not None  # Slack took it
    assert await first.claim_reminder(request, "c", 1500.0, 1499.0) is None  # reminded: never again
    await first.release_reminder(request, holder)
    kept = await first.get(request)
    assert kept is not None and kept.decision.reminded_at == 1410.0
    await move(first, request, State.PENDING, State.DENIED, actor=BOB, at=1500.0)
    await first.add(pending("bb0000000000000b"))
    await move(first, "bb0000000000000b", State.PENDING, State.DENIED, actor=BOB, at=1100.0)
    assert await first.claim_reminder("bb0000000000000b", "a", 1300.0, 1000.0) is None  # decided
    await first.add(pending("cc0000000000000c"))
    assert await first.claim_reminder("cc0000000000000c", "a", 1900.0, 1000.0) is None  # its time is up


async def test_a_delivery_is_first_once_until_it_is_forgotten(new_store: NewStore) -> None:
    first, second = await new_store(), await new_store()

    assert await first.first_delivery("command:T1", 100.0, "p1") is True
    assert await second.first_delivery("command:T1", 101.0, "p2") is False
    assert await first.first_delivery("command:T1", 101.0, "p1") is True  # its own try again (an answer lost)
    assert await second.first_delivery("command:T2", 200.0, "p2") is True
    await first.forget_deliveries(150.0)
    assert await second.first_delivery("command:T1", 300.0, "p2") is True
    assert await first.first_delivery("command:T2", 300.0, "p1") is False
    # a choice offered is kept as long as deliveries are
    await first.keep_choice("c" * 16, '{"kind": "address"}', 305.0)
    await first.keep_choice("c" * 16, '{"kind": "address"}', 305.0)  # a try whose answer was lost
    assert await second.choice("c" * 16) == '{"kind": "address"}'
    await second.forget_deliveries(306.0)
    assert await first.choice("c" * 16) is None


# 2. what a store does besides ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "opens"),
    [
        ("sqlite:///unblock.db", True),
        ("postgresql://unblock:pw@db.internal:5432/unblock", True),
        ("postgres://db/unblock", True),
        ("mysql://db/unblock", False),
        ("unblock.db", False),
        ("sqlite://unblock.db", False),
    ],
)
def test_database_urls_the_bot_can_open_and_those_it_explains(url: str, opens: bool) -> None:
    if opens:
        assert urls.check(url) == url
    else:
        with pytest.raises(ValueError, match=r"neither a SQLite URL like sqlite:///unblock\.db nor a PostgreSQL URL"):
            urls.check(url)


def test_urls_are_shown_without_their_password() -> None:
    url = "postgresql://unblock:db-secret-77@db.internal:6432/requests"
    assert urls.where(url) == "PostgreSQL database requests at db.internal:6432"
    assert urls.password(url) == "db-secret-77"


async def test_replicas_starting_together_apply_each_migration_once(
    postgres: PostgresServer, database_url: str
) -> None:
    stores = [PostgresStore(database_url) for _ in range(4)]
    try:
        await asyncio.gather(*(s.open() for s in stores))
        names = [row["name"] for row in await postgres.query(database_url, "SELECT name FROM schema_migrations")]
        again = PostgresStore(database_url)
        await again.open()  # nothing left to apply
        stores.append(again)
    finally:
        for s in stores:
            await s.close()

    assert sorted(names) == [name for name, _ in migrations("postgres")]
    rows = await postgres.query(database_url, "SELECT count(*) AS n FROM schema_migrations")
    assert rows[0]["n"] == len(names)


def test_both_databases_have_the_same_migrations_and_they_ship_with_the_package() -> None:
    names = {kind: [name for name, _ in migrations(kind)] for kind in ("sqlite", "postgres")}
    assert names["sqlite"] == names["postgres"] == sorted(names["sqlite"]) and names["sqlite"][0] == "0001_initial"
    pyproject = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text()
    assert 'bot = ["storage/migrations/*/*.sql"]' in pyproject


async def test_a_sqlite_file_of_an_earlier_version_is_upgraded_and_keeps_its_requests(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:  # as the first release left it: migrations counted in user_version
        for _, script in migrations("sqlite")[:2]:
            db.executescript(script)
        db.execute(
            "INSERT INTO requests (id, targets, requester, channel, created_at, expires_at, state)"
            ' VALUES (\'0123456789abcdef\', \'[{"kind": "address", "Id": 42, "IPAddrMask": "203.0.113.7"}]\','
            " 'UALICE', 'C0GENERAL', 1.0, 2e9, 'pending')"
        )
        db.execute("PRAGMA user_version = 2")

    store = await open_store(f"sqlite:///{path}")
    try:
        request = await store.get("0123456789abcdef")
        assert request is not None and request.state is State.PENDING and request.what.targets[0].id == 42
        with pytest.raises(AlreadyOpen):  # its entry is taken, as if it had been made today
            await store.add(pending("1" * 16, targets=request.what.targets))
    finally:
        await store.close()


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
async def test_a_database_set_up_by_a_newer_bot_is_refused(kind: str, tmp_path: Path, database_url: str) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}" if kind == "sqlite" else database_url.replace("postgresql:", "postgres:")
    store = await open_store(url)  # the URL picks the store (postgres:// is PostgreSQL too)
    await store.close()
    assert isinstance(store, SQLiteStore if kind == "sqlite" else PostgresStore)
    if kind == "sqlite":
        with sqlite3.connect(tmp_path / "x.db") as db:
            db.execute("INSERT INTO schema_migrations VALUES ('9999_from_the_future', 0)")
    else:
        import asyncpg  # type: ignore[import-untyped]

        db = await asyncpg.connect(url)
        await db.execute("INSERT INTO schema_migrations (name) VALUES ('9999_from_the_future')")
        await db.close()

    with pytest.raises(StoreUnavailable) as refused:
        await open_store(url)
    assert "newer unblock-bot" in str(refused.value) and "9999_from_the_future" in str(refused.value)


@dataclass
class Fetches:
    """A stand-in for the token endpoint: counts the fetches, each slow enough to overlap."""

    lifetime: float = 3600.0
    delay: float = 0.2
    fail: bool = False
    count: int = 0

    async def __call__(self) -> tuple[str, float]:
        self.count += 1
        await asyncio.sleep(self.delay)
        if self.fail:
            raise RuntimeError("the token endpoint failed")
        return f"token-{self.count}", time.time() + self.lifetime


async def test_processes_share_one_token_fetched_once_and_renew_a_refused_or_due_one_once_for_all(
    new_store: NewStore,
) -> None:
    a, b = await new_store(), await new_store()
    fetch = Fetches()

    tokens = await asyncio.gather(*(s.renew_token(None, fetch) for s in (a, b) * 4))
    assert {token for token, _ in tokens} == {"token-1"} and fetch.count == 1
    # 3CX refused token-1 in both processes: one fetches, the other takes the new token
    renewed = await asyncio.gather(a.renew_token("token-1", fetch), b.renew_token("token-1", fetch))
    assert [token for token, _ in renewed] == ["token-2", "token-2"] and fetch.count == 2
    # a token due for renewal is renewed even though 3CX has not refused it
    fetch.lifetime, fetch.delay = -1, 0
    assert (await b.renew_token("token-2", fetch))[0] == "token-3"
    assert (await a.renew_token(None, fetch))[0] == "token-4"
    assert fetch.count == 4


async def test_a_failed_fetch_shares_nothing_and_lets_the_next_try_go_ahead(new_store: NewStore) -> None:
    a, b = await new_store(), await new_store()
    fetch = Fetches(delay=0)

    fetch.fail = True
    with pytest.raises(RuntimeError, match="the token endpoint failed"):
        await a.renew_token(None, fetch)
    fetch.fail = False
    token, renew_at = await asyncio.wait_for(b.renew_token(None, fetch), 10)
    assert token == "token-2" and renew_at > time.time()
    assert (await a.renew_token(None, fetch))[0] == "token-2"


async def test_an_allows_life_is_one_compare_and_set_at_each_step_across_two_stores(new_store: NewStore) -> None:
    first, second = await new_store(), await new_store()  # two processes
    request = "aa0000000000000a"
    allow = Allow(request, 97, "203.0.113.7", 1000.0, 4600.0, 3600.0)
    await first.keep_allow(allow)
    await second.keep_allow(replace(allow, entry_id=98))  # a request's allow is kept once
    assert await second.allow_of(request) == allow and await first.allows_of([request, "bb0000000000000b"]) == [allow]

    extends = await asyncio.gather(
        *(
            store.change_allow(request, Phase.EXTENDING, user, name, 2000.0, ends_at=4600.0, extend_to=8200.0)
            for store, user, name in ((first, BOB, "a"), (second, CAROL, "b"))
        )
    )
    assert sum(claim is not None for claim in extends) == 1  # of two Extends of the same end, one wins
    holder, by = ("a", BOB) if extends[0] is not None else ("b", CAROL)
    assert await first.change_allow(request, Phase.ENDING, BOB, "c", 2001.0, ends_at=None, extend_to=None) is None
    assert await first.end_allow(request, How.REMOVED, None, 2002.0, "x") is None  # only while active
    assert await second.take_over_allow(request, "c", 1999.0, 2003.0) is None  # not the moment it was claimed
    for _ in range(2):  # the same write again (its answer lost) is recognised
        extended = await first.extended(request, holder, 2004.0)
        assert extended is not None and (extended.phase, extended.ends_at, extended.extended_by) == (
            Phase.ACTIVE,
            8200.0,
            by,
        )
    other = "b" if holder == "a" else "a"
    assert await second.extended(request, other, 2004.0) is None  # another claim's write is not taken for this one

    assert await first.claim_saying(request, "a", 3000.0, 2000.0, warning=True) is not None
    assert await second.claim_saying(request, "b", 3001.0, 2000.0, warning=True) is None  # claimed, fresh
    await first.said(request, "a", 3002.0, warned_for=8200.0)
    assert await second.claim_saying(request, "b", 3003.0, 3003.0, warning=True) is None  # warned about this end

    assert await second.change_allow(request, Phase.ENDING, BOB, "b", 4000.0, ends_at=None, extend_to=None)
    assert await first.end_allow(request, How.END_NOW, BOB, 4001.0, "a", held=True) is None  # not its holder
    for _ in range(2):
        ended = await second.end_allow(request, How.END_NOW, BOB, 4001.0, "b", held=True)
        assert ended is not None and (ended.phase, ended.how, ended.ended_by) == (Phase.ENDED, How.END_NOW, BOB)
    assert ended is not None and ended.done_claim == "b"
    assert await first.end_allow(request, How.END_NOW, BOB, 4001.0, "a") is None  # the same end, another's
    assert await first.end_allow(request, How.UNDONE, ALICE, 4002.0, "z") is None  # ended already
    assert [a.request_id for a in await first.allows_untold(10)] == [request]  # its end not told yet
    assert await first.allows_in_force(10) == []
    assert await first.claim_saying(request, "a", 4003.0, 4000.0, warning=True) is None
    assert await first.claim_saying(request, "a", 4003.0, 4000.0, warning=False) is not None
    await first.said(request, "a", 4004.0, warned_for=None)
    assert await first.allows_untold(10) == []
    await second.allows_checked([request], 4005.0)
    kept = await first.allow_of(request)
    assert kept is not None and (kept.told_at, kept.checked_at, kept.warned_for) == (4004.0, 4005.0, 8200.0)


async def test_the_requests_of_allows_are_read_at_once_and_those_allowing_unkept_are_found(store: Store) -> None:
    allowed = (Result(Outcome.DELETED, "HTTP 204; allow entry 9 added (HTTP 201)", None, False, 9, 5000.5),)
    for request_id in ("e" * 16, "f" * 16):
        await store.add(pending(request_id, created_at=10.0))
        await move(store, request_id, State.PENDING, State.EXECUTING, actor=BOB, at=40.0, action=ALLOW_HOUR, owner="p")
        await move(store, request_id, State.EXECUTING, State.UNBLOCKED, actor=BOB, at=41.0, results=allowed, owner="p")
    await store.add(pending("a" * 16, created_at=10.0))  # asks for no allow entry
    await store.keep_allow(Allow("e" * 16, 9, "203.0.113.7", 1400.5, 5000.5, 3600.0))

    assert sorted(r.id for r in await store.requests_of(["e" * 16, "a" * 16, "b" * 16])) == ["a" * 16, "e" * 16]
    assert await store.requests_of([]) == []
    assert [r.id for r in await store.allowing_unkept(30.0, 10)] == ["f" * 16]
    assert await store.allowing_unkept(42.0, 10) == []
