from __future__ import annotations

import compileall
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from bot.calls import Lane
from bot.storage.contract import Store
from bot.storage.opening import open_store
from bot.tasks import Limits
from bot.threecx.retry import RetryPolicy

from .fakes.openapi_check import check_against_spec, sent_by_the_bot
from .fakes.slack import FakeSlack
from .fakes.threecx import FakeThreeCX
from .harness import FAST_RETRY, Harness, base_env
from .pbxes import serving_both
from .postgres import PostgresServer, running_server
from .processes import ROOT, BotProcess

MakeHarness = Callable[..., Awaitable[Harness]]
NewStore = Callable[[], Awaitable[Store]]
#: a test file (``test_*.py``) or a ``conftest.py``, which pytest compiles itself
TEST_FILE = re.compile(r"[/\\](test_[^/\\]*|conftest)\.py$")


def pytest_configure(config: pytest.Config) -> None:
    """Once, before pytest-xdist starts its processes: the bytecode of the bot, the benchmark and the tests' own
    modules, which each of those processes, and each bot process the tests start, would otherwise compile again
    where the environment forbids writing it (``PYTHONDONTWRITEBYTECODE``). Not the test files and conftest.py:
    pytest rewrites their asserts as it imports them."""
    if not hasattr(config, "workerinput"):
        for folder in ("bot", "bench", "tests"):
            compileall.compile_dir(ROOT / folder, quiet=1, rx=TEST_FILE)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Each process of the suite begins with its share of the tests marked ``long`` (``@pytest.mark.long(seconds)``),
    the longest first, so that none is left running one alone at the end. pytest-xdist's worksteal hands each
    process a run of this order to begin with (what is left, shared equally among the processes yet to get theirs):
    the long tests are put at the beginning of those runs, in turn."""
    long = sorted((item for item in items if item.get_closest_marker("long")), key=_seconds, reverse=True)
    if not long:
        return
    rest = [item for item in items if not item.get_closest_marker("long")]
    workers = int(getattr(config, "workerinput", {}).get("workercount", 1))
    ordered: list[pytest.Item] = []
    for worker in range(workers):
        first = long[worker::workers]
        size = (len(items) - len(ordered)) // (workers - worker) - len(first)
        ordered += first + rest[:size]
        rest = rest[size:]
    items[:] = ordered + rest


def _seconds(item: pytest.Item) -> float:
    marker = item.get_closest_marker("long")
    return float(marker.args[0]) if marker is not None and marker.args else 0.0


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    fake = FakeSlack()
    await fake.start()
    fake.usergroups["SHELPDESK"] = ["UDAVE"]
    yield fake
    await fake.close()
    # every message the bot sent in the test kept Slack's limits
    assert fake.violations == [], fake.violations


async def threecx(address: str) -> AsyncIterator[FakeThreeCX]:
    """A fake 3CX whose entry 42 blocks ``address``; at its end, every request the bot sent it is one 3CX's OpenAPI
    document allows."""
    fake = FakeThreeCX()
    await fake.start()
    fake.add_entry(42, address)
    yield fake
    await fake.close()
    assert check_against_spec(sent_by_the_bot(fake.requests)) == []


@pytest.fixture
async def pbx() -> AsyncIterator[FakeThreeCX]:
    async for fake in threecx("203.0.113.7"):
        yield fake


@pytest.fixture
async def beta() -> AsyncIterator[FakeThreeCX]:
    """A second PBX (entry 42 blocks 198.51.100.9), beside ``pbx``."""
    async for fake in threecx("198.51.100.9"):
        yield fake


@pytest.fixture
async def make_harness(slack: FakeSlack, pbx: FakeThreeCX, tmp_path: Path) -> AsyncIterator[MakeHarness]:
    """Start the bot with the base settings changed by ``overrides`` (a value of None removes a variable)."""
    started: list[Harness] = []

    async def make(
        *, limits: dict[Lane, Limits] | None = None, retry: RetryPolicy = FAST_RETRY, **overrides: str | None
    ) -> Harness:
        env = base_env(slack, pbx, str(tmp_path / "unblock.db"))
        for name, value in overrides.items():
            if value is None:
                env.pop(name, None)
            else:
                env[name] = value
        harness = Harness(slack, pbx, env, limits=limits, retry=retry)
        await harness.start()
        started.append(harness)
        return harness

    yield make
    for harness in started:
        await harness.close()


@pytest.fixture
async def harness(make_harness: MakeHarness) -> Harness:
    return await make_harness()


@pytest.fixture
async def fleet(make_harness: MakeHarness, pbx: FakeThreeCX, beta: FakeThreeCX, tmp_path: Path) -> Harness:
    """The bot serving two PBXes, acme (``pbx``) and beta (``tests/pbxes.py``)."""
    return await serving_both(make_harness, pbx, beta, tmp_path)


@pytest.fixture
async def processes() -> AsyncIterator[list[BotProcess]]:
    """Bot processes a test starts; killed (and their drivers closed) at its end."""
    started: list[BotProcess] = []
    yield started
    for process in started:
        process.kill()
        if process.proc is not None:
            await process.proc.wait()
        if process.driver is not None:
            await process.driver.close()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the whole test session."""
    yield from running_server("the tests of the shared store")


@pytest.fixture
async def database_url(postgres: PostgresServer) -> str:
    """A fresh, empty database."""
    return await postgres.new_database()


@pytest.fixture(params=["sqlite", "postgres"])
async def new_store(
    request: pytest.FixtureRequest, postgres: PostgresServer, tmp_path: Path
) -> AsyncIterator[NewStore]:
    """Opens stores on one fresh database of each kind (several stores: several processes)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'unblock.db'}"
    else:
        url = await postgres.new_database()
    opened: list[Store] = []

    async def new() -> Store:
        store = await open_store(url)
        opened.append(store)
        return store

    yield new
    for store in opened:
        await store.close()


@pytest.fixture
async def store(new_store: NewStore) -> Store:
    return await new_store()
