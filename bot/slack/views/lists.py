"""Listings, history, and the choice among several matching entries (all only for the person who asked)."""

from __future__ import annotations

from collections.abc import Sequence

from ...domain.lookup import Matches, Page
from ...domain.model import State, UnblockRequest
from ...threecx.models import Kind, Target
from ..blocks import Blocks, actions, button, context, escape, fallback, fit, section, sections
from ..buttons import CHOOSE, LIST_MORE, ChoiceButton, PageButton
from .common import (
    DESCRIPTION_IN_LIST,
    SHOWN_ENTRIES,
    STATE_WORDS,
    describe,
    mention,
    slack_date,
    title,
)

#: how much of a reason a history line shows, in characters before escaping
REASON_IN_LIST = 80


def chooser(asked: str, kind: Kind, matches: Matches, offer_id: str) -> tuple[str, Blocks]:
    """Several entries match: list them and let the person pick one, or all."""
    found: Sequence[Target] = matches.blocking
    count = f"{len(found)}{'+' if matches.truncated else ''}"
    things = "blocked caller numbers" if kind is Kind.NUMBER else "blocklist entries"
    blocks: Blocks = [section(f"*{count} {things} match {escape(asked)}.* Which should be unblocked?")]
    for n, target in enumerate(found[:SHOWN_ENTRIES]):
        pick = button("Unblock this", CHOOSE, ChoiceButton(offer_id, n).encode())
        blocks.append(section(describe(target, DESCRIPTION_IN_LIST), accessory=pick))
    if len(found) > SHOWN_ENTRIES:
        blocks.append(context(f"…and {len(found) - SHOWN_ENTRIES} more."))
    if matches.truncated:
        blocks.append(context("More entries match than one request can hold; narrow it down after these."))
    every = button(f"Unblock all {len(found)}", CHOOSE, ChoiceButton(offer_id, None).encode())
    blocks.append(actions("unblock_choose_all", every))
    return fallback(f"{count} {things} match {asked}"), blocks


def listing(text: str | None, page: Page) -> tuple[str, Blocks]:
    """``/unblock list``: a page of the newest entries; **More** continues after the last one shown."""
    where = f" matching `{fit(text, 64)}`" if text else ""
    if not page.entries:
        none = "No blocklist entries" + where + (" on this page." if page.skip else ".")
        return fallback(none), [section(none)]
    first, last = page.skip + 1, page.skip + len(page.entries)
    heading = f"*Newest blocklist entries{where}* ({first} to {last}). Unblock one with `/unblock` and its number."
    blocks = sections([f"• {describe(e, DESCRIPTION_IN_LIST)}" for e in page.entries], heading)
    if page.more:
        blocks.append(actions("unblock_list", button("More", LIST_MORE, PageButton(text, last).encode())))
    return fallback(f"Newest blocklist entries{where}"), blocks


def history(requests: Sequence[UnblockRequest], everywhere: bool) -> tuple[str, Blocks]:
    """``/unblock history``: one line per request, newest first; the channel of each for ``everywhere``."""
    scope = "" if everywhere else " in this channel"
    if not requests:
        none = f"No unblock requests yet{scope}."
        return none, [section(none)]
    lines = []
    for r in requests:
        line = f"• {slack_date(r.created_at)} `{title(r)}` {how_it_ended(r)}, requested by {mention(r.requester)}"
        if everywhere:
            line += f" in <#{r.origin}>"
        if r.reason:
            line += f" · _{fit(r.reason, REASON_IN_LIST)}_"
        lines.append(line + f" · `{r.id}`")
    return fallback(f"Latest unblock requests{scope}"), sections(lines, f"*Latest unblock requests{scope}*")


def how_it_ended(r: UnblockRequest) -> str:
    """``unblocked by @bob``, ``being unblocked (approved by @bob)``, ``undo failed (tried by @carol)``…"""
    words = f"*{STATE_WORDS[r.state]}*"
    decider, undoer = mention(r.resolved_by), mention(r.undone_by)
    match r.state:
        case State.UNBLOCKED | State.DENIED:
            return f"{words} by {decider}"
        case State.CANCELLED:
            return f"{words} by {decider}" if r.resolved_by else "*withdrawn* (its card could not be posted)"
        case State.EXECUTING | State.FAILED:
            return f"{words} (approved by {decider})"
        case State.UNDOING | State.UNDONE:
            return f"{words} by {undoer} (unblocked by {decider})"
        case State.UNDO_FAILED:
            return f"*unblocked* by {decider}; *undo failed* (tried by {undoer})"
        case _:
            return words
