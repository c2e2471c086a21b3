"""Listings, history, and the choice among several matching entries (all only for the person who asked)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from ...domain.entries import BlocklistEntry, Kind, Target
from ...domain.lookup import Matches, Page
from ...domain.model import UnblockRequest
from ..blocks import Blocks, actions, button, context, escape, fallback, fit, section, sections
from ..buttons import CHOOSE, LIST_MORE, ChoiceButton, PageButton
from .common import DESCRIPTION_IN_LIST, SHOWN_ENTRIES, describe, ended, mention, slack_date, title, under_rule

#: how much of a reason a history line shows, in characters before escaping
REASON_IN_LIST = 80


def chooser(asked: str, kind: Kind, matches: Matches, offer_id: str) -> tuple[str, Blocks]:
    """Several entries match: list them and let the person pick one, or all."""
    found: Sequence[Target] = matches.blocking
    count = f"{len(found)}{'+' if matches.truncated else ''}"
    things = "caller-number blacklist entries" if kind is Kind.NUMBER else "IP blocklist entries"
    blocks: Blocks = [
        section(f"*{count} {things} match {escape(asked)}.* Which should be unblocked? An approver decides.")
    ]
    for n, target in enumerate(found[:SHOWN_ENTRIES]):
        pick = button("Request unblock", CHOOSE, ChoiceButton(offer_id, n).encode())
        blocks.append(section(describe(target, DESCRIPTION_IN_LIST), accessory=pick))
    if len(found) > SHOWN_ENTRIES:
        blocks.append(context(f"…and {len(found) - SHOWN_ENTRIES} more."))
    if matches.truncated:
        blocks.append(context("More entries match than one request can hold; narrow it down after these."))
    every = button(f"Request all {len(found)}", CHOOSE, ChoiceButton(offer_id, None).encode())
    blocks.append(actions("unblock_choose_all", every))
    return fallback(f"{count} {things} match {escape(asked)}"), blocks


def listing(text: str | None, page: Page) -> tuple[str, Blocks]:
    """``/unblock list``: a page of the newest entries of the IP blocklist, blocks and allow entries apart;
    **More** continues after the last one shown."""
    where = f" matching `{fit(text, 64)}`" if text else ""
    if not page.entries:
        none = "No IP blocklist entries" + where + (" on this page." if page.skip else ".")
        return fallback(none), [section(none)]
    first, last = page.skip + 1, page.skip + len(page.entries)
    heading = (
        f"*Newest IP blocklist entries{where}* ({first} to {last}). Unblock a block with `/unblock` and its number."
    )
    blocked = [f"• {_listed(e)}" for e in page.entries if e.blocks]
    allowed = [f"• {_listed(e)}" for e in page.entries if not e.blocks]
    lines = ([f"*Blocks ({len(blocked)})*", *blocked] if blocked else []) + (
        [f"*Allow entries ({len(allowed)})*: these let an address in", *allowed] if allowed else []
    )
    blocks = sections(lines, heading)
    if page.more:
        blocks.append(actions("unblock_list", button("More", LIST_MORE, PageButton(text, last).encode())))
    return fallback(f"Newest IP blocklist entries{where}"), blocks


#: how the bot names an approver in the description of an allow entry it adds (``bot.app.ALLOW_DESCRIPTION``)
_APPROVER_IN_DESCRIPTION = re.compile(r"(?<=approved by )Slack user ([UW][A-Z0-9]{2,20})(?=, request )")


def _listed(entry: BlocklistEntry) -> str:
    """An entry's line; an allow entry the bot added names its approver as a person, not as a raw id."""
    line = describe(entry, DESCRIPTION_IN_LIST)
    return _APPROVER_IN_DESCRIPTION.sub(r"<@\1>", line) if not entry.blocks else line


def history(requests: Sequence[UnblockRequest], everywhere: bool) -> tuple[str, Blocks]:
    """``/unblock history``: one line per request, newest first; the channel of each for ``everywhere``."""
    scope = "" if everywhere else " in this channel"
    if not requests:
        none = f"No unblock requests yet{scope}."
        return none, [section(none)]
    lines = []
    for r in requests:
        line = f"• {slack_date(r.asked.at)} {how_it_ended(r)} · requested by {mention(r.asked.by)}"
        if everywhere:
            line += f" in <#{r.asked.origin}>"
        if r.asked.reason:
            line += f" · _{fit(r.asked.reason, REASON_IN_LIST)}_"
        lines.append(line + f" · `{r.id}`")
    return fallback(f"Latest unblock requests{scope}"), sections(lines, f"*Latest unblock requests{scope}*")


def how_it_ended(r: UnblockRequest) -> str:
    """``Request to unblock `203.0.113.7` was denied by @bob``: the one pattern of every outcome; then the rule
    that decides and the approvals so far, when there are (`` · rule 'Wide networks' · 1 of 2 approvals``)."""
    return " · ".join([f"Request to unblock `{title(r)}` *{ended(r)}*", *under_rule(r)])
