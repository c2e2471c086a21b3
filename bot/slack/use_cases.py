"""What each command and click means: the bot's use cases.

Listeners (``bot.slack.listeners``) acknowledge Slack and call one method here. A command's method returns what the
acknowledgement says and starts the rest as background work (``bot.tasks``): nothing that talks to 3CX, to the
database or to Slack's Web API runs before the ack. Each piece of work makes one call to the request service
(``bot.domain.requests.Requests``) and renders what it answers. Clicks that decide run in a lane of their own, so a
burst of commands never delays them; when the bot must refuse work, the person is told so privately and nothing
changes.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, tzinfo
from functools import partial
from typing import Any

from ..domain.allow_life import AllowLife
from ..domain.entries import CallFailed, Kind, Target
from ..domain.lookup import Finder, Page
from ..domain.model import WATCHER, State
from ..domain.ports import StoreUnreachable
from ..domain.requests import Requests
from ..domain.results import (
    AlreadyRequested,
    NothingToUnblock,
    Resolved,
    Withdrawn,
)
from .answers import Answers, Asker, Work
from .blocks import Blocks
from .buttons import (
    AllowButton,
    BurstButton,
    ChoiceButton,
    EntryButton,
    PageButton,
)
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
from .views import notes as say
from .views.lists import ONLY_APPROVERS, chooser, history, listing, report
from .views.notes import refusal as words
from .views.outcome import waiting_in
from .views.watch import burst_page, in_burst, unblocked_page

log = logging.getLogger(__name__)

#: how many of the watcher's last requests **Show them all** of a burst it unblocked looks through
BURST_READ = 1000


@dataclass(frozen=True, slots=True, kw_only=True)
class UseCases:
    """What each command and click means, with what it needs to do it."""

    requests: Requests
    answers: Answers
    finder: Finder
    clock: Callable[[], float]
    #: where the report's dates are shown
    zone: tzinfo = UTC
    require_reason: bool = False
    #: ``https://acme.slack.com/``, for links to cards; None when unknown
    workspace_url: str | None = None
    #: where every approval card goes; None: where the command was typed
    approval_channel: str | None = None
    #: the allow entries' life, for Extend and End now
    allows: AllowLife
    #: the PBX these are of ("": the one PBX of a bot that serves one), named in the values of its buttons
    pbx: str = ""
    #: the other workspaces whose people may ask about it (``connect_teams``)
    guests: frozenset[str] = frozenset()

    # -- /unblock ----------------------------------------------------------------------------

    def command(self, text: str, asker: Asker) -> str | None:
        """``/unblock <text>``: the acknowledgement's text (None: an empty one); the work it asks for is started."""
        try:
            parsed = parse_command(text, require_reason=self.require_reason)
        except InvalidCommand as error:
            return error.message
        if isinstance(parsed, ShowHelp):
            return USAGE
        refusal = self.requests.may_request_in(asker.channel)
        if refusal is not None:
            return words(refusal)
        # an empty acknowledgement: Slack cannot replace it through the command's reply URL (it would post a second
        # note), so the answer that follows is the one note the person gets, unless 3CX is slow to give it
        work, progress = self.work_for(parsed, asker)
        if not self.answers.start_once(asker, work, progress, name=f"command-{type(parsed).__name__}", pbx=self.pbx):
            return say.BUSY
        return None

    def work_for(
        self, parsed: Unblock | ListEntries | ShowHistory | ShowReport, asker: Asker
    ) -> tuple[Work, str | None]:
        """The work ``parsed`` asks for (in a channel where the person may ask), and what to tell them when 3CX is
        slow to answer it (None: nothing)."""
        if isinstance(parsed, UnblockEntry):
            return partial(self._request_entry, parsed, asker, typed=True), say.looking_up_entry(parsed.entry_id)
        if isinstance(parsed, UnblockAddress):
            return partial(self._request_matches, parsed, asker), say.looking_for_address(parsed.shown)
        if isinstance(parsed, UnblockNumber):
            return partial(self._request_matches, parsed, asker), say.looking_for_number(parsed.number)
        if isinstance(parsed, ListEntries):
            return partial(self.more, PageButton(parsed.text, 0), asker), None
        if isinstance(parsed, ShowReport):
            return partial(self._report, parsed, asker), None
        return partial(self._history, parsed, asker), None

    async def _request_entry(self, command: UnblockEntry, asker: Asker, *, typed: bool = False) -> None:
        """Open a request for one entry of the IP blocklist (``typed``: its id was typed, and may have been meant as
        a caller number)."""
        try:
            entry = await self.finder.entry(command.entry_id)
        except CallFailed as error:
            digits = str(command.entry_id)
            or_else = number_hint(digits) if typed and len(digits) >= MIN_NUMBER_DIGITS else None
            what = f"IP blocklist entry {command.entry_id}"
            await self.answers.lookup_failed(error, what, asker, or_else=or_else)
            return
        if not entry.blocks:
            await self.answers.tell(asker, say.an_allow_entry(entry))
            return
        await self._open([entry], asker, command.reason)

    async def _request_matches(self, parsed: UnblockAddress | UnblockNumber, asker: Asker) -> None:
        """Open a request for the one entry that blocks the address or number asked for, or offer those found."""
        if isinstance(parsed, UnblockNumber):
            asked, kind, find = parsed.number, Kind.NUMBER, self.finder.number(parsed.number)
        else:
            asked, kind, find = parsed.shown, Kind.ADDRESS, self.finder.address(parsed.network)
        try:
            matches = await find
        except CallFailed as error:
            listed = "caller-number blacklist" if kind is Kind.NUMBER else "IP blocklist"
            await self.answers.lookup_failed(error, f"{listed} entry for {asked}", asker)
            return
        reason = parsed.reason
        if not matches.blocking:
            await self.answers.tell(asker, say.no_match(asked, kind, matches))
        elif len(matches.blocking) == 1 and not matches.truncated:
            await self._open([matches.blocking[0]], asker, reason, asked=asked)
        else:
            ids = [t.id for t in matches.blocking]
            offer = await self.answers.remembered.offer(kind, ids, reason, asker.channel, asker.user)
            await self.answers.tell(asker, *chooser(asked, kind, matches, offer.id, pbx=self.pbx))

    async def _open(
        self,
        targets: list[Target],
        asker: Asker,
        reason: str | None,
        *,
        asked: str | None = None,
        chose: Asker | None = None,
    ) -> None:
        """Open a request for ``targets`` and show what came of it (``asked``: the address or network asked for;
        ``chose``: who chose the entries in a list, told that the approvers were asked)."""
        where = self.approval_channel or asker.channel
        # the command's reply URL can post only where the command was typed
        reply = asker.response_url if where == asker.channel else None
        opened = await self.requests.open(
            targets, asker.user, where, reason, asked_in=asker.channel, asked=asked, reply=reply
        )
        showing = self.answers.showing
        if isinstance(opened, AlreadyRequested):
            card = await showing.where(opened.request.id)
            await self.answers.tell(asker, say.already_requested(opened.request, card, self.workspace_url, asker.user))
        elif isinstance(opened, NothingToUnblock):
            await self.answers.tell(chose or asker, say.NOTHING_CHOSEN_BLOCKS)
        elif isinstance(opened, Withdrawn):
            # nobody could see it, so nobody could decide it: it was withdrawn and holds no entry
            await self.answers.tell(asker, say.card_not_posted(opened.reason))
        else:
            if chose is not None:
                await self.answers.tell(chose, say.asked_approvers(opened.request.what.targets), replace=True)
            if opened.decided is not None:
                # its rule carried it out: shown like a decision (the card, the requester, the Home tabs)
                if isinstance(opened.decided, Resolved):
                    await showing.changed(opened.decided.request, reply)
                return
            if opened.request.asked.elsewhere is not None:
                link = await showing.link(where, opened.shown.ref)
                await self.answers.tell(asker, waiting_in(opened.request, link))
            await showing.homes(opened.request)

    async def _page(
        self,
        read: Callable[..., Awaitable[Page]],
        show: Callable[[Page], tuple[str, Blocks]],
        asker: Asker,
        skip: int,
    ) -> None:
        """A page of the blocklist, only for the person who asked (after the first, instead of the page before)."""
        try:
            page = await read(skip=skip)
        except CallFailed as error:
            await self.answers.lookup_failed(error, "IP blocklist", asker)
            return
        await self.answers.tell(asker, *show(page), replace=skip > 0)

    async def _history(self, command: ShowHistory, asker: Asker) -> None:
        # people of another workspace see their own PBX's history only
        pbx = self.pbx if asker.team in self.guests else None
        seen = await self.requests.reads.history(asker.user, asker.channel, command.count, pbx)
        await self.answers.tell(asker, *history(seen.requests, seen.everywhere, seen.allows))

    async def _report(self, command: ShowReport, asker: Asker) -> None:
        if asker.team in self.guests:  # it covers every PBX
            await self.answers.tell(asker, say.REPORT_OWN_WORKSPACE)
            return
        figures = await self.requests.reads.report(asker.user, command.days)
        if figures is None:
            await self.answers.tell(asker, ONLY_APPROVERS)
        else:
            await self.answers.tell(asker, *report(figures, command.days, self.zone))

    # -- clicks ------------------------------------------------------------------------------------

    async def choose_duration(self, button: AllowButton, asker: Asker) -> None:
        """Another duration chosen beside **Approve and allow** or **Allow only**: the card is redrawn so that the
        buttons and their confirmations name it."""
        request = await self.requests.reads.get(button.request_id)
        if request is not None and request.state is State.PENDING and request.asked.channel == asker.channel:
            ts = await self.answers.showing.where(request.id)
            await self.answers.showing.redraw(request, ts, asker.response_url, chosen=float(button.seconds))

    async def choose(self, button: ChoiceButton, asker: Asker) -> None:
        """**Unblock this** or **Unblock all** in a list of matches."""
        offer = await self.answers.remembered.offered(button.choice_id)
        asked = asker
        if offer is not None and asker.in_direct_message and offer.user == asker.user:
            # offered in a direct message (after a form, which has no reply URL): asked in the offer's channel
            refusal = self.requests.may_request_in(offer.channel)
            if refusal is not None:
                await self.answers.tell(asker, words(refusal))
                return
            asked = replace(asker, channel=offer.channel, response_url=None)
        out_of_date = offer is None or offer.channel != asked.channel or offer.user != asker.user
        if offer is None or out_of_date or (button.pick is not None and button.pick >= len(offer.ids)):
            await self.answers.tell(asker, say.CHOICE_OUT_OF_DATE)
            return
        ids = offer.ids if button.pick is None else (offer.ids[button.pick],)
        try:  # the chosen entries as 3CX has them now
            if offer.kind is Kind.ADDRESS:
                targets: list[Target] = [*await self.finder.entries([int(i) for i in ids])]
            else:
                targets = [*await self.finder.numbers([str(i) for i in ids])]
        except CallFailed as error:
            await self.answers.tell(asker, say.lookup_failure(error, "chosen entry"))
            return
        await self._open(targets, asked, offer.reason, chose=asker)

    async def more(self, button: PageButton, asker: Asker) -> None:
        """A page of the newest entries (**More** under a listing, and ``/unblock list``)."""
        show = partial(listing, button.text, pbx=self.pbx)
        await self._page(partial(self.finder.newest, button.text), show, asker, button.skip)

    async def entry_clicked(self, button: EntryButton, asker: Asker) -> None:
        """**Request unblock** on an announcement of a new block: as ``/unblock <id>`` typed there."""
        await self._request_entry(UnblockEntry(button.entry_id), asker)

    async def burst_list(self, button: BurstButton, asker: Asker) -> None:
        """**Show them all** under a summary of a burst, and **More** under its pages."""
        read = partial(self.finder.between, button.first_id, button.last_id)
        await self._page(read, partial(burst_page, button, pbx=self.pbx), asker, button.skip)

    async def unblocked_list(self, button: BurstButton, asker: Asker) -> None:
        """**Show them all** under the message of a burst the watcher unblocked by the rules (and **More** under its
        pages): the burst's requests, only for the person who asked, each with **Undo** while it is offered."""
        watchers = await self.requests.reads.requested_by(WATCHER, BURST_READ, self.pbx)
        found = in_burst(watchers, button, asker.channel)
        drawn = unblocked_page(button, found, self.clock(), pbx=self.pbx)
        await self.answers.tell(asker, *drawn, replace=button.skip > 0)

    # -- the Home tab ----------------------------------------------------------------------------

    def home_opened(self, user: str) -> None:
        """Someone opened the bot's Home tab: it is drawn for them anew."""
        self.answers.work.spawn(self._home_opened(user), name="home-opened")

    async def _home_opened(self, user: str) -> None:
        try:
            await self.answers.remembered.home_opened(user)
            await self.answers.showing.home(user)
        except StoreUnreachable as error:
            log.error("could not draw a Home tab: the database did not answer", extra={"problem": str(error)})


def use_cases_of(context: Mapping[str, Any]) -> UseCases:
    """The use cases, from the context of a Bolt listener (``bot.slack.admission.Admission`` put them there)."""
    use_cases = context["use_cases"]
    assert isinstance(use_cases, UseCases)
    return use_cases
