"""Showing a request wherever it shows, after it changed: its card; once it is decided, a direct message to
the requester and one line in the channel where they asked (when the card is in the approvals channel);
and the Home tabs of the people who may be looking at it.

Only the process that made a change shows it, so each of these is sent once. A Home tab is refreshed
for the people who opened it lately (the store remembers who) and whom the change concerns: the
requester, and the approvers (their list of waiting requests). Each goes through the outbox, which waits
out Slack's rate limits and, for a Home tab, sends only its newest version.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from slack_sdk.web.async_client import AsyncWebClient

from ..domain.entries import BlocklistEntry
from ..domain.evidence import Logged
from ..domain.model import WATCHER, State, UnblockRequest
from ..domain.ports import NotShown, Shown, StoreUnreachable
from ..domain.reads import Reads
from ..domain.recurrence import Recurrence
from .blocks import Blocks
from .failures import counted
from .outbox import Outbox, Sent
from .state import Remembered
from .views.card import reminder_reply, request_card
from .views.evidence import blocked_again_reply
from .views.lists import OWN_SHOWN, WAITING_SHOWN, home_view
from .views.notes import who_approves
from .views.outcome import TOLD, direct_message, origin_line, outcome_card
from .views.watch import unblocked_by_rule

log = logging.getLogger(__name__)
T = TypeVar("T")

#: a Home tab opened longer ago than this is not refreshed on a change (opening it again shows it anew)
HOME_FRESH = 24 * 3600.0
#: how many cards' places a process keeps in memory (each is read from the store once)
CARDS_REMEMBERED = 10_000
#: chat.postMessage errors that mean "post through the command's reply URL instead"
NOT_A_MEMBER = frozenset({"not_in_channel", "channel_not_found"})


@dataclass(frozen=True, slots=True, kw_only=True)
class Showing:
    """The request service's :class:`~bot.domain.ports.Cards`, and all else that shows requests. Nothing here
    raises: a failed delivery is logged, and the request keeps its true state in the store."""

    outbox: Outbox
    #: for links to cards (``chat.getPermalink``)
    client: AsyncWebClient
    reads: Reads
    remembered: Remembered
    clock: Callable[[], float]
    #: the requester gets a direct message when their request is decided, expires or is undone
    notify_requester: bool = True

    _cards: dict[str, str] = field(default_factory=dict, init=False)
    #: the earlier unblocks of what each waiting request is about, once read (see ``recurrence``)
    _recurring: dict[str, Recurrence | None] = field(default_factory=dict, init=False)

    async def where(self, request_id: str) -> str | None:
        """The ``ts`` of the request's card; None when it was posted through a reply URL (or not at all)."""
        if request_id not in self._cards:
            ts = await self.remembered.state.card_of(request_id)
            if ts is None:
                return None
            _keep(self._cards, request_id, ts)  # a card stays the same message
        return self._cards[request_id]

    async def show(self, request: UnblockRequest, reply: str | None) -> Shown | NotShown:
        """Post a new request's card in its channel (through the reply URL ``reply`` when given) and remember
        where it is (a card posted through a reply URL has no ``ts``: it is found nowhere). The card of a request
        the watcher opened is the announcement of its entry."""
        entry = request.what.targets[0]
        if request.asked.by == WATCHER and isinstance(entry, BlocklistEntry):
            drawn = unblocked_by_rule(entry, self.reads.rule_for(request).name, pbx=request.pbx)
        else:
            drawn = await self.drawn(request)
        channel = request.asked.channel
        sent = await self.outbox.post(channel, *drawn)
        if sent.ok and sent.ts is not None:
            await self.remembered.state.card_posted(request.id, sent.ts)
            _keep(self._cards, request.id, sent.ts)
        if sent.ok:
            again = self._recurring.get(request.id)
            if again is not None:
                logged = request.what.evidence.logged if request.what.evidence else None
                await self.blocked_again(
                    again, request.asked.at, logged, asked_by=request.asked.by, at=(channel, sent.ts)
                )
            return Shown(sent.ts)
        error = sent.error or "unknown"
        if error in NOT_A_MEMBER and reply:  # (a card posted so has no ``ts``: it cannot be edited)
            text, blocks = drawn
            body = {"text": text, "blocks": blocks, "response_type": "in_channel"}
            via_url = await self.outbox.respond(reply, body)
            if via_url.ok:
                return Shown(None)
            error = via_url.error or error
        log.error("could not post a card", extra={"channel": channel, "error": error})
        return NotShown(error)

    async def blocked_again(
        self,
        again: Recurrence,
        now: float,
        logged: tuple[Logged, ...] | None,
        *,
        asked_by: str | None,
        at: tuple[str, str | None],
    ) -> None:
        """Say in the thread of the card that unblocked it that what it unblocked is blocked again (found at
        ``now``; ``asked_by``: in a new request, else in the watch channel), with a link to the message ``at``
        (channel, ``ts``) that says it now."""
        link = await self.link(*at)
        await self.reply(again.last, *blocked_again_reply(again, now, logged, asked_by=asked_by, link=link))

    async def claimed(self, request: UnblockRequest, reply: str | None) -> None:
        """A click (or the rule) won the claim: the card says so at once, its delivery not awaited, and its place
        only as remembered here (a click looked it up before its claim), so that the PBX waits for neither Slack
        nor the database. A card remembered nowhere (one of a burst, or another process's) shows the outcome."""
        ts = self._cards.get(request.id)
        if ts is not None or reply is not None:
            await self.redraw(request, ts, reply)

    async def remind(self, request: UnblockRequest) -> bool:
        return await self.reply(request, *reminder_reply(request, self.reads.deciders(request), self.clock()))

    async def reply(self, request: UnblockRequest, text: str, blocks: Blocks) -> bool:
        """A reply in the card's thread; whether it is done: Slack took it, or there is no thread it could ever go
        to (the card came through a reply URL)."""
        ts = await self.where(request.id)
        if ts is None:
            log.info("no thread to reply in: the card was posted through a reply URL", extra={"request": request.id})
            return True
        sent = await self.outbox.post(request.asked.channel, text, blocks, thread_ts=ts)
        if not sent.ok:
            log.warning("could not reply in a card's thread", extra={"request": request.id, "error": sent.error})
        return sent.ok

    async def drawn(self, request: UnblockRequest, chosen: float | None = None) -> tuple[str, Blocks]:
        """The request's card as it is now (``chosen``: the duration Approve and allow offers); a waiting card says
        when what it is about was unblocked before (see ``recurrence``)."""
        if request.state is State.PENDING:
            rule = self.reads.rule_for(request)
            recurring = await self.recurrence(request)
            return request_card(request, who_approves(rule.approvers), rule.allow, chosen, recurring, self.clock())
        self._recurring.pop(request.id, None)  # decided: its card no longer says it
        return outcome_card(request, self.clock())

    async def redraw(
        self, request: UnblockRequest, ts: str | None, response_url: str | None = None, chosen: float | None = None
    ) -> asyncio.Future[Sent]:
        """Change the request's card (the message ``ts``, or the one the reply URL answers: also when
        ``chat.update`` fails) to show it as it is now (see ``drawn``); await the future to know it arrived (or do
        not, to go on at once: the outbox sends the newest version of a card)."""
        text, blocks = await self.drawn(request, chosen)
        body = {"text": text, "blocks": blocks, "replace_original": True}
        channel = request.asked.channel
        if not ts:
            return self.respond(response_url, body)
        first = self.outbox.update(channel, ts, text, blocks)
        if not response_url:
            return first
        result: asyncio.Future[Sent] = asyncio.get_running_loop().create_future()

        def fall_back(update: asyncio.Future[Sent]) -> None:
            sent = update.result()
            if sent.ok or sent.superseded:
                result.set_result(sent)
                return
            log.warning("chat.update failed; trying the reply URL", extra={"request": request.id, "error": sent.error})
            self.outbox.respond(response_url, body).add_done_callback(lambda f: result.set_result(f.result()))

        first.add_done_callback(fall_back)
        return result

    def respond(self, response_url: str | None, body: dict[str, Any]) -> asyncio.Future[Sent]:
        """``body`` through the reply URL of a command or click."""
        if response_url:
            return self.outbox.respond(response_url, body)
        log.error("no way to reach the user: no response_url")
        done: asyncio.Future[Sent] = asyncio.get_running_loop().create_future()
        done.set_result(Sent(False, error="no_response_url"))
        return done

    async def link(self, channel: str, ts: str | None) -> str | None:
        """A link to the message ``ts`` in ``channel``; None when there is none (Slack said no, or no ``ts``)."""
        if ts is None:
            return None
        try:
            answer = await self.client.chat_getPermalink(channel=channel, message_ts=ts)
        except Exception as error:  # Slack's error, a proxy's page, or no answer: the card is named without a link
            counted("chat.getPermalink", error, "no link to a card", channel=channel)
            return None
        link = answer.get("permalink")
        return link if isinstance(link, str) and link.startswith("https://") else None

    async def recurrence(self, request: UnblockRequest) -> Recurrence | None:
        """The earlier unblocks of what ``request`` is about, before it was asked for (one read of the store,
        kept for the request's later redraws; None, and not kept, when the store does not answer)."""
        if request.id in self._recurring:
            return self._recurring[request.id]
        try:
            unblocks = await self.reads.unblocks(request.asked.at, request.pbx)
        except StoreUnreachable:
            log.warning("could not read the earlier unblocks for a card", extra={"request": request.id})
            return None
        found = unblocks.of(request.what.targets, besides=request.id)
        _keep(self._recurring, request.id, found)  # what came before the request stays as it was
        return found

    async def changed(self, request: UnblockRequest, response_url: str | None = None) -> None:
        """Everything that shows ``request``, brought up to date after this process changed it."""
        ts = await self.where(request.id)
        if ts or response_url:  # a card posted through a reply URL can change only on a click
            await (await self.redraw(request, ts, response_url))
        await self.tell(request, ts)
        await self.homes(request)

    async def tell(self, request: UnblockRequest, ts: str | None) -> None:
        """Once decided, expired or undone: the requester (unless they did it themselves) and the channel where
        they asked (when the card is elsewhere) are told, with a link to the card."""
        if request.state not in TOLD:
            return
        actor = request.done.undone_by if request.state.undo_phase else request.decision.by
        # the watcher, which asked for the entries it unblocked by their rule, is nobody to write to
        to_requester = self.notify_requester and actor != request.asked.by and request.asked.by != WATCHER
        if not to_requester and request.asked.elsewhere is None:
            return
        link = await self.link(request.asked.channel, ts)
        sent = []
        if to_requester:
            sent.append(self.outbox.post(request.asked.by, *direct_message(request, link)))
        if request.asked.elsewhere is not None:
            # the requester has a direct message; the channel's line mentions them only when it is their one notice
            line = origin_line(request, link, name_requester=not self.notify_requester)
            sent.append(self.outbox.post(request.asked.elsewhere, *line))
        for done in await asyncio.gather(*sent):
            if not done.ok:
                log.warning("could not tell about a request", extra={"request": request.id, "error": done.error})

    async def homes(self, request: UnblockRequest) -> None:
        """Refresh the Home tabs that show ``request``: the requester's, and, while it waits or just left waiting,
        those of the people who may be asked to decide its PBX's requests."""
        waiting_changed = not request.state.undo_phase
        waiting: dict[frozenset[str], list[UnblockRequest]] = {}  # read once for each set of PBXes a tab lists
        for user in await self.remembered.state.home_viewers(self.clock() - HOME_FRESH):
            pbxes = await self.reads.asked_about(user)
            if user == request.asked.by or (waiting_changed and request.pbx in pbxes):
                if pbxes and pbxes not in waiting:
                    waiting[pbxes] = await self.reads.waiting(pbxes)
                await self._publish(user, pbxes, waiting=waiting.get(pbxes))

    async def home(self, user: str, notice: str | None = None) -> asyncio.Future[Sent]:
        """Publish ``user``'s Home tab as it is now (with ``notice`` about their last click in it)."""
        return await self._publish(user, await self.reads.asked_about(user), notice)

    async def _publish(
        self,
        user: str,
        pbxes: frozenset[str],
        notice: str | None = None,
        *,
        waiting: list[UnblockRequest] | None = None,
    ) -> asyncio.Future[Sent]:
        """``pbxes``: those whose requests the user may be asked to decide; their tab lists those they may approve
        now (of ``waiting``, when those PBXes' waiting requests were read already)."""
        mine = None
        if pbxes:
            waiting = await self.reads.waiting(pbxes) if waiting is None else waiting
            mine = await self.reads.waiting_for(user, WAITING_SHOWN + 1, waiting)
        own = await self.reads.requested_by(user, OWN_SHOWN)
        allows = await self.reads.allows_in_force(user, self.clock(), pbxes)
        return self.outbox.publish(user, home_view(mine, own, notice, allows))


def _keep(cache: dict[str, T], key: str, value: T) -> None:
    """Keep ``value`` in ``cache``, which is emptied when it holds ``CARDS_REMEMBERED`` (each is read again)."""
    if len(cache) >= CARDS_REMEMBERED:
        cache.clear()
    cache[key] = value
