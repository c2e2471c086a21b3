"""The allow entries' life in Slack: its messages in the thread of the request's card (the domain's
``AllowNotices``), and the clicks on Extend and End now (in the thread, and End now in the Home tab)."""

from __future__ import annotations

from dataclasses import dataclass

from ..domain.allows import Allow, AllowAnswer, Changed, Said
from ..domain.model import UnblockRequest
from .answers import Asker
from .buttons import ALLOW_EXTEND, ExtendButton, RequestButton
from .showing import Showing
from .use_cases import UseCases
from .views import allows as view


@dataclass(frozen=True, slots=True)
class AllowReplies:
    """What the allows' life says, as replies in the thread of the request's card, and the Home tabs refreshed."""

    showing: Showing

    async def warn(self, allow: Allow, request: UnblockRequest, extend_by: float, allow_max: float) -> Said:
        if await self.showing.where(request.id) is None:
            return Said.NOWHERE  # the card came through a reply URL: it has no thread
        drawn = view.warning(allow, extend_by, allow_max, self.showing.clock(), pbx=request.pbx)
        said = await self.showing.reply(request, *drawn)
        return Said.SHOWN if said else Said.LATER

    async def extended(self, allow: Allow, request: UnblockRequest) -> None:
        await self.showing.reply(request, *view.extended(allow, pbx=request.pbx))
        await self.showing.homes(request)

    async def ended(self, allow: Allow, request: UnblockRequest) -> bool:
        said = await self.showing.reply(request, *view.ended(allow, pbx=request.pbx))
        await self.showing.homes(request)
        return said


async def allow_clicked(
    use_cases: UseCases, button: RequestButton | ExtendButton, asker: Asker, *, action_id: str
) -> None:
    """Extend, or End now (in a thread, or in the Home tab); what it changed is said in the card's thread, and the
    person who clicked is told privately only when it changed nothing (in the Home tab, always)."""
    life = use_cases.allows
    answer: AllowAnswer
    channel = None if asker.home else asker.channel  # the Home tab belongs to no channel
    if action_id == ALLOW_EXTEND and isinstance(button, ExtendButton):
        answer = await life.extend(button.request_id, asker.user, channel, button.ends_at)
    else:
        answer = await life.end(button.request_id, asker.user, channel)
    if asker.home or not isinstance(answer, Changed):
        await use_cases.answers.tell(asker, view.click_note(answer))
