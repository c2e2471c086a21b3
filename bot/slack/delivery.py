"""CardDelivery: getting cards and notes in front of people, whatever Slack says.

A card goes out with ``chat.postMessage`` (so its ``ts`` is known and it can be
edited later); where the bot is not in the channel it goes through the command's
``response_url`` instead. Updates use ``chat.update`` when the ``ts`` is known,
else (or when that fails) the click's ``response_url``. Everything passes
through the :class:`~bot.slack.outbox.Outbox`; nothing here raises: a failed
delivery is logged and the request keeps its true state in the store.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from .. import metrics
from ..domain.model import UnblockRequest
from ..domain.ports import NotShown, Shown
from .failures import error_code
from .outbox import Outbox, Sent

log = logging.getLogger(__name__)

#: chat.postMessage errors that mean "post through the response_url instead"
NOT_A_MEMBER = frozenset({"not_in_channel", "channel_not_found"})


class CardDelivery:
    def __init__(self, outbox: Outbox, client: AsyncWebClient | None = None) -> None:
        self.outbox = outbox
        #: for links to cards (``chat.getPermalink``); None: cards are named by their channel only
        self._client = client

    async def link(self, channel: str, ts: str | None) -> str | None:
        """A link to the message ``ts`` in ``channel``; None when there is none (Slack said no, or no ``ts``)."""
        if self._client is None or ts is None:
            return None
        try:
            answer = await self._client.chat_getPermalink(channel=channel, message_ts=ts)
        except Exception as error:  # Slack's error, a proxy's page, or no answer: the card is named without a link
            code = error_code(error)
            metrics.SLACK_ERRORS.labels("chat.getPermalink", code).inc()
            log.warning("no link to a card", extra={"method": "chat.getPermalink", "channel": channel, "error": code})
            return None
        link = answer.get("permalink")
        return link if isinstance(link, str) and link.startswith("https://") else None

    def message(self, channel: str, text: str, blocks: list[dict[str, Any]]) -> asyncio.Future[Sent]:
        """A new message in ``channel``, or to a person as a direct message when ``channel`` is their user id."""
        return self.outbox.post(channel, text, blocks)

    async def post_card(
        self, channel: str, text: str, blocks: list[dict[str, Any]], response_url: str | None
    ) -> Shown | NotShown:
        """The card in ``channel``: ``Shown`` with its ``ts`` (None when it went through the reply URL, so it cannot
        be edited), or ``NotShown`` with Slack's error code."""
        sent = await self.outbox.post(channel, text, blocks)
        if sent.ok:
            return Shown(sent.ts)
        error = sent.error or "unknown"
        if error in NOT_A_MEMBER and response_url:
            body = {"text": text, "blocks": blocks, "response_type": "in_channel"}
            via_url = await self.outbox.respond(channel, response_url, body)
            if via_url.ok:
                return Shown(None)
            error = via_url.error or error
        log.error("could not post a card", extra={"channel": channel, "error": error})
        return NotShown(error)

    def update_card(
        self, request: UnblockRequest, ts: str | None, text: str, blocks: list[dict[str, Any]], response_url: str | None
    ) -> asyncio.Future[Sent]:
        """Show ``request``'s card (the message ``ts``, or the one a reply URL answers) anew; await the future to
        know it arrived (or do not, to go on at once)."""
        body = {"text": text, "blocks": blocks, "replace_original": True}
        if not ts:
            return self._respond(request.asked.channel, response_url, body)
        first = self.outbox.update(request.asked.channel, ts, text, blocks)
        if not response_url:
            return first
        result: asyncio.Future[Sent] = asyncio.get_running_loop().create_future()

        def fall_back(update: asyncio.Future[Sent]) -> None:
            sent = update.result()
            if sent.ok or sent.superseded:
                result.set_result(sent)
                return
            log.warning("chat.update failed; trying the reply URL", extra={"request": request.id, "error": sent.error})
            again = self.outbox.respond(request.asked.channel, response_url, body)
            again.add_done_callback(lambda f: result.set_result(f.result()))

        first.add_done_callback(fall_back)
        return result

    def tell(
        self,
        channel: str,
        response_url: str | None,
        text: str,
        blocks: list[dict[str, Any]] | None = None,
        *,
        replace: bool = False,
    ) -> asyncio.Future[Sent]:
        """A private note to the person who typed the command or clicked; ``replace`` swaps the note clicked on."""
        body: dict[str, Any] = {"text": text, "response_type": "ephemeral", "replace_original": replace}
        if blocks:
            body["blocks"] = blocks
        return self._respond(channel, response_url, body)

    def _respond(self, channel: str, response_url: str | None, body: dict[str, Any]) -> asyncio.Future[Sent]:
        if response_url:
            return self.outbox.respond(channel, response_url, body)
        log.error("no way to reach the user: no response_url")
        done: asyncio.Future[Sent] = asyncio.get_running_loop().create_future()
        done.set_result(Sent(False, error="no_response_url"))
        return done
