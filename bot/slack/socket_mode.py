"""Socket Mode: each request Slack sends over the websocket is checked as an HTTP body is
(``inbound.socket_problem``, and JSON nested too deep is refused before it is parsed), and a slash command is
answered beside Bolt, as over HTTP."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

from .connecting import CLIENT_LOG
from .inbound import TOO_DEEP, envelope_id, socket_problem, too_deep

log = logging.getLogger(__name__)


class CheckedSocketModeClient(SocketModeClient):
    """slack_sdk's Socket Mode client, which parses each message before any handler sees it, except a message
    nested deeper than Slack nests one: that is acknowledged (so that Slack does not send it again) and logged,
    and never parsed."""

    async def enqueue_message(self, message: str) -> None:
        if not too_deep(message):
            await super().enqueue_message(message)
            return
        log.info("refused a Socket Mode request that Slack would not send", extra={"problem": TOO_DEEP})
        envelope = envelope_id(message)
        if envelope is not None:
            await self.send_socket_mode_response(SocketModeResponse(envelope_id=envelope))


class CheckedSocketModeHandler(AsyncSocketModeHandler):
    """Socket Mode, with each request checked as an HTTP body is: one Slack would not send is acknowledged
    (so that Slack does not send it again) and logged, and Bolt never sees it. A slash command is answered by
    ``answer_command`` (with the acknowledgement's text, or None), as over HTTP; Bolt gets the rest."""

    def __init__(
        self,
        app: AsyncApp,
        app_token: str,
        *,
        answer_command: Callable[[dict[str, Any]], str | None],
        web_client: AsyncWebClient,
        ping_interval: float,
    ) -> None:
        # as AsyncSocketModeHandler sets itself up, with the client that checks the depth of each message
        self.app = app
        self.app_token = app_token
        self.client = CheckedSocketModeClient(
            app_token=app_token, logger=CLIENT_LOG, web_client=web_client, ping_interval=ping_interval
        )
        self.client.socket_mode_request_listeners.append(self.handle)
        self._answer_command = answer_command

    async def handle(self, client: AsyncBaseSocketModeClient, req: SocketModeRequest) -> None:
        wrong = socket_problem(req.type, req.payload)
        if wrong is not None:
            log.info("refused a Socket Mode request that Slack would not send", extra={"problem": wrong})
            await client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))
        elif req.type == "slash_commands":
            text = self._answer_command(req.payload)
            payload = {"text": text} if text else None
            await client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id, payload=payload))
        else:
            assert isinstance(client, SocketModeClient)  # the one this handler made
            await super().handle(client, req)
