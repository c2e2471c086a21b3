"""In-memory fakes of the domain's ports (a request store, 3CX's lists, the watcher's store and list, Slack's user
groups) and a clock that only moves when a test moves it; and the domain's services built around them."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from bot.domain.allowing import Allowing, AllowKeeper
from bot.domain.allows import Allow, How, Phase
from bot.domain.entries import ALLOW, BlockedNumber, BlocklistEntry, CallFailed, Kind, Removal, Target
from bot.domain.evidence import Logged, Phone, Thresholds, Witness
from bot.domain.lookup import Finder
from bot.domain.model import Escalation, Move, State, Timing, Transition, UnblockRequest
from bot.domain.outcomes import Outcome
from bot.domain.policy import ApprovalPolicy
from bot.domain.ports import (
    UNBLOCKS_READ,
    WAITING_READ,
    AlreadyOpen,
    Announcement,
    EntryList,
    Found,
    NotShown,
    Shown,
    StoreUnreachable,
)
from bot.domain.reads import Reads
from bot.domain.recurrence import Recurrence
from bot.domain.requests import Requests
from bot.domain.results import Opened
from bot.domain.rules import Approvers, Rule, Rules
from bot.domain.transitions import Transitions

T = TypeVar("T")
E = TypeVar("E", BlocklistEntry, BlockedNumber)

#: a moment in 2027, so that 3CX's dates (``ExpiresAt``) read back as the same epoch seconds
START = 1_800_000_000.0
#: the rules of time on the fake clock; the heartbeat alone runs on real time (the lease's permit to call 3CX),
#: long enough that a busy machine never lets a claim go stale in the middle of a test (and the wait before
#: writing 3CX's answer again while the store is away, short)
TIMING = Timing(ttl=600.0, undo_window=300.0, call_bound=0.01, heartbeat=0.25, margin=0.01, store_retry=0.01)
APPROVER = "UAPPROVER"
#: a member of the approvers' user group
GROUP_MEMBER = "UDAVE"
GROUP = "SHELPDESK"
REQUESTER = "UREQUESTER"
OTHER_USER = "UOTHER"
CHANNEL = "CHELP"
OTHER_CHANNEL = "COTHER"

#: how often the service's upkeep expires what is due
EXPIRE_EVERY = 30.0


@dataclass
class FakeClock:
    """Epoch seconds that move only when the test says so."""

    now: float = START

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


# -- the request store ---------------------------------------------------------------------------


class MemoryStore:
    """A :class:`bot.domain.ports.RequestStore` in memory, keeping the contract the real stores keep: a
    transition is one compare-and-set by the rules of :class:`~bot.domain.model.Move`. Every method yields to the
    event loop once before it acts, so that concurrent calls interleave as they would against a database. As the
    real stores, it lists every PBX's requests, and ``scoped`` is a view of the same requests bound to one PBX."""

    def __init__(self) -> None:
        #: the PBX whose requests the reads list; None: every PBX's
        self.pbx: str | None = None
        self._requests: dict[str, UnblockRequest] = {}
        self._arrival: dict[str, int] = {}
        self._order = itertools.count()
        #: entry key (kind and Id) -> the open request that holds it
        self.open_targets: dict[str, str] = {}
        self._log: dict[str, list[Transition]] = {}
        #: request id -> (holder, at) of the claim to send its reminder
        self.reminding: dict[str, tuple[str, float]] = {}
        #: due_at -> (posted, holder, claimed at, sent at: None until it was sent)
        self.reports: dict[float, tuple[bool, str, float, float | None]] = {}
        #: how many times each method was called
        self.calls: Counter[str] = Counter()
        #: every renewal asked for: (request id, owner, whether it held)
        self.renewals: list[tuple[str, str, bool]] = []
        self._unreachable: dict[str, list[bool]] = {}
        #: run once, before the next call of a method acts (after that call yielded): another click landing
        #: between a click's read and its compare-and-set, say
        self.before: dict[str, Callable[[], Awaitable[None]]] = {}

    def scoped(self, pbx: str) -> MemoryStore:
        """A view of the same requests (and counts, hooks, failures planned) bound to the PBX ``pbx``."""
        view = copy.copy(self)
        view.pbx = pbx
        return view

    def unreachable(self, method: str, *, written: bool = False) -> None:
        """The next call of ``method`` raises :class:`StoreUnreachable`; ``written``: after making the change (the
        answer was lost, the write was made)."""
        self._unreachable.setdefault(method, []).append(written)

    # -- writes --

    async def add(self, request: UnblockRequest) -> None:
        async with self._call("add"):
            for key in _keys(request):
                if key in self.open_targets:
                    raise AlreadyOpen(self.open_targets[key])
            if request.id in self._requests:
                raise ValueError(f"request {request.id} exists")
            self._requests[request.id] = request
            self._arrival[request.id] = next(self._order)
            self._log[request.id] = [Transition(request.id, None, request.state, request.asked.by, request.asked.at)]
            self.open_targets.update(dict.fromkeys(_keys(request), request.id))

    async def transition(self, move: Move) -> UnblockRequest | None:
        async with self._call("transition"):
            request = self._requests.get(move.request_id)
            if request is None or not _holds(request, move):
                return None
            self._requests[move.request_id] = moved = _moved(request, move)
            self._log[move.request_id].append(
                Transition(move.request_id, move.from_state, move.to_state, move.actor, move.at, move.answer)
            )
            if move.frees_targets:
                for key in [k for k, v in self.open_targets.items() if v == move.request_id]:
                    del self.open_targets[key]
            return moved

    async def renew(self, request_id: str, owner: str, at: float) -> bool:
        async with self._call("renew"):
            request = self._requests.get(request_id)
            held = request is not None and request.owner == owner and request.state.claimed
            if request is not None and held:
                self._requests[request_id] = replace(request, heartbeat_at=at)
            self.renewals.append((request_id, owner, held))
            return held

    async def take_over(self, request_id: str, owner: str, heartbeat_at: float, at: float) -> UnblockRequest | None:
        async with self._call("take_over"):
            request = self._requests.get(request_id)
            if request is None or not request.state.claimed or request.heartbeat_at != heartbeat_at:
                return None
            self._requests[request_id] = taken = replace(request, owner=owner, heartbeat_at=at)
            return taken

    # -- reads --

    async def get(self, request_id: str) -> UnblockRequest | None:
        async with self._call("get"):
            found = self._requests.get(request_id)
            return found if found is not None and self.pbx in (None, found.pbx) else None

    async def abandoned(self, heartbeat_before: float) -> list[UnblockRequest]:
        def abandoned(r: UnblockRequest) -> bool:
            return r.state.claimed and r.heartbeat_at is not None and r.heartbeat_at < heartbeat_before

        return await self._select("abandoned", abandoned, newest=False)

    async def transitions(self, request_id: str) -> list[Transition]:
        async with self._call("transitions"):
            return list(self._log.get(request_id, []))

    async def recent(self, count: int, channel: str | None = None) -> list[UnblockRequest]:
        found = await self._select("recent", lambda r: channel is None or r.asked.origin == channel)
        return found[:count]

    async def pending_expired(self, now: float) -> list[UnblockRequest]:
        found = await self._select(
            "pending_expired", lambda r: _waiting(r) and r.decision.expires_at <= now, newest=False
        )
        return sorted(found, key=lambda r: r.decision.expires_at)

    async def waiting(self, count: int, pbxes: Collection[str] | None = None) -> list[UnblockRequest]:
        found = await self._select("waiting", lambda r: _waiting(r) and (pbxes is None or r.pbx in pbxes))
        return found[:count]

    async def requested_by(self, user: str, count: int) -> list[UnblockRequest]:
        return (await self._select("requested_by", lambda r: r.asked.by == user))[:count]

    async def undone(self, count: int) -> list[UnblockRequest]:
        found = await self._select("undone", lambda r: r.done.undone_at is not None)
        return sorted(found, key=lambda r: r.done.undone_at or 0.0, reverse=True)[:count]

    async def still_waiting(
        self, now: float, remind_before: float | None, escalate_before: float | None
    ) -> list[UnblockRequest]:
        def due(r: UnblockRequest) -> bool:
            made, decision = r.asked.at, r.decision
            remind = decision.reminded_at is None and remind_before is not None and remind_before >= made
            escalate = decision.escalation is None and escalate_before is not None and escalate_before >= made
            return _waiting(r) and now < decision.expires_at and (remind or escalate)

        found = await self._select("still_waiting", due, newest=False)
        return sorted(found, key=lambda r: r.asked.at)[:WAITING_READ]

    async def claim_reminder(
        self, request_id: str, holder: str, at: float, stale_before: float
    ) -> UnblockRequest | None:
        async with self._call("claim_reminder"):
            request, claim = self._requests.get(request_id), self.reminding.get(request_id)
            free = claim is None or claim[1] < stale_before
            if request is None or not free or not _in_time(request, at) or request.decision.reminded_at is not None:
                return None
            self.reminding[request_id] = (holder, at)
            return request

    async def release_reminder(self, request_id: str, holder: str) -> None:
        async with self._call("release_reminder"):
            request, claim = self._requests.get(request_id), self.reminding.get(request_id)
            if (
                request is not None
                and request.decision.reminded_at is None
                and claim is not None
                and claim[0] == holder
            ):
                del self.reminding[request_id]

    async def mark_reminded(self, request_id: str, at: float) -> UnblockRequest | None:
        return await self._mark("mark_reminded", request_id, at, "reminded_at", at)

    async def mark_escalated(self, request_id: str, escalation: Escalation) -> UnblockRequest | None:
        return await self._mark("mark_escalated", request_id, escalation.at, "escalation", escalation)

    async def _mark(self, method: str, request_id: str, at: float, name: str, value: Any) -> UnblockRequest | None:
        """Mark the decision's ``name`` once (reminded, escalated), while the request is pending and in time at
        ``at`` (a compare-and-set)."""
        async with self._call(method):
            request = self._requests.get(request_id)
            if request is None or not _in_time(request, at) or getattr(request.decision, name) is not None:
                return None
            self._requests[request_id] = marked = replace(request, decision=replace(request.decision, **{name: value}))
            return marked

    async def unblocked_since(self, since: float) -> list[UnblockRequest]:
        def unblocked(r: UnblockRequest) -> bool:
            at = r.decision.at
            return r.state in (State.UNBLOCKED, State.UNDO_FAILED) and at is not None and at >= since

        found = await self._select("unblocked_since", unblocked, newest=False)
        return sorted(found, key=lambda r: r.decision.at or 0.0, reverse=True)[:UNBLOCKS_READ]

    async def between(self, since: float, until: float, count: int) -> list[UnblockRequest]:
        found = await self._select("between", lambda r: since <= r.asked.at < until, newest=False)
        return sorted(found, key=lambda r: r.asked.at)[:count]

    async def last_report(self) -> float | None:
        async with self._call("last_report"):
            return max((due_at for due_at, (_, _, _, sent) in self.reports.items() if sent is not None), default=None)

    async def claim_report(self, due_at: float, holder: str, at: float, *, posted: bool, stale_before: float) -> bool:
        async with self._call("claim_report"):
            kept = self.reports.get(due_at)
            claims = kept is None or (kept[3] is None and kept[2] < stale_before)
            if claims:
                self.reports[due_at] = (posted, holder, at, None if posted else at)
            return claims

    async def report_sent(self, due_at: float, holder: str, at: float) -> None:
        async with self._call("report_sent"):
            kept = self.reports.get(due_at)
            if kept is not None and kept[1] == holder and kept[3] is None:
                self.reports[due_at] = (*kept[:3], at)

    async def release_report(self, due_at: float, holder: str) -> None:
        async with self._call("release_report"):
            kept = self.reports.get(due_at)
            if kept is not None and kept[1] == holder and kept[3] is None:
                del self.reports[due_at]

    # -- plumbing --

    @contextlib.asynccontextmanager
    async def _call(self, method: str) -> AsyncIterator[None]:
        """Count the call and yield once; raise now if the database is away, or once the change is made (the answer
        was lost)."""
        self.calls[method] += 1
        await asyncio.sleep(0)
        hook = self.before.pop(method, None)
        if hook is not None:
            await hook()
        planned = self._unreachable.get(method)
        written = planned.pop(0) if planned else None
        if written is False:
            raise StoreUnreachable(f"the database did not answer ({method})")
        yield
        if written:
            raise StoreUnreachable("the database did not answer; the write was made")

    async def _select(
        self, method: str, where: Callable[[UnblockRequest], bool], *, newest: bool = True
    ) -> list[UnblockRequest]:
        async with self._call(method):
            found = [r for r in self._requests.values() if self.pbx in (None, r.pbx) and where(r)]
        if newest:
            found.sort(key=lambda r: (r.asked.at, self._arrival[r.id]), reverse=True)
        return found


def _keys(request: UnblockRequest) -> list[str]:
    """What makes each entry the same entry: its PBX (none for the PBX ""), its kind and its Id (one open request per
    entry)."""
    pbx = f"{request.pbx}/" if request.pbx else ""
    return [f"{pbx}{t.kind.value}:{t.id}" for t in request.what.targets]


def _waiting(request: UnblockRequest) -> bool:
    return request.state is State.PENDING


def _in_time(request: UnblockRequest, at: float) -> bool:
    return _waiting(request) and at < request.decision.expires_at


def _holds(request: UnblockRequest, move: Move) -> bool:
    """Whether ``move`` may happen to ``request`` as it is (the compare of the compare-and-set)."""
    undo_until = request.done.undo_until
    in_time = not move.unexpired or (
        (undo_until is not None and move.at <= undo_until)
        if move.to_state is State.UNDOING
        else move.at < request.decision.expires_at
    )
    owner_holds = not move.from_state.claimed or move.owner is None or request.owner == move.owner
    approvals_hold = move.approvals is None or request.decision.approvals == move.approvals_were
    return request.state is move.from_state and in_time and owner_holds and approvals_hold


def _moved(request: UnblockRequest, move: Move) -> UnblockRequest:
    """``request`` once ``move`` is made (the set of the compare-and-set)."""
    decision, done, owner, heartbeat_at = request.decision, request.done, request.owner, request.heartbeat_at
    if move.from_state is State.PENDING and move.to_state is not State.PENDING:
        decision = replace(decision, by=move.actor, at=move.at)
    if move.approvals is not None:
        decision = replace(decision, approvals=move.approvals)
    if move.to_state is State.UNDOING:
        done = replace(done, undone_by=move.actor, undone_at=move.at)
    if move.to_state.claimed:
        owner, heartbeat_at = move.owner, move.at
    elif move.from_state.claimed:
        owner = None
    done = replace(
        done,
        action=move.action or done.action,
        results=done.results if move.results is None else move.results,
        undo_until=done.undo_until if move.undo_until is None else move.undo_until,
        undo_results=done.undo_results if move.undo_results is None else move.undo_results,
    )
    return replace(request, state=move.to_state, decision=decision, done=done, owner=owner, heartbeat_at=heartbeat_at)


# -- 3CX's lists --------------------------------------------------------------------------------


class Failed(CallFailed):
    """A call to a fake list that failed: why, with what status 3CX answered, and whether 3CX may still have
    applied it (its answer was lost)."""

    def __init__(
        self, reason: Outcome, message: str, *, status: int | None = None, maybe_applied: bool = False
    ) -> None:
        super().__init__(message)
        self.reason, self.status, self.maybe_applied = reason, status, maybe_applied

    def answer(self) -> str:
        return f"no answer ({self})" if self.status is None else f"HTTP {self.status} ({self})"


def forbidden() -> Failed:
    return Failed(Outcome.FORBIDDEN, "Forbidden", status=403)


def unavailable(*, lost: bool = False) -> Failed:
    """3CX was away (``lost``: it got the call, and its answer was lost)."""
    if lost:
        return Failed(Outcome.UNAVAILABLE, "timed out", maybe_applied=True)
    return Failed(Outcome.UNAVAILABLE, "Service Unavailable", status=503)


def expires_at(epoch: float) -> str:
    """A moment as 3CX writes an entry's expiry (ISO 8601 with an offset)."""
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


class FakeList(Generic[E]):
    """One of 3CX's lists in memory: a :class:`bot.domain.ports.EntryList` that records every call (``calls``:
    (method, entry Id or address)) and fails the calls it is told to fail (``fail``)."""

    holds: type[E]
    #: a 3CX that answers a lookup with every entry, whatever it asked for
    answers_all: bool = False

    def __init__(self, entries: Iterable[E] = ()) -> None:
        self.entries: dict[int | str, E] = {entry.id: entry for entry in entries}
        self.calls: list[tuple[str, object]] = []
        #: run before a method answers (after its call is recorded)
        self.before: dict[str, Callable[[], Awaitable[None]]] = {}
        #: method -> each next call's (error, applied, late)
        self._planned: dict[str, list[tuple[Failed, bool, float | None]]] = {}
        self._ids = itertools.count(1000)
        self._removal_lost = False

    def fail(self, method: str, error: Failed, *, applied: bool = False, late: float | None = None) -> None:
        """The next call of ``method`` raises ``error``; ``applied``: 3CX made the change and the answer was lost;
        ``late``: 3CX makes the change that many seconds after the error."""
        self._planned.setdefault(method, []).append((error, applied, late))

    def called(self, method: str) -> list[object]:
        """What each call of ``method`` was about, in order."""
        return [about for name, about in self.calls if name == method]

    def put(self, *entries: E) -> None:
        """Someone (or 3CX's autoblacklist) adds entries (no call of the bot's)."""
        self.entries.update((entry.id, entry) for entry in entries)

    def drop(self, *entry_ids: int | str) -> None:
        """Someone (or a change 3CX made late) removes entries (no call of the bot's)."""
        for entry_id in entry_ids:
            del self.entries[entry_id]

    # -- EntryList --

    def lose_removal(self) -> None:
        """3CX removes the entry of the next ``remove``, whose answer is lost: a second try finds it gone."""
        self._removal_lost = True

    async def remove(self, target: Target) -> Removal:
        own = self._own(target)
        lost, self._removal_lost = self._removal_lost, False
        removal = await self._call("remove", own.id, lambda: self._delete(own.id))
        return Removal(deleted=False, answer="HTTP 404 on a second try", answer_lost=True) if lost else removal

    async def restore(self, target: Target) -> tuple[Target, str]:
        own = self._own(target)
        created = await self._call("restore", own.id, lambda: self._create(replace(own, id=self._new_id(), etag=None)))
        return created, "HTTP 201"

    async def listed(self, target: Target) -> bool:
        own = self._own(target)
        return await self._call("listed", own.id, lambda: own.id in self.entries)

    async def find_restored(self, target: Target) -> str | None:
        own = self._own(target)

        def find() -> str | None:
            same = [e for e in self.entries.values() if e.blocks and _blocked(e) == _blocked(own)]
            return str(same[0].id) if same else None

        return await self._call("find_restored", own.id, find)

    # -- plumbing --

    async def get(self, key: Any) -> E:
        def get() -> E:
            if key not in self.entries:
                raise Failed(Outcome.NOT_FOUND, "Not Found", status=404)
            return self.entries[key]

        return await self._call("get", key, get)

    async def _call(self, method: str, about: object, change: Callable[[], T]) -> T:
        self.calls.append((method, about))
        await asyncio.sleep(0)
        hook = self.before.get(method)
        if hook is not None:
            await hook()
        planned = self._planned.get(method)
        if not planned:
            return change()
        error, applied, late = planned.pop(0)
        if applied:
            change()
        elif late is not None:
            asyncio.get_running_loop().call_later(late, change)
        raise error

    def _own(self, target: Target) -> E:
        if not isinstance(target, self.holds):
            raise TypeError(f"this list holds no {type(target).__name__}")
        return target

    def _delete(self, entry_id: int | str) -> Removal:
        if entry_id not in self.entries:
            return Removal(deleted=False, answer="HTTP 404: the entry was already gone")
        del self.entries[entry_id]
        return Removal(deleted=True, answer="HTTP 204")

    def _create(self, entry: E) -> E:
        self.entries[entry.id] = entry
        return entry

    def _new_id(self) -> Any:
        number = next(self._ids)
        return number if self.holds is BlocklistEntry else str(number)


def _blocked(entry: Target) -> str | None:
    """What an entry blocks: its address, or its caller number."""
    return entry.address if isinstance(entry, BlocklistEntry) else entry.number


class FakeBlocklist(FakeList[BlocklistEntry]):
    """The IP blocklist: also what allowing writes (``AllowList``), lookups read (``AddressReader``) and the
    watcher reads (``bot.domain.watch.WatchedList``)."""

    holds = BlocklistEntry

    async def allow(self, address: str, until: float, note: str) -> tuple[int, str]:
        entry = BlocklistEntry(
            id=next(self._ids), address=address, description=note, block_type=ALLOW, added_by="API",
            expires_at=expires_at(until),
        )  # fmt: skip
        return (await self._call("allow", address, lambda: self._create(entry))).id, "HTTP 201"

    async def remove_entry(self, entry_id: int) -> Removal:
        return await self._call("remove_entry", entry_id, lambda: self._delete(entry_id))

    async def marked(self, mask: str, marker: str) -> list[BlocklistEntry]:
        return await self._call(
            "marked", mask,
            lambda: [e for e in self.entries.values() if e.address == mask and marker in (e.description or "")],
        )  # fmt: skip

    async def with_masks(self, masks: Sequence[str], top: int) -> list[BlocklistEntry]:
        """Each ``IPAddrMask`` compared as text, as 3CX's filter does: at most ``top`` entries that block and
        ``top`` allow entries. Recorded as (masks, top)."""
        wanted = set(masks)

        def matching() -> list[BlocklistEntry]:
            found = [e for e in self.entries.values() if self.answers_all or e.address in wanted]
            return [e for e in found if e.blocks][:top] + [e for e in found if not e.blocks][:top]

        return await self._call("with_masks", (list(masks), top), matching)

    async def newest(self, text: str | None, *, skip: int, top: int) -> list[BlocklistEntry]:
        """As 3CX's list: the address or the description contains ``text``. Recorded as (text, skip, top)."""

        def newest() -> list[BlocklistEntry]:
            found = [e for e in self.entries.values()
                     if not text or text in (e.address or "") or text in (e.description or "")]  # fmt: skip
            return sorted(found, key=lambda e: e.id, reverse=True)[skip : skip + top]

        return await self._call("newest", (text, skip, top), newest)

    async def between(self, first_id: int, last_id: int, *, skip: int, top: int) -> list[BlocklistEntry]:
        """Recorded as ((first_id, last_id), skip, top)."""

        def between() -> list[BlocklistEntry]:
            found = sorted((e for e in self.entries.values() if first_id <= e.id <= last_id), key=lambda e: e.id)
            return found[skip : skip + top]

        return await self._call("between", ((first_id, last_id), skip, top), between)

    async def highest_id(self) -> int | None:
        return await self._call("highest_id", None, lambda: max((e.id for e in self.entries.values()), default=None))

    async def added_after(self, mark: int, top: int) -> list[BlocklistEntry]:
        """Recorded as (mark, top)."""

        def added_after() -> list[BlocklistEntry]:
            return sorted((e for e in self.entries.values() if e.id > mark), key=lambda e: e.id)[:top]

        return await self._call("added_after", (mark, top), added_after)

    async def still_listed(self, ids: Sequence[int]) -> set[int]:
        return await self._call("still_listed", list(ids), lambda: {i for i in ids if i in self.entries})

    async def extend(self, entry_id: int, until: float) -> str:
        def extend() -> str:
            if entry_id not in self.entries:
                raise Failed(Outcome.NOT_FOUND, "Not Found", status=404)
            self.entries[entry_id] = replace(self.entries[entry_id], expires_at=expires_at(until))
            return "HTTP 204"

        return await self._call("extend", (entry_id, until), extend)

    async def allow_entry(self, entry_id: int) -> BlocklistEntry | None:
        return await self._call("allow_entry", entry_id, lambda: self.entries.get(entry_id))


class FakeBlacklist(FakeList[BlockedNumber]):
    """The caller-number blacklist: also what lookups read (``NumberReader``)."""

    holds = BlockedNumber

    async def holding_digits(self, tail: str, top: int) -> list[BlockedNumber]:
        """The numbers that hold ``tail``, its digits together or with one space, hyphen or dot between two, as
        3CX's filter finds them. Recorded as (tail, top)."""
        spelled = [tail] + [tail[:i] + mark + tail[i:] for i in range(1, len(tail)) for mark in " -."]

        def holding() -> list[BlockedNumber]:
            found = [e for e in self.entries.values() if any(text in (e.number or "") for text in spelled)]
            return (list(self.entries.values()) if self.answers_all else found)[:top]

        return await self._call("holding_digits", (tail, top), holding)


def blocked_address(
    entry_id: int,
    mask: str = "203.0.113.7",
    *,
    added_by: str | None = "AutoBlacklist",
    block_type: str | None = "Block",
) -> BlocklistEntry:
    """An entry of the IP blocklist as 3CX lists it (``block_type`` ``ALLOW``: an allow entry)."""
    return BlocklistEntry(entry_id, mask, f"Failed SIP registrations from {mask}", block_type, added_by, None, None)


def blocked_number(entry_id: str, number: str) -> BlockedNumber:
    return BlockedNumber(id=entry_id, number=number, description="spam calls")


# -- watching ----------------------------------------------------------------------------------------
#
# What the blocklist watcher needs besides the IP blocklist: its store (``bot.domain.ports.WatchStore``) and where
# it says what it found (``Announcer``). ``WatchStore`` keeps the contract every real store keeps
# (``bot.storage.contract``): one holder at a time, taken over when its last renewal is older than
# ``stale_before``; the mark moved only by the holder and only from the mark it read, in one step with the
# announcements kept (an entry kept before stays as it is); ``mark_gone`` true for every call about an
# announcement kept. No method awaits anything before it has done its work, so each is one step, as a
# transaction is.


@dataclass(frozen=True, slots=True)
class Advance:
    """One ``advance_watch`` call and what the store answered."""

    holder: str
    mark: int | None
    new_mark: int
    announce: tuple[int, ...]
    moved: bool


@dataclass
class Watched:
    """What the watcher's store keeps for one PBX."""

    #: None until a first ``hold_watch`` (the store's row)
    holder: str | None = None
    heartbeat_at: float | None = None
    mark: int | None = None
    #: each announcement kept, and when its entry was last checked, by entry Id
    kept: dict[int, Announcement] = field(default_factory=dict)
    #: when each was kept, by entry Id
    kept_at: dict[int, float] = field(default_factory=dict)
    checked_at: dict[int, float] = field(default_factory=dict)
    advances: list[Advance] = field(default_factory=list)


class WatchStore:
    """The watcher's store, in memory. As the real stores, it keeps each PBX's lease and announcements apart: the
    store made here writes the PBX ""'s and reads every PBX's; ``scoped`` is a view bound to one PBX. ``holder``,
    ``mark`` and the others are those of the store's own PBX."""

    def __init__(self) -> None:
        #: the PBX whose lease and announcements this is; None: the PBX ""'s, and reads list every PBX's
        self.pbx: str | None = None
        #: what is kept for each PBX, by name, shared by every view
        self.pbxes: dict[str, Watched] = {"": Watched()}
        #: when each process last said it is there (the ``Roster``), shared by every view
        self.seen: dict[str, float] = {}

    async def present(self, holder: str, at: float, seen_since: float) -> int:
        await asyncio.sleep(0)  # as a database's answer, it comes at a later turn of the event loop
        self.seen[holder] = at
        return sum(at >= seen_since for at in self.seen.values())

    async def absent(self, holder: str) -> None:
        self.seen.pop(holder, None)

    def scoped(self, pbx: str) -> WatchStore:
        view = copy.copy(self)
        view.pbx = pbx
        return view

    @property
    def own(self) -> Watched:
        return self.pbxes.setdefault(self.pbx or "", Watched())

    @property
    def holder(self) -> str | None:
        return self.own.holder

    @property
    def heartbeat_at(self) -> float | None:
        return self.own.heartbeat_at

    @property
    def mark(self) -> int | None:
        return self.own.mark

    @property
    def kept(self) -> dict[int, Announcement]:
        return self.own.kept

    @property
    def kept_at(self) -> dict[int, float]:
        return self.own.kept_at

    @property
    def checked_at(self) -> dict[int, float]:
        return self.own.checked_at

    @property
    def advances(self) -> list[Advance]:
        return self.own.advances

    def _seen(self) -> list[Watched]:
        """What the reads list: the own PBX's, or every PBX's."""
        return list(self.pbxes.values()) if self.pbx is None else [self.own]

    async def hold_watch(
        self, holder: str, at: float, stale_before: float, *, take_free: bool = True
    ) -> tuple[bool, int | None]:
        await asyncio.sleep(0)  # as a database's answer, it comes at a later turn of the event loop
        own = self.own
        free = (own.holder is None and take_free) or own.holder == holder
        if free or (own.heartbeat_at is not None and own.heartbeat_at < stale_before):
            own.holder, own.heartbeat_at = holder, at
            return True, own.mark
        return False, None

    async def release_watch(self, holder: str) -> None:
        if self.own.holder == holder:
            self.own.holder = None

    async def advance_watch(
        self, holder: str, mark: int | None, new_mark: int, announce: Sequence[Announcement], at: float
    ) -> bool:
        own = self.own
        moved = own.holder == holder and own.mark == mark
        own.advances.append(Advance(holder, mark, new_mark, tuple(a.entry.id for a in announce), moved))
        if moved:
            own.mark, own.heartbeat_at = new_mark, at
            for announcement in announce:
                own.kept.setdefault(announcement.entry.id, announcement)
                own.kept_at.setdefault(announcement.entry.id, at)
        return moved

    async def unposted(self, limit: int) -> list[Announcement]:
        found = [(i, a) for w in self._seen() for i, a in w.kept.items() if a.ref is None and not a.gone]
        return [a for _, a in sorted(found, key=lambda pair: pair[0])][:limit]

    async def posted(self, entry_ids: Sequence[int], ref: str, *, in_summary: bool) -> None:
        for entry_id in entry_ids:
            if entry_id in self.own.kept:
                self.own.kept[entry_id] = replace(self.own.kept[entry_id], ref=ref, in_summary=in_summary)

    async def showing(self, limit: int) -> list[Announcement]:
        shown = [
            (w.checked_at.get(i, 0.0), i, a)
            for w in self._seen()
            for i, a in w.kept.items()
            if a.ref is not None and not a.in_summary and not a.gone
        ]
        return [a for _, _, a in sorted(shown, key=lambda found: found[:2])][:limit]

    async def checked(self, entry_ids: Sequence[int], at: float) -> None:
        self.own.checked_at.update(dict.fromkeys(entry_ids, at))

    async def found_between(self, since: float, until: float, limit: int) -> list[Found]:
        found = [
            Found(a.entry, w.kept_at[i], pbx)
            for pbx, w in self.pbxes.items()
            if self.pbx is None or pbx == self.pbx
            for i, a in w.kept.items()
            if since <= w.kept_at[i] < until
        ]
        return sorted(found, key=lambda one: (one.at, one.entry.id))[:limit]

    async def mark_gone(self, entry_id: int) -> bool:
        if entry_id not in self.own.kept:
            return False
        self.own.kept[entry_id] = replace(self.own.kept[entry_id], gone=True)
        return True

    def announced(self) -> dict[int, Announcement]:
        """Every announcement kept for the store's own PBX, by entry Id, lowest first."""
        return dict(sorted(self.own.kept.items()))


@dataclass
class Announcer:
    """Where the watcher says what it found: each post is the message ``2000000000.<n>``, or none while it does
    not ``deliver`` (each try is in ``posts``)."""

    deliver: bool = True
    posts: list[tuple[str, list[int]]] = field(default_factory=list)
    unblocked_in: dict[str, list[UnblockRequest]] = field(default_factory=dict)
    gone_ids: list[int] = field(default_factory=list)
    #: what the PBX logged, given with each new block blocked again
    logged: dict[int, tuple[Logged, ...] | None] = field(default_factory=dict)

    def _post(self, kind: str, found: Sequence[Announcement]) -> str | None:
        self.posts.append((kind, [a.entry.id for a in found]))
        return f"2000000000.{len(self.posts):06d}" if self.deliver else None

    async def new_block(
        self, found: Announcement, again: Recurrence | None, logged: tuple[Logged, ...] | None, now: float
    ) -> str | None:
        self.logged[found.entry.id] = logged
        return self._post("new", [found])

    async def burst(self, found: Sequence[Announcement]) -> str | None:
        return self._post("burst", found)

    async def unblocking(self, found: Sequence[Announcement], rules: Sequence[str | None]) -> str | None:
        return self._post("unblocking", found)

    def unblocked(self, ref: str, found: Sequence[Announcement], requests: Sequence[UnblockRequest]) -> None:
        self.unblocked_in[ref] = list(requests)

    def gone(self, found: Announcement) -> None:
        self.gone_ids.append(found.entry.id)


# -- what 3CX knows about an address --------------------------------------------------------------

#: how long the service waits for what 3CX knows (real seconds: the fakes answer at once, or never)
EVIDENCE_WITHIN = 0.05


@dataclass
class FakeEvidence:
    """3CX's event log, its phones and its anti-hacking thresholds (``bot.domain.evidence.PbxEvidence``): lines and
    phones by the address they name; ``failing``: what each part fails with; ``silent``: the parts that never
    answer. Each question is kept in ``asked``."""

    logged_at: dict[str, tuple[Logged, ...]] = field(default_factory=dict)
    phones_at: dict[str, tuple[Phone, ...]] = field(default_factory=dict)
    limits: Thresholds = field(default_factory=lambda: Thresholds(failed_auth=5, block_for=86400.0))
    failing: dict[str, Exception] = field(default_factory=dict)
    silent: set[str] = field(default_factory=set)
    asked: list[tuple[str, str | None]] = field(default_factory=list)

    async def _answer(self, part: str, address: str | None, answer: T) -> T:
        self.asked.append((part, address))
        if part in self.silent:
            await asyncio.Event().wait()
        if part in self.failing:
            raise self.failing[part]
        return answer

    async def logged(self, address: str, count: int) -> tuple[Logged, ...]:
        return await self._answer("logged", address, self.logged_at.get(address, ())[:count])

    async def phones(self, address: str) -> tuple[Phone, ...]:
        return await self._answer("phones", address, self.phones_at.get(address, ()))

    async def thresholds(self) -> Thresholds:
        return await self._answer("thresholds", None, self.limits)


# -- Slack's user groups -----------------------------------------------------------------------


@dataclass
class FakeMembership:
    """A :class:`bot.domain.policy.GroupMembership` in memory; ``during`` runs while Slack is being asked."""

    groups: dict[str, frozenset[str]]
    during: Callable[[], None] | None = None

    async def members(self, group_id: str) -> frozenset[str]:
        await asyncio.sleep(0)
        if self.during is not None:
            self.during()
        return self.groups.get(group_id, frozenset())


# -- the services, around the fakes -------------------------------------------------------------


@dataclass
class FakeCards:
    """Where people see requests (``bot.domain.ports.Cards``): each card shown is the message
    ``1700000000.<n>``, unless ``error`` says why it could not be; each claim told is kept (``then``: called with
    it at once, to look at the world at that moment)."""

    error: str | None = None
    shown: list[UnblockRequest] = field(default_factory=list)
    claims: list[UnblockRequest] = field(default_factory=list)
    then: Callable[[UnblockRequest], object] | None = None
    refs: dict[str, str] = field(default_factory=dict)

    async def show(self, request: UnblockRequest, reply: str | None) -> Shown | NotShown:
        if self.error is not None:
            return NotShown(self.error)
        self.shown.append(request)
        self.refs[request.id] = f"1700000000.{len(self.shown):06d}"
        return Shown(self.refs[request.id])

    async def where(self, request_id: str) -> str | None:
        return self.refs.get(request_id)

    async def claimed(self, request: UnblockRequest, reply: str | None) -> None:
        self.claims.append(request)
        if self.then is not None:
            self.then(request)

    async def remind(self, request: UnblockRequest) -> bool:
        return True


@dataclass
class World:
    """The fakes, and the domain's services of one process built around them."""

    clock: FakeClock
    store: MemoryStore
    ip: FakeBlocklist
    numbers: FakeBlacklist
    membership: FakeMembership
    policy: ApprovalPolicy
    timing: Timing
    #: the request service of each process, by the owner of its claims
    processes: dict[str, Requests] = field(default_factory=dict)
    #: the cards of every process's requests
    cards: FakeCards = field(default_factory=FakeCards)
    #: what 3CX knows about addresses
    evidence: FakeEvidence = field(default_factory=FakeEvidence)
    #: told of the allow entries added and taken back (``bot.domain.allow_life.AllowLife``), by every process
    allow_life: AllowKeeper | None = None

    @property
    def requests(self) -> Requests:
        return self.process("bot-a")

    def process(self, owner: str) -> Requests:
        """The request service of the process that holds its claims as ``owner`` (made on first use): its own
        claims, the store and 3CX shared with the others."""
        if owner not in self.processes:
            transitions = Transitions(self.store, self.clock, owner)
            lists: dict[Kind, EntryList] = {Kind.ADDRESS: self.ip, Kind.NUMBER: self.numbers}
            allowing = Allowing(self.ip, Finder(self.ip, self.numbers), self.clock, life=self.allow_life)
            self.processes[owner] = Requests(
                self.store,
                lists,
                allowing,
                self.policy,
                self.timing,
                transitions,
                EXPIRE_EVERY,
                cards=self.cards,
                reads=Reads(self.store, self.policy),
                witness=Witness(self.evidence, EVIDENCE_WITHIN, self.clock),
            )
        return self.processes[owner]

    async def request(self, *targets: Target, requester: str = REQUESTER, asked: str | None = None) -> UnblockRequest:
        """A pending request for ``targets``, asked for in ``CHANNEL`` (``asked``: the address asked for)."""
        opened = await self.requests.open(list(targets), requester, CHANNEL, "VPN moved", asked_in=None, asked=asked)
        assert isinstance(opened, Opened), opened
        return opened.request

    async def state(self, request_id: str) -> UnblockRequest:
        found = await self.store.get(request_id)
        assert found is not None
        return found

    async def moves(self, request_id: str) -> list[tuple[State | None, State]]:
        """The transitions log of a request, as (from, to)."""
        return [(t.from_state, t.to_state) for t in await self.store.transitions(request_id)]

    def take_over_during(self, method: str, request_id: str, owner: str = "bot-b", *,
                         then: Callable[[], Awaitable[None]] | None = None) -> None:  # fmt: skip
        """The first time the IP blocklist's ``method`` is called, ``owner`` takes the claim of ``request_id``
        over (as if its holder had stopped renewing it) before the call answers; then ``then``, if given."""

        async def taken_over() -> None:
            del self.ip.before[method]
            current = await self.state(request_id)
            assert current.heartbeat_at is not None
            assert await self.store.take_over(request_id, owner, current.heartbeat_at, self.clock()) is not None
            if then is not None:
                await then()

        self.ip.before[method] = taken_over


class Stopped(Exception):
    """The process stopped."""


@contextlib.contextmanager
def stopped_during(w: World) -> Iterator[None]:
    """The process that claims a request next stops right after its claim, before it asks 3CX anything."""

    def stop(request: UnblockRequest) -> None:
        raise Stopped(request.id)

    w.cards.then = stop
    try:
        yield
    finally:
        w.cards.then = None


#: the durations Approve and allow offers when no rule says otherwise (the settings' default)
DURATIONS = (3600.0, 86400.0, 7 * 86400.0)


def world(*, timing: Timing = TIMING, allow_self_approval: bool = False, rules: Sequence[Rule] = ()) -> World:
    """The fakes with entry 42 (203.0.113.7) and 43 (198.51.100.0/24) on the IP blocklist and number entry
    ``n1`` on the blacklist; approvers ``APPROVER`` and the members of ``GROUP`` (``GROUP_MEMBER``), unless
    ``rules`` say otherwise."""
    clock = FakeClock()
    membership = FakeMembership({GROUP: frozenset({GROUP_MEMBER})})
    default = Rule(approvers=Approvers(users=frozenset({APPROVER}), groups=frozenset({GROUP})), allow=DURATIONS)
    policy = ApprovalPolicy(
        Rules(tuple(rules), default),
        membership,
        allow_self_approval=allow_self_approval,
    )
    ip = FakeBlocklist([blocked_address(42, "203.0.113.7"), blocked_address(43, "198.51.100.0/24")])
    numbers = FakeBlacklist([blocked_number("n1", "+15550100")])
    return World(clock, MemoryStore(), ip, numbers, membership, policy, timing)


# -- the allow entries' store --------------------------------------------------------------------


#: the phases in which a change is held
CHANGING = (Phase.EXTENDING, Phase.ENDING)


class MemoryAllows:
    """A :class:`bot.domain.allows.AllowStore` in memory, with exactly the conditions of the real stores'
    compare-and-sets (``bot.storage.allows``). Every method yields to the event loop once before it acts. An allow
    entry is kept for the PBX of the store that keeps it ("" for the unscoped one); the upkeep's reads list that
    PBX's (every PBX's, unscoped)."""

    def __init__(self, requests: MemoryStore) -> None:
        #: the PBX whose allow entries the upkeep's reads list; None: every PBX's
        self.pbx: str | None = None
        #: where the requests are (for ``requests_of`` and ``allowing_unkept``)
        self.requests = requests
        self.allows: dict[str, Allow] = {}
        #: the PBX of each allow entry, by its request's id
        self.pbx_of: dict[str, str] = {}
        #: request id -> (holder, at) of the claim to send its warning or the message of its end
        self.saying: dict[str, tuple[str, float]] = {}
        #: run once, before the next call of a method acts: another click landing between a read and a write
        self.before: dict[str, Callable[[], Awaitable[None]]] = {}

    def scoped(self, pbx: str) -> MemoryAllows:
        """A view of the same allow entries bound to the PBX ``pbx`` (its requests: the requests' view of it)."""
        view = copy.copy(self)
        view.pbx, view.requests = pbx, self.requests.scoped(pbx)
        return view

    def _mine(self, allow: Allow) -> bool:
        return self.pbx in (None, self.pbx_of.get(allow.request_id, ""))

    async def _turn(self, method: str) -> None:
        await asyncio.sleep(0)
        hook = self.before.pop(method, None)
        if hook is not None:
            await hook()

    def _set(self, request_id: str, **changes: Any) -> Allow:
        self.allows[request_id] = replace(self.allows[request_id], **changes)
        return self.allows[request_id]

    async def keep_allow(self, allow: Allow) -> None:
        await self._turn("keep_allow")
        if allow.request_id not in self.allows:
            kept = replace(allow, pbx=self.pbx or "")
            self.allows[allow.request_id], self.pbx_of[allow.request_id] = kept, kept.pbx

    async def allow_of(self, request_id: str) -> Allow | None:
        await self._turn("allow_of")
        found = self.allows.get(request_id)
        return found if found is not None and self._mine(found) else None

    async def allows_of(self, request_ids: Sequence[str]) -> list[Allow]:
        await self._turn("allows_of")
        return [self.allows[i] for i in request_ids if i in self.allows and self._mine(self.allows[i])]

    async def requests_of(self, request_ids: Sequence[str]) -> list[UnblockRequest]:
        await self._turn("requests_of")
        found = [await self.requests.get(request_id) for request_id in request_ids]
        return [request for request in found if request is not None]

    async def allowing_unkept(self, since: float, limit: int) -> list[UnblockRequest]:
        await self._turn("allowing_unkept")
        found = await self.requests.unblocked_since(since)
        return [r for r in found if r.done.action.allow_for is not None and r.id not in self.allows][:limit]

    async def allows_in_force(self, limit: int) -> list[Allow]:
        await self._turn("allows_in_force")
        in_force = (a for a in self.allows.values() if a.phase is not Phase.ENDED and self._mine(a))
        return sorted(in_force, key=lambda a: a.ends_at)[:limit]

    async def allows_untold(self, limit: int) -> list[Allow]:
        await self._turn("allows_untold")
        untold = [a for a in self.allows.values() if a.phase is Phase.ENDED and a.told_at is None and self._mine(a)]
        return sorted(untold, key=lambda a: a.ended_at or 0.0)[:limit]

    async def change_allow(
        self,
        request_id: str,
        to: Phase,
        by: str,
        claim: str,
        at: float,
        *,
        ends_at: float | None,
        extend_to: float | None,
    ) -> Allow | None:
        await self._turn("change_allow")
        allow = self.allows.get(request_id)
        if allow is None:
            return None
        still = allow.phase is Phase.ACTIVE and (ends_at is None or allow.ends_at == ends_at)
        if not still and not (allow.phase is to and allow.holder == claim):
            return None
        return self._set(request_id, phase=to, change_by=by, holder=claim, held_at=at, extend_to=extend_to)

    async def take_over_allow(self, request_id: str, claim: str, held_at: float, at: float) -> Allow | None:
        await self._turn("take_over_allow")
        allow = self.allows.get(request_id)
        if allow is None or allow.phase not in CHANGING or (allow.held_at != held_at and allow.holder != claim):
            return None
        return self._set(request_id, holder=claim, held_at=at)

    async def extended(self, request_id: str, claim: str, at: float) -> Allow | None:
        await self._turn("extended")
        allow = self.allows.get(request_id)
        if allow is None:
            return None
        holds = allow.phase is Phase.EXTENDING and allow.holder == claim
        if not holds and not (allow.phase is Phase.ACTIVE and allow.done_claim == claim):
            return None
        assert allow.extend_to is not None
        changes = {"ends_at": allow.extend_to, "extended_by": allow.change_by, "extended_at": at, "done_claim": claim}
        return self._set(request_id, phase=Phase.ACTIVE, holder=None, **changes)

    async def release_allow(self, request_id: str, claim: str) -> None:
        await self._turn("release_allow")
        allow = self.allows.get(request_id)
        if allow is not None and allow.phase in CHANGING and allow.holder == claim:
            self._set(request_id, phase=Phase.ACTIVE, holder=None)

    async def end_allow(
        self, request_id: str, how: How, by: str | None, at: float, claim: str, *, held: bool = False
    ) -> Allow | None:
        await self._turn("end_allow")
        allow = self.allows.get(request_id)
        if allow is None:
            return None
        if held:
            holds = allow.phase in CHANGING and allow.holder == claim
        elif how is How.UNDONE:
            holds = allow.phase is not Phase.ENDED
        else:
            holds = allow.phase is Phase.ACTIVE
        if not holds and not (allow.phase is Phase.ENDED and allow.done_claim == claim):
            return None
        changes = {"how": how, "ended_by": by, "ended_at": at, "done_claim": claim}
        return self._set(request_id, phase=Phase.ENDED, holder=None, **changes)

    async def claim_saying(
        self, request_id: str, holder: str, at: float, stale_before: float, *, warning: bool
    ) -> Allow | None:
        await self._turn("claim_saying")
        allow = self.allows.get(request_id)
        if allow is None:
            return None
        if warning:
            fresh = allow.warned_for is None or allow.warned_for != allow.ends_at
            due = allow.phase is Phase.ACTIVE and allow.ends_at > at and fresh
        else:
            due = allow.phase is Phase.ENDED and allow.told_at is None
        claim = self.saying.get(request_id)
        if not due or (claim is not None and claim[1] >= stale_before):
            return None
        self.saying[request_id] = (holder, at)
        return allow

    async def said(self, request_id: str, holder: str, at: float, *, warned_for: float | None) -> None:
        await self._turn("said")
        if self.saying.get(request_id, ("", 0.0))[0] == holder:
            del self.saying[request_id]
            self._set(request_id, **({"warned_for": warned_for} if warned_for is not None else {"told_at": at}))

    async def release_saying(self, request_id: str, holder: str) -> None:
        await self._turn("release_saying")
        if self.saying.get(request_id, ("", 0.0))[0] == holder:
            del self.saying[request_id]

    async def allows_checked(self, request_ids: Sequence[str], at: float) -> None:
        await self._turn("allows_checked")
        for request_id in request_ids:
            self._set(request_id, checked_at=at)
