"""What the watch channel reads: a new block, one the watcher unblocks by its rule, a summary of a burst, and the
private list of a burst."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from ...domain.model import BlocklistEntry
from ...domain.requests import Page
from ..blocks import Blocks, actions, button, context, escape, fallback, fit, section, sections
from ..buttons import BURST_LIST, REQUEST_ENTRY, BurstButton, EntryButton
from .common import DESCRIPTION_IN_LIST, SHOWN_ENTRIES, describe, entry_fields, label

#: how many addresses and descriptions a summary names
SUMMARY_SHOWN = 5


def new_block(entry: BlocklistEntry, *, gone: bool = False) -> tuple[str, Blocks]:
    """A new entry on the blocklist, with **Request unblock**; once gone, it says so and loses the button."""
    added = escape(fit(entry.added_by or "someone", 60))
    if gone:
        text = f":white_check_mark: *{label(entry)} is no longer blocked* (3CX entry {entry.id}, added by {added})."
        return fallback(f"{entry.label} is no longer blocked"), [section(text)]
    request = button("Request unblock", REQUEST_ENTRY, EntryButton(entry.id).encode())
    blocks: Blocks = [
        section(f":no_entry: *3CX blocked {label(entry)}*"),
        entry_fields(entry),
        actions("unblock_watch", request),
    ]
    return fallback(f"3CX blocked {entry.label}"), blocks


def unblocked_by_rule(entry: BlocklistEntry, rule: str | None) -> tuple[str, Blocks]:
    """A new entry the watcher unblocks because its rule says so (``auto_on_watch``): the card of the watcher's
    request, which shows the request's outcome, with Undo, once 3CX has answered."""
    added = fit(entry.added_by or "someone", 60)
    by = f" by rule '{fit(rule, 80)}'" if rule else ""
    text = f":unlock: *Unblocked {label(entry)} automatically{by}* (3CX entry {entry.id}, added by {added})."
    return fallback(f"Unblocked {entry.label} automatically{by}"), [section(text), entry_fields(entry)]


def burst(entries: Sequence[BlocklistEntry]) -> tuple[str, Blocks]:
    """Many new entries at once: how many, grouped by description, the first few, and a way to see all."""
    by_description = Counter(e.description or "no description" for e in entries)
    groups = [f"• _{fit(what, DESCRIPTION_IN_LIST)}_: {count}" for what, count in
              by_description.most_common(SUMMARY_SHOWN)]  # fmt: skip
    if len(by_description) > SUMMARY_SHOWN:
        groups.append(f"• …and {len(by_description) - SUMMARY_SHOWN} other descriptions")
    first = ", ".join(f"`{label(e)}`" for e in entries[:SUMMARY_SHOWN])
    more = f" and {len(entries) - SUMMARY_SHOWN} more" if len(entries) > SUMMARY_SHOWN else ""
    ids = BurstButton(min(e.id for e in entries), max(e.id for e in entries))
    blocks: Blocks = [
        section(f":rotating_light: *3CX blocked {len(entries)} addresses at once.*"),
        section("\n".join(groups)),
        context(f"Among them: {first}{more}."),
        actions("unblock_burst", button("Show them all", BURST_LIST, ids.encode())),
    ]
    return fallback(f"3CX blocked {len(entries)} addresses at once"), blocks


def burst_page(ids: BurstButton, page: Page) -> tuple[str, Blocks]:
    """A page of a burst's entries, only for the person who asked, each with **Request unblock**."""
    entries = page.entries
    if not entries:
        none = "None of these entries is on the blocklist any more." if not page.skip else "No more entries."
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
