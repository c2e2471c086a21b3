"""Wiring: build the Bolt app and everything it needs, inside the running loop."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler, async_default_handlers
from slack_sdk.web.async_client import AsyncWebClient

from .config import Settings
from .logs import Redactor
from .lookup import Finder
from .policy import ApprovalPolicy
from .slack.actions import register_actions
from .slack.commands import Handlers, register_commands
from .slack.delivery import CardDelivery
from .slack.groups import SlackGroupMembership
from .slack.sweeper import Sweeper
from .stores import Store, open_store
from .tasks import BackgroundWork
from .threecx.client import RetryPolicy, ThreeCXClient, TokenStore
from .unblock import UnblockService

log = logging.getLogger(__name__)


def build_app(settings: Settings, client: AsyncWebClient, handlers: Handlers) -> AsyncApp:
    secret = settings.slack_signing_secret
    token = settings.slack_bot_token.reveal()

    async def authorize(enterprise_id: str | None, team_id: str | None) -> AuthorizeResult:
        # one workspace, one known token: no auth.test round trip before the first ack, and
        # requests are still handled while Slack's Web API is unreachable
        return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id, bot_token=token)

    app = AsyncApp(
        # a client without a token: Bolt takes the token from `authorize` for each request
        client=AsyncWebClient(base_url=client.base_url, session=client.session, retry_handlers=client.retry_handlers),
        authorize=authorize,
        signing_secret=secret.reveal() if secret else "",
        # listeners only ack and hand work to `work`, so running them before the
        # response is sent is the fastest ack (no polling for ack() in a side task)
        process_before_response=True,
        logger=logging.getLogger("slack_bolt"),
    )
    register_commands(app, handlers)
    register_actions(app, handlers)

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
    sweeper: Sweeper
    threecx: ThreeCXClient
    store: Store
    http: aiohttp.ClientSession

    async def close(self, drain_timeout: float = 30.0) -> None:
        await self.sweeper.stop()
        await self.work.drain(drain_timeout)
        await self.threecx.close()
        await self.store.close()
        await self.http.close()


def threecx_client(
    settings: Settings,
    redactor: Redactor | None,
    *,
    retry: RetryPolicy | None = None,
    token_store: TokenStore | None = None,
) -> ThreeCXClient:
    """The 3CX client the settings describe; the tokens it fetches are masked in logs."""
    return ThreeCXClient(
        settings.threecx_base_url,
        settings.threecx_client_id,
        settings.threecx_client_secret.reveal(),
        timeout=settings.threecx_timeout,
        ca_bundle=settings.threecx_ca_bundle,
        retry=retry,
        on_token=redactor.add if redactor else None,
        token_store=token_store,
    )


async def start_bot(
    settings: Settings,
    *,
    redactor: Redactor | None = None,
    clock: Callable[[], float] = time.time,
    retry: RetryPolicy | None = None,
) -> Bot:
    """Open the store, the 3CX client and the Slack client, and build the app around them."""
    store, tokens, exclusive = await open_store(settings.database_url)
    threecx = threecx_client(settings, redactor, retry=retry, token_store=tokens)
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
    service = UnblockService(
        threecx, store, policy, ttl=settings.request_ttl, undo_window=settings.undo_window, clock=clock
    )
    work = BackgroundWork()
    delivery = CardDelivery(client, http)
    handlers = Handlers(service, Finder(threecx), work, delivery, require_reason=settings.require_reason)
    app = build_app(settings, client, handlers)
    sweeper = Sweeper(service, delivery, interval=min(30.0, settings.request_ttl / 4))
    # a process that owns its store alone left whatever it finds half done itself, in its last run;
    # in a shared store, only claims older than the lease are taken to be abandoned
    sweeper.start(recover_all_first=exclusive)
    return Bot(settings, app, client, service, work, sweeper, threecx, store, http)
