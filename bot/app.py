"""Wiring: build the Bolt app and everything it needs, inside the running loop."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler, async_default_handlers
from slack_sdk.web.async_client import AsyncWebClient

from .config import Settings
from .logs import Redactor
from .policy import ApprovalPolicy
from .slack.actions import register_actions
from .slack.commands import register_commands
from .slack.delivery import CardDelivery
from .slack.groups import SlackGroupMembership
from .store import SQLiteStore, sqlite_path
from .tasks import BackgroundWork
from .threecx.client import RetryPolicy, ThreeCXClient
from .unblock import UnblockService

log = logging.getLogger(__name__)


def build_app(
    settings: Settings,
    client: AsyncWebClient,
    service: UnblockService,
    work: BackgroundWork,
    delivery: CardDelivery,
) -> AsyncApp:
    secret = settings.slack_signing_secret
    app = AsyncApp(
        client=client,
        signing_secret=secret.reveal() if secret else "",
        # listeners only ack and hand work to `work`, so running them before the
        # response is sent is the fastest ack (no polling for ack() in a side task)
        process_before_response=True,
        logger=logging.getLogger("slack_bolt"),
    )
    register_commands(app, service, work, delivery)
    register_actions(app, service, work, delivery)

    @app.error
    async def on_error(error: Exception, body: dict[str, Any]) -> None:
        log.error(
            "a Slack request could not be handled", extra={"error": type(error).__name__, "type": body.get("type")}
        )

    return app


@dataclass
class Bot:
    """The running parts of one bot process; :meth:`close` drains and releases them in order."""

    settings: Settings
    app: AsyncApp
    client: AsyncWebClient
    service: UnblockService
    work: BackgroundWork
    threecx: ThreeCXClient
    store: SQLiteStore
    http: aiohttp.ClientSession

    async def close(self, drain_timeout: float = 30.0) -> None:
        await self.work.drain(drain_timeout)
        await self.threecx.close()
        await self.store.close()
        await self.http.close()


async def start_bot(
    settings: Settings,
    *,
    redactor: Redactor | None = None,
    clock: Callable[[], float] = time.time,
    retry: RetryPolicy | None = None,
) -> Bot:
    """Open the store, the 3CX client and the Slack client, and build the app around them."""
    store = SQLiteStore(sqlite_path(settings.database_url))
    await store.open()
    threecx = ThreeCXClient(
        settings.threecx_base_url,
        settings.threecx_client_id,
        settings.threecx_client_secret.reveal(),
        timeout=settings.threecx_timeout,
        ca_bundle=settings.threecx_ca_bundle,
        retry=retry,
        on_token=redactor.add if redactor else None,
    )
    await threecx.start()
    http = aiohttp.ClientSession()
    client = AsyncWebClient(
        token=settings.slack_bot_token.reveal(),
        base_url=settings.slack_api_url,
        session=http,
        retry_handlers=[*async_default_handlers(), AsyncRateLimitErrorRetryHandler(max_retry_count=2)],
    )
    policy = ApprovalPolicy(
        settings.approvers,
        SlackGroupMembership(client),
        allow_self_approval=settings.allow_self_approval,
        channels=settings.channels,
    )
    service = UnblockService(threecx, store, policy, ttl=settings.request_ttl, clock=clock)
    work = BackgroundWork()
    app = build_app(settings, client, service, work, CardDelivery(client, http))
    return Bot(settings, app, client, service, work, threecx, store, http)
