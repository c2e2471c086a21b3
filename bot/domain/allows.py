"""The life of an allow entry the bot added (Approve and allow, Allow only): a warning in the request's thread
before it ends, Extend and End now, and one message once it ended, however it ended.

```
added ──► active ──Extend──► extending ──► active (a later end)
            │  └──End now──► ending ──────► ended (end_now)
            ├── its end passes ───────────► ended (expired)
            ├── 3CX no longer lists it ───► ended (removed)
            └── the request's Undo ───────► ended (undone)
```

Every arrow is one compare-and-set in the store (:class:`AllowStore`), so of two clicks at once, in one process
or in two, one wins; each claim and each end has a token of its own, so that a write tried again is recognised and
never taken for another's. The click that wins holds the change while it asks 3CX (its calls start only while no
other process may take the claim over, and its record is written again while the database is away); a holder that
stopped before recording 3CX's answer is taken over once every call it could have made must have ended, and 3CX is
asked first what is true (the entry's end as it is now, or whether it is still there). The warning and the message
of the end are each claimed by one process, recorded once delivered, and let go when not, like the reminders of
requests (the message of an end that keeps failing to be delivered is given up a day after it)."""

from __future__ import annotations

import enum
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from .entries import BlocklistEntry, Removal
from .model import UnblockRequest
from .outcomes import Outcome
from .rules import Rule

audit = logging.getLogger("bot.audit")

#: the shortest warning when the settings give no time (then it is a tenth of the allow's length)
MIN_WARNING = 300.0
#: a message claimed and not recorded delivered within this long is a stopped process's: claimed again
SAYING_HOLD = 120.0
#: how often each allow in force is checked against 3CX, and how many at most in one round (one query)
CHECK_EVERY = 60.0
CHECKED_PER_ROUND = 20
#: how close to its end an allow is no longer checked against 3CX (3CX may lift it a little early), and a 404 to
#: Extend means it expired
GRACE = 120.0
#: how many allows one round of upkeep reads of each kind (in force, the soonest end first; ended and not told)
MINDED = 200
#: how long after its end the message of an end that could not be delivered is tried again, before it is given up
TELL_WITHIN = 86400.0


class Phase(enum.StrEnum):
    """Where an allow is in its life."""

    ACTIVE = "active"
    #: an Extend won the claim; its holder is asking 3CX
    EXTENDING = "extending"
    #: an End now won the claim; its holder is asking 3CX
    ENDING = "ending"
    ENDED = "ended"


class How(enum.StrEnum):
    """How an allow ended."""

    #: its end passed (3CX lifts it then)
    EXPIRED = "expired"
    #: someone clicked End now
    END_NOW = "end_now"
    #: 3CX no longer listed it before its end: someone removed it
    REMOVED = "removed"
    #: the request's Undo removed it
    UNDONE = "undone"


@dataclass(frozen=True, slots=True)
class Allow:
    """An allow entry a request added, as the store keeps it."""

    request_id: str
    #: 3CX's Id of the allow entry
    entry_id: int
    address: str
    added_at: float
    ends_at: float
    #: the duration chosen for it: what one Extend adds
    duration: float
    phase: Phase = Phase.ACTIVE
    #: who clicked the last Extend or End now, the token of the claim carrying it out (naming its process) and since
    #: when, the end an Extend asked
    change_by: str | None = None
    holder: str | None = None
    held_at: float | None = None
    extend_to: float | None = None
    #: who extended it last, and when
    extended_by: str | None = None
    extended_at: float | None = None
    #: the end that the last warning delivered was about (a later end gets a warning of its own)
    warned_for: float | None = None
    ended_at: float | None = None
    ended_by: str | None = None
    how: How | None = None
    #: when the message of its end was delivered
    told_at: float | None = None
    #: when 3CX was last asked whether it still lists the entry
    checked_at: float | None = None
    #: the token of the claim that made its last change (an Extend, or its end), which names the process
    done_claim: str | None = None
    #: the PBX it is on (as its request's)
    pbx: str = ""

    def most(self, rule: Rule) -> float:
        """The latest it may end, in whole seconds: ``rule.allow_max`` after it was added."""
        return float(math.floor(self.added_at + rule.allow_max))

    def extension(self, rule: Rule) -> float:
        """How much an Extend adds now to its end in whole seconds: its duration, or, where that would pass
        ``allow_max``, what is left in whole minutes (0: none, also when less than a minute is left)."""
        ends = math.floor(self.ends_at)
        if ends + self.duration <= self.most(rule):
            return self.duration
        return max(0.0, math.floor((self.most(rule) - ends) / 60) * 60.0)

    def warning_due(self, now: float, before: float | None) -> bool:
        """Its warning is due at ``now``: in force, not warned about this end yet, and within ``before`` seconds of
        its end (None: a tenth of its duration, at least :data:`MIN_WARNING`; 0: never)."""
        lead = max(self.duration / 10, MIN_WARNING) if before is None else before
        fresh = self.phase is Phase.ACTIVE and self.warned_for != self.ends_at
        return fresh and lead > 0 and self.ends_at - lead <= now < self.ends_at


def record(allow: Allow, event: str, actor: str | None, **more: object) -> None:
    """One audit line for an event of an allow's life (warned, extended, ended)."""
    audit.info(
        f"allow {event}",
        extra={
            "request": allow.request_id,
            "allow_entry": allow.entry_id,
            "address": allow.address,
            "event": event,
            "actor": actor,
            "until": allow.ends_at,
            **more,
        },
    )


class AllowStore(Protocol):
    """Where allows are kept (see ``bot.storage``). Each change is one compare-and-set; a change whose answer was
    lost and is made again is recognised. Every method may raise ``StoreUnreachable``."""

    async def keep_allow(self, allow: Allow) -> None:
        """Keep a new allow; nothing when the request's allow is kept already."""

    async def allow_of(self, request_id: str) -> Allow | None: ...

    async def allows_of(self, request_ids: Sequence[str]) -> list[Allow]: ...

    async def requests_of(self, request_ids: Sequence[str]) -> list[UnblockRequest]:
        """The requests of these ids (one read)."""

    async def allowing_unkept(self, since: float, limit: int) -> list[UnblockRequest]:
        """At most ``limit`` requests unblocked since ``since`` (the newest first) whose action allows and whose allow
        is not kept (one read)."""

    async def allows_in_force(self, limit: int) -> list[Allow]:
        """At most ``limit`` allows not ended, the soonest end first."""

    async def allows_untold(self, limit: int) -> list[Allow]:
        """At most ``limit`` allows ended whose end was not told yet, the oldest end first."""

    async def change_allow(
        self,
        request_id: str,
        to: Phase,
        by: str,
        claim: str,
        at: float,
        *,
        ends_at: float | None,
        extend_to: float | None,
    ) -> Allow | None:
        """Claim a change (``extending`` or ``ending``) under ``claim``, a token unique to it, only while the allow
        is active (and, given ``ends_at``, still ends then): the allow, or None."""

    async def take_over_allow(self, request_id: str, claim: str, held_at: float, at: float) -> Allow | None:
        """Take over, under a new ``claim``, a change claimed at ``held_at`` (whose holder stopped): the allow, or
        None."""

    async def extended(self, request_id: str, claim: str, at: float) -> Allow | None:
        """The Extend held under ``claim`` is done: active again, until ``extend_to``. The allow, or None."""

    async def release_allow(self, request_id: str, claim: str) -> None:
        """The change held under ``claim`` was not made: active again, as before."""

    async def end_allow(
        self, request_id: str, how: How, by: str | None, at: float, claim: str, *, held: bool = False
    ) -> Allow | None:
        """Record how it ended, under ``claim`` (a token unique to this end, naming the process): ``held``, only
        while ``claim`` holds its change; for an Undo, whatever it was doing; else only while active. The ended
        allow, or None."""

    async def claim_saying(
        self, request_id: str, holder: str, at: float, stale_before: float, *, warning: bool
    ) -> Allow | None:
        """Claim the warning (active, in time, not warned about this end) or the message of its end (ended, not
        told), unless another claimed it since ``stale_before``: the allow, or None."""

    async def said(self, request_id: str, holder: str, at: float, *, warned_for: float | None) -> None:
        """What ``holder`` claimed was delivered: the warning about the end ``warned_for``, else the end's message."""

    async def release_saying(self, request_id: str, holder: str) -> None: ...

    async def allows_checked(self, request_ids: Sequence[str], at: float) -> None: ...


class AllowEntries(Protocol):
    """The allow entries on 3CX's IP list, as their life needs them."""

    async def extend(self, entry_id: int, until: float) -> str:
        """Move the entry's end to ``until``: 3CX's answer."""

    async def remove_entry(self, entry_id: int) -> Removal: ...

    async def allow_entry(self, entry_id: int) -> BlocklistEntry | None:
        """The entry as 3CX lists it now; None when it no longer does."""

    async def still_listed(self, ids: Sequence[int]) -> set[int]: ...


class AllowNotices(Protocol):
    """Where people read about an allow's life: the thread of its request's card. ``extend_by``: what Extend adds
    (0: it cannot be extended)."""

    async def warn(self, allow: Allow, request: UnblockRequest, extend_by: float, allow_max: float) -> Said:
        """The warning before its end (``allow_max``: its rule's, said when it cannot be extended)."""

    async def extended(self, allow: Allow, request: UnblockRequest) -> None: ...

    async def ended(self, allow: Allow, request: UnblockRequest) -> bool:
        """How it ended: whether it is done (delivered, or there is nowhere it could ever go)."""


class Said(enum.Enum):
    """What became of a message."""

    SHOWN = "shown"
    #: there is nowhere it could ever go (the card came through a reply URL): done, though nobody saw it
    NOWHERE = "nowhere"
    #: not delivered now: tried again later
    LATER = "later"


class Cannot(enum.Enum):
    """Why an Extend or End now did nothing; the outside words each one."""

    #: only the request's approvers may extend it (``Refused.refusal`` says who)
    NOT_APPROVER = "not_approver"
    #: only the request's approvers or its requester may end it
    NOT_APPROVER_OR_REQUESTER = "not_approver_or_requester"
    #: it lasts as long as its rule's ``allow_max`` allows
    AT_MOST = "at_most"
    #: 3CX refused or could not be reached (``answer``)
    FAILED = "failed"
    #: the button was clicked in another channel than its request's card's
    OTHER_CHANNEL = "other_channel"


@dataclass(frozen=True, slots=True)
class Changed:
    """This click extended or ended the allow (as it is now)."""

    allow: Allow


@dataclass(frozen=True, slots=True)
class AlreadyChanged:
    """Someone (or 3CX) extended, is changing, or ended it first; nothing was done."""

    allow: Allow


@dataclass(frozen=True, slots=True)
class Unchanged:
    """Nothing was done, and why (``answer``: 3CX's, for a failure)."""

    allow: Allow
    why: Cannot
    answer: str = ""
    #: the rule's ``allow_max`` (for ``AT_MOST``)
    allow_max: float = 0.0
    #: why 3CX did not change it (for ``FAILED``)
    reason: Outcome | None = None


@dataclass(frozen=True, slots=True)
class Unrecorded:
    """3CX made the change this click asked for (``allow``: as the click claimed it), but the database could not
    record it while the click held it: the upkeep records it, after asking 3CX, and says it in the thread."""

    allow: Allow


@dataclass(frozen=True, slots=True)
class NoAllow:
    """The request has no allow entry of the bot's."""

    request_id: str


#: what an Extend or End now click led to
AllowAnswer = Changed | AlreadyChanged | Unchanged | Unrecorded | NoAllow
