"""manifest.yml is a valid Slack app manifest that asks for what the bot uses and nothing more."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parents[1]
#: the manifest's JSON schema (see tests/data/SOURCE.md)
SCHEMA = ROOT / "tests" / "data" / "slack-app-manifest.schema.json"


def manifest() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "manifest.yml").read_text())
    assert isinstance(data, dict)
    return data


def test_manifest_is_valid_against_the_schema() -> None:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.validate(manifest(), schema, cls=jsonschema.Draft4Validator)


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
    # channels:read and groups:read: the check that the bot is in the watch channel (conversations.info)
    assert sorted(data["oauth_config"]["scopes"]["bot"]) == [
        "channels:read", "chat:write", "commands", "groups:read", "usergroups:read"
    ]  # fmt: skip
