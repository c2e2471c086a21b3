"""Finding what to unblock from what people know: an entry id, an address, a caller number.

The PBX's list cannot be asked which of its networks contain an address, so the lookup asks for the entries
written as one of the exact texts a containing network could have (the address itself and each of its
supernets, as ``a.b.c.d/len`` and ``a.b.c.d/mask``), and then checks containment itself with the ``ipaddress``
module. Nothing else is loaded. Nor can the list leave out the spaces in a caller number: the lookup asks for the
entries whose number holds the last few digits asked for, and compares all of them itself.

A lookup, all its calls to the PBX together, is given up on after ``deadline`` seconds (``TooSlow``): each call
is bounded by the PBX's client, but calls can wait for one another, and the person who asked waits for them all.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from .entries import BlockedNumber, BlocklistEntry, CallFailed, Target
from .outcomes import Outcome

T = TypeVar("T")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

#: the most entries one request may cover ("unblock all")
MAX_MATCHES = 50
#: how many of a caller number's last digits the PBX is asked for (spaced or not)
LAST_DIGITS = 4
#: the most caller numbers one lookup reads: those that hold its last digits, of which it keeps those with all of them
NUMBER_CANDIDATES = 250


class AddressReader(Protocol):
    """The IP blocklist, as lookups read it."""

    async def get(self, entry_id: int) -> BlocklistEntry: ...

    async def with_masks(self, masks: Sequence[str], top: int) -> list[BlocklistEntry]: ...

    async def newest(self, text: str | None, *, skip: int, top: int) -> list[BlocklistEntry]: ...

    async def between(self, first_id: int, last_id: int, *, skip: int, top: int) -> list[BlocklistEntry]: ...


class NumberReader(Protocol):
    """The caller-number blacklist, as lookups read it."""

    async def get(self, number_id: str) -> BlockedNumber: ...

    async def holding_digits(self, tail: str, top: int) -> list[BlockedNumber]:
        """The entries whose number holds the digits ``tail``, together or with a space, a hyphen or a dot between
        two of them (at most ``top``)."""


class TooSlow(CallFailed):
    """The PBX did not answer a lookup within its deadline (``seconds``)."""

    reason = Outcome.UNAVAILABLE

    def __init__(self, seconds: float) -> None:
        super().__init__(f"the PBX did not answer the lookup within {seconds:g} s")
        self.seconds = seconds


@dataclass(frozen=True, slots=True)
class Matches:
    #: what blocks the address or number: offered for removal, most specific first
    blocking: tuple[Target, ...]
    #: ``Allow`` entries that match: shown for information, never offered
    allowing: tuple[BlocklistEntry, ...] = ()
    #: more than MAX_MATCHES entries matched; only the first MAX_MATCHES are here
    truncated: bool = False


@dataclass(frozen=True, slots=True)
class Page:
    entries: tuple[BlocklistEntry, ...]
    skip: int
    more: bool


@dataclass(frozen=True, slots=True)
class Finder:
    """The lookups; each raises :class:`TooSlow` when the PBX has not answered it within ``deadline`` seconds (None:
    no deadline but the client's own)."""

    ip: AddressReader
    blacklist: NumberReader
    deadline: float | None = field(default=None, kw_only=True)

    async def entry(self, entry_id: int) -> BlocklistEntry:
        return await self._in_time(self.ip.get(entry_id))

    async def entries(self, entry_ids: Sequence[int]) -> list[BlocklistEntry]:
        return list(await self._in_time(asyncio.gather(*(self.ip.get(i) for i in entry_ids))))

    async def numbers(self, number_ids: Sequence[str]) -> list[BlockedNumber]:
        return list(await self._in_time(asyncio.gather(*(self.blacklist.get(i) for i in number_ids))))

    async def address(self, network: Network) -> Matches:
        """The entries whose network is ``network`` or contains it."""
        found: dict[int, tuple[int, BlocklistEntry]] = {}
        for entry in await self._in_time(self.ip.with_masks(candidate_masks(network), MAX_MATCHES + 1)):
            around = read_network(entry.address)
            if around is not None and contains(around, network):
                found[entry.id] = (around.prefixlen, entry)
        ranked = [entry for _, entry in sorted(found.values(), key=lambda item: (-item[0], item[1].id))]
        blocking = [e for e in ranked if e.blocks]
        return Matches(
            blocking=tuple(blocking[:MAX_MATCHES]),
            allowing=tuple(e for e in ranked if not e.blocks),
            truncated=len(blocking) > MAX_MATCHES,
        )

    async def number(self, number: str) -> Matches:
        """The blacklist entries whose number is ``number`` however the PBX wrote it: with or without its ``+`` (a
        ``+`` may also be written ``00``, the international call prefix), and with spaces, hyphens or dots between
        its digits."""
        wanted = number.removeprefix("+")
        same_digits = {wanted, "00" + wanted} if number.startswith("+") else {wanted}
        listed = await self._in_time(self.blacklist.holding_digits(wanted[-LAST_DIGITS:], NUMBER_CANDIDATES))
        same = [n for n in listed if n.number is not None and digits(n.number) in same_digits]
        return Matches(blocking=tuple(same[:MAX_MATCHES]), truncated=len(same) > MAX_MATCHES)

    async def newest(self, text: str | None, *, skip: int = 0, size: int = 15) -> Page:
        """A page of the newest entries, optionally those whose address or description contains ``text``."""
        return await self._page(self.ip.newest(text, skip=skip, top=size + 1), skip, size)

    async def between(self, first_id: int, last_id: int, *, skip: int = 0, size: int = 10) -> Page:
        """A page of the entries with ids from ``first_id`` to ``last_id``, lowest first."""
        return await self._page(self.ip.between(first_id, last_id, skip=skip, top=size + 1), skip, size)

    async def _page(self, read: Awaitable[list[BlocklistEntry]], skip: int, size: int) -> Page:
        """``read`` asks for one entry more than ``size``, to tell whether there is more."""
        entries = await self._in_time(read)
        return Page(tuple(entries[:size]), skip, more=len(entries) > size)

    async def _in_time(self, read: Awaitable[T]) -> T:
        """The PBX's answer to ``read``; TooSlow when it has not come within the deadline (``read`` is then
        cancelled)."""
        if self.deadline is None:
            return await read
        try:
            async with asyncio.timeout(self.deadline) as timer:
                return await read
        except TimeoutError:
            if timer.expired():
                raise TooSlow(self.deadline) from None
            raise


def candidate_masks(network: Network) -> list[str]:
    """Every text of an entry's network that would name ``network`` or a network containing it."""
    masks = [str(network.network_address)] if network.prefixlen == network.max_prefixlen else []
    for prefix in range(network.prefixlen, -1, -1):
        supernet = network.supernet(new_prefix=prefix)
        masks.append(f"{supernet.network_address}/{prefix}")
        if isinstance(supernet, ipaddress.IPv4Network):
            masks.append(f"{supernet.network_address}/{supernet.netmask}")
    return masks


def read_network(text: str | None) -> Network | None:
    """An address or network as 3CX writes it (``203.0.113.7``, ``203.0.113.0/24``, ``203.0.113.0/255.255.255.0``,
    host bits allowed); None for text that is neither."""
    try:
        return ipaddress.ip_network((text or "").strip(), strict=False)
    except ValueError:
        return None


def contains(outer: Network, inner: Network) -> bool:
    """Whether ``outer`` is ``inner`` or a network around it (never one of the other IP version)."""
    return outer.version == inner.version and inner.subnet_of(outer)  # type: ignore[arg-type]


def digits(number: str) -> str:
    """The digits of a caller number (``+1 555-0100`` is ``15550100``)."""
    return "".join(ch for ch in number if ch.isdigit())


def asked_inside(asked: str, entry: Target) -> str | None:
    """``asked`` when it is one address and ``entry`` blocks a wider network holding it (Allow only is then
    offered: an allow entry for that address alone); None otherwise (a network asked for, the entry for the
    address itself)."""
    try:
        address = ipaddress.ip_address(asked.strip())
        blocked = ipaddress.ip_network((entry.address or "").strip(), strict=False)
    except ValueError:
        return None
    inside = address.version == blocked.version and address in blocked
    return str(address) if inside and blocked.prefixlen < blocked.max_prefixlen else None
