"""Socket Mode: each request Slack sends over the websocket is checked as an HTTP body is
(``inbound.socket_problem``), and a slash command is answered beside Bolt, as over HTTP."""

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

from .inbound import socket_problem

log = logging.getLogger(__name__)


class CheckedSocketModeHandler(AsyncSocketModeHandler):
    """Socket Mode, with each request checked as an HTTP body is: one Slack would not send is acknowledged
    (so that Slack does not send it again) and logged, and Bolt never sees it. A slash command is answered by
    ``answer_command`` (with the acknowledgement's text, or None), as over HTTP; Bolt gets the rest."""

    def __init__(self, app: AsyncApp, app_token: str, *, answer_command: Callable[[dict[str, Any]], str | None],
                 **kwargs: Any) -> None:  # fmt: skip
        super().__init__(app, app_token, **kwargs)
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
