"""Write a SQLite database with the store of the bot this runs with (``PYTHONPATH`` names its checkout): requests in
each kind of state, an announcement, the 3CX token, the watcher's mark and an allow entry, all at fixed moments.
``before-pbxes.sql`` is its dump, made by a commit from before PBXes had names (see ``SOURCE.md``):

    PYTHONPATH=<checkout> python tests/data/make_before_pbxes.py <folder>
    sqlite3 <folder>/unblock.db .dump > tests/data/before-pbxes.sql
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from bot.domain.actions import Action, Does, Result
from bot.domain.allows import Allow
from bot.domain.entries import BlockedNumber, BlocklistEntry
from bot.domain.model import Asked, Decision, Move, State, UnblockRequest, What
from bot.domain.outcomes import Outcome
from bot.domain.ports import Announcement
from bot.storage.opening import open_store

#: the moments, in epoch seconds: made at 1.8e9 (2027), pending until 2.5e9 (2049), the token valid until 2100
MADE, UNTIL, TOKEN_UNTIL = 1_800_000_000.0, 2_500_000_000.0, 4_102_444_800.0
PENDING, UNBLOCKED, DENIED, CLAIMED, ALLOWED = "a" * 16, "b" * 16, "c" * 16, "d" * 16, "e" * 16


def blocked(entry_id: int, address: str) -> BlocklistEntry:
    return BlocklistEntry(entry_id, address, "Failed SIP registrations", "Block", "AutoBlacklist", None, 'W/"1"')


def request(request_id: str, *targets: BlocklistEntry | BlockedNumber) -> UnblockRequest:
    asked = Asked("UALICE", "C0GENERAL", MADE, "VPN moved", None)
    return UnblockRequest(id=request_id, asked=asked, what=What(targets), decision=Decision(UNTIL))


def step(request_id: str, from_state: State, to_state: State, at: float, **changes: Any) -> Move:
    return Move(request_id=request_id, from_state=from_state, to_state=to_state, actor="UBOB", at=at, **changes)


async def token() -> tuple[str, float]:
    return "token-before-pbxes", TOKEN_UNTIL


async def main(folder: str) -> None:
    store = await open_store(f"sqlite:///{folder}/unblock.db")
    try:
        await store.add(request(PENDING, blocked(42, "203.0.113.7")))
        await store.add(request(UNBLOCKED, blocked(43, "198.51.100.0/24")))
        await store.add(request(DENIED, BlockedNumber("n1", "+15550100", None, None)))
        await store.add(request(CLAIMED, blocked(44, "192.0.2.44")))
        await store.add(request(ALLOWED, blocked(45, "192.0.2.45")))
        deleted = (Result(Outcome.DELETED, "HTTP 204"),)
        allowed = (Result(Outcome.DELETED, "HTTP 204; allow entry 97 added (HTTP 201)", None, False, 97, MADE + 3600),)
        allow_hour = Action(Does.UNBLOCK_AND_ALLOW, 3600.0)
        for move in (
            step(UNBLOCKED, State.PENDING, State.EXECUTING, MADE + 10, owner="bot-old"),
            step(
                UNBLOCKED,
                State.EXECUTING,
                State.UNBLOCKED,
                MADE + 11,
                owner="bot-old",
                results=deleted,
                undo_until=MADE + 311,
            ),
            step(DENIED, State.PENDING, State.DENIED, MADE + 20),
            step(CLAIMED, State.PENDING, State.EXECUTING, MADE + 30, owner="bot-old"),
            step(ALLOWED, State.PENDING, State.EXECUTING, MADE + 40, owner="bot-old", action=allow_hour),
            step(ALLOWED, State.EXECUTING, State.UNBLOCKED, MADE + 41, owner="bot-old", results=allowed),
        ):
            assert await store.transition(move) is not None, move
        await store.card_posted(PENDING, "1800000000.000100")
        await store.keep_allow(Allow(ALLOWED, 97, "192.0.2.45", MADE + 41, MADE + 3641, 3600.0))
        assert await store.hold_watch("bot-old", MADE, MADE - 60) == (True, None)
        assert await store.advance_watch(
            "bot-old", None, 50, [Announcement(blocked(50, "192.0.2.50"), "C0WATCH")], MADE
        )
        await store.posted([50], "1800000000.000200", in_summary=False)
        await store.renew_token(None, token)
    finally:
        await store.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
