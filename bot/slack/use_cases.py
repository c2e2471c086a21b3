"""What each command and click means: the bot's use cases (the clicks that decide a request are in
``bot.slack.deciding``, which this class extends).

Listeners (``bot.slack.listeners``) acknowledge Slack and call one method here
with a small typed value. A command's method returns what the acknowledgement
says and starts the rest as background work (``bot.tasks``): nothing that
talks to 3CX, to the database or to Slack's Web API runs before the ack.
Clicks that decide run in a lane of their own, so a burst of commands never
delays them; when the bot must refuse work, the person is told so privately
and nothing changes.

Starting the work, once per delivery, and answering the person privately are
``bot.slack.answering``'s.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from ..domain.model import CallFailed, Kind, Target, UnblockRequest
from ..domain.requests import (
    AlreadyRequested,
    Finder,
    Matches,
    NothingToUnblock,
    NotShown,
    Page,
    Reporting,
    Resolved,
    Shown,
    StoreUnreachable,
    Withdrawn,
)
from .answering import Asker, Work
from .blocks import Blocks
from .buttons import BurstButton, ChoiceButton, EntryButton, PageButton
from .command_text import (
    MIN_NUMBER_DIGITS,
    USAGE,
    InvalidCommand,
    ListEntries,
    ShowHelp,
    ShowHistory,
    ShowReport,
    Unblock,
    UnblockAddress,
    UnblockEntry,
    UnblockNumber,
    number_hint,
    parse_command,
)
from .deciding import Deciding
from .state import Offer
from .views import notes as say
from .views.lists import chooser, history, listing
from .views.notices import waiting_in
from .views.refusals import refusal as words
from .views.report import ONLY_APPROVERS, report
from .views.watch import burst_page

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class UseCases(Deciding):
    """What each command and click means, with what it needs to do it (the clicks that decide a request are
    :class:`~bot.slack.deciding.Deciding`'s)."""

    finder: Finder
    #: the figures of ``/unblock report``
    reporting: Reporting
    require_reason: bool = False
    #: ``https://acme.slack.com/``, for links to cards; None when unknown
    workspace_url: str | None = None
    #: where every approval card goes; None: where the command was typed
    approval_channel: str | None = None

    # -- /unblock ----------------------------------------------------------------------------

    def command(self, text: str, asker: Asker) -> str | None:
        """``/unblock <text>``: the acknowledgement's text (None: an empty one); the work it asks for is started."""
        try:
            parsed = parse_command(text, require_reason=self.require_reason)
        except InvalidCommand as error:
            return error.message
        if isinstance(parsed, ShowHelp):
            return USAGE
        return self.start(parsed, asker)

    def start(self, parsed: Unblock | ListEntries | ShowHistory | ShowReport, asker: Asker) -> str | None:
        """Start the work ``parsed`` asks for (as ``/unblock`` gave it); what to tell the person at once (a refusal,
        or that the bot is busy), or None."""
        refusal = self.policy.may_request_in(asker.channel)
        if refusal is not None:
            return words(refusal)
        # an empty acknowledgement: Slack cannot replace it through the command's reply URL (it would post a second
        # note), so the answer that follows is the one note the person gets, unless 3CX is slow to give it
        if not self.start_once(asker, *self.work_for(parsed, asker), name=f"command-{type(parsed).__name__}"):
            return say.BUSY
        return None

    def work_for(
        self, parsed: Unblock | ListEntries | ShowHistory | ShowReport, asker: Asker
    ) -> tuple[Work, str | None]:
        """The work ``parsed`` asks for (in a channel where the person may ask), and what to tell them when 3CX is
        slow to answer it (None: nothing)."""
        if isinstance(parsed, UnblockEntry):
            work = partial(self._request_entry, parsed, asker, typed=True)
            return work, say.looking_up_entry(parsed.entry_id)
        if isinstance(parsed, UnblockAddress):
            find: Callable[[], Awaitable[Matches]] = partial(self.finder.address, parsed.network)
            work = partial(self._request_matches, parsed.shown, Kind.ADDRESS, find, parsed.reason, asker)
            return work, say.looking_for_address(parsed.shown)
        if isinstance(parsed, UnblockNumber):
            find = partial(self.finder.number, parsed.number)
            work = partial(self._request_matches, parsed.number, Kind.NUMBER, find, parsed.reason, asker)
            return work, say.looking_for_number(parsed.number)
        if isinstance(parsed, ListEntries):
            return partial(self._list, parsed.text, 0, asker), None
        if isinstance(parsed, ShowReport):
            return partial(self._show_report, parsed, asker), None
        return partial(self._history, parsed, asker), None

    async def _request_entry(self, command: UnblockEntry, asker: Asker, *, typed: bool = False) -> None:
        """Open a request for one entry of the IP blocklist (``typed``: its id was typed, and may have been meant as
        a caller number)."""
        what = f"IP blocklist entry {command.entry_id}"
        try:
            entry = await self.finder.entry(command.entry_id)
        except CallFailed as error:
            digits = str(command.entry_id)
            or_else = number_hint(digits) if typed and len(digits) >= MIN_NUMBER_DIGITS else None
            await self._lookup_failed(error, what, asker, or_else=or_else)
            return
        if not entry.blocks:
            await self._tell(asker, say.an_allow_entry(entry))
            return
        await self._open_and_post([entry], asker, command.reason)

    async def _request_matches(
        self, asked: str, kind: Kind, find: Callable[[], Awaitable[Matches]], reason: str | None, asker: Asker
    ) -> None:
        try:
            matches = await find()
        except CallFailed as error:
            listed = "caller-number blacklist" if kind is Kind.NUMBER else "IP blocklist"
            await self._lookup_failed(error, f"{listed} entry for {asked}", asker)
            return
        if not matches.blocking:
            await self._tell(asker, say.no_match(asked, kind, matches))
        elif len(matches.blocking) == 1 and not matches.truncated:
            only = matches.blocking[0]
            inside = asked_inside(asked, only) if kind is Kind.ADDRESS else None
            await self._open_and_post([only], asker, reason, asked_address=inside)
        else:
            offer = await self.remembered.offer(
                kind, [t.id for t in matches.blocking], reason, asker.channel, asker.user
            )
            await self._tell(asker, *chooser(asked, kind, matches, offer.id))

    async def _open_and_post(
        self, targets: list[Target], asker: Asker, reason: str | None, *, asked_address: str | None = None
    ) -> None:
        """Open a request for ``targets`` and post its card (``asked_address``: the one address asked for, inside
        the network of its one entry, so that Allow only is offered)."""
        where = self.approval_channel or asker.channel

        # the command's reply URL can post only where the command was typed
        reply_url = asker.response_url if where == asker.channel else None
        posted: list[str] = []

        async def show(request: UnblockRequest) -> Shown | NotShown:
            shown = await self.showing.post_card(request.id, where, *await self.showing.drawn(request), reply_url)
            if isinstance(shown, Shown) and shown.ref is not None:
                posted.append(shown.ref)
            return shown

        def claimed(request: UnblockRequest) -> None:  # its rule carries it out at once
            self.showing.card(request, posted[0] if posted else None, reply_url)

        opened = await self.requests.open(
            targets,
            asker.user,
            where,
            reason,
            asked_in=asker.channel,
            show=show,
            on_claimed=claimed,
            asked_address=asked_address,
        )
        if isinstance(opened, AlreadyRequested):
            card = await self.showing.where(opened.request.id)
            await self._tell(asker, say.already_requested(opened.request, card, self.workspace_url, asker.user))
        elif isinstance(opened, NothingToUnblock):  # the callers open requests only for entries that block
            await self._tell(asker, say.NOTHING_CHOSEN_BLOCKS)
        elif isinstance(opened, Withdrawn):
            # nobody could see it, so nobody could decide it: it was withdrawn and holds no entry
            await self._tell(asker, say.card_not_posted(opened.reason))
        elif opened.decided is not None:
            # its rule carried it out: shown like a decision (the card, the requester, the Home tabs)
            if isinstance(opened.decided, Resolved):
                await self.showing.changed(opened.decided.request, reply_url)
        else:
            if opened.request.asked_in is not None:
                link = await self.delivery.link(where, opened.shown.ref)
                await self._tell(asker, waiting_in(opened.request, link))
            await self.showing.homes(opened.request)

    async def _list(self, text: str | None, skip: int, asker: Asker, *, replace: bool = False) -> None:
        await self._page(partial(self.finder.newest, text, skip=skip), partial(listing, text), asker, replace)

    async def _page(
        self, read: Callable[[], Awaitable[Page]], show: Callable[[Page], tuple[str, Blocks]], asker: Asker,
        replace: bool,
    ) -> None:  # fmt: skip
        """A page of the blocklist, only for the person who asked (``replace``: instead of the page before)."""
        try:
            page = await read()
        except CallFailed as error:
            await self._lookup_failed(error, "IP blocklist", asker)
            return
        await self._tell(asker, *show(page), replace=replace)

    async def _history(self, command: ShowHistory, asker: Asker) -> None:
        # approvers see every channel's requests; anyone else only those made where they ask
        everywhere = await self.policy.is_approver(asker.user)
        requests = await self.requests.history(command.count, None if everywhere else asker.channel)
        await self._tell(asker, *history(requests, everywhere))

    async def _show_report(self, command: ShowReport, asker: Asker) -> None:
        if not await self.policy.is_approver(asker.user):
            await self._tell(asker, ONLY_APPROVERS)
            return
        figures = await self.reporting.of_days(command.days)
        await self._tell(asker, *report(figures, command.days, self.reporting.weekly.zone))

    # -- other clicks -----------------------------------------------------------------------

    def home_opened(self, user: str) -> None:
        """Someone opened the bot's Home tab: it is drawn for them anew."""
        self.work.spawn(self._home_opened(user), name="home-opened")

    async def _home_opened(self, user: str) -> None:
        try:
            await self.remembered.home_opened(user)
            await self.showing.home(user)
        except StoreUnreachable as error:
            log.error("could not draw a Home tab: the database did not answer", extra={"problem": str(error)})

    def choose(self, button: ChoiceButton | None, asker: Asker) -> None:
        """**Unblock this** or **Unblock all** in a list of matches."""
        work = partial(self._choose, button, asker) if button is not None else None
        if work is not None and in_direct_message(asker):  # the list of a form's request: its channel is the offer's
            if not self.start_once(asker, work, name="click-commands"):
                self.tell_soon(asker, say.BUSY_CLICK)
            return
        self._click(asker, work, say.CHOICE_OUT_OF_DATE)

    async def _choose(self, button: ChoiceButton, asker: Asker) -> None:
        offer = await self.remembered.offered(button.choice_id)
        asked = asker
        if offer is not None and in_direct_message(asker) and offer.user == asker.user:
            # offered in a direct message (after a form, which has no reply URL): asked in the offer's channel
            refusal = self.policy.may_request_in(offer.channel)
            if refusal is not None:
                await self._tell(asker, words(refusal))
                return
            asked = replace(asker, channel=offer.channel, response_url=None)
        if offer is None or offer.channel != asked.channel or offer.user != asker.user:
            await self._tell(asker, say.CHOICE_OUT_OF_DATE)
            return
        if button.pick is not None and button.pick >= len(offer.ids):
            await self._tell(asker, say.CHOICE_OUT_OF_DATE)
            return
        ids = offer.ids if button.pick is None else (offer.ids[button.pick],)
        targets = await self._read(offer, ids, asker)
        if targets is None:
            return
        blocking = [t for t in targets if t.blocks]
        if not blocking:
            await self._tell(asker, say.NOTHING_CHOSEN_BLOCKS)
            return
        await self._tell(asker, say.asked_approvers(blocking), replace=True)
        await self._open_and_post(blocking, asked, offer.reason)

    async def _read(self, offer: Offer, ids: tuple[int | str, ...], asker: Asker) -> list[Target] | None:
        """The chosen entries as 3CX has them now (None when 3CX could not say; the person was told)."""
        try:
            if offer.kind is Kind.ADDRESS:
                return [*await self.finder.entries([int(i) for i in ids])]
            return [*await self.finder.numbers([str(i) for i in ids])]
        except CallFailed as error:
            await self._tell(asker, say.lookup_failure(error, "chosen entry"))
            return None

    def more(self, button: PageButton | None, asker: Asker) -> None:
        """**More** under a listing."""
        work = partial(self._list, button.text, button.skip, asker, replace=True) if button is not None else None
        self._click(asker, work, say.LISTING_OUT_OF_DATE)

    def request_entry(self, button: EntryButton | None, asker: Asker) -> None:
        """**Request unblock** on an announcement of a new block: as ``/unblock <id>`` typed there."""
        work = partial(self._request_entry, UnblockEntry(button.entry_id), asker) if button is not None else None
        self._click(asker, work, say.UNKNOWN_ENTRY)

    def burst_list(self, button: BurstButton | None, asker: Asker) -> None:
        """**Show them all** under a summary of a burst, and **More** under its pages."""
        work = partial(self._burst_page, button, asker) if button is not None else None
        self._click(asker, work, say.LISTING_OUT_OF_DATE)

    async def _burst_page(self, button: BurstButton, asker: Asker) -> None:
        read = partial(self.finder.between, button.first_id, button.last_id, skip=button.skip)
        await self._page(read, partial(burst_page, button), asker, replace=button.skip > 0)


def use_cases_of(context: Mapping[str, Any]) -> UseCases:
    """The use cases, from the context of a Bolt listener (``bot.slack.listeners.Admit`` put them there)."""
    use_cases = context["use_cases"]
    assert isinstance(use_cases, UseCases)
    return use_cases


def in_direct_message(asker: Asker) -> bool:
    """The click was made in a direct message with the bot (where the notes after a form go)."""
    return asker.channel.startswith("D") and not asker.home


def asked_inside(asked: str, entry: Target) -> str | None:
    """``asked`` when it is one address and ``entry`` blocks a wider network holding it (Allow only is then
    offered: an allow entry for that address alone); None otherwise (a network asked for, the entry for the
    address itself)."""
    try:
        address = ipaddress.ip_address(asked.strip())
        blocked = ipaddress.ip_network((entry.address or "").strip(), strict=False)
    except ValueError:
        return None
    inside = address.version == blocked.version and address in blocked
    return str(address) if inside and blocked.prefixlen < blocked.max_prefixlen else None
