"""A fake 3CX whose blocklist holds hundreds of thousands of entries, cheaply.

The entries with Ids 1 to ``size`` are not stored: entry ``n`` is made when it is read (``bulk_ip`` is its address,
its ``AddedBy`` AutoBlacklist), so that holding 400,000 costs nothing. Entries added later are stored as in
``FakeThreeCX``, with Ids above ``size``. A list query is answered as ``FakeThreeCX`` answers it (the same
``$filter`` grammar and predicate, ``$orderby``, ``$skip``, ``$top``), but the entries it considers are found from
the filter where it says which they can be: above an Id (``Id gt n``), some Ids (``Id eq a or Id eq b``,
``Id in (a,b)``), an Id range, or some addresses (``IPAddrMask eq 'a' or …``, ``IPAddrMask in ('a',…)``, and
anything after an ``and``). Any other filter reads every
entry (``full_scans`` counts those). A single bulk entry is read by its Id too; the bulk cannot be deleted from.
"""

from __future__ import annotations

import heapq
import ipaddress
import json
import re
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

from aiohttp import web

from tests.fakes.threecx import ODATA_JSON, XAPI_ROOT, FilterParser, ODataError, non_negative

from .fakes import MeteredThreeCX

Entity = dict[str, Any]

#: bulk entry ``n`` blocks ``10.<n / 65536>.<n / 256 % 256>.<n % 256>``
BULK_NET = ipaddress.IPv4Network("10.0.0.0/8")
MAX_BULK = BULK_NET.num_addresses - 1

_ID_GT = re.compile(r"Id gt (\d+)")
_ID_EQ = re.compile(r"Id eq \d+(?: or Id eq \d+)*|Id in \(\d+(?:,\d+)*\)")
_ID_RANGE = re.compile(r"Id ge (\d+) and Id le (\d+)")
#: addresses or'ed together or listed by ``in``, in parentheses or not, optionally and'ed with more conditions
_MASKS = re.compile(
    r"\(?(IPAddrMask eq '[^']*'(?: or IPAddrMask eq '[^']*')*|IPAddrMask in \('[^']*'(?:,'[^']*')*\))\)?(?: and .*)?"
)
_MASK = re.compile(r"'([^']*)'")
_OPTIONS = frozenset({"$top", "$skip", "$filter", "$orderby"})


def bulk_ip(entry_id: int) -> str:
    return str(BULK_NET.network_address + entry_id)


def bulk_id(address: str) -> int | None:
    """The bulk Id whose address ``address`` is, or None."""
    try:
        found = ipaddress.ip_address(address)
    except ValueError:
        return None
    return int(found) - int(BULK_NET.network_address) if found in BULK_NET else None


class BigList(MeteredThreeCX):
    """``MeteredThreeCX`` whose blocklist also holds ``size`` entries that are made only when read."""

    def __init__(self, size: int) -> None:
        super().__init__()
        if not 0 <= size <= MAX_BULK:
            raise ValueError(f"at most {MAX_BULK} bulk entries")
        self.size = size
        #: list queries answered by reading every entry
        self.full_scans = 0

    def bulk(self, entry_id: int) -> Entity:
        return {
            "Id": entry_id,
            "IPAddrMask": bulk_ip(entry_id),
            "Description": "Failed SIP registrations",
            "BlockType": "Block",
            "AddedBy": "AutoBlacklist",
            "ExpiresAt": "2026-12-01T08:00:00+00:00",
        }

    def whole_list_bytes(self) -> int:
        """The size of the body of ``GET /Blocklist`` without options, as it would be sent (it is never made)."""
        context = json.dumps(f"{self.base_url}{XAPI_ROOT}/$metadata#Blocklist")
        rows = [json.dumps(self.bulk(n)) for n in range(1, self.size + 1)]
        rows += [json.dumps(e) for _, e in sorted(self.entries.items())]
        head = len('{"@odata.context": ') + len(context) + len(', "value": [')
        return head + sum(map(len, rows)) + 2 * max(0, len(rows) - 1) + len("]}")

    def _find(self, entity_set: Any, key: Any) -> Entity:
        if entity_set.name == "Blocklist" and isinstance(key, int) and 0 < key <= self.size:
            return self.bulk(key)
        found: Entity = super()._find(entity_set, key)
        return found

    def _list(self, entity_set: Any, query: dict[str, str]) -> web.Response:
        if entity_set.name != "Blocklist":
            response: web.Response = super()._list(entity_set, query)
            return response
        unknown = sorted(name for name in query if name.startswith("$") and name not in _OPTIONS)
        if unknown:
            raise ODataError(400, f"Unsupported query options: {', '.join(unknown)}")
        text = query.get("$filter")
        order = (query.get("$orderby") or "Id").strip()
        if order not in ("Id", "Id asc", "Id desc"):
            raise ODataError(400, f"this fake orders its big list only by Id, not {order!r}")
        descending = order == "Id desc"
        try:
            predicate = FilterParser(text, entity_set.properties).parse() if text else None
        except ValueError as error:
            raise ODataError(400, f"Invalid $filter: {error}") from None
        skip, top = non_negative(query, "$skip") or 0, non_negative(query, "$top")
        ids = self._candidates(text, descending)
        bulk = (self.bulk(n) for n in ids)
        stored = sorted(self.entries.values(), key=lambda e: int(e["Id"]), reverse=descending)
        rows = heapq.merge(bulk, stored, key=lambda e: int(e["Id"]), reverse=descending)
        matching: Iterator[Entity] = (row for row in rows if predicate is None or predicate(row))
        page = list(islice(matching, skip, None if top is None else skip + top))
        context = f"{self.base_url}{XAPI_ROOT}/$metadata#Blocklist"
        body = json.dumps({"@odata.context": context, "value": [self._render(entity_set, r) for r in page]})
        return web.Response(status=200, body=body.encode(), headers={"Content-Type": ODATA_JSON})

    def _candidates(self, text: str | None, descending: bool) -> Iterable[int]:
        """The bulk Ids the filter can match, in order: fewer than all of them whenever the filter says so."""
        every = range(1, self.size + 1)
        if text is None:
            chosen: Iterable[int] = every
        elif found := _ID_GT.fullmatch(text):
            chosen = range(max(1, int(found[1]) + 1), self.size + 1)
        elif _ID_EQ.fullmatch(text):
            chosen = {int(n) for n in re.findall(r"\d+", text) if 0 < int(n) <= self.size}
        elif found := _ID_RANGE.fullmatch(text):
            chosen = range(max(1, int(found[1])), min(self.size, int(found[2])) + 1)
        elif found := _MASKS.fullmatch(text):
            ids = (bulk_id(mask) for mask in _MASK.findall(found[1]))
            chosen = {n for n in ids if n is not None and 0 < n <= self.size}
        else:
            self.full_scans += 1
            chosen = every
        if isinstance(chosen, range):
            return reversed(chosen) if descending else chosen
        return sorted(chosen, reverse=descending)
