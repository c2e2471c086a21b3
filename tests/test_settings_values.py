"""How each setting's value is read, and what an operator is told when it cannot be: durations in seconds or with
a unit, addresses with the right example, a CA file that holds a certificate, one level of brackets."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ConfigError, Settings, load_settings
from bot.storage import urls

BASE = {
    "SLACK_BOT_TOKEN": "xoxb-settings-test-token",
    "SLACK_SIGNING_SECRET": "settings-test-signing-secret",
    "THREECX_BASE_URL": "https://pbx.acme.test",
    "THREECX_CLIENT_ID": "unblock-bot",
    "THREECX_CLIENT_SECRET": "settings-test-client-secret",
    "UNBLOCK_APPROVERS": "UBOB",
}
#: a CA certificate (its key thrown away): what a PBX with a private CA is given as THREECX_CA_BUNDLE
CA_PEM = """-----BEGIN CERTIFICATE-----
MIIBlDCCATmgAwIBAgIUTjWM3W5cDL5SmCFlQNhlDmK1s3YwCgYIKoZIzj0EAwIw
HjEcMBoGA1UEAwwTdW5ibG9jay1ib3QgdGVzdCBDQTAgFw0yNjEyMDExNDQ4MTRa
GA8yMTI2MTEwNzE0NDgxNFowHjEcMBoGA1UEAwwTdW5ibG9jay1ib3QgdGVzdCBD
QTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABIW0XahsBEJih4l5GnrjC9B+wbRG
pWAyKwUXfFQppqJSSFcMiWYjcCT5nCPoeG/NJ+raYhx7t+Zj+0jrVqrDJaejUzBR
MB0GA1UdDgQWBBRLKtWGmoxLxC211GoAqWg3g3bS9zAfBgNVHSMEGDAWgBRLKtWG
moxLxC211GoAqWg3g3bS9zAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0kA
MEYCIQC/SzNw6NAaS1vHUCkU+a6zw8PSkq/a1E2KnDNryS6QowIhANlHsPycDzTH
1FCHWGBKwDmpQz0uGCVLj5cepuohXnlM
-----END CERTIFICATE-----
"""
UNITS = "seconds like 90, or a number and a unit (s, m, h, d or w) like 90s, 15m, 1h, 7d or 2w"


def settings(**env: str) -> Settings:
    return load_settings({**BASE, **env}, {name: "the environment" for name in env})


def problems(**env: str) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        settings(**env)
    return raised.value.problems


WHERE_IDS = (
    "in Slack, open the channel's details by clicking its name; its id, which starts with C or G, is at the bottom"
)
NOT_SHOWN = "(set in the environment; its value is not shown)."
#: settings, and every problem they have, in order
PROBLEMS = [
    (
        {"UNBLOCK_REQUEST_TTL": "8d", "UNBLOCK_UNDO_WINDOW": "25h", "THREECX_TIMEOUT": "5m1s"},
        [
            f"THREECX_TIMEOUT='5m1s' should be a duration from 0.1s to 5m: {UNITS} (set in the environment).",
            f"UNBLOCK_REQUEST_TTL='8d' should be a duration from 10s to 7d: {UNITS} (set in the environment).",
            f"UNBLOCK_UNDO_WINDOW='25h' should be a duration from 0 to 1d: {UNITS} (set in the environment).",
        ],
    ),
    (
        {"UNBLOCK_HEARTBEAT": "0.1"},
        [f"UNBLOCK_HEARTBEAT='0.1' should be a duration from 0.2s to 1m: {UNITS} (set in the environment)."],
    ),
    # addresses: with the right example
    (
        {"SLACK_API_URL": "slack.com/api"},
        [
            "SLACK_API_URL='slack.com/api' should be an http(s) URL like https://slack.com/api/ (set in the "
            "environment)."
        ],
    ),
    (
        {"SLACK_API_URL": "https://slack.example.com/api"},
        [
            "SLACK_API_URL='https://slack.example.com/api' is an example address; give Slack's Web API address, like "
            "https://slack.com/api/ (set in the environment)."
        ],
    ),
    # secrets: one level of brackets, and the other token's place
    (
        {"SLACK_BOT_TOKEN": "xoxp-a-user-token-4711", "SLACK_APP_TOKEN": "not-an-app-token"},
        [
            f"SLACK_APP_TOKEN should start with xapp- {NOT_SHOWN}",
            f"SLACK_BOT_TOKEN should start with xoxb- {NOT_SHOWN}",
        ],
    ),
    (
        {"THREECX_CLIENT_SECRET": "..."},
        [f"THREECX_CLIENT_SECRET is still the placeholder from .env.example; paste the real value {NOT_SHOWN}"],
    ),
    (
        {"SLACK_BOT_TOKEN": "xapp-1-A0APP-4711", "SLACK_APP_TOKEN": "xoxb-the-bot-token-4711"},
        [
            "SLACK_APP_TOKEN is the bot token (xoxb-…), which belongs in SLACK_BOT_TOKEN; SLACK_APP_TOKEN takes an "
            f"app-level token (xapp-…) from the Slack app's Basic Information page, under App-Level Tokens {NOT_SHOWN}",
            "SLACK_BOT_TOKEN is the app-level token (xapp-…), which belongs in SLACK_APP_TOKEN; SLACK_BOT_TOKEN takes "
            f"the Bot User OAuth Token (xoxb-…) from the Slack app's OAuth & Permissions page {NOT_SHOWN}",
        ],
    ),
    # channels: where Slack shows a channel's id
    (
        {"UNBLOCK_WATCH_CHANNEL": "#security", "UNBLOCK_CHANNELS": "#it-desk,C0HELP"},
        [
            f"UNBLOCK_CHANNELS='#it-desk,C0HELP' should be channel ids like C0123456789, separated by commas: "
            f"{WHERE_IDS} (set in the environment).",
            f"UNBLOCK_WATCH_CHANNEL='#security' should be a channel id like C0123456789: {WHERE_IDS} (set in the "
            "environment).",
        ],
    ),
]


@pytest.mark.parametrize(("env", "said"), PROBLEMS, ids=[", ".join(env) for env, _ in PROBLEMS])
def test_each_problem_says_what_the_value_should_be_and_where_it_was_set(env: dict[str, str], said: list[str]) -> None:
    assert problems(**env) == said


# durations --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "read"),
    [
        ("SLACK_SOCKET_PING_INTERVAL", lambda s: s.socket_ping_interval),
        ("HTTP_READ_TIMEOUT", lambda s: s.http_read_timeout),
        ("THREECX_TIMEOUT", lambda s: s.threecx_timeout),
        ("UNBLOCK_REQUEST_TTL", lambda s: s.request_ttl),
        ("UNBLOCK_UNDO_WINDOW", lambda s: s.undo_window),
        ("DATABASE_WAIT", lambda s: s.database_wait),
        ("UNBLOCK_WATCH_INTERVAL", lambda s: s.watch.interval),
    ],
)
@pytest.mark.parametrize("written", ["90", "90s", "1.5m", "1.5 M"])
def test_every_duration_setting_takes_seconds_or_a_unit(name: str, read: object, written: str) -> None:
    assert callable(read)
    assert read(settings(**{name: written, "UNBLOCK_WATCH_CHANNEL": "C0WATCH"})) == 90.0


def test_a_request_ttl_of_15m_is_taken_and_the_ranges_stay_as_they_were() -> None:  # (their ends: PROBLEMS)
    assert settings(UNBLOCK_REQUEST_TTL="15m").request_ttl == 900.0
    assert settings(UNBLOCK_REQUEST_TTL="7d").request_ttl == settings(UNBLOCK_REQUEST_TTL="604800").request_ttl
    assert settings(UNBLOCK_UNDO_WINDOW="1d", THREECX_TIMEOUT="5m").undo_window == 86400.0


def test_the_heartbeat_is_3s_unless_set_and_never_below_a_fifth_of_a_second() -> None:
    assert settings().heartbeat == 3.0
    assert settings(UNBLOCK_HEARTBEAT="0.5").heartbeat == settings(UNBLOCK_HEARTBEAT="0.5s").heartbeat == 0.5


@pytest.mark.parametrize("written", ["15min", "-1", "1e3", "inf", "nan", "15 minutes", "h", "1h30m"])
def test_a_duration_that_is_not_one_is_refused(written: str) -> None:
    [problem] = problems(UNBLOCK_REQUEST_TTL=written)
    assert problem.startswith(f"UNBLOCK_REQUEST_TTL={written!r} should be a duration from 10s to 7d")


def test_approve_and_allow_durations_take_seconds_too() -> None:
    allow = settings(UNBLOCK_ALLOW_DURATIONS="3600,1d,1.5h,2w").rules.default.allow
    assert allow == (3600.0, 86400.0, 5400.0, 1209600.0)

    [problem] = problems(UNBLOCK_ALLOW_DURATIONS="1h,30s")
    assert problem.startswith("UNBLOCK_ALLOW_DURATIONS='1h,30s' has '30s': each duration is whole seconds, or a")
    assert problems(UNBLOCK_ALLOW_DURATIONS="90.5")[0].startswith("UNBLOCK_ALLOW_DURATIONS='90.5' has '90.5'")


# addresses --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/xapi/v1", "/xapi/v1/", "/XAPI/v1", "/xapi"])
def test_a_pbx_address_with_the_xapi_path_is_refused_naming_its_root(path: str) -> None:
    written = f"https://pbx.acme.test:5001{path}"
    [problem] = problems(THREECX_BASE_URL=written)
    assert problem == (
        f"THREECX_BASE_URL={written!r} should be the PBX's root address, without {path.rstrip('/')}: "
        "https://pbx.acme.test:5001 (set in the environment)."
    )
    assert settings(THREECX_BASE_URL="https://pbx.acme.test/").threecx_base_url == "https://pbx.acme.test"
    assert settings(SLACK_API_URL="https://slack-gov.com/api").slack_api_url == "https://slack-gov.com/api/"


# secrets ----------------------------------------------------------------------------------------------------


def test_a_missing_signing_secret_names_socket_mode_as_the_other_way() -> None:
    env = {name: value for name, value in BASE.items() if name != "SLACK_SIGNING_SECRET"}
    with pytest.raises(ConfigError) as raised:
        load_settings(env)

    assert raised.value.problems == [
        "SLACK_SIGNING_SECRET is not set: the Signing Secret from the Slack app's Basic Information page, for HTTP "
        "mode; or, for Socket Mode, which needs neither it nor a public address, set SLACK_APP_TOKEN to an app-level "
        "token (xapp-…) instead."
    ]
    assert load_settings({**env, "SLACK_APP_TOKEN": "xapp-1-A0APP-4711"}).socket_mode


def test_one_setting_with_a_problem_is_counted_in_the_singular() -> None:
    with pytest.raises(ConfigError) as raised:
        settings(UNBLOCK_TIMEZONE="Europe/Atlantis")

    assert str(raised.value).startswith(
        "unblock-bot cannot start: 1 setting needs attention.\n  - UNBLOCK_TIMEZONE='Europe/Atlantis' is not a time "
        "zone this system knows: give an IANA name like Europe/Berlin, America/New_York or UTC (set in the "
        "environment)."
    )


# the SQLite file --------------------------------------------------------------------------------------------


def test_the_sqlite_file_is_named_by_its_absolute_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    here = Path.cwd()

    assert urls.where("sqlite:///unblock.db") == f"SQLite file {here / 'unblock.db'}"
    assert urls.where("sqlite:///var/lib/unblock-bot/unblock.db") == (
        f"SQLite file {here / 'var/lib/unblock-bot/unblock.db'}"
    )
    assert urls.where("sqlite:////var/lib/unblock-bot/unblock.db") == "SQLite file /var/lib/unblock-bot/unblock.db"
    assert urls.relative_folders("sqlite:///var/lib/unblock-bot/unblock.db") == (
        "sqlite:////var/lib/unblock-bot/unblock.db"
    )
    for url in ("sqlite:///unblock.db", "sqlite:////var/lib/unblock.db", "postgresql://db/unblock"):
        assert urls.relative_folders(url) is None


# the CA file ------------------------------------------------------------------------------------------------


def test_a_ca_file_holding_a_certificate_is_taken(tmp_path: Path) -> None:
    bundle = tmp_path / "acme-ca.pem"
    bundle.write_text(CA_PEM)

    assert settings(THREECX_CA_BUNDLE=str(bundle)).threecx_ca_bundle == str(bundle)


@pytest.mark.parametrize(
    "content",
    [b"not a certificate\n", CA_PEM.replace("MIIB", "XXXX").encode(), CA_PEM.encode()[:300]],
    ids=["text", "damaged", "cut"],
)
def test_a_ca_file_without_a_certificate_stops_the_bot_and_check_with_one_sentence(
    tmp_path: Path, content: bytes
) -> None:
    bundle = tmp_path / "acme-ca.crt"
    bundle.write_bytes(content)

    assert problems(THREECX_CA_BUNDLE=str(bundle)) == [
        f"THREECX_CA_BUNDLE={str(bundle)!r} holds no certificate that can be read; it should be a PEM file of the "
        "CA that signed 3CX's certificate (set in the environment)."
    ]
