"""What the watch channel reads: a new block, one the watcher unblocks by its rule, a summary of a burst, and the
private list of a burst."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from ...domain.allowing import duration_words
from ...domain.entries import BlocklistEntry
from ...domain.lookup import Page
from ...domain.recurrence import Recurrence
from ..blocks import Blocks, actions, button, context, fallback, fit, section, sections
from ..buttons import BURST_LIST, REQUEST_ENTRY, BurstButton, EntryButton
from .common import (
    DESCRIPTION_IN_LIST,
    RECURRENCE_DAYS,
    SHOWN_ENTRIES,
    describe,
    entry_fields,
    label,
    times,
    unblocker,
)

#: how many addresses and descriptions a summary names
SUMMARY_SHOWN = 5


def new_block(
    entry: BlocklistEntry, *, gone: bool = False, again: Recurrence | None = None, now: float = 0.0
) -> tuple[str, Blocks]:
    """A new entry on the blocklist, with **Request unblock**; once gone, it says so and loses the button.
    ``again``: the bot unblocked what it blocks before (``now`` is when it came back), and it says when."""
    added = fit(entry.added_by or "someone", 60)
    if gone:
        text = f":white_check_mark: *{label(entry)} is no longer blocked* (3CX entry {entry.id}, added by {added})."
        return fallback(f"{label(entry)} is no longer blocked"), [section(text)]
    request = button("Request unblock", REQUEST_ENTRY, EntryButton(entry.id).encode())
    blocks: Blocks = [section(f":no_entry: *3CX blocked {label(entry)}*"), entry_fields(entry)]
    if again is not None:
        blocks.append(context(blocked_again(again, now)))
    blocks.append(actions("unblock_watch", request))
    return fallback(f"3CX blocked {label(entry)}{' again' if again is not None else ''}"), blocks


def blocked_again(again: Recurrence, now: float) -> str:
    """``Blocked again, 2 days after <@U1> unblocked it.``, and how often it was unblocked when more than once."""
    often = f" It was unblocked {times(again.count)} in the last {RECURRENCE_DAYS} days." if again.count > 1 else ""
    return f"Blocked again, {time_since(now - again.last_at)} after {unblocker(again.last)} unblocked it.{often}"


def time_since(seconds: float) -> str:
    """``2 days``, ``5 hours``, ``10 minutes``, ``moments``: how long ago, roughly, as people say it."""
    for size in (86400, 3600, 60):
        if seconds >= size:
            return duration_words(seconds // size * size)
    return "moments"


def unblocked_by_rule(entry: BlocklistEntry, rule: str | None) -> tuple[str, Blocks]:
    """A new entry the watcher unblocks because its rule says so (``auto_on_watch``): the card of the watcher's
    request, which shows the request's outcome, with Undo, once 3CX has answered."""
    added = fit(entry.added_by or "someone", 60)
    by = f" by rule '{fit(rule, 80)}'" if rule else ""
    text = f":unlock: *Unblocked {label(entry)} automatically{by}* (3CX entry {entry.id}, added by {added})."
    return fallback(f"Unblocked {label(entry)} automatically{by}"), [section(text), entry_fields(entry)]


def burst(entries: Sequence[BlocklistEntry]) -> tuple[str, Blocks]:
    """Many new entries at once: how many, grouped by description, the first few, and a way to see all."""
    by_description = Counter(e.description or "no description" for e in entries)
    groups = [
        f"• _{fit(what, DESCRIPTION_IN_LIST)}_: {count}" for what, count in by_description.most_common(SUMMARY_SHOWN)
    ]
    if len(by_description) > SUMMARY_SHOWN:
        groups.append(f"• …and {len(by_description) - SUMMARY_SHOWN} other descriptions")
    ids = BurstButton(min(e.id for e in entries), max(e.id for e in entries))
    blocks: Blocks = [
        section(f":rotating_light: *3CX blocked {len(entries)} addresses at once.*"),
        section("\n".join(groups)),
        context(among(entries)),
        actions("unblock_burst", button("Show them all", BURST_LIST, ids.encode())),
    ]
    return fallback(f"3CX blocked {len(entries)} addresses at once"), blocks


def among(entries: Sequence[BlocklistEntry]) -> str:
    """``Among them: `192.0.2.1`, `192.0.2.2` and 3 more.``"""
    first = ", ".join(f"`{label(e)}`" for e in entries[:SUMMARY_SHOWN])
    more = f" and {len(entries) - SUMMARY_SHOWN} more" if len(entries) > SUMMARY_SHOWN else ""
    return f"Among them: {first}{more}."


def burst_page(ids: BurstButton, page: Page) -> tuple[str, Blocks]:
    """A page of a burst's entries, only for the person who asked, each with **Request unblock**."""
    entries = page.entries
    if not entries:
        none = "None of these entries is on the IP blocklist any more." if not page.skip else "No more entries."
        return fallback(none), [section(none)]
    first, last = page.skip + 1, page.skip + len(entries)
    together = f"blocked together ({ids.first_id}\N{EN DASH}{ids.last_id})"
    if page.skip or page.more:
        heading = f"*Entries {together}*, {first} to {last} of those still blocked:"
    else:
        heading = f"*{last} {'entries' if last != 1 else 'entry'} {together}*, still blocked:"
    blocks = sections([], heading)
    for entry in entries[:SHOWN_ENTRIES]:
        pick = button("Request unblock", REQUEST_ENTRY, EntryButton(entry.id).encode())
        blocks.append(section(describe(entry, DESCRIPTION_IN_LIST), accessory=pick))
    if page.more:
        following = BurstButton(ids.first_id, ids.last_id, last)
        blocks.append(actions("unblock_burst_more", button("More", BURST_LIST, following.encode())))
    return fallback(f"Entries {together}"), blocks
