"""What the PBX knows about why it blocked an address: the newest lines of its event log that name it, the phones
that register from it, and its anti-hacking thresholds. They inform people (on the card, in the outcome, in
``check``) and never decide anything.

Each is asked for apart, all at once, and together they wait at most ``within`` seconds: what the PBX refuses,
lacks or is slow to answer is left out, never held against the request.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from .entries import CallFailed
from .outcomes import Outcome

log = logging.getLogger(__name__)

T = TypeVar("T")

#: how many event-log lines a card shows
LOGGED_SHOWN = 3
#: how long the PBX's thresholds are kept, and a part it refused or lacks is not asked for again (seconds)
KEPT = 600.0


@dataclass(frozen=True, slots=True)
class Logged:
    """One line of the PBX's event log, as it wrote it: when (epoch seconds; None when it gave no time), its text,
    and the extension it names, when it names one."""

    at: float | None
    text: str
    #: the line tells of failed authentications (a wrong password)
    failed_auth: bool = False
    extension: str | None = None


@dataclass(frozen=True, slots=True)
class Phone:
    """A phone registered from the address: its extension, the extension's name, and its make and model."""

    extension: str | None
    name: str | None = None
    model: str | None = None


@dataclass(frozen=True, slots=True)
class Thresholds:
    """When the PBX blocks an address: after how many failed authentications, and for how long (seconds)."""

    failed_auth: int | None
    block_for: float | None


@dataclass(frozen=True, slots=True)
class Evidence:
    """What the PBX knew about an address when a request was made; None where it could not be asked."""

    logged: tuple[Logged, ...] | None = None
    phones: tuple[Phone, ...] | None = None
    thresholds: Thresholds | None = None

    @property
    def extension(self) -> str | None:
        """The extension whose failed authentications the PBX logged from the address: the one a log line names, or
        the one phone registered there; None when it is not known."""
        failed = [line for line in self.logged or () if line.failed_auth]
        if not failed:
            return None
        named = next((line.extension for line in failed if line.extension), None)
        if named is not None:
            return named
        phones = self.phones or ()
        return phones[0].extension if len(phones) == 1 else None

    @property
    def failed_auth(self) -> bool:
        return any(line.failed_auth for line in self.logged or ())


class PbxEvidence(Protocol):
    """Where the PBX's evidence is read. Each may raise :class:`~bot.domain.entries.CallFailed` (refused, lacking,
    unreachable)."""

    async def logged(self, address: str, count: int) -> tuple[Logged, ...]:
        """The newest ``count`` event-log lines that name the address, or an address inside the network, newest
        first."""

    async def phones(self, address: str) -> tuple[Phone, ...]:
        """The phones registered from the address, or from an address inside the network."""

    async def thresholds(self) -> Thresholds: ...


@dataclass(slots=True)
class Witness:
    """Asks the PBX what it knows about an address, within ``within`` seconds in all. Its thresholds, the same for
    every address, are kept for :data:`KEPT` seconds; a part the PBX refuses or lacks is not asked for again for
    as long (``clock``: seconds that only grow)."""

    source: PbxEvidence
    within: float
    clock: Callable[[], float] = time.monotonic
    _thresholds: tuple[float, Thresholds] | None = field(default=None, init=False)
    #: each part the PBX refused or lacks, until when it is not asked for
    _refused: dict[str, float] = field(default_factory=dict, init=False)

    async def about(self, address: str) -> Evidence:
        logged, phones, thresholds = await asyncio.gather(
            self.logged(address),
            self._ask("phones", lambda: self.source.phones(address)),
            self._limits(),
        )
        return Evidence(logged, phones, thresholds)

    async def logged(self, address: str) -> tuple[Logged, ...] | None:
        """Only the event-log lines that name the address (None: the PBX did not tell)."""
        return await self._ask("logged", lambda: self.source.logged(address, LOGGED_SHOWN))

    async def _limits(self) -> Thresholds | None:
        now = self.clock()
        if self._thresholds is not None and now < self._thresholds[0]:
            return self._thresholds[1]
        found = await self._ask("thresholds", self.source.thresholds)
        if found is not None:
            self._thresholds = (now + KEPT, found)
        return found

    async def _ask(self, part: str, call: Callable[[], Awaitable[T]]) -> T | None:
        if self.clock() < self._refused.get(part, 0.0):
            return None
        try:
            return await asyncio.wait_for(call(), self.within)
        except (CallFailed, TimeoutError) as error:
            log.info("the PBX did not tell what it knows of an address", extra={"error": str(error) or "too slow"})
            if isinstance(error, CallFailed) and error.reason in (Outcome.FORBIDDEN, Outcome.NOT_FOUND):
                self._refused[part] = self.clock() + KEPT
        except Exception:  # what informs people must never stop a request
            log.exception("could not read what the PBX knows of an address")
        return None
