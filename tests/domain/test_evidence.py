"""What 3CX knows about a request's address is asked for when the request is made, kept with it, and never holds
it up: a part 3CX refuses or is slow to tell is left out."""

from __future__ import annotations

from bot.domain.evidence import KEPT, Evidence, Logged, Phone, Thresholds
from bot.domain.model import WATCHER
from bot.domain.outcomes import Outcome

from .fakes import CHANNEL, Failed, blocked_address, blocked_number, world

FAILED_AUTH = Logged(1_800_000_000.0, "Failed authentication for extension 104 from 203.0.113.7", True, "104")
ALICE_PHONE = Phone("104", "Alice Smith", "Yealink T54W")


async def test_a_request_about_an_address_keeps_what_3cx_logged_its_phones_and_thresholds() -> None:
    w = world()
    w.evidence.logged_at["203.0.113.7"] = (FAILED_AUTH,)
    w.evidence.phones_at["203.0.113.7"] = (ALICE_PHONE,)

    request = await w.request(w.ip.entries[42])

    assert request.what.evidence == Evidence((FAILED_AUTH,), (ALICE_PHONE,), Thresholds(5, 86400.0))
    assert (await w.state(request.id)).what.evidence == request.what.evidence
    asked = [("logged", "203.0.113.7"), ("phones", "203.0.113.7"), ("thresholds", None)]
    assert sorted(w.evidence.asked, key=str) == asked


async def test_the_address_asked_for_inside_a_blocked_network_is_the_one_asked_about() -> None:
    w = world()

    await w.request(w.ip.entries[43], asked="198.51.100.9")

    assert ("logged", "198.51.100.9") in w.evidence.asked and ("phones", "198.51.100.9") in w.evidence.asked


async def test_a_part_3cx_refuses_or_does_not_tell_in_time_is_left_out_and_the_request_is_made() -> None:
    w = world()
    w.evidence.phones_at["203.0.113.7"] = (ALICE_PHONE,)
    w.evidence.failing["logged"] = Failed(Outcome.FORBIDDEN, "no role for the event log", status=403)
    w.evidence.silent.add("thresholds")

    request = await w.request(w.ip.entries[42])

    assert request.what.evidence == Evidence(None, (ALICE_PHONE,), None)
    assert len(w.cards.shown) == 1
    # nor does a fault of the bot's own in reading it stop a request
    w.evidence.failing["phones"] = ValueError("an answer no one expected")
    other = await w.request(w.ip.entries[43])
    assert other.what.evidence == Evidence(None, None, None) and len(w.cards.shown) == 2


async def test_the_thresholds_are_kept_ten_minutes_and_a_part_3cx_refuses_is_not_asked_for_meanwhile() -> None:
    w = world()
    w.evidence.failing["phones"] = Failed(Outcome.FORBIDDEN, "no role for the phones", status=403)
    await w.request(w.ip.entries[42])
    w.evidence.limits = Thresholds(10, 3600.0)  # changed in 3CX: seen once the kept ones are old

    w.clock.advance(KEPT - 1)
    sooner = await w.request(w.ip.entries[43])
    w.clock.advance(1)
    del w.evidence.failing["phones"]
    later = await w.request(blocked_address(44, "192.0.2.4"))

    asked = [part for part, _ in w.evidence.asked]
    assert (asked.count("thresholds"), asked.count("phones"), asked.count("logged")) == (2, 2, 3)
    assert sooner.what.evidence == Evidence((), None, Thresholds(5, 86400.0))
    assert later.what.evidence == Evidence((), (), Thresholds(10, 3600.0))


async def test_nothing_is_asked_for_a_caller_number_several_entries_or_the_watchers_own_request() -> None:
    w = world()

    await w.request(blocked_number("n1", "+15550100"))
    await w.request(blocked_address(50, "192.0.2.1"), blocked_address(51, "192.0.2.2"))
    await w.requests.show_new([blocked_address(52, "192.0.2.3")], WATCHER, CHANNEL, None, asked_in=None)

    assert w.evidence.asked == []


def test_the_extension_to_fix_is_the_one_a_failed_authentication_names_or_the_one_phone_there() -> None:
    unnamed = Logged(None, "Failed authentication from 203.0.113.7", True)
    other = Logged(None, "Call from 203.0.113.7 rejected", False, "200")

    assert Evidence((unnamed, FAILED_AUTH)).extension == "104"
    assert Evidence((unnamed,), (ALICE_PHONE,)).extension == "104"
    assert Evidence((unnamed,), (ALICE_PHONE, Phone("105"))).extension is None
    assert Evidence((other,), (ALICE_PHONE,)).extension is None  # nothing failed to authenticate
    assert Evidence(None, (ALICE_PHONE,)).extension is None
