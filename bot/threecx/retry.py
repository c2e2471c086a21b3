"""When a failed call to 3CX is tried again, and how long the bot waits before it does."""

from __future__ import annotations

import random
from dataclasses import dataclass

#: 3CX's answers that say "not now" rather than "no"
RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How transient failures are retried: ``attempts`` tries in all, within ``budget`` seconds."""

    attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 8.0
    budget: float = 30.0

    def delay(self, attempt: int, retry_after: str | None) -> float:
        """Pause before try ``attempt + 1``: the seconds of a ``Retry-After`` header when given, else full jitter
        backoff (for an HTTP date too)."""
        try:
            return max(0.0, float(retry_after or ""))
        except ValueError:
            return random.uniform(0, min(self.max_delay, self.base_delay * 2 ** (attempt - 1)))


def may_retry(*, creates: bool, sent: bool, status: int | None) -> bool:
    """Whether a failed try may be repeated (``status``: 3CX's answer; None when none came).

    Reading, deleting and asking for a token can be repeated without harm: a second DELETE of an entry
    that the first removed gets 404, which the bot reads as "gone". They are retried after a lost
    connection, a timeout, 429 and 502/503/504.

    Adding an entry (an undo's POST) cannot: if the first try reached 3CX, a second would add the entry
    twice. It is retried only when it surely was not carried out: the connection could not even be
    opened, or 3CX refused before acting (429, 503). After a timeout or a lost answer it is not.
    """
    if not creates:
        return status is None or status in RETRYABLE_STATUSES
    if status is None:
        return not sent
    return status in (429, 503)
