"""The PBXes' names in the database: the URL each name was last served at (table ``pbxes``), and the data of a name
no longer served moved to the PBX now served at its URL (a PBX renamed; the one PBX of a bot that served one, now
named in ``UNBLOCK_PBXES``). Nothing is deleted: what cannot move (another row already holds its place) stays."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from ..domain.allows import Phase
from .database import StoreUnavailable
from .scoping import TOKEN, WATCHER, Scoped, own_row, target_prefix

#: (name, url): record the URL a PBX is served at now
RECORD = "INSERT INTO pbxes (name, url) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET url = excluded.url"
#: (name, name): a request of the PBX still open, or an allow entry of it in force
LOOKED_AFTER = (
    "SELECT 1 FROM requests WHERE pbx = ? AND state IN ('pending', 'executing', 'undoing')"
    f" UNION ALL SELECT 1 FROM allows WHERE pbx = ? AND phase <> '{Phase.ENDED.value}' LIMIT 1"
)
#: (watcher's row of ""): a row of the PBX "" (a request, an announcement, an allow entry, the watcher's mark)
UNNAMED = (
    "SELECT 1 FROM requests WHERE pbx = '' UNION ALL SELECT 1 FROM announcements WHERE pbx = ''"
    " UNION ALL SELECT 1 FROM allows WHERE pbx = '' UNION ALL SELECT 1 FROM watch_state WHERE name = ? LIMIT 1"
)


class PbxesUnknown(StoreUnavailable):
    """The database holds data of the one PBX of a bot that served one, and nothing says which PBX that was."""

    def __init__(self) -> None:
        super().__init__(
            "the database holds requests from before UNBLOCK_PBXES and cannot tell which PBX they were for: start "
            "the bot once without UNBLOCK_PBXES, with the THREECX_* settings it had, then again with the file"
        )


def _same(url: str) -> str:
    return url.rstrip("/").lower()


def moves(known: Mapping[str, str], served: Mapping[str, str], *, unnamed: bool) -> list[tuple[str, str]]:
    """(from, to) for each name ``known`` (name -> URL, as recorded) that is not ``served`` (name -> URL, now) and
    whose URL is the URL of exactly one PBX served.

    Raises:
        PbxesUnknown: there is data of the PBX "" (``unnamed``), whose URL was never recorded, and "" is not served.
    """
    if unnamed and "" not in known and "" not in served:
        raise PbxesUnknown()
    found = []
    for name, url in sorted(known.items()):
        same = [other for other, now in served.items() if _same(now) == _same(url)]
        if name not in served and len(same) == 1:
            found.append((name, same[0]))
    return found


def move(old: str, new: str) -> list[tuple[str, tuple[object, ...]]]:
    """The statements that move the PBX ``old``'s rows to ``new``: one each for the open entries' keys, the
    requests, the allow entries, the announcements, the 3CX token and the watcher's row, in this order."""
    skip, keys = len(target_prefix(old)) + 1, target_prefix(new)
    unless = "AND NOT EXISTS (SELECT 1 FROM {0} AS kept WHERE kept.{1})"
    token, watcher = (own_row(TOKEN, old), own_row(TOKEN, new)), (own_row(WATCHER, old), own_row(WATCHER, new))
    return [
        (
            "UPDATE open_targets SET target = ? || substr(target, ?) WHERE request_id IN"
            " (SELECT id FROM requests WHERE pbx = ?) "
            + unless.format("open_targets", "target = ? || substr(open_targets.target, ?)"),
            (keys, skip, old, keys, skip),
        ),
        ("UPDATE requests SET pbx = ? WHERE pbx = ?", (new, old)),
        ("UPDATE allows SET pbx = ? WHERE pbx = ?", (new, old)),
        (
            "UPDATE announcements SET pbx = ? WHERE pbx = ? "
            + unless.format("announcements", "pbx = ? AND kept.entry_id = announcements.entry_id"),
            (new, old, new),
        ),
        (
            "UPDATE access_tokens SET name = ? WHERE name = ? " + unless.format("access_tokens", "name = ?"),
            (token[1], token[0], token[1]),
        ),
        (
            "UPDATE watch_state SET name = ? WHERE name = ? " + unless.format("watch_state", "name = ?"),
            (watcher[1], watcher[0], watcher[1]),
        ),
    ]


def _called(name: str) -> str:
    return f"the PBX {name}" if name else "the one PBX served before PBXes had names"


class Adopting(Scoped):
    """``adopt``: the names of the PBXes served now, and the data of those no longer served."""

    #: the statement that makes one process at a time adopt (None: the database's transactions already do)
    ADOPTING: ClassVar[str | None] = None

    async def adopt(self, pbxes: Mapping[str, str]) -> list[str]:
        """Record the URL of each PBX served now (name -> URL), then move the rows of each name no longer served to
        the one PBX served at its URL, in one transaction (another process doing the same at once moves nothing
        twice); one line for the log per move that moved anything.

        Raises:
            PbxesUnknown: the data of the one PBX of a bot that served one cannot be told a PBX.
        """
        known = {str(name): str(url) for name, url in await self._fetch("SELECT name, url FROM pbxes")}
        unnamed = "" not in known and bool(await self._fetch(UNNAMED, WATCHER))
        planned = moves(known, pbxes, unnamed=unnamed)
        first = [(self.ADOPTING, ())] if self.ADOPTING is not None else []
        recorded = [(RECORD, (name, url)) for name, url in sorted(pbxes.items())]
        moving = [statement for old, new in planned for statement in move(old, new)]
        counts = (await self._atomic(*first, *recorded, *moving))[len(first) + len(recorded) :]
        lines = []
        for n, (old, new) in enumerate(planned):
            _, requests, allows, announcements, token, watcher = counts[6 * n : 6 * n + 6]
            if requests or allows or announcements or token or watcher:
                moved = f"requests: {requests}, allow entries: {allows}, announcements: {announcements}"
                moved += ", the 3CX token" * bool(token) + ", the watcher's mark" * bool(watcher)
                lines.append(f"what was kept for {_called(old)} ({known[old]}) is now the PBX {new}'s ({moved})")
        return lines

    async def unserved(self, pbxes: Mapping[str, str]) -> dict[str, str]:
        """The PBXes the database knows (name -> URL), not among ``pbxes`` (those served now), that have requests
        still open or allow entries in force: nothing looks after them."""
        known = {str(name): str(url) for name, url in await self._fetch("SELECT name, url FROM pbxes")}
        left = [name for name in sorted(known) if name not in pbxes]
        return {name: known[name] for name in left if await self._fetch(LOOKED_AFTER, name, name)}
