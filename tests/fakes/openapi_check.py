"""Check recorded requests against 3CX's OpenAPI description of the XAPI, with openapi-core (>= 0.19; checked with
0.19.5 and 0.23.1) and PyYAML.

openapi-core matches the OData key style `/Blocklist({Id})` without help, but leaves unchecked what matters here,
so `check_against_spec` adds it: query parameters the operation does not declare; booleans other than `true` or
`false` (openapi-core takes `yes`, `on`, `1`); integer keys other than digits with an optional minus (`int()` takes
`+42`, `4_2`); string keys that are not a quoted OData literal, `('it''s')`, once percent-decoded; the OAuth2
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
        errors = _token_request_errors(request) if request.path in _token_paths() else _xapi_request_errors(request)
        if errors:
            problems.append(f"{request.method} {request.path}: {'; '.join(errors)}")
    return problems


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
    if _header(request, "If-Match") and ("header", "If-Match") not in declared:
        errors.append("header If-Match is not declared for this operation")

    security = operation.get("security", spec.get("security", []))
    scheme, _, token = _header(request, "Authorization").partition(" ")
    if security and all(security) and (scheme.lower() != "bearer" or not token.strip()):
        errors.append("no Authorization: Bearer <token> header")
    return errors


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
