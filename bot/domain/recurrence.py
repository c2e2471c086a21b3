"""What keeps coming back: the earlier unblocks of the same address, network or caller number.

The PBX gives an entry a new id whenever it is added again, so an earlier unblock is found by what the entry is
about, never by its id: an address or network by its text read as a network (``203.0.113.7`` and
``203.0.113.7/32`` are the same; a /24 and an address inside it are not), a caller number by its digits
(``+15550100`` and ``15550100`` are the same).

An unblock counts when its request ended ``unblocked`` (or its undo failed, so the entry stayed away); one
that was undone does not: a person put it back. The moment of an unblock is its decision (``decision.at``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .entries import BlockedNumber, Target
from .lookup import digits, read_network
from .model import State, UnblockRequest

#: how far back earlier unblocks are looked for (seconds)
WINDOW = 30 * 86400.0
#: the states of a request whose entries stayed unblocked
STILL_UNBLOCKED = frozenset({State.UNBLOCKED, State.UNDO_FAILED})


@dataclass(frozen=True, slots=True)
class Recurrence:
    """The earlier unblocks of what a request (or a new entry) is about, within :data:`WINDOW`: how many, and the
    last one (whose ``decision.at`` is when, ``decision.by`` who approved it, or its rule when it was carried out
    without approval)."""

    count: int
    last: UnblockRequest

    @property
    def last_at(self) -> float:
        return self.last.decision.at or self.last.asked.at


def key(target: Target) -> str | None:
    """What an entry is about, the same whatever its id: ``address:203.0.113.7/32``, ``number:15550100``; None
    when it names nothing comparable (no address, a number without digits)."""
    if isinstance(target, BlockedNumber):
        found = digits(target.number or "")
        return f"number:{found}" if found else None
    return address_key(target.address)


def address_key(address: str | None) -> str | None:
    """An address or network's text as one key: read as a network when it is one, else its text as written."""
    text = (address or "").strip()
    if not text:
        return None
    network = read_network(text)
    return f"address:{network if network is not None else text.casefold()}"


def keys(request: UnblockRequest) -> set[str]:
    """What ``request`` unblocked: its entries; for Allow only, the one address it let in."""
    if not request.done.action.removes and request.what.address:
        found = [address_key(request.what.address)]
    else:
        found = [key(target) for target in request.what.targets]
    return {k for k in found if k is not None}


@dataclass(frozen=True, slots=True)
class Unblocks:
    """The unblocks of the :data:`WINDOW` before ``at``, as one read of the store found them."""

    at: float
    requests: tuple[UnblockRequest, ...]

    def of(self, targets: Iterable[Target], *, besides: str | None = None) -> Recurrence | None:
        """The earlier unblocks of what ``targets`` are about, that stayed (not undone, not failed, not still open),
        within the window (None: none); ``besides``: the request asking now, never one of its own earlier
        unblocks."""
        wanted = {k for k in map(key, targets) if k is not None}
        found = [
            r
            for r in self.requests
            if r.id != besides
            and r.state in STILL_UNBLOCKED
            and r.decision.at is not None
            and self.at - WINDOW <= r.decision.at <= self.at
            and keys(r) & wanted
        ]
        return Recurrence(len(found), max(found, key=lambda r: r.decision.at or 0.0)) if found else None
