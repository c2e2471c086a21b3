"""``/unblock``: parse and acknowledge at once; 3CX lookups, cards and listings come after the ack."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

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
from ..tasks import BackgroundWork
from ..threecx import Target, ThreeCXError
from ..unblock import UnblockService
from .delivery import CardDelivery
from .messages import BUSY, chooser, escape, history, listing, lookup_failure, no_match, request_card

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Asker:
    """Who typed the command, where, and how to answer them privately."""

    user: str
    channel: str
    response_url: str | None
    #: identifies this command across Slack's retries of it (its trigger_id)
    delivery: str = ""


@dataclass(frozen=True)
class Handlers:
    service: UnblockService
    finder: Finder
    work: BackgroundWork
    delivery: CardDelivery
    require_reason: bool = False

    async def request_entry(self, command: UnblockEntry, asker: Asker) -> None:
        if not await self._first_time(asker):
            return
        what = f"IP blocklist entry {command.entry_id}"
        try:
            entry = await self.finder.entry(command.entry_id)
        except ThreeCXError as error:
            await self._lookup_failed(error, what, asker)
            return
        if not entry.blocks:
            await self.delivery.tell(
                asker.response_url,
                f"Entry {entry.id} (`{escape(entry.label)}`) is an allow-list entry, not a block; "
                "there is nothing to unblock.",
            )
            return
        await self.open_and_post([entry], asker, command.reason)

    async def request_matches(
        self, asked: str, kind: str, find: Callable[[], Awaitable[Matches]], reason: str | None, asker: Asker
    ) -> None:
        if not await self._first_time(asker):
            return
        try:
            matches = await find()
        except ThreeCXError as error:
            await self._lookup_failed(error, f"blocklist entry for {asked}", asker)
            return
        if not matches.blocking:
            await self.delivery.tell(asker.response_url, no_match(asked, matches))
        elif len(matches.blocking) == 1 and not matches.truncated:
            await self.open_and_post(list(matches.blocking), asker, reason)
        else:
            await self.delivery.tell(asker.response_url, *chooser(asked, kind, matches, reason))

    async def open_and_post(self, targets: list[Target], asker: Asker, reason: str | None) -> None:
        request = await self.service.open_request(targets, asker.user, asker.channel, reason)
        ts = await self.delivery.post_card(asker.channel, *request_card(request), asker.response_url)
        if ts is not None:
            await self.service.card_posted(request.id, ts)

    async def list_entries(self, command: ListEntries, asker: Asker, skip: int = 0, replace: bool = False) -> None:
        try:
            page = await self.finder.newest(command.text, skip=skip)
        except ThreeCXError as error:
            await self._lookup_failed(error, "blocklist", asker)
            return
        await self.delivery.tell(asker.response_url, *listing(command.text, page), replace=replace)

    async def show_history(self, command: ShowHistory, asker: Asker) -> None:
        await self.delivery.tell(asker.response_url, history(await self.service.history(command.count)))

    async def _first_time(self, asker: Asker) -> bool:
        if not asker.delivery or await self.service.first_delivery(f"command:{asker.delivery}"):
            return True
        log.info("ignored a repeated delivery of a command", extra={"user": asker.user})
        return False

    async def _lookup_failed(self, error: ThreeCXError, what: str, asker: Asker) -> None:
        log.info("3CX lookup failed", extra={"what": what, "user": asker.user, "answer": error.answer()})
        await self.delivery.tell(asker.response_url, lookup_failure(error, what))


def register_commands(app: AsyncApp, handlers: Handlers) -> None:
    @app.command("/unblock")
    async def unblock(ack: AsyncAck, command: dict[str, Any]) -> None:
        try:
            parsed = parse_command(str(command.get("text") or ""), require_reason=handlers.require_reason)
        except InvalidCommand as error:
            await ack(text=error.message)
            return
        if isinstance(parsed, ShowHelp):
            await ack(text=USAGE)
            return
        asker = Asker(
            str(command.get("user_id", "")),
            str(command.get("channel_id", "")),
            command.get("response_url"),
            str(command.get("trigger_id") or ""),
        )
        refusal = handlers.service.policy.may_request_in(asker.channel)
        if refusal is not None:
            await ack(text=refusal)
            return
        if isinstance(parsed, UnblockEntry):
            work, progress = (
                handlers.request_entry(parsed, asker),
                f"Looking up blocklist entry {parsed.entry_id} in 3CX…",
            )
        elif isinstance(parsed, UnblockAddress):
            work = handlers.request_matches(
                parsed.shown, "address", lambda: handlers.finder.address(parsed.network), parsed.reason, asker
            )
            progress = f"Looking for blocklist entries that block {parsed.shown}…"
        elif isinstance(parsed, UnblockNumber):
            work = handlers.request_matches(
                parsed.number, "number", lambda: handlers.finder.number(parsed.number), parsed.reason, asker
            )
            progress = f"Looking for the blocked caller number {parsed.number}…"
        elif isinstance(parsed, ListEntries):
            work, progress = handlers.list_entries(parsed, asker), ""
        else:
            work, progress = handlers.show_history(parsed, asker), ""
        started = handlers.work.spawn(work, name=f"command-{type(parsed).__name__}")
        if not started:
            await ack(text=BUSY)
        elif progress:
            await ack(text=progress)
        else:
            await ack()
