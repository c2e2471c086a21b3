"""Work started once per delivery, in its lane, and notes to the person who asked.

Every delivery is handled at most once: its work starts by recording Slack's identifier of the delivery (its
``trigger_id``, which Slack keeps across its retries) in the store that every replica shares. A delivery seen before
does nothing, whichever process receives it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from ..calls import Lane
from ..domain.entries import CallFailed
from ..domain.outcomes import Outcome
from ..domain.ports import StoreUnreachable
from ..tasks import BackgroundWork
from .blocks import fallback, section
from .outbox import Sent
from .showing import Showing
from .state import Remembered
from .views import notes as say

log = logging.getLogger(__name__)

#: seconds after which a command that is still waiting for 3CX tells the person what it is doing
PROGRESS_AFTER = 1.5
#: the note of progress of the work under way, cancelled by its answer (never told after it)
_PROGRESS: ContextVar[asyncio.TimerHandle | None] = ContextVar("progress", default=None)

#: the work a command or a click starts, made only when it runs
Work = Callable[[], Coroutine[Any, Any, None]]


@dataclass(frozen=True, slots=True)
class Asker:
    """Who typed the command or clicked, where, and how to answer them privately."""

    user: str
    channel: str
    response_url: str | None
    #: what Slack keeps the same across its retries of this delivery (its trigger_id); "" when unknown
    delivery: str = ""
    #: the click came from the bot's Home tab (no channel; answered in the tab)
    home: bool = False
    #: the person's workspace, when Slack said it ("": the bot's own)
    team: str = ""

    @property
    def in_direct_message(self) -> bool:
        """The click was made in a direct message with the bot (where the notes after a form go)."""
        return self.channel.startswith("D") and not self.home


def asker_of(body: dict[str, Any]) -> Asker:
    """Who clicked or used a shortcut, where (the channel of the message clicked on), and how to answer them."""
    user = str((body.get("user") or {}).get("id", ""))
    channel = str((body.get("channel") or {}).get("id", "") or (body.get("container") or {}).get("channel_id", ""))
    team = (body.get("user") or {}).get("team_id") or (body.get("team") or {}).get("id") or ""
    return Asker(user, channel, body.get("response_url"), str(body.get("trigger_id") or ""), team=str(team))


@dataclass(frozen=True, slots=True, kw_only=True)
class Answers:
    """Work started once per delivery, in its lane, and notes to the person who asked."""

    work: BackgroundWork
    showing: Showing
    #: what only the Slack side keeps (deliveries handled, choices offered, Home tab viewers)
    remembered: Remembered

    def start_once(
        self,
        asker: Asker,
        work: Work,
        progress: str | None = None,
        *,
        name: str,
        lane: Lane = Lane.COMMANDS,
        pbx: str = "",
    ) -> bool:
        """Start ``work`` in ``lane`` with the workers of the PBX ``pbx``, to be done once for this delivery (see
        ``_once``); False when the lane is full or the bot is stopping (nothing is done)."""
        return self.work.spawn(self._once(asker, work, progress), name=name, lane=lane, pbx=pbx)

    async def lookup_failed(self, error: CallFailed, what: str, asker: Asker, *, or_else: str | None = None) -> None:
        """Tell the person why 3CX could not show ``what`` (``or_else``: what they may have meant, when 3CX has no
        such entry)."""
        log.info("3CX lookup failed", extra={"what": what, "user": asker.user, "answer": error.answer()})
        told = say.lookup_failure(error, what)
        if or_else is not None and error.reason is Outcome.NOT_FOUND:
            told = f"{told} {or_else}"
        await self.tell(asker, told)

    async def tell(
        self, asker: Asker, text: str, blocks: list[dict[str, Any]] | None = None, *, replace: bool = False
    ) -> None:
        progress = _PROGRESS.get()
        if progress is not None:
            progress.cancel()
        if asker.home:  # the Home tab says it at its top
            await self.showing.home(asker.user, text)
        else:
            await self._send(asker, text, blocks, replace=replace)

    def tell_soon(self, asker: Asker, text: str) -> None:
        """A note sent without waiting for it (from a listener, right after the ack): why a command or click does
        nothing (nothing else happens), or what it is still doing."""
        if asker.home:
            self.work.spawn(self.tell(asker, text), name="home-note")
        else:
            self._send(asker, text)

    def _send(
        self, asker: Asker, text: str, blocks: list[dict[str, Any]] | None = None, *, replace: bool = False
    ) -> asyncio.Future[Sent]:
        """A note through the reply URL; as a direct message from the bot when there is none (a form's
        submission)."""
        if asker.response_url is None:
            return self.showing.outbox.post(asker.user, fallback(text), blocks or [section(text)])
        body: dict[str, Any] = {"text": text, "response_type": "ephemeral", "replace_original": replace}
        if blocks:
            body["blocks"] = blocks
        return self.showing.respond(asker.response_url, body)

    async def _once(self, asker: Asker, work: Work, progress: str | None = None) -> None:
        """Do ``work`` unless this delivery was handled before (Slack's retry, or a replay); when it takes longer
        than ``PROGRESS_AFTER``, the person is told ``progress`` meanwhile. When the database stays away for
        longer than the bot waits, the person is told that nothing was done."""
        try:
            if asker.delivery and not await self.remembered.first_delivery(f"delivery:{asker.delivery}"):
                log.info("ignored a repeated delivery", extra={"user": asker.user})
                return
            slow = None
            if progress is not None:
                slow = asyncio.get_running_loop().call_later(PROGRESS_AFTER, self.tell_soon, asker, progress)
                _PROGRESS.set(slow)
            try:
                await work()
            finally:
                if slow is not None:
                    slow.cancel()
        except StoreUnreachable as error:
            log.error("gave up on a command or click: the database did not answer", extra={"problem": str(error)})
            await self.tell(asker, say.DATABASE_AWAY)
