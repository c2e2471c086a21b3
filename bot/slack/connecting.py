"""Socket Mode: Bolt's handler, and its first connection, asked of Slack again and again until Slack gives one,
each failed try told in one log line that says why, with pauses that grow; cancelled, it stops at once. Once
connected, slack_sdk's client keeps the connection (it opens a new one when one drops), and its own log of a failed
try is one line too.

A message nested deeper than slack_sdk's parser can read (which Slack never sends) is acknowledged, so that Slack
does not send it again, and logged in one line; what the parser reads is checked by ``bot.slack.admission``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re

import aiohttp
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

from ..domain.allowing import duration_words
from ..network import host, unreached
from .admission import TOO_DEEP, too_deep
from .failures import error_code

log = logging.getLogger(__name__)

#: the pause after the first failed try; it doubles after each next one, up to the longest
FIRST_PAUSE = 1.0
LONGEST_PAUSE = 30.0
#: Slack's answers to ``apps.connections.open`` that mean the app-level token is not the right one
_TOKEN_ERRORS = frozenset(
    {"invalid_auth", "not_authed", "not_allowed_token_type", "token_revoked", "account_inactive", "missing_scope"}
)
_ENVELOPE_ID = re.compile(r'"envelope_id" *: *"([^"\\]+)"')
#: failures of the network, whose traceback tells nothing that the error's own words do not
_NETWORK_FAILURES = (aiohttp.ClientError, OSError, TimeoutError)


def socket_mode(
    app: AsyncApp, app_token: str, web_client: AsyncWebClient, ping_interval: float
) -> AsyncSocketModeHandler:
    """Bolt's Socket Mode handler of ``app``; ``web_client`` for ``apps.connections.open`` alone."""
    handler = AsyncSocketModeHandler(
        app, app_token, logger=CLIENT_LOG, web_client=web_client, ping_interval=ping_interval
    )

    async def unreadable(message: aiohttp.WSMessage) -> None:
        if isinstance(message.data, str) and too_deep(message.data):
            try:
                json.loads(message.data)
            except RecursionError:
                log.info("refused a Socket Mode request that Slack would not send", extra={"problem": TOO_DEEP})
                if found := _ENVELOPE_ID.search(message.data):  # Slack writes it before what it carries
                    await handler.client.send_socket_mode_response(SocketModeResponse(envelope_id=found[1]))

    handler.client.on_message_listeners.append(unreadable)
    return handler


async def connect(handler: AsyncSocketModeHandler) -> None:
    """Open the handler's first connection to Slack, trying again until Slack gives one."""
    client, pause = handler.client, FIRST_PAUSE
    while True:
        try:
            url = (await client.web_client.apps_connections_open(app_token=handler.app_token))["url"]
            if isinstance(url, str):
                break
            raise ValueError("no URL in Slack's answer")
        except Exception as error:  # whatever went wrong, the next try may go through
            log.warning(f"{why_not(error, client.web_client.base_url)}; trying again in {duration_words(pause)}")
            await asyncio.sleep(pause)
            pause = min(pause * 2, LONGEST_PAUSE)
    # the client opens the websocket at the address Slack gave, and tries again by itself if that fails
    client.wss_uri = url
    await handler.connect_async()  # type: ignore[no-untyped-call]
    log.info("unblock-bot is running in Socket Mode")


def why_not(error: Exception, api_url: str) -> str:
    """Why Slack gave no connection, in words: Slack's answer, or why Slack could not be reached and where."""
    code, where, unreachable = error_code(error), host(api_url), unreached(error)
    if isinstance(error, SlackApiError) and code in _TOKEN_ERRORS:
        return f"Slack refused the app-level token ({code}): check SLACK_APP_TOKEN"
    if isinstance(error, SlackApiError):
        return f"Slack did not open a Socket Mode connection ({code})"
    if isinstance(error, TimeoutError) and unreachable is None:
        return f"Slack at {where} did not answer in time"
    if unreachable is not None or isinstance(error, _NETWORK_FAILURES):
        return f"could not reach Slack at {where} ({unreachable or code})"
    return f"Slack at {where} did not open a Socket Mode connection ({code})"


def one_line_network_failures(record: logging.LogRecord) -> bool:
    """slack_sdk's Socket Mode client logs each failed try to open a websocket with its traceback; its message
    already says what failed, so a failure of the network is logged without the traceback. A message its parser
    cannot read is logged (and acknowledged) by ``socket_mode``: slack_sdk's own log of it is left out."""
    error = record.exc_info[1] if record.exc_info is not None else None
    if isinstance(error, _NETWORK_FAILURES):
        record.exc_info, record.exc_text = None, None
    return not isinstance(error, RecursionError)


#: the log of the Socket Mode client (given to it as its ``logger``)
CLIENT_LOG = logging.getLogger("slack_sdk.socket_mode")
CLIENT_LOG.addFilter(one_line_network_failures)
