"""Buttons: acknowledge at once, decide and report after the ack.

Button values come back from Slack as the user's client sent them, so each is
checked again here (shape, size, ranges) before anything is looked up.
"""

from __future__ import annotations

import json
import re
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from ..command_text import MAX_LIST_TEXT, MAX_REASON, ListEntries
from ..lookup import MAX_MATCHES
from ..threecx import Target, ThreeCXError, is_entry_id
from ..unblock import (
    AlreadyResolved,
    ClickResult,
    Expired,
    Refused,
    Resolved,
    State,
    UnblockRequest,
    UnblockService,
    Unknown,
)
from .commands import Asker, Handlers
from .delivery import CardDelivery
from .messages import (
    APPROVE,
    CANCEL,
    CHOOSE,
    DENY,
    LIST_MORE,
    UNDO,
    already_resolved,
    escape,
    expired_notice,
    lookup_failure,
    outcome_card,
    undo_open,
    unknown_request,
)

#: request ids are 16 lowercase hex characters; anything else is not looked up
REQUEST_ID = re.compile(r"[0-9a-f]{16}")


def register_actions(app: AsyncApp, handlers: Handlers) -> None:
    service, delivery = handlers.service, handlers.delivery
    decisions = {APPROVE: service.approve, DENY: service.deny, CANCEL: service.cancel, UNDO: service.undo}

    async def on_decision(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        decide = decisions[action["action_id"]]
        request_id, asker = str(action.get("value") or ""), _asker(body)

        async def click() -> None:
            if not REQUEST_ID.fullmatch(request_id):
                await delivery.tell(asker.response_url, unknown_request())
                return
            await report(service, delivery, await decide(request_id, asker.user), asker.response_url)

        handlers.work.spawn(click(), name=f"{action['action_id']}-{request_id[:16]}")

    async def on_choose(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        handlers.work.spawn(choose(handlers, str(action.get("value") or ""), _asker(body)), name="choose")

    async def on_list_more(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        page = _list_page(str(action.get("value") or ""))
        asker = _asker(body)
        if page is None:
            handlers.work.spawn(
                delivery.tell(asker.response_url, "That list is out of date; run `/unblock list` again."), name="list"
            )
            return
        handlers.work.spawn(handlers.list_entries(ListEntries(page[0]), asker, skip=page[1], replace=True), name="list")

    for action_id in decisions:
        app.action(action_id)(on_decision)
    app.action(CHOOSE)(on_choose)
    app.action(LIST_MORE)(on_list_more)


def _asker(body: dict[str, Any]) -> Asker:
    user = str((body.get("user") or {}).get("id", ""))
    channel = str((body.get("channel") or {}).get("id", "") or (body.get("container") or {}).get("channel_id", ""))
    return Asker(user, channel, body.get("response_url"))


async def report(
    service: UnblockService, delivery: CardDelivery, result: ClickResult, response_url: str | None
) -> None:
    """Show a click's result: the card for a click that moved the request, a private note otherwise."""
    if isinstance(result, Resolved):
        request = result.request
        await delivery.update_card(request, *outcome_card(request, service.clock()), response_url)
        if request.state is State.EXECUTING:
            finished = await service.execute(request)
        elif request.state is State.UNDOING:
            finished = await service.restore(request)
        else:
            return
        await delivery.update_card(finished, *outcome_card(finished, service.clock()), response_url)
    elif isinstance(result, Refused):
        await delivery.tell(response_url, result.reason)
        if _stale_undo_button(result.request, service.clock()):
            await delivery.update_card(result.request, *outcome_card(result.request, service.clock()), response_url)
    elif isinstance(result, AlreadyResolved):
        await delivery.tell(response_url, already_resolved(result.request))
    elif isinstance(result, Expired):
        if result.just_now:
            await delivery.update_card(result.request, *outcome_card(result.request, service.clock()), response_url)
        await delivery.tell(response_url, expired_notice(result.request))
    elif isinstance(result, Unknown):
        await delivery.tell(response_url, unknown_request())


def _stale_undo_button(request: UnblockRequest, now: float) -> bool:
    """The card still shows Undo although its time is up: redraw it without."""
    return (
        request.state in (State.UNBLOCKED, State.FAILED)
        and request.undo_until is not None
        and not undo_open(request, now)
    )


async def choose(handlers: Handlers, value: str, asker: Asker) -> None:
    """The requester picked entries from a list of matches: read them again and ask for approval."""
    choice = _choice(value)
    if choice is None:
        await handlers.delivery.tell(
            asker.response_url, "That choice is out of date; run the `/unblock` command again."
        )
        return
    kind, ids, reason = choice
    targets: list[Target]
    try:
        if kind == "address":
            targets = [*await handlers.finder.entries([int(i) for i in ids])]
        else:
            targets = [*await handlers.finder.numbers([str(i) for i in ids])]
    except ThreeCXError as error:
        await handlers.delivery.tell(asker.response_url, lookup_failure(error, "chosen entry"))
        return
    targets = [t for t in targets if t.blocks]
    if not targets:
        await handlers.delivery.tell(asker.response_url, "None of the chosen entries blocks anything any more.")
        return
    shown = escape(targets[0].label) if len(targets) == 1 else f"{len(targets)} entries"
    await handlers.delivery.tell(asker.response_url, f"Asked the approvers to unblock {shown}.", replace=True)
    await handlers.open_and_post(targets, asker, reason)


def _choice(value: str) -> tuple[str, list[int] | list[str], str | None] | None:
    """A chooser button's value, if it is one the bot could have made."""
    try:
        data = json.loads(value)
    except ValueError:
        return None
    if not isinstance(data, dict) or len(value) > 2000:
        return None
    kind, ids, reason = data.get("k"), data.get("ids"), data.get("r")
    if not isinstance(ids, list) or not 1 <= len(ids) <= MAX_MATCHES or len(set(map(str, ids))) != len(ids):
        return None
    if reason is not None and (not isinstance(reason, str) or len(reason) > MAX_REASON or not reason.isprintable()):
        return None
    if kind == "address" and all(type(i) is int and is_entry_id(i) for i in ids):
        return kind, [int(i) for i in ids], reason
    if kind == "number" and all(isinstance(i, str) and 0 < len(i) <= 200 for i in ids):
        return kind, [str(i) for i in ids], reason
    return None


def _list_page(value: str) -> tuple[str | None, int] | None:
    try:
        data = json.loads(value)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    text, skip = data.get("t"), data.get("s")
    if text is not None and (not isinstance(text, str) or len(text) > MAX_LIST_TEXT or not text.isprintable()):
        return None
    if type(skip) is not int or not 0 <= skip <= 100_000:
        return None
    return text, skip
