"""The signatures of signed requests remembered to refuse one sent again (``bot.slack.replays``): each at least for
the window in which a signature is valid, whatever else arrives, then let go; a flood bounded."""

from __future__ import annotations

from bot.slack.replays import WINDOW, Replays


class Clock:
    now = 1000.0

    def __call__(self) -> float:
        return self.now


def signature(n: int) -> str:
    return f"v0={n:064x}"


def test_a_signature_is_refused_again_for_the_whole_window_whatever_comes_meanwhile() -> None:
    clock = Clock()
    replays = Replays(clock=clock)
    assert replays.first(signature(0))
    for n in range(1, int(WINDOW)):  # one new signature a second
        clock.now += 1.0
        assert replays.first(signature(n)) and not replays.first(signature(0))
    for n in range(int(WINDOW), int(3 * WINDOW)):  # older than the window, it is let go
        clock.now += 1.0
        replays.first(signature(n))
    assert replays.first(signature(0))


def test_each_of_a_burst_is_remembered_a_window_after_it_came_whenever_that_was() -> None:
    clock = Clock()
    replays = Replays(clock=clock)
    replays.first(signature(0))
    clock.now += WINDOW - 1
    assert replays.first(signature(1))  # just before the generations change
    clock.now += 2
    assert replays.first(signature(2))  # they change: the first two are in the older one
    clock.now += WINDOW - 2

    assert not replays.first(signature(1)) and not replays.first(signature(2))


def test_a_flood_keeps_at_most_the_limit() -> None:
    replays = Replays(limit=1000, clock=Clock())
    for n in range(10_000):
        assert replays.first(signature(n))
        assert len(replays) <= 1000
    assert not replays.first(signature(9_999))
