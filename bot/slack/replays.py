"""Replays: the signatures of the signed requests accepted lately, to refuse one sent again.

A signature is valid for ``WINDOW`` (Bolt refuses an older timestamp), so each is remembered for at least that
long: two generations, the newer one filling while the older one is still asked, the older one dropped whole when
the newer one is ``WINDOW`` old. Each is kept as a 16-byte digest, not the header's text:
a burst of requests costs about a third of the memory (at most ``limit`` are kept; a flood forgets the older
generation early).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

#: how long a signature is valid, and so remembered at least
WINDOW = 5 * 60.0


class Replays:
    """The signatures seen lately, as the module says."""

    def __init__(self, *, limit: int = 200_000, clock: Callable[[], float] = time.monotonic) -> None:
        self._limit = limit
        self._clock = clock
        self._newer: set[bytes] = set()
        self._older: set[bytes] = set()
        #: when the newer generation started
        self._since = clock()

    def first(self, signature: str) -> bool:
        """Whether ``signature`` was not seen lately (it is then remembered)."""
        now = self._clock()
        if now - self._since >= WINDOW or len(self._newer) >= self._limit // 2:
            self._older, self._newer, self._since = self._newer, set(), now
        key = hashlib.blake2b(signature.encode(), digest_size=16).digest()
        if key in self._newer or key in self._older:
            return False
        self._newer.add(key)
        return True

    def __len__(self) -> int:
        return len(self._newer) + len(self._older)
