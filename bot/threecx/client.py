"""ThreeCXClient: the one async client of a 3CX XAPI, owning one aiohttp session.

- OAuth2 client credentials against ``{base}/connect/token``; the token is
  cached until shortly before it expires and fetched by one caller at a time
  (3CX keeps one active token per API client, so two fetches would fight).
- A 401 from the XAPI gets one fresh token and one more try.
- Connection errors, timeouts, 429 and 502/503/504 are retried with
  exponential backoff and full jitter, bounded in count and in total time;
  ``Retry-After`` is honoured.
- Every other answer maps to one typed error of ``bot.threecx.errors``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp
from yarl import URL

from .. import calls
from ..calls import Lane
from .errors import (
    ChangedError,
    CredentialsError,
    ForbiddenError,
    NotFoundError,
    ThreeCXError,
    UnavailableError,
    UnexpectedResponseError,
)
from .models import BlockedNumber, BlocklistEntry, DeleteOutcome, is_entry_id
from .odata import string_literal
from .tokens import TokenStore

log = logging.getLogger(__name__)

RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})
#: a token is renewed this long before 3CX says it expires (or at half its life, if shorter)
TOKEN_EARLY_REFRESH = 60.0


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How transient failures are retried: ``attempts`` tries in all, within ``budget`` seconds."""

    attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 8.0
    budget: float = 30.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Pause before try ``attempt + 1``: Retry-After when given, else full jitter backoff."""
        if retry_after is not None:
            return retry_after
        return random.uniform(0, min(self.max_delay, self.base_delay * 2 ** (attempt - 1)))


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    headers: Mapping[str, str]
    body: bytes


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
            self._session = aiohttp.ClientSession(connector=connector, timeout=timeout)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> ThreeCXClient:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- the IP blocklist ----------------------------------------------------------

    async def get_blocklist_entry(self, entry_id: int) -> BlocklistEntry:
        """``GET /Blocklist({Id})``."""
        path = _entry_path(entry_id)
        answer = await self._xapi("GET", path)
        return BlocklistEntry.from_json(_json_body("GET", path, answer), etag=answer.headers.get("ETag"))

    async def delete_blocklist_entry(self, entry_id: int, etag: str | None = None) -> DeleteOutcome:
        """``DELETE /Blocklist({Id})``, with ``If-Match`` when an ETag is known.

        A 404 means the entry is gone, which is what was asked for: most often a
        retried DELETE whose first answer was lost (aiohttp itself resends an
        idempotent request once when a kept-alive connection drops), otherwise
        someone removed it first. Either way it is ``ALREADY_GONE``, not an error.
        """
        return await self._delete(_entry_path(entry_id), etag)

    async def list_blocklist(
        self, filter: str | None = None, top: int = 50, *, skip: int = 0, newest_first: bool = False
    ) -> list[BlocklistEntry]:
        """``GET /Blocklist`` with ``$top``/``$skip``/``$filter``: at most ``top`` entries."""
        values = await self._list("/Blocklist", filter, top, skip, newest_first)
        return [BlocklistEntry.from_json(item) for item in values]

    async def create_blocklist_entry(self, entry: BlocklistEntry) -> BlocklistEntry:
        """``POST /Blocklist``: put an entry back as it was; the new entry (with a new Id)."""
        answer = await self._xapi("POST", "/Blocklist", json_body=entry.creation_json())
        return BlocklistEntry.from_json(_json_body("POST", "/Blocklist", answer))

    # -- the caller-number blacklist ------------------------------------------------------

    async def get_blocked_number(self, number_id: str) -> BlockedNumber:
        path = _number_path(number_id)
        answer = await self._xapi("GET", path)
        return BlockedNumber.from_json(_json_body("GET", path, answer), etag=answer.headers.get("ETag"))

    async def delete_blocked_number(self, number_id: str, etag: str | None = None) -> DeleteOutcome:
        """``DELETE /BlackListNumbers('{Id}')``; a 404 is ``ALREADY_GONE`` as for IP entries."""
        return await self._delete(_number_path(number_id), etag)

    async def list_blocked_numbers(self, filter: str | None = None, top: int = 50) -> list[BlockedNumber]:
        values = await self._list("/BlackListNumbers", filter, top, 0, False)
        return [BlockedNumber.from_json(item) for item in values]

    async def create_blocked_number(self, number: BlockedNumber) -> BlockedNumber:
        answer = await self._xapi("POST", "/BlackListNumbers", json_body=number.creation_json())
        return BlockedNumber.from_json(_json_body("POST", "/BlackListNumbers", answer))

    @property
    def call_bound(self) -> float:
        """The longest one call can last, its retries included: the last try starts within the retry budget
        and lasts at most the timeout."""
        return self._retry.budget + self._timeout

    async def check_credentials(self) -> None:
        """Fetch a token now (for the preflight check); raises like any call would."""
        await self._access_token()

    # -- plumbing ----------------------------------------------------------------

    async def _delete(self, path: str, etag: str | None) -> DeleteOutcome:
        answer = await self._xapi("DELETE", path, headers={"If-Match": etag} if etag else {}, check=False)
        if answer.status in (200, 204):
            return DeleteOutcome.DELETED
        if answer.status == 404:
            return DeleteOutcome.ALREADY_GONE
        raise _error_for("DELETE", path, answer)

    async def _list(self, path: str, filter: str | None, top: int, skip: int, newest_first: bool) -> list[Any]:
        params = {"$top": str(top)}
        if skip:
            params["$skip"] = str(skip)
        if filter:
            params["$filter"] = filter
        if newest_first:
            params["$orderby"] = "Id desc"
        data = _json_body("GET", path, await self._xapi("GET", path, params=params))
        values = data.get("value") if isinstance(data, dict) else None
        if not isinstance(values, list):
            raise UnexpectedResponseError("3CX answered a query without a list of entries", method="GET", path=path)
        return values

    async def _xapi(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        json_body: Any = None,
        check: bool = True,
    ) -> _Answer:
        """One XAPI call with the bearer token; a 401 gets one new token and one more try."""
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
            log.info("3CX refused the access token; fetching a new one", extra={"path": path})
            token = await self._access_token(stale=token)
            answer = await self._send(
                method, url, path, headers={**(headers or {}), **extra, **_auth(token)}, data=data, creates=creates
            )
        if check and answer.status >= 300:
            raise _error_for(method, path, answer)
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
        path = "/connect/token"
        form = {
            "client_id": self._client_id,
            "client_secret": self._client_secret,
            "grant_type": "client_credentials",
        }
        # in the decisions' lane whoever asks: a decision waiting for the token must not wait behind lookups
        answer = await self._send(
            "POST", URL(f"{self._root}{path}", encoded=True), path, data=form, lane=Lane.DECISIONS
        )
        if answer.status in (400, 401, 403):
            raise CredentialsError(
                "3CX refused the API client id or secret",
                method="POST",
                path=path,
                status=answer.status,
                detail=_token_error(answer.body),
            )
        if answer.status != 200:
            raise _error_for("POST", path, answer)
        data = _json_body("POST", path, answer)
        token = data.get("access_token") if isinstance(data, dict) else None
        lifetime = data.get("expires_in") if isinstance(data, dict) else None
        if not isinstance(token, str) or not token:
            raise UnexpectedResponseError("3CX's token endpoint answered without a token", method="POST", path=path)
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
    ) -> _Answer:
        """Send one request, retried as :func:`may_retry` allows, within the policy's tries and time.

        ``creates``: the request adds an entry, so repeating it could add the entry twice.
        """
        policy = self._retry
        deadline = time.monotonic() + policy.budget
        slots = self._slots[lane or calls.lane()]
        all_headers = {"Accept": "application/json", **(headers or {})}
        tries = 0
        while True:
            tries += 1
            failure: ThreeCXError
            try:
                answer = await self._try(method, url, path, all_headers, data, slots, creates=creates)
            except _NoAnswer as lost:
                failure, sent, status, retry_after = lost.error, lost.sent, None, None
            else:
                if answer.status not in RETRYABLE_STATUSES:
                    return answer
                failure, sent, status = _error_for(method, path, answer), True, answer.status
                # a gateway's 502/504 may hide an answer 3CX gave: an entry may have been added
                failure.maybe_applied = creates and status in (502, 504)
                retry_after = _retry_after(answer.headers.get("Retry-After"))
            pause = policy.delay(tries, retry_after)
            retry = may_retry(creates=creates, sent=sent, status=status)
            if not retry or tries >= policy.attempts or time.monotonic() + pause > deadline:
                raise failure
            log.info(
                "3CX call failed, retrying",
                extra={
                    "method": method,
                    "path": path,
                    "try": tries,
                    "pause": round(pause, 3),
                    "reason": failure.answer(),
                },
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
    ) -> _Answer:
        """One try: a connection of the lane, then the request within the timeout.

        Raises:
            _NoAnswer: no answer came (saying whether the request may have reached 3CX).
            UnavailableError: the certificate is not trusted, or the work's permit to call ran out.
        """
        if self._session is None:
            raise RuntimeError("ThreeCXClient.start() was not called")
        async with slots:
            permit = calls.permit()
            if permit is not None and not permit.allows():
                raise UnavailableError("the bot no longer holds this request, so nothing was sent", method=method,
                                       path=path)  # fmt: skip
            try:
                async with (
                    asyncio.timeout(self._timeout),
                    self._session.request(method, url, headers=headers, data=data) as response,
                ):
                    return _Answer(response.status, response.headers, await response.read())
            except (aiohttp.ClientSSLError, aiohttp.ClientConnectorCertificateError) as exc:
                raise UnavailableError(
                    "3CX's TLS certificate could not be verified (set THREECX_CA_BUNDLE for a private CA)",
                    method=method,
                    path=path,
                ) from exc
            except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, TimeoutError) as exc:
                sent = not isinstance(exc, aiohttp.ClientConnectorError)
                if creates and sent:
                    message = "3CX's answer was lost, so it is not known whether the entry was added"
                elif isinstance(exc, TimeoutError):
                    message = "3CX did not answer in time"
                else:
                    message = "3CX could not be reached"
                error = UnavailableError(
                    message, method=method, path=path, detail=type(exc).__name__, maybe_applied=creates and sent
                )
                raise _NoAnswer(error, sent=sent) from exc


class _NoAnswer(Exception):
    """A try got no answer; ``sent``: the request may have reached 3CX."""

    def __init__(self, error: UnavailableError, *, sent: bool) -> None:
        super().__init__(error.message)
        self.error, self.sent = error, sent


def may_retry(*, creates: bool, sent: bool, status: int | None) -> bool:
    """Whether a failed try may be repeated (``status``: 3CX's answer; None when none came).

    Reading, deleting and asking for a token can be repeated without harm: a second DELETE of an entry
    that the first removed gets 404, which the bot reads as "gone". They are retried after a lost
    connection, a timeout, 429 and 502/503/504.

    Adding an entry (an undo's POST) cannot: if the first try reached 3CX, a second would add the entry
    twice. It is retried only when it surely was not carried out: the connection could not even be
    opened, or 3CX refused before acting (429, 503). After a timeout or a lost answer it is not.
    """
    if not creates:
        return status is None or status in RETRYABLE_STATUSES
    if status is None:
        return not sent
    return status in (429, 503)


def _entry_path(entry_id: int) -> str:
    # the Id is formatted from a validated int, never from user text
    if isinstance(entry_id, bool) or not isinstance(entry_id, int) or not is_entry_id(entry_id):
        raise ValueError(f"not a blocklist entry id: {entry_id!r}")
    return f"/Blocklist({entry_id:d})"


def _number_path(number_id: str) -> str:
    # the key is a quoted literal with its quotes doubled, and everything else in it that is
    # not a letter or digit is percent-encoded: no character of it can end the key, add a
    # path segment or start a query
    if not isinstance(number_id, str) or not number_id or len(number_id) > 200:
        raise ValueError("not a blocked number id")
    key = quote(string_literal(number_id), safe="'")
    return f"/BlackListNumbers({key})"


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff
    return max(0.0, seconds)


def _json_body(method: str, path: str, answer: _Answer) -> Any:
    try:
        return json.loads(answer.body)
    except ValueError:
        raise UnexpectedResponseError(
            "3CX answered with something that is not JSON", method=method, path=path, status=answer.status
        ) from None


def _odata_message(body: bytes) -> str | None:
    """``error.message`` of an OData error body, if the body is one."""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    error = data.get("error") if isinstance(data, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    return message.strip()[:500] if isinstance(message, str) and message.strip() else None


def _token_error(body: bytes) -> str | None:
    """The OAuth ``error`` code of a token endpoint refusal (e.g. ``invalid_client``)."""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    code = data.get("error") if isinstance(data, dict) else None
    return code[:100] if isinstance(code, str) else None


def _error_for(method: str, path: str, answer: _Answer) -> ThreeCXError:
    status = answer.status
    detail = _odata_message(answer.body)
    kwargs: dict[str, Any] = {"method": method, "path": path, "status": status, "detail": detail}
    if status == 404:
        return NotFoundError("not found", **kwargs)
    if status == 412:
        return ChangedError("the entry changed since it was read", **kwargs)
    if status == 401:
        return CredentialsError("3CX refused the bot's access token", **kwargs)
    if status == 403:
        return ForbiddenError("the 3CX API client is not allowed to do this", **kwargs)
    if status == 429:
        return UnavailableError("3CX is rate limiting the bot", **kwargs)
    if status >= 500:
        return UnavailableError("3CX answered with a server error", **kwargs)
    return UnexpectedResponseError(detail or f"3CX answered with HTTP {status}", **kwargs)
