"""One service owns a request's life: opening it, the clicks that decide it, carrying a decision out in 3CX,
undoing it, and the upkeep that expires what is past its time and finishes what a stopped process left.

The Slack layer parses what people sent, calls one method here, and renders what it gets back; it shows
things through the two callables it passes (``show`` for a new card, ``on_claimed`` for "unblocking…"),
without this module knowing Slack. Deciding (a compare-and-set in the store) is done by the private helper
:class:`~bot.domain.decisions.Decisions`, carrying out in 3CX by :class:`~bot.domain.execution.Execution`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from .allowing import Allowing, duration_words
from .decisions import (
    WIDEST_ALLOWED,
    AlreadyRequested,
    AlreadyResolved,
    ApprovalRecorded,
    ClickResult,
    Decisions,
    Expired,
    Refused,
    Resolved,
    Unknown,
    allowable,
    network,
)
from .entries import Target
from .execution import Execution
from .lookup import Finder, Matches, Page, TooSlow
from .model import WATCHER, Escalation, State, Timing, UnblockRequest
from .policy import ApprovalPolicy, Approvers, Refusal, Why
from .ports import Announcement, Lists, RequestStore, StoreUnreachable
from .recurrence import WINDOW as RECURRENCE_WINDOW
from .recurrence import Recurrence, Unblocks
from .report import DEFAULT_DAYS, MAX_DAYS, Ending, Report, Reporting
from .results import (
    Decided,
    HandedOver,
    NothingToUnblock,
    NotShown,
    OnClaimed,
    Opened,
    OpenResult,
    Show,
    Shown,
    Upkept,
    Withdrawn,
)
from .transitions import Transitions
from .watch import UNDONE_CHECKED, PutBack, UndoneRequests, Watching

__all__ = [
    "DEFAULT_DAYS",
    "MAX_DAYS",
    "RECURRENCE_WINDOW",
    "WAITING_CHECKED",
    "WIDEST_ALLOWED",
    "AlreadyRequested",
    "AlreadyResolved",
    "Announcement",
    "ApprovalPolicy",
    "ApprovalRecorded",
    "Approvers",
    "Decided",
    "Ending",
    "Expired",
    "Finder",
    "HandedOver",
    "Matches",
    "NotShown",
    "NothingToUnblock",
    "Opened",
    "Page",
    "Recurrence",
    "Refusal",
    "Refused",
    "Report",
    "Reporting",
    "Requests",
    "Resolved",
    "Shown",
    "StoreUnreachable",
    "TooSlow",
    "Unblocks",
    "UndoneRequests",
    "Unknown",
    "Upkept",
    "Watching",
    "Why",
    "Withdrawn",
    "allowable",
    "duration_words",
    "network",
]

log = logging.getLogger(__name__)

#: how many of the newest pending requests recovery looks at for ``auto`` ones left unclaimed
AUTO_CHECKED = 500
#: a reminder claimed and not recorded sent within this long is a stopped process's: claimed again
REMINDER_CLAIM_HOLD = 120.0
#: how many of the newest pending requests are asked whether a person may approve them (their Home tab)
WAITING_CHECKED = 200


@dataclass(slots=True)
class Requests:
    """A request's life, by the rules of ``policy``, kept in ``store``, carried out in 3CX's ``lists``."""

    store: RequestStore
    lists: Lists
    allowing: Allowing
    policy: ApprovalPolicy
    timing: Timing
    transitions: Transitions
    #: how often ``upkeep`` expires what is due (recovery runs every time)
    expire_every: float = 30.0
    _decisions: Decisions = field(init=False)
    _execution: Execution = field(init=False)
    _next_expiry: float | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self._decisions = Decisions(self.store, self.policy, self.timing, self.transitions)
        self._execution = Execution(self.lists, self.store, self.timing, self.transitions, self.allowing)

    # -- opening ---------------------------------------------------------------------------

    async def open(
        self, targets: Sequence[Target], requester: str, channel: str, reason: str | None, *, asked_in: str | None,
        show: Show, asked_address: str | None = None, on_claimed: OnClaimed = None,
    ) -> OpenResult:  # fmt: skip
        """Open a request for the blocking ones of ``targets`` (as just read from 3CX), whose card goes to
        ``channel``, and have ``show`` show it; one open request per entry. ``asked_address``: the one address
        asked for, when it lies inside the entry's network. A request whose rule needs no approval is carried
        out at once (``Opened.decided``)."""
        blocking = [t for t in targets if t.blocks]
        if not blocking:
            return NothingToUnblock()
        opened = await self._decisions.open_request(
            blocking, requester, channel, reason, asked_in=asked_in, asked_address=asked_address
        )
        if isinstance(opened, AlreadyRequested):
            return opened
        shown = await show(opened)
        if isinstance(shown, NotShown):
            why = f"the card could not be posted in Slack ({shown.error})"
            await self._decisions.withdraw(opened, why)
            return Withdrawn(opened, shown.error)
        if not opened.auto:
            return Opened(opened, shown)
        claimed = await self._decisions.carry_out_by_rule(opened)
        return Opened(opened, shown, await self._carry_out(claimed, on_claimed))

    # -- clicks ------------------------------------------------------------------------------

    async def approve(
        self, request_id: str, user: str, channel: str | None, allow_for: float | None = None, *,
        allow_only: bool = False, on_claimed: OnClaimed = None,
    ) -> Decided:  # fmt: skip
        """Claim the request for ``user`` and carry it out in 3CX (``allow_for``: Approve and allow, for that many
        seconds; with ``allow_only``: Allow only the asked address for that long, the block left in place);
        ``Resolved`` with the finished request. ``channel`` None: a click in the Home tab."""
        claimed = await self._decisions.approve(request_id, user, channel, allow_for, allow_only=allow_only)
        return await self._carry_out(claimed, on_claimed)

    async def deny(self, request_id: str, user: str, channel: str | None) -> Decided:
        return await self._decisions.deny(request_id, user, channel)

    async def cancel(self, request_id: str, user: str, channel: str) -> Decided:
        return await self._decisions.cancel(request_id, user, channel)

    async def undo(self, request_id: str, user: str, channel: str, *, on_claimed: OnClaimed = None) -> Decided:
        """Claim the undo and put back in 3CX what the request removed."""
        claimed = await self._decisions.undo(request_id, user, channel)
        return await self._carry_out(claimed, on_claimed)

    async def _carry_out(self, claimed: ClickResult, on_claimed: OnClaimed) -> Decided:
        if not isinstance(claimed, Resolved) or not claimed.request.state.claimed:
            return claimed
        request = claimed.request
        if on_claimed is not None:
            on_claimed(request)
        if request.state is State.EXECUTING:
            finished = await self._execution.execute(request)
        else:
            finished = await self._execution.restore(request)
        return Resolved(finished) if finished is not None else HandedOver(request)

    # -- upkeep ------------------------------------------------------------------------------

    async def expire_due(self) -> list[UnblockRequest]:
        """Expire every pending request past its time; the ones expired."""
        return await self._decisions.expire_due()

    async def recover(self) -> list[UnblockRequest]:
        """Finish the requests a stopped process left half done; the ones finished. That includes a request its
        rule carries out at once (``auto``) that a stopped process opened but never claimed."""
        finished = await self._execution.recover()
        finished += await self._carry_out_left()
        if finished:
            log.warning("finished requests a stopped bot had left", extra={"requests": [r.id for r in finished]})
        return finished

    async def _carry_out_left(self) -> list[UnblockRequest]:
        """Claim and carry out the ``auto`` requests still pending well after they were opened: the process that
        opened one stopped before claiming it (claiming follows opening at once). Nothing to read when no rule
        carries anything out at once."""
        if not any(rule.auto for rule in self.policy.rules.every):
            return []
        before = self.transitions.clock() - self.timing.takeover_after
        finished = []
        for left in await self.store.waiting(AUTO_CHECKED):
            if left.auto and left.created_at < before:
                log.warning("carrying out a request its rule carries out, left by a stopped process",
                            extra={"request": left.id})  # fmt: skip
                done = await self._carry_out(await self._decisions.carry_out_by_rule(left), None)
                if isinstance(done, Resolved):
                    finished.append(done.request)
        return finished

    async def upkeep(self) -> Upkept:
        """Recovery, reminders and escalation every time; expiry every ``expire_every`` seconds."""
        finished = await self.recover()
        reminded, escalated = await self.remind_due()
        now = self.transitions.clock()
        if self._next_expiry is not None and now < self._next_expiry:
            return Upkept(finished, [], reminded=reminded, escalated=escalated)
        self._next_expiry = now + self.expire_every
        return Upkept(finished, await self.expire_due(), swept=True, reminded=reminded, escalated=escalated)

    async def remind_due(self) -> tuple[list[UnblockRequest], list[UnblockRequest]]:
        """Remind the approvers of each request waiting longer than its rule's ``remind_after``, and escalate
        each waiting longer than its ``escalate_after``: each once, ever (a compare-and-set in the store, so
        another replica or a restart does not do it again), never once it was decided or expired. The requests
        whose reminder this process claimed, to send now and then report (``reminder_sent``, or
        ``reminder_not_sent``; a claim left by a process that stopped is claimed again after
        :data:`REMINDER_CLAIM_HOLD`), and those escalated, as they are now. Nothing to read when no rule reminds
        or escalates before requests expire."""
        rules, ttl = self.policy.rules.every, self.timing.ttl
        remind = [rule.remind_after for rule in rules if 0 < rule.remind_after < ttl]
        escalate = [rule.escalate_after for rule in rules if 0 < rule.escalate_after < ttl]
        if not remind and not escalate:
            return [], []
        now = self.transitions.clock()
        reminded: list[UnblockRequest] = []
        escalated: list[UnblockRequest] = []
        waiting = await self.store.still_waiting(
            now, now - min(remind) if remind else None, now - min(escalate) if escalate else None
        )
        for request in waiting:
            if request.auto:  # carried out at once (or by recovery), never waiting for anyone
                continue
            rule = self.policy.rule_for(request)
            waited = now - request.created_at
            if request.reminded_at is None and 0 < rule.remind_after <= waited:
                owner, stale_before = self.transitions.owner, now - REMINDER_CLAIM_HOLD
                claimed = await self.store.claim_reminder(request.id, owner, now, stale_before)
                if claimed is not None:
                    reminded.append(claimed)
            to = rule.escalate_to
            if request.escalation is None and 0 < rule.escalate_after <= waited and (to.users or to.groups):
                escalation = Escalation(now, rule.escalate_after, tuple(sorted(to.users)), tuple(sorted(to.groups)))
                marked = await self.store.mark_escalated(request.id, escalation)
                if marked is not None:
                    log.info("escalated a request still waiting", extra={"request": request.id})
                    escalated.append(marked)
        return reminded, escalated

    async def reminder_sent(self, request: UnblockRequest) -> UnblockRequest:
        """Slack took the reminder of ``request`` (from ``remind_due``): recorded, so it is never sent again."""
        log.info("reminded the approvers of a request still waiting", extra={"request": request.id})
        return await self.store.mark_reminded(request.id, self.transitions.clock()) or request

    async def reminder_not_sent(self, request: UnblockRequest) -> None:
        """Slack did not take the reminder of ``request``: the claim is let go, for the next round to send it."""
        await self.store.release_reminder(request.id, self.transitions.owner)

    # -- the watcher's own requests ------------------------------------------------------------

    async def undone_requests(self) -> UndoneRequests:
        """The last requests undone, anyone's, read once for all the entries one look has the watcher unblock
        (``unblock_seen``)."""
        return UndoneRequests(tuple(await self.store.undone(UNDONE_CHECKED)))

    async def unblock_seen(
        self, watching: Watching, announcement: Announcement, show: Show, earlier: UndoneRequests
    ) -> OpenResult | PutBack:
        """Unblock a new entry the watcher saw whose rule says so (``Watching.unblocks``): a request for it in the
        watch channel, asked by :data:`WATCHER`, which its rule carries out at once, so that it has all a request
        has (one open request per entry, the audit line, history, recovery, Undo). ``show`` shows the request's
        card, which is the entry's announcement: once it is shown, the announcement counts as posted
        (``Watching.shown_in_request``), so whoever looks next does not unblock the entry again.
        ``AlreadyRequested`` when an open request holds the entry already (a person's, or another look's);
        ``PutBack`` when an Undo of one of ``earlier`` (``undone_requests``, read once per look: anyone's request,
        not only the watcher's) put the entry back."""

        async def shown(request: UnblockRequest) -> Shown | NotShown:
            result = await show(request)
            if isinstance(result, Shown) and result.ref is not None:
                await watching.shown_in_request(announcement, result.ref)
            return result

        entry = announcement.entry
        put_back = earlier.put_back(entry)
        if put_back is not None:
            return put_back
        log.info("unblocking a new entry by its rule", extra={"entry": entry.id, "channel": announcement.channel})
        return await self.open([entry], WATCHER, announcement.channel, None, asked_in=None, show=shown)

    # -- reads ------------------------------------------------

    async def get(self, request_id: str) -> UnblockRequest | None:
        return await self.store.get(request_id)

    async def history(self, count: int, channel: str | None) -> list[UnblockRequest]:
        return await self.store.recent(count, channel)

    async def waiting(self, count: int) -> list[UnblockRequest]:
        return await self.store.waiting(count)

    async def waiting_for(
        self, user: str, count: int, waiting: Sequence[UnblockRequest] | None = None
    ) -> list[UnblockRequest]:
        """The newest requests waiting for a decision that ``user`` may approve now, at most ``count``, among the
        newest :data:`WAITING_CHECKED` (``waiting``: as read already, for several people)."""
        among = await self.store.waiting(WAITING_CHECKED) if waiting is None else waiting
        return await self.policy.approvable(user, among, count)

    async def requested_by(self, user: str, count: int) -> list[UnblockRequest]:
        return await self.store.requested_by(user, count)

    async def count_pending(self) -> int:
        return await self.store.count_pending()

    async def unblocks(self, at: float) -> Unblocks:
        """The unblocks of the :data:`~bot.domain.recurrence.WINDOW` before ``at`` (one read of the store), to
        find the earlier unblocks of what a request or a new entry is about (``Unblocks.of``)."""
        return Unblocks(at, tuple(await self.store.unblocked_since(at - RECURRENCE_WINDOW)))
