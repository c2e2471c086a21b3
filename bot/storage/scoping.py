"""What every part of a store's SQL needs: its reads and writes, and the PBX it is bound to.

A store is unscoped (``pbx`` None: its reads list every PBX's rows, as the Home tab, history and the weekly report
read them) or a view bound to one PBX (``Store.scoped``): its reads list only that PBX's requests, announcements
and allow entries, and its 3CX token row and watch lease are that PBX's own. The PBX "" is the one PBX of a bot
that serves one: its rows keep the names they had before PBXes had names.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

#: the row of ``access_tokens`` that keeps the 3CX access token of the PBX ""
TOKEN = "threecx"
#: the watcher's row in ``watch_state`` (one watcher: the blocklist's) of the PBX ""
WATCHER = "blocklist"


def own_row(base: str, pbx: str) -> str:
    """The name of a PBX's own row of ``access_tokens`` or ``watch_state``: ``base`` for the PBX "" (the names kept
    before PBXes had names), ``base:name`` for another."""
    return f"{base}:{pbx}" if pbx else base


def target_prefix(pbx: str) -> str:
    """What comes before an entry's key in ``open_targets`` (one open request per entry of one PBX): nothing for the
    PBX "" (the keys kept before PBXes had names), ``name/`` for another."""
    return f"{pbx}/" if pbx else ""


class Scoped(ABC):
    """The SQL primitives of a store, and the PBX it is bound to."""

    #: the PBX whose rows the reads list; None: every PBX's (the store that ``open_store`` returns)
    pbx: str | None = None

    @abstractmethod
    async def _fetch(self, sql: str, *params: object) -> Sequence[Any]:
        """The rows ``sql`` selects; ``?`` for each parameter."""

    @abstractmethod
    async def _write(self, sql: str, *params: object) -> int:
        """Run one write (``?`` for each parameter); how many rows it changed."""

    @abstractmethod
    async def _atomic(self, *statements: tuple[str, Sequence[object]]) -> list[int]:
        """Run each (SQL, parameters) in one transaction, all or none; how many rows each changed."""

    @property
    def _mine(self) -> str:
        """The condition of a read on a table with a ``pbx`` column, with one ``?`` for :attr:`pbx`: the rows of
        this store's PBX, or every PBX's for the unscoped store (written so that an index on ``pbx`` serves it)."""
        return "pbx = ?" if self.pbx is not None else "pbx = COALESCE(?, pbx)"

    @property
    def _own(self) -> str:
        """The PBX of the rows this store writes ("" for the unscoped store)."""
        return self.pbx or ""

    @property
    def _token(self) -> str:
        return own_row(TOKEN, self._own)

    @property
    def _watcher(self) -> str:
        return own_row(WATCHER, self._own)
