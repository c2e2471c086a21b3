"""What the service's methods answer: what opening a request led to, what a click led to, and what a round of
upkeep changed (``bot.domain.requests`` names them all for the Slack layer)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from .decisions import AlreadyRequested, AlreadyResolved, ApprovalRecorded, Expired, Refused, Resolved, Unknown
from .model import UnblockRequest


@dataclass(frozen=True, slots=True)
class Shown:
    """The new request's card is where people see it; ``ref`` is the outside's name for it (opaque here), None
    when it cannot be edited."""

    ref: str | None


@dataclass(frozen=True, slots=True)
class NotShown:
    """The card could not be shown; ``error`` says why (the outside's own word for it)."""

    error: str


@dataclass(frozen=True, slots=True)
class Opened:
    """A pending request, and its card is shown; ``decided``: its rule carried it out at once (``auto``), and what
    that led to."""

    request: UnblockRequest
    shown: Shown
    decided: Decided | None = None


@dataclass(frozen=True, slots=True)
class NothingToUnblock:
    """None of the entries blocks anything (allow entries are never offered for removal); nothing was opened."""


@dataclass(frozen=True, slots=True)
class Withdrawn:
    """The request was opened but its card could not be shown: nobody could decide it, so it was cancelled
    (its entries are free again)."""

    request: UnblockRequest
    reason: str


@dataclass(frozen=True, slots=True)
class HandedOver:
    """This process won the claim but lost it while 3CX worked: another process finishes the request."""

    request: UnblockRequest


#: what opening a request led to
OpenResult = Opened | AlreadyRequested | NothingToUnblock | Withdrawn
#: what a click led to (``Resolved`` carries the finished request)
Decided = Resolved | ApprovalRecorded | Refused | AlreadyResolved | Expired | Unknown | HandedOver
#: shows a new request's card
Show = Callable[[UnblockRequest], Awaitable[Shown | NotShown]]
#: told (not awaited) once a click won the claim, before 3CX is asked
OnClaimed = Callable[[UnblockRequest], object] | None


@dataclass(frozen=True, slots=True)
class Upkept:
    """What one round of upkeep changed: requests a stopped process had left, finished; requests expired
    (``swept``: expiry was due this round, so old records of the outside may be forgotten too)."""

    finished: list[UnblockRequest]
    expired: list[UnblockRequest]
    swept: bool = False
    #: requests still waiting whose approvers this round reminded (each once, ever)
    reminded: list[UnblockRequest] = field(default_factory=list)
    #: requests still waiting this round escalated (each once, ever), as they are now
    escalated: list[UnblockRequest] = field(default_factory=list)
