"""The SQLite backend itself: pragmas, refusal of unusable files, migrations (the upgrade of a
populated database from the last release included), and the query plans the history needs."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bot.jobs.model import JobState, Lease, NewJob
from bot.storage import DatabaseUnusableError, schema
from bot.storage.clock import db_now
from bot.storage.database import migrations as _migrations
from bot.storage.sqlite import backup_path
from bot.storage.store import SqlStore
from tests import factories
from tests.factories import delivered_job
from tests.unit.storage.sqlite_plans import plan, traced

#: Every test here is about SQLite itself.
pytestmark = pytest.mark.backends("sqlite")

REPO_ROOT = Path(__file__).resolve().parents[3]
T0 = datetime(2025, 3, 15, 10, 0, 0, tzinfo=UTC)
ALICE, BOB = 1001, 1002


def new_job(user_id: int = ALICE, *, prompt: str = "The cat blinks") -> NewJob:
    return factories.new_job(user_id, now=T0, prompt=prompt)


async def create(store: SqlStore, new: NewJob, now: datetime) -> Any:
    return await factories.admit(store, new, now)


def read_pragma(path: Path, name: str) -> object:
    """Ask the file itself, through a separate plain sqlite3 connection."""
    with sqlite3.connect(path) as connection:
        return connection.execute(f"PRAGMA {name}").fetchone()[0]


# Schema ----------------------------------------------------------------------------------------


async def test_migrations_set_user_version_to_the_highest_migration(
    store: SqlStore, db_path: Path
) -> None:
    highest = max(number for number, _ in _migrations())

    assert read_pragma(db_path, "user_version") == highest


async def test_reopening_a_migrated_database_keeps_its_data_and_version(
    store: SqlStore, db_path: Path
) -> None:
    job = await create(store, new_job(), T0)
    version = read_pragma(db_path, "user_version")

    async with await SqlStore.open(db_path) as reopened:
        assert await reopened.get_job(job.id) == job

    assert read_pragma(db_path, "user_version") == version


async def test_a_populated_database_from_the_first_release_is_upgraded_in_place(
    db_path: Path,
) -> None:
    (first, script), *_ = _migrations()
    with sqlite3.connect(db_path) as db:
        db.executescript(f"{script}\nPRAGMA user_version = {first};")
        row = (
            "INSERT INTO jobs (state, guild_id, channel_id, user_id, application_id,"
            " interaction_token, interaction_expires_at, upload_limit_bytes, prompt, image_url,"
            " duration_s, resolution, aspect_ratio, camera_fixed, seed, generate_audio, nonce,"
            " cost_cents, created_at, updated_at, notified)"
            " VALUES (?, 555, 777, ?, 999, ?, ?, 10485760, ?, 'https://cdn.example/a.png',"
            " 5, '720p', 'auto', 0, 7, 0, ?, ?, ?, ?, ?)"
        )
        now = T0.timestamp()
        db.execute(row, ("queued", ALICE, "tok", now + 900, "waiting", "n1", 0, now, now, 0))
        db.execute(row, ("delivered", BOB, None, now, "done", "n2", 29, now, now, 1))

    async with await SqlStore.open(db_path) as store:
        (waiting,) = await store.open_jobs()
        assert (waiting.state, waiting.prompt, waiting.reserved_cents) == (
            JobState.QUEUED,
            "waiting",
            0,
        )
        assert waiting.origin.interaction_token == "tok"
        report = await store.guild_usage(555, None)
        assert (report.totals.succeeded, report.totals.cost_cents) == (1, 29)
        assert (await store.guild_config(555)).channel_ids == frozenset()

    assert read_pragma(db_path, "user_version") == max(number for number, _ in _migrations())


async def test_database_uses_write_ahead_logging(store: SqlStore, db_path: Path) -> None:
    assert read_pragma(db_path, "journal_mode") == "wal"


async def test_open_creates_missing_parent_folders(tmp_path: Path) -> None:
    path = tmp_path / "data" / "nested" / "bot.db"

    async with await SqlStore.open(path):
        pass

    assert path.is_file()


# Runs in its own process: a leaked aiosqlite connection keeps a non-daemon thread alive, which
# would stop pytest itself from exiting. The probe reports and then leaves with os._exit.
OPEN_PROBE = """
import asyncio, os, sys
from pathlib import Path
from bot.storage.store import SqlStore

async def main() -> None:
    try:
        await SqlStore.open(Path(sys.argv[1]))
    except Exception as exc:
        print(type(exc).__name__)

def open_files() -> int:
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            count += os.readlink(f"/proc/self/fd/{fd}").startswith(sys.argv[1])
        except OSError:
            pass  # the listing's own descriptor, already closed
    return count

try:
    asyncio.run(main())
    print(open_files())
finally:
    sys.stdout.flush()
    os._exit(0)
"""


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc/self/fd")
def test_failed_open_closes_the_database_connection(db_path: Path) -> None:
    db_path.write_bytes(b"not a database " * 100)

    probe = subprocess.run(
        [sys.executable, "-c", OPEN_PROBE, str(db_path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )

    # The error, and no open file left.
    assert probe.stdout.split() == ["DatabaseUnusableError", "0"]


def read_file(path: Path) -> bytes:
    return path.read_bytes()


def write_file(path: Path, data: bytes) -> None:
    path.write_bytes(data)


async def test_a_file_that_is_not_a_database_is_refused_and_left_untouched(db_path: Path) -> None:
    garbage = b"not a database " * 100
    write_file(db_path, garbage)

    with pytest.raises(DatabaseUnusableError, match="not a readable SQLite database"):
        await SqlStore.open(db_path)

    assert read_file(db_path) == garbage


async def test_a_damaged_database_is_refused_and_left_untouched(db_path: Path) -> None:
    async with await SqlStore.open(db_path) as store:
        for n in range(200):
            await create(store, new_job(prompt=f"job {n} " + "x" * 500), T0)
    data = bytearray(read_file(db_path))
    page = 4096
    data[3 * page : 6 * page] = b"\xff" * (3 * page)  # smash pages in the middle of the table
    write_file(db_path, bytes(data))

    with pytest.raises(DatabaseUnusableError, match="left untouched"):
        await SqlStore.open(db_path)

    assert read_file(db_path) == bytes(data)


async def test_a_database_from_a_newer_bot_is_refused_and_left_untouched(db_path: Path) -> None:
    async with await SqlStore.open(db_path):
        pass
    newer = max(number for number, _ in _migrations()) + 1
    with sqlite3.connect(db_path) as db:
        db.execute(f"PRAGMA user_version = {newer}")
    before = read_file(db_path)

    with pytest.raises(DatabaseUnusableError, match=f"schema version {newer}"):
        await SqlStore.open(db_path)

    assert read_file(db_path) == before
    assert read_pragma(db_path, "user_version") == newer


# Upgrade from the last release (migrations 0001-0010) ----------------------------------------

#: The columns 0011 folds into `params`, and the name each gets there.
SEEDANCE_COLUMNS = {
    "duration_s": "duration",
    "resolution": "resolution",
    "aspect_ratio": "aspect_ratio",
    "camera_fixed": "camera_fixed",
    "seed": "seed",
    "generate_audio": "generate_audio",
}
#: The tables other than `jobs`, with their key, as the last release left them.
OTHER_TABLES = {
    "guild_config": "guild_id",
    "guild_blocks": "guild_id, user_id",
    "guild_audit": "id",
    "user_prefs": "user_id",
    "open_forms": "key",
    "meta": "key",
}


def last_release_database(path: Path) -> None:
    """A database as the last release (migrations 0001-0010) left it, with rows of every kind:
    a job in every state, server configuration, a block, audit entries, a member's preference,
    an open form and deployment facts."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        for number, script in _migrations():
            if number <= 10:
                db.executescript(f"{script}\nPRAGMA user_version = {number};")
        now = T0.timestamp()
        for i, state in enumerate(JobState, start=1):
            charged = state not in (JobState.QUEUED, JobState.CLAIMED, JobState.SUBMITTING)
            db.execute(
                """INSERT INTO jobs (state, guild_id, channel_id, user_id, application_id,
                    interaction_token, interaction_expires_at, upload_limit_bytes, prompt,
                    image_url, last_image_url, duration_s, resolution, aspect_ratio,
                    camera_fixed, seed, generate_audio, nonce, prediction_id, estimate_low_s,
                    estimate_high_s, cost_cents, created_at, submitted_at, completed_at,
                    finished_at, output_url, error, message_id, delivered_as, notified,
                    updated_at, reserved_cents, cancelled_by, mod_log_channel_id,
                    mod_log_message_id, redacted, failure_kind, delivered_via, delivery_note,
                    locale, guild_locale, kind, parent_job_id, post_deleted_at)
                   VALUES (?, 555, 777, ?, 999, ?, ?, 10485760, ?, 'https://cdn.example/a.png',
                    ?, ?, ?, ?, ?, ?, ?, ?, ?, 60.5, 120.0, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,
                    ?, 888, ?, ?, ?, ?, ?, 'fr', 'de', ?, ?, ?)""",
                (
                    state,
                    ALICE if i % 2 else BOB,
                    f"token-{i}" if state != JobState.DELIVERED else None,
                    now + 900,
                    f"prompt {i}",
                    "https://cdn.example/b.png" if i % 3 == 0 else None,
                    4 + i,
                    ("480p", "720p", "1080p")[i % 3],
                    ("auto", "16:9", "9:16")[i % 3],
                    i % 2,
                    1000 + i,
                    (i + 1) % 2,
                    f"nonce-{i}",
                    f"pred-{i}" if charged else None,
                    29 + i if charged else 0,
                    now + i,
                    now + i + 1 if charged else None,
                    now + i + 61 if charged else None,
                    now + i + 92 if state in (JobState.DELIVERED, JobState.FAILED) else None,
                    f"https://assets.example/{i}.mp4" if charged else None,
                    "boom" if state == JobState.FAILED else None,
                    900_000 + i if state == JobState.DELIVERED else None,
                    "file" if state == JobState.DELIVERED else None,
                    int(state == JobState.DELIVERED),
                    now + i + 100,
                    100 if state == JobState.QUEUED else 0,
                    1 if state == JobState.CANCELLED else None,
                    4000 + i,
                    int(state == JobState.DELIVERED and i % 2 == 0),
                    "submit_unknown" if state == JobState.FAILED else None,
                    "dm" if state == JobState.DELIVERED else None,
                    "channel post refused: 403" if state == JobState.DELIVERED else None,
                    "regenerate" if i > 1 else "animate",
                    1 if i > 1 else None,
                    now + 500 if state == JobState.DELIVERED else None,
                ),
            )
        db.execute("DELETE FROM jobs WHERE id = ?", (len(JobState),))  # ids are never reused
        db.execute(
            "INSERT INTO guild_config VALUES (555, '{\"mod_log_channel_id\": 5}', ?)", (now,)
        )
        db.execute("INSERT INTO guild_blocks VALUES (555, ?, 'spam', 1, ?)", (BOB, now))
        db.execute(
            "INSERT INTO guild_audit (guild_id, actor_id, action, detail, at)"
            " VALUES (555, 1, 'block', 'spam', ?)",
            (now,),
        )
        db.execute("INSERT INTO user_prefs VALUES (?, 0, ?)", (ALICE, now))
        db.execute("INSERT INTO open_forms VALUES ('k1', ?, '{\"url\": \"u\"}', ?)", (ALICE, now))
        db.execute("INSERT INTO meta VALUES ('command_tree_hash', 'abc')")
        db.commit()


def read_rows(path: Path, table: str, order: str) -> list[dict[str, Any]]:
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.row_factory = sqlite3.Row
        return [dict(row) for row in db.execute(f"SELECT * FROM {table} ORDER BY {order}")]


async def test_a_database_of_the_last_release_is_upgraded_with_every_row_intact(
    db_path: Path,
) -> None:
    last_release_database(db_path)
    jobs_before = read_rows(db_path, "jobs", "id")
    others_before = {table: read_rows(db_path, table, key) for table, key in OTHER_TABLES.items()}

    async with await SqlStore.open(db_path) as store:
        upgraded = [await store.get_job(row["id"]) for row in jobs_before]
        assert await store.mention_on_done(ALICE) is False
        newest = await create(store, new_job(), T0)

    jobs_after = read_rows(db_path, "jobs", "id")
    assert len(jobs_after) == len(jobs_before) + 1
    for before, after, job in zip(jobs_before, jobs_after, upgraded, strict=False):
        params = json.loads(after.pop("params"))
        assert after.pop("model") == "seedance-1.5-pro-i2v"
        moved = {column: before.pop(column) for column in SEEDANCE_COLUMNS}
        assert params == {
            name: bool(moved[column])
            if column in ("camera_fixed", "generate_audio")
            else moved[column]
            for column, name in SEEDANCE_COLUMNS.items()
        }
        kept = {
            column: after.pop(column) for column in ("duration_s", "resolution", "generate_audio")
        }
        assert kept == {
            "duration_s": moved["duration_s"],
            "resolution": moved["resolution"],
            "generate_audio": moved["generate_audio"],
        }
        # Migration 0013: no owner, epoch 0, and a job left open past the queue an expired
        # lease, so the first process to start takes it over.
        leased = before["notified"] == 0 and before["state"] != JobState.QUEUED
        lease = {column: after.pop(column) for column in ("owner", "lease_until", "epoch")}
        assert lease == {"owner": None, "lease_until": 0 if leased else None, "epoch": 0}
        # Migration 0014's columns: an upgraded job is in no group and is no draft.
        added = {
            column: after.pop(column) for column in ("group_id", "group_index", "final_params")
        }
        assert added == {"group_id": None, "group_index": None, "final_params": None}
        assert after.pop("refused_input") is None  # 0015: none known for an older job
        assert after == before  # every other column, value for value
        assert job is not None
        assert job.settings.duration_s == moved["duration_s"]
        assert job.settings.camera_fixed is bool(moved["camera_fixed"])
        assert job.settings.seed == moved["seed"]
    prefs = others_before["user_prefs"][0]
    prefs["mention_on_done"] = prefs.pop("notify_on_done")
    assert {t: read_rows(db_path, t, k) for t, k in OTHER_TABLES.items()} == others_before
    assert newest.id == len(JobState) + 1  # the deleted last id was not reused
    assert read_pragma(db_path, "user_version") == max(number for number, _ in _migrations())


# Query plans -------------------------------------------------------------------------------------


@pytest.fixture(params=["fresh", "upgraded"])
async def planned(request: pytest.FixtureRequest, db_path: Path) -> AsyncIterator[SqlStore]:
    """A store on a new database, or on one upgraded from the last release."""
    if request.param == "upgraded":
        last_release_database(db_path)
    async with await SqlStore.open(db_path) as store:
        yield store


async def test_the_eta_lookup_reads_the_index_alone(planned: SqlStore) -> None:
    async with traced(planned) as statements:
        await planned.recent_generation_s("seedance-1.5-pro-i2v", "720p", 5, 50)
    (sql,) = statements

    steps = await plan(planned, sql)
    assert len(steps) == 1  # no sort: the index gives the latest first
    assert steps[0].startswith(
        "SEARCH jobs USING COVERING INDEX jobs_by_eta_settings "
        "(model=? AND resolution=? AND duration_s=?"
    )


async def test_the_price_lookup_searches_its_index(planned: SqlStore) -> None:
    async with traced(planned) as statements:
        await planned.expected_cost("seedance-1.5-pro-i2v", factories.SETTINGS)
    (sql,) = statements

    assert any(
        "USING INDEX jobs_by_price_settings "
        "(model=? AND duration_s=? AND resolution=? AND generate_audio=?)" in step
        for step in await plan(planned, sql)
    )


async def test_the_daily_purge_reads_only_the_jobs_it_still_has_to_erase(
    planned: SqlStore,
) -> None:
    async with traced(planned) as statements:
        await planned.redact_before(T0)
    (sql,) = [s for s in statements if s.startswith("UPDATE")]

    # Not a scan of the table: erased jobs leave this index (1,000,000 jobs: 1.4 s -> 10 ms).
    assert await plan(planned, sql) == [
        "SEARCH jobs USING INDEX jobs_unredacted_by_time (created_at<?)"
    ]


async def test_the_eta_lookup_still_finds_the_upgraded_history(db_path: Path) -> None:
    last_release_database(db_path)
    async with await SqlStore.open(db_path) as store:
        await delivered_job(store, 70, at=T0 + timedelta(days=1))
        assert await store.recent_generation_s("seedance-1.5-pro-i2v", "720p", 5, 50) == [70.0]


async def test_an_upgrade_first_keeps_a_copy_of_the_database_as_it_was(db_path: Path) -> None:
    last_release_database(db_path)
    jobs_before = read_rows(db_path, "jobs", "id")

    async with await SqlStore.open(db_path):
        pass

    backup = backup_path(db_path, 10)
    with contextlib.closing(sqlite3.connect(backup)) as copy:
        ((version,),) = copy.execute("PRAGMA user_version").fetchall()
    assert version == 10  # the previous release opens it as its own
    assert read_rows(backup, "jobs", "id") == jobs_before


async def test_a_new_or_current_database_is_not_copied(db_path: Path) -> None:
    async with await SqlStore.open(db_path):
        pass
    async with await SqlStore.open(db_path):
        pass

    assert sorted(p.name for p in db_path.parent.glob("*.bak")) == []


def test_schema_columns_need_no_converters() -> None:
    # The store runs its compiled statements straight on aiosqlite, without SQLAlchemy's type
    # converters: every column must hold what sqlite3 binds and returns as is (flags read
    # back through bool() in `rows`).
    plain = (sa.Integer, sa.Float, sa.Text, sa.Boolean)
    for table in schema.metadata.tables.values():
        for column in table.columns:
            assert isinstance(column.type, plain), f"{table.name}.{column.name}"


async def test_the_lease_sweep_searches_the_lease_index(planned: SqlStore) -> None:
    # Each process runs it every JOB_POLL_S: it must read the open leases, never the history.
    async with traced(planned) as statements:
        await planned.take_over(Lease("process-b", 30.0))
    sql = statements[0]  # the read of what expired (all there is when nothing did)

    steps = await plan(planned, sql)
    assert any(
        step.startswith("SEARCH jobs USING INDEX jobs_leases (lease_until<?)") for step in steps
    )


async def test_the_database_clock_is_utc_epoch_seconds(store: SqlStore) -> None:
    before = time.time()
    now = await store.database.value(sa.select(db_now()))
    after = time.time()

    assert before - 0.01 <= now <= after + 0.01  # julianday('now') has millisecond precision
