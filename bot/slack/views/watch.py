"""What the watch channel reads: a new block, one the watcher unblocks by its rule, a summary of a burst, and the
private list of a burst; and, when more new entries than ``UNBLOCK_WATCH_BURST`` are unblocked by their rules in
one look, one message for them all (each is still a request of its own), and the private list of them, each with
**Undo**. The watch channel's messages name the PBX they are about (``pbx``; nothing for the one PBX of a bot that
serves one)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from ...domain.entries import BlocklistEntry
from ...domain.lookup import Page
from ...domain.model import State, UnblockRequest
from ...domain.recurrence import Recurrence
from ..blocks import Blocks, actions, button, context, fallback, fit, section, sections
from ..buttons import BURST_LIST, BURST_UNBLOCKED, REQUEST_ENTRY, BurstButton, EntryButton, of_pbx
from .common import (
    DESCRIPTION_IN_LIST,
    RECURRENCE_DAYS,
    RULE,
    SHOWN_ENTRIES,
    counted,
    entry_fields,
    label,
    pbx_tag,
    pickable,
    slack_date,
    time_since,
    times,
    title,
    unblocker,
)
from .outcome import failure_sentence, undo_button, undo_open

#: how many addresses and descriptions a summary names
SUMMARY_SHOWN = 5


def new_block(
    entry: BlocklistEntry, *, gone: bool = False, again: Recurrence | None = None, now: float = 0.0, pbx: str = ""
) -> tuple[str, Blocks]:
    """A new entry on the blocklist of the PBX named ``pbx``, with **Request unblock**; once gone, it says so and
    loses the button. ``again``: the bot unblocked what it blocks before (``now`` is when it came back), and it
    says when."""
    added, on = fit(entry.added_by or "someone", 60), pbx_tag(pbx)
    if gone:
        text = f":white_check_mark: *{on}{label(entry)} is no longer blocked* (3CX entry {entry.id}, added by {added})."
        return fallback(f"{on}{label(entry)} is no longer blocked"), [section(text)]
    blocks: Blocks = [section(f":no_entry: *{on}3CX blocked {label(entry)}*"), entry_fields(entry)]
    if again is not None:  # the bot unblocked what it blocks before: when, by whom, and how often
        often = f" It was unblocked {times(again.count)} in the last {RECURRENCE_DAYS} days." if again.count > 1 else ""
        since = time_since(now - again.last_at)
        blocks.append(context(f"Blocked again, {since} after {unblocker(again.last)} unblocked it.{often}"))
    ask = button("Request unblock", REQUEST_ENTRY, of_pbx(pbx, EntryButton(entry.id).encode()))
    blocks.append(actions("unblock_watch", ask))
    return fallback(f"{on}3CX blocked {label(entry)}{' again' if again is not None else ''}"), blocks


def unblocked_by_rule(entry: BlocklistEntry, rule: str | None, *, pbx: str = "") -> tuple[str, Blocks]:
    """A new entry the watcher unblocks by its rule: the card of the watcher's request, which shows the request's
    outcome, with Undo, once 3CX has answered."""
    added = fit(entry.added_by or "someone", 60)
    by = f" by rule '{fit(rule, RULE)}'" if rule else ""
    what = f"{pbx_tag(pbx)}Unblocked {label(entry)} automatically{by}"
    text = f":unlock: *{what}* (3CX entry {entry.id}, added by {added})."
    return fallback(what), [section(text), entry_fields(entry)]


def burst(entries: Sequence[BlocklistEntry], *, pbx: str = "") -> tuple[str, Blocks]:
    by_description = Counter(e.description or "no description" for e in entries)
    groups = [
        f"• _{fit(what, DESCRIPTION_IN_LIST)}_: {count}" for what, count in by_description.most_common(SUMMARY_SHOWN)
    ]
    if len(by_description) > SUMMARY_SHOWN:
        groups.append(f"• …and {len(by_description) - SUMMARY_SHOWN} other descriptions")
    ids = BurstButton(min(e.id for e in entries), max(e.id for e in entries))
    what = f"{pbx_tag(pbx)}3CX blocked {len(entries)} addresses at once"
    blocks: Blocks = [
        section(f":rotating_light: *{what}.*"),
        section("\n".join(groups)),
        context(among(entries)),
        actions("unblock_burst", button("Show them all", BURST_LIST, of_pbx(pbx, ids.encode()))),
    ]
    return fallback(what), blocks


def among(entries: Sequence[BlocklistEntry]) -> str:
    return f"Among them: {first_few([label(e) for e in entries])}."


def first_few(names: Sequence[str]) -> str:
    more = f" and {len(names) - SUMMARY_SHOWN} more" if len(names) > SUMMARY_SHOWN else ""
    return ", ".join(f"`{name}`" for name in names[:SUMMARY_SHOWN]) + more


def burst_page(ids: BurstButton, page: Page, *, pbx: str = "") -> tuple[str, Blocks]:
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
    blocks += [
        pickable(entry, REQUEST_ENTRY, of_pbx(pbx, EntryButton(entry.id).encode())) for entry in entries[:SHOWN_ENTRIES]
    ]
    if page.more:
        following = BurstButton(ids.first_id, ids.last_id, last)
        blocks.append(actions("unblock_burst_more", button("More", BURST_LIST, of_pbx(pbx, following.encode()))))
    return fallback(f"Entries {together}"), blocks


#: how many of the requests one private page lists, each with Undo
PAGE_SHOWN = 10


def unblocking(entries: Sequence[BlocklistEntry], rules: Sequence[str | None], *, pbx: str = "") -> tuple[str, Blocks]:
    what = f"{pbx_tag(pbx)}Unblocking {_count(len(entries))} automatically {_by(rules)}"
    return fallback(what), [section(f":gear: *{what}…*"), context(among(entries))]


def unblocked(
    entries: Sequence[BlocklistEntry], requests: Sequence[UnblockRequest], now: float, *, pbx: str = ""
) -> tuple[str, Blocks]:
    if not requests:  # a person's request or Undo held every one
        none = (
            f"{pbx_tag(pbx)}None of these {_count(len(entries))} was unblocked: each is announced for a person to "
            "ask about"
        )
        return fallback(none), [section(f":information_source: {none}."), context(among(entries))]
    done = [r for r in requests if r.state is State.UNBLOCKED]
    failed = [r for r in requests if r.state is State.FAILED]
    under_way = len(requests) - len(done) - len(failed)
    of = f"{len(done)} of {len(entries)} new entries" if len(done) < len(entries) else _count(len(done))
    what = f"{pbx_tag(pbx)}Unblocked {of} automatically {_by([r.decision.rule for r in requests])}"
    blocks: Blocks = [section(f":white_check_mark: *{what}.*"), context(among(entries))]
    if failed:
        names = first_few([title(r) for r in failed])
        blocks.append(
            section(f":x: {_count(len(failed))} could not be unblocked: {names}. *Show them all* says why for each.")
        )
    if under_way:
        blocks.append(context(f"{_count(under_way)} still being unblocked: `/unblock history` shows how they end."))
    ends = [r.done.undo_until for r in requests if undo_open(r, now) and r.done.undo_until is not None]
    undo = f" An approver can undo each until {slack_date(min(ends))}." if ends else ""
    blocks.append(context(f"Each is a request of its own, in `/unblock history`.{undo}"))
    ids = BurstButton(min(_id(r) for r in requests), max(_id(r) for r in requests))
    every = button("Show them all", BURST_UNBLOCKED, of_pbx(pbx, ids.encode()))
    blocks.append(actions("unblock_burst_unblocked", every))
    return fallback(what), blocks


def unblocked_page(
    ids: BurstButton, requests: Sequence[UnblockRequest], now: float, *, pbx: str = ""
) -> tuple[str, Blocks]:
    shown = requests[ids.skip : ids.skip + PAGE_SHOWN]
    if not shown:
        none = "These requests are no longer among the bot's last ones." if not ids.skip else "No more requests."
        return fallback(none), [section(none)]
    first, last = ids.skip + 1, ids.skip + len(shown)
    heading = f"*Entries unblocked together by their rules*, {first} to {last} of {len(requests)}:"
    blocks: Blocks = [section(heading)]
    for request in shown:
        line = (
            f"`{title(request)}` (3CX entry {request.what.targets[0].id}): {_state(request)} · request `{request.id}`"
        )
        blocks.append(section(line, accessory=undo_button(request) if undo_open(request, now) else None))
    if len(requests) > last:
        following = BurstButton(ids.first_id, ids.last_id, last)
        more = button("More", BURST_UNBLOCKED, of_pbx(pbx, following.encode()))
        blocks.append(actions("unblock_burst_unblocked_more", more))
    return fallback("Entries unblocked together by their rules"), blocks


def in_burst(requests: Sequence[UnblockRequest], ids: BurstButton, channel: str) -> list[UnblockRequest]:
    found = [r for r in requests if r.asked.channel == channel and ids.first_id <= _id(r) <= ids.last_id]
    return sorted(found, key=_id)


def _count(entries: int) -> str:
    return counted(entries, "entry", "entries")


def _state(request: UnblockRequest) -> str:
    if request.state is State.FAILED:
        return f"could not be unblocked. {failure_sentence(request)}"
    words = {State.UNBLOCKED: "unblocked", State.UNDONE: "blocked again", State.UNDO_FAILED: "could not be put back"}
    return words.get(request.state, "unblocking…")


def _by(rules: Sequence[str | None]) -> str:
    names = sorted({rule for rule in rules if rule})
    return f"by rule '{fit(names[0], RULE)}'" if len(names) == 1 else "by their rules"


def _id(request: UnblockRequest) -> int:
    """The Id of the IP blocklist entry a request of the watcher's is about (-1: not one)."""
    target = request.what.targets[0]
    return target.id if isinstance(target, BlocklistEntry) else -1
