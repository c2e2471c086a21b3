"""An in-process fake of Slack: Web API, response_urls and Socket Mode on one local port (``start()``, then
point the real slack_sdk clients at ``api_url`` with ``bot_token``)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import secrets
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from .block_kit import modal_problems, problems, view_problems

APP_ID = "A0001"
BOT_ID = "B0001"
FIRST_TS_MICROS = 1_700_000_000_000_000
TS_STEP_MICROS = 100


@dataclass
class SlackCall:
    method: str
    args: dict[str, Any]
    token: str | None
    headers: dict[str, str]


@dataclass
class ResponseUrlPost:
    url: str
    body: dict[str, Any]


@dataclass
class Message:
    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    updates: int
    #: the message it replies to, in its thread (None: a message of the channel itself)
    thread_ts: str | None = None


#: a proxy's error page, as one in front of Slack would answer when Slack cannot be reached
PROXY_PAGE = "<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>"


@dataclass(frozen=True)
class BadAnswer:
    """An answer that is not Slack's: a status, a content type and a body; or, with ``reset``, none at all
    (the connection is cut before anything is sent)."""

    status: int = 502
    content_type: str = "text/html"
    body: str = PROXY_PAGE
    reset: bool = False


#: the ways a call can go wrong between the bot and Slack
BAD_ANSWERS = {
    "html_502": BadAnswer(),
    "text_405": BadAnswer(405, "text/plain", "405: Method Not Allowed"),
    "empty_200": BadAnswer(200, "text/html", ""),
    "broken_json_503": BadAnswer(503, "application/json", "<html>Service Unavailable</html>"),
    "json_list_200": BadAnswer(200, "application/json", "[1]"),
    "reset": BadAnswer(reset=True),
}


class SlackError(Exception):
    """Raised by a method handler to answer {"ok": false, "error": <error>}."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


class FakeSlack:
    bot_token: str = "xoxb-fake-bot-token-5Zr8"
    app_token: str = "xapp-fake-app-token-3Lp2"
    bot_user_id: str = "UBOT"
    team_id: str = "T0001"

    def __init__(self) -> None:
        self.calls: list[SlackCall] = []
        self.response_posts: list[ResponseUrlPost] = []
        self.messages: dict[tuple[str, str], Message] = {}
        self.not_in_channel: set[str] = set()
        self.usergroups: dict[str, list[str]] = {}
        self.socket_connected = asyncio.Event()
        #: while set, a websocket is refused (503), as a proxy that lets HTTPS through but not websockets does
        self.refuse_sockets = False
        #: websockets refused so far
        self.sockets_refused = 0
        #: every way a message the bot sent broke Slack's limits (a test fails if any)
        self.violations: list[str] = []
        #: called (with the call's arguments) when a method is called, before it is answered
        self.before: dict[str, Callable[[dict[str, Any]], None]] = {}
        #: the tickets of the Socket Mode URLs handed out
        self.tickets: list[str] = []
        #: (method, channel) of each chat.postMessage and chat.update that was carried out, in order
        self.accepted: list[tuple[str, str]] = []
        #: each user's Home tab, as last published (views.publish)
        self.homes: dict[str, dict[str, Any]] = {}
        #: per channel: messages per second allowed, and the burst; None: no limit
        self._rate: tuple[float, int] | None = None
        self._buckets: dict[str, tuple[float, float]] = {}

        #: methods (or ``response_url``) answered as something in front of Slack would, until mended
        self.bad_answers: dict[str, BadAnswer] = {}
        #: seconds a Web API method (or ``response_url``) takes before it acts and answers
        self.delay_of: dict[str, float] = {}
        #: reply URLs whose posts wait until ``release``, and the posts waiting
        self._held: dict[str, asyncio.Event] = {}
        self.holding: list[str] = []
        self._failures: defaultdict[str, deque[str]] = defaultdict(deque)
        self._rate_limits: defaultdict[str, deque[int]] = defaultdict(deque)
        self._response_ids: dict[str, str] = {}
        self._ts_count = 0
        self._sockets: dict[web.WebSocketResponse, asyncio.Transport | None] = {}
        self._acks: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._runner: web.AppRunner | None = None
        self._base_url = ""
        self._methods: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "auth.test": self._auth_test,
            "conversations.info": self._conversation_info,
            "chat.postMessage": self._post_message,
            "chat.update": self._update,
            "usergroups.users.list": self._usergroup_users,
            "views.publish": self._publish_view,
            "chat.getPermalink": self._permalink,
            "apps.connections.open": self._open_connection,
            "views.open": self._open_modal,
        }
        #: each modal opened (views.open), in order
        self.modals: list[dict[str, Any]] = []

    # lifecycle

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._handle_api)
        app.router.add_post("/{kind:commands|actions}/{team}/{id}/{token}", self._handle_response_url)
        app.router.add_get("/socket", self._handle_socket)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        port = self._runner.addresses[0][1]
        self._base_url = f"http://127.0.0.1:{port}"

    async def close(self) -> None:
        for ws in list(self._sockets):
            await ws.close(code=WSCloseCode.GOING_AWAY)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def api_url(self) -> str:
        return f"{self._started_base_url()}/api/"

    def _started_base_url(self) -> str:
        if not self._base_url:
            raise RuntimeError("FakeSlack is not started")
        return self._base_url

    # Web API: scripting and inspection

    def calls_to(self, method: str) -> list[SlackCall]:
        return [call for call in self.calls if call.method == method]

    def channel_messages(self, channel: str) -> list[Message]:
        """The messages of ``channel`` itself, not the replies in their threads."""
        return [m for m in self.messages.values() if m.channel == channel and m.thread_ts is None]

    def replies(self, channel: str, ts: str) -> list[Message]:
        """The replies in the thread of the message ``ts``."""
        return [m for m in self.messages.values() if m.channel == channel and m.thread_ts == ts]

    def fail_next(self, method: str, error: str, times: int = 1) -> None:
        self._failures[method].extend([error] * times)

    def stop_failing(self, method: str) -> None:
        """Forget the failures still queued for ``method``."""
        self._failures[method].clear()

    def answer_badly(self, method: str, how: str = "html_502") -> None:
        """From now on, answer ``method`` (a Web API method, or ``response_url`` for every reply URL) with one
        of :data:`BAD_ANSWERS` instead of Slack's answer (the call is still recorded)."""
        self.bad_answers[method] = BAD_ANSWERS[how]

    def answer_well(self, method: str) -> None:
        """Answer ``method`` as Slack does again."""
        self.bad_answers.pop(method, None)

    def rate_limit_next(self, method: str, times: int = 1, retry_after: int = 1) -> None:
        self._rate_limits[method].extend([retry_after] * times)

    def limit_rate(self, per_second: float = 1.0, burst: int = 2) -> None:
        """Like Slack: chat.postMessage and chat.update take about ``per_second`` messages a second per
        channel (``burst`` at once); beyond that they answer 429 with a whole number of seconds to wait."""
        self._rate = (per_second, burst)

    # response_url

    def new_response_url(self, kind: str = "commands") -> str:
        """A reply URL shaped like Slack's (``…/commands/T…/<n>/<secret>``); the secret is a capability."""
        response_id, token = (
            str(len(self._response_ids) + 1),
            secrets.token_urlsafe(18).replace("-", "x").replace("_", "y"),
        )
        self._response_ids[response_id] = token
        return f"{self._started_base_url()}/{kind}/{self.team_id}/{response_id}/{token}"

    def posts_to(self, url: str) -> list[ResponseUrlPost]:
        return [post for post in self.response_posts if post.url == url]

    def notes_after_command(self, response_url: str, ack: str) -> list[str]:
        """The private notes a person is left with after a command, as Slack shows them: the acknowledgement
        (when it has text), then each message posted to the command's reply URL. Slack does not let a
        command's reply URL replace its acknowledgement: a post there with ``replace_original`` is one more
        note (only a click's reply URL replaces the message clicked on)."""
        return ([ack] if ack else []) + [post.body.get("text", "") for post in self.posts_to(response_url)]

    # Socket Mode

    async def wait_for_socket(self, timeout: float = 5.0) -> None:
        """Wait until a client is connected and has been sent "hello"."""
        async with asyncio.timeout(timeout):
            await self.socket_connected.wait()

    async def send_envelope(
        self,
        type: str,
        payload: dict[str, Any] | str,
        *,
        timeout: float = 5.0,
    ) -> dict[str, Any]:
        """Send an envelope to the newest connection and return the client's ack for it; a ``payload`` given as
        text is sent as that JSON text (one ``json.dumps`` could not write: nested too deep)."""
        envelope_id = str(uuid.uuid4())
        ack: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._acks[envelope_id] = ack
        envelope = {
            "envelope_id": envelope_id,
            "type": type,
            "payload": None if isinstance(payload, str) else payload,
            "accepts_response_payload": True,
            "retry_attempt": 0,
            "retry_reason": "",
        }
        text = json.dumps(envelope)
        if isinstance(payload, str):
            text = text.replace('"payload": null', f'"payload": {payload}', 1)
        try:
            async with asyncio.timeout(timeout):
                await self.socket_connected.wait()
                ws = list(self._sockets)[-1]
                await ws.send_str(text)
                return await ack
        finally:
            del self._acks[envelope_id]

    async def drop_socket(self) -> None:
        """Cut every open Socket Mode connection at the TCP level, without a close frame."""
        self.socket_connected.clear()
        for transport in self._sockets.values():
            if transport is not None:
                transport.abort()

    # HTTP handlers

    async def _handle_api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args = await _read_args(request)
        token = _bearer_token(request.headers.get("Authorization")) or args.get("token")
        self.calls.append(SlackCall(method, args, token, dict(request.headers)))

        if method in self.before:
            self.before[method](args)
        if method in self.delay_of:
            await asyncio.sleep(self.delay_of[method])
        if method in self.bad_answers:
            return _bad_answer(request, self.bad_answers[method])
        if self._rate_limits[method]:
            retry_after = self._rate_limits[method].popleft()
            return _ratelimited(retry_after)
        wait = self._take_token(method, args)
        if wait:
            return _ratelimited(wait)
        if self._failures[method]:
            return _error(self._failures[method].popleft())
        handler = self._methods.get(method)
        if handler is None:
            return _error("unknown_method")
        expected_token = self.app_token if method == "apps.connections.open" else self.bot_token
        if token != expected_token:
            return _error("invalid_auth")
        try:
            return web.json_response(handler(args))
        except SlackError as e:
            return _error(e.error)

    def hold(self, response_url: str) -> None:
        """Posts to ``response_url`` wait (as for a person whose connection to Slack hangs) until ``release``."""
        self._held[response_url] = asyncio.Event()

    def release(self, response_url: str) -> None:
        self._held.pop(response_url).set()

    async def _handle_response_url(self, request: web.Request) -> web.Response:
        if self._response_ids.get(request.match_info["id"]) != request.match_info["token"]:
            return web.Response(status=404, text="no_such_response_url")
        try:
            body = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return web.Response(status=400, text="invalid_payload")
        await asyncio.sleep(self.delay_of.get("response_url", 0))
        if (held := self._held.get(str(request.url))) is not None:
            self.holding.append(str(request.url))
            await held.wait()
        if "response_url" in self.bad_answers:  # a proxy in the way: the post never reaches Slack
            return _bad_answer(request, self.bad_answers["response_url"])
        self.response_posts.append(ResponseUrlPost(str(request.url), body))
        found = problems(body)
        self.violations += [f"reply URL: {p}" for p in found]
        if problems({"blocks": body.get("blocks")}):
            return web.Response(status=400, text="invalid_blocks")
        return web.Response(text="ok")

    async def _handle_socket(self, request: web.Request) -> web.StreamResponse:
        if self.refuse_sockets:
            self.sockets_refused += 1
            return web.Response(status=503, text="websockets are not allowed here")
        ws = web.WebSocketResponse(timeout=1.0)
        await ws.prepare(request)
        self._sockets[ws] = request.transport
        try:
            await ws.send_json(
                {
                    "type": "hello",
                    "num_connections": len(self._sockets),
                    "debug_info": {
                        "host": "fake-slack",
                        "build_number": 1,
                        "approximate_connection_time": 18060,
                    },
                    "connection_info": {"app_id": APP_ID},
                }
            )
            self.socket_connected.set()
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    self._receive_ack(msg.data)
        finally:
            del self._sockets[ws]
            if not self._sockets:
                self.socket_connected.clear()
        return ws

    def _receive_ack(self, data: str) -> None:
        with contextlib.suppress(ValueError):
            message = json.loads(data)
            ack = self._acks.get(str(message.get("envelope_id"))) if isinstance(message, dict) else None
            if ack is not None and not ack.done():
                ack.set_result(message)

    # Web API methods

    def _auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://acme.slack.com/",
            "team": "Acme",
            "user": "unblock-bot",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _conversation_info(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = str(args.get("channel") or "")
        if not channel:
            raise SlackError("channel_not_found")
        return {"ok": True, "channel": {"id": channel, "is_member": channel not in self.not_in_channel}}

    def _post_message(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._member_channel(args)
        text, blocks = _text(args), _blocks(args)
        self._check_limits("chat.postMessage", text, blocks)
        if not text and not blocks and not args.get("attachments"):
            raise SlackError("no_text")
        thread = str(args["thread_ts"]) if args.get("thread_ts") else None
        message = Message(channel, self._next_ts(), text, blocks, updates=0, thread_ts=thread)
        self.messages[(channel, message.ts)] = message
        self.accepted.append(("chat.postMessage", channel))
        return {"ok": True, "channel": channel, "ts": message.ts, "message": self._as_json(message)}

    def _update(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._member_channel(args)
        message = self.messages.get((channel, str(args.get("ts", ""))))
        if message is None:
            raise SlackError("message_not_found")
        self._check_limits("chat.update", _text(args), _blocks(args))
        # Like Slack, fields left out of the update keep their previous value.
        if "text" in args:
            message.text = _text(args)
        if "blocks" in args:
            message.blocks = _blocks(args)
        message.updates += 1
        self.accepted.append(("chat.update", channel))
        return {
            "ok": True,
            "channel": channel,
            "ts": message.ts,
            "text": message.text,
            "message": self._as_json(message),
        }

    def _usergroup_users(self, args: dict[str, Any]) -> dict[str, Any]:
        users = self.usergroups.get(str(args.get("usergroup", "")))
        if users is None:
            raise SlackError("no_such_subteam")
        return {"ok": True, "users": list(users)}

    def _publish_view(self, args: dict[str, Any]) -> dict[str, Any]:
        user = str(args.get("user_id") or "")
        view = self._checked_view("views.publish", args, view_problems, user.startswith(("U", "W")))
        self.homes[user] = view
        return {"ok": True, "view": {"id": f"V{len(self.homes)}", "type": "home", **view}}

    def _permalink(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, ts = str(args.get("channel") or ""), str(args.get("message_ts") or "")
        if (channel, ts) not in self.messages:
            raise SlackError("message_not_found")
        return {"ok": True, "channel": channel, "permalink": permalink(channel, ts)}

    def _open_modal(self, args: dict[str, Any]) -> dict[str, Any]:
        """``views.open``: a modal, for a trigger Slack gave (any non-empty one here), within Slack's limits."""
        view = self._checked_view("views.open", args, modal_problems, bool(args.get("trigger_id")))
        self.modals.append(view)
        view_id = f"VMODAL{len(self.modals)}"
        return {"ok": True, "view": {**view, "id": view_id, "team_id": self.team_id, "app_id": APP_ID}}

    def _open_connection(self, args: dict[str, Any]) -> dict[str, Any]:
        ws_base = self._started_base_url().replace("http://", "ws://", 1)
        ticket = str(uuid.uuid4())
        self.tickets.append(ticket)
        return {"ok": True, "url": f"{ws_base}/socket?ticket={ticket}&app_id={APP_ID}"}

    # helpers

    def _checked_view(
        self, method: str, args: dict[str, Any], check: Callable[[dict[str, Any]], list[str]], addressed: bool
    ) -> dict[str, Any]:
        """The view of a ``views.*`` call that is ``addressed`` (to a user, or with a trigger), within Slack's
        limits; else ``invalid_arguments``, as Slack answers (what broke a limit is recorded)."""
        view = args.get("view")
        if not addressed or not isinstance(view, dict):
            raise SlackError("invalid_arguments")
        found = check(view)
        self.violations += [f"{method}: {p}" for p in found]
        if found:
            raise SlackError("invalid_arguments")
        return view

    def _check_limits(self, method: str, text: str, blocks: list[dict[str, Any]]) -> None:
        """Record every broken limit; refuse the message as Slack would when a block breaks one (Slack takes
        a long ``text``, but a bot should keep it short)."""
        found = problems({"text": text, "blocks": blocks})
        self.violations += [f"{method}: {p}" for p in found]
        if problems({"blocks": blocks}):
            raise SlackError("invalid_blocks")

    def _take_token(self, method: str, args: dict[str, Any]) -> int:
        """0 when the call may go; else the seconds to wait (a token bucket per channel)."""
        if self._rate is None or method not in ("chat.postMessage", "chat.update"):
            return 0
        per_second, burst = self._rate
        channel, now = str(args.get("channel") or ""), time.monotonic()
        tokens, then = self._buckets.get(channel, (float(burst), now))
        tokens = min(float(burst), tokens + (now - then) * per_second)
        if tokens < 1:
            self._buckets[channel] = (tokens, now)
            return max(1, math.ceil((1 - tokens) / per_second))
        self._buckets[channel] = (tokens - 1, now)
        return 0

    def _member_channel(self, args: dict[str, Any]) -> str:
        channel = str(args.get("channel") or "")
        if not channel:
            raise SlackError("channel_not_found")
        if channel in self.not_in_channel:
            raise SlackError("not_in_channel")
        return channel

    def _next_ts(self) -> str:
        self._ts_count += 1
        micros = FIRST_TS_MICROS + self._ts_count * TS_STEP_MICROS
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _as_json(self, message: Message) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": "message",
            "user": self.bot_user_id,
            "bot_id": BOT_ID,
            "text": message.text,
            "ts": message.ts,
        }
        if message.blocks:
            body["blocks"] = message.blocks
        return body


async def _read_args(request: web.Request) -> dict[str, Any]:
    """Query string plus the form or JSON body; JSON-string blocks/attachments become lists."""
    args: dict[str, Any] = dict(request.query)
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except ValueError:
            body = None
        if isinstance(body, dict):
            args.update(body)
    else:
        args.update(await request.post())
    for key in ("blocks", "attachments", "view"):
        value = args.get(key)
        if isinstance(value, str):
            # Undecodable JSON stays a string; message methods answer invalid_blocks_format.
            with contextlib.suppress(ValueError):
                args[key] = json.loads(value)
    return args


def permalink(channel: str, ts: str) -> str:
    """The link Slack gives to a message."""
    return f"https://acme.slack.com/archives/{channel}/p{ts.replace('.', '')}"


def _bearer_token(authorization: str | None) -> str | None:
    if authorization is None or not authorization.startswith("Bearer "):
        return None
    return authorization.removeprefix("Bearer ").strip() or None


def _text(args: dict[str, Any]) -> str:
    return str(args.get("text") or "")


def _blocks(args: dict[str, Any]) -> list[dict[str, Any]]:
    blocks = args.get("blocks", [])
    if not isinstance(blocks, list):
        raise SlackError("invalid_blocks_format")
    return blocks


def _error(error: str) -> web.Response:
    return web.json_response({"ok": False, "error": error})


def _bad_answer(request: web.Request, answer: BadAnswer) -> web.Response:
    if answer.reset:
        assert request.transport is not None
        request.transport.abort()  # no answer at all: the connection is cut (what follows goes nowhere)
    response = web.Response(status=answer.status, body=answer.body.encode())
    response.content_type = answer.content_type
    return response


def _ratelimited(retry_after: int) -> web.Response:
    return web.json_response(
        {"ok": False, "error": "ratelimited"}, status=429, headers={"Retry-After": str(retry_after)}
    )
