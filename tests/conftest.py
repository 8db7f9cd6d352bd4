"""Shared fixtures: the fake video API, an HTTP session and a real store (each backend)."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import shutil
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import aiohttp
import pytest

from bot.storage.store import SqlStore
from tests.fakes.fake_vibedream import FakeVibedream
from tests.fakes.secret_scan import SCAN, ScanningHandler

# Secrets ---------------------------------------------------------------------------------------

#: Our own loggers; their records are scanned for secrets at every level.
OWN_LOGGERS = ("bot", "cogs")
#: The key every FakeVibedream() without arguments expects, watched from the first test on.
SCAN.add_secret(
    "VIBEDREAM_API_KEY (unit tests)",
    inspect.signature(FakeVibedream).parameters["api_key"].default,
)


@pytest.fixture(scope="session", autouse=True)
def no_secret_leaks_in_the_whole_suite() -> Iterator[None]:
    """Fail the run if a secret value appeared in any log line or any message sent.

    `tests/fakes/secret_scan.py` collects as the suite runs; this checks the total at the end.
    """
    handler = ScanningHandler(SCAN)
    loggers = [logging.getLogger(name) for name in OWN_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
    yield
    for logger, level in zip(loggers, levels, strict=True):
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert SCAN.leaks == [], f"secrets leaked:\n{SCAN.report()}"


# Video API -------------------------------------------------------------------------------------


@pytest.fixture
async def fake_api() -> AsyncIterator[FakeVibedream]:
    """The fake video API, serving on 127.0.0.1 for one test."""
    async with FakeVibedream() as server:
        SCAN.add_secret("VIBEDREAM_API_KEY (unit tests)", server.api_key)
        yield server
        SCAN.scan_bodies("fake video API", server.requests)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain aiohttp session, closed after the test."""
    async with aiohttp.ClientSession() as session:
        yield session


# Storage ---------------------------------------------------------------------------------------


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """Where the test's SQLite database lives."""
    return tmp_path / "bot.db"


#: The storage backends the `store` fixture runs each test against.
BACKENDS = ("sqlite",)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Which storage backend the test runs against."""
    backend: str = request.param
    return backend


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database file brought to the current schema once for the whole run: each test's
    store starts from a copy (the migrations themselves are tested in
    `unit/storage/test_sqlite.py`, each on a file of its own)."""
    path = tmp_path_factory.mktemp("template") / "bot.db"

    async def migrate() -> None:
        async with await SqlStore.open(path):
            pass

    asyncio.run(migrate())
    return path


@pytest.fixture
def reopen(
    backend: str, db_path: Path, migrated_sqlite: Path
) -> Callable[[], AbstractAsyncContextManager[SqlStore]]:
    """Open another store on the test's database (as a restarted or second bot would)."""
    if not db_path.exists():
        shutil.copyfile(migrated_sqlite, db_path)

    @contextlib.asynccontextmanager
    async def opened() -> AsyncIterator[SqlStore]:
        assert backend == "sqlite"
        async with await SqlStore.open(db_path) as store:
            yield store

    return opened


@pytest.fixture
async def store(
    reopen: Callable[[], AbstractAsyncContextManager[SqlStore]],
) -> AsyncIterator[SqlStore]:
    """A migrated store on a fresh database, one per backend."""
    async with reopen() as opened:
        yield opened


# Tiers -----------------------------------------------------------------------------------------

#: Workers for the fast tier (`-m "not e2e"`): its tests are independent and short, and two
#: processes keep both cores of a small machine busy. The e2e tier runs in one process: each
#: of its tests starts a bot process and fakes that answer within Discord's deadlines.
FAST_TIER_WORKERS = 2


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    """Run the fast tier on two workers unless told otherwise (`-n 0` keeps one process)."""
    selects_fast_tier = config.option.markexpr.strip() == "not e2e"
    is_worker = hasattr(config, "workerinput")
    if selects_fast_tier and not is_worker and config.option.numprocesses is None:
        config.option.numprocesses = FAST_TIER_WORKERS


_E2E = Path(__file__).resolve().parent / "e2e"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test under tests/e2e/ `e2e`: each starts the real bot process."""
    for item in items:
        if _E2E in item.path.parents:
            item.add_marker(pytest.mark.e2e)
