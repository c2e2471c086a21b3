"""CardDelivery: getting cards and notices in front of people, whatever Slack says.

A card goes out with ``chat.postMessage`` (so its ``ts`` is known and it can
be edited later); where the bot is not in the channel it goes through the
command's ``response_url`` instead. Updates use ``chat.update`` when the
``ts`` is known, else the click's ``response_url``. Nothing here raises: a
failed delivery is logged and the request keeps its true state in the store.
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from ..unblock import UnblockRequest

log = logging.getLogger(__name__)

#: chat.postMessage errors that mean "post through the response_url instead"
NOT_A_MEMBER = frozenset({"not_in_channel", "channel_not_found"})


class CardDelivery:
    def __init__(self, client: AsyncWebClient, session: aiohttp.ClientSession) -> None:
        self._client = client
        self._session = session

    async def post_card(
        self, channel: str, text: str, blocks: list[dict[str, Any]], response_url: str | None
    ) -> str | None:
        """Post a card to the channel; its ``ts``, or None when it went through the response_url."""
        try:
            response = await self._client.chat_postMessage(channel=channel, text=text, blocks=blocks)
            ts = response.get("ts")
            return ts if isinstance(ts, str) else None
        except SlackApiError as error:
            reason = str(error.response.get("error"))
        except Exception as error:
            reason = type(error).__name__
        if reason in NOT_A_MEMBER:
            await self._respond(response_url, {"text": text, "blocks": blocks, "response_type": "in_channel"})
        else:
            log.error("could not post a card", extra={"channel": channel, "error": reason})
            await self.tell(
                response_url,
                f"The bot could not post the request in this channel (Slack said: {reason}). "
                "Nothing was changed in 3CX; please try again in a minute.",
            )
        return None

    async def update_card(
        self, request: UnblockRequest, text: str, blocks: list[dict[str, Any]], response_url: str | None
    ) -> None:
        if request.message_ts:
            try:
                await self._client.chat_update(channel=request.channel, ts=request.message_ts, text=text, blocks=blocks)
                return
            except Exception as error:
                reason = error.response.get("error") if isinstance(error, SlackApiError) else type(error).__name__
                log.warning(
                    "chat.update failed; trying the response_url", extra={"request": request.id, "error": reason}
                )
        await self._respond(response_url, {"text": text, "blocks": blocks, "replace_original": True})

    async def tell(
        self, response_url: str | None, text: str, blocks: list[dict[str, Any]] | None = None, *, replace: bool = False
    ) -> None:
        """A private note to the person who typed the command or clicked; ``replace`` swaps the note clicked on."""
        body: dict[str, Any] = {"text": text, "response_type": "ephemeral", "replace_original": replace}
        if blocks:
            body["blocks"] = blocks
        await self._respond(response_url, body)

    async def _respond(self, response_url: str | None, body: dict[str, Any]) -> None:
        if not response_url:
            log.error("no way to reach the user: no response_url")
            return
        try:
            response = await AsyncWebhookClient(response_url, session=self._session).send_dict(body)
        except Exception as error:
            log.error("posting to a response_url failed", extra={"error": type(error).__name__})
            return
        if response.status_code != 200:
            log.error("posting to a response_url failed", extra={"status": response.status_code, "body": response.body})
