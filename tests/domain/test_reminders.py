"""Reminders and escalation: a request still waiting after its rule's ``remind_after`` is reminded once, and
after its ``escalate_after`` escalated once (a compare-and-set in the store: never twice, in one process or in
two, never after a decision or expiry); from then on the people it was escalated to decide like its
approvers, never on their own request."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from ipaddress import ip_network

import pytest

from bot.domain.model import Escalation, State, UnblockRequest
from bot.domain.policy import ApprovalPolicy
from bot.domain.results import ApprovalRecorded, Refusal, Refused, Resolved, Upkept, Why
from bot.domain.rules import Approvers, Rule, Rules

from .fakes import (
    APPROVER,
    CHANNEL,
    DURATIONS,
    GROUP,
    OTHER_USER,
    REQUESTER,
    TIMING,
    World,
    blocked_address,
    world,
)

#: the people requests are escalated to: a lead, and the members of the on-call user group
LEAD = "U0LEAD"
ONCALL = "S0ONCALL"
ONCALL_MEMBER = "U0ONCALL1"
MINUTE = 60.0
#: the settings: reminded after 2 minutes, escalated after 5 (requests live 10: ``TIMING.ttl``)
SETTINGS = Rule(
    approvers=Approvers(users=frozenset({APPROVER}), groups=frozenset({GROUP})),
    allow=DURATIONS,
    remind_after=2 * MINUTE,
    escalate_after=5 * MINUTE,
    escalate_to=Approvers(users=frozenset({LEAD}), groups=frozenset({ONCALL})),
)
#: entry 43 (198.51.100.0/24): reminded after 30 seconds, escalated after 1 minute, to the lead alone
QUICK = Rule(
    name="Quick",
    networks=(ip_network("198.51.100.0/24"),),
    approvers=SETTINGS.approvers,
    remind_after=30.0,
    escalate_after=MINUTE,
    escalate_to=Approvers(users=frozenset({LEAD})),
)


def reminding(default: Rule = SETTINGS, rules: Sequence[Rule] = (), *, allow_self_approval: bool = False) -> World:
    """The fakes, with ``default`` as the settings' rule and ``rules`` before it."""
    w = world(rules=rules, allow_self_approval=allow_self_approval)
    w.membership.groups[ONCALL] = frozenset({ONCALL_MEMBER})
    w.policy = ApprovalPolicy(Rules(tuple(rules), default), w.membership, allow_self_approval=allow_self_approval)
    return w


async def waiting_for(w: World, seconds: float, entry: int = 42, *, requester: str = REQUESTER) -> UnblockRequest:
    """A request for ``entry``, waiting ``seconds`` now."""
    request = await w.request(w.ip.entries[entry], requester=requester)
    w.clock.advance(seconds)
    return request


async def upkeep(w: World, owner: str = "bot-a") -> Upkept:
    """One round of upkeep in the process ``owner``."""
    return await w.process(owner).upkeep()


def ids(requests: Sequence[UnblockRequest]) -> list[str]:
    return [r.id for r in requests]


# -- reminders -----------------------------------------------------------------------------------------


async def test_an_expired_request_is_never_reminded() -> None:
    w = reminding()
    request = await waiting_for(w, w.timing.ttl)  # past its time, not yet expired by upkeep
    done = await upkeep(w)
    assert (done.reminded, done.escalated) == ([], [])
    assert ids(done.expired) == [request.id]
    # the store refuses it too, from its last moment on
    assert await w.store.mark_reminded(request.id, request.decision.expires_at) is None
    assert await w.store.mark_escalated(request.id, Escalation(request.decision.expires_at, 1.0, (LEAD,))) is None


@pytest.mark.parametrize(
    ("default", "rules", "entry"),
    [
        (replace(SETTINGS, remind_after=0.0, escalate_after=0.0), (), 42),
        (replace(SETTINGS, remind_after=TIMING.ttl, escalate_after=2 * TIMING.ttl), (), 42),
        (SETTINGS, (replace(QUICK, remind_after=0.0, escalate_after=0.0),), 43),
    ],
    ids=["turned-off", "no-sooner-than-expiry", "turned-off-by-a-rule"],
)
async def test_nothing_is_reminded_or_escalated_when_turned_off_or_not_before_expiry(
    default: Rule, rules: tuple[Rule, ...], entry: int
) -> None:
    w = reminding(default, rules)
    await waiting_for(w, w.timing.ttl - 1, entry)
    done = await upkeep(w)
    assert (done.reminded, done.escalated) == ([], [])
    if not rules:
        assert w.store.calls["still_waiting"] == 0  # not even asked


async def test_a_rules_own_times_win_over_the_settings() -> None:
    w = reminding(rules=[QUICK])
    usual = await w.request(w.ip.entries[42])
    quick = await waiting_for(w, 30.0, 43)
    assert quick.decision.rule == "Quick"

    done = await upkeep(w)
    assert ids(done.reminded) == [quick.id] and done.escalated == []
    w.clock.advance(30.0)
    done = await upkeep(w)
    assert ids(done.escalated) == [quick.id] and done.reminded == []
    assert done.escalated[0].decision.escalation == Escalation(w.clock(), MINUTE, (LEAD,), ())

    w.clock.advance(MINUTE)  # the settings' 2 minutes
    assert ids((await upkeep(w)).reminded) == [usual.id]


# -- escalation -----------------------------------------------------------------------------------------


async def test_a_request_still_waiting_is_reminded_and_escalated_once_by_two_replicas_at_once() -> None:
    w = reminding()
    request = await waiting_for(w, 2 * MINUTE)
    a, b = await asyncio.gather(upkeep(w, "bot-a"), upkeep(w, "bot-b"))
    assert ids(a.reminded) + ids(b.reminded) == [request.id]
    w.clock.advance(3 * MINUTE)

    a, b = await asyncio.gather(upkeep(w, "bot-a"), upkeep(w, "bot-b"))
    assert a.reminded + b.reminded == [] and ids(a.escalated) + ids(b.escalated) == [request.id]
    [escalated] = a.escalated + b.escalated
    assert escalated.decision.escalation == Escalation(w.clock(), 5 * MINUTE, (LEAD,), (ONCALL,))
    assert escalated.decision.reminded_at is not None and escalated.state is State.PENDING

    w.clock.advance(MINUTE)
    assert (await upkeep(w)).escalated == [] and (await upkeep(w, "bot-b")).escalated == []
    assert (await w.state(request.id)).decision.escalation == escalated.decision.escalation


async def test_a_member_of_a_user_group_escalated_to_may_deny_only_once_it_is_escalated() -> None:
    w = reminding()
    request = await waiting_for(w, 4 * MINUTE)
    assert isinstance(await w.requests.deny(request.id, ONCALL_MEMBER, CHANNEL), Refused)

    w.clock.advance(MINUTE)
    assert ids((await upkeep(w)).escalated) == [request.id]
    denied = await w.requests.deny(request.id, ONCALL_MEMBER, CHANNEL)
    assert isinstance(denied, Resolved)
    assert (denied.request.state, denied.request.decision.by) == (State.DENIED, ONCALL_MEMBER)


@pytest.mark.parametrize("allow_self_approval", [False, True])
async def test_one_escalated_to_never_decides_their_own_request(allow_self_approval: bool) -> None:
    w = reminding(allow_self_approval=allow_self_approval)
    request = await waiting_for(w, 5 * MINUTE, requester=LEAD)
    assert ids((await upkeep(w)).escalated) == [request.id]

    approved = await w.requests.approve(request.id, LEAD, CHANNEL)
    assert isinstance(approved, Refused) and approved.reason == Refusal(Why.OWN_REQUEST, "approve")
    denied = await w.requests.deny(request.id, LEAD, CHANNEL)
    assert isinstance(denied, Refused) and denied.reason == Refusal(Why.USE_CANCEL)
    assert (await w.state(request.id)).state is State.PENDING and w.ip.calls == []


async def test_one_escalated_to_counts_as_an_approver_of_several() -> None:
    w = reminding(replace(SETTINGS, approvals=2))
    request = await waiting_for(w, 5 * MINUTE)
    assert isinstance(await w.requests.approve(request.id, APPROVER, CHANNEL), ApprovalRecorded)
    await upkeep(w)
    approved = await w.requests.approve(request.id, LEAD, CHANNEL)
    assert isinstance(approved, Resolved) and approved.request.decision.approved_by == (APPROVER, LEAD)
    assert approved.request.state is State.UNBLOCKED


async def test_each_sees_waiting_only_the_requests_they_may_approve_now() -> None:
    w = reminding(rules=[QUICK])
    w.ip.put(blocked_address(44, "192.0.2.1"))
    mine = await waiting_for(w, 0.0, requester=APPROVER)  # the approver's own request
    quick = await waiting_for(w, 2 * MINUTE, 43)
    other = await waiting_for(w, 0.0, 44)

    assert await w.requests.reads.waiting_for(APPROVER, 10) == [other, quick]  # never their own
    assert await w.requests.reads.waiting_for(APPROVER, 1) == [other]
    assert await w.requests.reads.waiting_for(LEAD, 10) == []  # nothing escalated yet
    await upkeep(w)  # "Quick" escalates to the lead after a minute; the settings after five
    assert [r.id for r in await w.requests.reads.waiting_for(LEAD, 10)] == [quick.id]
    assert await w.requests.reads.waiting_for(OTHER_USER, 10) == []
    assert mine.asked.by == APPROVER
