"""Approve / Deny / Cancel buttons: acknowledge at once, decide and report after the ack."""

from __future__ import annotations

import re
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from ..tasks import BackgroundWork
from ..unblock import (
    AlreadyResolved,
    ClickResult,
    Expired,
    Refused,
    Resolved,
    State,
    UnblockService,
    Unknown,
)
from .delivery import CardDelivery
from .messages import APPROVE, CANCEL, DENY, already_resolved, expired_notice, outcome_card, unknown_request

#: request ids are 16 lowercase hex characters; anything else is not looked up
REQUEST_ID = re.compile(r"[0-9a-f]{16}")


def register_actions(app: AsyncApp, service: UnblockService, work: BackgroundWork, delivery: CardDelivery) -> None:
    decisions = {APPROVE: service.approve, DENY: service.deny, CANCEL: service.cancel}

    async def on_click(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        decide = decisions[action["action_id"]]
        request_id = str(action.get("value") or "")
        user = str((body.get("user") or {}).get("id", ""))
        response_url = body.get("response_url")

        async def click() -> None:
            if not REQUEST_ID.fullmatch(request_id):
                await delivery.tell(response_url, unknown_request())
                return
            await report(service, delivery, await decide(request_id, user), response_url)

        work.spawn(click(), name=f"{action['action_id']}-{request_id[:16]}")

    for action_id in decisions:
        app.action(action_id)(on_click)


async def report(
    service: UnblockService, delivery: CardDelivery, result: ClickResult, response_url: str | None
) -> None:
    """Show a click's result: the card for who decided, a private note for everyone else."""
    if isinstance(result, Resolved):
        request = result.request
        await delivery.update_card(request, *outcome_card(request), response_url)
        if request.state is State.EXECUTING:
            finished = await service.execute(request)
            await delivery.update_card(finished, *outcome_card(finished), response_url)
    elif isinstance(result, Refused):
        await delivery.tell(response_url, result.reason)
    elif isinstance(result, AlreadyResolved):
        await delivery.tell(response_url, already_resolved(result.request))
    elif isinstance(result, Expired):
        if result.just_now:
            await delivery.update_card(result.request, *outcome_card(result.request), response_url)
        await delivery.tell(response_url, expired_notice(result.request))
    elif isinstance(result, Unknown):
        await delivery.tell(response_url, unknown_request())
