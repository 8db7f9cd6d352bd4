"""A large job history in a real database, and how fast the usage queries read it."""

from __future__ import annotations

import contextlib
import random
import sqlite3
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiosqlite

from bot.store import SqliteStore

_DAY_S = 86_400.0
_SPAN_DAYS = 365
#: The history ends "now"; one synthetic job every few seconds spread over a year.
_FILL = """
INSERT INTO jobs (state, guild_id, channel_id, user_id, application_id, interaction_token,
    interaction_expires_at, upload_limit_bytes, prompt, image_url, last_image_url, duration_s,
    resolution, aspect_ratio, camera_fixed, seed, generate_audio, nonce, prediction_id,
    estimate_low_s, estimate_high_s, cost_cents, created_at, submitted_at, completed_at,
    finished_at, output_url, error, message_id, delivered_as, notified, updated_at)
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :jobs),
rows AS (
    SELECT i,
        abs(random()) % :users AS u,
        :now - (:jobs - i) * (:span / :jobs) AS t,
        CASE WHEN abs(random()) % 100 < 92 THEN 'delivered' ELSE 'failed' END AS state
    FROM n)
SELECT state, 1000 + u % :guilds, 5000 + u % :guilds, 100000 + u, 42, NULL, t + 900, 10485760,
    'history job ' || i, 'https://cdn.example/a.png', NULL, 4 + i % 9, '720p', 'auto', 0,
    i % 1000, 0, printf('%016x', i), printf('pred-%d', i), 60, 120,
    CASE WHEN state = 'delivered' THEN 29 + i % 50 ELSE 0 END,
    t, t + 1, t + 90, t + 92,
    CASE WHEN state = 'delivered' THEN 'https://assets.example/' || i || '.mp4' END,
    CASE WHEN state = 'failed' THEN 'The video service could not make this clip.' END,
    CASE WHEN state = 'delivered' THEN 900000 + i END,
    CASE WHEN state = 'delivered' THEN 'file' END, 1, t + 92
FROM rows
"""


@dataclass(frozen=True)
class HistoryResult:
    """Timings of the usage queries on a large history."""

    jobs: int
    users: int
    guilds: int
    build_s: float
    usage_s: list[float]
    usage_plans: list[str]
    report_s: list[float] | None  # None until the admin report exists


async def build(path: Path, *, jobs: int, users: int, guilds: int, now: datetime) -> float:
    """Create a migrated database holding `jobs` finished jobs; return the seconds it took."""
    started = time.monotonic()
    async with await SqliteStore.open(path):
        pass  # applies every migration, so the indexes are the bot's own
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute("PRAGMA synchronous = OFF")
        with db:
            db.execute(
                _FILL,
                {
                    "jobs": jobs,
                    "users": users,
                    "guilds": guilds,
                    "now": now.timestamp(),
                    "span": _SPAN_DAYS * _DAY_S,
                },
            )
        db.execute("ANALYZE")
    return time.monotonic() - started


async def time_usage(
    path: Path, *, users: int, samples: int, now: datetime
) -> tuple[list[float], list[str]]:
    """Time `Store.usage_report` (what /usage runs) for random users; return the plans used."""
    statements: list[str] = []
    connection = await aiosqlite.connect(path, isolation_level=None)
    connection.row_factory = sqlite3.Row
    rng = random.Random(1)
    timings = []
    try:
        store = SqliteStore(connection)
        await connection.set_trace_callback(statements.append)
        await store.usage_report(100000 + rng.randrange(users), now)  # warm the cache
        await connection.set_trace_callback(None)  # type: ignore[arg-type]  # sqlite3 takes None
        for _ in range(samples):
            user = 100000 + rng.randrange(users)
            started = time.perf_counter()
            await store.usage_report(user, now)
            timings.append(time.perf_counter() - started)
        plans = [await _plan(connection, sql) for sql in statements]
    finally:
        await connection.close()
    return timings, plans


async def time_admin_report(
    path: Path, *, guilds: int, samples: int, now: datetime
) -> tuple[list[float], list[str]] | None:
    """Where the admin usage report's timing plugs in (a guild's totals over a period and its
    top users): time that Store method like `time_usage` does. None until it exists."""
    del path, guilds, samples, now
    return None


async def _plan(connection: aiosqlite.Connection, sql: str) -> str:
    rows = await connection.execute_fetchall(f"EXPLAIN QUERY PLAN {sql}")
    steps = "; ".join(str(row[3]) for row in rows)
    first_line = " ".join(sql.split())[:90]
    return f"{first_line}...\n    -> {steps}"


async def history(
    workdir: Path, *, jobs: int, users: int, guilds: int, samples: int
) -> HistoryResult:
    """Build the history and time the usage queries on it."""
    workdir.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - once, before timing
    path = workdir / "history.db"
    now = datetime.now(UTC) - timedelta(seconds=1)
    build_s = await build(path, jobs=jobs, users=users, guilds=guilds, now=now)
    usage_s, plans = await time_usage(path, users=users, samples=samples, now=now)
    report = await time_admin_report(path, guilds=guilds, samples=samples, now=now)
    if report is not None:
        plans += report[1]
    return HistoryResult(
        jobs, users, guilds, build_s, usage_s, plans, report[0] if report else None
    )
