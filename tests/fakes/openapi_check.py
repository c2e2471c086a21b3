"""Check recorded requests against 3CX's OpenAPI description of the XAPI, with openapi-core (>= 0.19; checked with
0.19.5 and 0.23.1) and PyYAML.

openapi-core matches the OData key style `/Blocklist({Id})` without help, but leaves unchecked what matters here,
so `check_against_spec` adds it: query parameters the operation does not declare; booleans other than `true` or
`false` (openapi-core takes `yes`, `on`, `1`); integer keys other than digits with an optional minus (`int()` takes
`+42`, `4_2`); string keys that are not a quoted OData literal, `('it''s')`, once percent-decoded; `$orderby`,
`$select` and `$expand` naming what the entity the operation answers with does not have (a property, or one of a
complex property's, `Registrar/IpAddress`, with `asc` or `desc`; a navigation property to expand); the OAuth2
scheme it does not check (every XAPI request needs `Authorization: Bearer <token>`, and a request to the token
URL must be an RFC 6749 client-credentials token request).
"""

from __future__ import annotations

import functools
import re
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urljoin

import yaml  # type: ignore[import-untyped,unused-ignore]
from openapi_core import Config, OpenAPI
from openapi_core.templating.paths.exceptions import PathError
from openapi_core.templating.paths.finders import APICallPathFinder
from openapi_core.testing import MockRequest

from bot.threecx.client import USER_AGENT

from .threecx import RecordedRequest, parse_string_literal

#: 3CX's OpenAPI document, trimmed to the blocklist paths (see tests/data/SOURCE.md)
SPEC_PATH = Path(__file__).resolve().parents[1] / "data" / "3cx-xapi-blocklist.yaml"
HOST_URL = "http://pbx.invalid"


@functools.cache
def _raw_spec() -> dict[str, Any]:
    with SPEC_PATH.open("rb") as file:
        spec: dict[str, Any] = yaml.load(file, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return spec


@functools.cache
def _openapi() -> OpenAPI:
    # The spec is 3CX's own and passes validation; skipping that check saves about two seconds.
    return OpenAPI.from_dict(_raw_spec(), config=Config(spec_validator_cls=None))  # type: ignore[arg-type]


@functools.cache
def _token_paths() -> frozenset[str]:
    """Paths of the client-credentials token URLs, resolved against the first server URL."""
    spec = _raw_spec()
    server_url = spec["servers"][0]["url"]
    schemes = spec["components"]["securitySchemes"].values()
    flows = [scheme.get("flows", {}).get("clientCredentials") for scheme in schemes]
    return frozenset(urljoin(server_url, flow["tokenUrl"]) for flow in flows if flow)


def check_against_spec(requests: Iterable[RecordedRequest]) -> list[str]:
    """One problem string per request that does not conform to the 3CX XAPI spec."""
    problems = []
    for request in requests:
        if request.path in _token_paths():
            errors = _token_request_errors(request)
        else:  # a request of a shape checked before (another test's token, key, filter) has its problems
            key = _checked_as(request)
            errors = _CHECKED[key] if key in _CHECKED else _CHECKED.setdefault(key, _xapi_request_errors(request))
            if errors:  # named with this request's own values
                errors = _xapi_request_errors(request)
        if errors:
            problems.append(f"{request.method} {request.path}: {'; '.join(errors)}")
    return problems


#: the problems of each XAPI request checked, by what the check looks at (every test checks what its bot sent)
_CHECKED: dict[tuple[object, ...], list[str]] = {}


def _checked_as(request: RecordedRequest) -> tuple[object, ...]:
    """The shape of an XAPI request, as far as the check looks at it: its method; its path with a well-formed key
    as any key; its query with any `$filter` or `$search` text as any, and any whole number as any; its body; the
    headers the document declares or the check reads; and whether it carries a bearer token (not the token, nor
    the test's port). Whatever is not well-formed stays as it is, so it is checked on its own."""
    scheme, _, token = _header(request, "Authorization").partition(" ")
    headers = tuple(_header(request, name) for name in ("Content-Type", "If-Match"))
    path = _ANY_STRING_KEY.sub("('key')", _ANY_NUMBER_KEY.sub("(1)", request.path))
    query = tuple(sorted((name, _any_value(name, value)) for name, value in request.query.items()))
    return request.method, path, query, request.body, headers, scheme.lower(), bool(token.strip())


#: a well-formed key in a path: a 32-bit integer (of at most 9 digits), and a quoted string literal
_ANY_NUMBER_KEY = re.compile(r"\([0-9]{1,9}\)")
_ANY_STRING_KEY = re.compile(r"\('(?:[^']|'')*'\)")


def _any_value(name: str, value: str) -> str:
    if name in ("$filter", "$search"):
        return "(text)"
    return "(number)" if re.fullmatch(r"[0-9]{1,9}", value) else value


def sent_by_the_bot(requests: Iterable[RecordedRequest]) -> list[RecordedRequest]:
    """The requests the bot's 3CX client sent (it names itself in `User-Agent`) to the XAPI or the token URL (not
    to an address that is not 3CX's, as a test of a wrong `THREECX_BASE_URL` makes it)."""
    return [
        request
        for request in requests
        if _header(request, "User-Agent").partition("/")[0] == USER_AGENT.partition("/")[0]
        and (request.path.startswith("/xapi/") or request.path in _token_paths())
    ]


def _token_request_errors(request: RecordedRequest) -> list[str]:
    content_type = _header(request, "Content-Type").split(";")[0].strip().lower()
    errors = []
    if request.method != "POST":
        errors.append("the token endpoint takes POST")
    if content_type != "application/x-www-form-urlencoded":
        errors.append(f"token request must be form-encoded, not {content_type or 'empty'!r}")
    if request.form.get("grant_type") != "client_credentials":
        errors.append("grant_type must be client_credentials")
    errors += [f"form field {name} missing" for name in ("client_id", "client_secret") if not request.form.get(name)]
    return errors


def _xapi_request_errors(request: RecordedRequest) -> list[str]:
    app = _openapi()
    mock = MockRequest(
        HOST_URL,
        request.method,
        request.path,
        args=request.query,
        headers=request.headers,
        data=request.body,
        content_type=_header(request, "Content-Type").lower(),
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Unsupported scheme type", UserWarning)
        errors = [_describe(error) for error in app.request_validator.iter_errors(mock)]
    try:
        found = APICallPathFinder(app.spec).find(request.method.lower(), HOST_URL + request.path)
    except PathError:
        return errors
    return errors + _odata_errors(request, found.path_result.pattern, found.path_result.variables)


def _odata_errors(request: RecordedRequest, pattern: str, variables: dict[str, str]) -> list[str]:
    spec = _raw_spec()
    path_item = spec["paths"][pattern]
    operation = path_item[request.method.lower()]
    declared = {}
    for parameter in [*path_item.get("parameters", []), *operation.get("parameters", [])]:
        parameter = _resolve(parameter)
        declared[parameter["in"], parameter["name"]] = parameter.get("schema", {}).get("type")

    errors = []
    for name, raw in variables.items():
        value = unquote(raw)
        if declared[("path", name)] == "integer" and not re.fullmatch(r"-?[0-9]+", value):
            errors.append(f"path key {name}={value!r} is not an integer literal")
        if declared[("path", name)] == "string":
            try:
                parse_string_literal(value)
            except ValueError:
                errors.append(f"path key {name}={value!r} is not a quoted OData string literal")

    for name, value in request.query.items():
        if ("query", name) not in declared:
            errors.append(f"query parameter {name!r} is not declared for this operation")
        elif declared[("query", name)] == "boolean" and value not in ("true", "false"):
            errors.append(f"query parameter {name}={value!r} is not true or false")
        elif name in _NAMING:
            errors += _naming_errors(name, value, _answered_entity(operation))
    if _header(request, "If-Match") and ("header", "If-Match") not in declared:
        errors.append("header If-Match is not declared for this operation")

    security = operation.get("security", spec.get("security", []))
    scheme, _, token = _header(request, "Authorization").partition(" ")
    if security and all(security) and (scheme.lower() != "bearer" or not token.strip()):
        errors.append("no Authorization: Bearer <token> header")
    return errors


#: the query options that name the entity's properties, and what each item of them may be
_NAMING = {
    "$orderby": re.compile(r"(?P<path>[^\s,]+)(?: (?:asc|desc))?"),
    "$select": re.compile(r"(?P<path>[A-Za-z_]\w*)"),
    "$expand": re.compile(r"(?P<path>[A-Za-z_]\w*)"),
}


def _naming_errors(option: str, value: str, entity: dict[str, Any]) -> list[str]:
    """What in a `$orderby`, `$select` or `$expand` names nothing the entity has (`$expand`: no navigation property,
    the others: a navigation property or a collection)."""
    errors = []
    for item in value.split(","):
        match = _NAMING[option].fullmatch(item.strip())
        found = _property(entity, match["path"]) if match else None
        navigation = found is not None and bool(found.get("x-ms-navigationProperty"))
        listed = found is not None and found.get("type") == "array"
        if found is None or navigation != (option == "$expand") or (listed and option == "$orderby"):
            what = "a navigation property" if option == "$expand" else "a property"
            errors.append(f"{option} item {item!r} is not {what} of the entity that it may name")
    return errors


def _answered_entity(operation: dict[str, Any]) -> dict[str, Any]:
    """The properties of the entity an operation answers with: a collection's items, or the entity itself."""
    answer = _resolve(operation.get("responses", {}).get("200", {}))
    schema = answer.get("content", {}).get("application/json", {}).get("schema", {})
    properties = _properties(schema)
    items = properties.get("value", {}).get("items")
    return _properties(items) if isinstance(items, dict) else properties


def _property(entity: dict[str, Any], path: str) -> dict[str, Any] | None:
    """The schema of the property at `path` (`Registrar/IpAddress`), its `allOf` merged; None if there is none."""
    found: dict[str, Any] | None = None
    properties = entity
    for name in path.split("/"):
        if name not in properties:
            return None
        found = _merged(properties[name])
        properties = found.get("properties", {})
    return found


def _properties(node: dict[str, Any]) -> dict[str, Any]:
    """The properties a schema declares, those of its `allOf` included."""
    properties: dict[str, Any] = _merged(node).get("properties", {})
    return properties


def _merged(node: dict[str, Any]) -> dict[str, Any]:
    """A schema with its `$ref` followed and the parts of its `allOf` merged into it."""
    node = _resolve(node)
    merged = {key: value for key, value in node.items() if key != "allOf"}
    for part in node.get("allOf", []):
        inner = _merged(part)
        merged["properties"] = {**inner.get("properties", {}), **merged.get("properties", {})}
        merged |= {key: value for key, value in inner.items() if key not in merged}
    return merged


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    """Follow a local `$ref` such as `#/components/parameters/top`."""
    while "$ref" in node:
        target: Any = _raw_spec()
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _header(request: RecordedRequest, name: str) -> str:
    return next((value for key, value in request.headers.items() if key.lower() == name.lower()), "")


def _describe(error: Exception) -> str:
    cause = error.__cause__
    return f"{error} ({cause})" if cause is not None and str(cause) not in str(error) else str(error)
