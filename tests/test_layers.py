"""The import rules of docs/architecture.md hold: each layer imports only what it may."""

from __future__ import annotations

import ast
import functools
import re
import subprocess
import sys
from pathlib import Path

BOT = Path(__file__).resolve().parents[1] / "bot"

#: layer (a module, or a package with all it holds) -> the modules of the bot it may import
RULES: dict[str, tuple[str, ...]] = {
    "bot.storage.urls": (),
    "bot.domain": ("bot.domain.*", "bot.calls"),
    "bot.storage": (
        "bot.storage.*",
        "bot.domain.actions",
        "bot.domain.allows",
        "bot.domain.entries",
        "bot.domain.evidence",
        "bot.domain.model",
        "bot.domain.outcomes",
        "bot.domain.ports",
        "bot.threecx.tokens",
        "bot.calls",  # SQLite's one thread serves a decision's work first
    ),
    # 3CX parses into the domain's entries, and its errors are the domain's CallFailed
    "bot.threecx": (
        "bot.threecx.*",
        "bot.domain.entries",
        "bot.domain.evidence",
        "bot.domain.outcomes",
        "bot.calls",
        "bot.metrics",
        "bot.network",
    ),
    # the service owns a request's life: of the domain, the Slack layer sees the service and the values it
    # answers with, never deciding, carrying out or the policy
    "bot.slack": (
        "bot.slack.*",
        "bot.domain.requests",
        "bot.domain.model",
        "bot.domain.actions",
        "bot.domain.allowing",
        "bot.domain.allows",
        "bot.domain.allow_life",
        "bot.domain.entries",
        "bot.domain.evidence",
        "bot.domain.outcomes",
        "bot.domain.results",
        "bot.domain.ports",
        "bot.domain.lookup",
        "bot.domain.recurrence",
        "bot.domain.report",
        "bot.domain.reads",
        "bot.domain.rules",
        "bot.domain.watch",
        "bot.calls",
        "bot.tasks",
        "bot.metrics",
        "bot.network",
    ),
    "bot.config": (
        "bot.config.*",
        "bot.domain",
        "bot.domain.policy",
        "bot.domain.rules",  # the rules file is read into the domain's rules
        "bot.domain.entries",
        "bot.domain.lookup",
        "bot.domain.watch",
        "bot.storage",
        "bot.storage.urls",
        "bot.slack.ids",  # Slack's id patterns, which settings name
    ),
    "bot.calls": (),
    "bot.network": (),  # why a host could not be reached, for check, the start and the 3CX client
    "bot.tasks": ("bot.calls", "bot.metrics"),
    # counters and gauges, and how a transition counts
    "bot.metrics": (),  # plain values only: the observer of transitions is wired in ``app``
    "bot.logs": (),
}
#: third-party packages a layer must not import
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "bot.domain": ("aiohttp", "slack_bolt", "slack_sdk", "asyncpg", "sqlite3", "yarl"),
    "bot.storage": ("aiohttp", "slack_bolt", "slack_sdk"),
    "bot.threecx": ("slack_bolt", "slack_sdk", "asyncpg", "sqlite3"),
    "bot.slack": ("asyncpg", "sqlite3"),
}


@functools.cache
def modules() -> dict[str, Path]:
    found = {}
    for path in BOT.rglob("*.py"):
        parts = path.relative_to(BOT.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imports(name: str, path: Path) -> set[str]:
    """Every module ``name`` imports, relative imports resolved."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            submodules = {f"{base}.{alias.name}" for alias in node.names} & set(modules())
            found |= submodules or {base}  # ``from bot import calls`` imports bot.calls, not the package
    return found


def rule_for(name: str, table: dict[str, tuple[str, ...]]) -> tuple[str, ...] | None:
    layer = max((prefix for prefix in table if name == prefix or name.startswith(prefix + ".")), key=len, default=None)
    return table[layer] if layer is not None else None


def within(module: str, allowed: tuple[str, ...]) -> bool:
    """Whether ``module`` is one of ``allowed`` (``a.*``: ``a`` and everything in it)."""
    return any(module == a.removesuffix(".*") or (a.endswith(".*") and module.startswith(a[:-1])) for a in allowed)


def test_each_layer_imports_only_what_it_may() -> None:
    broken = []
    for name, path in sorted(modules().items()):
        allowed, forbidden = rule_for(name, RULES), rule_for(name, FORBIDDEN) or ()
        for module in sorted(imports(name, path)):
            if module.startswith("bot") and allowed is not None and not within(module, allowed):
                broken.append(f"{name} imports {module}")
            if module.split(".")[0] in forbidden:
                broken.append(f"{name} imports {module}")
    assert broken == []


def test_the_rules_cover_every_module_and_would_catch_a_broken_one() -> None:
    wiring = {"bot", "bot.__main__", "bot.app", "bot.served", "bot.server", "bot.check", "bot.check_threecx"}
    assert {name for name in modules() if rule_for(name, RULES) is None} == wiring
    assert not within("bot.slack.use_cases", RULES["bot.domain"])  # the domain may not reach the Slack layer
    # the Slack layer never reaches deciding or carrying out; the metrics know no request
    assert not within("bot.domain.execution", RULES["bot.slack"])
    assert not within("bot.domain.claims", RULES["bot.slack"])
    assert not within("bot.domain.policy", RULES["bot.slack"])
    assert not within("bot.domain.model", RULES["bot.metrics"])
    assert not within("bot.threecx.models", RULES["bot.domain"])
    assert not within("bot.threecx.client", RULES["bot.domain"])
    assert not within("bot.domain.model", RULES["bot.threecx"])  # 3CX knows the entries, not the requests


def test_the_domain_and_the_stores_load_without_slack_or_aiohttp() -> None:
    code = (
        "import sys, bot.domain.requests, bot.domain.execution, bot.domain.lookup, bot.domain.rules,"
        " bot.storage.opening, bot.storage.sqlite, bot.config;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('aiohttp', 'slack_bolt', 'slack_sdk')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"


#: words of other layers that the domain never uses, in code or in strings: Slack's, HTTP's, 3CX's field and
#: entity names, and the settings' names (the domain has its own words for all of them)
FOREIGN = re.compile(
    r"Slack|slack|message_ts|\bts\b|channel_id|HTTP|\b204\b|\b404\b|IPAddrMask|OData|\$filter|THREECX_|SLACK_|"
    r"UNBLOCK_(?!AND_ALLOW\b)|AutoBlacklist|XAPI|Blocklist(?!Entry)|ExpiresAt"
)


def foreign_words(source: str) -> list[tuple[int, str]]:
    """(line, word) for each foreign word in an identifier or a string literal of ``source`` (docstrings too;
    comments are not code)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        texts: list[str] = []
        if isinstance(node, ast.Name):
            texts = [node.id]
        elif isinstance(node, ast.Attribute):
            texts = [node.attr]
        elif isinstance(node, ast.arg):
            texts = [node.arg]
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            texts = [node.name]
        elif isinstance(node, ast.alias):
            texts = [node.name, node.asname or ""]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            texts = [node.value]
        found += [(getattr(node, "lineno", 0), m.group(0)) for text in texts for m in FOREIGN.finditer(text)]
    return found


def test_the_domain_speaks_its_own_words() -> None:
    spoken = [
        f"{path.relative_to(BOT.parent)}:{line}: {word}"
        for path in sorted((BOT / "domain").rglob("*.py"))
        for line, word in foreign_words(path.read_text(encoding="utf-8"))
    ]
    assert spoken == []


def test_the_word_check_would_catch_a_foreign_word() -> None:
    code = 'message_ts = 1\ndef f(ts: str) -> None:\n    """Posted in Slack."""\n    raise ValueError("HTTP 404")\n'
    assert [line for line, _ in foreign_words(code)] == [1, 2, 3, 4, 4]
    assert foreign_words('x = "a blocklist entry"  # Slack, in a comment\nBlocklistEntry = 1\n') == []


def test_the_domain_tests_import_only_the_domain_and_its_fakes() -> None:
    tests = Path(__file__).resolve().parent / "domain"
    broken = []
    for path in sorted(tests.rglob("*.py")):
        for module in imports(f"tests.domain.{path.stem}", path):
            if module.startswith(("bot", "tests")) and not within(module, ("bot.domain.*", "tests.domain.*")):
                broken.append(f"{path.name} imports {module}")
    assert broken == []
