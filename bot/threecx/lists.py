"""3CX's two lists, as the bot uses them: the IP blocklist and the caller-number blacklist.

Each offers the same small set of actions to the domain (remove an entry, put it
back, is it still listed, find the one put back) and its own ways of finding
entries; the OData filters are written here, every value in them quoted, and never by the domain.

An OData service bounds the size of a filter: ASP.NET Core OData, which 3CX's XAPI is built on, allows 100 nodes by
default, and counts about five for each ``field eq 'value'`` of an ``or`` chain but one for ``field in (…)`` however
many values it lists. So entries are asked for by many values with ``in``, in one query; a 3CX that refuses ``in``
(400) is asked with equality tests, a few queries of ``CLAUSES_PER_QUERY``, from then on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from ..domain.entries import BlockedNumber, BlocklistEntry, Kind, Removal, Target
from .client import ThreeCXClient
from .errors import NotFoundError, UnexpectedResponseError
from .models import BLACKLIST_NUMBERS, BLOCKLIST, EntitySet, allow_body, string_literal

log = logging.getLogger(__name__)

E = TypeVar("E", BlocklistEntry, BlockedNumber)
T = TypeVar("T")
#: equality tests per query where ``in`` is refused: 18 of them and the type of entry asked for stay within 100 nodes
CLAUSES_PER_QUERY = 18
#: ``Pbx.BlockType``: the entries that block (3CX may leave the type out: they block too), and the allow entries
BLOCKS = "(BlockType eq Pbx.BlockType'Block' or BlockType eq null)"
ALLOWS = "BlockType eq Pbx.BlockType'Allow'"
#: what may stand between two digits of a caller number as 3CX keeps it
DIGIT_SEPARATORS = " -."


def any_equal(field: str, values: Iterable[str | int]) -> str:
    """``field eq 'a' or field eq 'b' …``."""
    return " or ".join(f"{field} eq {literal(v)}" for v in values)


def one_of(field: str, values: Iterable[str | int]) -> str:
    """``field in ('a','b',…)``."""
    return f"{field} in ({','.join(literal(v) for v in values)})"


def literal(value: str | int) -> str:
    return str(int(value)) if isinstance(value, int) else string_literal(value)


def contains(field: str, value: str) -> str:
    return f"contains({field},{string_literal(value)})"


class _List(Generic[E]):
    """What both lists do alike: an entity set, and the one type of entry it holds."""

    entity_set: EntitySet[E]

    def __init__(self, client: ThreeCXClient) -> None:
        self._client = client
        #: 3CX has not refused a filter with ``in``
        self._takes_in = True

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

    async def _by_values(
        self, field: str, values: Sequence[str | int], read: Callable[[str, int], Awaitable[list[T]]]
    ) -> list[T]:
        """What ``read`` gives for a filter picking the entries whose ``field`` is one of ``values`` (and how many
        values it names): one filter with ``in``, or, once 3CX has refused one, a few of equality tests; no filter
        for no values."""
        if not values:
            return []
        if self._takes_in:
            try:
                return await read(one_of(field, values), len(values))
            except UnexpectedResponseError as error:
                if error.status != 400:
                    raise
                self._takes_in = False
                log.info(
                    "3CX refused a filter with `in`: it is asked with equality tests from now on",
                    extra={"pbx": self._client.pbx},
                )
        chunks = [values[i : i + CLAUSES_PER_QUERY] for i in range(0, len(values), CLAUSES_PER_QUERY)]
        pages = await asyncio.gather(*(read(any_equal(field, chunk), len(chunk)) for chunk in chunks))
        return [found for page in pages for found in page]

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
        """The entries whose ``IPAddrMask`` is one of ``masks``: one query (a few where 3CX refuses ``in``), each
        giving at most ``top`` entries that block and at most ``top`` allow entries (so that allow entries never
        crowd blocks out)."""

        async def read(masked: str, _: int) -> list[BlocklistEntry]:
            """One query; when it fills ``top``, one for the blocks and one for the allow entries."""
            found = await self._client.query(BLOCKLIST, filter=masked, top=top)
            if len(found) < top:
                return found
            each = [self._client.query(BLOCKLIST, filter=f"({masked}) and {k}", top=top) for k in (BLOCKS, ALLOWS)]
            blocks, allows = await asyncio.gather(*each)
            return blocks + allows

        return await self._by_values("IPAddrMask", masks, read)

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
        """Which of ``ids`` 3CX still lists (one short query; a few where 3CX refuses ``in``)."""

        async def read(listed: str, count: int) -> list[BlocklistEntry]:
            return await self._client.query(BLOCKLIST, filter=listed, top=count)

        return {entry.id for entry in await self._by_values("Id", [int(n) for n in ids], read)}


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
