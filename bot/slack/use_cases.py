"""What each command and click means: the bot's use cases, in one place.

Listeners (``bot.slack.listeners``) acknowledge Slack and call one method here
with a small typed value. A command's method returns what the acknowledgement
says and starts the rest as background work (``bot.tasks``): nothing that
talks to 3CX, to the database or to Slack's Web API runs before the ack.
Clicks that decide run in a lane of their own, so a burst of commands never
delays them; when the bot must refuse work, the person is told so privately
and nothing changes.

Every delivery is handled at most once: its work starts by recording Slack's
identifier of the delivery (its ``trigger_id``, which Slack keeps across its
retries) in the store that every replica shares. A delivery seen before does
nothing, whichever process receives it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from functools import partial
from typing import Any

from ..calls import Lane
from ..command_text import (
    USAGE,
    InvalidCommand,
    ListEntries,
    ShowHelp,
    ShowHistory,
    UnblockAddress,
    UnblockEntry,
    UnblockNumber,
    parse_command,
)
from ..lookup import Finder, Matches
from ..policy import ApprovalPolicy
from ..storage import StoreUnreachable
from ..tasks import BackgroundWork
from ..threecx import Target, ThreeCXError
from ..unblock import (
    AlreadyRequested,
    AlreadyResolved,
    ClickResult,
    Expired,
    Offer,
    Refused,
    Resolved,
    State,
    UnblockRequest,
    UnblockService,
    Unknown,
)
from . import messages as say
from .buttons import APPROVE, CANCEL, DENY, UNDO, ChoiceButton, PageButton, RequestButton
from .delivery import CardDelivery, NotPosted

log = logging.getLogger(__name__)

#: the work a command or a click starts, made only when it runs
Work = Callable[[], Coroutine[Any, Any, None]]


@dataclass(frozen=True, slots=True)
class Asker:
    """Who typed the command or clicked, where, and how to answer them privately."""

    user: str
    channel: str
    response_url: str | None
    #: what Slack keeps the same across its retries of this delivery (its trigger_id); "" when unknown
    delivery: str = ""


class UseCases:
    def __init__(
        self,
        service: UnblockService,
        finder: Finder,
        policy: ApprovalPolicy,
        work: BackgroundWork,
        delivery: CardDelivery,
        *,
        clock: Callable[[], float],
        require_reason: bool = False,
        workspace_url: str | None = None,
    ) -> None:
        self._service = service
        self._finder = finder
        self._policy = policy
        self._work = work
        self._delivery = delivery
        self._clock = clock
        self._require_reason = require_reason
        #: ``https://acme.slack.com/``, for links to cards; None when unknown
        self._workspace_url = workspace_url

    # -- /unblock ----------------------------------------------------------------------------

    def command(self, text: str, asker: Asker) -> str | None:
        """``/unblock <text>``: the acknowledgement's text (None: an empty one); the work it asks for is started."""
        try:
            parsed = parse_command(text, require_reason=self._require_reason)
        except InvalidCommand as error:
            return error.message
        if isinstance(parsed, ShowHelp):
            return USAGE
        refusal = self._policy.may_request_in(asker.channel)
        if refusal is not None:
            return refusal
        work: Work
        if isinstance(parsed, UnblockEntry):
            work, progress = partial(self._request_entry, parsed, asker), say.looking_up_entry(parsed.entry_id)
        elif isinstance(parsed, UnblockAddress):
            find: Callable[[], Awaitable[Matches]] = partial(self._finder.address, parsed.network)
            work = partial(self._request_matches, parsed.shown, "address", find, parsed.reason, asker)
            progress = say.looking_for_address(parsed.shown)
        elif isinstance(parsed, UnblockNumber):
            find = partial(self._finder.number, parsed.number)
            work = partial(self._request_matches, parsed.number, "number", find, parsed.reason, asker)
            progress = say.looking_for_number(parsed.number)
        elif isinstance(parsed, ListEntries):
            work, progress = partial(self._list, parsed.text, 0, asker), None
        else:
            work, progress = partial(self._history, parsed, asker), None
        if not self._work.spawn(self._once(asker, work), name=f"command-{type(parsed).__name__}"):
            return say.BUSY
        return progress

    async def _request_entry(self, command: UnblockEntry, asker: Asker) -> None:
        what = f"IP blocklist entry {command.entry_id}"
        try:
            entry = await self._finder.entry(command.entry_id)
        except ThreeCXError as error:
            await self._lookup_failed(error, what, asker)
            return
        if not entry.blocks:
            await self._tell(asker, say.an_allow_entry(entry))
            return
        await self._open_and_post([entry], asker, command.reason)

    async def _request_matches(
        self, asked: str, kind: str, find: Callable[[], Awaitable[Matches]], reason: str | None, asker: Asker
    ) -> None:
        try:
            matches = await find()
        except ThreeCXError as error:
            await self._lookup_failed(error, f"blocklist entry for {asked}", asker)
            return
        if not matches.blocking:
            await self._tell(asker, say.no_match(asked, matches))
        elif len(matches.blocking) == 1 and not matches.truncated:
            await self._open_and_post(list(matches.blocking), asker, reason)
        else:
            offer = await self._service.offer(kind, [t.id for t in matches.blocking], reason, asker.channel, asker.user)
            await self._tell(asker, *say.chooser(asked, kind, matches, offer.id))

    async def _open_and_post(self, targets: list[Target], asker: Asker, reason: str | None) -> None:
        opened = await self._service.open_request(targets, asker.user, asker.channel, reason)
        if isinstance(opened, AlreadyRequested):
            await self._tell(asker, say.already_requested(opened.request, self._workspace_url))
            return
        posted = await self._delivery.post_card(asker.channel, *say.request_card(opened), asker.response_url)
        if isinstance(posted, NotPosted):
            # nobody can see it, so nobody could decide it: it must not hold its entries
            await self._service.withdraw(opened, f"the card could not be posted in Slack ({posted.error})")
            await self._tell(asker, say.card_not_posted(posted.error))
        elif posted.ts is not None:
            await self._service.card_posted(opened.id, posted.ts)

    async def _list(self, text: str | None, skip: int, asker: Asker, *, replace: bool = False) -> None:
        try:
            page = await self._finder.newest(text, skip=skip)
        except ThreeCXError as error:
            await self._lookup_failed(error, "blocklist", asker)
            return
        await self._tell(asker, *say.listing(text, page), replace=replace)

    async def _history(self, command: ShowHistory, asker: Asker) -> None:
        # approvers see every channel's requests; anyone else only those made where they ask
        everywhere = await self._policy.is_approver(asker.user)
        requests = await self._service.history(command.count, None if everywhere else asker.channel)
        await self._tell(asker, *say.history(requests, everywhere))

    # -- clicks -------------------------------------------------------------------------------

    def decide(self, action_id: str, button: RequestButton | None, asker: Asker) -> None:
        """Approve, Deny, Cancel or Undo on a card."""
        if not self._click_allowed(asker):
            return
        if button is None:
            self._tell_soon(asker, say.unknown_request())
            return
        work = self._once(asker, partial(self._decide, action_id, button.request_id, asker))
        if not self._work.spawn(work, name=f"{action_id}-{button.request_id}", lane=Lane.DECISIONS):
            self._tell_soon(asker, say.BUSY_CLICK)

    async def _decide(self, action_id: str, request_id: str, asker: Asker) -> None:
        service = self._service
        decide = {APPROVE: service.approve, DENY: service.deny, CANCEL: service.cancel, UNDO: service.undo}[action_id]
        result = await decide(request_id, asker.user, asker.channel)
        await self._report(result, asker)

    def choose(self, button: ChoiceButton | None, asker: Asker) -> None:
        """**Unblock this** or **Unblock all** in a list of matches."""
        if not self._click_allowed(asker):
            return
        if button is None:
            self._tell_soon(asker, say.CHOICE_OUT_OF_DATE)
            return
        if not self._work.spawn(self._once(asker, partial(self._choose, button, asker)), name="choose"):
            self._tell_soon(asker, say.BUSY_CLICK)

    async def _choose(self, button: ChoiceButton, asker: Asker) -> None:
        offer = await self._service.offered(button.choice_id)
        if offer is None or offer.channel != asker.channel or offer.user != asker.user:
            await self._tell(asker, say.CHOICE_OUT_OF_DATE)
            return
        if button.pick is not None and button.pick >= len(offer.ids):
            await self._tell(asker, say.CHOICE_OUT_OF_DATE)
            return
        ids = offer.ids if button.pick is None else (offer.ids[button.pick],)
        targets = await self._read(offer, ids, asker)
        if targets is None:
            return
        targets = [t for t in targets if t.blocks]
        if not targets:
            await self._tell(asker, say.NOTHING_CHOSEN_BLOCKS)
            return
        await self._tell(asker, say.asked_approvers(targets), replace=True)
        await self._open_and_post(targets, asker, offer.reason)

    async def _read(self, offer: Offer, ids: tuple[int | str, ...], asker: Asker) -> list[Target] | None:
        """The chosen entries as 3CX has them now (None when 3CX could not say; the person was told)."""
        try:
            if offer.kind == "address":
                return [*await self._finder.entries([int(i) for i in ids])]
            return [*await self._finder.numbers([str(i) for i in ids])]
        except ThreeCXError as error:
            await self._tell(asker, say.lookup_failure(error, "chosen entry"))
            return None

    def more(self, button: PageButton | None, asker: Asker) -> None:
        """**More** under a listing."""
        if not self._click_allowed(asker):
            return
        if button is None:
            self._tell_soon(asker, say.LISTING_OUT_OF_DATE)
            return
        work = self._once(asker, partial(self._list, button.text, button.skip, asker, replace=True))
        if not self._work.spawn(work, name="list"):
            self._tell_soon(asker, say.BUSY_CLICK)

    # -- telling people ----------------------------------------------------------------------

    async def _report(self, result: ClickResult, asker: Asker) -> None:
        """Show a click's result: the card for a click that moved the request, a private note otherwise."""
        now = self._clock()
        if isinstance(result, Resolved):
            request = result.request
            # not awaited: the DELETE must not wait for Slack (the outbox sends the newest version of the card)
            self._delivery.update_card(request, *say.outcome_card(request, now), asker.response_url)
            finished: UnblockRequest | None
            if request.state is State.EXECUTING:
                finished = await self._service.execute(request)
            elif request.state is State.UNDOING:
                finished = await self._service.restore(request)
            else:
                return
            if finished is not None:  # else another process took the claim over and shows the outcome
                await self._delivery.update_card(finished, *say.outcome_card(finished, self._clock()),
                                                 asker.response_url)  # fmt: skip
        elif isinstance(result, Refused):
            await self._tell(asker, result.reason)
            if say.stale_undo_button(result.request, now):
                await self._delivery.update_card(result.request, *say.outcome_card(result.request, now),
                                                 asker.response_url)  # fmt: skip
        elif isinstance(result, AlreadyResolved):
            await self._tell(asker, say.already_resolved(result.request))
        elif isinstance(result, Expired):
            if result.just_now:
                await self._delivery.update_card(result.request, *say.outcome_card(result.request, now),
                                                 asker.response_url)  # fmt: skip
            await self._tell(asker, say.expired_notice(result.request))
        elif isinstance(result, Unknown):
            await self._tell(asker, say.unknown_request())

    async def _lookup_failed(self, error: ThreeCXError, what: str, asker: Asker) -> None:
        log.info("3CX lookup failed", extra={"what": what, "user": asker.user, "answer": error.answer()})
        await self._tell(asker, say.lookup_failure(error, what))

    async def _tell(
        self, asker: Asker, text: str, blocks: list[dict[str, Any]] | None = None, *, replace: bool = False
    ) -> None:
        await self._delivery.tell(asker.channel, asker.response_url, text, blocks, replace=replace)

    def refuse(self, asker: Asker, text: str) -> None:
        """Tell someone privately why their command or click does nothing (nothing else happens)."""
        self._tell_soon(asker, text)

    def _tell_soon(self, asker: Asker, text: str) -> None:
        """A note sent without waiting for it (from a listener, right after the ack)."""
        self._delivery.tell(asker.channel, asker.response_url, text)

    def _click_allowed(self, asker: Asker) -> bool:
        refusal = self._policy.may_request_in(asker.channel)
        if refusal is not None:
            self._tell_soon(asker, refusal)
            return False
        return True

    async def _once(self, asker: Asker, work: Work) -> None:
        """Do ``work`` unless this delivery was handled before (Slack's retry, or a replay). When the
        database stays away for longer than the bot waits, the person is told that nothing was done."""
        try:
            if asker.delivery and not await self._service.first_delivery(f"delivery:{asker.delivery}"):
                log.info("ignored a repeated delivery", extra={"user": asker.user})
                return
            await work()
        except StoreUnreachable as error:
            log.error("gave up on a command or click: the database did not answer", extra={"problem": str(error)})
            await self._tell(asker, say.DATABASE_AWAY)
