"""The service that owns an allow entry's life once a request added it (see :mod:`bot.domain.allows`): it records
the allow when execution added it (or, as a safety net, finds it in the finished requests), warns before its end,
extends or ends it on a click, and tells once how it ended. Its upkeep minds every allow in force at each round,
asking 3CX at most one query a round whether the entries it has not checked for a while are still there."""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial

from .. import calls
from .actions import Result
from .allow_calls import extend, gone, permit, remove, retried, token, undone
from .allows import (
    CHECK_EVERY,
    CHECKED_PER_ROUND,
    GRACE,
    MINDED,
    SAYING_HOLD,
    TELL_WITHIN,
    Allow,
    AllowAnswer,
    AllowEntries,
    AllowNotices,
    AllowStore,
    AlreadyChanged,
    Cannot,
    Changed,
    How,
    NoAllow,
    Phase,
    Said,
    Unchanged,
    Unrecorded,
    record,
)
from .entries import CallFailed
from .model import Timing, UnblockRequest
from .outcomes import Outcome
from .policy import ApprovalPolicy
from .ports import RequestStore, StoreUnreachable

log = logging.getLogger(__name__)

#: how often upkeep minds the allows (their ends and warnings come minutes apart; a click acts at once)
ROUND_EVERY = 5.0
#: how often upkeep looks in the finished requests for an allow entry that was added but not recorded
ADOPT_EVERY = 300.0
#: how far back it looks (the longest an allow entry may be chosen for)
ADOPT_WITHIN = 90 * 86400.0
#: how many such requests one look reads at most
ADOPT_READ = 200


@dataclass(slots=True)
class AllowLife:
    """The allows of ``store``, the requests that added them in ``requests``, their entries in 3CX's ``entries``,
    said where people read them through ``notices``; who may extend or end one is the request's rule's
    (``policy``). ``owner``: this process, for its claims. ``warn_before``: how long before its end an allow is
    warned about (None: a tenth of its length, at least :data:`~bot.domain.allows.MIN_WARNING`; 0: never)."""

    store: AllowStore
    requests: RequestStore
    entries: AllowEntries
    policy: ApprovalPolicy
    timing: Timing
    clock: Callable[[], float]
    owner: str
    notices: AllowNotices
    warn_before: float | None = None
    _next_adopt: float | None = field(default=None, init=False)
    _next_round: float | None = field(default=None, init=False)

    # -- what execution tells ---------------------------------------------------------------

    async def added(self, request: UnblockRequest, mask: str, result: Result) -> None:
        """``request`` added the allow entry of ``result`` for ``mask``: keep it (once)."""
        seconds, until = request.done.action.allow_for, result.allowed_until
        if result.added_allow is None or until is None or seconds is None:
            return
        await self.store.keep_allow(Allow(request.id, result.added_allow, mask, until - seconds, until, seconds))

    async def undone(self, request: UnblockRequest) -> None:
        """The Undo of ``request`` removed its allow entry."""
        found = await self.store.allow_of(request.id)
        if found is not None:  # its card says it was undone: no message of its own
            await self._ended(found, How.UNDONE, request.done.undone_by, self.clock(), tell=False)

    # -- clicks ---------------------------------------------------------------------------

    async def extend(self, request_id: str, user: str, channel: str | None, seen_end: int) -> AllowAnswer:
        """Extend the allow by its duration (up to its rule's ``allow_max``), once: only the request's approvers,
        in its card's ``channel`` (None: the Home tab), and only the end the button was for (``seen_end``, whole
        seconds), so that two clicks extend it once."""
        found = await self._current(request_id, channel)
        if not isinstance(found, tuple):
            return found
        allow, request = found
        if int(allow.ends_at) != seen_end:
            return AlreadyChanged(allow)
        rule = self.policy.rule_for(request)
        if await self.policy.as_approver(user, request, rule, "extend") is not None:
            return Unchanged(allow, Cannot.NOT_APPROVER)
        adds = allow.extension(rule)
        if adds <= 0:
            return Unchanged(allow, Cannot.AT_MOST, allow_max=rule.allow_max)
        to = float(math.floor(allow.ends_at + adds))  # whole seconds, as 3CX keeps an entry's end
        return await self._change(allow, request, Phase.EXTENDING, user, to)

    async def end(self, request_id: str, user: str, channel: str | None) -> AllowAnswer:
        """End the allow now, once: the request's approvers, or its requester (in its card's ``channel``; None: the
        Home tab)."""
        found = await self._current(request_id, channel)
        if not isinstance(found, tuple):
            return found
        allow, request = found
        if not await self.policy.may_end_allow(user, request):
            return Unchanged(allow, Cannot.NOT_APPROVER_OR_REQUESTER)
        return await self._change(allow, request, Phase.ENDING, user, None)

    async def _change(
        self, allow: Allow, request: UnblockRequest, to: Phase, user: str, extend_to: float | None
    ) -> AllowAnswer:
        """Claim the change (an Extend only of the end it was asked for), then make it under a permit that lets no
        call to 3CX start once another process could take the claim over."""
        claim, started = token(self.owner), time.monotonic()
        ends_at = allow.ends_at if to is Phase.EXTENDING else None
        claimed = await self.store.change_allow(
            allow.request_id, to, user, claim, self.clock(), ends_at=ends_at, extend_to=extend_to
        )
        if claimed is None:
            return await self._lost(allow.request_id)
        with calls.holding(permit(started, self.timing)):
            return await self._carry(claimed, request, claim, started)

    async def _current(
        self, request_id: str, channel: str | None
    ) -> tuple[Allow, UnblockRequest] | NoAllow | AlreadyChanged | Unchanged:
        """The allow in force and its request, clicked in its card's ``channel``; else what became of it (one past
        its end is ended now)."""
        allow, request = await self.store.allow_of(request_id), await self.requests.get(request_id)
        if allow is None or request is None:
            return NoAllow(request_id)
        if channel is not None and channel != request.asked.channel:
            return Unchanged(allow, Cannot.OTHER_CHANNEL)
        if allow.phase is Phase.ACTIVE and allow.ends_at <= self.clock():
            await self._ended(allow, How.EXPIRED, None, allow.ends_at, tell=False)  # told by the next round of upkeep
            return await self._lost(request_id)
        return (allow, request) if allow.phase is Phase.ACTIVE else AlreadyChanged(allow)

    async def _lost(self, request_id: str) -> AlreadyChanged | NoAllow:
        current = await self.store.allow_of(request_id)
        return AlreadyChanged(current) if current is not None else NoAllow(request_id)

    async def _carry(
        self, allow: Allow, request: UnblockRequest, claim: str, started: float, *, again: bool = False
    ) -> AllowAnswer:
        """Make the change held under ``claim`` in 3CX, then record it; a failure lets the claim go. ``again``: after
        a holder stopped, 3CX is asked first what is true (``CallFailed`` when it cannot be: the claim stays)."""
        extending = allow.phase is Phase.EXTENDING
        try:
            there = await (extend if extending else remove)(self.entries, allow, again)
        except Exception as error:  # the allow must not stay claimed whatever happens
            if again and isinstance(error, CallFailed):
                raise  # 3CX could not be asked what the stopped holder did: the claim waits for a later round
            await self.store.release_allow(allow.request_id, claim)
            if not isinstance(error, CallFailed):
                log.exception("unexpected error while changing an allow entry", extra={"request": allow.request_id})
                return Unchanged(
                    allow, Cannot.FAILED, f"internal error ({type(error).__name__})", reason=Outcome.INTERNAL
                )
            log.warning("3CX did not change an allow entry", extra={"request": allow.request_id})
            return Unchanged(allow, Cannot.FAILED, error.answer(), reason=error.reason)
        # 3CX did it: the record is written again while the database is away, as long as the claim is surely held
        until = started + self.timing.takeover_after
        try:
            if extending and there:
                changed = await retried(
                    self.timing, partial(self.store.extended, allow.request_id, claim, self.clock()), until
                )
                if changed is None:
                    return await self._lost(allow.request_id)
                record(changed, "extended", changed.extended_by, added=changed.ends_at - allow.ends_at)
                await self.notices.extended(changed, request)
                return Changed(changed)
            how, by, at = How.END_NOW, allow.change_by, self.clock()
            if not there:
                how, by, at = await gone(self.entries, allow, request, at)
            ended = await self._ended(allow, how, by, at, claim=claim, until=until, tell=False)
        except StoreUnreachable:
            log.warning(
                "3CX changed an allow entry; the database could not record it yet", extra={"request": allow.request_id}
            )
            return Unrecorded(allow)
        if ended is None:
            return await self._lost(allow.request_id)
        with contextlib.suppress(StoreUnreachable):  # else the next round of upkeep tells it
            await self._tell(ended)
        return Changed(ended) if how is How.END_NOW else AlreadyChanged(ended)

    # -- upkeep -----------------------------------------------------------------------------

    async def upkeep(self) -> None:
        """One round, at most every :data:`ROUND_EVERY` seconds: allows past their end ended, warnings due sent,
        changes a stopped process held finished, the ends not told yet told, and a few allows checked against 3CX."""
        now = self.clock()
        if self._next_round is not None and now < self._next_round:
            return
        self._next_round = now + ROUND_EVERY
        await self._adopt(now)
        # two reads, so that neither kind crowds the other out
        minded = [*await self.store.allows_in_force(MINDED), *await self.store.allows_untold(MINDED)]
        for allow in minded:
            try:
                await self._mind(allow, now)
            except CallFailed as error:
                log.warning("3CX could not be asked about an allow entry", extra={"answer": error.answer()})
        await self._check(minded, now)

    async def _mind(self, allow: Allow, now: float) -> None:
        if allow.phase is Phase.ENDED:
            await self._tell(allow)
        elif allow.phase is not Phase.ACTIVE:
            if allow.held_at is None or allow.held_at >= now - self.timing.takeover_after:
                return
            claim, started = token(self.owner), time.monotonic()
            taken = await self.store.take_over_allow(allow.request_id, claim, allow.held_at, now)
            request = await self.requests.get(allow.request_id)
            if taken is not None and request is not None:
                log.warning("finishing a change of an allow entry a stopped bot left", extra={"request": request.id})
                with calls.holding(permit(started, self.timing)):
                    await self._carry(taken, request, claim, started, again=True)
        elif allow.ends_at <= now:
            await self._ended(allow, How.EXPIRED, None, allow.ends_at)
        elif allow.warning_due(now, self.warn_before):
            request = await self.requests.get(allow.request_id)
            if request is not None and await undone(self.entries, allow, request):
                await self._ended(allow, How.UNDONE, request.done.undone_by, now, tell=False)
            else:
                await self._warn(allow, request, now)

    async def _ended(
        self,
        allow: Allow,
        how: How,
        by: str | None,
        at: float,
        *,
        claim: str | None = None,
        until: float = 0.0,
        tell: bool = True,
    ) -> Allow | None:
        """Record how ``allow`` ended (see ``AllowStore.end_allow``; ``claim``: the change held under it, the write
        tried again until ``until``) and, ``tell``, say it: the ended allow, or None when it was not this process's
        to end."""
        write = partial(
            self.store.end_allow, allow.request_id, how, by, at, claim or token(self.owner), held=claim is not None
        )
        ended = await retried(self.timing, write, until)
        if ended is not None:
            record(ended, "ended", by, how=how.value)
            if tell:
                await self._tell(ended)
        return ended

    async def _warn(self, allow: Allow, request: UnblockRequest | None, now: float) -> None:
        """Send the warning this process claims: recorded once delivered (audited when shown), else let go for a
        later round."""
        claimed = await self.store.claim_saying(allow.request_id, self.owner, now, now - SAYING_HOLD, warning=True)
        if claimed is None:
            return
        said = Said.NOWHERE
        if request is not None:
            rule = self.policy.rule_for(request)
            said = await self.notices.warn(claimed, request, claimed.extension(rule), rule.allow_max)
        if said is Said.LATER:
            await self.store.release_saying(claimed.request_id, self.owner)
            return
        await self.store.said(claimed.request_id, self.owner, self.clock(), warned_for=claimed.ends_at)
        if said is Said.SHOWN:
            record(claimed, "warned", None)

    async def _tell(self, ended: Allow) -> None:
        """Tell once how the allow ended (an Undo's is on the card already): claimed, recorded once delivered; one
        that still cannot be delivered :data:`TELL_WITHIN` after its end is given up."""
        now = self.clock()
        claimed = await self.store.claim_saying(ended.request_id, self.owner, now, now - SAYING_HOLD, warning=False)
        if claimed is None:
            return
        request = await self.requests.get(claimed.request_id)
        done = claimed.how is How.UNDONE or request is None or await self.notices.ended(claimed, request)
        if not done:
            if now < (claimed.ended_at or now) + TELL_WITHIN:
                return await self.store.release_saying(claimed.request_id, self.owner)
            log.warning("gave up telling how an allow entry ended", extra={"request": claimed.request_id})
        await self.store.said(claimed.request_id, self.owner, self.clock(), warned_for=None)

    async def _check(self, minded: Sequence[Allow], now: float) -> None:
        """Ask 3CX (one query) whether the allows in force checked longest ago are still listed, none within
        :data:`GRACE` of its end (3CX lifts it then); end those gone."""
        due = [
            allow
            for allow in minded
            if allow.phase is Phase.ACTIVE
            and now < allow.ends_at - GRACE
            and (allow.checked_at is None or allow.checked_at <= now - CHECK_EVERY)
        ]
        due = sorted(due, key=lambda allow: allow.checked_at or 0.0)[:CHECKED_PER_ROUND]
        if not due:
            return
        try:
            listed = await self.entries.still_listed([allow.entry_id for allow in due])
        except CallFailed as error:
            log.warning("3CX could not say which allow entries it lists", extra={"answer": error.answer()})
            return
        await self.store.allows_checked([allow.request_id for allow in due], now)
        for allow in due:
            request = await self.requests.get(allow.request_id) if allow.entry_id not in listed else None
            if request is not None:
                how, by, at = await gone(self.entries, allow, request, now)
                await self._ended(allow, how, by, at)

    async def _adopt(self, now: float) -> None:
        """Keep the allow entries of finished requests that were added but not recorded (the database was away
        then): every :data:`ADOPT_EVERY` seconds."""
        if self._next_adopt is not None and now < self._next_adopt:
            return
        self._next_adopt = now + ADOPT_EVERY
        for request in await self.store.allowing_unkept(now - ADOPT_WITHIN, ADOPT_READ):
            for target, result in zip(request.what.targets, request.done.results, strict=False):
                mask = request.what.address or target.address
                if result.added_allow is None or (result.allowed_until or 0.0) <= now or not mask:
                    continue
                await self.added(request, mask, result)  # one an Undo that failed removed ends as undone when checked
