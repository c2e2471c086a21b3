"""3CX's two lists, as the bot uses them: the IP blocklist and the caller-number blacklist.

Each offers the same small set of actions to the domain (remove an entry, put it
back, is it still listed, find the one put back) and its own ways of finding
entries; the OData filters are written here, every value in them quoted, and never by the domain.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from ..domain.entries import BlockedNumber, BlocklistEntry, Kind, Removal, Target
from .client import ThreeCXClient
from .errors import NotFoundError
from .models import BLACKLIST_NUMBERS, BLOCKLIST, EntitySet, allow_body, string_literal

E = TypeVar("E", BlocklistEntry, BlockedNumber)
#: equality tests per query, to keep URLs short
CLAUSES_PER_QUERY = 24
#: ``Pbx.BlockType``: the entries that block (3CX may leave the type out: they block too), and the allow entries
BLOCKS = "(BlockType eq Pbx.BlockType'Block' or BlockType eq null)"
ALLOWS = "BlockType eq Pbx.BlockType'Allow'"
#: what may stand between two digits of a caller number as 3CX keeps it
DIGIT_SEPARATORS = " -."


def any_equal(field: str, values: Iterable[str]) -> str:
    """``field eq 'a' or field eq 'b' …``."""
    return " or ".join(f"{field} eq {string_literal(v)}" for v in values)


def contains(field: str, value: str) -> str:
    return f"contains({field},{string_literal(value)})"


class _List(Generic[E]):
    """What both lists do alike: an entity set, and the one type of entry it holds."""

    entity_set: EntitySet[E]

    def __init__(self, client: ThreeCXClient) -> None:
        self._client = client

    async def remove(self, target: Target) -> Removal:
        return await self._client.delete(self.entity_set, self._own(target).id, target.etag)

    async def restore(self, target: Target) -> tuple[Target, str]:
        body = self.entity_set.creation_body(self._own(target))
        return await self._client.create(self.entity_set, body), "HTTP 201"

    async def listed(self, target: Target) -> bool:
        try:
            await self.get(self._own(target).id)
        except NotFoundError:
            return False
        return True

    async def get(self, key: Any) -> E:
        return await self._client.get(self.entity_set, key)

    async def _matching(self, field: str, values: Sequence[str], top: int) -> list[E]:
        return await self._client.query(self.entity_set, filter=any_equal(field, values), top=top)

    def _own(self, target: Target) -> E:
        if not isinstance(target, self.entity_set.holds):
            raise TypeError(f"{self.entity_set.path} holds no {type(target).__name__}")
        return target


class IpBlocklist(_List[BlocklistEntry]):
    """``/Blocklist``: entries by Id (int), by ``IPAddrMask``, or the newest."""

    kind, entity_set = Kind.ADDRESS, BLOCKLIST

    async def find_restored(self, target: Target) -> str | None:
        # an allow entry for the same address (Approve and allow) is not the block put back
        same = await self._matching("IPAddrMask", [self._own(target).address or ""], 10)
        blocking = [entry for entry in same if entry.blocks]
        return str(blocking[0].id) if blocking else None

    async def allow(self, address: str, until: float, note: str) -> tuple[int, str]:
        """``POST /Blocklist``: an allow entry for ``address`` until ``until``; its Id and 3CX's answer. Never sent
        twice."""
        created = await self._client.create(BLOCKLIST, allow_body(address, until, note))
        return created.id, "HTTP 201"

    async def remove_entry(self, entry_id: int) -> Removal:
        return await self._client.delete(BLOCKLIST, entry_id)

    async def extend(self, entry_id: int, until: float) -> str:
        """``PATCH /Blocklist(<Id>)`` with a new ``ExpiresAt`` (the same body twice sets the same end); 3CX's
        answer."""
        expires_at = datetime.fromtimestamp(until, UTC).isoformat(timespec="seconds")
        return await self._client.update(BLOCKLIST, entry_id, {"ExpiresAt": expires_at})

    async def allow_entry(self, entry_id: int) -> BlocklistEntry | None:
        """The entry as 3CX lists it now; None when it no longer does."""
        try:
            return await self.get(entry_id)
        except NotFoundError:
            return None

    async def marked(self, mask: str, marker: str) -> list[BlocklistEntry]:
        """The entries for ``mask`` whose ``Description`` contains ``marker``."""
        query = f"{any_equal('IPAddrMask', [mask])} and {contains('Description', marker)}"
        return await self._client.query(BLOCKLIST, filter=query, top=10)

    async def with_masks(self, masks: Sequence[str], top: int) -> list[BlocklistEntry]:
        """The entries whose ``IPAddrMask`` is one of ``masks``: a few short queries, each giving at most ``top``
        entries that block and at most ``top`` allow entries (so that allow entries never crowd blocks out)."""
        chunks = [masks[i : i + CLAUSES_PER_QUERY] for i in range(0, len(masks), CLAUSES_PER_QUERY)]
        pages = await asyncio.gather(*(self._with_masks(chunk, top) for chunk in chunks))
        return [entry for page in pages for entry in page]

    async def _with_masks(self, masks: Sequence[str], top: int) -> list[BlocklistEntry]:
        """One query for ``masks``; when it fills ``top``, one for the blocks and one for the allow entries."""
        found = await self._matching("IPAddrMask", masks, top)
        if len(found) < top:
            return found
        either = f"({any_equal('IPAddrMask', masks)})"
        queries = [self._client.query(BLOCKLIST, filter=f"{either} and {kind}", top=top) for kind in (BLOCKS, ALLOWS)]
        blocks, allows = await asyncio.gather(*queries)
        return blocks + allows

    async def newest(self, text: str | None, *, skip: int, top: int) -> list[BlocklistEntry]:
        """The newest entries, optionally those whose address or description contains ``text``."""
        query = f"{contains('IPAddrMask', text)} or {contains('Description', text)}" if text else None
        return await self._client.query(BLOCKLIST, filter=query, top=top, skip=skip, orderby="Id desc")

    async def highest_id(self) -> int | None:
        """The highest Id on the list (3CX's Ids only grow); None when the list is empty. The highest of what 3CX
        returns, not the first: a 3CX that ignores ``$orderby`` or ``$top`` must not move the mark back."""
        top = await self._client.query(BLOCKLIST, top=1, orderby="Id desc")
        return max((entry.id for entry in top), default=None)

    async def added_after(self, mark: int, top: int) -> list[BlocklistEntry]:
        """The entries with an Id above ``mark``, lowest first: what was added since (one small query)."""
        return await self._client.query(BLOCKLIST, filter=f"Id gt {int(mark)}", top=top, orderby="Id")

    async def between(self, first_id: int, last_id: int, *, skip: int, top: int) -> list[BlocklistEntry]:
        """The entries with Ids from ``first_id`` to ``last_id``, lowest first."""
        query = f"Id ge {int(first_id)} and Id le {int(last_id)}"
        return await self._client.query(BLOCKLIST, filter=query, top=top, skip=skip, orderby="Id")

    async def still_listed(self, ids: Sequence[int]) -> set[int]:
        """Which of ``ids`` 3CX still lists (a few short queries)."""
        chunks = [ids[i : i + CLAUSES_PER_QUERY] for i in range(0, len(ids), CLAUSES_PER_QUERY)]
        filters = [" or ".join(f"Id eq {int(n)}" for n in chunk) for chunk in chunks]
        queries = [self._client.query(BLOCKLIST, filter=f, top=len(c)) for f, c in zip(filters, chunks, strict=True)]
        pages = await asyncio.gather(*queries)
        return {entry.id for page in pages for entry in page}


class NumberBlacklist(_List[BlockedNumber]):
    """``/BlackListNumbers``: entries by Id (string), or by ``CallerId``."""

    kind, entity_set = Kind.NUMBER, BLACKLIST_NUMBERS

    async def find_restored(self, target: Target) -> str | None:
        same = await self._matching("CallerId", [self._own(target).number or ""], 1)
        return same[0].id if same else None

    async def holding_digits(self, tail: str, top: int) -> list[BlockedNumber]:
        """The entries whose ``CallerId`` holds the digits ``tail``, together or with a space, a hyphen or a dot
        between two of them (3CX's filter cannot leave them out): more than one number's entries, which the caller
        tells apart by all their digits."""
        spelled = [tail] + [tail[:i] + mark + tail[i:] for i in range(1, len(tail)) for mark in DIGIT_SEPARATORS]
        query = " or ".join(contains("CallerId", text) for text in spelled)
        return await self._client.query(self.entity_set, filter=query, top=top)
