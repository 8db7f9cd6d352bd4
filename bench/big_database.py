"""A large job history in a real database, and how fast the usage, history and ETA queries
read it."""

from __future__ import annotations

import contextlib
import random
import sqlite3
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiosqlite

from bot.jobs.expectations import HISTORY_SAMPLE
from bot.storage.store import SqlStore
from bot.video.catalogue import DEFAULT_MODEL

_DAY_S = 86_400.0
_SPAN_DAYS = 365
#: The history ends "now"; one synthetic job every few seconds spread over a year.
_FILL = """
INSERT INTO jobs (state, guild_id, channel_id, user_id, application_id, interaction_token,
    interaction_expires_at, upload_limit_bytes, prompt, image_url, last_image_url, model, params,
    duration_s, resolution, generate_audio, nonce, prediction_id,
    estimate_low_s, estimate_high_s, cost_cents, created_at, submitted_at, completed_at,
    finished_at, output_url, error, message_id, delivered_as, notified, updated_at)
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :jobs),
rows AS (
    -- A member's job is on the member's one server. Spread by a multiplicative hash, not
    -- random(): SQLite may evaluate random() once per use of `u`, splitting member and server.
    SELECT i,
        (i * 2654435761) % :users AS u,
        :now - (:jobs - i) * (:span / :jobs) AS t,
        CASE WHEN abs(random()) % 100 < 92 THEN 'delivered' ELSE 'failed' END AS state,
        4 + i % 9 AS duration,
        CASE i % 3 WHEN 0 THEN '480p' WHEN 1 THEN '720p' ELSE '1080p' END AS resolution
    FROM n)
SELECT state, 1000 + u % :guilds, 5000 + u % :guilds, 100000 + u, 42, NULL, t + 900, 10485760,
    'history job ' || i, 'https://cdn.example/a.png', NULL, 'seedance-1.5-pro-i2v',
    json_object('duration', duration, 'resolution', resolution, 'aspect_ratio', 'auto',
        'camera_fixed', json('false'), 'seed', i % 1000, 'generate_audio', json('false')),
    duration, resolution, 0, printf('%016x', i), printf('pred-%d', i), 60, 120,
    CASE WHEN state = 'delivered' THEN 29 + i % 50 ELSE 0 END,
    t, t + 1, t + 61 + i % 60, t + 92,
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
    report_s: list[float]
    eta_s: list[float]
    history_s: list[float]
    choices_s: list[float]
    #: The retention purge: the first one over the whole history, then one a day after it.
    purge_first_s: float
    purge_daily_s: list[float]


async def build(path: Path, *, jobs: int, users: int, guilds: int, now: datetime) -> float:
    """Create a migrated database holding `jobs` finished jobs; return the seconds it took."""
    started = time.monotonic()
    async with await SqlStore.open(path):
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
    return await _time_store_call(
        path,
        samples,
        lambda store, rng: store.usage_report(100000 + rng.randrange(users), now),
    )


async def time_admin_report(
    path: Path, *, guilds: int, samples: int, now: datetime
) -> tuple[list[float], list[str]]:
    """Time `Store.guild_usage` (what `/animate-admin usage` runs) over a whole history, the
    largest period, for random servers; return the plans used."""
    return await _time_store_call(
        path,
        samples,
        lambda store, rng: store.guild_usage(1000 + rng.randrange(guilds), None),
    )


async def time_eta(path: Path, *, samples: int) -> tuple[list[float], list[str]]:
    """Time `Store.recent_generation_s` (what a progress message's ETA is learned from) for
    random resolutions and durations; return the plans used."""
    return await _time_store_call(
        path,
        samples,
        lambda store, rng: store.recent_generation_s(
            DEFAULT_MODEL.id,
            rng.choice(DEFAULT_MODEL.options.resolutions),
            rng.choice(DEFAULT_MODEL.options.durations_s),  # the same draws as randint(4, 12)
            HISTORY_SAMPLE,
        ),
    )


async def time_member_history(
    path: Path, *, users: int, guilds: int, samples: int
) -> tuple[list[float], list[str]]:
    """Time `Store.history_page` (what /animate-history runs) for random members; return the
    plans used."""
    return await _time_store_call(
        path,
        samples,
        lambda store, rng: _member_call(store, rng, users, guilds, history=True),
    )


async def time_choices(
    path: Path, *, users: int, guilds: int, samples: int
) -> tuple[list[float], list[str]]:
    """Time `Store.job_choices` (what /animate-show's autocomplete runs) for random members,
    with nothing, digits or words typed; return the plans used."""
    return await _time_store_call(
        path,
        samples,
        lambda store, rng: _member_call(store, rng, users, guilds, history=False),
    )


async def time_purge(
    path: Path, *, now: datetime, retention_days: int = 90, days: int = 5
) -> tuple[float, list[float]]:
    """Time the retention purge (`Store.redact_before`, run at start and then daily): the first
    one, which erases everything older than `retention_days`, then one for each following day.
    It erases, so it runs last."""
    async with await SqlStore.open(path) as store:
        timings = []
        for day in range(days + 1):
            started = time.perf_counter()
            await store.redact_before(now - timedelta(days=retention_days - day))
            timings.append(time.perf_counter() - started)
    return timings[0], timings[1:]


async def _member_call(
    store: SqlStore, rng: random.Random, users: int, guilds: int, *, history: bool
) -> object:
    u = rng.randrange(users)
    guild_id, user_id = 1000 + u % guilds, 100000 + u
    if history:
        return await store.history_page(guild_id, user_id, size=10, before=None, after=None)
    id_prefix, text = rng.choice([("", ""), (str(rng.randint(1, 99)), ""), ("", "job 1")])
    return await store.job_choices(guild_id, user_id, id_prefix=id_prefix, text=text, limit=25)


async def _time_store_call(
    path: Path, samples: int, call: Callable[[SqlStore, random.Random], Awaitable[object]]
) -> tuple[list[float], list[str]]:
    statements: list[str] = []
    rng = random.Random(1)
    timings = []
    async with await SqlStore.open(path) as store:
        connection = await store.database.driver_connection()
        await connection.set_trace_callback(statements.append)
        await call(store, rng)  # warm the cache, and note the statements
        await connection.set_trace_callback(None)  # type: ignore[arg-type]  # sqlite3 takes None
        for _ in range(samples):
            started = time.perf_counter()
            await call(store, rng)
            timings.append(time.perf_counter() - started)
        plans = [await _plan(connection, sql) for sql in statements]
    return timings, plans


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
    report_s, report_plans = await time_admin_report(path, guilds=guilds, samples=samples, now=now)
    eta_s, eta_plans = await time_eta(path, samples=samples)
    history_s, history_plans = await time_member_history(
        path, users=users, guilds=guilds, samples=samples
    )
    choices_s, choices_plans = await time_choices(path, users=users, guilds=guilds, samples=samples)
    purge_first_s, purge_daily_s = await time_purge(path, now=now)
    return HistoryResult(
        jobs,
        users,
        guilds,
        build_s,
        usage_s,
        plans + report_plans + eta_plans + history_plans + choices_plans,
        report_s,
        eta_s,
        history_s,
        choices_s,
        purge_first_s,
        purge_daily_s,
    )
