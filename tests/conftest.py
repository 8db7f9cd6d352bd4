"""Shared fixtures: the fake video API, an HTTP session and a real store (each backend)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import inspect
import logging
import os
import shutil
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from bot.storage.store import SqlStore
from tests.fakes.fake_vibedream import FakeVibedream
from tests.fakes.secret_scan import SCAN, ScanningHandler
from tests.postgres_server import PostgresMissingError, PostgresServer

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
BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Which storage backend the test runs against (`@pytest.mark.backends("sqlite")` keeps
    a test that is about one backend to that one)."""
    backend: str = request.param
    return backend


def _run_aside(coroutine: Coroutine[Any, Any, None]) -> None:
    """Run `coroutine` to its end in a thread of its own: the test that first asks for a
    session fixture may be running an event loop already."""
    with concurrent.futures.ThreadPoolExecutor(1) as thread:
        thread.submit(asyncio.run, coroutine).result()


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database file brought to the current schema once for the whole run: each test's
    store starts from a copy (the migrations themselves are tested in
    `unit/storage/test_sqlite.py`, each on a file of its own)."""
    path = tmp_path_factory.mktemp("template") / "bot.db"

    async def migrate() -> None:
        async with await SqlStore.open(path):
            pass

    _run_aside(migrate())
    return path


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server for the whole run (one per xdist worker), stopped at its end.

    Without PostgreSQL on the machine its tests are skipped, with the reason; under CI
    (`CI` set) they fail instead: CI must run them."""
    try:
        server = PostgresServer()
    except PostgresMissingError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the PostgreSQL tests: {exc}")
        pytest.skip(str(exc))
    started = time.monotonic()
    with server:
        logging.getLogger(__name__).info(
            "PostgreSQL up in %.2f s at %s", time.monotonic() - started, server.root
        )
        yield server


@pytest.fixture(scope="session")
def migrated_postgresql(postgres_server: PostgresServer) -> str:
    """The URL of a database brought to the current schema once for the whole run (per
    worker): each test empties it first (`reset_postgresql`). Emptying takes some 10-50 ms;
    a database copied from a template took 300-700 ms here."""
    name = "bot_tests"
    postgres_server.psql("postgres", f"CREATE DATABASE {name}")
    url = postgres_server.url(name)

    async def migrate() -> None:
        async with await SqlStore.open(url):
            pass

    _run_aside(migrate())
    return url


#: Empties every table but the schema version and restarts every id counter, as if migrated
#: just now (foreign keys unchecked meanwhile: the order of the tables does not matter). First
#: it ends any session an earlier test left on the database: its bot-wide (advisory) locks and
#: LISTENs end with it, as they would with a process that stopped.
_RESET_POSTGRESQL = """
SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity
 WHERE datname = current_database() AND pid <> pg_backend_pid();
SET session_replication_role = replica;
DO $$ DECLARE t record; BEGIN
  FOR t IN SELECT tablename FROM pg_tables
           WHERE schemaname = 'public' AND tablename <> 'schema_version' LOOP
    EXECUTE format('DELETE FROM %I', t.tablename);
  END LOOP;
  FOR t IN SELECT sequencename FROM pg_sequences WHERE schemaname = 'public' LOOP
    EXECUTE format('ALTER SEQUENCE %I RESTART', t.sequencename);
  END LOOP;
END $$;
"""


async def reset_postgresql(url: str) -> None:
    """Empty the database at `url` (no other connection may be writing to it)."""
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(_RESET_POSTGRESQL)
    finally:
        await connection.close()


@pytest.fixture
async def database_target(
    request: pytest.FixtureRequest, backend: str, db_path: Path
) -> AsyncIterator[Path | str]:
    """The test's own freshly migrated database: a SQLite file, or a PostgreSQL URL."""
    if backend == "sqlite":
        yield _copy_of_migrated_sqlite(request, db_path)
        return
    url: str = request.getfixturevalue("migrated_postgresql")
    await reset_postgresql(url)
    yield url


def _copy_of_migrated_sqlite(request: pytest.FixtureRequest, db_path: Path) -> Path:
    if not db_path.exists():
        shutil.copyfile(request.getfixturevalue("migrated_sqlite"), db_path)
    return db_path


@pytest.fixture
def empty_postgresql(postgres_server: PostgresServer) -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database (not migrated), dropped after the test."""
    name = postgres_server.new_database_name("empty")
    postgres_server.psql("postgres", f"CREATE DATABASE {name}")
    yield postgres_server.url(name)
    postgres_server.psql("postgres", f"DROP DATABASE {name} WITH (FORCE)")


@pytest.fixture
def reopen(database_target: Path | str) -> Callable[[], AbstractAsyncContextManager[SqlStore]]:
    """Open another store on the test's database (as a restarted or second bot would)."""

    @contextlib.asynccontextmanager
    async def opened() -> AsyncIterator[SqlStore]:
        async with await SqlStore.open(database_target) as store:
            yield store

    return opened


@pytest.fixture
async def store(
    reopen: Callable[[], AbstractAsyncContextManager[SqlStore]],
) -> AsyncIterator[SqlStore]:
    """A migrated store on a fresh database, one per backend."""
    async with reopen() as opened:
        yield opened


def _keep_to_marked_backends(items: list[pytest.Item], config: pytest.Config) -> None:
    """Deselect the runs of a `@pytest.mark.backends(...)` test on other backends."""
    kept, dropped = [], []
    for item in items:
        marker = item.get_closest_marker("backends")
        callspec = getattr(item, "callspec", None)
        backend = callspec.params.get("backend") if callspec else None
        if marker is not None and backend is not None and backend not in marker.args:
            dropped.append(item)
        else:
            kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


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


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test under tests/e2e/ `e2e`: each starts the real bot process. Keep tests
    marked for some backends to those."""
    for item in items:
        if _E2E in item.path.parents:
            item.add_marker(pytest.mark.e2e)
    _keep_to_marked_backends(items, config)
