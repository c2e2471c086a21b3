"""An allow entry's life (``bot.domain.allow_life.AllowLife``): kept when a request added it, warned about once
before its end (never after it ended or was undone), extended by its duration up to its rule's ``allow_max``,
ended now, and how it ended told once; two clicks at once act once, and a lost answer or a stopped process never
makes 3CX do anything twice."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

import pytest

from bot.domain.actions import Action, Does
from bot.domain.allow_life import AllowLife
from bot.domain.allows import Allow, AlreadyChanged, Cannot, Changed, How, Phase, Said, Unchanged
from bot.domain.model import State, UnblockRequest
from bot.domain.outcomes import Outcome
from bot.domain.results import Resolved
from bot.domain.rules import Approvers, Rule

from .fakes import (
    APPROVER,
    CHANNEL,
    GROUP_MEMBER,
    OTHER_CHANNEL,
    OTHER_USER,
    REQUESTER,
    MemoryAllows,
    World,
    expires_at,
    unavailable,
    world,
)

HOUR = 3600.0
#: a tenth of an hour: when an hour's allow is warned about by default
LEAD = 360.0


@dataclass
class Notices:
    """What the allows' life said (``AllowNotices``), and how many of the next warnings or ends are not delivered."""

    said: list[tuple[str, str, object]] = field(default_factory=list)
    undelivered: int = 0
    #: the warnings have nowhere to go (a card with no thread)
    nowhere: bool = False

    def _delivered(self) -> bool:
        if self.undelivered:
            self.undelivered -= 1
            return False
        return True

    async def warn(self, allow: Allow, request: UnblockRequest, extend_by: float, allow_max: float) -> Said:
        if self.nowhere:
            return Said.NOWHERE
        if not self._delivered():
            return Said.LATER
        self.said.append(("warned", allow.request_id, extend_by))
        return Said.SHOWN

    async def extended(self, allow: Allow, request: UnblockRequest) -> None:
        self.said.append(("extended", allow.request_id, allow.ends_at))

    async def ended(self, allow: Allow, request: UnblockRequest) -> bool:
        delivered = self._delivered()
        if delivered:
            self.said.append(("ended", allow.request_id, allow.how))
        return delivered


@dataclass
class Life:
    w: World
    allows: MemoryAllows
    notices: Notices

    def process(self, owner: str = "bot-a", warn_before: float | None = None) -> AllowLife:
        w = self.w
        return AllowLife(self.allows, w.store, w.ip, w.policy, w.timing, w.clock, owner, self.notices, warn_before)

    async def upkeep(self, owner: str = "bot-a") -> None:
        await self.process(owner).upkeep()

    async def allow(self, request_id: str) -> Allow:
        found = await self.allows.allow_of(request_id)
        assert found is not None
        return found


def life(*, rules: tuple[Rule, ...] = (), keep: bool = True) -> Life:
    """The fakes, with the allows kept by execution (``keep``) through bot-a's life."""
    w = world(rules=rules)
    made = Life(w, MemoryAllows(w.store), Notices())
    if keep:
        w.allow_life = made.process()
    return made


async def allowed(w: World, entry_id: int = 42, seconds: float = HOUR) -> UnblockRequest:
    """An entry (42: 203.0.113.7, 43: 198.51.100.0/24) unblocked and allowed for ``seconds`` by the approver."""
    request = await w.request(w.ip.entries[entry_id])
    done = await w.requests.approve(request.id, APPROVER, CHANNEL, Action(Does.UNBLOCK_AND_ALLOW, seconds))
    assert isinstance(done, Resolved), done
    return done.request


async def test_an_allow_added_is_kept_warned_once_at_its_time_and_its_expiry_told_once() -> None:
    a = life()
    request = await allowed(a.w)
    allow = await a.allow(request.id)
    start = a.w.clock()
    assert (allow.entry_id, allow.address, allow.ends_at, allow.duration) == (1000, "203.0.113.7", start + HOUR, HOUR)

    await a.upkeep()
    a.w.clock.advance(HOUR - LEAD - 1)
    await a.upkeep()
    assert a.notices.said == []
    a.w.clock.advance(2)
    for owner in ("bot-a", "bot-b", "bot-a"):  # another replica, and the next round, say nothing more
        await a.upkeep(owner)
    assert a.notices.said == [("warned", request.id, HOUR)]
    assert (await a.allow(request.id)).warned_for == start + HOUR

    a.w.clock.advance(LEAD)
    for owner in ("bot-b", "bot-a"):
        await a.upkeep(owner)
    assert a.notices.said[1:] == [("ended", request.id, How.EXPIRED)]
    ended = await a.allow(request.id)
    assert (ended.phase, ended.ended_at, ended.told_at) == (Phase.ENDED, start + HOUR, a.w.clock())
    assert a.w.ip.called("still_listed") == [[1000], [1000]]  # at the first round, and a minute later: not every round


async def test_a_warning_not_delivered_is_sent_at_a_later_round_once_and_warn_before_zero_sends_none() -> None:
    a = life()
    request = await allowed(a.w)
    a.w.clock.advance(HOUR - 100)
    await a.process(warn_before=0).upkeep()
    assert a.notices.said == []
    a.notices.undelivered = 1
    await a.upkeep()
    await a.upkeep()
    await a.upkeep()
    assert a.notices.said == [("warned", request.id, HOUR)]


async def test_never_warned_after_its_undo_nor_after_end_now_whose_end_is_told_once() -> None:
    a = life()
    undone = await allowed(a.w)
    assert isinstance(await a.w.requests.undo(undone.id, APPROVER, CHANNEL), Resolved)
    assert ((await a.allow(undone.id)).how, (await a.allow(undone.id)).ended_by) == (How.UNDONE, APPROVER)
    ended = await allowed(a.w, 43)
    answer = await a.process().end(ended.id, REQUESTER, CHANNEL)
    assert isinstance(answer, Changed) and answer.allow.how is How.END_NOW
    gone = [(await a.allow(r.id)).entry_id for r in (undone, ended)]
    assert a.w.ip.called("remove_entry") == gone and not set(gone) & set(a.w.ip.entries)

    a.w.clock.advance(HOUR - 10)
    await a.upkeep()
    await a.upkeep("bot-b")
    assert a.notices.said == [("ended", ended.id, How.END_NOW)]  # the Undo's end is on its card; no warnings
    assert isinstance(await a.process().end(ended.id, APPROVER, CHANNEL), AlreadyChanged)


async def test_undo_of_a_request_whose_allow_entry_ended_already_puts_the_block_back() -> None:
    a = life()
    request = await allowed(a.w)
    assert isinstance(await a.process().end(request.id, APPROVER, CHANNEL), Changed)
    undone = await a.w.requests.undo(request.id, APPROVER, CHANNEL)
    assert isinstance(undone, Resolved) and undone.request.state is State.UNDONE
    assert [r.outcome for r in undone.request.done.undo_results] == [Outcome.RESTORED]
    assert a.w.ip.called("restore") == [42] and (await a.allow(request.id)).how is How.END_NOW


async def test_extend_adds_its_duration_up_to_allow_max_then_cannot_and_a_new_warning_comes() -> None:
    rule = Rule(name="Offices", approvers=Approvers(users=frozenset({APPROVER})), allow=(HOUR,), allow_max=2.5 * HOUR)
    a = life(rules=(rule,))
    request = await allowed(a.w)
    start = a.w.clock()
    a.w.clock.advance(HOUR - LEAD)
    await a.upkeep()
    first = await a.allow(request.id)

    answer = await a.process().extend(request.id, APPROVER, CHANNEL, int(first.ends_at))
    assert isinstance(answer, Changed) and answer.allow.ends_at == int(start + 2 * HOUR)
    assert answer.allow.extended_by == APPROVER
    assert a.w.ip.called("extend") == [(1000, int(start + 2 * HOUR))]
    assert a.w.ip.entries[1000].expires_at == expires_at(int(start + 2 * HOUR))

    a.w.clock.advance(HOUR)  # a warning before the new end, with what is left under allow_max
    await a.upkeep()
    assert a.notices.said[-1] == ("warned", request.id, start + 2.5 * HOUR - int(start + 2 * HOUR))
    second = await a.process().extend(request.id, GROUP_MEMBER, CHANNEL, int(start + 2 * HOUR))
    assert isinstance(second, Unchanged) and second.why is Cannot.NOT_APPROVER  # not an approver of this rule
    last = await a.process().extend(request.id, APPROVER, CHANNEL, int(start + 2 * HOUR))
    assert isinstance(last, Changed) and last.allow.ends_at == start + 2.5 * HOUR
    at_most = await a.process().extend(request.id, APPROVER, CHANNEL, int(last.allow.ends_at))
    assert isinstance(at_most, Unchanged) and (at_most.why, at_most.allow_max) == (Cannot.AT_MOST, 2.5 * HOUR)
    assert len(a.w.ip.called("extend")) == 2


async def test_only_approvers_extend_and_only_approvers_or_the_requester_end_with_no_side_effect() -> None:
    a = life()
    request = await allowed(a.w)
    ends = int((await a.allow(request.id)).ends_at)
    refused = [
        await a.process().extend(request.id, REQUESTER, CHANNEL, ends),
        await a.process().extend(request.id, OTHER_USER, CHANNEL, ends),
        await a.process().end(request.id, OTHER_USER, CHANNEL),
        await a.process().end(request.id, APPROVER, OTHER_CHANNEL),  # a button out of its card's channel
    ]
    whys = [answer.why for answer in refused if isinstance(answer, Unchanged)]
    assert whys == [Cannot.NOT_APPROVER, Cannot.NOT_APPROVER, Cannot.NOT_APPROVER_OR_REQUESTER, Cannot.OTHER_CHANNEL]
    assert a.w.ip.called("extend") == a.w.ip.called("remove_entry") == [] and a.notices.said == []
    assert (await a.allow(request.id)).phase is Phase.ACTIVE


async def test_two_clicks_at_once_in_two_processes_extend_once_and_end_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="bot.audit")
    a = life()
    request = await allowed(a.w)
    ends = int((await a.allow(request.id)).ends_at)
    both = await asyncio.gather(
        a.process("bot-a").extend(request.id, APPROVER, CHANNEL, ends),
        a.process("bot-b").extend(request.id, GROUP_MEMBER, CHANNEL, ends),
    )
    assert sorted(type(answer).__name__ for answer in both) == ["AlreadyChanged", "Changed"]
    assert len(a.w.ip.called("extend")) == 1
    late = await a.process().extend(request.id, GROUP_MEMBER, None, ends)  # the same button again
    assert isinstance(late, AlreadyChanged) and late.allow.extended_by == APPROVER

    ended = await asyncio.gather(
        a.process("bot-a").end(request.id, APPROVER, CHANNEL),
        a.process("bot-b").end(request.id, REQUESTER, CHANNEL),
    )
    assert sorted(type(answer).__name__ for answer in ended) == ["AlreadyChanged", "Changed"]
    assert a.w.ip.called("remove_entry") == [1000]
    assert [said for said in a.notices.said if said[0] == "ended"] == [("ended", request.id, How.END_NOW)]
    audited = [r.__dict__ for r in caplog.records if r.name == "bot.audit" and r.getMessage().startswith("allow")]
    assert [(r["event"], r["actor"], r.get("how")) for r in audited] == [
        ("extended", APPROVER, None),
        ("ended", APPROVER, "end_now"),
    ]


async def test_a_lost_answer_is_looked_at_before_anything_is_sent_again() -> None:
    a = life()
    request = await allowed(a.w)
    ends = int((await a.allow(request.id)).ends_at)
    a.w.ip.fail("extend", unavailable(lost=True), applied=True)
    answer = await a.process().extend(request.id, APPROVER, CHANNEL, ends)
    assert isinstance(answer, Changed) and answer.allow.ends_at == ends + HOUR
    assert len(a.w.ip.called("extend")) == 1 and a.w.ip.called("allow_entry") == [1000]

    a.w.ip.fail("extend", unavailable())  # refused: nothing changed, and the allow is as it was
    failed = await a.process().extend(request.id, APPROVER, CHANNEL, ends + int(HOUR))
    assert isinstance(failed, Unchanged) and failed.why is Cannot.FAILED
    assert (await a.allow(request.id)).phase is Phase.ACTIVE


async def test_a_change_a_stopped_process_held_is_finished_by_another_after_asking_3cx_first() -> None:
    a = life()
    extended, ended = await allowed(a.w), await allowed(a.w, 43)
    first = await a.allow(extended.id)
    now = a.w.clock()
    to = float(int(first.ends_at + HOUR))
    await a.allows.change_allow(extended.id, Phase.EXTENDING, APPROVER, "bot-dead 1", now, ends_at=None, extend_to=to)
    await a.w.ip.extend(first.entry_id, to)  # 3CX did it; the process stopped before it heard
    await a.allows.change_allow(ended.id, Phase.ENDING, REQUESTER, "bot-dead 2", now, ends_at=None, extend_to=None)
    calls = len(a.w.ip.calls)

    await a.upkeep("bot-b")  # too early: the holder may still be working
    assert (await a.allow(extended.id)).phase is Phase.EXTENDING
    a.w.clock.advance(a.w.timing.takeover_after + 1)
    await a.upkeep("bot-b")
    assert ((await a.allow(extended.id)).phase, (await a.allow(extended.id)).ends_at) == (Phase.ACTIVE, to)
    assert ((await a.allow(ended.id)).how, (await a.allow(ended.id)).ended_by) == (How.END_NOW, REQUESTER)
    sent = [name for name, _ in a.w.ip.calls[calls:] if name in ("extend", "remove_entry")]
    assert sent == ["remove_entry"]  # the extend was seen done; the end sent once more (a DELETE is harmless)


async def test_an_allow_gone_from_3cx_before_its_end_is_told_once_and_one_never_kept_is_adopted() -> None:
    a = life(keep=False)
    request = await allowed(a.w)
    assert await a.allows.allow_of(request.id) is None
    await a.upkeep()  # found in the finished request
    allow = await a.allow(request.id)
    a.w.ip.drop(allow.entry_id)
    a.w.clock.advance(61)
    await a.upkeep()
    await a.upkeep("bot-b")
    assert a.notices.said == [("ended", request.id, How.REMOVED)]
