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

from .actions import UNBLOCK, Action, Result
from .entries import Target
from .evidence import Evidence
from .outcomes import Outcome

#: the requester of a request the blocklist watcher opened itself, for an entry whose rule has
#: ``auto_on_watch``: not a person (whose ids are upper case), so nobody is told or mentioned as one
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
class Escalation:
    """A request still waiting ``after`` seconds was escalated at ``at`` to these users and user groups: from then
    on they may approve or deny it like its approvers (never the requester)."""

    at: float
    after: float
    users: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Approval:
    """One approval of a request that needs several, and the action it approved."""

    user: str
    action: Action = UNBLOCK


def agreed(approvals: tuple[Approval, ...], needed: int) -> Approval | None:
    """The approval whose action ``needed`` approvals agree on, or None while there are fewer. An approval counts
    for its own action and for every narrower one (whoever approved removing the whole entry also accepts letting
    only the asked address in), so once there are ``needed``, they all agree on the narrowest of them: that is
    what is carried out."""
    if len(approvals) < needed:
        return None
    return min(approvals, key=lambda approval: approval.action.breadth)


@dataclass(frozen=True, slots=True)
class Asked:
    """Who asked, where, when and why."""

    by: str
    #: where the request's card is
    channel: str
    at: float
    reason: str | None = None
    #: where it was asked for, when the card is in another channel (the approvals channel)
    elsewhere: str | None = None

    @property
    def origin(self) -> str:
        """The channel where the request was asked for."""
        return self.elsewhere or self.channel


@dataclass(frozen=True, slots=True)
class What:
    """What is asked for: the entries to remove, as 3CX described them when the request was made, the one
    address asked for when it lies inside an entry's wider network (Allow only is offered), and what 3CX knew
    about the address then (None: it was not asked)."""

    targets: tuple[Target, ...]
    address: str | None = None
    evidence: Evidence | None = None

    @property
    def about(self) -> str | None:
        """The one address or network the request is about, when it is about one: the address asked for, or its
        one IP blocklist entry's."""
        if self.address is not None:
            return self.address
        return self.targets[0].address if len(self.targets) == 1 else None


@dataclass(frozen=True, slots=True)
class Decision:
    """How the request is decided (by which rule, by how many approvals, until when) and who decided, when."""

    #: after this moment the request can no longer be approved
    expires_at: float
    #: the name of the rule that decides for the request (None: the settings do)
    rule: str | None = None
    #: its rule carries it out without approval
    auto: bool = False
    #: how many distinct approvers must approve
    needed: int = 1
    #: the approvals so far, in order, each with what it approved, when it needs more than one
    approvals: tuple[Approval, ...] = ()
    #: who took the decision (approved, denied, cancelled) and when
    by: str | None = None
    at: float | None = None
    #: when the approvers were reminded that it still waits (once; None: not yet)
    reminded_at: float | None = None
    #: when, and to whom, it was escalated because it still waited (once; None: not yet)
    escalation: Escalation | None = None

    @property
    def approved_by(self) -> tuple[str, ...]:
        """Who approved so far, in order, when it needs more than one approval."""
        return tuple(approval.user for approval in self.approvals)


@dataclass(frozen=True, slots=True)
class Done:
    """What approving the request carries out, what 3CX did, and its undo."""

    action: Action = UNBLOCK
    #: one per target, once it was carried out
    results: tuple[Result, ...] = ()
    #: Undo is offered until this moment
    undo_until: float | None = None
    undone_by: str | None = None
    undone_at: float | None = None
    #: one per target the undo covers, once it ran
    undo_results: tuple[Result, ...] = ()


@dataclass(frozen=True, slots=True)
class UnblockRequest:
    id: str
    asked: Asked
    what: What
    decision: Decision
    state: State = State.PENDING
    done: Done = Done()
    #: the process holding the claim (executing, undoing), and when it last said it is alive
    owner: str | None = None
    heartbeat_at: float | None = None
    #: the name of the PBX the request is for; "": the one PBX of a bot that serves one
    pbx: str = ""

    @property
    def title(self) -> str:
        """What the request is about, for a sentence: ``203.0.113.7`` or ``3 entries``."""
        targets = self.what.targets
        return targets[0].label if len(targets) == 1 else f"{len(targets)} entries"

    def result_for(self, target: Target) -> Result | None:
        """What 3CX did with ``target`` when the request was carried out."""
        pairs = zip(self.what.targets, self.done.results, strict=False)
        return next((result for t, result in pairs if (t.kind, t.id) == (target.kind, target.id)), None)

    @property
    def withdrawn(self) -> bool:
        """Cancelled by the bot itself (its card could not be posted), not decided by anyone."""
        return self.state is State.CANCELLED and self.decision.by is None

    @property
    def removed(self) -> list[Target]:
        """The targets this request itself removed: what an undo puts back (never one that was already gone)."""
        pairs = zip(self.what.targets, self.done.results, strict=False)
        return [t for t, r in pairs if r.outcome is Outcome.DELETED]

    @property
    def undoable(self) -> bool:
        """Its undo has something to take back: an entry it removed, or an allow entry it added instead."""
        return self.done.action.changed(self.done.results)

    @property
    def outcome(self) -> Outcome | None:
        """How it ended, in one word: the first failure, else the first outcome."""
        results = self.done.results
        failures = [r.outcome for r in results if not r.outcome.gone]
        return failures[0] if failures else (results[0].outcome if results else None)


@dataclass(frozen=True, slots=True, kw_only=True)
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
    #: kept with the transition when no list was asked (why the bot made it)
    note: str | None = None
    #: what is carried out: set with the claim of ``executing``
    action: Action | None = None
    #: the approvals after this move (one more), only if they were still ``approvals_were``
    approvals: tuple[Approval, ...] | None = None
    approvals_were: tuple[Approval, ...] = ()

    @property
    def frees_targets(self) -> bool:
        return self.from_state.open and not self.to_state.open

    @property
    def answer(self) -> str | None:
        """What the lists answered, for the transition's record (or the note, when they were not asked)."""
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
