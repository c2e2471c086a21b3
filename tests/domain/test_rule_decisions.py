"""The rules decide: who may approve a request, how many distinct approvers must (each approval but the last
recorded, the requester never counting), which Approve-and-allow durations it takes, and whether it is carried
out at once; two approvals at once; a request no rule matches follows the settings."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import replace
from functools import partial
from ipaddress import ip_network

import pytest

from bot.domain.actions import UNBLOCK, Action, Does
from bot.domain.claims import NOT_ALLOWABLE
from bot.domain.entries import Kind
from bot.domain.model import Approval, State, UnblockRequest, agreed
from bot.domain.results import (
    AlreadyResolved,
    ApprovalRecorded,
    Decided,
    Expired,
    Opened,
    Refusal,
    Refused,
    Resolved,
    Why,
)
from bot.domain.rules import Approvers, Rule, Rules

from .fakes import (
    APPROVER,
    CHANNEL,
    DURATIONS,
    GROUP,
    GROUP_MEMBER,
    REQUESTER,
    TIMING,
    World,
    blocked_address,
    world,
)

P, X, U = State.PENDING, State.EXECUTING, State.UNBLOCKED
SEC1, SEC2, SEC3, VOICE1 = "U0SEC1", "U0SEC2", "U0SEC3", "U0VOICE1"
#: a user group of security approvers, whose member is ``SEC3``
SECURITY = "S0SECURITY"
HOUR = 3600.0
ONLY_HOUR, ALLOW_HOUR = Action(Does.ALLOW_ONLY, HOUR), Action(Does.UNBLOCK_AND_ALLOW, HOUR)

#: entry 43 (198.51.100.0/24): two approvals of the security approvers, Approve and allow for an hour only
WIDE = Rule(
    name="Wide networks",
    networks=(ip_network("198.51.100.0/24"),),
    approvers=Approvers(users=frozenset({SEC1, SEC2}), groups=frozenset({SECURITY})),
    approvals=2,
    allow=(HOUR,),
)
#: caller numbers (entry n1): one approval, by ``VOICE1``
VOICE = Rule(name="Caller numbers", kind=Kind.NUMBER, approvers=Approvers(users=frozenset({VOICE1})))
#: entry 44 (192.0.2.1): carried out without approval; its approvers are the settings' (they may undo)
BRANCH = Rule(
    name="Branch offices",
    networks=(ip_network("192.0.2.0/24"),),
    approvers=Approvers(users=frozenset({APPROVER}), groups=frozenset({GROUP})),
    allow=DURATIONS,
    auto=True,
)


def ruled(*, allow_self_approval: bool = False) -> World:
    """The fakes with the rules above; entry 44 (192.0.2.1) added to the IP blocklist."""
    w = world(rules=[BRANCH, WIDE, VOICE], allow_self_approval=allow_self_approval)
    w.membership.groups[SECURITY] = frozenset({SEC3})
    w.ip.put(blocked_address(44, "192.0.2.1"))
    return w


async def wide(w: World, *, requester: str = REQUESTER) -> UnblockRequest:
    """A pending request for entry 43, under the rule "Wide networks"."""
    request = await w.request(w.ip.entries[43], requester=requester)
    assert (request.decision.rule, request.decision.needed, request.decision.auto) == ("Wide networks", 2, False)
    return request


async def first_approval(
    w: World, request: UnblockRequest, user: str = SEC1, action: Action = UNBLOCK
) -> UnblockRequest:
    recorded = await w.requests.approve(request.id, user, CHANNEL, action)
    assert isinstance(recorded, ApprovalRecorded), recorded
    return recorded.request


def with_wide(w: World, wide: Rule) -> Rules:
    """The rules of ``w`` with ``wide`` in the place of "Wide networks"."""
    rules = w.policy.rules
    return replace(rules, rules=tuple(wide if rule.name == WIDE.name else rule for rule in rules.rules))


def already_approved() -> Refusal:
    return Refusal(Why.ALREADY_APPROVED, "approve", approvers=WIDE.approvers, rule=WIDE.name, approvals_needed=2)


def not_approver(verb: str, rule: Rule) -> Refusal:
    return Refusal(Why.NOT_APPROVER, verb, approvers=rule.approvers, rule=rule.name)


# -- two approvals -----------------------------------------------------------------------------------


async def test_the_first_of_two_approvals_is_recorded_once_per_approver_and_a_second_carries_it_out() -> None:
    w = ruled()
    request = await wide(w)
    click = await w.requests.approve(request.id, SEC1, CHANNEL)
    assert isinstance(click, ApprovalRecorded)
    now = click.request
    assert (now.state, now.decision.approved_by, now.decision.by, now.owner) == (P, (SEC1,), None, None)
    assert await w.state(request.id) == now and w.ip.calls == []  # nothing sent to 3CX

    assert await w.requests.approve(request.id, SEC1, CHANNEL) == Refused(now, already_approved())
    assert (await w.state(request.id)).decision.approved_by == (SEC1,)
    assert await w.moves(request.id) == [(None, P), (P, P)]

    done = await w.requests.approve(request.id, SEC3, CHANNEL)  # a member of the rule's user group
    assert isinstance(done, Resolved)
    assert (done.request.state, done.request.decision.approved_by, done.request.decision.by) == (U, (SEC1, SEC3), SEC3)
    assert await w.moves(request.id) == [(None, P), (P, P), (P, X), (X, U)]
    assert w.ip.called("remove") == [43]


@pytest.mark.parametrize("allow_self_approval", [False, True])
async def test_the_requester_never_counts_as_one_of_several_approvals(allow_self_approval: bool) -> None:
    w = ruled(allow_self_approval=allow_self_approval)
    request = await wide(w, requester=SEC1)  # an approver of the rule asks
    own = Refused(request, Refusal(Why.OWN_REQUEST, "approve"))
    assert await w.requests.approve(request.id, SEC1, CHANNEL) == own
    recorded = await first_approval(w, request, SEC2)
    assert await w.requests.approve(request.id, SEC1, CHANNEL) == Refused(recorded, own.reason)
    now = await w.state(request.id)
    assert (now.state, now.decision.approved_by) == (P, (SEC2,))
    assert w.ip.calls == []


@pytest.mark.parametrize(("opened_with", "changed_to"), [(2, 1), (1, 2)])
async def test_a_request_needs_the_approvals_it_was_opened_with_whatever_the_rules_say_later(
    opened_with: int, changed_to: int
) -> None:
    w = ruled()
    w.policy.rules = with_wide(w, replace(WIDE, approvals=opened_with))
    request = await w.request(w.ip.entries[43])
    assert request.decision.needed == opened_with
    w.policy.rules = with_wide(w, replace(WIDE, approvals=changed_to))  # the rules file changed, and a restart

    click = await w.requests.approve(request.id, SEC1, CHANNEL)

    if opened_with == 2:  # as its card says: one more approval
        assert isinstance(click, ApprovalRecorded) and click.request.decision.approved_by == (SEC1,)
        click = await w.requests.approve(request.id, SEC2, CHANNEL)
    assert isinstance(click, Resolved) and click.request.state is U
    assert w.ip.called("remove") == [43]


async def test_deny_by_an_approver_of_the_rule_after_one_approval_ends_it() -> None:
    w = ruled()
    request = await wide(w)
    recorded = await first_approval(w, request)
    assert await w.requests.deny(request.id, APPROVER, CHANNEL) == Refused(recorded, not_approver("deny", WIDE))
    denied = await w.requests.deny(request.id, SEC2, CHANNEL)
    assert isinstance(denied, Resolved)
    assert (denied.request.state, denied.request.decision.by) == (State.DENIED, SEC2)
    assert isinstance(await w.requests.approve(request.id, SEC3, CHANNEL), AlreadyResolved)
    assert w.ip.calls == [] and w.store.open_targets == {}


async def test_expiry_still_applies_after_one_approval() -> None:
    w = ruled()
    request = await wide(w)
    await first_approval(w, request)
    w.clock.advance(TIMING.ttl)
    click = await w.requests.approve(request.id, SEC2, CHANNEL)
    assert isinstance(click, Expired) and click.just_now
    now = click.request
    assert (now.state, now.decision.approved_by, now.decision.by) == (State.EXPIRED, (SEC1,), None)
    assert await w.moves(request.id) == [(None, P), (P, P), (P, State.EXPIRED)]
    assert w.ip.calls == []


@pytest.mark.parametrize(("entry", "user"), [(42, GROUP_MEMBER), (43, SEC3)], ids=["the claim", "one approval of two"])
async def test_a_click_whose_approver_check_outlasts_the_request_changes_nothing_but_expire_it(
    entry: int, user: str
) -> None:
    w = ruled()
    request = await w.request(w.ip.entries[entry])
    w.clock.advance(TIMING.ttl - 1)
    w.membership.during = lambda: w.clock.advance(2)  # Slack answers about the user group two seconds later
    click = await w.requests.approve(request.id, user, CHANNEL)
    assert isinstance(click, Expired) and click.just_now
    now = click.request
    assert (now.state, now.decision.approved_by, now.decision.by, now.owner) == (State.EXPIRED, (), None, None)
    assert await w.moves(request.id) == [(None, P), (P, State.EXPIRED)]
    assert w.ip.calls == []


@pytest.mark.parametrize("user", [APPROVER, VOICE1], ids=["of the settings only", "of another rule"])
async def test_an_approver_of_something_else_is_refused_with_the_rule_named(user: str) -> None:
    w = ruled()
    request = await wide(w)
    assert await w.requests.approve(request.id, user, CHANNEL) == Refused(request, not_approver("approve", WIDE))
    recorded = await first_approval(w, request)
    assert await w.requests.approve(request.id, user, CHANNEL) == Refused(recorded, not_approver("approve", WIDE))
    number = await w.request(w.numbers.entries["n1"])
    assert await w.requests.approve(number.id, SEC1, CHANNEL) == Refused(number, not_approver("approve", VOICE))
    assert (await w.state(request.id)).decision.approved_by == (SEC1,)
    assert w.ip.calls == [] and w.numbers.calls == []


# -- approvals at the same moment ------------------------------------------------------------------------


def outcomes(results: Iterable[Decided]) -> list[str]:
    return sorted(type(r).__name__ for r in results)


@pytest.mark.parametrize(
    ("first", "users", "landed"),
    [
        (True, (SEC2, SEC3), ["AlreadyResolved", "Resolved"]),
        (False, (SEC1, SEC2), ["ApprovalRecorded", "Resolved"]),
        (False, (SEC1, SEC1), ["ApprovalRecorded", "Refused"]),
    ],
    ids=["second approvals", "first approvals", "one approver's two clicks"],
)
async def test_two_approvals_at_once_carry_it_out_once_and_one_approvers_two_count_once(
    first: bool, users: tuple[str, str], landed: list[str]
) -> None:
    w = ruled()
    request = await wide(w)
    if first:
        await first_approval(w, request)
    results = await asyncio.gather(
        w.requests.approve(request.id, users[0], CHANNEL), w.process("bot-b").approve(request.id, users[1], CHANNEL)
    )
    assert outcomes(results) == landed
    now = await w.state(request.id)
    if users[0] == users[1]:
        assert [r.reason.why for r in results if isinstance(r, Refused)] == [Why.ALREADY_APPROVED]
        assert (now.state, now.decision.approved_by, w.ip.calls) == (P, (SEC1,), [])
    else:
        assert now.state is U and len(now.decision.approved_by) == 2 and now.decision.by == now.decision.approved_by[1]
        assert await w.moves(request.id) == [(None, P), (P, P), (P, X), (X, U)] and w.ip.called("remove") == [43]


@pytest.mark.parametrize(
    ("first", "user", "other", "landed"),
    [(True, SEC2, SEC3, ["Resolved", "AlreadyResolved"]), (False, SEC1, SEC2, ["ApprovalRecorded", "Resolved"])],
    ids=["a second approval: the claim lost", "a first approval: seen by the retry"],
)
async def test_an_approval_landing_between_anothers_read_and_its_write_sends_one_delete(
    first: bool, user: str, other: str, landed: list[str]
) -> None:
    w = ruled()
    request = await wide(w)
    if first:
        await first_approval(w, request)
    results: list[Decided] = []

    async def the_other_click_lands() -> None:
        results.append(await w.process("bot-b").approve(request.id, other, CHANNEL))

    w.store.before["transition"] = the_other_click_lands  # the click has read the request, not yet written
    results.append(await w.requests.approve(request.id, user, CHANNEL))
    assert [type(r).__name__ for r in results] == landed
    if first:  # the click that lost is told who decided
        lost = results[1]
        assert isinstance(lost, AlreadyResolved) and lost.request.decision.by == SEC3
    now = await w.state(request.id)
    approved_by = (SEC1, SEC3) if first else (SEC2, SEC1)
    assert (now.state, now.decision.approved_by, now.decision.by) == (U, approved_by, approved_by[1])
    assert w.ip.called("remove") == [43]


# -- which rule, which durations ------------------------------------------------------------------------------


async def test_the_strictest_rule_of_several_entries_decides_so_an_auto_rule_waits_for_one_needing_approval() -> None:
    w = ruled()
    result = await w.requests.open([w.ip.entries[44], w.ip.entries[42]], REQUESTER, CHANNEL, None, asked_in=None)
    assert isinstance(result, Opened) and result.decided is None and w.ip.calls == []
    assert (result.request.decision.rule, result.request.decision.auto, result.request.state) == (None, False, P)
    request = await w.request(w.ip.entries[43], w.numbers.entries["n1"])
    assert (request.decision.rule, request.decision.needed, request.decision.auto) == ("Wide networks", 2, False)
    assert w.policy.rule_for(request) == WIDE
    await first_approval(w, request)
    done = await w.requests.approve(request.id, SEC2, CHANNEL)
    assert isinstance(done, Resolved) and done.request.state is U
    assert (w.ip.called("remove"), w.numbers.called("remove")) == ([43], ["n1"])


async def test_approve_and_allow_takes_only_the_durations_of_the_rule() -> None:
    w = ruled()
    request = await wide(w)
    a_day = Action(Does.UNBLOCK_AND_ALLOW, 86400.0)  # offered by the settings, not by the rule
    assert await w.requests.approve(request.id, SEC1, CHANNEL, a_day) == Refused(request, NOT_ALLOWABLE)
    assert (await w.state(request.id)).decision.approved_by == ()
    recorded = await first_approval(w, request, action=ALLOW_HOUR)
    assert await w.requests.approve(request.id, SEC2, CHANNEL, a_day) == Refused(recorded, NOT_ALLOWABLE)
    done = await w.requests.approve(request.id, SEC2, CHANNEL, ALLOW_HOUR)
    assert isinstance(done, Resolved) and (done.request.state, done.request.done.action.allow_for) == (U, HOUR)
    assert w.ip.called("remove") == [43] and len(w.ip.called("allow")) == 1

    settings = await w.request(w.ip.entries[42])  # no rule: the settings' durations
    allowed = await w.requests.approve(settings.id, APPROVER, CHANNEL, a_day)
    assert isinstance(allowed, Resolved) and allowed.request.done.action.allow_for == a_day.allow_for


# -- approvals for different actions ----------------------------------------------------------------------------

#: the address asked for inside entry 43's network (Allow only is offered)
ASKED = "198.51.100.130"
APPROVE = Approval  # Approve: neither a duration nor Allow only
ALLOW_ONLY, UNBLOCK_AND_ALLOW = partial(Approval, action=ONLY_HOUR), partial(Approval, action=ALLOW_HOUR)


async def asked_inside(w: World) -> UnblockRequest:
    """A pending request for entry 43's network, asked for as one address inside it."""
    return await w.request(w.ip.entries[43], asked=ASKED)


@pytest.mark.parametrize("allow_only_first", [True, False], ids=["allow only first", "approve first"])
async def test_allow_only_and_approve_carry_out_allow_only_and_the_block_stays(allow_only_first: bool) -> None:
    w = ruled()
    request = await asked_inside(w)
    clicks = [(SEC1, True), (SEC2, False)] if allow_only_first else [(SEC1, False), (SEC2, True)]

    first = await w.requests.approve(request.id, clicks[0][0], CHANNEL, ONLY_HOUR if clicks[0][1] else UNBLOCK)
    assert isinstance(first, ApprovalRecorded) and w.ip.calls == []
    done = await w.requests.approve(request.id, clicks[1][0], CHANNEL, ONLY_HOUR if clicks[1][1] else UNBLOCK)

    assert isinstance(done, Resolved), done
    now = done.request
    assert (now.state, now.done.action, now.decision.by) == (U, ONLY_HOUR, SEC2)
    assert now.decision.approvals == tuple(ALLOW_ONLY(user) if only else APPROVE(user) for user, only in clicks)
    assert w.ip.called("remove") == []  # the network's block stays
    assert w.ip.called("allow") == [ASKED]


async def test_approve_and_allow_and_approve_carry_out_approve_without_an_allow_entry() -> None:
    w = ruled()
    request = await wide(w)
    assert isinstance(await w.requests.approve(request.id, SEC1, CHANNEL, ALLOW_HOUR), ApprovalRecorded)

    done = await w.requests.approve(request.id, SEC2, CHANNEL)

    assert isinstance(done, Resolved), done
    assert (done.request.state, done.request.done.action) == (U, UNBLOCK)
    assert done.request.decision.approvals == (UNBLOCK_AND_ALLOW(SEC1), APPROVE(SEC2))
    assert w.ip.called("remove") == [43] and w.ip.called("allow") == []


def test_approvals_agree_on_the_narrowest_action_once_there_are_enough() -> None:
    day = partial(Approval, action=Action(Does.UNBLOCK_AND_ALLOW, 86400.0))
    assert agreed((APPROVE(SEC1),), 2) is None
    assert agreed((APPROVE(SEC1), ALLOW_ONLY(SEC2)), 2) == ALLOW_ONLY(SEC2)
    assert agreed((day(SEC1), UNBLOCK_AND_ALLOW(SEC2)), 2) == UNBLOCK_AND_ALLOW(SEC2)  # the shorter allow
    assert agreed((day(SEC1), APPROVE(SEC2), ALLOW_ONLY(SEC3)), 3) == ALLOW_ONLY(SEC3)
    only_a_day = Approval(SEC1, Action(Does.ALLOW_ONLY, 86400.0))
    assert agreed((only_a_day, ALLOW_ONLY(SEC2)), 2) == ALLOW_ONLY(SEC2)
    assert agreed((only_a_day, APPROVE(SEC2)), 2) == only_a_day  # one address for a day is less than the network


# -- carried out by its rule ----------------------------------------------------------------------------------


async def test_an_auto_rules_request_is_carried_out_at_open_and_an_approver_may_undo_it() -> None:
    w = ruled()
    cards = w.cards
    result = await w.requests.open([w.ip.entries[44]], REQUESTER, CHANNEL, "branch VPN", asked_in=None)
    assert isinstance(result, Opened) and isinstance(result.decided, Resolved)
    assert [r.state for r in cards.shown] == [P]  # the card was shown before it was carried out
    done = result.decided.request
    assert (done.state, done.decision.rule, done.decision.auto, done.decision.by) == (U, "Branch offices", True, None)
    assert done.decision.approvals == ()
    assert await w.moves(done.id) == [(None, P), (P, X), (X, U)]
    assert w.ip.called("remove") == [44]

    undone = await w.requests.undo(done.id, APPROVER, CHANNEL)
    assert isinstance(undone, Resolved)
    assert (undone.request.state, undone.request.done.undone_by) == (State.UNDONE, APPROVER)
    assert w.ip.called("restore") == [44]


async def test_an_auto_request_a_stopped_process_opened_but_never_claimed_is_carried_out_by_recovery() -> None:
    w = ruled()
    # opened; the process stopped before claiming it
    opened = await w.requests.show_new([w.ip.entries[44]], REQUESTER, CHANNEL, None, asked_in=None)
    assert isinstance(opened, Opened)
    left = opened.request
    assert left.decision.auto and left.state is P
    assert (await w.requests.upkeep()).finished == []  # not yet: its opener may be claiming it now
    assert w.ip.called("remove") == []

    w.clock.advance(TIMING.takeover_after + 1)
    upkept = await w.requests.upkeep()
    assert [(r.id, r.state, r.decision.by) for r in upkept.finished] == [(left.id, U, None)]
    assert w.ip.called("remove") == [44]
    assert (await w.requests.upkeep()).finished == []  # once
    assert w.ip.called("remove") == [44]


async def test_recovery_leaves_a_pending_request_needing_approval_to_its_approvers() -> None:
    w = ruled()
    request = await wide(w)
    w.clock.advance(TIMING.takeover_after + 1)
    assert (await w.requests.upkeep()).finished == []
    assert (await w.state(request.id)).state is P and w.ip.called("remove") == []
    w = world(rules=[WIDE, VOICE])  # no rule carries out at once
    await w.request(w.ip.entries[43])
    w.clock.advance(TIMING.takeover_after + 1)
    assert (await w.requests.upkeep()).finished == []
    assert w.store.calls["waiting"] == 0  # not even asked
