"""The documentation holds to the code: the README stays short and leads to every page of docs/, every link
reaches a file (and a heading), docs/configuration.md names exactly the settings the code reads, .env.example
names only settings the code knows and every required one, and docs/guarantees.md names tests that exist.
Files are only read: nothing here starts the bot or opens a connection."""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from bot.config import ConfigError, load_settings

from .processes import ROOT

README = ROOT / "README.md"
DOCS = ROOT / "docs"
CONFIGURATION = DOCS / "configuration.md"
GUARANTEES = DOCS / "guarantees.md"
ENV_EXAMPLE = ROOT / ".env.example"
CONFIG_PACKAGE = ROOT / "bot" / "config"
MAX_README_LINES = 200

#: a Markdown link's target: [text](target)
LINK = re.compile(r"\[(?:[^\]\[]|\[[^\]]*\])*\]\(([^)\s]+)\)")
#: a fenced code block, whose lines are neither links nor headings
FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.MULTILINE | re.DOTALL)
HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t]*#*[ \t]*$", re.MULTILINE)
#: a setting's name in the first cell of a table row: | `NAME` | …
TABLE_SETTING = re.compile(r"^\|\s*`([A-Z][A-Z0-9_]*)`\s*\|", re.MULTILINE)
#: a test named as tests/path.py::test_name (or tests/path.py::Class::test_name)
TEST_REFERENCE = re.compile(r"\b(tests/[\w/]+\.py)::([\w:]+)")
#: the shape of a setting's name with more than one word: UNBLOCK_RULES (HOST and PORT are found as read)
SETTING_SHAPE = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+")
#: a setting in .env.example, given or commented out: NAME=value or # NAME=value
ENV_LINE = re.compile(r"^#?[ \t]*([A-Z][A-Z0-9_]*)=", re.MULTILINE)


def pages() -> list[Path]:
    return sorted(DOCS.rglob("*.md"))


def prose(text: str) -> str:
    """``text`` without its fenced code blocks."""
    return FENCE.sub("", text)


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    found: set[str] = set()
    for heading in HEADING.findall(prose(path.read_text(encoding="utf-8"))):
        base, number = slug(heading), 0
        while (anchor := f"{base}-{number}" if number else base) in found:
            number += 1
        found.add(anchor)
    return found


def links(path: Path) -> list[str]:
    return LINK.findall(prose(path.read_text(encoding="utf-8")))


def broken_links(path: Path) -> list[str]:
    """The relative links of ``path`` whose file does not exist, or whose ``#anchor`` is no heading there."""
    broken = []
    for target in links(path):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
            continue
        file, _, anchor = target.partition("#")
        reached = (path.parent / file).resolve() if file else path
        if not reached.exists():
            broken.append(f"{target} (no such file)")
        elif anchor and (reached.suffix != ".md" or anchor not in anchors(reached)):
            broken.append(f"{target} (no such heading in {reached.name})")
    return broken


def test_the_readme_is_short_and_links_every_page_of_the_docs() -> None:
    text = README.read_text(encoding="utf-8")
    linked = {(ROOT / target.partition("#")[0]).resolve() for target in links(README)}

    assert len(text.splitlines()) <= MAX_README_LINES
    assert pages(), "docs/ holds no page"
    assert [page.relative_to(ROOT).as_posix() for page in pages() if page.resolve() not in linked] == []


def test_the_readme_gives_the_run_and_the_test_command_each_on_a_line_of_its_own() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()

    assert "python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/python -m bot" in lines
    assert "python3 -m venv .venv && .venv/bin/pip install -e '.[test]' && .venv/bin/python -m pytest" in lines


@pytest.mark.parametrize(
    "path", [README, ROOT / "CHANGELOG.md", *pages()], ids=lambda p: p.relative_to(ROOT).as_posix()
)
def test_every_relative_link_reaches_a_file_and_a_heading(path: Path) -> None:
    assert broken_links(path) == []


def test_a_link_to_a_missing_file_or_heading_is_found(tmp_path: Path) -> None:
    (tmp_path / "there.md").write_text("# A heading\n\n```sh\n# not a heading\n```\n")
    page = tmp_path / "page.md"
    page.write_text(
        "[ok](there.md) [ok](there.md#a-heading) [gone](missing.md) [no](there.md#not-a-heading) "
        "[web](https://example.com/x.md) [here](#nowhere)\n"
    )

    assert broken_links(page) == [
        "missing.md (no such file)",
        "there.md#not-a-heading (no such heading in there.md)",
        "#nowhere (no such heading in page.md)",
    ]


def test_the_paths_the_docs_name_exist() -> None:
    named = {
        match.rstrip("/")
        for path in [README, *pages()]
        for match in re.findall(r"`((?:bot|tests|deploy|bench)/[\w./-]+)`", path.read_text(encoding="utf-8"))
    }

    assert named and [name for name in sorted(named) if not (ROOT / name).exists()] == []


# --- the settings ---------------------------------------------------------------------------------------------


class Recording(Mapping[str, str]):
    """An empty environment that notes every variable the code looks up in it."""

    def __init__(self) -> None:
        self.asked: set[str] = set()

    def __getitem__(self, name: str) -> str:
        self.asked.add(name)
        raise KeyError(name)

    def __contains__(self, name: object) -> bool:
        if isinstance(name, str):
            self.asked.add(name)
        return False

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def settings_the_code_reads() -> set[str]:
    """Every variable ``load_settings`` looks up, when none is set (each problem is collected, not raised at the
    first, so every setting is read)."""
    environment = Recording()
    with pytest.raises(ConfigError):
        load_settings(environment)
    return environment.asked


def settings_named_in_the_code() -> set[str]:
    """The names in bot/config's source: the first item of each row of its table ``SETTINGS`` (``("PORT", …)``),
    and every string that has the shape of a setting's name (``UNBLOCK_RULES``)."""
    found = set()
    for path in sorted(CONFIG_PACKAGE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.AnnAssign) and ast.unparse(node.target) == "SETTINGS":
                assert isinstance(node.value, ast.Tuple)
                found |= {ast.literal_eval(row.elts[0]) for row in node.value.elts if isinstance(row, ast.Tuple)}
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and SETTING_SHAPE.fullmatch(node.value):
                found.add(node.value)
    return found


def documented(section: str | None = None) -> set[str]:
    """The settings configuration.md has a row for: all of them, or those of one ``## section``."""
    text = prose(CONFIGURATION.read_text(encoding="utf-8"))
    if section is not None:
        parts = re.split(r"^## ", text, flags=re.MULTILINE)
        [text] = [part for part in parts if part.splitlines()[0].strip() == section]
    return set(TABLE_SETTING.findall(text))


def test_the_settings_the_code_reads_are_found_both_ways_and_are_many() -> None:
    read = settings_the_code_reads()

    assert read == settings_named_in_the_code()
    assert len(read) >= 20 and {"THREECX_BASE_URL", "SLACK_BOT_TOKEN", "UNBLOCK_APPROVERS", "PORT"} <= read


def test_the_configuration_page_names_exactly_the_settings_the_code_reads() -> None:
    assert documented() == settings_the_code_reads()


def test_each_setting_is_in_one_group_and_the_groups_are_the_page() -> None:
    groups = [documented(name) for name in ("Required", "Common", "Advanced")]

    assert all(groups)
    assert sum(len(group) for group in groups) == len(set().union(*groups))
    assert set().union(*groups) == documented()


def test_the_example_settings_are_known_and_hold_every_required_one() -> None:
    given = ENV_LINE.findall(ENV_EXAMPLE.read_text(encoding="utf-8"))
    required = documented("Required")

    assert given and set(given) <= settings_the_code_reads()
    assert len(given) == len(set(given)), "a setting is in .env.example twice"
    assert required and required <= set(given)


# --- the guarantees -------------------------------------------------------------------------------------------


@functools.cache
def defined_tests(path: Path) -> frozenset[str]:
    """The test functions of a test file: ``test_x``, and ``TestClass::test_x`` for a class's methods (each file
    parsed once)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.ClassDef):
            names |= {
                f"{node.name}::{item.name}"
                for item in node.body
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)
            }
    return frozenset(names)


def missing_tests(text: str) -> list[str]:
    """The ``tests/….py::name`` references in ``text`` whose file or test does not exist."""
    missing = []
    for file, name in TEST_REFERENCE.findall(text):
        path = ROOT / file
        if not path.is_file() or name not in defined_tests(path):
            missing.append(f"{file}::{name}")
    return missing


def promise_rows() -> list[str]:
    """The rows of the promises table: each line of a table after its header and separator."""
    lines = prose(GUARANTEES.read_text(encoding="utf-8")).splitlines()
    table = [line for line in lines if line.startswith("|")]
    return [row for row in table[2:] if not re.fullmatch(r"\|[\s|:-]*", row)]


def test_every_test_the_guarantees_name_exists() -> None:
    text = GUARANTEES.read_text(encoding="utf-8")

    assert TEST_REFERENCE.findall(text)
    assert missing_tests(text) == []


def test_every_promise_names_a_test() -> None:
    rows = promise_rows()

    assert len(rows) >= 20
    assert [row[:80] for row in rows if not TEST_REFERENCE.search(row.split("|")[2])] == []


def test_a_test_that_does_not_exist_is_found() -> None:
    text = (
        "`tests/test_flow.py::test_ack_does_not_wait_for_a_slow_pbx` "
        "`tests/test_flow.py::test_no_such_test` `tests/test_no_such_file.py::test_x`"
    )

    assert missing_tests(text) == ["tests/test_flow.py::test_no_such_test", "tests/test_no_such_file.py::test_x"]


def test_the_reverse_proxy_example_limits_what_one_client_can_hold() -> None:
    """Anyone who reaches an HTTP-mode bot's address can open connections and send nothing: the install guide's
    nginx example gives each client a short time for its request, closes idle connections soon and caps the
    connections of one address, and the guide says that Socket Mode needs no open port."""
    install = (DOCS / "install.md").read_text(encoding="utf-8")
    [nginx] = re.findall(r"^```nginx\n(.*?)^```", install, re.MULTILINE | re.DOTALL)
    directives = dict(re.findall(r"^\s*(\w+)\s+([^;#]+);", nginx, re.MULTILINE))
    for limit in ("client_header_timeout", "client_body_timeout", "keepalive_timeout", "send_timeout"):
        seconds = directives[limit].strip().removesuffix("s")
        assert seconds.isdigit() and 0 < int(seconds) <= 30, (limit, directives[limit])
    assert "limit_conn" in directives and "limit_conn_zone" in directives
    assert "proxy_pass http://127.0.0.1:" in nginx
    assert "no open port" in prose(install)
