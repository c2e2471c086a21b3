"""Outcomes: a failed call's reason is an outcome of the same name (``Outcome.of``)."""

from __future__ import annotations

from bot.domain.entries import Reason
from bot.domain.outcomes import Outcome


def test_every_reason_a_call_fails_for_is_an_outcome() -> None:
    assert {reason.value for reason in Reason} <= {outcome.value for outcome in Outcome}
