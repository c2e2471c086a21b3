"""The clicks that decide a request (Approve, Deny, Cancel, Undo, Approve and allow, Allow only, and the
duration beside them), and the list of a burst the watcher unblocked: each makes one call to the request service
and shows what it answers. Started by the use cases (``bot.slack.use_cases``), in the lane of decisions."""

from __future__ import annotations

from collections.abc import Callable

from ..domain.actions import UNBLOCK, Action, Does
from ..domain.model import WATCHER, State
from ..domain.requests import Requests
from ..domain.results import AlreadyResolved, ApprovalRecorded, Decided, Expired, HandedOver, Refused, Resolved
from .answering import Answers, Asker
from .buttons import (
    ALLOW_ONLY,
    APPROVE,
    APPROVE_ALLOW,
    CANCEL,
    DENY,
    HOME_APPROVE,
    HOME_DENY,
    AllowButton,
    BurstButton,
    RequestButton,
)
from .views import notes as say
from .views.lists import decided_notice
from .views.notes import refusal as words
from .views.outcome import stale_undo_button
from .views.watch import in_burst, unblocked_page

#: how many of the watcher's last requests **Show them all** of a burst it unblocked looks through
BURST_READ = 1000


async def decide(
    requests: Requests,
    answers: Answers,
    clock: Callable[[], float],
    action_id: str,
    button: RequestButton | AllowButton,
    asker: Asker,
) -> None:
    request_id, reply = button.request_id, asker.response_url
    channel = None if asker.home else asker.channel  # the Home tab belongs to no channel
    card = await answers.showing.where(request_id)  # (known before the claim: the PBX need not wait for it)
    result: Decided
    if action_id in (APPROVE, APPROVE_ALLOW, ALLOW_ONLY, HOME_APPROVE):
        action = UNBLOCK
        if isinstance(button, AllowButton):
            does = Does.ALLOW_ONLY if action_id == ALLOW_ONLY else Does.UNBLOCK_AND_ALLOW
            action = Action(does, float(button.seconds))
        result = await requests.approve(request_id, asker.user, channel, action, reply=reply)
    elif action_id in (DENY, HOME_DENY):
        result = await requests.deny(request_id, asker.user, channel)
    elif action_id == CANCEL:
        result = await requests.cancel(request_id, asker.user, asker.channel)
    else:
        result = await requests.undo(request_id, asker.user, asker.channel, reply=reply)
    await show(answers, clock, result, asker, card)


async def show(answers: Answers, clock: Callable[[], float], result: Decided, asker: Asker, card: str | None) -> None:
    """Show a click's result: the card (the message ``card``) for a click that moved the request, a private note
    otherwise."""
    showing, tell = answers.showing, answers.tell
    if isinstance(result, HandedOver):
        return  # another process took the claim over, finishes the request and shows the outcome
    if isinstance(result, Resolved | ApprovalRecorded):
        await showing.changed(result.request, asker.response_url)
        if asker.home:
            await tell(asker, decided_notice(result.request))
    elif isinstance(result, Refused):
        await tell(asker, words(result.reason))
        if stale_undo_button(result.request, clock()):
            await showing.redraw(result.request, card, asker.response_url)
    elif isinstance(result, AlreadyResolved):
        await tell(asker, say.already_resolved(result.request))
    elif isinstance(result, Expired):
        if result.just_now:
            await showing.changed(result.request, asker.response_url)
        await tell(asker, say.expired_notice(result.request))
    else:
        await tell(asker, say.UNKNOWN_REQUEST)


async def choose_duration(requests: Requests, answers: Answers, button: AllowButton, asker: Asker) -> None:
    """The card redrawn so that its buttons and their confirmations name the duration chosen."""
    request = await requests.reads.get(button.request_id)
    if request is not None and request.state is State.PENDING and request.asked.channel == asker.channel:
        ts = await answers.showing.where(request.id)
        await answers.showing.redraw(request, ts, asker.response_url, chosen=float(button.seconds))


async def burst_requests(
    requests: Requests, answers: Answers, clock: Callable[[], float], button: BurstButton, asker: Asker
) -> None:
    """A page of the requests of a burst the watcher unblocked, each with **Undo** while it is offered."""
    found = in_burst(await requests.reads.requested_by(WATCHER, BURST_READ), button, asker.channel)
    await answers.tell(asker, *unblocked_page(button, found, clock()), replace=button.skip > 0)
