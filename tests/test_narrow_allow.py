"""Approve and allow only for a single address or a narrow network: one click never lets a wide range in."""

from __future__ import annotations

import pytest

from bot.domain.model import State
from bot.slack.buttons import APPROVE_ALLOW, AllowButton
from bot.slack.views.refusals import NOT_ALLOWABLE

from .harness import BOB, Harness, allow_row, block_text

HOUR = 3600


@pytest.mark.parametrize(
    ("network", "covers"),
    [
        ("198.18.0.0/15", "131,072 addresses"),
        ("10.0.0.0/16", "65,536 addresses"),
        ("0.0.0.0/0", "4,294,967,296 addresses"),
        ("2001:db8::/48", "2^80 addresses"),
    ],
)
async def test_a_wide_network_gets_no_approve_and_allow_and_says_how_many_addresses(
    harness: Harness, network: str, covers: str
) -> None:
    harness.pbx.add_entry(60, network)

    await harness.open_card("60")

    [card] = harness.cards()
    assert allow_row(card.blocks) == []
    text = block_text(card.blocks)
    assert f"*Covers*\n{covers}" in text
    assert "Approve and allow is offered only for one address or a network up to /24 (IPv6: /64)." in text


@pytest.mark.parametrize("network", ["198.18.0.0/15", "0.0.0.0/0", "203.0.112.0/23", "2001:db8::/63"])
async def test_a_forged_approve_and_allow_for_a_wide_network_is_refused_and_3cx_receives_nothing(
    harness: Harness, network: str
) -> None:
    harness.pbx.add_entry(60, network)
    request = await harness.open_card("60")
    harness.pbx.reset_log()

    # a value made exactly like the bot's own button, for a duration the bot offers
    forged = AllowButton(request.id, HOUR).encode()
    _, response_url = await harness.click(APPROVE_ALLOW, request, user=BOB, value=forged)
    await harness.settle()

    assert harness.pbx.calls("POST") == [] and harness.pbx.calls("DELETE") == []
    assert 60 in harness.pbx.entries
    assert harness.notes(response_url) == [NOT_ALLOWABLE]  # privately, to the one who clicked
    assert (await harness.stored(request)).state is State.PENDING
    assert allow_row(harness.cards()[0].blocks) == []  # the card is as it was


@pytest.mark.parametrize("address", ["203.0.113.0/24", "203.0.113.7", "2001:db8:1:2::/64", "2001:db8::1"])
async def test_a_single_address_or_a_narrow_network_still_gets_approve_and_allow(
    harness: Harness, address: str
) -> None:
    harness.pbx.add_entry(60, address)
    request = await harness.open_card("60")

    _, allow = allow_row(harness.cards()[0].blocks)
    assert allow["action_id"] == APPROVE_ALLOW and allow["value"] == AllowButton(request.id, HOUR).encode()

    await harness.click(APPROVE_ALLOW, request, user=BOB, value=allow["value"])
    await harness.settle()

    done = await harness.stored(request)
    assert done.state is State.UNBLOCKED and done.results[0].allow_id is not None
    [post] = harness.pbx.calls("POST", "/xapi/v1/Blocklist")
    assert post.json is not None and post.json["IPAddrMask"] == address and post.json["BlockType"] == "Allow"
