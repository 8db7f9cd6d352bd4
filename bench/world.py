"""Both fakes on 127.0.0.1 and a runner for the real bot process, set up for measuring."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.fakes.discord import FakeDiscord
from tests.fakes.discord.schemas import RequestSchemas
from tests.fakes.fake_vibedream import FakeVibedream
from tests.fakes.harness import API_KEY, DISCORD_TOKEN, BotRunner, animate_interaction

#: The e2e harness shortens these for speed; the bench runs the bot's own defaults unless told.
_E2E_SHORTCUTS = (
    "POLL_INTERVAL_S",
    "POLL_MAX_INTERVAL_S",
    "PROGRESS_EDIT_INTERVAL_S",
    "API_BACKOFF_MAX_S",
    "API_TIMEOUT_S",
    "DELIVERY_RETRY_BASE_S",
)


class DeferredSchemas(RequestSchemas):
    """Checks request bodies against Discord's spec after the run, so that the fake's own
    validation work does not delay its answers (and so the ack times measured)."""

    def __init__(self) -> None:
        super().__init__()
        self._seen: list[tuple[str, str, Any]] = []

    def validate(self, method: str, spec_path: str, body: Any) -> list[str]:
        """Remember the body; report nothing yet."""
        self._seen.append((method, spec_path, body))
        return []

    def violations(self) -> list[str]:
        """Every problem in the bodies seen so far."""
        return [
            f"{method} {path}: {error}"
            for method, path, body in self._seen
            for error in RequestSchemas.validate(self, method, path, body)
        ]


@dataclass
class World:
    """The fakes, a bot runner wired to them, and the clock offset to compare their stamps."""

    discord: FakeDiscord
    api: FakeVibedream
    runner: BotRunner
    settings: dict[str, str]
    #: Add to a fake's `time.monotonic()` stamp to get Unix time (the API's `completedAt`).
    wall_offset_s: float = field(default_factory=lambda: time.time() - time.monotonic())
    _next_user: int = 10_000

    def interaction(
        self, *, user_id: int | None = None, prompt: str | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        """One /animate event, by default from a new user with a prompt of its own."""
        if user_id is None:
            self._next_user += 1
            user_id = self._next_user
        return animate_interaction(
            self.discord,
            user_id=user_id,
            username=f"user{user_id}",
            prompt=prompt or f"user {user_id} waves",
            **kwargs,
        )

    def interactions(self, count: int, **kwargs: Any) -> list[dict[str, Any]]:
        """`count` /animate events, each from a different new user."""
        return [self.interaction(**kwargs) for _ in range(count)]

    async def send_all(self, events: list[dict[str, Any]]) -> float:
        """Send the events together; return the monotonic time they were sent at."""
        sent_at = time.monotonic()
        await asyncio.gather(*(self.discord.send_interaction(e) for e in events))
        return sent_at

    def count(self, where: str) -> int:
        """Jobs matching a SQL condition, read from the bot's database as an admin would."""
        with contextlib.closing(sqlite3.connect(self.runner.db_path, timeout=10)) as db:
            (n,) = db.execute(f"SELECT COUNT(*) FROM jobs WHERE {where}").fetchone()
        return int(n)

    async def wait_for_jobs(self, where: str, n: int, timeout_s: float) -> None:
        """Wait until at least `n` jobs match `where` (checked twice a second)."""
        deadline = time.monotonic() + timeout_s
        while self.count(where) < n:
            if time.monotonic() > deadline:
                raise TimeoutError(f"only {self.count(where)} of {n} jobs reached {where!r}")
            await asyncio.sleep(0.5)


@contextlib.asynccontextmanager
async def world(
    workdir: Path, *, database_url: str | None = None, **settings: str
) -> AsyncIterator[World]:
    """Start both fakes and a runner (no bot yet) whose bots get `settings` on top of defaults,
    sharing a SQLite file in `workdir` or the PostgreSQL database `database_url` names."""
    workdir.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - once, before anything runs
    schemas = DeferredSchemas()
    async with (
        FakeDiscord(DISCORD_TOKEN, schemas=schemas) as discord,
        FakeVibedream(API_KEY) as api,
    ):
        runner = BotRunner(workdir, discord, api, database_url)
        for key in _E2E_SHORTCUTS:
            runner.env.pop(key, None)
        runner.env.update({k.upper(): v for k, v in settings.items()})
        try:
            yield World(discord, api, runner, {k.upper(): v for k, v in settings.items()})
        finally:
            await runner.stop_all()
        violations = discord.violations + schemas.violations()
        if violations:
            raise AssertionError(
                "requests that break Discord's API spec:\n" + "\n".join(violations)
            )
