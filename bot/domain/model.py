"""An unblock request and its life.

```
/unblock … ──► pending ──approve──► executing ──► unblocked ──undo──► undoing ──► undone
                 │  │                     └────► failed ─────undo──┘        └──► undo_failed
                 │  ├─deny──► denied
                 │  └─cancel─► cancelled
                 └─ttl passes──► expired
```

Every arrow is one compare-and-set in the store (a :class:`Move`), so of two
clicks at once exactly one wins.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

# the words a request is made of, for those outside the domain that read requests (the Slack layer's views)
from .entries import ALLOW as ALLOW
from .entries import MAX_ENTRY_ID as MAX_ENTRY_ID
from .entries import MIN_ENTRY_ID as MIN_ENTRY_ID
from .entries import BlockedNumber as BlockedNumber
from .entries import BlocklistEntry as BlocklistEntry
from .entries import CallFailed as CallFailed
from .entries import Kind as Kind
from .entries import Target as Target
from .entries import expiry as expiry
from .entries import is_entry_id as is_entry_id
from .outcomes import Outcome as Outcome

#: the requester of a request the blocklist watcher opened itself, for an entry whose rule has
#: ``auto_on_watch``: not a Slack user (whose ids are upper case), so nobody is told or mentioned as one
WATCHER = "watcher"


class State(enum.StrEnum):
    PENDING = "pending"
    EXECUTING = "executing"
    UNBLOCKED = "unblocked"
    FAILED = "failed"
    DENIED = "denied"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    UNDOING = "undoing"
    UNDONE = "undone"
    UNDO_FAILED = "undo_failed"

    @property
    def open(self) -> bool:
        """Waiting for a decision, or being carried out: the entries are taken."""
        return self in (State.PENDING, State.EXECUTING)

    @property
    def claimed(self) -> bool:
        """A process is talking to 3CX about it."""
        return self in (State.EXECUTING, State.UNDOING)

    @property
    def undo_phase(self) -> bool:
        return self in (State.UNDOING, State.UNDONE, State.UNDO_FAILED)


@dataclass(frozen=True, slots=True)
class Result:
    """What 3CX did with one target, and its answer for the record."""

    outcome: Outcome
    answer: str
    #: the Id of the entry that an undo created
    new_id: str | None = None
    #: the bot finished this after a restart (it had stopped while 3CX was working on it)
    after_restart: bool = False
    #: Approve and allow: the allow entry that lets the address in now (this request's, or one already there)
    allow_id: int | None = None
    #: until when that entry allows the address (None: without an end, or no allow entry)
    allowed_until: float | None = None
    #: the allow entry was there already (an undo leaves it alone)
    allow_existed: bool = False

    @property
    def added_allow(self) -> int | None:
        """The allow entry this request added, which an undo removes."""
        return self.allow_id if not self.allow_existed else None


@dataclass(frozen=True, slots=True)
class Escalation:
    """A request still waiting ``after`` seconds was escalated at ``at`` to these users and user groups: from then
    on they may approve or deny it like its approvers (never the requester)."""

    at: float
    after: float
    users: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Approval:
    """One approval of a request that needs several, and the action it approved: Approve (``allow_for`` None),
    Approve and allow for ``allow_for`` seconds, or Allow only the asked address for ``allow_for`` seconds
    (``allow_only``)."""

    user: str
    allow_for: float | None = None
    allow_only: bool = False

    @property
    def action(self) -> str:
        """What it approved, in one word for the record: ``unblock``, ``unblock_and_allow`` or ``allow_only``."""
        if self.allow_only:
            return "allow_only"
        return "unblock" if self.allow_for is None else "unblock_and_allow"

    @property
    def plain(self) -> bool:
        """An Approve: remove the entries, and nothing more."""
        return self.action == "unblock"

    @property
    def record(self) -> dict[str, object]:
        """What it approved, for the audit line: ``{"user": "U1", "action": "allow_only", "allow_for": 3600.0}``."""
        duration = {} if self.allow_for is None else {"allow_for": float(self.allow_for)}
        return {"user": self.user, "action": self.action, **duration}

    @property
    def breadth(self) -> tuple[int, float]:
        """How much the action lets in, to rank approvals from the narrowest: Allow only (one address, the block
        left in place; shorter first), then Approve (the whole entry removed), then Approve and allow (removed and
        allowed; shorter first)."""
        if self.allow_only:
            return 0, self.allow_for or 0.0
        return (1, 0.0) if self.allow_for is None else (2, self.allow_for)


def agreed(approvals: tuple[Approval, ...], needed: int) -> Approval | None:
    """The action ``needed`` approvals agree on, or None while there are fewer. An approval counts for its own
    action and for every narrower one (whoever approved removing the whole entry also accepts letting only the
    asked address in; whoever approved Approve and allow also accepts Approve), so once there are ``needed``,
    they all agree on the narrowest of them: that is what is carried out."""
    if len(approvals) < needed:
        return None
    return min(approvals, key=lambda approval: approval.breadth)


@dataclass(frozen=True, slots=True)
class UnblockRequest:
    id: str
    #: the entries to remove, as 3CX described them when the request was made
    targets: tuple[Target, ...]
    requester: str
    channel: str
    created_at: float
    #: after this moment the request can no longer be approved
    expires_at: float
    reason: str | None = None
    state: State = State.PENDING
    #: who took the decision (approved, denied, cancelled) and when
    resolved_by: str | None = None
    resolved_at: float | None = None
    #: one per target, once the deletes ran
    results: tuple[Result, ...] = ()
    #: Undo is offered until this moment
    undo_until: float | None = None
    undone_by: str | None = None
    undone_at: float | None = None
    #: one per removed target, once an undo ran
    undo_results: tuple[Result, ...] = ()
    #: the process holding the claim (executing, undoing), and when it last said it is alive
    owner: str | None = None
    heartbeat_at: float | None = None
    #: where the command was typed, when the card is in another channel (the approvals channel)
    asked_in: str | None = None
    #: Approve and allow: for how many seconds the address is allowed after the block is removed
    allow_for: float | None = None
    #: the name of the rule that decides for the request (None: the settings do)
    rule: str | None = None
    #: its rule carries it out without approval
    auto: bool = False
    #: the approvals so far, in order, each with what it approved, when it needs more than one
    approvals: tuple[Approval, ...] = ()
    #: how many distinct approvers must approve
    approvals_needed: int = 1
    #: the one address asked for, when it lies inside the entry's wider network (Allow only is offered)
    asked_address: str | None = None
    #: carried out as Allow only: an allow entry for ``asked_address``, the network's block left in place
    allow_only: bool = False
    #: when the approvers were reminded that it still waits (once; None: not yet)
    reminded_at: float | None = None
    #: when, and to whom, it was escalated because it still waited (once; None: not yet)
    escalation: Escalation | None = None

    @property
    def approved_by(self) -> tuple[str, ...]:
        """Who approved so far, in order, when it needs more than one approval."""
        return tuple(approval.user for approval in self.approvals)

    @property
    def title(self) -> str:
        """What the request is about, for a sentence: ``203.0.113.7`` or ``3 entries``."""
        if len(self.targets) == 1:
            return self.targets[0].label
        return f"{len(self.targets)} entries"

    @property
    def origin(self) -> str:
        """The channel where the request was asked for."""
        return self.asked_in or self.channel

    def result_for(self, target: Target) -> Result | None:
        """What 3CX did with ``target`` when the request was carried out."""
        for candidate, result in zip(self.targets, self.results, strict=False):
            if (candidate.kind, candidate.id) == (target.kind, target.id):
                return result
        return None

    @property
    def withdrawn(self) -> bool:
        """Cancelled by the bot itself (its card could not be posted), not decided by anyone."""
        return self.state is State.CANCELLED and self.resolved_by is None

    @property
    def removed(self) -> list[Target]:
        """The targets this request itself removed: what an undo puts back (never one that was already gone)."""
        return [t for t, r in zip(self.targets, self.results, strict=False) if r.outcome is Outcome.DELETED]

    @property
    def outcome(self) -> Outcome | None:
        """How the unblock ended, in one word: the first failure, else the first outcome."""
        failures = [r.outcome for r in self.results if not r.outcome.gone]
        return failures[0] if failures else (self.results[0].outcome if self.results else None)


@dataclass(frozen=True, slots=True)
class Move:
    """One transition, as the service asks the store to make it: from ``from_state`` to ``to_state`` (``pending``
    to ``pending`` records one approval of several), only if the request is still in ``from_state`` (with
    ``unexpired``: and still in time at ``at``, that is before ``expires_at`` for a decision and no later than
    ``undo_until`` for an undo; from a claimed state: and ``owner`` holds the claim)."""

    request_id: str
    from_state: State
    to_state: State
    actor: str | None
    at: float
    results: tuple[Result, ...] | None = None
    undo_until: float | None = None
    undo_results: tuple[Result, ...] | None = None
    #: who holds the claim: set when entering a claimed state, checked when leaving one
    owner: str | None = None
    unexpired: bool = False
    #: kept with the transition when 3CX gave no answer (why the bot made it)
    note: str | None = None
    #: Approve and allow: set with the claim of ``executing``
    allow_for: float | None = None
    #: the approvals after this move (one more), only if they were still ``approvals_were``
    approvals: tuple[Approval, ...] | None = None
    approvals_were: tuple[Approval, ...] = ()
    #: Allow only: set with the claim of ``executing``
    allow_only: bool = False

    @property
    def frees_targets(self) -> bool:
        return self.from_state.open and not self.to_state.open

    @property
    def answer(self) -> str | None:
        """3CX's answers, for the transition's record (or the note, when 3CX was not asked)."""
        answers = [r.answer for r in (self.undo_results or self.results or ())]
        return "; ".join(answers) if answers else self.note


@dataclass(frozen=True, slots=True)
class Transition:
    request_id: str
    from_state: State | None
    to_state: State
    actor: str | None
    at: float
    answer: str | None = None


@dataclass(frozen=True, slots=True)
class Timing:
    """The service's clock rules."""

    #: seconds a request stays approvable
    ttl: float
    #: seconds Undo is offered after an unblock (0: never)
    undo_window: float
    #: the longest one 3CX call can take, its retries included
    call_bound: float
    #: how often a process working on a claimed request renews it
    heartbeat: float = 3.0
    #: for clocks that differ a little between processes
    margin: float = 2.0
    #: how long a process first waits before writing 3CX's answer again while the database is away (the wait
    #: doubles each time, up to 15 s)
    store_retry: float = 0.5

    @property
    def takeover_after(self) -> float:
        """How long after a claim's last heartbeat its owner must be gone and every 3CX call it started
        must have ended: it starts no call when it could not renew for two heartbeats."""
        return 2 * self.heartbeat + self.call_bound + self.margin
