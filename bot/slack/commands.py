"""``/unblock``: parse and acknowledge at once; the 3CX lookup and the card come after the ack."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from ..command_text import USAGE, InvalidCommand, ShowHelp, parse_command
from ..tasks import BackgroundWork
from ..threecx import ThreeCXError
from ..unblock import UnblockService
from .delivery import CardDelivery
from .messages import BUSY, lookup_failure, request_card

log = logging.getLogger(__name__)


def register_commands(app: AsyncApp, service: UnblockService, work: BackgroundWork, delivery: CardDelivery) -> None:
    @app.command("/unblock")
    async def unblock(ack: AsyncAck, command: dict[str, Any]) -> None:
        try:
            parsed = parse_command(str(command.get("text") or ""))
        except InvalidCommand as error:
            await ack(text=error.message)
            return
        if isinstance(parsed, ShowHelp):
            await ack(text=USAGE)
            return
        channel, user = str(command.get("channel_id", "")), str(command.get("user_id", ""))
        refusal = service.policy.may_request_in(channel)
        if refusal is not None:
            await ack(text=refusal)
            return
        response_url = command.get("response_url")
        started = work.spawn(
            open_request(service, delivery, parsed.entry_id, user, channel, response_url),
            name=f"open-request-{parsed.entry_id}",
        )
        await ack(text=f"Looking up blocklist entry {parsed.entry_id} in 3CX…" if started else BUSY)


async def open_request(
    service: UnblockService,
    delivery: CardDelivery,
    entry_id: int,
    user: str,
    channel: str,
    response_url: str | None,
) -> None:
    try:
        request = await service.open_request(entry_id, user, channel)
    except ThreeCXError as error:
        log.info("blocklist lookup failed", extra={"entry": entry_id, "user": user, "answer": error.answer()})
        await delivery.tell(response_url, lookup_failure(error, entry_id))
        return
    text, blocks = request_card(request)
    ts = await delivery.post_card(channel, text, blocks, response_url)
    if ts is not None:
        await service.card_posted(request.id, ts)
