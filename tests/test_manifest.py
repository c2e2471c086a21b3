"""manifest.yml (HTTP mode) and manifest-socket-mode.yml are valid Slack app manifests that ask for what the bot uses
and nothing more, and are the same app but for how Slack reaches it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
#: the manifest's JSON schema (see tests/data/SOURCE.md)
SCHEMA = ROOT / "tests" / "data" / "slack-app-manifest.schema.json"


#: the manifest for HTTP mode, and the one for Socket Mode
HTTP, SOCKET_MODE = "manifest.yml", "manifest-socket-mode.yml"


def manifest(name: str = HTTP) -> dict[str, Any]:
    data = yaml.safe_load((ROOT / name).read_text())
    assert isinstance(data, dict)
    return data


@pytest.mark.parametrize("name", [HTTP, SOCKET_MODE])
def test_manifest_is_valid_against_the_schema(name: str) -> None:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.validate(manifest(name), schema, cls=jsonschema.Draft4Validator)


def test_the_schema_check_would_catch_a_broken_manifest() -> None:
    schema = json.loads(SCHEMA.read_text())
    broken = manifest()
    broken["features"]["slash_commands"][0].pop("description")
    assert list(jsonschema.Draft4Validator(schema).iter_errors(broken))


def test_manifest_has_the_command_interactivity_and_only_the_scopes_used() -> None:
    data = manifest()
    [command] = data["features"]["slash_commands"]
    assert command["command"] == "/unblock"
    assert command["usage_hint"]
    assert command["url"].endswith("/slack/events")
    assert data["settings"]["interactivity"]["is_enabled"] is True
    assert data["settings"]["interactivity"]["request_url"].endswith("/slack/events")
    # the Home tab, drawn when it is opened; the Messages tab for the requester's direct messages (no scope needed)
    assert data["features"]["app_home"] == {
        "home_tab_enabled": True, "messages_tab_enabled": True, "messages_tab_read_only_enabled": True
    }  # fmt: skip
    assert data["settings"]["event_subscriptions"]["bot_events"] == ["app_home_opened"]
    assert data["settings"]["event_subscriptions"]["request_url"].endswith("/slack/events")
    # channels:read and groups:read: whether the bot is in a channel (conversations.info), for a shortcut's
    # request and for check
    assert sorted(data["oauth_config"]["scopes"]["bot"]) == [
        "channels:read", "chat:write", "commands", "groups:read", "usergroups:read"
    ]  # fmt: skip


def without_request_urls(data: Any) -> Any:
    """``data`` without the keys that name where Slack sends requests (``url``, ``request_url``)."""
    if isinstance(data, dict):
        return {key: without_request_urls(value) for key, value in data.items() if key not in ("url", "request_url")}
    if isinstance(data, list):
        return [without_request_urls(item) for item in data]
    return data


def test_the_socket_mode_manifest_is_the_http_app_without_request_urls() -> None:
    http, socket_mode = manifest(HTTP), manifest(SOCKET_MODE)

    assert http["settings"]["socket_mode_enabled"] is False
    assert socket_mode["settings"]["socket_mode_enabled"] is True
    # Slack reaches a Socket Mode app through its own connection: no URL anywhere
    assert without_request_urls(socket_mode) == socket_mode
    # the same command, shortcuts, tabs, events and scopes
    expected = without_request_urls(http)
    expected["settings"]["socket_mode_enabled"] = True
    assert socket_mode == expected
    assert sorted(socket_mode["oauth_config"]["scopes"]["bot"]) == sorted(http["oauth_config"]["scopes"]["bot"])
