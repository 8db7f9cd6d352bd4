"""End-to-end fixtures: the real bot process against the fake Discord and the fake video API.

The harness itself lives in `tests/fakes/harness.py` (the benchmark uses it too); the names
re-exported below are what the e2e tests import from here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.fakes.discord import FakeDiscord
from tests.fakes.fake_vibedream import FakeVibedream
from tests.fakes.harness import (
    API_KEY,
    ATTACHMENT,
    BOOLEAN,
    DISCORD_TOKEN,
    INTEGER,
    STRING,
    BotProcess,
    BotRunner,
    animate_interaction,
    is_clip_post,
    png_bytes,
    progress_texts,
    wait_until,
)
from tests.fakes.secret_scan import SCAN

SCAN.add_secret("DISCORD_TOKEN", DISCORD_TOKEN)
SCAN.add_secret("VIBEDREAM_API_KEY", API_KEY)

__all__ = [
    "API_KEY",
    "ATTACHMENT",
    "BOOLEAN",
    "DISCORD_TOKEN",
    "INTEGER",
    "STRING",
    "BotProcess",
    "BotRunner",
    "animate_interaction",
    "is_clip_post",
    "png_bytes",
    "progress_texts",
    "wait_until",
]


@pytest.fixture
async def discord_fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord(DISCORD_TOKEN) as fake:
        yield fake
        SCAN.scan_bodies("fake Discord", fake.requests)


@pytest.fixture
async def video_api() -> AsyncIterator[FakeVibedream]:
    async with FakeVibedream(API_KEY) as fake:
        yield fake
        SCAN.scan_bodies("fake video API", fake.requests)


@pytest.fixture
def e2e_database_url() -> str | None:
    """The database the test's bots share: None for a SQLite file in the test's folder (a
    module overrides it to run on PostgreSQL too, as test_limits.py does)."""
    return None


@pytest.fixture
async def runner(
    tmp_path: Path,
    discord_fake: FakeDiscord,
    video_api: FakeVibedream,
    e2e_database_url: str | None,
) -> AsyncIterator[BotRunner]:
    runner = BotRunner(tmp_path, discord_fake, video_api, e2e_database_url)
    yield runner
    await runner.stop_all()
    for process in runner.processes:
        SCAN.scan_log_file(process.log_path)
    assert discord_fake.violations == [], "requests that break Discord's API spec"


@pytest.fixture
async def bot(runner: BotRunner) -> BotProcess:
    return await runner.start()
