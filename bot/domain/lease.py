"""A claim this process holds on a request while it talks to the PBX about it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable

from .. import calls
from .ports import RequestStore

log = logging.getLogger(__name__)


class Lease:
    """Renewed every ``heartbeat`` seconds while the work goes on. A call to the PBX may start only while the claim
    was renewed within the last two heartbeats, so no other process can take the claim over before every
    call this one started must have ended (see ``Timing.takeover_after``)."""

    def __init__(
        self, store: RequestStore, request_id: str, owner: str, clock: Callable[[], float], heartbeat: float
    ) -> None:
        self._store, self._request_id, self._owner, self._clock = store, request_id, owner, clock
        self._heartbeat = heartbeat
        self.permit = calls.Permit(time.monotonic() + 2 * heartbeat)

    def fresh(self) -> bool:
        return self.permit.allows()

    @contextlib.asynccontextmanager
    async def held(self) -> AsyncIterator[Lease]:
        """Renew the claim while the work inside runs; the calls to the PBX made inside start only while it is fresh."""
        task = asyncio.get_running_loop().create_task(self._keep(), name=f"heartbeat-{self._request_id}")
        try:
            with calls.holding(self.permit):
                yield self
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _keep(self) -> None:
        while True:
            await asyncio.sleep(self._heartbeat)
            asked = time.monotonic()  # the heartbeat written is no later than this: count from here
            try:
                held = await self._store.renew(self._request_id, self._owner, self._clock())
            except Exception as error:  # the store is unreachable: not renewed this time
                log.warning("could not renew a claim", extra={"request": self._request_id, "error": repr(error)})
                continue
            if not held:
                self.permit.until = 0.0  # another process holds it now: start nothing more
                return
            self.permit.until = asked + 2 * self._heartbeat
