"""What the domain needs from outside, as protocols: a store for requests, the PBX's lists, and the place where people
see requests and new blocks. Each holds only what the domain calls."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from .entries import BlocklistEntry, Kind, Removal, Target
from .evidence import Logged
from .model import Escalation, Move, UnblockRequest
from .recurrence import Recurrence

#: the most requests ``RequestStore.unblocked_since`` returns (the last decided)
UNBLOCKS_READ = 2000
#: the most requests ``RequestStore.still_waiting`` returns (the oldest; the next round reads the rest)
WAITING_READ = 500


class StoreUnreachable(Exception):
    """The database did not answer for as long as the bot waits; the operation did not complete (a write
    whose answer was lost may still have been made)."""


class AlreadyOpen(Exception):
    """An entry of a new request is already in an open request (the one named)."""

    def __init__(self, request_id: str) -> None:
        super().__init__(request_id)
        self.request_id = request_id


class RequestStore(Protocol):
    """Where requests and their transitions are kept (see ``bot.storage``). Every method may raise
    :class:`StoreUnreachable`."""

    def scoped(self, pbx: str) -> RequestStore:
        """A view of the same store whose reads list only the requests of the PBX ``pbx``."""

    async def add(self, request: UnblockRequest) -> None:
        """Keep a new pending request, and take its entries; :class:`AlreadyOpen` (nothing kept) when an entry is
        already taken by an open request."""

    async def get(self, request_id: str) -> UnblockRequest | None: ...

    async def transition(self, move: Move) -> UnblockRequest | None:
        """Make ``move`` if its conditions hold, and log it; entering ``executing`` or ``undoing`` sets the
        owner and the heartbeat, leaving an open state frees the entries. The moved request, or None if
        another click or process moved it first."""

    async def renew(self, request_id: str, owner: str, at: float) -> bool:
        """Renew ``owner``'s claim; False when it no longer holds it."""

    async def take_over(self, request_id: str, owner: str, heartbeat_at: float, at: float) -> UnblockRequest | None:
        """Claim a request whose last heartbeat was ``heartbeat_at`` for ``owner``; None if it moved meanwhile."""

    async def abandoned(self, heartbeat_before: float) -> list[UnblockRequest]:
        """Requests in ``executing`` or ``undoing`` whose heartbeat is older than that moment."""

    async def recent(self, count: int, channel: str | None = None) -> list[UnblockRequest]:
        """The newest requests (of one channel, when given), newest first."""

    async def pending_expired(self, now: float) -> list[UnblockRequest]: ...

    async def waiting(self, count: int, pbxes: Collection[str] | None = None) -> list[UnblockRequest]:
        """The newest requests waiting for a decision (of the PBXes ``pbxes`` only, when given), newest first."""

    async def requested_by(self, user: str, count: int) -> list[UnblockRequest]:
        """The newest requests ``user`` asked for, newest first."""

    async def undone(self, count: int) -> list[UnblockRequest]:
        """The last ``count`` requests an Undo was claimed for (``undoing``, ``undone`` or ``undo_failed``), the
        last undone first."""

    async def still_waiting(
        self, now: float, remind_before: float | None, escalate_before: float | None
    ) -> list[UnblockRequest]:
        """Pending requests still in time at ``now``, oldest first, made at ``remind_before`` or earlier and not
        reminded yet, or at ``escalate_before`` or earlier and not escalated yet (None: not that one); at most
        ``WAITING_READ`` of them."""

    async def claim_reminder(
        self, request_id: str, holder: str, at: float, stale_before: float
    ) -> UnblockRequest | None:
        """Claim the reminder of a request for ``holder`` to send it, only if the request is still pending and in
        time at ``at``, was never reminded, and its reminder was not claimed since ``stale_before`` (one
        compare-and-set, so that of two rounds, in one process or in two, one sends it): the request, or None."""

    async def release_reminder(self, request_id: str, holder: str) -> None:
        """The reminder ``holder`` claimed was not delivered: let the next round (any process's) claim it."""

    async def mark_reminded(self, request_id: str, at: float) -> UnblockRequest | None:
        """Record that the request's approvers were reminded at ``at`` (the reminder was delivered), only if it is
        still pending and in time then and was never reminded (one compare-and-set): the request, or None."""

    async def mark_escalated(self, request_id: str, escalation: Escalation) -> UnblockRequest | None:
        """Record ``escalation``, only if the request is still pending and in time at ``escalation.at`` and was
        never escalated (one compare-and-set): the request, or None."""

    async def unblocked_since(self, since: float) -> list[UnblockRequest]:
        """The requests whose entries stayed unblocked (``unblocked``, or ``undo_failed``) decided at ``since`` or
        later, the last decided first; at most ``UNBLOCKS_READ`` of them."""

    async def between(self, since: float, until: float, count: int) -> list[UnblockRequest]:
        """The requests made from ``since`` (included) to ``until`` (excluded), oldest first, at most ``count``."""


class ReportStore(Protocol):
    """The weekly reports recorded: one row per report, so that one process posts it, and recorded sent only
    once it was delivered. Every method may raise :class:`StoreUnreachable`."""

    async def last_report(self) -> float | None:
        """When the latest weekly report sent (or recorded without a post) was due (None: none ever was)."""

    async def claim_report(self, due_at: float, holder: str, at: float, *, posted: bool, stale_before: float) -> bool:
        """Claim the weekly report due at ``due_at`` for ``holder`` to post it (``posted``), until
        ``report_sent``; or, not ``posted``, record it done at once (the first start of reporting). True when
        ``holder`` holds it now: it was not recorded, or was claimed, not sent, before ``stale_before`` (by a
        process that stopped); False when it is sent or claimed since (of two looks, in one process or in two,
        one posts it)."""

    async def report_sent(self, due_at: float, holder: str, at: float) -> None: ...

    async def release_report(self, due_at: float, holder: str) -> None:
        """The report ``holder`` claimed was not delivered: let the next look (any process's) claim it again."""


class EntryList(Protocol):
    """One of the PBX's lists (the IP blocklist, the caller-number blacklist), as the domain acts on it."""

    async def remove(self, target: Target) -> Removal:
        """Delete the entry (conditional on the version the PBX gave, if any): deleted, or already gone."""

    async def restore(self, target: Target) -> tuple[Target, str]:
        """Add the entry back as it was; the new entry (the PBX gives it a new id) and the PBX's answer. Never sent
        twice."""

    async def listed(self, target: Target) -> bool:
        """Whether the PBX still lists the entry (by its id)."""

    async def find_restored(self, target: Target) -> str | None:
        """The id of an entry that blocks what ``target`` blocked, if the PBX lists one now."""


#: the PBX's lists, by the kind of entry they hold
Lists = Mapping[Kind, EntryList]


@dataclass(frozen=True, slots=True)
class Shown:
    """The new request's card is where people see it; ``ref`` is the outside's name for it (opaque here), None
    when it cannot be edited."""

    ref: str | None


@dataclass(frozen=True, slots=True)
class NotShown:
    """The card could not be shown; ``error`` says why (the outside's own word for it)."""

    error: str


class Cards(Protocol):
    """Where people see requests, as the request service needs it. ``reply``: the outside's way to answer the
    person who asked or clicked (opaque here; None: none)."""

    async def show(self, request: UnblockRequest, reply: str | None) -> Shown | NotShown:
        """Show a new request's card in its channel."""

    async def where(self, request_id: str) -> str | None:
        """The outside's name for the request's card (``Shown.ref``); None when it has none."""

    async def claimed(self, request: UnblockRequest, reply: str | None) -> None:
        """A click (or the request's rule) won the claim: say at once that it is being carried out, without
        waiting for it to be seen."""

    async def remind(self, request: UnblockRequest) -> bool:
        """Remind whoever may decide the request now that it still waits: whether that is done (delivered, or
        there is nowhere it could ever go)."""


@dataclass(frozen=True, slots=True)
class Announcement:
    """A new blocklist entry the watcher announces (or announced) in ``channel``: ``ref`` is the outside's name
    for what shows it (None until posted), ``in_summary`` whether that is the summary of a burst rather
    than a message of its own, ``gone`` whether the PBX no longer lists it and the message says so."""

    entry: BlocklistEntry
    channel: str
    ref: str | None = None
    in_summary: bool = False
    gone: bool = False


@dataclass(frozen=True, slots=True)
class Found:
    """An entry the watcher found new on the blocklist of the PBX ``pbx``, and when."""

    entry: BlocklistEntry
    at: float
    pbx: str = ""


class WatchStore(Protocol):
    """What the blocklist watcher keeps: one watcher at a time (a lease), how far it has read the PBX's
    list (a high-water mark on the entries' ids), and each entry it announced. Every method may raise
    :class:`StoreUnreachable`."""

    async def hold_watch(
        self, holder: str, at: float, stale_before: float, *, take_free: bool = True
    ) -> tuple[bool, int | None]:
        """Take or renew the watcher's lease for ``holder``: held when nobody holds it (and ``take_free``),
        ``holder`` does, or the holder's last renewal is older than ``stale_before``. Returns (held, high-water
        mark); the mark is None until watching has started, and while another holds the lease."""

    async def release_watch(self, holder: str) -> None:
        """``holder`` stops watching: another process may take the lease at once."""

    async def advance_watch(
        self, holder: str, mark: int | None, new_mark: int, announce: Sequence[Announcement], at: float
    ) -> bool:
        """In one transaction, only while ``holder`` holds the lease and the mark is still ``mark``: set the
        mark to ``new_mark`` and keep ``announce`` as announcements not yet posted (an entry kept before
        stays as it is). False, and nothing written, otherwise."""

    async def unposted(self, limit: int) -> list[Announcement]:
        """Announcements not yet posted, lowest entry id first."""

    async def posted(self, entry_ids: Sequence[int], ref: str, *, in_summary: bool) -> None:
        """``ref`` now shows these announcements."""

    async def showing(self, limit: int) -> list[Announcement]:
        """Posted announcements with a message of their own whose entry is not known to be gone, the ones
        checked longest ago first."""

    async def checked(self, entry_ids: Sequence[int], at: float) -> None:
        """These announcements' entries were checked against the PBX at ``at``."""

    async def found_between(self, since: float, until: float, limit: int) -> list[Found]:
        """The entries announced (kept to announce) from ``since`` (included) to ``until`` (excluded), oldest
        first, at most ``limit``."""

    async def mark_gone(self, entry_id: int) -> bool:
        """Record that the entry is gone: True when its announcement is marked gone (by this call or an earlier
        one, so that a call tried again after its answer was lost has the same answer), False when there is no
        announcement of it."""


class Announcer(Protocol):
    """Where the watcher says what it found, as the watch service needs it. Each post answers the outside's name
    for what shows the announcements (None: it could not be posted; the next look tries again)."""

    async def new_block(
        self, found: Announcement, again: Recurrence | None, logged: tuple[Logged, ...] | None, now: float
    ) -> str | None:
        """One new block, for a person to ask about (``again``: when what it blocks was unblocked before, with
        ``logged``, what the PBX logged about it this time)."""

    async def burst(self, found: Sequence[Announcement]) -> str | None:
        """More new blocks in one look than a burst: one summary for them all."""

    async def unblocking(self, found: Sequence[Announcement], rules: Sequence[str | None]) -> str | None:
        """More new blocks to unblock by their rules (named in ``rules``, one per entry) than a burst: one
        message for them all, instead of a card each."""

    def unblocked(self, ref: str, found: Sequence[Announcement], requests: Sequence[UnblockRequest]) -> None:
        """The message ``ref`` of ``unblocking`` changed to show the requests that unblocked those entries."""

    def gone(self, found: Announcement) -> None:
        """The entry's announcement changed to say that the PBX no longer lists it."""
