"""One service owns a request's life: opening it, the clicks that decide it, carrying a decision out on the PBX,
undoing it, and the upkeep that expires what is past its time and finishes what a stopped process left.

The outside (the chat layer) parses what people sent, calls one method here, and renders what it gets back.
What the service needs of the place where people see requests (show a new card, say that a request is being
carried out) is the port it is given (:class:`~bot.domain.ports.Cards`).

A decision claims a request with one compare-and-set (only while it has not expired, checked in the same
statement), so of two clicks at once exactly one wins; the winner of ``pending → executing`` or of ``→ undoing``
then has :class:`~bot.domain.execution.Execution` carry it out in 3CX.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field

from .actions import UNBLOCK, Action
from .allowing import Allowing
from .claims import Claims
from .entries import Kind, Target
from .evidence import Evidence, Witness
from .execution import Execution
from .lookup import asked_inside
from .model import WATCHER, Asked, Decision, Escalation, State, Timing, UnblockRequest, What
from .policy import ApprovalPolicy
from .ports import AlreadyOpen, Cards, Lists, NotShown, RequestStore, Shown
from .reads import Reads
from .results import (
    AlreadyRequested,
    Decided,
    HandedOver,
    NothingToUnblock,
    Opened,
    OpenResult,
    Refusal,
    Resolved,
    Upkept,
    Withdrawn,
)
from .transitions import Transitions

log = logging.getLogger(__name__)

#: how many of the newest pending requests recovery looks at for ``auto`` ones left unclaimed
AUTO_CHECKED = 500
#: a reminder claimed and not recorded sent within this long is a stopped process's: claimed again
REMINDER_CLAIM_HOLD = 120.0


@dataclass(slots=True)
class Requests:
    """A request's life, by the rules of ``policy``, kept in ``store``, carried out in the PBX's ``lists``, shown
    through ``cards``."""

    store: RequestStore
    lists: Lists
    allowing: Allowing
    policy: ApprovalPolicy
    timing: Timing
    transitions: Transitions
    #: how often ``upkeep`` expires what is due (recovery runs every time)
    expire_every: float = 30.0
    cards: Cards = field(kw_only=True)
    reads: Reads = field(kw_only=True)
    #: asks the PBX what it knows about a request's address, for its card (None: nothing is asked)
    witness: Witness | None = field(default=None, kw_only=True)
    #: the name of the PBX whose requests these are ("": the one PBX of a bot that serves one)
    pbx: str = field(default="", kw_only=True)
    #: every duration Approve and allow offers, under some rule (in seconds; the rules stay as they were read)
    durations: frozenset[float] = field(init=False)
    _execution: Execution = field(init=False)
    _claims: Claims = field(init=False)
    _next_expiry: float | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self._execution = Execution(self.lists, self.store, self.timing, self.transitions, self.allowing)
        self._claims = Claims(self.store, self.policy, self.transitions)
        self.durations = frozenset(d for rule in self.policy.rules.every for d in rule.allow)

    # -- where ---------------------------------------------------------------------------------

    def may_request_in(self, channel: str) -> Refusal | None:
        return self.policy.may_request_in(channel)

    def may_click_in(self, channel: str) -> Refusal | None:
        """Whether the bot's buttons work in ``channel``: where requests may be asked for, and the approvals
        channel."""
        return self.policy.may_click_in(channel)

    # -- opening ---------------------------------------------------------------------------

    async def open(
        self,
        targets: Sequence[Target],
        requester: str,
        channel: str,
        reason: str | None,
        *,
        asked_in: str | None,
        asked: str | None = None,
        reply: str | None = None,
    ) -> OpenResult:
        """Open a request for the blocking ones of ``targets`` (as just read from the PBX), whose card goes to
        ``channel``, and show it; one open request per entry. ``asked``: the address or network asked for (when
        it is one address inside the network of the one entry, Allow only is offered). A request whose rule
        needs no approval is carried out at once (``Opened.decided``)."""
        opened = await self.show_new(targets, requester, channel, reason, asked_in=asked_in, asked=asked, reply=reply)
        if not isinstance(opened, Opened) or not opened.request.decision.auto:
            return opened
        return await self.carry_out_by_rule(opened, reply)

    async def show_new(
        self,
        targets: Sequence[Target],
        requester: str,
        channel: str,
        reason: str | None,
        *,
        asked_in: str | None,
        asked: str | None = None,
        reply: str | None = None,
        shown: Shown | None = None,
    ) -> OpenResult:
        """``open``, without carrying out what its rule carries out at once (``carry_out_by_rule`` does).
        ``shown``: the card is one shown already (nothing more is shown)."""
        blocking = [t for t in targets if t.blocks]
        if not blocking:
            return NothingToUnblock()
        inside = None
        if asked is not None and len(blocking) == 1 and blocking[0].kind is Kind.ADDRESS:
            inside = asked_inside(asked, blocking[0])
        about = inside or (blocking[0].address if len(blocking) == 1 else None)
        # what the PBX knows is for the people who decide: a request the watcher opens by its rule has none
        evidence = None
        if about and requester != WATCHER and self.witness is not None:
            evidence = await self.witness.about(about)
        opened = await self._keep_new(blocking, requester, channel, reason, asked_in, inside, evidence)
        if isinstance(opened, AlreadyRequested):
            return opened
        card = shown or await self.cards.show(opened, reply)
        if isinstance(card, NotShown):  # nobody could see it: cancelled, its entries free again
            note = f"the card could not be shown ({card.error})"
            await self.transitions.move(opened, State.CANCELLED, None, note=note)
            return Withdrawn(opened, card.error)
        return Opened(opened, card)

    async def _keep_new(
        self,
        targets: list[Target],
        requester: str,
        channel: str,
        reason: str | None,
        asked_in: str | None,
        address: str | None,
        evidence: Evidence | None,
    ) -> UnblockRequest | AlreadyRequested:
        """Keep a pending request for ``targets`` (``address``: the one address asked for inside the entry's
        network; ``evidence``: what the PBX knew about it), under the rule that decides for them; or the open
        request that already covers one of them."""
        rule = self.policy.rules.rule_for_all(targets)
        for _ in range(2):
            now = self.transitions.clock()
            request = UnblockRequest(
                id=secrets.token_hex(8),
                asked=Asked(requester, channel, now, reason, asked_in if asked_in != channel else None),
                what=What(tuple(targets), address, evidence),
                decision=Decision(now + self.timing.ttl, rule.name, rule.auto, rule.approvals),
                pbx=self.pbx,
            )
            try:
                await self.store.add(request)
            except AlreadyOpen as taken:
                existing = await self.store.get(taken.request_id)
                if existing is None or not existing.state.open:
                    continue  # freed meanwhile
                if existing.state is State.PENDING and now >= existing.decision.expires_at:
                    await self.transitions.move(existing, State.EXPIRED, None)  # its time is up: it frees the entry
                    continue
                return AlreadyRequested(existing)
            self.transitions.made(request, None, requester)
            return request
        raise RuntimeError("could not open a request: its entries stayed taken")

    async def carry_out_by_rule(self, opened: Opened, reply: str | None = None) -> Opened:
        """Claim and carry out a request its rule carries out without approval (``auto``), just opened."""
        claimed = await self._claims.by_rule(opened.request)
        return Opened(opened.request, opened.shown, await self._carry_out(claimed, reply))

    # -- clicks ------------------------------------------------------------------------------

    async def approve(
        self, request_id: str, user: str, channel: str | None, action: Action = UNBLOCK, *, reply: str | None = None
    ) -> Decided:
        """Claim the request for ``user`` and carry ``action`` out on the PBX (exactly once, by construction);
        ``Resolved`` with the finished request. ``channel`` None: a click in the Home tab."""
        claimed = await self._claims.decide(request_id, user, channel, State.EXECUTING, self.policy.may_approve, action)
        return await self._carry_out(claimed, reply)

    async def deny(self, request_id: str, user: str, channel: str | None) -> Decided:
        return await self._claims.decide(request_id, user, channel, State.DENIED, self.policy.may_deny)

    async def cancel(self, request_id: str, user: str, channel: str) -> Decided:
        return await self._claims.decide(request_id, user, channel, State.CANCELLED, self.policy.may_cancel)

    async def undo(self, request_id: str, user: str, channel: str, *, reply: str | None = None) -> Decided:
        """Claim the undo and put back on the PBX what the request removed."""
        return await self._carry_out(await self._claims.undo(request_id, user, channel), reply)

    async def _carry_out(self, claimed: Decided, reply: str | None) -> Decided:
        if not isinstance(claimed, Resolved) or not claimed.request.state.claimed:
            return claimed
        request = claimed.request
        await self.cards.claimed(request, reply)
        finished = await self._execution.carry_out(request)
        return Resolved(finished) if finished is not None else HandedOver(request)

    # -- upkeep ------------------------------------------------------------------------------

    async def expire_due(self) -> list[UnblockRequest]:
        """Expire every pending request past its time; the ones this call expired."""
        expired = []
        for request in await self.store.pending_expired(self.transitions.clock()):
            moved = await self.transitions.move(request, State.EXPIRED, None)
            if moved is not None:
                expired.append(moved)
        return expired

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
            if left.decision.auto and left.asked.at < before:
                log.warning(
                    "carrying out a request its rule carries out, left by a stopped process", extra={"request": left.id}
                )
                done = await self._carry_out(await self._claims.by_rule(left), None)
                if isinstance(done, Resolved):
                    finished.append(done.request)
        return finished

    async def upkeep(self) -> Upkept:
        """Recovery, reminders and escalation every time; expiry every ``expire_every`` seconds."""
        finished = await self.recover()
        reminded, escalated = await self._remind_due()
        now = self.transitions.clock()
        if self._next_expiry is not None and now < self._next_expiry:
            return Upkept(finished, [], reminded=reminded, escalated=escalated)
        self._next_expiry = now + self.expire_every
        return Upkept(finished, await self.expire_due(), swept=True, reminded=reminded, escalated=escalated)

    async def _remind_due(self) -> tuple[list[UnblockRequest], list[UnblockRequest]]:
        """Remind the approvers of each request waiting longer than its rule's ``remind_after``, and escalate
        each waiting longer than its ``escalate_after``: each once, ever (a compare-and-set in the store, so
        another replica or a restart does not do it again), never once it was decided or expired. The requests
        whose reminder this process claimed and delivered (a claim left by a process that stopped is claimed
        again after :data:`REMINDER_CLAIM_HOLD`), and those escalated, as they are now. Nothing to read when no
        rule reminds or escalates before requests expire."""
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
            if request.decision.auto:  # carried out at once (or by recovery), never waiting for anyone
                continue
            rule = self.policy.rule_for(request)
            waited = now - request.asked.at
            if request.decision.reminded_at is None and 0 < rule.remind_after <= waited:
                owner, stale_before = self.transitions.owner, now - REMINDER_CLAIM_HOLD
                claimed = await self.store.claim_reminder(request.id, owner, now, stale_before)
                sent = await self._remind(claimed) if claimed is not None else None
                if sent is not None:
                    reminded.append(sent)
            to = rule.escalate_to
            if request.decision.escalation is None and 0 < rule.escalate_after <= waited and (to.users or to.groups):
                escalation = Escalation(now, rule.escalate_after, tuple(sorted(to.users)), tuple(sorted(to.groups)))
                marked = await self.store.mark_escalated(request.id, escalation)
                if marked is not None:
                    log.info("escalated a request still waiting", extra={"request": request.id})
                    escalated.append(marked)
        return reminded, escalated

    async def _remind(self, request: UnblockRequest) -> UnblockRequest | None:
        """Send the reminder this process claimed: recorded once it was delivered, so it is never sent again (the
        request, as it is then); else the claim is let go, for the next round, in any process, to send it."""
        if not await self.cards.remind(request):
            await self.store.release_reminder(request.id, self.transitions.owner)
            return None
        log.info("reminded the approvers of a request still waiting", extra={"request": request.id})
        return await self.store.mark_reminded(request.id, self.transitions.clock()) or request
