"""What the watch channel reads when more new entries than ``UNBLOCK_WATCH_BURST`` are unblocked by their rules
in one look: one message for them all (each is still a request of its own), and the private list of them, each
with **Undo**."""

from __future__ import annotations

from collections.abc import Sequence

from ...domain.entries import BlocklistEntry
from ...domain.model import State, UnblockRequest
from ..blocks import Blocks, actions, button, clip, context, fallback, fit, section
from ..buttons import BURST_UNBLOCKED, BurstButton
from .common import RULE, counted, slack_date, title
from .outcome import failure_sentence, undo_button, undo_open
from .watch import SUMMARY_SHOWN, among

#: how many of the requests one private page lists, each with Undo
PAGE_SHOWN = 10


def unblocking(entries: Sequence[BlocklistEntry], rules: Sequence[str | None]) -> tuple[str, Blocks]:
    """Posted before the entries are unblocked, and changed by :func:`unblocked` once 3CX has answered."""
    what = f"Unblocking {_count(len(entries))} automatically {_by(rules)}"
    return fallback(what), [section(f":gear: *{what}…*"), context(among(entries))]


def unblocked(entries: Sequence[BlocklistEntry], requests: Sequence[UnblockRequest], now: float) -> tuple[str, Blocks]:
    """The entries unblocked by their rules (``requests``, one per entry the watcher unblocked): how many were
    unblocked, which could not be, and **Show them all**, each with Undo while it is offered."""
    if not requests:  # a person's request or Undo held every one
        none = f"None of these {_count(len(entries))} was unblocked: each is announced for a person to ask about"
        return fallback(none), [section(f":information_source: {none}."), context(among(entries))]
    done = [r for r in requests if r.state is State.UNBLOCKED]
    failed = [r for r in requests if r.state is State.FAILED]
    under_way = len(requests) - len(done) - len(failed)
    of = f"{len(done)} of {len(entries)} new entries" if len(done) < len(entries) else _count(len(done))
    what = f"Unblocked {of} automatically {_by([r.decision.rule for r in requests])}"
    blocks: Blocks = [section(f":white_check_mark: *{what}.*"), context(among(entries))]
    if failed:
        names = ", ".join(f"`{title(r)}`" for r in failed[:SUMMARY_SHOWN])
        more = f" and {len(failed) - SUMMARY_SHOWN} more" if len(failed) > SUMMARY_SHOWN else ""
        blocks.append(
            section(
                f":x: {_count(len(failed))} could not be unblocked: {names}{more}. *Show them all* says why for each."
            )
        )
    if under_way:
        blocks.append(context(f"{_count(under_way)} still being unblocked: `/unblock history` shows how they end."))
    ends = [r.done.undo_until for r in requests if undo_open(r, now) and r.done.undo_until is not None]
    undo = f" An approver can undo each until {slack_date(min(ends))}." if ends else ""
    blocks.append(context(f"Each is a request of its own, in `/unblock history`.{undo}"))
    ids = BurstButton(min(_id(r) for r in requests), max(_id(r) for r in requests))
    blocks.append(actions("unblock_burst_unblocked", button("Show them all", BURST_UNBLOCKED, ids.encode())))
    return fallback(what), blocks


def unblocked_page(ids: BurstButton, requests: Sequence[UnblockRequest], now: float) -> tuple[str, Blocks]:
    """A page of the requests of such a burst, only for the person who asked: how each ended, with **Undo**
    while it is offered."""
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
        blocks.append(section(line, accessory=_undo(request) if undo_open(request, now) else None))
    if len(requests) > last:
        following = BurstButton(ids.first_id, ids.last_id, last)
        blocks.append(actions("unblock_burst_unblocked_more", button("More", BURST_UNBLOCKED, following.encode())))
    return fallback("Entries unblocked together by their rules"), blocks


def in_burst(requests: Sequence[UnblockRequest], ids: BurstButton, channel: str) -> list[UnblockRequest]:
    """Of ``requests`` (the watcher's last ones), those of the burst ``ids`` names, in ``channel``, by Id."""
    found = [r for r in requests if r.asked.channel == channel and ids.first_id <= _id(r) <= ids.last_id]
    return sorted(found, key=_id)


def _undo(request: UnblockRequest) -> dict[str, object]:
    return undo_button(request, f"Put {clip(request.title, 150)} back on the IP blocklist as it was?")


def _count(entries: int) -> str:
    return counted(entries, "entry", "entries")


def _state(request: UnblockRequest) -> str:
    if request.state is State.UNBLOCKED:
        return "unblocked"
    if request.state is State.FAILED:
        return f"could not be unblocked. {failure_sentence(request)}"
    return {State.UNDONE: "blocked again", State.UNDO_FAILED: "could not be put back"}.get(request.state, "unblocking…")


def _by(rules: Sequence[str | None]) -> str:
    names = sorted({rule for rule in rules if rule})
    if len(names) == 1:
        return f"by rule '{fit(names[0], RULE)}'"
    return "by their rules"


def _id(request: UnblockRequest) -> int:
    """The Id of the IP blocklist entry a request of the watcher's is about (-1: not one)."""
    target = request.what.targets[0]
    return target.id if isinstance(target, BlocklistEntry) else -1
