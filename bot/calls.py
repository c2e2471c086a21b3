"""How a piece of work calls 3CX: in which lane, and until when it may start a call.

Lanes: a burst of ``/unblock`` commands (each a 3CX lookup) must not delay an
approval's DELETE. Work after the ack runs in one of two lanes, each with its own
workers (``bot.tasks``) and its own 3CX connections (``bot.threecx.client``).

Permits: a process works on a claimed request only while its claim is renewed
(``bot.domain.lease``). The claim's lease sets until when a call to 3CX may start; the
client checks it just before each try, after waiting for a connection, so that no
call starts once another process could take the claim over.

Both follow the work as context variables into every call it makes.
"""

from __future__ import annotations

import contextlib
import enum
import time
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass


class Lane(enum.Enum):
    #: commands: lookups, listings, history, choosing among matches
    COMMANDS = "commands"
    #: clicks that decide (Approve, Deny, Cancel, Undo) and the bot's own recovery of them
    DECISIONS = "decisions"


@dataclass
class Permit:
    """Until when (``time.monotonic()``) work may start a call to 3CX; renewed by whoever grants it."""

    until: float

    def allows(self) -> bool:
        return time.monotonic() < self.until


#: the lane of the work running now; ``LANE.set(lane)`` runs the rest of the current task (and the tasks it starts)
#: in ``lane``
LANE: ContextVar[Lane] = ContextVar("lane", default=Lane.COMMANDS)
#: the permit the work running now holds; None: it may always call
PERMIT: ContextVar[Permit | None] = ContextVar("permit", default=None)


@contextlib.contextmanager
def holding(permit: Permit) -> Iterator[Permit]:
    """Make the calls made inside depend on ``permit``."""
    token = PERMIT.set(permit)
    try:
        yield permit
    finally:
        PERMIT.reset(token)
