"""ThreeCXClient: the one async client of a 3CX XAPI, owning one aiohttp session.

- OAuth2 client credentials against ``{base}/connect/token``; the token is
  cached until shortly before it expires and fetched by one caller at a time,
  shared with other processes through a ``bot.threecx.tokens.RenewToken``
  (3CX keeps one active token per API client, so two fetches would fight).
- A 401 from the XAPI gets the shared token (or a fresh one) and one more try.
- Failed tries are repeated as :func:`~bot.threecx.retry.may_retry` allows,
  with exponential backoff and full jitter, bounded in count and in total time;
  ``Retry-After`` is honoured.
- Every answer that is not a success maps to one typed error (``bot.threecx.errors``).

The client speaks HTTP (the entity sets and their keys are ``bot.threecx.models``);
what the bot does with each of 3CX's lists is in ``bot.threecx.lists``.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from types import SimpleNamespace
from typing import Any, TypeVar

import aiohttp
from yarl import URL

from .. import calls, metrics
from ..calls import Lane
from ..domain.entries import BlockedNumber, BlocklistEntry, Removal
from .errors import Answer, CredentialsError, ThreeCXError, UnavailableError, UnexpectedResponseError, no_answer
from .models import EntitySet
from .retry import RETRYABLE_STATUSES, RetryPolicy, may_retry
from .tokens import RenewToken

log = logging.getLogger(__name__)

E = TypeVar("E", BlocklistEntry, BlockedNumber)
#: a token is renewed this long before 3CX says it expires (or at half its life, if shorter)
TOKEN_EARLY_REFRESH = 60.0
TOKEN_PATH = "/connect/token"
#: what a try that got no answer may have met
NO_ANSWER = (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, TimeoutError)
#: how the bot names itself to 3CX (3CX's logs, and a proxy's, show it)
USER_AGENT = f"unblock-bot/{metrics.installed_version()}"


class ThreeCXClient:
    """Async client for the parts of the 3CX XAPI the bot uses.

    Use as ``async with ThreeCXClient(...) as client:`` or call :meth:`start`
    and :meth:`close`; the session must be created inside the running loop.
    ``pbx`` names the PBX in the metrics.
    """

    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: str,
        *,
        timeout: float = 10.0,
        ca_bundle: str | None = None,
        retry: RetryPolicy | None = None,
        pool_size: int = 10,
        reserved: int = 3,
        on_token: Callable[[str], None] | None = None,
        share_token: RenewToken | None = None,
        pbx: str = "",
    ) -> None:
        self._root = base_url.rstrip("/")
        #: the PBX's name ("": the one PBX of a bot that serves one)
        self.pbx = pbx
        self._form = {"client_id": client_id, "client_secret": client_secret, "grant_type": "client_credentials"}
        self._timeout = timeout
        # each lane has connections of its own, so that lookups can never take the ones a decision needs;
        # the timeout runs per try and only once a connection is free: waiting for one of the pool's
        # connections is not 3CX being slow (aiohttp's own total timeout counts both)
        self._slots = {Lane.COMMANDS: asyncio.Semaphore(pool_size), Lane.DECISIONS: asyncio.Semaphore(reserved)}
        self._ca_bundle = ca_bundle
        self._retry = retry or RetryPolicy(budget=3 * timeout)
        self._pool_size = pool_size + reserved
        self._on_token = on_token
        self._share_token = share_token
        self._session: aiohttp.ClientSession | None = None
        self._token: str | None = None
        #: epoch seconds, so that a token shared between processes means the same moment to all
        self._token_renew_at = 0.0
        self._token_lock = asyncio.Lock()

    async def start(self) -> None:
        if self._session is None:
            ssl_context = _trusting(self._ca_bundle)
            # aiohttp sends an idempotent request (a GET, a DELETE) once more by itself when a kept-alive connection
            # closes before the answer: each send is counted in the list given as the request's trace context, so
            # that a second one says the first one's answer was lost (and 3CX may have carried it out)
            trace = aiohttp.TraceConfig()
            trace.on_request_headers_sent.append(_count_send)
            self._session = aiohttp.ClientSession(
                headers={"User-Agent": USER_AGENT},
                connector=aiohttp.TCPConnector(limit=self._pool_size, ssl=ssl_context),
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=self._timeout),
                trace_configs=[trace],
            )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> ThreeCXClient:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def call_bound(self) -> float:
        """The longest one call can last, its retries included: the last try starts within the retry budget
        and lasts at most the timeout."""
        return self._retry.budget + self._timeout

    async def get(self, entity_set: EntitySet[E], key: Any) -> E:
        """``GET /<set>(<key>)``.

        Raises:
            NotFoundError: 3CX has no such entity (and every other ``ThreeCXError`` a call can raise).
        """
        answer = await self._xapi("GET", entity_set.entity(key))
        return entity_set.parse(answer.json(), answer.headers.get("ETag"))

    async def delete(self, entity_set: EntitySet[Any], key: Any, etag: str | None = None) -> Removal:
        """``DELETE /<set>(<key>)``, with ``If-Match`` when an ETag is known.

        A 404 means the entity is gone, which is what was asked for: a removal that deleted nothing. When an
        earlier try's answer was lost (aiohttp itself resends an idempotent request once when a kept-alive
        connection drops), the removal says so (``answer_lost``): that try most likely removed it.
        """
        answer = await self._xapi("DELETE", entity_set.entity(key), headers={"If-Match": etag} if etag else {})
        if answer.status in (200, 204):
            return Removal(deleted=True, answer=f"HTTP {answer.status}")
        if answer.status == 404 and answer.after_lost:
            said = "HTTP 404 on a second try: the first, whose answer was lost, removed it"
            return Removal(deleted=False, answer=said, answer_lost=True)
        if answer.status == 404:
            return Removal(deleted=False, answer="HTTP 404: the entry was already gone")
        raise answer.error()

    async def query(
        self,
        entity_set: EntitySet[E],
        *,
        filter: str | None = None,
        top: int,
        skip: int = 0,
        orderby: str | None = None,
    ) -> list[E]:
        """``GET /<set>`` with ``$filter``, ``$orderby``, ``$top`` and ``$skip``: at most ``top`` entities."""
        params = {"$top": str(top), "$skip": str(skip) if skip else None, "$filter": filter, "$orderby": orderby}
        answer = await self._xapi("GET", entity_set.path, params={k: v for k, v in params.items() if v})
        return [entity_set.parse(item) for item in answer.values()]

    async def read(self, path: str, options: Mapping[str, str] | None = None) -> Answer:
        """``GET <path>``: 3CX's answer as it is, for what no entity set reads (settings, other collections)."""
        return await self._xapi("GET", path, params=options)

    async def create(self, entity_set: EntitySet[E], body: dict[str, Any]) -> E:
        """``POST /<set>``: the entity 3CX made (with an Id of its own). Never sent twice."""
        answer = await self._xapi("POST", entity_set.path, body=json.dumps(body).encode())
        return entity_set.parse(answer.json())

    async def update(self, entity_set: EntitySet[Any], key: Any, body: dict[str, Any]) -> str:
        """``PATCH /<set>(<key>)``, the fields of ``body`` set (sending it again changes nothing more): 3CX's answer."""
        answer = await self._xapi("PATCH", entity_set.entity(key), body=json.dumps(body).encode())
        return f"HTTP {answer.status}"

    async def check_credentials(self) -> None:
        """Make sure a token is held (the shared one, or a new one); raises like any call would."""
        await self._access_token()

    async def _xapi(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
    ) -> Answer:
        """One XAPI call with the bearer token; a 401 gets the shared (or a new) token and one more try. An answer
        that is not a success raises its error, but a DELETE's 404 (the entry is gone)."""
        url = URL(f"{self._root}/xapi/v1{path}", encoded=True).with_query(params or None)
        sent = {**(headers or {}), **({"Content-Type": "application/json"} if body is not None else {})}
        token: str | None = None
        for tries in (1, 2):
            token = await self._access_token(stale=token)
            answer = await self._send(method, url, path, {**sent, "Authorization": f"Bearer {token}"}, body)
            if answer.status != 401 or tries == 2:
                break
            log.info("3CX refused the access token; taking the shared one, or a new one", extra={"path": path})
        if answer.status >= 300 and not (method == "DELETE" and answer.status == 404):
            raise answer.error()
        return answer

    async def _access_token(self, stale: str | None = None) -> str:
        """The cached token, or a new one (one caller at a time); ``stale`` is a token 3CX just refused."""
        async with self._token_lock:
            token = self._token
            if token is not None and token != stale and time.time() < self._token_renew_at:
                return token
            if self._share_token is not None:
                token, renew_at = await self._share_token(stale, self._fetch_token)
            else:
                token, renew_at = await self._fetch_token()
            if self._on_token is not None:
                self._on_token(token)  # masked in logs from this moment on
            self._token, self._token_renew_at = token, renew_at
            return token

    async def _fetch_token(self) -> tuple[str, float]:
        """Ask 3CX for a token: the token and when to renew it (epoch seconds)."""
        # in the decisions' lane whoever asks: a decision waiting for the token must not wait behind lookups
        url = URL(f"{self._root}{TOKEN_PATH}", encoded=True)
        try:
            answer = await self._send("POST", url, TOKEN_PATH, {}, self._form, lane=Lane.DECISIONS)
        except ThreeCXError:
            metrics.TOKEN_FETCHES.labels("failed", self.pbx).inc()
            raise
        metrics.TOKEN_FETCHES.labels("ok" if answer.status == 200 else "refused", self.pbx).inc()
        if answer.status in (400, 401, 403):  # the client id or secret
            message = "3CX refused the API client id or secret"
            raise CredentialsError(
                message, method="POST", path=TOKEN_PATH, status=answer.status, detail=answer.detail()
            )
        if answer.status != 200:
            raise answer.error()
        data = answer.json()
        token = data.get("access_token") if isinstance(data, dict) else None
        lifetime = data.get("expires_in") if isinstance(data, dict) else None
        if not isinstance(token, str) or not token:
            raise UnexpectedResponseError(
                "3CX's token endpoint answered without a token", method="POST", path=TOKEN_PATH
            )
        if not isinstance(lifetime, int | float) or isinstance(lifetime, bool) or lifetime <= 0:
            lifetime = 60.0  # no usable lifetime: keep it briefly, a 401 would renew it anyway
        log.info("fetched a 3CX access token", extra={"expires_in": lifetime})
        return token, time.time() + max(lifetime - TOKEN_EARLY_REFRESH, lifetime / 2)

    async def _send(
        self,
        method: str,
        url: URL,
        path: str,
        headers: Mapping[str, str],
        data: Mapping[str, str] | bytes | None,
        lane: Lane | None = None,
    ) -> Answer:
        """Send one request, tried again as :func:`may_retry` allows, within the policy's tries and time."""
        # every XAPI POST the bot sends adds an entry (asking for a token again is harmless)
        policy, creates = self._retry, method == "POST" and path != TOKEN_PATH
        changes = creates or method == "DELETE"  # a call that reached 3CX may have added or removed the entry
        deadline = time.monotonic() + policy.budget
        tries, lost = 0, False
        while True:
            tries += 1
            failure: ThreeCXError
            status: int | None
            try:
                answer = await self._try(method, url, path, headers, data, self._slots[lane or calls.LANE.get()])
            except NO_ANSWER as exc:
                sent, status, retry_after = not isinstance(exc, aiohttp.ClientConnectorError), None, None
                failure = no_answer(exc, method, path, creates=creates, sent=sent)
                failure.maybe_applied = changes and sent
            else:
                if answer.status not in RETRYABLE_STATUSES:
                    return replace(answer, after_lost=True) if lost else answer
                failure, sent, status = answer.error(), True, answer.status
                # a gateway's answer (502, 504) to a call that changes an entry may hide 3CX's own: it may be done
                failure.maybe_applied = changes and status in (502, 504)
                retry_after = answer.headers.get("Retry-After")
            lost = lost or failure.maybe_applied
            pause = policy.delay(tries, retry_after)
            retry = may_retry(creates=creates, sent=sent, status=status)
            if not retry or tries >= policy.attempts or time.monotonic() + pause > deadline:
                failure.maybe_applied = failure.maybe_applied or (lost and method == "DELETE")
                raise failure
            reason = failure.answer()
            log.info(
                "3CX call failed, retrying",
                extra={"method": method, "path": path, "try": tries, "pause": round(pause, 3), "reason": reason},
            )
            await asyncio.sleep(pause)

    async def _try(
        self,
        method: str,
        url: URL,
        path: str,
        headers: Mapping[str, str],
        data: Mapping[str, str] | bytes | None,
        slots: asyncio.Semaphore,
    ) -> Answer:
        """One try: a connection of the lane, then the request within the timeout.

        Raises:
            UnavailableError: the certificate is not trusted, or the work's permit to call ran out.
            aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, TimeoutError: no answer came.
        """
        if self._session is None:
            raise RuntimeError("ThreeCXClient.start() was not called")
        async with slots:
            permit = calls.PERMIT.get()
            if permit is not None and not permit.allows():
                message = "the bot no longer holds this request, so nothing was sent"
                raise UnavailableError(message, method=method, path=path)
            started, status, sends = time.monotonic(), None, list[bool]()
            headers = {"Accept": "application/json", **headers}
            try:
                async with (
                    asyncio.timeout(self._timeout),
                    self._session.request(method, url, headers=headers, data=data, trace_request_ctx=sends) as response,
                ):
                    status = response.status
                    body = await response.read()
                    return Answer(method, path, status, response.headers, body, after_lost=len(sends) > 1)
            except (aiohttp.ClientSSLError, aiohttp.ClientConnectorCertificateError) as exc:
                message = "3CX's TLS certificate could not be verified; for a private CA, set THREECX_CA_BUNDLE"
                raise UnavailableError(message, method=method, path=path) from exc
            finally:
                metrics.threecx_request(method, path, status, time.monotonic() - started, self.pbx)


@functools.cache
def _trusting(ca_bundle: str | None) -> ssl.SSLContext:
    """The TLS context that trusts ``ca_bundle`` (None: the system's CAs), one for every client that trusts the
    same: loading the system's CAs costs about a megabyte and 40 ms, for each PBX of a bot that serves many."""
    return ssl.create_default_context(cafile=ca_bundle)


async def _count_send(_: aiohttp.ClientSession, context: SimpleNamespace, __: object) -> None:
    if isinstance(context.trace_request_ctx, list):
        context.trace_request_ctx.append(True)
