"""The bot as Slack sees it: its real HTTP server on loopback, driven with signed requests,
talking to a fake Slack Web API and a fake 3CX XAPI that both speak HTTP on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
from slack_sdk.signature import SignatureVerifier

from bot.app import Bot, start_bot
from bot.calls import Lane
from bot.config import Settings, load_settings
from bot.domain.model import Move, State, UnblockRequest
from bot.domain.ports import RequestStore
from bot.logs import Redactor
from bot.server import Listener, serve, web_app
from bot.tasks import Limits
from bot.threecx.retry import RetryPolicy

from .fakes.slack import FakeSlack, Message
from .fakes.threecx import FakeThreeCX
from .ports import free_port

SIGNING_SECRET = "test-signing-secret-8c1f0d2e9b7a"
GENERAL = "C0GENERAL"
ALICE, BOB, CAROL, MALLORY = "UALICE", "UBOB", "UCAROL", "UMALLORY"
#: retries as in production, with pauses short enough for tests
FAST_RETRY = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05, budget=10.0)


class Clock:
    """Wall-clock time that a test can move forward (request expiry)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@dataclass
class Reply:
    status: int
    text: str

    @property
    def message(self) -> str:
        """What the person who sent the request sees (Slack shows a plain-text ack as-is)."""
        try:
            return str(json.loads(self.text)["text"])
        except (ValueError, KeyError, TypeError):
            return self.text


@dataclass
class Harness:
    slack: FakeSlack
    pbx: FakeThreeCX
    env: dict[str, str]
    clock: Clock = field(default_factory=Clock)
    #: the bot's limits on background work (None: its own)
    limits: dict[Lane, Limits] | None = None
    #: how the bot retries 3CX
    retry: RetryPolicy = FAST_RETRY
    redactor: Redactor = field(default_factory=Redactor)
    bot: Bot | None = None
    url: str = ""
    _listener: Listener | None = None
    _http: aiohttp.ClientSession | None = None

    @property
    def settings(self) -> Settings:
        return load_settings(self.env)

    async def start(self) -> None:
        settings = self.settings
        for secret in settings.secrets():
            self.redactor.add(secret)
        self.bot = await start_bot(
            settings, redactor=self.redactor, clock=self.clock, retry=self.retry, limits=self.limits
        )
        self._listener = Listener(web_app(self.bot), settings)
        [(host, port)] = await self._listener.start("127.0.0.1", 0)
        self.url = f"http://{host}:{port}"
        if self._http is None:
            self._http = aiohttp.ClientSession()

    async def stop(self) -> None:
        if self._listener is not None:
            await self._listener.close()
            self._listener = None
        if self.bot is not None:
            await self.bot.close()
            self.bot = None

    async def restart(self) -> None:
        """Stop the bot (draining its work) and start a new one on the same store."""
        await self.stop()
        await self.start()

    async def restart_with(self, **settings: str) -> None:
        """Restart with some settings changed."""
        self.env.update(settings)
        await self.restart()

    async def close(self) -> None:
        await self.stop()
        if self._http is not None:
            await self._http.close()

    async def settle(self) -> None:
        """Wait until the bot has finished the work its acks started, and said in Slack what it had to say."""
        assert self.bot is not None
        while True:
            await self.bot.work.idle()
            await self.bot.outbox.idle()
            await asyncio.sleep(0)  # the callbacks of what was just sent (a fallback to a reply URL, say)
            if self.bot.outbox.waiting == 0 and not self.bot.work.busy:
                return

    # -- what Slack sends ------------------------------------------------------

    async def post_signed(
        self,
        body: str,
        *,
        timestamp: int | None = None,
        secret: str = SIGNING_SECRET,
        signature: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        ts = str(int(time.time()) if timestamp is None else timestamp)
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            **(headers or {}),
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": signature if signature is not None else sign(body, ts, secret),
        }
        if self._http is None:
            self._http = aiohttp.ClientSession()
        async with self._http.post(f"{self.url}/slack/events", data=body.encode(), headers=headers) as response:
            return Reply(response.status, await response.text())

    async def post_payload(self, payload: Any) -> Reply:
        """Deliver an interactive payload (a click, a form), signed, as Slack sends it."""
        return await self.post_signed(urlencode({"payload": json.dumps(payload)}))

    async def post_json(self, body: Any) -> Reply:
        """Deliver an Events API body (signed JSON, as Slack sends it)."""
        return await self.post_signed(json.dumps(body), headers={"Content-Type": "application/json"})

    def command_body(
        self, text: str, *, user: str = ALICE, channel: str = GENERAL, team: str | None = None
    ) -> tuple[str, str]:
        response_url = self.slack.new_response_url()
        body = urlencode(
            {
                "token": "legacy-verification-token",
                "team_id": team or self.slack.team_id,
                "team_domain": "acme",
                "channel_id": channel,
                "channel_name": "general",
                "user_id": user,
                "user_name": user.lower(),
                "command": "/unblock",
                "text": text,
                "api_app_id": "A0001",
                "response_url": response_url,
                "trigger_id": uuid.uuid4().hex,
            }
        )
        return body, response_url

    async def command(
        self, text: str, *, user: str = ALICE, channel: str = GENERAL, team: str | None = None
    ) -> tuple[Reply, str]:
        """Type ``/unblock <text>``; the bot's HTTP answer (the ack) and the command's response_url."""
        body, response_url = self.command_body(text, user=user, channel=channel, team=team)
        return await self.post_signed(body), response_url

    async def open_card(self, text: str = "42", *, user: str = ALICE, channel: str = GENERAL) -> UnblockRequest:
        """Type ``/unblock <text>`` and wait for its card; the request behind that card."""
        before = len(self.cards(channel))
        reply, _ = await self.command(text, user=user, channel=channel)
        assert reply.status == 200
        await self.settle()
        cards = self.cards(channel)
        assert len(cards) == before + 1, "one new card in the channel"
        return await self.request_for(cards[-1])

    def action_payload(
        self,
        action: dict[str, Any],
        *,
        user: str,
        team: str | None = None,
        user_team: str | None = None,
        **where: Any,
    ) -> dict[str, Any]:
        """A ``block_actions`` payload of one ``action`` clicked by ``user``; ``where``: its container and the rest
        that tells where the click was made."""
        team = team or self.slack.team_id
        return {
            "type": "block_actions",
            "user": {"id": user, "username": user.lower(), "team_id": user_team or team},
            "api_app_id": "A0001",
            "token": "legacy-verification-token",
            "trigger_id": uuid.uuid4().hex,
            "team": {"id": team, "domain": "acme"},
            **where,
            "actions": [{"action_ts": f"{time.time():.6f}", **action}],
        }

    def click_body(
        self,
        action_id: str,
        value: str,
        *,
        user: str,
        channel: str = GENERAL,
        message_ts: str = "",
        team: str | None = None,
        user_team: str | None = None,
    ) -> tuple[str, str]:
        response_url = self.slack.new_response_url("actions")
        payload = self.action_payload(
            {"action_id": action_id, "block_id": "unblock_decision", "value": value, "type": "button"},
            user=user,
            team=team,
            user_team=user_team,
            container={"type": "message", "message_ts": message_ts, "channel_id": channel, "is_ephemeral": False},
            channel={"id": channel, "name": "general"},
            response_url=response_url,
        )
        return urlencode({"payload": json.dumps(payload)}), response_url

    async def click(
        self,
        action_id: str,
        request: UnblockRequest | str,
        *,
        user: str,
        channel: str | None = None,
        team: str | None = None,
        user_team: str | None = None,
        value: str | None = None,
    ) -> tuple[Reply, str]:
        """Click a button of a card (in the request's channel, unless ``channel`` says otherwise); the bot's
        HTTP answer and the click's response_url. ``value``: the button's, when it is not the request's id (after
        its PBX's name, where it has one, as the card's buttons carry it)."""
        ts, request_id = "", request if isinstance(request, str) else request.id
        if isinstance(request, UnblockRequest):
            ts, channel = await self.card_ts(request) or "", channel or request.asked.channel
            request_id = f"{request.pbx}/{request_id}" if request.pbx else request_id
        body, response_url = self.click_body(
            action_id,
            value or request_id,
            user=user,
            channel=channel or GENERAL,
            message_ts=ts,
            team=team,
            user_team=user_team,
        )
        return await self.post_signed(body), response_url

    async def choose(self, action_id: str, request: UnblockRequest, value: str, *, user: str) -> Reply:
        """Pick the option ``value`` of a select on the request's card."""
        channel = request.asked.channel
        payload = self.action_payload(
            {
                "action_id": action_id,
                "block_id": "unblock_allow",
                "type": "static_select",
                "selected_option": {"text": {"type": "plain_text", "text": value}, "value": value},
            },
            user=user,
            container={"type": "message", "message_ts": await self.card_ts(request) or "", "channel_id": channel},
            channel={"id": channel, "name": "general"},
            response_url=self.slack.new_response_url("actions"),
        )
        return await self.post_payload(payload)

    async def home_click(
        self, action_id: str, request: UnblockRequest | str, *, user: str, team: str | None = None
    ) -> Reply:
        """Click Approve or Deny in the bot's Home tab (no channel, no reply URL)."""
        value = request.id if isinstance(request, UnblockRequest) else request
        payload = self.action_payload(
            {"action_id": action_id, "block_id": "home", "type": "button", "value": value},
            user=user,
            team=team,
            container={"type": "view", "view_id": "V0HOME"},
            view={"id": "V0HOME", "type": "home", "team_id": team or self.slack.team_id},
        )
        return await self.post_payload(payload)

    def event_callback(self, event: dict[str, Any], *, team: str | None = None) -> dict[str, Any]:
        """An Events API event as Slack wraps it."""
        return {
            "token": "legacy-verification-token",
            "team_id": team or self.slack.team_id,
            "api_app_id": "A0001",
            "event": event,
            "type": "event_callback",
            "event_id": f"Ev{uuid.uuid4().hex[:10].upper()}",
            "event_time": int(time.time()),
        }

    async def event(self, event: dict[str, Any], *, team: str | None = None) -> Reply:
        """Deliver an Events API event (signed JSON, as Slack sends it)."""
        return await self.post_json(self.event_callback(event, team=team))

    async def open_home(self, user: str) -> dict[str, Any]:
        """Open the bot's Home tab as ``user``: what it shows."""
        opened = {"type": "app_home_opened", "user": user, "channel": "D0HOME", "tab": "home"}
        reply = await self.event({**opened, "event_ts": f"{time.time():.6f}"})
        assert reply.status == 200
        await self.settle()
        return self.slack.homes[user]

    # -- what people see ---------------------------------------------------------

    def cards(self, channel: str = GENERAL) -> list[Message]:
        return self.slack.channel_messages(channel)

    def notes(self, response_url: str) -> list[str]:
        """Texts posted to a response_url (ephemeral notes, in-channel cards, replacements)."""
        return [post.body.get("text", "") for post in self.slack.posts_to(response_url)]

    def shown(self, response_url: str) -> list[str]:
        """What the person sees of each message posted to a response_url: its blocks' text, else its text."""
        return [
            block_text(post.body["blocks"]) if post.body.get("blocks") else post.body.get("text", "")
            for post in self.slack.posts_to(response_url)
        ]

    async def request_for(self, card: Message) -> UnblockRequest:
        """The stored request behind a card that still has its buttons (their value is its id)."""
        return await self.stored(card_request_id(card.blocks))

    async def card_ts(self, request: UnblockRequest) -> str | None:
        """The ``ts`` of the request's card, as the bot keeps it."""
        assert self.bot is not None
        return await self.bot.store.card_of(request.id)

    async def stored_count(self) -> int:
        """How many requests the store holds (up to 50)."""
        assert self.bot is not None
        return len(await self.bot.store.recent(50))

    async def stored(self, request: UnblockRequest | str) -> UnblockRequest:
        """The request as the store has it now."""
        assert self.bot is not None
        found = await self.bot.store.get(request if isinstance(request, str) else request.id)
        assert found is not None
        return found


async def wait_for(
    condition: Callable[[], object | Awaitable[object]], *, timeout: float = 10.0, what: str = "condition"
) -> None:
    """Poll until ``condition()`` (awaited, when it gives an awaitable) is truthy; fail after ``timeout`` seconds
    (for work in another process, or in a loop of the bot's own)."""
    deadline = time.monotonic() + timeout
    while not (await found if inspect.isawaitable(found := condition()) else found):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def move(
    store: RequestStore,
    request_id: str,
    from_state: State,
    to_state: State,
    *,
    actor: str | None,
    at: float,
    **changes: Any,
) -> UnblockRequest | None:
    """Make a transition in a store directly (as a process that claims or finishes a request would)."""
    return await store.transition(
        Move(request_id=request_id, from_state=from_state, to_state=to_state, actor=actor, at=at, **changes)
    )


def crashes(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Tracebacks logged, and Slack requests that went unhandled."""
    return [r.getMessage() for r in caplog.records if r.exc_info or "could not be handled" in r.getMessage()]


def sign(body: str, timestamp: str, secret: str = SIGNING_SECRET) -> str:
    """The ``X-Slack-Signature`` Slack sends with ``body`` at ``timestamp``."""
    signature = SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=body)
    assert signature is not None
    return signature


def card_request_id(blocks: list[dict[str, Any]]) -> str:
    """The request a card is about: the value of its first button that is a request's id alone, after its PBX's
    name where it has one (Approve and allow's carry a duration too, and may come first)."""
    values = (re.fullmatch(r"(?:[a-z][a-z0-9-]*/)?([0-9a-f]{16})", str(b.get("value"))) for b in buttons(blocks))
    return next(found[1] for found in values if found)


def buttons(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every button, in the order a reader meets them (section accessories and action rows)."""
    found: list[dict[str, Any]] = []
    for block in blocks:
        if block.get("accessory", {}).get("type") == "button":
            found.append(block["accessory"])
        if block["type"] == "actions":
            found.extend(block["elements"])
    return found


def block_text(blocks: list[dict[str, Any]]) -> str:
    """Every piece of text in the blocks, joined, as a reader would scan it."""
    parts: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("text"), str):
                parts.append(node["text"])
            for value in node.values():
                if isinstance(value, dict | list):
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(blocks)
    return "\n".join(parts)


def actions_row(blocks: list[dict[str, Any]], block_id: str) -> list[dict[str, Any]]:
    """The elements of one actions block of a card (empty when the card has none)."""
    return next((b["elements"] for b in blocks if b.get("block_id") == block_id), [])


def allow_row(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The duration select and the Approve and allow button of a card (empty when not offered)."""
    return actions_row(blocks, "unblock_allow")


def posts(pbx: FakeThreeCX) -> list[dict[str, Any]]:
    """The bodies of the entries the bot asked 3CX to add."""
    return [json.loads(r.body) for r in pbx.calls("POST", "/xapi/v1/Blocklist")]


def xapi_calls(pbx: FakeThreeCX) -> list[tuple[str, str]]:
    """Every call that changes 3CX's lists, in order."""
    return [(r.method, r.path) for r in pbx.requests if r.method != "GET" and r.path.startswith("/xapi/")]


def base_env(slack: FakeSlack, pbx: FakeThreeCX, database: str) -> dict[str, str]:
    return {
        "SLACK_BOT_TOKEN": slack.bot_token,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.api_url,
        "THREECX_BASE_URL": pbx.base_url,
        "THREECX_CLIENT_ID": pbx.client_id,
        "THREECX_CLIENT_SECRET": pbx.client_secret,
        "THREECX_TIMEOUT": "2",
        # a stopped bot's claim is taken over after two heartbeats and the longest 3CX call: short, so that
        # the tests that kill a bot wait seconds, not tens of seconds
        "UNBLOCK_HEARTBEAT": "0.5",
        "UNBLOCK_APPROVERS": f"{BOB},{CAROL},SHELPDESK",
        "DATABASE_URL": f"sqlite:///{database}",
    }


@contextlib.asynccontextmanager
async def socket_mode_bot(slack: FakeSlack, pbx: FakeThreeCX, tmp_path: Path) -> AsyncIterator[Harness]:
    """The bot in Socket Mode, in this process, connected to the fake Slack's websocket; a driver for it (its
    probes on a free port). Stopped, its work drained, on leaving."""
    env = base_env(slack, pbx, str(tmp_path / "unblock.db"))
    del env["SLACK_SIGNING_SECRET"]
    env.update(SLACK_APP_TOKEN=slack.app_token, HOST="127.0.0.1", PORT=str(free_port()))
    stop = asyncio.Event()
    serving = asyncio.create_task(serve(load_settings(env), Redactor(), stop))
    try:
        await slack.wait_for_socket(timeout=10)
        yield Harness(slack, pbx, env)
    finally:
        stop.set()
        await asyncio.wait_for(serving, 30)


#: the action ids of the bot's buttons and selects, as Slack sends them back
APPROVE, DENY, CANCEL, UNDO = "unblock_approve", "unblock_deny", "unblock_cancel", "unblock_undo"
APPROVE_ALLOW, ALLOW_FOR, ALLOW_ONLY = "unblock_approve_allow", "unblock_allow_for", "unblock_allow_only"
CHOOSE, LIST_MORE = "unblock_choose", "unblock_list_more"
REQUEST_ENTRY, BURST_LIST = "unblock_request_entry", "unblock_burst_list"
HOME_APPROVE, HOME_DENY = "unblock_home_approve", "unblock_home_deny"
