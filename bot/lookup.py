"""Finding what to unblock from what people know: an entry id, an address, a caller number.

3CX's OData filters cannot test whether a network contains an address, so the
lookup asks for the exact strings a containing entry could have (the address
itself and each of its supernets, as ``a.b.c.d/len`` and ``a.b.c.d/mask``), a
few dozen equality tests in a handful of small queries, and then checks
containment itself with the ``ipaddress`` module. Nothing else is loaded.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from .threecx import BlockedNumber, BlocklistEntry
from .threecx.odata import any_equal, contains

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

#: the most entries one request may cover ("unblock all")
MAX_MATCHES = 50
#: equality tests per query, to keep URLs short
CLAUSES_PER_QUERY = 24


class BlocklistReader(Protocol):
    async def get_blocklist_entry(self, entry_id: int) -> BlocklistEntry: ...

    async def get_blocked_number(self, number_id: str) -> BlockedNumber: ...

    async def list_blocklist(
        self, filter: str | None = None, top: int = 50, *, skip: int = 0, newest_first: bool = False
    ) -> list[BlocklistEntry]: ...

    async def list_blocked_numbers(self, filter: str | None = None, top: int = 50) -> list[BlockedNumber]: ...


@dataclass(frozen=True, slots=True)
class Matches:
    #: what blocks the address or number: offered for removal, most specific first
    blocking: tuple[BlocklistEntry, ...] | tuple[BlockedNumber, ...]
    #: ``Allow`` entries that match: shown for information, never offered
    allowing: tuple[BlocklistEntry, ...] = ()
    #: more than MAX_MATCHES entries matched; only the first MAX_MATCHES are here
    truncated: bool = False


@dataclass(frozen=True, slots=True)
class Page:
    entries: tuple[BlocklistEntry, ...]
    skip: int
    more: bool


class Finder:
    def __init__(self, blocklist: BlocklistReader) -> None:
        self._blocklist = blocklist

    async def entry(self, entry_id: int) -> BlocklistEntry:
        return await self._blocklist.get_blocklist_entry(entry_id)

    async def entries(self, entry_ids: Sequence[int]) -> list[BlocklistEntry]:
        return list(await asyncio.gather(*(self._blocklist.get_blocklist_entry(i) for i in entry_ids)))

    async def numbers(self, number_ids: Sequence[str]) -> list[BlockedNumber]:
        return list(await asyncio.gather(*(self._blocklist.get_blocked_number(i) for i in number_ids)))

    async def address(self, network: Network) -> Matches:
        """The entries whose IPAddrMask equals ``network`` or contains it."""
        candidates = candidate_masks(network)
        chunks = [candidates[i : i + CLAUSES_PER_QUERY] for i in range(0, len(candidates), CLAUSES_PER_QUERY)]
        pages = await asyncio.gather(
            *(self._blocklist.list_blocklist(any_equal("IPAddrMask", chunk), MAX_MATCHES + 1) for chunk in chunks)
        )
        found: dict[int, tuple[int, BlocklistEntry]] = {}
        for entry in (e for page in pages for e in page):
            prefix = containing_prefix(entry.ip_addr_mask, network)
            if prefix is not None:
                found[entry.id] = (prefix, entry)
        ranked = [entry for _, entry in sorted(found.values(), key=lambda item: (-item[0], item[1].id))]
        blocking = [e for e in ranked if e.blocks]
        return Matches(
            blocking=tuple(blocking[:MAX_MATCHES]),
            allowing=tuple(e for e in ranked if not e.blocks),
            truncated=len(blocking) > MAX_MATCHES,
        )

    async def number(self, number: str) -> Matches:
        """The blacklist entries whose CallerId is ``number`` (with or without its ``+``)."""
        digits = number.removeprefix("+")
        listed = await self._blocklist.list_blocked_numbers(
            any_equal("CallerId", [digits, "+" + digits]), MAX_MATCHES + 1
        )
        same = [n for n in listed if n.caller_id is not None and _digits(n.caller_id) == digits]
        return Matches(blocking=tuple(same[:MAX_MATCHES]), truncated=len(same) > MAX_MATCHES)

    async def newest(self, text: str | None, *, skip: int = 0, size: int = 15) -> Page:
        """A page of the newest entries, optionally those whose address or description contains ``text``."""
        query = f"{contains('IPAddrMask', text)} or {contains('Description', text)}" if text else None
        entries = await self._blocklist.list_blocklist(query, size + 1, skip=skip, newest_first=True)
        return Page(tuple(entries[:size]), skip, more=len(entries) > size)


def candidate_masks(network: Network) -> list[str]:
    """Every IPAddrMask text that would name ``network`` or a network containing it."""
    masks = [str(network.network_address)] if network.prefixlen == network.max_prefixlen else []
    for prefix in range(network.prefixlen, -1, -1):
        supernet = network.supernet(new_prefix=prefix)
        masks.append(f"{supernet.network_address}/{prefix}")
        if isinstance(supernet, ipaddress.IPv4Network):
            masks.append(f"{supernet.network_address}/{supernet.netmask}")
    return masks


def containing_prefix(mask: str | None, network: Network) -> int | None:
    """The prefix length of ``mask`` if it contains ``network``, else None (also for text that is no network)."""
    if not mask:
        return None
    try:
        entry_net = ipaddress.ip_network(mask.strip(), strict=False)
    except ValueError:
        return None
    if entry_net.version != network.version:
        return None
    return entry_net.prefixlen if network.subnet_of(entry_net) else None  # type: ignore[arg-type]


def _digits(number: str) -> str:
    return "".join(ch for ch in number if ch.isdigit())
