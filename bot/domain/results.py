"""What the service's methods answer: what opening a request led to, what a click led to, what a round of
upkeep changed, and the reads that depend on who asks."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from .allows import Allow
from .model import UnblockRequest
from .ports import Shown
from .rules import Approvers


class Why(enum.Enum):
    """Why a command or a click does nothing; the outside words each one."""

    #: /unblock is not enabled in this channel (``Refusal.channels``: where it is)
    CHANNEL_NOT_ENABLED = "channel_not_enabled"
    #: only the approvers may (``verb``; ``approvers`` says who they are)
    NOT_APPROVER = "not_approver"
    #: the requester may not approve (or undo) their own request
    OWN_REQUEST = "own_request"
    #: the requester withdraws with Cancel rather than Deny
    USE_CANCEL = "use_cancel"
    #: only the requester may cancel (``requester``)
    NOT_REQUESTER = "not_requester"
    #: the card belongs to a request made in another channel
    OTHER_CHANNEL = "other_channel"
    #: the request removed nothing from the PBX
    NOTHING_TO_UNDO = "nothing_to_undo"
    #: the undo window is over
    TOO_LATE_TO_UNDO = "too_late_to_undo"
    #: Approve and allow is not offered for this request (or not for that long)
    NOT_ALLOWABLE = "not_allowable"
    #: this approver approved already; another must (``approvals_needed``)
    ALREADY_APPROVED = "already_approved"


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why something does nothing, with what the words of it name."""

    why: Why
    #: what was refused: approve, undo, deny
    verb: str = ""
    requester: str = ""
    approvers: Approvers | None = None
    channels: tuple[str, ...] = ()
    #: the rule whose approvers these are (None: the settings')
    rule: str | None = None
    approvals_needed: int = 1


@dataclass(frozen=True, slots=True)
class About:
    """What a click led to, with the request as it is now."""

    request: UnblockRequest


class Resolved(About):
    """This click moved the request; the card shows the new state."""

    __slots__ = ()


class ApprovalRecorded(About):
    """This click's approval is recorded; the request waits for more (``decision.needed``)."""

    __slots__ = ()


class AlreadyResolved(About):
    """Someone (or something) decided it before this click; nothing was done."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class Refused(About):
    """The clicker may not do this (``reason`` says why); nothing changed."""

    reason: Refusal


@dataclass(frozen=True, slots=True)
class Expired(About):
    """The request is past its time; ``just_now`` when this click recorded that."""

    just_now: bool


@dataclass(frozen=True, slots=True)
class Unknown:
    """The button names no request in the store."""

    request_id: str


@dataclass(frozen=True, slots=True)
class AlreadyRequested:
    """A new request was not opened: an entry of it is already in this open request."""

    request: UnblockRequest


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
    """This process won the claim but lost it while the PBX worked: another process finishes the request."""

    request: UnblockRequest


#: what opening a request led to
OpenResult = Opened | AlreadyRequested | NothingToUnblock | Withdrawn
#: what a click led to (``Resolved`` carries the finished request)
Decided = Resolved | ApprovalRecorded | Refused | AlreadyResolved | Expired | Unknown | HandedOver


@dataclass(frozen=True, slots=True)
class Upkept:
    """What one round of upkeep changed: requests a stopped process had left, finished; requests expired
    (``swept``: expiry was due this round, so old records of the outside may be forgotten too)."""

    finished: list[UnblockRequest]
    expired: list[UnblockRequest]
    swept: bool = False
    #: requests still waiting whose approvers this round reminded (each once, ever), as they are now
    reminded: list[UnblockRequest] = field(default_factory=list)
    #: requests still waiting this round escalated (each once, ever), as they are now
    escalated: list[UnblockRequest] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class History:
    """The newest requests as the person who asked may see them: every channel's (``everywhere``: an approver's)
    or only those of the channel where they asked."""

    requests: list[UnblockRequest]
    everywhere: bool
    #: the allow entries of those requests that added one, by request
    allows: dict[str, Allow] = field(default_factory=dict)
