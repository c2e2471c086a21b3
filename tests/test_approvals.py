"""Approvals in one place (``UNBLOCK_APPROVAL_CHANNEL``), and the requester told how their request ended."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from bot.domain.model import State, UnblockRequest

from .conftest import MakeHarness
from .fakes.slack import permalink
from .harness import ALICE, APPROVE, BOB, CANCEL, CAROL, DENY, GENERAL, UNDO, Harness, block_text, wait_for

APPROVALS = "C0APPROVALS"


def texts(harness: Harness, channel: str) -> list[str]:
    """What each message in ``channel`` (or, for a user id, in the bot's direct messages to them) says."""
    return [block_text(m.blocks) for m in harness.cards(channel)]


async def ask_in_general(harness: Harness, text: str = "42 the lobby phone") -> tuple[UnblockRequest, str]:
    """``/unblock`` typed in #general: the request (its card is in the approvals channel) and the reply URL."""
    reply, response_url = await harness.command(text, channel=GENERAL)
    assert reply.status == 200
    await harness.settle()
    [card] = harness.cards(APPROVALS)
    return await harness.request_for(card), response_url


async def test_the_card_goes_to_the_approvals_channel_and_the_requester_gets_a_link(make_harness: MakeHarness) -> None:
    harness = await make_harness(UNBLOCK_APPROVAL_CHANNEL=APPROVALS)
    harness.slack.not_in_channel.add(APPROVALS)  # until the bot is invited there: nothing is left pending
    reply, response_url = await harness.command("42")
    await harness.settle()
    assert reply.status == 200
    assert "could not post the request in this channel (Slack said: not_in_channel)" in harness.notes(response_url)[-1]
    assert harness.cards(GENERAL) == [] and harness.pbx.calls("DELETE") == []
    harness.slack.not_in_channel.discard(APPROVALS)

    request, response_url = await ask_in_general(harness)

    assert harness.cards(GENERAL) == []
    [card] = texts(harness, APPROVALS)
    assert "<@UALICE> asks to unblock 203.0.113.7* in <#C0GENERAL>" in card
    assert "*Reason:* the lobby phone" in card
    assert (request.asked.channel, request.asked.elsewhere) == (APPROVALS, GENERAL)
    ts = await harness.card_ts(request)
    assert ts is not None
    link = permalink(APPROVALS, ts)
    assert harness.notes(response_url)[-1] == (
        f"Your request to unblock `203.0.113.7` is waiting for approval in <#C0APPROVALS> (<{link}|see the card>). "
        "You will be told the outcome."
    )
    assert harness.pbx.calls("DELETE") == []


async def test_a_decision_in_the_approvals_channel_tells_the_requester_and_the_channel_once(
    make_harness: MakeHarness,
) -> None:
    harness = await make_harness(UNBLOCK_APPROVAL_CHANNEL=APPROVALS)
    request, _ = await ask_in_general(harness)

    await harness.click(APPROVE, request, user=BOB)
    await harness.settle()

    assert [r.path for r in harness.pbx.calls("DELETE")] == ["/xapi/v1/Blocklist(42)"]
    [card] = texts(harness, APPROVALS)
    assert "Request to unblock 203.0.113.7 was approved by <@UBOB>, and it is unblocked.*" in card
    assert "Reason: the lobby phone" in card  # the reason stays on the record
    link = permalink(APPROVALS, str(await harness.card_ts(request)))
    [direct] = texts(harness, ALICE)
    assert "*Your request to unblock 203.0.113.7 was approved by <@UBOB>, and it is unblocked.*" in direct
    assert f"<{link}|See the request>" in direct and "<@UALICE>" not in direct  # not "requested by" herself
    [line] = texts(harness, GENERAL)
    assert (
        "Request to unblock 203.0.113.7 was approved by <@UBOB>, and it is unblocked.*" in line
        and f"<{link}|See the request>" in line
    )
    assert "<@UALICE>" not in line  # she has her direct message: the channel's line does not notify her again
    _, response_url = await harness.command("history", user=CAROL + "X", channel=GENERAL)
    await harness.settle()
    assert f"`{request.id}`" in harness.shown(response_url)[-1]  # the channel's history shows it


async def test_the_channel_where_it_was_asked_mentions_the_requester_only_when_it_is_their_one_notice(
    make_harness: MakeHarness,
) -> None:
    harness = await make_harness(UNBLOCK_APPROVAL_CHANNEL=APPROVALS, UNBLOCK_NOTIFY_REQUESTER="false")
    await harness.command("42", channel=GENERAL)
    await harness.settle()
    request = await harness.request_for(harness.cards(APPROVALS)[0])

    await harness.click(DENY, request, user=BOB)
    await harness.settle()

    assert harness.cards(ALICE) == []  # no direct message
    [line] = harness.cards(GENERAL)
    assert "Request to unblock 203.0.113.7 was denied by <@UBOB>.* Requested by <@UALICE>." in block_text(line.blocks)


# the requester told, also without an approvals channel -----------------------------------------------


async def _deny(harness: Harness, request: UnblockRequest) -> None:
    await harness.click(DENY, request, user=BOB)


async def _approve(harness: Harness, request: UnblockRequest) -> None:
    await harness.click(APPROVE, request, user=BOB)


async def _fail(harness: Harness, request: UnblockRequest) -> None:
    harness.pbx.fail_next(403, method="DELETE")
    await harness.click(APPROVE, request, user=BOB)


async def _expire(harness: Harness, request: UnblockRequest) -> None:
    harness.clock.advance(3600)
    assert harness.bot is not None
    await harness.bot.served[0].sweeper.tick()


async def _undo(harness: Harness, request: UnblockRequest) -> None:
    await harness.click(APPROVE, request, user=BOB)
    await harness.settle()
    await harness.click(UNDO, request, user=CAROL)


@pytest.mark.parametrize(
    ("act", "state", "said"),
    [
        (
            _approve,
            State.UNBLOCKED,
            "Your request to unblock 203.0.113.7 was approved by <@UBOB>, and it is unblocked.",
        ),
        (
            _fail,
            State.FAILED,
            "Your request to unblock 203.0.113.7 was approved by <@UBOB>, but it could not be "
            "unblocked.* 3CX did not give the bot the right to do this",
        ),
        (_deny, State.DENIED, "Your request to unblock 203.0.113.7 was denied by <@UBOB>.*"),
        (_expire, State.EXPIRED, "Your request to unblock 203.0.113.7 expired without approval.*"),
        (_undo, State.UNDONE, "Your request to unblock 203.0.113.7 was undone by <@UCAROL>: it is blocked again.*"),
    ],
    ids=["unblocked", "failed", "denied", "expired", "undone"],
)
async def test_the_requester_gets_one_direct_message_for_each_outcome(
    harness: Harness, act: Callable[[Harness, UnblockRequest], Awaitable[None]], state: State, said: str
) -> None:
    request = await harness.open_card()

    await act(harness, request)
    await harness.settle()

    assert (await harness.stored(request)).state is state
    *_, last = texts(harness, ALICE)
    assert said in last and f"<{permalink(GENERAL, str(await harness.card_ts(request)))}|See the request>" in last
    # in the second person: she is not mentioned, and the notification says it as the message does
    assert "<@UALICE>" not in last and harness.cards(ALICE)[-1].text.startswith("Your request to unblock 203.0.113.7")
    assert len(texts(harness, ALICE)) == (2 if state is State.UNDONE else 1)  # the unblock, then its undo
    assert len(harness.cards(GENERAL)) == 1  # no extra line where the card already is


async def test_no_direct_message_for_what_the_requester_did_themselves(harness: Harness) -> None:
    request = await harness.open_card()  # (none when turned off: the test of the channel's line above)

    await harness.click(CANCEL, request, user=ALICE)
    await harness.settle()

    assert (await harness.stored(request)).state is State.CANCELLED and harness.cards(ALICE) == []


async def test_a_direct_message_waits_out_slacks_rate_limit(harness: Harness) -> None:
    request = await harness.open_card()
    harness.slack.rate_limit_next("chat.postMessage", times=2, retry_after=0)

    await harness.click(DENY, request, user=BOB)
    await harness.settle()

    assert len(texts(harness, ALICE)) == 1


async def test_a_stop_lets_the_upkeep_under_way_tell_the_requester(make_harness: MakeHarness) -> None:
    harness = await make_harness(UNBLOCK_REQUEST_TTL="10")
    await harness.open_card()
    harness.slack.rate_limit_next("chat.update", retry_after=1)  # the expired card waits 1 s for Slack
    harness.clock.advance(60)

    # the sweeper's next round expires the request, and is showing it when the bot is told to stop
    await wait_for(lambda: harness.slack.calls_to("chat.update"), what="the sweeper's card update")
    await harness.stop()

    assert "expired" in texts(harness, ALICE)[0] and "expired" in block_text(harness.cards()[0].blocks)
