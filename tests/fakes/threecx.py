"""An in-process fake of a 3CX PBX: the OAuth token endpoint (`POST /connect/token`: bearer tokens for client
credentials, one active token per client) and the XAPI blocklists as 3CX's OpenAPI description
(`tests/data/3cx-xapi-blocklist.yaml`) has them: int32 keys for `/Blocklist({Id})`, quoted string keys for
`/BlackListNumbers('<id>')`, 201 on create, 204 on delete, OData error bodies. What it knows about addresses is read
as 3CX has it too: the event log (`/EventLogs`, filled by `log_event`), the phones (`/SipDevices`, `add_phone`) and
the anti-hacking settings (`/AntiHackingSettings`, `anti_hacking`). Every request is recorded before the switches
(`delay`, `fail_next`, `drop_next`, `expire_tokens`, `forbidden`, ETags, and per path `refuse`, `refuse_filter`,
`slow`, ...) apply; `after_answer` lets a test change the PBX between two requests, as 3CX's own blocking would.

aiohttp's client silently resends an idempotent request (GET, DELETE) once when the server closes the connection
without answering: one dropped GET or DELETE is invisible to an aiohttp caller; drop two to make it fail.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, unquote

from aiohttp import web

XAPI_ROOT = "/xapi/v1"
TOKEN_PATH = "/connect/token"
ODATA_JSON = "application/json; odata.metadata=minimal; odata.streaming=true; charset=utf-8"

_INT32 = range(-(2**31), 2**31)
#: ASP.NET Core OData's default ``MaxNodeCount``: the most nodes a ``$filter`` may have
MAX_NODES = 100
_STRING_LITERAL = r"'(?:[^']|'')*'"
_ENTITY_PATH = re.compile(re.escape(XAPI_ROOT) + r"/(?P<set>Blocklist|BlackListNumbers)(?:\((?P<key>[^/]*)\))?")

Key = int | str
Entity = dict[str, Any]
Predicate = Callable[[Entity], bool]


@dataclass
class RecordedRequest:
    method: str
    path: str  # as received: raw, percent-encoded, without the query string
    query: dict[str, str]
    raw_query: str
    headers: dict[str, str]
    form: dict[str, str]  # decoded application/x-www-form-urlencoded body, else {}
    json: Any  # decoded JSON body, or None
    body: bytes


class ODataError(Exception):
    """Raised while handling an XAPI request to answer with an OData error body."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}

    def response(self) -> web.Response:
        return _json_response(
            self.status, {"error": {"code": "", "message": self.message, "details": []}}, self.headers
        )


def _json_response(
    status: int, payload: Any, headers: dict[str, str] | None = None, content_type: str = ODATA_JSON
) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(payload).encode(),
        headers={"Content-Type": content_type, **(headers or {})},
    )


@dataclass
class _Fault:
    remaining: int
    method: str | None
    status: int | None  # None: close the connection without answering
    retry_after: str | None = None
    body: bytes | None = None
    content_type: str | None = None
    after_effect: bool = False

    def response(self) -> web.Response:
        assert self.status is not None
        headers = {"Retry-After": self.retry_after} if self.retry_after is not None else {}
        if self.body is None:  # an OData error
            return ODataError(self.status, f"Simulated failure ({self.status})", headers).response()
        headers["Content-Type"] = self.content_type or "text/plain; charset=utf-8"
        return web.Response(status=self.status, body=self.body, headers=headers)


# --- OData literals and $filter ------------------------------------------------------


def parse_string_literal(text: str) -> str:
    """`'it''s'` -> `it's`; anything but one quoted OData string literal raises ValueError."""
    if not re.fullmatch(_STRING_LITERAL, text):
        raise ValueError(f"not an OData string literal: {text!r}")
    return text[1:-1].replace("''", "'")


def parse_int32_literal(text: str) -> int:
    if not re.fullmatch(r"-?[0-9]+", text) or int(text) not in _INT32:
        raise ValueError(f"not an Edm.Int32 literal: {text!r}")
    return int(text)


_FILTER_TOKEN = re.compile(
    rf"""\s*(?:
        (?P<string>(?:[A-Za-z_]\w*(?:\.\w+)+)?{_STRING_LITERAL})  # 'x', or enum Pbx.BlockType'Block'
      | (?P<number>-?[0-9]+)
      | (?P<name>[A-Za-z_]\w*)
      | (?P<punct>[(),/:])
    )""",
    re.VERBOSE,
)
#: the comparisons the bot sends (OData: an ordering comparison with null is false)
_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, b: bool(a == b),
    "gt": lambda a, b: a is not None and b is not None and bool(a > b),
    "ge": lambda a, b: a is not None and b is not None and bool(a >= b),
    "le": lambda a, b: a is not None and b is not None and bool(a <= b),
}


class FilterParser:
    """Recursive descent over the part of the OData $filter grammar the bot uses.

    expr := and ('or' and)* ; and := primary ('and' primary)*
    primary := '(' expr ')' | 'contains' '(' operand ',' operand ')' | operand ('eq' | 'gt' | 'ge' | 'le') operand
             | operand 'in' '(' literal (',' literal)* ')' | collection '/any(' variable ':' expr ')'
    operand := property ('/' property)? | variable | literal | null
    literal := 'string' | Qualified.Enum'Member' | integer

    ``nested`` names the properties of each complex or expanded property (``Registrar/IpAddress``). ``takes_in``:
    False for a service that does not know ``in`` (it came with OData 4.01).

    A filter of more than ``MAX_NODES`` nodes is refused, as ASP.NET Core OData (which 3CX's XAPI is built on)
    refuses it by default. The nodes are counted as its ``FilterQueryValidator`` visits them: one for each
    operator, function, ``any`` and constant, two for a property (it and the entity it is read from; three for a
    nested one), two for ``null`` (a constant converted to the property's type), and one for ``in`` with all its
    values, which it does not visit. So ``a eq 'x' or a eq 'y'`` is 9 nodes, and an ``or`` of 20 equality tests
    and one more test (``and``) is over 100: what a service of that library was seen to refuse (20 tests refused
    and 19 taken, https://github.com/TweedeKamerDerStaten-Generaal/OpenDataPortaal/issues/187).
    """

    def __init__(
        self,
        text: str,
        properties: tuple[str, ...],
        nested: dict[str, tuple[str, ...]] | None = None,
        *,
        takes_in: bool = True,
    ) -> None:
        self.properties = properties
        self.nested = nested or {}
        self.takes_in = takes_in
        self.nodes = 0
        self.variables: set[str] = set()
        self.tokens: list[tuple[str, Any]] = []
        pos = 0
        while text[pos:].strip():
            match = _FILTER_TOKEN.match(text, pos)
            if match is None:
                raise ValueError(f"unexpected text at {pos}: {text[pos:]!r}")
            kind = match.lastgroup
            assert kind is not None
            value: Any = match[kind]
            if kind == "string":
                value = parse_string_literal(value[value.index("'") :])
            elif kind == "number":
                value = int(value)
            self.tokens.append((kind, value))
            pos = match.end()
        self.pos = 0

    def parse(self) -> Predicate:
        predicate = self._or()
        if self.pos != len(self.tokens):
            raise ValueError(f"unexpected {self.tokens[self.pos][1]!r}")
        if self.nodes > MAX_NODES:
            raise ValueError(
                f"The node count limit of '{MAX_NODES}' has been exceeded. To increase the limit, set the "
                "'MaxNodeCount' property on EnableQueryAttribute or ODataValidationSettings."
            )
        return predicate

    def _peek(self, offset: int = 0) -> tuple[str, Any]:
        index = self.pos + offset
        return self.tokens[index] if index < len(self.tokens) else ("end", None)

    def _take(self, kind: str, value: Any = None) -> Any:
        token_kind, token_value = self._peek()
        if token_kind != kind or (value is not None and token_value != value):
            raise ValueError(f"expected {value or kind}, found {token_value!r}")
        self.pos += 1
        return token_value

    def _or(self) -> Predicate:
        return self._joined("or", self._and, any)

    def _and(self) -> Predicate:
        return self._joined("and", self._primary, all)

    def _joined(self, word: str, operand: Callable[[], Predicate], join: Callable[[Iterator[bool]], bool]) -> Predicate:
        """``operand (word operand)*``: true when ``join`` (any, all) of the operands is."""
        operands = [operand()]
        while self._peek() == ("name", word):
            self.pos += 1
            self.nodes += 1
            operands.append(operand())
        return lambda e: join(o(e) for o in operands)

    def _primary(self) -> Predicate:
        if self._peek() == ("punct", "("):
            self.pos += 1
            inner = self._or()
            self._take("punct", ")")
            return inner
        if self._peek() == ("name", "contains") and self._peek(1) == ("punct", "("):
            self.pos += 2
            self.nodes += 1
            first = self._operand()
            self._take("punct", ",")
            second = self._operand()
            self._take("punct", ")")
            return lambda e: _contains(first(e), second(e))
        if self._peek(1) == ("punct", "/") and self._peek(2) == ("name", "any"):
            return self._any()
        counted = self.nodes
        left = self._operand()
        operator = self._take("name")
        if operator == "in" and self.takes_in:
            self.nodes = counted + 1  # the In node only: its operands are not visited
            values = self._literals()
            return lambda e: left(e) in values
        if operator not in _COMPARISONS:
            raise ValueError(f"unknown operator {operator!r}")
        self.nodes += 1
        right = self._operand()
        compare = _COMPARISONS[operator]
        return lambda e: compare(left(e), right(e))

    def _literals(self) -> list[Any]:
        """``('a','b',…)``: a list of strings or integers."""
        self._take("punct", "(")
        values = [self._literal()]
        while self._peek() == ("punct", ","):
            self.pos += 1
            values.append(self._literal())
        self._take("punct", ")")
        return values

    def _literal(self) -> Any:
        kind, value = self._peek()
        if kind not in ("string", "number"):
            raise ValueError(f"expected a literal, found {value!r}")
        self.pos += 1
        return value

    def _operand(self) -> Callable[[Entity], Any]:
        kind, value = self._peek()
        self.pos += 1
        if kind in ("string", "number"):
            self.nodes += 1
            return lambda e: value
        if (kind, value) == ("name", "null"):
            self.nodes += 2
            return lambda e: None
        if kind == "name" and value in self.variables:
            self.nodes += 1
            return lambda e: e.get(f"${value}")
        if kind == "name" and value in self.properties and self._peek() == ("punct", "/"):
            self.pos += 1
            inner = self._take("name")
            if inner not in self.nested.get(value, ()):
                raise ValueError(f"unknown property {value}/{inner}")
            self.nodes += 3
            return lambda e: (e.get(value) or {}).get(inner)
        if kind == "name" and value in self.properties:
            self.nodes += 2
            return lambda e: e.get(value)
        raise ValueError(f"unknown property or bad operand {value!r}")

    def _any(self) -> Predicate:
        """``Params/any(p: …)``: true when the expression is for one item of the collection (the item is ``p``)."""
        collection = self._take("name")
        if collection not in self.properties:
            raise ValueError(f"unknown property {collection!r}")
        self.nodes += 3  # any, the collection and the entity it is read from
        self.pos += 2
        self._take("punct", "(")
        variable = self._take("name")
        self._take("punct", ":")
        self.variables.add(variable)
        inner = self._or()
        self.variables.discard(variable)
        self._take("punct", ")")
        return lambda e: any(inner({**e, f"${variable}": item}) for item in e.get(collection) or ())


def _contains(a: Any, b: Any) -> bool:
    return isinstance(a, str) and isinstance(b, str) and b in a


# --- entity sets -----------------------------------------------------------------------


@dataclass
class _EntitySet:
    name: str
    properties: tuple[str, ...]
    items: dict[Any, Entity]
    parse_key: Callable[[str], Key]
    make_key: Callable[[int], Key]
    versions: dict[Any, int] = field(default_factory=dict)
    serial: int = 0

    def etag(self, key: Key) -> str:
        return f'W/"{self.versions.get(key, 1)}"'

    def new_key(self) -> Key:
        int_keys = [k for k in self.items if isinstance(k, int)]
        self.serial = max([self.serial, *int_keys]) + 1
        while self.make_key(self.serial) in self.items:
            self.serial += 1
        return self.make_key(self.serial)


# --- what 3CX knows about addresses: its event log, its phones, its anti-hacking settings ----------------------

#: the properties of `Pbx.EventLog`, `Pbx.SipDevice`, and of a device's `Registrar` and `DN` (a navigation
#: property: listed only when expanded)
_EVENT_LOG = ("Id", "EventId", "Message", "Params", "Source", "TimeGenerated", "Type", "Group", "GroupName")
_SIP_DEVICE = ("Id", "DN", "PhoneWebPassword", "ProvLink", "Registrar")
_DEVICE_PARTS = {
    "Registrar": (
        "Capabilities",
        "FirmwareAvailable",
        "FirmwareVersion",
        "InterfaceLink",
        "IpAddress",
        "MAC",
        "Model",
        "UserAgent",
        "Vendor",
    ),
    "DN": ("Id", "Number", "Name", "Hidden", "Type"),
}
#: `Pbx.AntiHackingSettings` as a new 3CX has them
_ANTI_HACKING = {
    "HackAuthRequests": 25,
    "HackBarrierAmber": 10,
    "HackBarrierGreen": 5,
    "HackBarrierRed": 20,
    "HackBlacklistDuration": 86400,
    "HackChallengeRequests": 10,
    "MaxRequestPerPeriod": 1000,
    "SecurityDefenseProgram": True,
    "ThrottlePeriodLength": 5,
}


class FakeThreeCX:
    client_id: str = "unblock-bot"
    client_secret: str = "fake-3cx-client-secret-7Qw9"

    def __init__(self, *, token_lifetime: int = 3600) -> None:
        self.token_lifetime = token_lifetime
        self.entries: dict[int, Entity] = {}
        self.numbers: dict[str, Entity] = {}
        self.requests: list[RecordedRequest] = []
        self.tokens_issued: list[str] = []

        self.delay = 0.0
        #: extra seconds before answering requests of one method (``{"POST": 4.0}``)
        self.delay_of: dict[str, float] = {}
        self.token_delay = 0.0
        self.token_status: int | None = None
        self.forbidden = False
        #: the API client's role may read but not change: GET is answered, DELETE, POST and PATCH get 403
        self.read_only = False
        #: entries are read with their ETag (the `ETag` header, and `@odata.etag`)
        self.issue_etags = False
        #: a DELETE whose `If-Match` names neither the entry's ETag nor `*` is refused with 412 (one of an entry
        #: that does not exist, 404), as 3CX documents the header; False: a 3CX that ignores `If-Match`
        self.enforce_etags = True
        #: `$orderby` and `$top`, or one of them: list queries are answered as if it were not given (in Id order;
        #: in full)
        self.ignored_options: frozenset[str] = frozenset()
        #: `in` is understood in a `$filter`; False: a 3CX of OData 4.0, which answers 400
        self.takes_in = True
        #: called with each XAPI request and its status once it is answered (not for simulated failures)
        self.after_answer: Callable[[RecordedRequest, int], None] | None = None

        self._valid_tokens: dict[str, float] = {}  # token -> monotonic deadline
        self._faults: list[_Fault] = []
        #: `Pbx.EventLog` lines, `Pbx.SipDevice` devices and the `Pbx.AntiHackingSettings` singleton
        self.event_log: list[Entity] = []
        self.sip_devices: list[Entity] = []
        self.anti_hacking_settings: Entity = dict(_ANTI_HACKING)
        #: XAPI paths (under /xapi/v1, by their beginning) refused with a status, refusing `$filter` (400), or
        #: answered after a pause
        self._refused: dict[str, int] = {}
        self._filter_refused: set[str] = set()
        self._slow: dict[str, float] = {}
        self._blocklist = _EntitySet(
            "Blocklist",
            ("Id", "IPAddrMask", "Description", "BlockType", "AddedBy", "ExpiresAt"),
            self.entries,
            _key_parser(parse_int32_literal),
            int,
        )
        self._blacklist_numbers = _EntitySet(
            "BlackListNumbers",
            ("Id", "CallerId", "Description"),
            self.numbers,
            _key_parser(parse_string_literal),
            str,
        )
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    # --- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        host, port = self._runner.addresses[0][:2]
        self.base_url = f"http://{host}:{port}"

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # --- state -----------------------------------------------------------------------

    def add_entry(
        self,
        id: int,
        ip: str = "203.0.113.7",
        *,
        description: str | None = "Failed SIP registrations",
        block_type: str | None = "Block",
        added_by: str | None = "AutoBlacklist",
        expires_at: str | None = "2026-12-01T08:00:00+00:00",
    ) -> Entity:
        """Store a Pbx.BlocklistAddr and return the stored object."""
        entry: Entity = {
            "Id": id,
            "IPAddrMask": ip,
            "Description": description,
            "BlockType": block_type,
            "AddedBy": added_by,
            "ExpiresAt": expires_at,
        }
        self.entries[id] = entry
        self._blocklist.versions[id] = 1
        return entry

    def block(self, ip: str, **fields: Any) -> Entity:
        """Add a blocklist entry as 3CX does (its own blocking, or an admin): it gets the next Id."""
        key = self._blocklist.new_key()
        assert isinstance(key, int)
        return self.add_entry(key, ip, **fields)

    def add_number(self, id: str, caller_id: str, description: str | None = None) -> Entity:
        """Store a Pbx.BlackListNumber and return the stored object."""
        number: Entity = {"Id": id, "CallerId": caller_id, "Description": description}
        self.numbers[id] = number
        self._blacklist_numbers.versions[id] = 1
        return number

    def change_entry(self, id: int, **fields: Any) -> None:
        """Edit a blocklist entry as an admin would; its ETag changes."""
        unchangeable = [n for n in fields if n == "Id" or n not in self._blocklist.properties]
        if unchangeable:
            raise ValueError(f"cannot change {unchangeable}")
        self.entries[id].update(fields)
        self._blocklist.versions[id] = self._blocklist.versions.get(id, 1) + 1

    def etag(self, id: int) -> str:
        """The current ETag of a blocklist entry, as sent in the `ETag` header."""
        return self._blocklist.etag(id)

    def log_event(
        self,
        message: str | None,
        params: Sequence[str] = (),
        *,
        at: float | str | None = None,
        type: str = "Warning",
        event_id: int = 12290,
        source: str = "SecurityDefense",
    ) -> Entity:
        """Add a line to the event log (`at`: epoch seconds or ISO 8601; now if None) and return it."""
        when = at if isinstance(at, str) else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))
        line: Entity = {
            "Id": len(self.event_log) + 1,
            "EventId": event_id,
            "Message": message,
            "Params": list(params),
            "Source": source,
            "TimeGenerated": when,
            "Type": type,
            "Group": None,
            "GroupName": None,
        }
        self.event_log.append(line)
        return line

    def add_phone(
        self,
        ip: str,
        number: str,
        name: str | None = None,
        vendor: str | None = None,
        model: str | None = None,
        *,
        user_agent: str | None = None,
    ) -> Entity:
        """Add a device registered from `ip` (as 3CX writes it: `203.0.113.7:5060`, `[2001:db8::1]:5060`) for the
        extension `number`, and return it."""
        key = len(self.sip_devices) + 1
        registrar = dict.fromkeys(_DEVICE_PARTS["Registrar"]) | {"IpAddress": ip, "Vendor": vendor, "Model": model}
        device: Entity = {
            "Id": key,
            "DN": {"Id": 100 + key, "Number": number, "Name": name, "Hidden": False, "Type": "Extension"},
            "PhoneWebPassword": None,
            "ProvLink": None,
            "Registrar": registrar | {"UserAgent": user_agent},
        }
        self.sip_devices.append(device)
        return device

    def anti_hacking(self, **fields: Any) -> None:
        """Change the anti-hacking settings (`HackAuthRequests=5`, `HackBlacklistDuration=3600`)."""
        unknown = [name for name in fields if name not in _ANTI_HACKING]
        if unknown:
            raise ValueError(f"no such anti-hacking setting {unknown}")
        self.anti_hacking_settings.update(fields)

    def refuse(self, path_prefix: str, status: int = 403) -> None:
        """Answer every request to the XAPI paths that begin with `path_prefix` (`/EventLogs`) with `status`: 403 a
        role that may not read them, 404 a 3CX that lacks them."""
        self._refused[path_prefix] = status

    def refuse_filter(self, path_prefix: str) -> None:
        """Answer requests with a `$filter` to the paths that begin with `path_prefix` with 400, as a 3CX that cannot
        filter on what was asked."""
        self._filter_refused.add(path_prefix)

    def slow(self, path_prefix: str, seconds: float) -> None:
        """Answer requests to the paths that begin with `path_prefix` only after `seconds`."""
        self._slow[path_prefix] = seconds

    # --- request log -----------------------------------------------------------------

    def calls(self, method: str, path_prefix: str = "/xapi/") -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == method.upper() and r.path.startswith(path_prefix)]

    @property
    def token_requests(self) -> int:
        return len(self.calls("POST", TOKEN_PATH))

    def reset_log(self) -> None:
        self.requests.clear()

    # --- switches --------------------------------------------------------------------

    def fail_next(
        self,
        status: int,
        times: int = 1,
        *,
        method: str | None = None,
        retry_after: str | None = None,
        body: str | bytes | None = None,
        content_type: str | None = None,
    ) -> None:
        """Answer the next `times` XAPI requests (of `method`, if given) with `status`."""
        raw = body.encode() if isinstance(body, str) else body
        self._faults.append(_Fault(times, method and method.upper(), status, retry_after, raw, content_type))

    def drop_next(self, times: int = 1, *, method: str | None = None, after_effect: bool = False) -> None:
        """Close the connection of the next `times` XAPI requests without answering.

        With after_effect=True the request is carried out first, so only the response is lost.
        """
        self._faults.append(_Fault(times, method and method.upper(), None, after_effect=after_effect))

    def clear_faults(self) -> None:
        """Forget every failure and dropped connection still queued."""
        self._faults.clear()

    def expire_tokens(self) -> None:
        self._valid_tokens.clear()

    # --- HTTP ------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        recorded = await self._record(request)
        if recorded.path == TOKEN_PATH:
            return await self._token_endpoint(recorded)
        if not recorded.path.startswith("/xapi/"):
            return ODataError(404, "Not found").response()

        pause = self.delay + self.delay_of.get(recorded.method, 0.0) + _by_path(self._slow, recorded.path, 0.0)
        if pause > 0:
            await asyncio.sleep(pause)
        fault = self._take_fault(recorded.method)
        if fault is not None and fault.status is not None:
            return fault.response()
        if fault is not None and not fault.after_effect:
            return _drop(request)
        try:
            response = self._xapi(recorded, request)
        except ODataError as error:
            response = error.response()
        if fault is not None:
            return _drop(request)
        if self.after_answer is not None:
            self.after_answer(recorded, response.status)
        return response

    async def _record(self, request: web.Request) -> RecordedRequest:
        body = await request.read()
        path, _, raw_query = request.raw_path.partition("?")
        form: dict[str, str] = {}
        if request.content_type == "application/x-www-form-urlencoded":
            form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        try:
            decoded = json.loads(body) if body else None
        except ValueError:
            decoded = None
        recorded = RecordedRequest(
            method=request.method,
            path=path,
            query=dict(request.query),
            raw_query=raw_query,
            headers=dict(request.headers),
            form=form,
            json=decoded,
            body=body,
        )
        self.requests.append(recorded)
        return recorded

    def _take_fault(self, method: str) -> _Fault | None:
        for fault in self._faults:
            if fault.method in (None, method):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    async def _token_endpoint(self, recorded: RecordedRequest) -> web.Response:
        if self.token_delay > 0:
            await asyncio.sleep(self.token_delay)
        if recorded.method != "POST":
            return _json_response(405, {"error": "invalid_request"}, content_type="application/json")
        if self.token_status is not None:
            return _json_response(self.token_status, {"error": "invalid_client"}, content_type="application/json")
        form = recorded.form
        error = None
        if "grant_type" not in form or "client_id" not in form:
            error = "invalid_request"
        elif form["grant_type"] != "client_credentials":
            error = "unsupported_grant_type"
        elif form["client_id"] != self.client_id or form.get("client_secret") != self.client_secret:
            error = "invalid_client"
        if error is not None:
            return _json_response(400, {"error": error}, content_type="application/json")

        token = secrets.token_urlsafe(32)
        self._valid_tokens.clear()  # one active token per client, as 3CX
        self._valid_tokens[token] = time.monotonic() + self.token_lifetime
        self.tokens_issued.append(token)
        payload = {"access_token": token, "token_type": "Bearer", "expires_in": self.token_lifetime}
        return _json_response(200, payload, {"Cache-Control": "no-store", "Pragma": "no-cache"}, "application/json")

    def _xapi(self, recorded: RecordedRequest, request: web.Request) -> web.Response:
        self._authorize(request.headers.get("Authorization", ""))
        if self.forbidden or (self.read_only and recorded.method != "GET"):
            raise ODataError(403, "Forbidden")
        refused = _by_path(self._refused, recorded.path, None)
        if refused is not None:
            raise ODataError(refused, HTTPStatus(refused).phrase)
        known = self._evidence(recorded)
        if known is not None:
            return known
        match = _ENTITY_PATH.fullmatch(recorded.path)
        if match is None:
            raise ODataError(404, f"No route for {recorded.method} {recorded.path}")
        entity_set = self._blocklist if match["set"] == "Blocklist" else self._blacklist_numbers
        method, query = recorded.method, recorded.query
        if match["key"] is None:
            if method == "GET":
                return self._list(entity_set, query)
            if method == "POST":
                return self._create(entity_set, recorded.json, request.content_type)
        else:
            key = entity_set.parse_key(match["key"])
            if method == "GET":
                return self._get(entity_set, key, query)
            if method == "DELETE":
                return self._delete(entity_set, key, request.headers.get("If-Match"))
            if method == "PATCH":
                return self._update(entity_set, key, recorded.json, request.content_type)
        raise ODataError(405, f"{method} is not supported on this path")

    def _authorize(self, authorization: str) -> None:
        scheme, _, token = authorization.partition(" ")
        deadline = self._valid_tokens.get(token.strip()) if scheme.lower() == "bearer" else None
        if deadline is None or deadline <= time.monotonic():
            raise ODataError(401, "Unauthorized", {"WWW-Authenticate": "Bearer"})

    # --- operations ------------------------------------------------------------------

    def _list(self, entity_set: _EntitySet, query: dict[str, str]) -> web.Response:
        _reject_unknown_options(query, {"$top", "$skip", "$filter", "$orderby"})
        rows = [entity_set.items[k] for k in sorted(entity_set.items)]
        if "$filter" in query:
            try:
                predicate = FilterParser(query["$filter"], entity_set.properties, takes_in=self.takes_in).parse()
            except ValueError as error:
                raise ODataError(400, f"Invalid $filter: {error}") from None
            rows = [row for row in rows if predicate(row)]
        order = _parse_orderby(query.get("$orderby"), entity_set.properties)
        skip, top = non_negative(query, "$skip"), non_negative(query, "$top")
        if "$orderby" not in self.ignored_options:
            for name, descending in reversed(order):
                rows.sort(key=lambda row: (row.get(name) is not None, row.get(name)), reverse=descending)
        rows = rows[skip or 0 :]
        rows = rows if "$top" in self.ignored_options else rows[:top]

        context = f"{self.base_url}{XAPI_ROOT}/$metadata#{entity_set.name}"
        return _json_response(200, {"@odata.context": context, "value": [self._render(entity_set, r) for r in rows]})

    def _get(self, entity_set: _EntitySet, key: Key, query: dict[str, str]) -> web.Response:
        _reject_unknown_options(query, set())
        entity = self._find(entity_set, key)
        payload = {
            "@odata.context": f"{self.base_url}{XAPI_ROOT}/$metadata#{entity_set.name}/$entity",
            **self._render(entity_set, entity),
        }
        headers = {"ETag": entity_set.etag(key)} if self.issue_etags else {}
        return _json_response(200, payload, headers)

    def _create(self, entity_set: _EntitySet, body: Any, content_type: str) -> web.Response:
        if content_type != "application/json":
            raise ODataError(415, f"Unsupported content type {content_type!r}")
        if not isinstance(body, dict):
            raise ODataError(400, "The request body must be a JSON object")
        unknown = [name for name in body if name not in entity_set.properties and not name.startswith("@")]
        if unknown:
            raise ODataError(400, f"Unknown properties: {', '.join(unknown)}")
        key = entity_set.new_key()
        entity = {name: body.get(name) for name in entity_set.properties} | {"Id": key}
        entity_set.items[key] = entity
        entity_set.versions[key] = 1
        return _json_response(201, self._render(entity_set, entity))

    def _delete(self, entity_set: _EntitySet, key: Key, if_match: str | None) -> web.Response:
        self._find(entity_set, key)
        current = entity_set.etag(key)
        tags = {tag.strip() for tag in if_match.split(",")} if if_match is not None else {"*"}
        if self.enforce_etags and tags.isdisjoint({"*", current}):
            raise ODataError(412, "The entity was changed since it was read (ETag mismatch)")
        del entity_set.items[key]
        entity_set.versions.pop(key, None)
        return web.Response(status=204)

    def _update(self, entity_set: _EntitySet, key: Key, body: Any, content_type: str) -> web.Response:
        """PATCH: the properties given take their new values (the Id stays); its ETag changes."""
        if content_type != "application/json":
            raise ODataError(415, f"Unsupported content type {content_type!r}")
        if not isinstance(body, dict):
            raise ODataError(400, "The request body must be a JSON object")
        unknown = [name for name in body if name == "Id" or name not in entity_set.properties]
        if unknown:
            raise ODataError(400, f"Properties that cannot be changed: {', '.join(unknown)}")
        self._find(entity_set, key).update(body)
        entity_set.versions[key] = entity_set.versions.get(key, 1) + 1
        return web.Response(status=204)

    def _find(self, entity_set: _EntitySet, key: Key) -> Entity:
        try:
            return entity_set.items[key]
        except KeyError:
            raise ODataError(404, f"{entity_set.name} {key!r} not found") from None

    def _render(self, entity_set: _EntitySet, entity: Entity) -> Entity:
        rendered = {name: entity.get(name) for name in entity_set.properties}
        if self.issue_etags:
            rendered = {"@odata.etag": entity_set.etag(entity["Id"]), **rendered}
        return rendered

    def _evidence(self, recorded: RecordedRequest) -> web.Response | None:
        """`GET /EventLogs`, `GET /SipDevices` and `GET /AntiHackingSettings`; None for another path."""
        name, query = recorded.path.removeprefix(XAPI_ROOT + "/"), recorded.query
        if name not in ("EventLogs", "SipDevices", "AntiHackingSettings"):
            return None
        if recorded.method != "GET":
            raise ODataError(405, f"{recorded.method} is not supported on this path")
        if "$filter" in query and any(recorded.path.startswith(XAPI_ROOT + p) for p in self._filter_refused):
            raise ODataError(400, "The query specified in the URI is not valid. Could not find a property.")
        context = f"{self.base_url}{XAPI_ROOT}/$metadata#{name}"
        if name == "AntiHackingSettings":
            _reject_unknown_options(query, {"$select", "$expand"})
            settings = self.anti_hacking_settings
            selected = _names(query.get("$select"), tuple(settings), "$select") or settings
            _names(query.get("$expand"), (), "$expand")
            return _json_response(200, {"@odata.context": context, **{k: settings[k] for k in selected}})
        if name == "EventLogs":
            return self._collection(context, self.event_log, _EVENT_LOG, {}, query)
        return self._collection(context, self.sip_devices, _SIP_DEVICE, _DEVICE_PARTS, query, navigation=("DN",))

    def _collection(
        self,
        context: str,
        rows: list[Entity],
        properties: tuple[str, ...],
        nested: dict[str, tuple[str, ...]],
        query: dict[str, str],
        navigation: tuple[str, ...] = (),
    ) -> web.Response:
        """A collection read with `$filter`, `$orderby`, `$skip`, `$top`, `$select` and `$expand` (of the
        `navigation` properties, which are left out unless expanded)."""
        _reject_unknown_options(query, {"$top", "$skip", "$filter", "$orderby", "$select", "$expand"})
        selected = _names(query.get("$select"), properties, "$select") or properties
        expanded = _names(query.get("$expand"), navigation, "$expand")
        if "$filter" in query:
            try:
                predicate = FilterParser(query["$filter"], properties, nested, takes_in=self.takes_in).parse()
            except ValueError as error:
                raise ODataError(400, f"Invalid $filter: {error}") from None
            rows = [row for row in rows if predicate(row)]
        order = _parse_orderby(query.get("$orderby"), properties)
        skip, top = non_negative(query, "$skip"), non_negative(query, "$top")
        if "$orderby" not in self.ignored_options:
            for name, descending in reversed(order):
                rows = sorted(rows, key=lambda row: (row.get(name) is not None, row.get(name)), reverse=descending)
        rows = rows[skip or 0 :]
        rows = rows if "$top" in self.ignored_options else rows[:top]
        shown = [n for n in selected if n not in navigation] + expanded
        value = [{n: row.get(n) for n in shown} for row in rows]
        return _json_response(200, {"@odata.context": context, "value": value})


def _key_parser(parse: Callable[[str], Key]) -> Callable[[str], Key]:
    def parse_key(raw: str) -> Key:
        try:
            return parse(unquote(raw))
        except ValueError as error:
            raise ODataError(400, f"Bad key segment: {error}") from None

    return parse_key


def _drop(request: web.Request) -> web.Response:
    """Close the connection; the response returned here is never written."""
    if request.transport is not None:
        request.transport.close()
    return web.Response(status=599)


def _reject_unknown_options(query: dict[str, str], allowed: set[str]) -> None:
    unknown = sorted(name for name in query if name.startswith("$") and name not in allowed)
    if unknown:
        raise ODataError(400, f"Unsupported query options: {', '.join(unknown)}")


def non_negative(query: dict[str, str], name: str) -> int | None:
    if name not in query:
        return None
    if not re.fullmatch(r"[0-9]+", query[name]):
        raise ODataError(400, f"Invalid {name}: {query[name]!r}")
    return int(query[name])


def _by_path(switches: dict[str, Any], path: str, otherwise: Any) -> Any:
    """The switch set for the XAPI path's beginning, or `otherwise`."""
    return next((value for prefix, value in switches.items() if path.startswith(XAPI_ROOT + prefix)), otherwise)


def _names(text: str | None, allowed: Sequence[str], option: str) -> list[str]:
    """`DN,Registrar` -> ["DN", "Registrar"], each one of `allowed`."""
    names = [name.strip() for name in (text or "").split(",") if name.strip()]
    unknown = [name for name in names if name not in allowed]
    if unknown:
        raise ODataError(400, f"Invalid {option}: {', '.join(unknown)}")
    return names


def _parse_orderby(text: str | None, properties: tuple[str, ...]) -> list[tuple[str, bool]]:
    """`Id desc,IPAddrMask` -> [("Id", True), ("IPAddrMask", False)]."""
    order = []
    for item in (text or "").split(","):
        if not item.strip():
            continue
        name, _, direction = item.strip().partition(" ")
        direction = direction.strip() or "asc"
        if name not in properties or direction not in ("asc", "desc"):
            raise ODataError(400, f"Invalid $orderby: {item.strip()!r}")
        order.append((name, direction == "desc"))
    return order
