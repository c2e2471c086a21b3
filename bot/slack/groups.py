"""SlackGroupMembership: who is in a Slack user group, from ``usergroups.users.list``, cached briefly."""

from __future__ import annotations

import time

from slack_sdk.web.async_client import AsyncWebClient

from .failures import counted


class SlackGroupMembership:
    def __init__(self, client: AsyncWebClient, *, ttl: float = 60.0) -> None:
        self._client = client
        self._ttl = ttl
        self._cache: dict[str, tuple[float, frozenset[str]]] = {}

    async def members(self, group_id: str) -> frozenset[str]:
        cached = self._cache.get(group_id)
        if cached is not None and time.monotonic() < cached[0]:
            return cached[1]
        try:
            response = await self._client.usergroups_users_list(usergroup=group_id)
        except Exception as error:
            # fail closed: nobody is approved through a group Slack will not describe
            counted("usergroups.users.list", error, "could not read a user group's members", group=group_id)
            return frozenset()
        users = response.get("users")
        members = frozenset(u for u in users if isinstance(u, str)) if isinstance(users, list) else frozenset()
        self._cache[group_id] = (time.monotonic() + self._ttl, members)
        return members
