"""ThreeCXClient: the one async client of a 3CX XAPI, owning one aiohttp session.

- OAuth2 client credentials against ``{base}/connect/token``; the token is
  cached until shortly before it expires and fetched by one caller at a time,
  shared with other processes through a :class:`~bot.threecx.tokens.TokenStore`
  (3CX keeps one active token per API client, so two fetches would fight).
- A 401 from the XAPI gets the shared token (or a fresh one) and one more try.
- Failed tries are repeated as :func:`~bot.threecx.retry.may_retry` allows,
  with exponential backoff and full jitter, bounded in count and in total time;
  ``Retry-After`` is honoured.
- Every answer that is not a success maps to one typed error (``bot.threecx.answers``).

The client speaks HTTP (the entity sets and their keys are ``bot.threecx.entity_sets``);
what the bot does with each of 3CX's lists is in ``bot.threecx.lists``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, TypeVar

import aiohttp
from yarl import URL

from .. import calls, metrics
from ..calls import Lane
from ..domain.entries import Removal
from . import answers
from .answers import Answer
from .entity_sets import EntitySet
from .errors import ThreeCXError, UnavailableError, UnexpectedResponseError
from .no_answer import NoAnswer, Sends, counting_sends
from .retry import RETRYABLE_STATUSES, RetryPolicy, may_have_been_carried_out, may_retry
from .tokens import TokenStore

log = logging.getLogger(__name__)

E = TypeVar("E")
#: a token is renewed this long before 3CX says it expires (or at half its life, if shorter)
TOKEN_EARLY_REFRESH = 60.0
TOKEN_PATH = "/connect/token"


class ThreeCXClient:
    """Async client for the parts of the 3CX XAPI the bot uses.

    Use as ``async with ThreeCXClient(...) as client:`` or call :meth:`start`
    and :meth:`close`; the session must be created inside the running loop.
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
        token_store: TokenStore | None = None,
    ) -> None:
        self._root = base_url.rstrip("/")
        self._client_id = client_id
        self._client_secret = client_secret
        self._timeout = timeout
        # each lane has connections of its own, so that lookups can never take the ones a decision needs;
        # the timeout runs per try and only once a connection is free: waiting for one of the pool's
        # connections is not 3CX being slow (aiohttp's own total timeout counts both)
        self._slots = {Lane.COMMANDS: asyncio.Semaphore(pool_size), Lane.DECISIONS: asyncio.Semaphore(reserved)}
        self._ca_bundle = ca_bundle
        self._retry = retry or RetryPolicy(budget=3 * timeout)
        self._pool_size = pool_size + reserved
        self._on_token = on_token
        self._token_store = token_store
        self._session: aiohttp.ClientSession | None = None
        self._token: str | None = None
        #: epoch seconds, so that a token shared between processes means the same moment to all
        self._token_renew_at = 0.0
        self._token_lock = asyncio.Lock()

    # -- lifecycle -------------------------------------------------------------

    async def start(self) -> None:
        if self._session is None:
            ssl_context = ssl.create_default_context(cafile=self._ca_bundle)
            connector = aiohttp.TCPConnector(limit=self._pool_size, ssl=ssl_context)
            timeout = aiohttp.ClientTimeout(total=None, sock_connect=self._timeout)
            self._session = aiohttp.ClientSession(
                connector=connector, timeout=timeout, trace_configs=[counting_sends()]
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

    # -- entities ---------------------------------------------------------------------

    async def get(self, entity_set: EntitySet[E], key: Any) -> E:
        """``GET /<set>(<key>)``.

        Raises:
            NotFoundError: 3CX has no such entity (and every other ``ThreeCXError`` a call can raise).
        """
        path = entity_set.entity(key)
        answer = await self._xapi("GET", path)
        return entity_set.parse(answers.json_body("GET", path, answer), answer.headers.get("ETag"))

    async def delete(self, entity_set: EntitySet[Any], key: Any, etag: str | None = None) -> Removal:
        """``DELETE /<set>(<key>)``, with ``If-Match`` when an ETag is known.

        A 404 means the entity is gone, which is what was asked for: a removal that deleted nothing. When an
        earlier try's answer was lost (aiohttp itself resends an idempotent request once when a kept-alive
        connection drops), the removal says so (``answer_lost``): that try most likely removed it.
        """
        path = entity_set.entity(key)
        answer = await self._xapi("DELETE", path, headers={"If-Match": etag} if etag else {}, check=False)
        if answer.status in (200, 204):
            return Removal(deleted=True, answer=f"HTTP {answer.status}")
        if answer.status == 404 and answer.after_lost:
            return Removal(
                deleted=False,
                answer="HTTP 404 on a second try: the first, whose answer was lost, removed it",
                answer_lost=True,
            )
        if answer.status == 404:
            return Removal(deleted=False, answer="HTTP 404: the entry was already gone")
        raise answers.error_for("DELETE", path, answer)

    async def query(
        self, entity_set: EntitySet[E], *, filter: str | None = None, top: int, skip: int = 0,
        orderby: str | None = None,
    ) -> list[E]:  # fmt: skip
        """``GET /<set>`` with ``$filter``, ``$orderby``, ``$top`` and ``$skip``: at most ``top`` entities."""
        params = {"$top": str(top)}
        if skip:
            params["$skip"] = str(skip)
        if filter:
            params["$filter"] = filter
        if orderby:
            params["$orderby"] = orderby
        answer = await self._xapi("GET", entity_set.path, params=params)
        return [entity_set.parse(item, None) for item in answers.values("GET", entity_set.path, answer)]

    async def create(self, entity_set: EntitySet[E], body: dict[str, Any]) -> E:
        """``POST /<set>``: the entity 3CX made (with an Id of its own). Never sent twice."""
        answer = await self._xapi("POST", entity_set.path, json_body=body)
        return entity_set.parse(answers.json_body("POST", entity_set.path, answer), None)

    async def check_credentials(self) -> None:
        """Make sure a token is held (the shared one, or a new one); raises like any call would."""
        await self._access_token()

    # -- plumbing ----------------------------------------------------------------

    async def _xapi(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        json_body: Any = None,
        check: bool = True,
    ) -> Answer:
        """One XAPI call with the bearer token; a 401 gets the shared (or a new) token and one more try."""
        url = URL(f"{self._root}/xapi/v1{path}", encoded=True)
        if params:
            url = url.with_query(params)
        data = json.dumps(json_body).encode() if json_body is not None else None
        extra = {"Content-Type": "application/json"} if data is not None else {}
        creates = method == "POST"  # every XAPI POST the bot sends adds an entry
        token = await self._access_token()
        answer = await self._send(
            method, url, path, headers={**(headers or {}), **extra, **_auth(token)}, data=data, creates=creates
        )
        if answer.status == 401:
            log.info("3CX refused the access token; taking the shared one, or a new one", extra={"path": path})
            token = await self._access_token(stale=token)
            answer = await self._send(
                method,
                url,
                path,
                headers={**(headers or {}), **extra, **_auth(token)},
                data=data,
                creates=creates,
            )
        if check and answer.status >= 300:
            raise answers.error_for(method, path, answer)
        return answer

    async def _access_token(self, stale: str | None = None) -> str:
        """The cached token, or a new one; ``stale`` is a token 3CX just refused."""
        token = self._token
        if token is not None and token != stale and time.time() < self._token_renew_at:
            return token
        async with self._token_lock:
            # another caller may have fetched one while this one waited for the lock
            token = self._token
            if token is not None and token != stale and time.time() < self._token_renew_at:
                return token
            if self._token_store is not None:
                token, renew_at = await self._token_store.renew(stale, self._fetch_token)
            else:
                token, renew_at = await self._fetch_token()
            if self._on_token is not None:
                self._on_token(token)  # masked in logs from this moment on
            self._token, self._token_renew_at = token, renew_at
            return token

    async def _fetch_token(self) -> tuple[str, float]:
        """Ask 3CX for a token: the token and when to renew it (epoch seconds)."""
        form = {"client_id": self._client_id, "client_secret": self._client_secret, "grant_type": "client_credentials"}
        # in the decisions' lane whoever asks: a decision waiting for the token must not wait behind lookups
        url = URL(f"{self._root}{TOKEN_PATH}", encoded=True)
        try:
            answer = await self._send("POST", url, TOKEN_PATH, data=form, lane=Lane.DECISIONS)
        except ThreeCXError:
            metrics.TOKEN_FETCHES.labels("failed").inc()
            raise
        metrics.TOKEN_FETCHES.labels("ok" if answer.status == 200 else "refused").inc()
        if answer.status != 200:
            raise answers.token_refusal(TOKEN_PATH, answer)
        data = answers.json_body("POST", TOKEN_PATH, answer)
        token = data.get("access_token") if isinstance(data, dict) else None
        lifetime = data.get("expires_in") if isinstance(data, dict) else None
        if not isinstance(token, str) or not token:
            raise UnexpectedResponseError("3CX's token endpoint answered without a token", method="POST",
                                          path=TOKEN_PATH)  # fmt: skip
        if not isinstance(lifetime, int | float) or isinstance(lifetime, bool) or lifetime <= 0:
            lifetime = 60.0  # no usable lifetime: keep it briefly, a 401 would renew it anyway
        log.info("fetched a 3CX access token", extra={"expires_in": lifetime})
        return token, time.time() + max(lifetime - TOKEN_EARLY_REFRESH, lifetime / 2)

    async def _send(
        self,
        method: str,
        url: URL,
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        data: Mapping[str, str] | bytes | None = None,
        creates: bool = False,
        lane: Lane | None = None,
    ) -> Answer:
        """Send one request, tried again as :func:`may_retry` allows, within the policy's tries and time.

        ``creates``: the request adds an entry, so repeating it could add the entry twice.
        """
        policy = self._retry
        deadline = time.monotonic() + policy.budget
        slots = self._slots[lane or calls.lane()]
        all_headers = {"Accept": "application/json", **(headers or {})}
        tries, lost = 0, False
        while True:
            tries += 1
            failure: ThreeCXError
            try:
                answer = await self._try(method, url, path, all_headers, data, slots, creates=creates)
            except NoAnswer as no_answer:
                failure, sent, status, retry_after = no_answer.error, no_answer.sent, None, None
                lost = lost or sent
            else:
                if answer.status not in RETRYABLE_STATUSES:
                    return replace(answer, after_lost=True) if lost else answer
                failure, sent, status = answers.error_for(method, path, answer), True, answer.status
                failure.maybe_applied = may_have_been_carried_out(changes=creates or method == "DELETE", status=status)
                lost = lost or failure.maybe_applied
                retry_after = answers.retry_after(answer.headers.get("Retry-After"))
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
        *,
        creates: bool,
    ) -> Answer:
        """One try: a connection of the lane, then the request within the timeout.

        Raises:
            NoAnswer: no answer came (saying whether the request may have reached 3CX).
            UnavailableError: the certificate is not trusted, or the work's permit to call ran out.
        """
        if self._session is None:
            raise RuntimeError("ThreeCXClient.start() was not called")
        async with slots:
            permit = calls.permit()
            if permit is not None and not permit.allows():
                raise UnavailableError("the bot no longer holds this request, so nothing was sent", method=method,
                                       path=path)  # fmt: skip
            started, status, sends = time.monotonic(), None, Sends()
            try:
                async with (
                    asyncio.timeout(self._timeout),
                    self._session.request(method, url, headers=headers, data=data, trace_request_ctx=sends) as response,
                ):
                    status = response.status
                    return Answer(response.status, response.headers, await response.read(), after_lost=sends.resent)
            except (aiohttp.ClientSSLError, aiohttp.ClientConnectorCertificateError) as exc:
                raise UnavailableError(
                    "3CX's TLS certificate could not be verified; for a private CA, set THREECX_CA_BUNDLE",
                    method=method,
                    path=path,
                ) from exc
            except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, TimeoutError) as exc:
                raise NoAnswer.of(exc, method, path, creates=creates) from exc
            finally:
                metrics.threecx_request(method, path, status, time.monotonic() - started)


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
