"""The edges of an allow entry's life (``bot.domain.allow_life.AllowLife``): a clock that is not on a whole second,
messages that cannot be delivered, a database away after 3CX made a change, an end near its expiry, the request's
Undo, an entry gone from 3CX, two clicks one after the other, and who sees End now in the Home tab."""

from __future__ import annotations

import logging

import pytest

from bot.domain import allow_life
from bot.domain.allows import AlreadyChanged, Cannot, Changed, How, Phase, Unchanged, Unrecorded
from bot.domain.model import State
from bot.domain.ports import StoreUnreachable
from bot.domain.reads import Reads
from bot.domain.results import Resolved
from bot.domain.rules import Approvers, Rule

from .fakes import APPROVER, CHANNEL, OTHER_USER, REQUESTER, START, forbidden, unavailable
from .test_allow_life import HOUR, allowed, life


def audited(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str | None]]:
    """The audit lines of the allows' life: (event, how)."""
    found = [r.__dict__ for r in caplog.records if r.name == "bot.audit" and r.getMessage().startswith("allow")]
    return [(r["event"], r.get("how")) for r in found]


async def test_on_a_clock_off_the_whole_second_allow_max_caps_in_whole_minutes_then_says_at_most() -> None:
    rule = Rule(name="Offices", approvers=Approvers(users=frozenset({APPROVER})), allow=(HOUR,), allow_max=7400.0)
    a = life(rules=(rule,))
    a.w.clock.now = START + 0.6
    request = await allowed(a.w)
    first = await a.process().extend(request.id, APPROVER, CHANNEL, int(START + HOUR))
    assert isinstance(first, Changed) and first.allow.ends_at == START + 2 * HOUR

    a.w.clock.advance(2 * HOUR - 200)  # the warning offers what is left, in whole minutes: 3 of the 200 s
    await a.upkeep()
    assert a.notices.said[-1] == ("warned", request.id, 180.0)
    second = await a.process().extend(request.id, APPROVER, CHANNEL, int(START + 2 * HOUR))
    assert isinstance(second, Changed) and second.allow.ends_at == START + 2 * HOUR + 180
    third = await a.process().extend(request.id, APPROVER, CHANNEL, int(START + 2 * HOUR + 180))
    assert isinstance(third, Unchanged) and third.why is Cannot.AT_MOST  # 20 s are left: less than a minute
    assert a.w.ip.called("extend") == [(1000, START + 2 * HOUR), (1000, START + 2 * HOUR + 180)]


async def test_an_end_that_cannot_be_told_is_given_up_a_day_later_and_never_crowds_out_the_allows_in_force(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(allow_life, "MINDED", 1)
    a = life()
    soon, later = await allowed(a.w), await allowed(a.w, 43, 86400.0)
    a.notices.undelivered = 1000
    assert isinstance(await a.process().end(later.id, REQUESTER, CHANNEL), Changed)
    a.w.clock.advance(HOUR - 60)  # the soonest end is the one read in force; the untold end is read too
    await a.upkeep()
    assert (await a.allow(later.id)).told_at is None and (await a.allow(soon.id)).warned_for is None

    a.notices.undelivered = 0
    await a.upkeep()
    assert a.notices.said == [("warned", soon.id, HOUR), ("ended", later.id, How.END_NOW)]

    a.notices.undelivered = 1000
    a.w.clock.advance(60)  # the soonest ends, and its message cannot be delivered
    await a.upkeep()
    assert (await a.allow(soon.id)).told_at is None
    a.w.clock.advance(86400)
    await a.upkeep()
    assert (await a.allow(soon.id)).told_at == a.w.clock()
    assert a.notices.said[2:] == []


async def test_a_database_away_after_3cx_extended_it_is_written_again_or_the_click_is_told_the_truth() -> None:
    a = life()
    request = await allowed(a.w)
    ends = int((await a.allow(request.id)).ends_at)

    async def away_once() -> None:
        raise StoreUnreachable("the database is away")

    a.allows.before["extended"] = away_once
    answer = await a.process().extend(request.id, APPROVER, CHANNEL, ends)
    assert isinstance(answer, Changed) and answer.allow.ends_at == ends + HOUR

    async def away() -> None:
        a.allows.before["extended"] = away
        raise StoreUnreachable("the database is away")

    a.allows.before["extended"] = away
    unrecorded = await a.process().extend(request.id, APPROVER, CHANNEL, ends + int(HOUR))
    assert isinstance(unrecorded, Unrecorded) and unrecorded.allow.phase is Phase.EXTENDING
    del a.allows.before["extended"]
    a.w.clock.advance(a.w.timing.takeover_after + 1)
    await a.upkeep("bot-b")  # the claim is taken over: 3CX is asked, and it extended it already
    kept = await a.allow(request.id)
    assert (kept.phase, kept.ends_at) == (Phase.ACTIVE, ends + 2 * HOUR)
    assert len(a.w.ip.called("extend")) == 2
    assert [said[0] for said in a.notices.said] == ["extended", "extended"]


async def test_near_its_end_a_missing_entry_is_its_expiry_not_a_removal_and_not_checked() -> None:
    a = life()
    request = await allowed(a.w)
    allow = await a.allow(request.id)
    await a.upkeep()
    a.w.clock.advance(HOUR - 100)  # 3CX lifted it a little early
    a.w.ip.drop(allow.entry_id)
    await a.process(warn_before=0).upkeep()
    assert a.w.ip.called("still_listed") == [[1000]] and (await a.allow(request.id)).phase is Phase.ACTIVE

    answer = await a.process().extend(request.id, APPROVER, CHANNEL, int(allow.ends_at))
    assert isinstance(answer, AlreadyChanged) and answer.allow.how is How.EXPIRED
    assert a.notices.said == [("ended", request.id, How.EXPIRED)]


async def test_an_entry_gone_long_before_its_end_at_extend_or_end_now_was_removed_by_someone() -> None:
    a = life()
    extended, ended = await allowed(a.w), await allowed(a.w, 43)
    for request in (extended, ended):
        a.w.ip.drop((await a.allow(request.id)).entry_id)
    at_extend = await a.process().extend(extended.id, APPROVER, CHANNEL, int((await a.allow(extended.id)).ends_at))
    at_end = await a.process().end(ended.id, APPROVER, CHANNEL)
    for answer in (at_extend, at_end):
        assert isinstance(answer, AlreadyChanged) and (answer.allow.how, answer.allow.ended_by) == (How.REMOVED, None)
    assert a.notices.said == [("ended", extended.id, How.REMOVED), ("ended", ended.id, How.REMOVED)]


async def test_an_undo_the_allows_life_missed_ends_it_as_undone_without_a_warning_or_a_message() -> None:
    a = life()
    warned, checked = await allowed(a.w), await allowed(a.w, 43, 86400.0)

    async def away() -> None:
        raise StoreUnreachable("the database is away")

    for request in (warned, checked):
        a.allows.before["allow_of"] = away  # the Undo cannot tell the allows' life
        await a.w.requests.undo(request.id, APPROVER, CHANNEL)
    a.w.clock.advance(HOUR - 60)
    await a.upkeep()
    assert a.notices.said == []
    for request in (warned, checked):
        kept = await a.allow(request.id)
        assert (kept.phase, kept.how, kept.ended_by) == (Phase.ENDED, How.UNDONE, APPROVER)


async def test_the_first_extend_done_before_the_second_clicks_claim_leaves_the_second_undone() -> None:
    a = life()
    request = await allowed(a.w)
    ends = int((await a.allow(request.id)).ends_at)
    first: list[object] = []

    async def first_click() -> None:
        first.append(await a.process("bot-a").extend(request.id, APPROVER, CHANNEL, ends))

    a.allows.before["change_allow"] = first_click  # the second click read the allow; the first finishes first
    second = await a.process("bot-b").extend(request.id, APPROVER, CHANNEL, ends)
    assert isinstance(first[0], Changed) and isinstance(second, AlreadyChanged)
    assert a.w.ip.called("extend") == [(1000, ends + HOUR)]


async def test_a_short_allow_is_warned_five_minutes_before_its_end_and_the_warning_is_audited_when_shown(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="bot.audit")
    a = life(rules=(Rule(name="Short", approvers=Approvers(users=frozenset({APPROVER})), allow=(600.0,)),))
    request = await allowed(a.w, seconds=600)
    a.w.clock.advance(600 - 301)
    await a.upkeep()
    assert a.notices.said == []
    a.w.clock.advance(2)
    await a.upkeep()
    assert a.notices.said == [("warned", request.id, 600)] and audited(caplog) == [("warned", None)]

    nowhere = await allowed(a.w, 43, 600)  # a card with no thread: recorded, but no audit line says it was shown
    a.notices.nowhere = True
    a.w.clock.advance(600 - 200)
    await a.upkeep()
    assert (await a.allow(nowhere.id)).warned_for is not None
    assert [event for event in audited(caplog) if event[0] == "warned"] == [("warned", None)]


async def test_a_lost_delete_answer_is_looked_up_and_a_refusal_says_why() -> None:
    a = life()
    lost, refused = await allowed(a.w), await allowed(a.w, 43)
    a.w.ip.fail("remove_entry", unavailable(lost=True), applied=True)
    answer = await a.process().end(lost.id, APPROVER, CHANNEL)
    assert isinstance(answer, Changed) and answer.allow.how is How.END_NOW
    assert a.w.ip.called("allow_entry") == [1000] and len(a.w.ip.called("remove_entry")) == 1

    a.w.ip.fail("extend", forbidden())
    no = await a.process().extend(refused.id, APPROVER, CHANNEL, int((await a.allow(refused.id)).ends_at))
    assert isinstance(no, Unchanged) and (no.why, no.reason) == (Cannot.FAILED, forbidden().reason)
    assert (await a.allow(refused.id)).phase is Phase.ACTIVE


async def test_the_home_tab_offers_end_now_only_to_whom_may_end_it() -> None:
    offices = Rule(name="Offices", approvers=Approvers(users=frozenset({APPROVER})), allow=(HOUR,))
    other = Rule(name="Phones", approvers=Approvers(users=frozenset({OTHER_USER})), added_by="nobody")
    a = life(rules=(other, offices))
    request = await allowed(a.w)
    allow = await a.allow(request.id)
    reads = Reads(a.w.store, a.w.policy, allows=a.allows)
    now = a.w.clock()
    seen = {user: await reads.allows_in_force(user, now) for user in (APPROVER, REQUESTER, OTHER_USER, "USTRANGER")}
    assert seen == {
        APPROVER: [(allow, True)],
        REQUESTER: [(allow, True)],
        OTHER_USER: [(allow, False)],  # an approver of another rule sees it, and may not end it
        "USTRANGER": [],
    }


async def test_an_allow_entry_never_kept_whose_undo_failed_after_removing_it_is_adopted_as_undone() -> None:
    a = life(keep=False)
    request = await allowed(a.w)
    a.w.ip.fail("restore", forbidden())  # the Undo removes the allow entry, then cannot put the block back
    undone = await a.w.requests.undo(request.id, APPROVER, CHANNEL)
    assert isinstance(undone, Resolved) and undone.request.state is State.UNDO_FAILED
    assert 1000 not in a.w.ip.entries
    a.w.clock.advance(61)
    await a.upkeep()
    await a.upkeep()
    kept = await a.allow(request.id)
    assert (kept.phase, kept.how, a.notices.said) == (Phase.ENDED, How.UNDONE, [])
