"""What only the Slack side keeps, in the same store as the requests (same databases, same migrations):
deliveries already handled (Slack retries and replays), what a chooser offered, who looked at the
Home tab lately, and which message is a request's card. The domain knows none of it."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from ..domain.entries import Kind

#: how long a handled Slack delivery is remembered, to recognise Slack's retries of it
DELIVERY_MEMORY = 24 * 3600.0


class SlackState(Protocol):
    """The store's part that only the Slack layer uses (``bot.storage``'s stores implement it). Every method
    may raise ``StoreUnreachable``."""

    async def first_delivery(self, key: str, at: float, handler: str) -> bool:
        """Record that ``handler`` (one handling of a delivery) handles a Slack delivery; False if another
        did first (Slack's retry, a replay)."""

    async def forget_deliveries(self, before: float) -> None:
        """Forget the deliveries, and the choices offered, older than that moment."""

    async def keep_choice(self, choice_id: str, data: str, at: float) -> None:
        """Keep what a chooser offers, so that its buttons carry only an id."""

    async def choice(self, choice_id: str) -> str | None:
        """What a chooser offered, kept by ``keep_choice``."""

    async def home_opened(self, user: str, at: float) -> None:
        """``user`` looked at the bot's Home tab at ``at``."""

    async def home_viewers(self, since: float) -> list[str]:
        """Who looked at the Home tab at ``since`` or later."""

    async def card_posted(self, request_id: str, ts: str) -> None:
        """The card of the request is the message ``ts`` of its channel."""

    async def card_of(self, request_id: str) -> str | None:
        """The ``ts`` of the request's card; None when it has none (posted through a reply URL, or not yet)."""


@dataclass(frozen=True, slots=True)
class Offer:
    """Entries offered to one person to choose from (several matched what they asked for)."""

    id: str
    kind: Kind
    ids: tuple[int | str, ...]
    reason: str | None
    channel: str
    user: str


@dataclass(frozen=True, slots=True)
class Remembered:
    """The Slack side's state, on the process's clock."""

    state: SlackState
    clock: Callable[[], float]

    async def first_delivery(self, key: str) -> bool:
        """False when Slack is delivering something again that was already handled (a retry or a replay)."""
        # a token of this handling alone: the store's own retry of the write recognises it, a retry from Slack not
        return await self.state.first_delivery(key, self.clock(), secrets.token_hex(8))

    async def forget_old(self) -> None:
        """Forget deliveries, and choices offered, too old to be used again."""
        await self.state.forget_deliveries(self.clock() - DELIVERY_MEMORY)

    async def offer(self, kind: Kind, ids: Sequence[int | str], reason: str | None, channel: str, user: str) -> Offer:
        """Keep the entries offered to ``user`` to choose from (remembered as long as Slack deliveries)."""
        offer = Offer(secrets.token_hex(8), kind, tuple(ids), reason, channel, user)
        data = {"kind": kind.value, "ids": list(ids), "reason": reason, "channel": channel, "user": user}
        await self.state.keep_choice(offer.id, json.dumps(data), self.clock())
        return offer

    async def offered(self, offer_id: str) -> Offer | None:
        data = await self.state.choice(offer_id)
        if data is None:
            return None
        found = json.loads(data)
        return Offer(offer_id, **{**found, "kind": Kind(found["kind"]), "ids": tuple(found["ids"])})

    async def home_opened(self, user: str) -> None:
        await self.state.home_opened(user, self.clock())
