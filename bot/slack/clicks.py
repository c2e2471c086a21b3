"""Every button and select of the bot's: how its value is read, the work it starts, and the lane it runs in; and
the clicks that decide a request (Approve, Deny, Cancel, Undo, Approve and allow, Allow only, and the Home tab's),
and Extend and End now of an allow entry (``allows``).
Clicks that decide run in a lane of their own, so a burst of commands never delays them; when the bot must refuse
work, the person is told so privately and nothing changes."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass, replace
from functools import partial
from typing import Any, Generic, TypeVar

from ..calls import Lane
from ..domain.actions import UNBLOCK, Action, Does
from ..domain.results import AlreadyResolved, ApprovalRecorded, Decided, Expired, HandedOver, Refused, Resolved
from .allows import allow_clicked
from .answers import Asker
from .buttons import (
    ALLOW_END,
    ALLOW_EXTEND,
    ALLOW_FOR,
    ALLOW_ONLY,
    APPROVE,
    APPROVE_ALLOW,
    BURST_LIST,
    BURST_UNBLOCKED,
    CANCEL,
    CHOOSE,
    DENY,
    HOME_ALLOW_END,
    HOME_APPROVE,
    HOME_DENY,
    LIST_MORE,
    REQUEST_ENTRY,
    UNDO,
    AllowButton,
    BurstButton,
    ChoiceButton,
    EntryButton,
    ExtendButton,
    PageButton,
    RequestButton,
    pbx_of,
)
from .fleet import Fleet
from .use_cases import UseCases
from .views import notes as say
from .views.lists import decided_notice
from .views.notes import refusal as words
from .views.outcome import stale_undo_button

#: what Approve and allow, and Allow only, carry out (for the duration their value names)
_ALLOWING = {APPROVE_ALLOW: Does.UNBLOCK_AND_ALLOW, ALLOW_ONLY: Does.ALLOW_ONLY}


def click(fleet: Fleet, action_id: str, value: str, asker: Asker) -> None:
    """A button clicked, or an option chosen: its work started in its lane; a value the bot could not have made
    only tells the person so."""
    kind = CLICKS[action_id]
    named, value = pbx_of(value)
    button = kind.decode(value)
    if kind.home:
        asker = replace(asker, channel="", response_url=None, home=True)
    if button is None:
        fleet.answers.tell_soon(asker, kind.out_of_date)
    elif not fleet.answers.start_once(
        asker,
        partial(_routed, fleet, kind, button, named, asker, action_id),
        name=f"click-{kind.lane.value}",
        lane=kind.lane,
        pbx=named,
    ):
        fleet.answers.tell_soon(asker, say.BUSY_CLICK)


async def _routed(fleet: Fleet, kind: Click[Any], button: Any, named: str, asker: Asker, action_id: str) -> None:
    """The click's work, for the PBX its value names, or (a card from before the bot named them) its request's;
    or why it does nothing: a PBX the bot does not serve (any more), a person who may not click it there, a
    duration not offered (any more). A value that names another PBX than its request's finds no request there."""
    pbx: str | None = named
    if not named and isinstance(button, RequestButton | AllowButton | ExtendButton) and fleet.one is None:
        request = await fleet.first.requests.reads.get(button.request_id)
        pbx = request.pbx if request is not None else None
    if pbx is None or pbx not in fleet.pbxes:
        await fleet.answers.tell(asker, kind.out_of_date)
        return
    use_cases = fleet.pbxes[pbx].use_cases
    # the Home tab has no channel; in a direct message, the list of a form's request: its channel is the offer's
    # (checked then)
    anywhere = asker.home or (action_id == CHOOSE and asker.in_direct_message)
    refused = None if anywhere else use_cases.requests.may_click_in(asker.channel)
    not_yours = fleet.may_click(pbx, asker, decides=action_id in APPROVERS_CLICK)
    if not_yours is None and refused is not None:
        not_yours = words(refused)
    if not_yours is not None:
        await fleet.answers.tell(asker, not_yours)
    elif isinstance(button, AllowButton) and button.seconds not in use_cases.requests.durations:
        await fleet.answers.tell(asker, say.DURATION_NOT_OFFERED)
    else:
        await kind.work(use_cases, button, asker)


async def decide(use_cases: UseCases, button: RequestButton | AllowButton, asker: Asker, *, action_id: str) -> None:
    """Approve, Deny, Cancel, Undo, Approve and allow or Allow only on a card, Approve or Deny in the Home tab;
    then the card, for a click that moved the request, or a private note."""
    request_id, reply, showing = button.request_id, asker.response_url, use_cases.answers.showing
    channel = None if asker.home else asker.channel  # the Home tab belongs to no channel
    card = await showing.where(request_id)  # (known before the claim: the PBX need not wait for it)
    result: Decided
    if action_id in (DENY, HOME_DENY):
        result = await use_cases.requests.deny(request_id, asker.user, channel)
    elif action_id == CANCEL:
        result = await use_cases.requests.cancel(request_id, asker.user, asker.channel)
    elif action_id == UNDO:
        result = await use_cases.requests.undo(request_id, asker.user, asker.channel, reply=reply)
    else:
        action = Action(_ALLOWING[action_id], float(button.seconds)) if isinstance(button, AllowButton) else UNBLOCK
        result = await use_cases.requests.approve(request_id, asker.user, channel, action, reply=reply)
    if isinstance(result, HandedOver):
        return  # another process took the claim over, finishes the request and shows the outcome
    if isinstance(result, Resolved | ApprovalRecorded):
        await showing.changed(result.request, reply)
        if asker.home:
            await use_cases.answers.tell(asker, decided_notice(result.request))
    elif isinstance(result, Refused):
        await use_cases.answers.tell(asker, words(result.reason))
        if stale_undo_button(result.request, use_cases.clock()):
            await showing.redraw(result.request, card, reply)
    elif isinstance(result, AlreadyResolved):
        await use_cases.answers.tell(asker, say.already_resolved(result.request))
    elif isinstance(result, Expired):
        if result.just_now:
            await showing.changed(result.request, reply)
        await use_cases.answers.tell(asker, say.expired_notice(result.request))
    else:
        await use_cases.answers.tell(asker, say.UNKNOWN_REQUEST)


B = TypeVar("B")


@dataclass(frozen=True, slots=True)
class Click(Generic[B]):
    """A button or a select of the bot's: its value read (None: not one the bot made), the work it starts, what the
    person is told when its value is not one the bot made, and the lane the work runs in."""

    decode: Callable[[str], B | None]
    work: Callable[[UseCases, B, Asker], Coroutine[Any, Any, None]]
    out_of_date: str
    lane: Lane = Lane.COMMANDS
    #: in the bot's Home tab (no channel; answered in the tab)
    home: bool = False


def _decision(action_id: str, decode: Callable[[str], RequestButton | AllowButton | None]) -> Click[Any]:
    work = partial(decide, action_id=action_id)
    return Click(decode, work, say.UNKNOWN_REQUEST, Lane.DECISIONS, home=action_id in (HOME_APPROVE, HOME_DENY))


#: the clicks only a PBX's approvers may make (a person of another workspace only when named by user id)
APPROVERS_CLICK = frozenset({APPROVE, DENY, UNDO, APPROVE_ALLOW, ALLOW_ONLY, HOME_APPROVE, HOME_DENY, ALLOW_EXTEND})
#: every button and select of the bot's, by action id
CLICKS: dict[str, Click[Any]] = {
    **{a: _decision(a, RequestButton.decode) for a in (APPROVE, DENY, CANCEL, UNDO, HOME_APPROVE, HOME_DENY)},
    **{a: _decision(a, AllowButton.decode) for a in (APPROVE_ALLOW, ALLOW_ONLY)},
    ALLOW_FOR: Click(AllowButton.decode, UseCases.choose_duration, say.DURATION_NOT_OFFERED),
    CHOOSE: Click(ChoiceButton.decode, UseCases.choose, say.CHOICE_OUT_OF_DATE),
    LIST_MORE: Click(PageButton.decode, UseCases.more, say.LISTING_OUT_OF_DATE),
    REQUEST_ENTRY: Click(EntryButton.decode, UseCases.entry_clicked, say.UNKNOWN_ENTRY),
    BURST_LIST: Click(BurstButton.decode, UseCases.burst_list, say.LISTING_OUT_OF_DATE),
    BURST_UNBLOCKED: Click(BurstButton.decode, UseCases.unblocked_list, say.LISTING_OUT_OF_DATE),
    # an allow entry's life: Extend and End now under its warning, End now in the Home tab
    ALLOW_EXTEND: Click(
        ExtendButton.decode, partial(allow_clicked, action_id=ALLOW_EXTEND), say.UNKNOWN_REQUEST, Lane.DECISIONS
    ),
    **{
        a: Click(
            RequestButton.decode,
            partial(allow_clicked, action_id=a),
            say.UNKNOWN_REQUEST,
            Lane.DECISIONS,
            home=a == HOME_ALLOW_END,
        )
        for a in (ALLOW_END, HOME_ALLOW_END)
    },
}
