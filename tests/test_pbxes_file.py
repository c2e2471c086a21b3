"""The PBXes file (``UNBLOCK_PBXES``): what each ``[[pbx]]`` gives and what it takes from the settings, and each
problem as one line naming the PBX and the key, all of them at once, never with a secret in it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.__main__ import main
from bot.config import SETTINGS, ConfigError, Settings, load_settings
from bot.config.pbxes import KEYS, RESERVED
from bot.domain.rules import Approvers
from bot.domain.watch import WatchRules
from bot.slack.command_text import InvalidCommand, ListEntries, ShowHelp, ShowHistory, ShowReport, parse_command

from .processes import ROOT

ACME_SECRET = "acme-3cx-secret-7f3a"
GLOBEX_SECRET = "globex-3cx-secret-91bd"
BASE = {
    "SLACK_BOT_TOKEN": "xoxb-pbxes-test-token",
    "SLACK_SIGNING_SECRET": "pbxes-test-signing-secret",
    "UNBLOCK_APPROVERS": "UBOB,SHELPDESK",
    "ACME_SECRET": ACME_SECRET,
}
#: a PBX without problems, to put a broken one beside
FINE = """\
[[pbx]]
name = "fine"
url = "https://pbx.fine.test"
client_id = "unblock-bot"
client_secret_env = "ACME_SECRET"
"""
THREE = """\
[[pbx]]
name = "acme"
url = "https://pbx.acme.test/"
client_id = "unblock-acme"
client_secret_env = "ACME_SECRET"
channels = ["C0ACME1", "C0ACME2"]
approvers = ["U0ACME1", "S0ACMEOPS"]
approval_channel = "C0ACMEAPPROVE"
watch_channel = "C0ACMEWATCH"
watch_added_by = ["AutoBlacklist", "Admin"]
connect_teams = ["T0ACMECORP"]

[[pbx]]
name = "globex-2"
url = "https://pbx.globex.test:5001"
client_id = "unblock-globex"
client_secret_file = "globex.secret"
channels = ["C0GLOBEX"]
rules = "globex-rules.toml"
watch_channel = false

[[pbx]]
name = "initech"
url = "https://pbx.initech.test"
client_id = "unblock-initech"
client_secret_env = "INITECH_SECRET"
approvers = "*"
"""
#: its rule takes the approvers of the PBX it is read for
GLOBEX_RULES = '[[rule]]\nname = "Wide networks"\nwider_than = 24\napprovals = 2\n'


def write(tmp_path: Path, text: str, name: str = "pbxes.toml") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def settings(tmp_path: Path, text: str, **env: str) -> Settings:
    (tmp_path / "globex.secret").write_text(f"  {GLOBEX_SECRET}\n", encoding="utf-8")
    write(tmp_path, GLOBEX_RULES, "globex-rules.toml")
    return load_settings({**BASE, "UNBLOCK_PBXES": write(tmp_path, text), **env})


def problems(tmp_path: Path, text: str, **env: str) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        settings(tmp_path, text, **env)
    assert all("\n" not in problem for problem in raised.value.problems)
    return raised.value.problems


@pytest.fixture(autouse=True)
def _relative_paths_from(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The paths the files give are read from the working directory."""
    monkeypatch.chdir(tmp_path)


def test_three_pbxes_each_give_their_own_and_take_the_rest_from_the_settings(tmp_path: Path) -> None:
    read = settings(
        tmp_path,
        THREE,
        INITECH_SECRET=" initech-secret ",
        UNBLOCK_APPROVAL_CHANNEL="C0APPROVE",
        UNBLOCK_WATCH_CHANNEL="C0WATCH",
        UNBLOCK_WATCH_INTERVAL="2m",
        UNBLOCK_WATCH_BURST="9",
        UNBLOCK_ALLOW_DURATIONS="1h",
    )
    acme, globex, initech = read.pbxes

    assert [pbx.name for pbx in read.pbxes] == ["acme", "globex-2", "initech"]
    assert (acme.url, acme.client_id, acme.client_secret.reveal()) == (
        "https://pbx.acme.test",
        "unblock-acme",
        ACME_SECRET,
    )
    assert acme.channels == {"C0ACME1", "C0ACME2"} and acme.connect_teams == {"T0ACMECORP"}
    assert acme.rules.rules == () and acme.rules.default.approvers == Approvers(
        users=frozenset({"U0ACME1"}), groups=frozenset({"S0ACMEOPS"})
    )
    assert acme.rules.default.allow == (3600.0,)
    assert acme.approval_channel == "C0ACMEAPPROVE"
    assert acme.watch == WatchRules("C0ACMEWATCH", 120.0, frozenset({"AutoBlacklist", "Admin"}), 9)
    assert (globex.url, globex.client_secret.reveal(), globex.channels) == (
        "https://pbx.globex.test:5001",
        GLOBEX_SECRET,
        frozenset({"C0GLOBEX"}),
    )
    [wide] = globex.rules.rules
    assert (wide.name, wide.approvals) == ("Wide networks", 2)
    assert globex.rules.default.approvers == read.rules.default.approvers
    assert globex.watch is None and globex.approval_channel == "C0APPROVE"
    assert initech.rules.default.approvers == Approvers(anyone=True)
    assert initech.client_secret.reveal() == "initech-secret"
    assert initech.watch == WatchRules("C0WATCH", 120.0, frozenset({"AutoBlacklist"}), 9)
    assert initech.channels == frozenset() and initech.connect_teams == frozenset()
    assert read.pbxes_file == str(tmp_path / "pbxes.toml")
    assert read.channels is None and read.threecx_base_url == ""


def test_every_pbxs_secret_is_masked_in_the_log(tmp_path: Path) -> None:
    secrets = settings(tmp_path, THREE, INITECH_SECRET="initech-secret").secrets()

    assert {ACME_SECRET, GLOBEX_SECRET, "initech-secret"} <= set(secrets)


def test_without_the_file_there_is_one_pbx_named_nothing_made_of_the_threecx_settings() -> None:
    env = {
        **BASE,
        "THREECX_BASE_URL": "https://pbx.acme.test",
        "THREECX_CLIENT_ID": "unblock-bot",
        "THREECX_CLIENT_SECRET": "one-pbx-secret",
        "UNBLOCK_CHANNELS": "C0HELP",
        "UNBLOCK_WATCH_CHANNEL": "C0WATCH",
    }

    read = load_settings(env)
    [pbx] = read.pbxes

    assert (pbx.name, pbx.url, pbx.client_id, pbx.client_secret.reveal()) == (
        "",
        "https://pbx.acme.test",
        "unblock-bot",
        "one-pbx-secret",
    )
    assert pbx.rules == read.rules and pbx.watch == read.watch and read.pbxes_file is None
    assert read.secrets().count("one-pbx-secret") == 1


def test_a_pbx_that_gives_its_approvers_reads_the_settings_rules_with_them(tmp_path: Path) -> None:
    rules = write(tmp_path, '[[rule]]\nname = "Two"\nwider_than = 24\napprovals = 2\n', "rules.toml")
    pbxes = f'{FINE}approvers = ["U0ONLY"]\n\n{FINE.replace("fine", "other")}'

    found = problems(tmp_path, pbxes, UNBLOCK_RULES=rules, UNBLOCK_APPROVERS="S0GROUP")

    assert found == [
        f'UNBLOCK_PBXES={str(tmp_path / "pbxes.toml")!r}: [[pbx]] 1 "fine": UNBLOCK_RULES={rules!r}, read with '
        "this PBX's approvers: rule 1 \"Two\": approvals is 2, but the PBX's list of approvers names only 1 user and "
        "no user group, so no request could be approved."
    ]
    [two] = settings(tmp_path, pbxes.replace('["U0ONLY"]', '["U0A", "U0B"]'), UNBLOCK_RULES=rules).pbxes[0].rules.rules
    assert two.approvers == Approvers(users=frozenset({"U0A", "U0B"}))


def test_approvers_are_needed_only_where_a_pbx_gives_none(tmp_path: Path) -> None:
    given = f'{FINE}approvers = ["U0ONE"]\n'
    env = {**BASE, "UNBLOCK_PBXES": write(tmp_path, given)}
    del env["UNBLOCK_APPROVERS"]

    assert [pbx.name for pbx in load_settings(env).pbxes] == ["fine"]
    env["UNBLOCK_PBXES"] = write(tmp_path, f"{given}\n{FINE.replace('fine', 'bare')}")
    with pytest.raises(ConfigError) as raised:
        load_settings(env)
    assert raised.value.problems == [
        f"UNBLOCK_APPROVERS is not set, and UNBLOCK_PBXES={env['UNBLOCK_PBXES']!r} has PBXes that give no approvers "
        'of their own ([[pbx]] 2 "bare"): set it, or give each of them approvers.'
    ]


def test_the_threecx_settings_and_the_channels_must_be_unset_beside_the_file(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        FINE,
        THREECX_BASE_URL="not even a url",
        THREECX_CLIENT_SECRET="the-old-secret",
        UNBLOCK_CHANNELS="C0OLD",
    )

    assert found == [
        "THREECX_BASE_URL, THREECX_CLIENT_SECRET, UNBLOCK_CHANNELS are set, but with UNBLOCK_PBXES, each PBX gives "
        "its own url, client_id, client secret, ca_bundle and channels in the file: unset them."
    ]


def test_without_the_file_the_threecx_settings_are_required_as_ever() -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(BASE)

    assert [problem.split(" ")[0] for problem in raised.value.problems] == [
        "THREECX_BASE_URL",
        "THREECX_CLIENT_ID",
        "THREECX_CLIENT_SECRET",
    ]


def second(keys: dict[str, str | None]) -> str:
    """A second ``[[pbx]]``, "b", without problems but for ``keys`` (None: left out), after a fine one."""
    table = {"name": '"b"', "url": '"https://pbx.b.test"', "client_id": '"b"', "client_secret_env": '"ACME_SECRET"'}
    return (
        FINE
        + 'channels = ["C0FINE"]\n\n[[pbx]]\n'
        + "".join(f"{key} = {value}\n" for key, value in {**table, **keys}.items() if value)
    )


BY_FILE = {"client_secret_env": None, "client_secret_file": '"globex.secret"'}
#: what a second [[pbx]] table changes, and the problem said of it (after ``UNBLOCK_PBXES='…': ``)
BROKEN: list[tuple[dict[str, str | None], str]] = [
    ({"name": None}, "[[pbx]] 2: name is missing: every PBX needs one"),
    ({"name": '"Acme"'}, '[[pbx]] 2: name = "Acme" should be what people type after /unblock'),
    ({"name": '"a-name-of-twenty-five-chr"'}, '[[pbx]] 2: name = "a-name-of-twenty-five-chr" should be what'),
    ({"name": '"9lives"'}, '[[pbx]] 2: name = "9lives" should be what people type'),
    ({"name": '"history"'}, '[[pbx]] 2: name = "history" is a word /unblock gives a meaning to'),
    ({"name": '"fine"'}, '[[pbx]] 2 "fine": name "fine" is also [[pbx]] 1 "fine"\'s: each PBX needs a name of its'),
    ({"url": '"https://pbx.fine.test/"'}, 'url "https://pbx.fine.test" is also [[pbx]] 1 "fine"\'s: a PBX is served'),
    ({"url": None}, '[[pbx]] 2 "b": url is missing'),
    ({"client_id": None}, '[[pbx]] 2 "b": client_id is missing'),
    ({"url": '"https://pbx.b.test/xapi/v1"'}, 'url = "https://pbx.b.test/xapi/v1" should be the PBX\'s root address'),
    ({"url": '"https://pbx.example.com"'}, '[[pbx]] 2 "b": url = "https://pbx.example.com" is still the example'),
    ({"client_id": '""'}, '[[pbx]] 2 "b": client_id = "" is empty'),
    ({"client_id": "42"}, '[[pbx]] 2 "b": client_id = 42 should be text in quotes'),
    ({**BY_FILE, "client_secret_file": '"nowhere"'}, "client_secret_file names a file that cannot be read"),
    ({**BY_FILE, "client_secret_file": '"empty.secret"'}, '"b": client_secret_file names an empty file'),
    ({"client_secret_env": '"UNSET_SECRET"'}, "client_secret_env names an environment variable that is not set"),
    ({"client_secret_env": '"not a name"'}, "client_secret_env should be the name of an environment variable"),
    ({"client_secret_env": None}, "give exactly one of client_secret_file and client_secret_env (got 0)"),
    ({"client_secret_file": '"globex.secret"'}, "give exactly one of client_secret_file and client_secret_env (got 2)"),
    ({"ca_bundle": '"nowhere.pem"'}, '[[pbx]] 2 "b": ca_bundle = "nowhere.pem" is not a readable file'),
    ({"channels": '"C0B"'}, '[[pbx]] 2 "b": channels = "C0B" should be a list of texts in quotes'),
    ({"channels": '["C0B", "general"]'}, 'channels = ["C0B", "general"] has "general", which should be a channel id'),
    ({"channels": '["C0B", "C0FINE"]'}, '"b": channels "C0FINE" is also [[pbx]] 1 "fine"\'s: in a channel, /unblock'),
    ({"approvers": "[]"}, '[[pbx]] 2 "b": approvers = [] should be a list of user ids and user-group ids'),
    ({"approvers": '["U0A", "bob"]'}, 'approvers = ["U0A", "bob"] has items that are neither user ids'),
    ({"approvers": '["U0123456789"]'}, "still holds the example ids from .env.example (U0123456789)"),
    ({"approval_channel": '"#approvals"'}, 'approval_channel = "#approvals" should be a channel id'),
    ({"watch_channel": "true"}, "watch_channel = true should be a channel id in quotes, or false for no watching"),
    ({"watch_added_by": "[]"}, "watch_added_by = [] should be a list of AddedBy values"),
    ({"rules": '"nowhere.toml"'}, '[[pbx]] 2 "b": rules = "nowhere.toml": the file cannot be read'),
    ({"rules": '"globex-rules.toml"', "approvers": '["U0ONE"]'}, 'rules = "globex-rules.toml": rule 1 "Wide'),
    ({"connect_teams": '["acme"]'}, 'connect_teams = ["acme"] has "acme", which should be a workspace id'),
    ({"rulez": '"x.toml"'}, '"b": "rulez" is not a key of a [[pbx]] (did you mean rules?); the keys are name, url'),
    ({"client_secret_env": None, "client_secret": '"x"'}, "client_secret must not be in the file: give client_secr"),
]


@pytest.mark.parametrize(("keys", "said"), BROKEN, ids=[said[:50] for _, said in BROKEN])
def test_each_problem_is_one_line_naming_the_pbx_and_the_key(
    tmp_path: Path, keys: dict[str, str | None], said: str
) -> None:
    (tmp_path / "empty.secret").write_text(" \n", encoding="utf-8")

    found = problems(tmp_path, second(keys))

    assert len(found) == 1, found
    assert found[0].startswith(f"UNBLOCK_PBXES={str(tmp_path / 'pbxes.toml')!r}: ")
    assert said in found[0] and found[0].endswith(".")


def test_the_names_no_pbx_may_have_are_the_words_the_command_reads_first() -> None:
    assert {type(parse_command(word)) for word in RESERVED - {"number"}} == {
        ShowHelp,
        ListEntries,
        ShowHistory,
        ShowReport,
    }
    with pytest.raises(InvalidCommand, match="Which number"):
        parse_command("number")


def test_every_problem_of_a_file_is_listed_at_once(tmp_path: Path) -> None:
    text = (
        f'{FINE}\n[[pbx]]\nname = "Acme"\nurl = 7\nclient_id = "a"\nchannels = ["x"]\n\n'
        '[[pbx]]\nname = "fine"\nurl = "https://pbx.c.test"\nclient_id = "c"\nclient_secret_env = "ACME_SECRET"\n'
        "surprise = true\n"
    )

    found = problems(tmp_path, text, THREECX_CLIENT_ID="old")

    assert len(found) == 7, found
    assert [problem.split(": ", 2)[1] for problem in found[1:]] == [
        "[[pbx]] 2",
        "[[pbx]] 2",
        "[[pbx]] 2",
        "[[pbx]] 2",
        '[[pbx]] 3 "fine"',
        '[[pbx]] 3 "fine"',
    ]


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("", "the file holds no PBX: write one [[pbx]] table for each PBX the bot serves."),
        ('name = "acme"\n', '"name" is not known at the top of the file, which holds only [[pbx]].'),
        ("[pbx]\nname = 'acme'\n", "pbx must be written as [[pbx]] tables (with two brackets), one per PBX."),
        ('[[pbx]]\nname = "acme\n', "the file is not valid TOML: "),
    ],
)
def test_a_file_that_holds_no_pbx_tables_is_one_problem(tmp_path: Path, text: str, said: str) -> None:
    found = problems(tmp_path, text)

    assert found[0].startswith(f"UNBLOCK_PBXES={str(tmp_path / 'pbxes.toml')!r}: {said}")
    assert len(found) == 1 or "is not known" in found[0]


def test_a_missing_file_is_one_problem(tmp_path: Path) -> None:
    env = {**BASE, "UNBLOCK_PBXES": str(tmp_path / "nowhere.toml")}

    with pytest.raises(ConfigError) as raised:
        load_settings(env)

    assert raised.value.problems == [
        f"UNBLOCK_PBXES={env['UNBLOCK_PBXES']!r}: the file cannot be read (No such file or directory)."
    ]


def test_no_problem_repeats_a_secret(tmp_path: Path) -> None:
    (tmp_path / "pasted.secret").write_text("FILE_SECRET_VALUE", encoding="utf-8")
    text = (
        '[[pbx]]\nname = "a"\nurl = "https://pbx.a.test"\nclient_id = "a"\nclient_secret = "INLINE_SECRET_VALUE"\n\n'
        '[[pbx]]\nname = "b"\nurl = "https://pbx.b.test"\nclient_id = "b"\nclient_secret_env = "PASTED SECRET"\n\n'
        '[[pbx]]\nname = "c"\nurl = "https://pbx.c.test"\nclient_id = "c"\nclient_secret_file = "PASTED_FILE_VALUE"\n\n'
        '[[pbx]]\nname = "d"\nurl = "https://pbx.d.test"\nclient_id = "d"\nclient_secret_file = "pasted.secret"\n'
        'client_secret_env = "ACME_SECRET"\n'
    )

    found = "\n".join(problems(tmp_path, text, THREECX_CLIENT_SECRET="ENV_SECRET_VALUE"))

    assert "client_secret must not be in the file" in found and "give exactly one of" in found
    assert "client_secret_env should be" in found and "client_secret_file names a file that cannot be read" in found
    for secret in ("INLINE_SECRET", "PASTED SECRET", "PASTED_FILE", "FILE_SECRET", ACME_SECRET, "ENV_SECRET"):
        assert secret not in found


def test_a_pbxs_own_rules_are_checked_against_the_settings_naming_the_pbx(tmp_path: Path) -> None:
    write(tmp_path, '[[rule]]\nname = "Slow"\nkind = "ip"\nremind_after = "1h"\n', "slow.toml")

    found = problems(tmp_path, f'{FINE}rules = "slow.toml"\n', UNBLOCK_REQUEST_TTL="30m")

    assert found == [
        f'UNBLOCK_PBXES={str(tmp_path / "pbxes.toml")!r}: [[pbx]] 1 "fine": rules = "slow.toml": rule 1 "Slow": '
        "remind_after (1h) is not shorter than UNBLOCK_REQUEST_TTL (30m), so it would never happen: requests expire "
        "first. Make it shorter, or the time to live longer."
    ]


def test_a_bad_file_stops_the_bot_with_status_2_and_every_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, *_ in SETTINGS:
        monkeypatch.delenv(name, raising=False)
    for name, value in {**BASE, "UNBLOCK_PBXES": write(tmp_path, f'{FINE}\n[[pbx]]\nname = "fine"\n')}.items():
        monkeypatch.setenv(name, value)

    assert main(["check"]) == 2
    printed = capsys.readouterr().err
    assert "4 settings need attention" in printed and '[[pbx]] 2 "fine": url is missing' in printed
    assert ACME_SECRET not in printed


def test_the_settings_page_explains_every_key_of_a_pbx_in_order() -> None:
    page = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    section = page.split("### The PBXes file", 1)[1].split("\n## ", 1)[0]

    assert re.findall(r"^\| `([a-z_]+)` \|", section, re.MULTILINE) == list(KEYS)
    assert all(f"`{word}`" in section for word in RESERVED)


@pytest.mark.parametrize(("lacking", "more"), [(5, ""), (6, " and 1 more")])
def test_the_pbxes_that_give_no_approvers_are_named_up_to_five(tmp_path: Path, lacking: int, more: str) -> None:
    tables = [FINE.replace("fine", f"a{n}") + "\n" for n in range(1, lacking + 1)]
    env = {**BASE, "UNBLOCK_PBXES": write(tmp_path, "".join(tables))}
    del env["UNBLOCK_APPROVERS"]
    with pytest.raises(ConfigError) as raised:
        load_settings(env)
    [problem] = raised.value.problems
    labels = ", ".join(f'[[pbx]] {n} "a{n}"' for n in range(1, 6))
    assert f"({labels}{more}): set it" in problem
