"""Shared fixtures: the fake video API, an HTTP session and a real SQLite store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot.store import SqliteStore
from tests.fakes.fake_vibedream import FakeVibedream

# Video API -------------------------------------------------------------------------------------


@pytest.fixture
async def fake_api() -> AsyncIterator[FakeVibedream]:
    """The fake video API, serving on 127.0.0.1 for one test."""
    async with FakeVibedream() as server:
        yield server


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


@pytest.fixture
async def store(db_path: Path) -> AsyncIterator[SqliteStore]:
    """A migrated SQLite store on a fresh file."""
    async with await SqliteStore.open(db_path) as opened:
        yield opened
