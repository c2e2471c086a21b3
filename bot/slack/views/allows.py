"""What people read about an allow entry's life: the warning before it ends (with Extend and End now), that it
was extended, how it ended, the private answer to a click on Extend or End now, its part of the Home tab and its
note in the history."""

from __future__ import annotations

from collections.abc import Sequence

from ...domain.allowing import duration_words
from ...domain.allows import (
    Allow,
    AllowAnswer,
    AlreadyChanged,
    Cannot,
    Changed,
    How,
    NoAllow,
    Phase,
    Unchanged,
    Unrecorded,
)
from ...domain.outcomes import Outcome
from ..blocks import Blocks, actions, button, confirm, context, fallback, fit, section
from ..buttons import ALLOW_END, ALLOW_EXTEND, HOME_ALLOW_END, ExtendButton, RequestButton, of_pbx
from .common import LABEL, explained, mention, pbx_tag, slack_date, time_since


def _address(allow: Allow) -> str:
    return fit(allow.address, LABEL)


def _end_now(allow: Allow, action_id: str) -> dict[str, object]:
    sure = confirm(
        "End the allow entry?",
        f"3CX will remove the allow entry for {allow.address} now, and the address may be blocked again.",
        "End now",
        "Keep it",
    )
    return button("End now", action_id, of_pbx(allow.pbx, RequestButton(allow.request_id).encode()), "danger", sure)


def at_most(allow_max: float) -> str:
    return f"its rule lets an allow entry last {duration_words(allow_max)} at most"


def warning(allow: Allow, extend_by: float, allow_max: float, now: float, *, pbx: str = "") -> tuple[str, Blocks]:
    """The reply in the card's thread before the allow ends: Extend (by what it adds) and End now (``allow_max``:
    its rule's, said when it cannot be extended); ``pbx``: the name of its request's PBX."""
    left = time_since(allow.ends_at - now)
    line = f"{pbx_tag(pbx)}The allow entry for {_address(allow)} ends {slack_date(allow.ends_at)} (in {left})."
    blocks: Blocks = [section(f":hourglass: {line}")]
    elements = [_end_now(allow, ALLOW_END)]
    if extend_by > 0:
        value = of_pbx(allow.pbx, ExtendButton(allow.request_id, int(allow.ends_at)).encode())
        elements.insert(0, button(f"Extend by {duration_words(extend_by)}", ALLOW_EXTEND, value, "primary"))
    else:
        blocks.append(context(f"It cannot be extended: {at_most(allow_max)}."))
    blocks.append(actions(f"allow_{allow.request_id}", *elements))
    return fallback(line), blocks


def extended(allow: Allow, *, pbx: str = "") -> tuple[str, Blocks]:
    line = (
        f"{pbx_tag(pbx)}{mention(allow.extended_by)} extended the allow entry for {_address(allow)} until "
        f"{slack_date(allow.ends_at)}."
    )
    return fallback(line), [section(f":hourglass_flowing_sand: {line}")]


def how_it_ended(allow: Allow) -> str:
    """``3CX lifted the allow entry for 203.0.113.7 at its expiry (…)``, or who ended it, or that it was gone."""
    address = _address(allow)
    if allow.how is How.END_NOW:
        return f"The allow entry for {address} was ended by {mention(allow.ended_by)} (End now)."
    if allow.how is How.REMOVED:
        return f"The allow entry for {address} was gone from 3CX before its end (someone removed it)."
    if allow.how is How.UNDONE:
        return f"The allow entry for {address} was removed by {mention(allow.ended_by)}'s Undo."
    return f"3CX lifted the allow entry for {address} at its expiry ({slack_date(allow.ends_at)})."


def ended(allow: Allow, *, pbx: str = "") -> tuple[str, Blocks]:
    line = pbx_tag(pbx) + how_it_ended(allow)
    return fallback(line), [section(f":lock: {line}")]


def click_note(answer: AllowAnswer) -> str:
    """The private answer to Extend or End now (the thread says what a click changed; the Home tab, this)."""
    if isinstance(answer, NoAllow):
        return "This request has no allow entry of the bot's; nothing was changed."
    allow, address = answer.allow, _address(answer.allow)
    if isinstance(answer, Unrecorded):
        did = "extended" if allow.phase is Phase.EXTENDING else "ended"
        return f"3CX {did} the allow entry for {address}; the bot records it shortly and says so in the thread."
    if isinstance(answer, Changed):
        if allow.phase is Phase.ENDED:
            return how_it_ended(allow)
        return f"The allow entry for {address} now ends {slack_date(allow.ends_at)}."
    if isinstance(answer, AlreadyChanged):
        if allow.phase is Phase.ENDED:
            return f"Nothing was changed: {how_it_ended(allow)}"
        if allow.phase is not Phase.ACTIVE:
            return f"Nothing was changed: {mention(allow.change_by)} is changing the allow entry for {address} now."
        by = f" by {mention(allow.extended_by)}" if allow.extended_by else ""
        return f"Nothing was changed: the allow entry for {address} was already extended{by}, until " + (
            f"{slack_date(allow.ends_at)}."
        )
    return _unchanged(answer, address)


def _unchanged(answer: Unchanged, address: str) -> str:
    if answer.why is Cannot.NOT_APPROVER:
        return "Only the approvers of this request may extend its allow entry; nothing was changed."
    if answer.why is Cannot.NOT_APPROVER_OR_REQUESTER:
        return "Only the approvers of this request, or the person who asked for it, may end its allow entry."
    if answer.why is Cannot.OTHER_CHANNEL:
        return "This button belongs to a request made in another channel, so it does nothing here."
    if answer.why is Cannot.AT_MOST:
        return f"The allow entry for {address} cannot be extended: {at_most(answer.allow_max)}."
    why = explained(answer.reason or Outcome.OTHER)
    again = " Try again in a moment." if answer.reason is Outcome.UNAVAILABLE else ""
    return f"3CX did not change the allow entry for {address}: {why}{again} ({fit(answer.answer, 300)})"


def home_allows(allows: Sequence[tuple[Allow, bool]], shown: int) -> Blocks:
    """The Home tab's allow entries in force, the soonest end first, with End now for those the reader may end."""
    blocks: Blocks = [{"type": "divider"}, section("*Allow entries in force* (the soonest end first)")]
    for allow, may_end in allows[:shown]:
        until = f"until {slack_date(allow.ends_at)} · request `{allow.request_id}`"
        line = f"• {pbx_tag(allow.pbx)}*{_address(allow)}* {until}"
        blocks.append(section(line, _end_now(allow, HOME_ALLOW_END) if may_end else None))
    if len(allows) > shown:
        blocks.append(context("…and more."))
    return blocks


def history_note(allow: Allow) -> str:
    """A request's allow in a history line: ``allow until …``, ``allow extended until …``, ``allow ended …``."""
    if allow.phase is not Phase.ENDED:
        return f"allow {'extended ' if allow.extended_by else ''}until {slack_date(allow.ends_at)}"
    how = {
        How.EXPIRED: "at its expiry",
        How.END_NOW: f"by {mention(allow.ended_by)}",
        How.REMOVED: "outside the bot",
        How.UNDONE: "by Undo",
    }
    return f"allow ended {how[allow.how] if allow.how else ''}".strip()
