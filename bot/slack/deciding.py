"""The clicks that decide a request (Approve, Deny, Cancel, Undo, Approve and allow, Allow only, and the
duration beside them), in a lane of their own, and what their results show."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from ..calls import Lane
from ..domain.model import WATCHER, State, UnblockRequest
from ..domain.requests import (
    AlreadyResolved,
    ApprovalRecorded,
    Decided,
    Expired,
    HandedOver,
    Refused,
    Requests,
    Resolved,
    Unknown,
)
from .answering import Answering, Asker
from .buttons import ALLOW_ONLY, VERBS, AllowButton, BurstButton, RequestButton
from .views import notes as say
from .views.home import decided_notice
from .views.outcome import stale_undo_button
from .views.refusals import refusal as words
from .views.unblocked_burst import in_burst, unblocked_page

#: how many of the watcher's last requests **Show them all** of a burst it unblocked looks through
BURST_READ = 1000


@dataclass(frozen=True, slots=True, kw_only=True)
class Deciding(Answering):
    """The clicks that decide a request: each calls one method of the service and shows what it returns."""

    requests: Requests
    clock: Callable[[], float]

    def decide(self, action_id: str, button: RequestButton | AllowButton | None, asker: Asker) -> None:
        """Approve, Deny, Cancel, Undo, Approve and allow or Allow only on a card; Approve or Deny in the Home tab."""
        work = partial(self._decide, action_id, button, asker) if button is not None else None
        refusal = say.UNKNOWN_REQUEST
        if isinstance(button, AllowButton) and button.seconds not in self.showing.durations:
            work, refusal = None, say.DURATION_NOT_OFFERED  # a duration the bot does not offer (any more)
        if asker.home:
            self._home_click(asker, work)
        else:
            self._click(asker, work, refusal, Lane.DECISIONS)

    async def _decide(self, action_id: str, button: RequestButton | AllowButton, asker: Asker) -> None:
        requests, request_id, verb = self.requests, button.request_id, VERBS[action_id]
        channel = None if asker.home else asker.channel  # the Home tab belongs to no channel
        card = await self.showing.where(request_id)

        def claimed(request: UnblockRequest) -> None:
            # not awaited: the DELETE must not wait for Slack (the outbox sends the newest version of the card)
            self.showing.card(request, card, asker.response_url)

        result: Decided
        if verb == "approve":
            allow_for = float(button.seconds) if isinstance(button, AllowButton) else None
            only = action_id == ALLOW_ONLY  # the asked address allowed, the network's block left in place
            result = await requests.approve(
                request_id, asker.user, channel, allow_for, allow_only=only, on_claimed=claimed
            )
        elif verb == "deny":
            result = await requests.deny(request_id, asker.user, channel)
        elif verb == "cancel":
            result = await requests.cancel(request_id, asker.user, asker.channel)
        else:
            result = await requests.undo(request_id, asker.user, asker.channel, on_claimed=claimed)
        await self._report(result, asker, card)

    def unblocked_list(self, button: BurstButton | None, asker: Asker) -> None:
        """**Show them all** under the message of a burst the watcher unblocked by the rules (and **More** under its
        pages): the burst's requests, only for the person who asked, each with **Undo** while it is offered."""
        work = partial(self._unblocked_page, button, asker) if button is not None else None
        self._click(asker, work, say.LISTING_OUT_OF_DATE)

    async def _unblocked_page(self, button: BurstButton, asker: Asker) -> None:
        found = in_burst(await self.requests.requested_by(WATCHER, BURST_READ), button, asker.channel)
        await self._tell(asker, *unblocked_page(button, found, self.clock()), replace=button.skip > 0)

    def choose_duration(self, button: AllowButton | None, asker: Asker) -> None:
        """Another duration chosen beside **Approve and allow** or **Allow only**: the card is redrawn so that the
        buttons and their confirmations name it."""
        work = partial(self._choose_duration, button, asker) if button is not None else None
        if button is not None and button.seconds not in self.showing.durations:
            work = None
        self._click(asker, work, say.DURATION_NOT_OFFERED)

    async def _choose_duration(self, button: AllowButton, asker: Asker) -> None:
        request = await self.requests.get(button.request_id)
        if request is not None and request.state is State.PENDING and request.channel == asker.channel:
            ts = await self.showing.where(request.id)
            await self.showing.redraw(request, ts, asker.response_url, chosen=float(button.seconds))

    async def _report(self, result: Decided, asker: Asker, card: str | None) -> None:
        """Show a click's result: the card (the message ``card``) for a click that moved the request, a private
        note otherwise."""
        now = self.clock()
        if isinstance(result, HandedOver):
            return  # another process took the claim over, finishes the request and shows the outcome
        if isinstance(result, Resolved | ApprovalRecorded):
            await self.showing.changed(result.request, asker.response_url)
            if asker.home:
                await self._tell(asker, decided_notice(result.request))
        elif isinstance(result, Refused):
            await self._tell(asker, words(result.reason))
            if stale_undo_button(result.request, now):
                await self.showing.card(result.request, card, asker.response_url)
        elif isinstance(result, AlreadyResolved):
            await self._tell(asker, say.already_resolved(result.request))
        elif isinstance(result, Expired):
            if result.just_now:
                await self.showing.changed(result.request, asker.response_url)
            await self._tell(asker, say.expired_notice(result.request))
        elif isinstance(result, Unknown):
            await self._tell(asker, say.UNKNOWN_REQUEST)
