"""``python -m bot check``: does this install work? Changes nothing in Slack or 3CX.

The database is opened as the bot would open it (a new SQLite file is created, an old schema upgraded),
and the 3CX access token is the one the bot shares through it: 3CX keeps one active token per API
client, so a check that fetched a token of its own would log the running bot out.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import aiohttp
from slack_sdk.web.async_client import AsyncWebClient

from .app import threecx_client
from .config import Settings
from .domain.outcomes import Outcome
from .logs import Redactor
from .storage import urls
from .storage.contract import Store, StoreUnavailable
from .storage.opening import open_store
from .threecx.errors import ThreeCXError
from .threecx.lists import IpBlocklist
from .threecx.retry import RetryPolicy
from .threecx.tokens import TokenStore

OK, FAIL = "ok  ", "FAIL"
T = TypeVar("T")


async def preflight(settings: Settings, redactor: Redactor, say: Callable[[str], None] = print) -> bool:
    """Check the database, the Slack token and the 3CX credentials; print one line per check; True if all passed."""
    store = await _check_database(settings, say)
    try:
        results = [
            store is not None,
            await _check_slack(settings, say),
            await _check_threecx(settings, redactor, say, store.tokens() if store is not None else None),
        ]
    finally:
        if store is not None:
            await store.close()
    say("All checks passed." if all(results) else "Some checks failed; see above.")
    return all(results)


async def _check_database(settings: Settings, say: Callable[[str], None]) -> Store | None:
    try:
        store = await open_store(settings.database_url, wait=0)
    except StoreUnavailable as error:
        say(f"{FAIL} Database: {error}.")
        return None
    say(f"{OK} Database: {urls.where(settings.database_url)} is ready.")
    return store


async def _check_slack(settings: Settings, say: Callable[[str], None]) -> bool:
    async with aiohttp.ClientSession() as session:
        client = AsyncWebClient(
            token=settings.slack_bot_token.reveal(), base_url=settings.slack_api_url, session=session
        )
        try:
            auth = await client.auth_test()
        except Exception as error:
            reason = _slack_error(error)
            say(f"{FAIL} Slack: auth.test failed ({reason}). Check SLACK_BOT_TOKEN and SLACK_API_URL.")
            return False
        say(f"{OK} Slack: signed in as @{auth.get('user')} in workspace {auth.get('team')} ({auth.get('team_id')}).")
        return settings.watch is None or await _check_watch_channel(client, settings.watch.channel, say)


async def _check_watch_channel(client: AsyncWebClient, channel: str, say: Callable[[str], None]) -> bool:
    """The bot can post in the watch channel: it is a member (asked without posting anything)."""
    try:
        info = await client.conversations_info(channel=channel)
    except Exception as error:
        reason = _slack_error(error)
        say(f"{FAIL} Slack: the watch channel {channel} cannot be read ({reason}). Check UNBLOCK_WATCH_CHANNEL, "
            "and that the app has the channels:read and groups:read scopes.")  # fmt: skip
        return False
    if not (info.get("channel") or {}).get("is_member"):
        say(f"{FAIL} Slack: the bot is not in the watch channel {channel}; invite it with /invite @unblock-bot.")
        return False
    say(f"{OK} Slack: the bot can post in the watch channel {channel}.")
    return True


async def _check_threecx(
    settings: Settings, redactor: Redactor, say: Callable[[str], None], tokens: TokenStore | None
) -> bool:
    retry = RetryPolicy(attempts=2, budget=settings.threecx_timeout)
    client = threecx_client(settings, redactor, retry=retry, token_store=tokens)
    where = settings.threecx_base_url

    async def ask(call: Awaitable[T], failed: str, works: str) -> T:
        """``call``'s answer, with an ``ok`` line saying what ``works``; a ``FAIL`` line and _Failed if not."""
        try:
            answer = await call
        except ThreeCXError as error:
            say(f"{FAIL} 3CX at {where}: {failed} ({error.answer()}). {_advice(error)}")
            raise _Failed from None
        say(f"{OK} 3CX at {where}: {works}.")
        return answer

    blocklist = IpBlocklist(client)
    async with client:
        try:
            await ask(
                client.check_credentials(),
                "no access token",
                f"the API client {settings.threecx_client_id!r} got an access token",
            )
            newest = await ask(
                blocklist.newest(None, skip=0, top=1), "reading the IP blocklist failed", "the IP blocklist can be read"
            )
            if settings.watch is not None:
                await ask(
                    blocklist.added_after(newest[0].id if newest else 0, 1),
                    "the query for new blocks failed",
                    f"new blocks can be asked for (watching every {settings.watch.interval:g} s)",
                )
        except _Failed:
            return False
    return True


class _Failed(Exception):
    """A check failed, and said so."""


def _slack_error(error: Exception) -> str:
    """Slack's error code (``invalid_auth``), or the kind of error when Slack gave none."""
    response = getattr(error, "response", None)
    return str(response.get("error")) if response is not None else type(error).__name__


def _advice(error: ThreeCXError) -> str:
    return Outcome.of(error).explanation.admin
