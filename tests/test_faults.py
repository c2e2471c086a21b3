"""Faults in 3CX and in Slack: every request ends in a defined state, the card says what happened in
plain words, the record keeps 3CX's answer, one request never deletes twice, and the bot lives on."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from bot.domain.model import State, UnblockRequest
from bot.slack.buttons import APPROVE

from .conftest import MakeHarness
from .harness import ALICE, BOB, CAROL, FAST_RETRY, GENERAL, Harness, block_text, buttons

HTML = b"<html><body><h1>502 Bad Gateway</h1></body></html>"


async def approve(harness: Harness, request: UnblockRequest, user: str = BOB) -> UnblockRequest:
    await harness.click(APPROVE, request, user=user)
    await harness.settle()
    return await harness.stored(request)


async def still_works(harness: Harness) -> None:
    """After the fault, an ordinary request goes through: the bot lives on."""
    harness.pbx.delay = 0
    harness.pbx.clear_faults()
    harness.pbx.add_entry(99, "192.0.2.99")
    request = await harness.open_card("99")
    assert (await approve(harness, request)).state is State.UNBLOCKED


async def executions(harness: Harness, request: UnblockRequest) -> int:
    assert harness.bot is not None
    return sum(t.to_state is State.EXECUTING for t in await harness.bot.store.transitions(request.id))


# 3CX ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [502, 503, 504])
async def test_3cx_failing_then_recovering_is_retried_to_success(harness: Harness, status: int) -> None:
    request = await harness.open_card()
    harness.pbx.fail_next(status, times=2, method="DELETE")

    stored = await approve(harness, request)

    assert stored.state is State.UNBLOCKED and stored.results[0].answer == "HTTP 204"
    assert len(harness.pbx.calls("DELETE")) == 3  # the same DELETE, retried as the policy allows
    assert await executions(harness, request) == 1
    assert "and it is unblocked" in block_text(harness.cards()[0].blocks)


@pytest.mark.parametrize(
    ("fault", "kind", "card_says"),
    [
        ("500", "unavailable", "was unavailable or did not answer in time"),
        ("503 for good", "unavailable", "was unavailable or did not answer in time"),
        ("timeout", "unavailable", "was unavailable or did not answer in time"),
        ("html", "unavailable", "was unavailable or did not answer in time"),
        ("garbage 400", "other", "3CX refused to remove it"),
    ],
)
async def test_3cx_failing_for_good_ends_the_request_as_failed(
    make_harness: MakeHarness, fault: str, kind: str, card_says: str
) -> None:
    # a DELETE that may have reached 3CX is looked at again once a call must have ended: a short retry budget
    harness = await make_harness(THREECX_TIMEOUT="0.3", retry=replace(FAST_RETRY, budget=1.0))
    request = await harness.open_card()
    if fault == "500":
        harness.pbx.fail_next(500, method="DELETE")
    elif fault == "503 for good":
        harness.pbx.fail_next(503, times=100, method="DELETE")
    elif fault == "timeout":
        harness.pbx.delay = 1.0
    elif fault == "html":
        harness.pbx.fail_next(502, times=100, method="DELETE", body=HTML, content_type="text/html")
    else:
        harness.pbx.fail_next(400, method="DELETE", body=b"\x00\xff not json", content_type="application/json")

    stored = await approve(harness, request)

    assert (stored.state, stored.outcome) == (State.FAILED, kind)
    assert stored.results[0].answer  # 3CX's answer (or its silence) is on record
    assert card_says in block_text(harness.cards()[0].blocks)
    assert await executions(harness, request) == 1
    assert len(harness.pbx.calls("DELETE")) <= 3  # bounded
    await still_works(harness)


async def test_3cx_closing_the_connection_mid_answer(harness: Harness) -> None:
    request = await harness.open_card()
    harness.pbx.drop_next(times=2, method="DELETE")

    stored = await approve(harness, request)

    assert stored.state is State.UNBLOCKED
    assert 42 not in harness.pbx.entries


async def test_3cx_rate_limiting_with_retry_after(harness: Harness) -> None:
    request = await harness.open_card()
    harness.pbx.fail_next(429, times=1, method="DELETE", retry_after="0.2")

    stored = await approve(harness, request)

    assert stored.state is State.UNBLOCKED
    assert len(harness.pbx.calls("DELETE")) == 2


@pytest.mark.parametrize(("status", "says"), [(401, "3CX rejected the bot's login"), (500, "was unavailable")])
async def test_the_token_endpoint_failing(harness: Harness, status: int, says: str) -> None:
    harness.pbx.token_status = status

    _, response_url = await harness.command("42")
    await harness.settle()

    [note] = harness.notes(response_url)
    assert says in note and "Nothing was requested" in note
    assert harness.cards() == []
    harness.pbx.token_status = None
    await still_works(harness)


async def test_the_token_expiring_in_the_middle_of_a_batch(harness: Harness) -> None:
    for n in range(100, 120):
        harness.pbx.add_entry(n, f"192.0.2.{n - 99}")
    requests = [await harness.open_card(str(n)) for n in range(100, 120)]
    harness.pbx.delay = 0.1

    async def expire_midway() -> None:
        await asyncio.sleep(0.05)
        harness.pbx.expire_tokens()

    await asyncio.gather(expire_midway(), *(harness.click(APPROVE, r, user=BOB) for r in requests))
    await harness.settle()

    states = [(await harness.stored(r)).state for r in requests]
    assert states == [State.UNBLOCKED] * 20
    assert harness.pbx.token_requests == 2  # one at the start, one shared renewal
    assert len({r.path for r in harness.pbx.calls("DELETE")}) == 20


# Slack -----------------------------------------------------------------------------------------------------


async def test_slack_rate_limiting_is_waited_out(harness: Harness) -> None:
    harness.slack.rate_limit_next("chat.postMessage", retry_after=0)
    harness.slack.rate_limit_next("chat.update", times=2, retry_after=0)

    request = await harness.open_card()
    stored = await approve(harness, request)

    assert stored.state is State.UNBLOCKED
    # the card: refused once, then posted; then the requester's direct message
    assert [c.args["channel"] for c in harness.slack.calls_to("chat.postMessage")] == [GENERAL, GENERAL, ALICE]
    assert "and it is unblocked" in block_text(harness.cards()[0].blocks)


@pytest.mark.parametrize("error", ["not_in_channel", "channel_not_found"])
async def test_a_channel_the_bot_cannot_post_in_gets_the_card_through_the_response_url(
    harness: Harness, error: str
) -> None:
    harness.slack.fail_next("chat.postMessage", error)

    _, response_url = await harness.command("42")
    await harness.settle()

    [post] = harness.slack.posts_to(response_url)
    assert post.body["response_type"] == "in_channel" and buttons(post.body["blocks"])


async def test_when_the_card_cannot_be_posted_the_requester_is_told(harness: Harness) -> None:
    harness.slack.fail_next("chat.postMessage", "internal_error", times=10)

    _, response_url = await harness.command("42")
    await harness.settle()

    [note] = harness.notes(response_url)
    assert "could not post the request" in note and "internal_error" in note
    assert harness.cards() == []


async def test_when_the_card_cannot_be_edited_the_click_reply_url_is_used(harness: Harness) -> None:
    request = await harness.open_card()
    harness.slack.fail_next("chat.update", "internal_error", times=10)

    _, click_url = await harness.click(APPROVE, request, user=BOB)
    await harness.settle()

    assert (await harness.stored(request)).state is State.UNBLOCKED
    final = harness.slack.posts_to(click_url)[-1].body
    assert final["replace_original"] is True and "and it is unblocked" in block_text(final["blocks"])


async def test_slack_unreachable_does_not_lose_the_decision(make_harness: MakeHarness, unused_tcp_port: int) -> None:
    harness = await make_harness()
    request = await harness.open_card()
    await harness.stop()
    harness.env["SLACK_API_URL"] = f"http://127.0.0.1:{unused_tcp_port}/api/"
    harness.env["SLACK_TEAM_ID"] = harness.slack.team_id  # so that it starts without asking Slack
    await harness.start()

    _, click_url = await harness.click(APPROVE, request, user=CAROL)
    await harness.settle()

    stored = await harness.stored(request)
    assert stored.state is State.UNBLOCKED and stored.resolved_by == CAROL
    assert len(harness.pbx.calls("DELETE")) == 1
    # the card could not be edited through the Web API; the click's reply URL still worked
    assert "and it is unblocked" in block_text(harness.slack.posts_to(click_url)[-1].body["blocks"])
