"""What only the Slack side keeps, against the in-memory store: a delivery handled once, forgotten after a day,
and a chooser's offer kept for its buttons."""

from __future__ import annotations

from bot.domain.entries import Kind
from bot.slack.state import DELIVERY_MEMORY, Offer, Remembered

from .domain.fakes import FakeClock, MemoryStore


async def test_a_slack_delivery_is_handled_once() -> None:
    store, clock = MemoryStore(), FakeClock()
    one, other = Remembered(store, clock), Remembered(store, clock)
    assert await one.first_delivery("command:abc") is True
    assert await one.first_delivery("command:abc") is False
    assert await other.first_delivery("command:abc") is False
    assert await other.first_delivery("command:def") is True


async def test_a_delivery_is_forgotten_after_a_day() -> None:
    clock = FakeClock()
    remembered = Remembered(MemoryStore(), clock)
    assert await remembered.first_delivery("command:abc") is True
    clock.advance(DELIVERY_MEMORY + 1)
    await remembered.forget_old()
    assert await remembered.first_delivery("command:abc") is True


async def test_an_offer_is_kept_for_its_buttons_until_forgotten() -> None:
    clock = FakeClock()
    remembered = Remembered(MemoryStore(), clock)
    offer = await remembered.offer(Kind.NUMBER, ["n1", "n2"], "spam", "CHELP", "UALICE")
    assert await remembered.offered(offer.id) == offer == Offer(offer.id, Kind.NUMBER, ("n1", "n2"), "spam", "CHELP",
                                                                "UALICE")  # fmt: skip
    clock.advance(DELIVERY_MEMORY + 1)
    await remembered.forget_old()
    assert await remembered.offered(offer.id) is None
