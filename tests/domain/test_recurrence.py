"""What keeps coming back: the earlier unblocks of the same address, network or caller number, as the service
reads them from the store (one read) and finds them for new entries (3CX gives an entry a new Id when it is
added again, so never by Id)."""

from __future__ import annotations

from dataclasses import replace

from bot.domain.actions import Action, Does
from bot.domain.entries import BlockedNumber, Target
from bot.domain.model import State, UnblockRequest
from bot.domain.recurrence import WINDOW, address_key, key
from bot.domain.results import Opened, Resolved
from bot.domain.rules import Rule

from .fakes import APPROVER, CHANNEL, GROUP_MEMBER, REQUESTER, World, blocked_address, blocked_number, world

DAY = 86400.0


async def unblocked(w: World, target: Target, approver: str = APPROVER) -> UnblockRequest:
    """A request for ``target`` (put on its list, with the Id it has), approved and carried out."""
    if isinstance(target, BlockedNumber):
        w.numbers.put(target)
    else:
        w.ip.put(target)
    request = await w.request(target)
    result = await w.requests.approve(request.id, approver, CHANNEL)
    assert isinstance(result, Resolved) and result.request.state is State.UNBLOCKED, result
    return result.request


async def test_only_the_unblocks_of_the_last_30_days_count_with_the_last_ones_date_and_approver() -> None:
    w = world()
    await unblocked(w, blocked_address(100, "203.0.113.7"))  # 40 days before: too long ago
    w.clock.advance(15 * DAY)
    first = await unblocked(w, blocked_address(101, "203.0.113.7"))
    w.clock.advance(20 * DAY)
    last = await unblocked(w, blocked_address(102, "203.0.113.7"), approver=GROUP_MEMBER)
    await unblocked(w, blocked_address(103, "203.0.113.8"))  # another address
    denied = await w.request(blocked_address(105, "203.0.113.7"))
    await w.requests.deny(denied.id, APPROVER, CHANNEL)
    await w.request(blocked_address(106, "203.0.113.7"))  # still waiting
    w.clock.advance(5 * DAY)

    found = (await w.requests.reads.unblocks(w.clock(), "")).of([blocked_address(104, "203.0.113.7")])

    assert found is not None
    assert found.count == 2
    assert found.last.id == last.id and found.last.id != first.id
    assert found.last.decision.by == GROUP_MEMBER
    assert found.last_at == w.clock() - 5 * DAY
    assert w.store.calls["unblocked_since"] == 1  # one read of the store


async def test_an_earlier_unblock_is_of_the_same_network_or_number_however_written_never_of_an_address_inside() -> None:
    w = world()
    await unblocked(w, blocked_address(100, "203.0.113.0/24"))
    await unblocked(w, blocked_number("n7", "+15550177"))
    unblocks = await w.requests.reads.unblocks(w.clock(), "")

    assert unblocks.of([blocked_address(101, "203.0.113.7")]) is None
    assert unblocks.of([blocked_address(102, "203.0.113.0/255.255.255.0")]) is not None  # the same network
    assert unblocks.of([blocked_address(103, "203.0.113.5/24")]) is not None  # written with host bits
    found = unblocks.of([blocked_number("n8", "15550177")])  # without its plus
    assert found is not None and found.count == 1


def test_an_address_or_a_number_is_the_same_however_it_is_written() -> None:
    assert address_key("203.0.113.7") == address_key(" 203.0.113.7/32 ") == address_key("203.0.113.7/255.255.255.255")
    assert address_key("2001:db8::1") == address_key("2001:DB8:0::1/128")
    assert address_key("203.0.113.0/24") != address_key("203.0.113.7")
    assert address_key("not an address") == address_key(" NOT an address") and address_key(" ") is None
    assert key(blocked_number("a", "+1 (555) 0177")) == key(blocked_number("b", "15550177"))
    assert key(blocked_number("c", "no digits")) is None


async def test_neither_the_request_asking_now_nor_an_unblock_after_the_moment_asked_about_is_earlier() -> None:
    w = world()
    asked_at = w.clock()
    w.clock.advance(60)
    done = await unblocked(w, blocked_address(100, "203.0.113.7"))
    unblocks = await w.requests.reads.unblocks(w.clock(), "")

    assert unblocks.of(done.what.targets, besides=done.id) is None
    assert unblocks.of(done.what.targets) is not None
    assert (await w.requests.reads.unblocks(asked_at, "")).of([blocked_address(101, "203.0.113.7")]) is None
    assert WINDOW == 30 * DAY


async def test_an_unblock_carried_out_by_its_rule_counts_and_names_no_approver() -> None:
    w = world(rules=[Rule(name="Branch offices", auto=True)])
    w.ip.put(blocked_address(100, "203.0.113.7"))
    opened = await w.requests.open([w.ip.entries[100]], REQUESTER, CHANNEL, None, asked_in=None)
    assert isinstance(opened, Opened) and isinstance(opened.decided, Resolved), opened

    found = (await w.requests.reads.unblocks(w.clock(), "")).of([blocked_address(101, "203.0.113.7")])

    assert found is not None and found.count == 1
    assert found.last.decision.auto and found.last.decision.by is None and found.last.decision.rule == "Branch offices"


async def test_allow_only_counts_for_the_address_it_let_in_not_the_network() -> None:
    w = world()
    network = blocked_address(100, "203.0.113.0/24")
    unblocked_network = await unblocked(w, network)
    done = replace(  # what Allow only keeps
        unblocked_network,
        what=replace(unblocked_network.what, address="203.0.113.7"),
        done=replace(unblocked_network.done, action=Action(Does.ALLOW_ONLY, 3600)),
    )
    unblocks = replace(await w.requests.reads.unblocks(w.clock(), ""), requests=(done,))

    assert unblocks.of([blocked_address(101, "203.0.113.7")]) is not None
    assert unblocks.of([blocked_address(102, "203.0.113.0/24")]) is None
