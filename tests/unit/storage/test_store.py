"""SqliteStore on a real SQLite file: schema, job life cycle, queue rules and usage figures."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from bot.jobs.model import (
    DeliveryRoute,
    FailureKind,
    GenerationSettings,
    Job,
    JobKind,
    JobState,
    NewJob,
)
from bot.storage.store import DatabaseUnusableError, SqliteStore, _migrations
from tests import factories

REPO_ROOT = Path(__file__).resolve().parents[3]
T0 = datetime(2025, 3, 15, 10, 0, 0, tzinfo=UTC)
ALICE, BOB, CAROL = 1001, 1002, 1003
#: A per-user limit on open jobs that tests not about that limit never reach.
NO_LIMIT = 1000


def new_job(user_id: int = ALICE, *, duration_s: int = 5, prompt: str = "The cat blinks") -> NewJob:
    return factories.new_job(user_id, now=T0, duration_s=duration_s, prompt=prompt)


def read_pragma(path: Path, name: str) -> object:
    """Ask the file itself, through a separate plain sqlite3 connection."""
    with sqlite3.connect(path) as connection:
        return connection.execute(f"PRAGMA {name}").fetchone()[0]


async def create(store: SqliteStore, new: NewJob, now: datetime) -> Job:
    """Create a job with no per-user limit in the way; it must be admitted."""
    job = await store.create_job(new, now, max_open_per_user=NO_LIMIT)
    assert job is not None
    return job


async def state_of(store: SqliteStore, job_id: int) -> JobState:
    job = await store.get_job(job_id)
    assert job is not None
    return job.state


async def in_flight(store: SqliteStore, user_id: int, count: int) -> list[Job]:
    """Create `count` jobs of `user_id` already claimed for sending to the API (CLAIMED).

    Call it before queueing other jobs: it claims the oldest queued job.
    """
    jobs = []
    for _ in range(count):
        created = await create(store, new_job(user_id), T0)
        claimed = await store.claim_next_queued(max_in_flight=100, max_per_user=100)
        assert claimed is not None
        assert claimed.id == created.id
        jobs.append(claimed)
    return jobs


# Schema ----------------------------------------------------------------------------------------


async def test_migrations_set_user_version_to_the_highest_migration(
    store: SqliteStore, db_path: Path
) -> None:
    highest = max(number for number, _ in _migrations())

    assert read_pragma(db_path, "user_version") == highest


async def test_reopening_a_migrated_database_keeps_its_data_and_version(
    store: SqliteStore, db_path: Path
) -> None:
    job = await create(store, new_job(), T0)
    version = read_pragma(db_path, "user_version")

    async with await SqliteStore.open(db_path) as reopened:
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

    async with await SqliteStore.open(db_path) as store:
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


async def test_database_uses_write_ahead_logging(store: SqliteStore, db_path: Path) -> None:
    assert read_pragma(db_path, "journal_mode") == "wal"


async def test_open_creates_missing_parent_folders(tmp_path: Path) -> None:
    path = tmp_path / "data" / "nested" / "bot.db"

    async with await SqliteStore.open(path):
        pass

    assert path.is_file()


# Runs in its own process: a leaked aiosqlite connection keeps a non-daemon thread alive, which
# would stop pytest itself from exiting. The probe reports and then leaves with os._exit.
OPEN_PROBE = """
import asyncio, os, sys
from pathlib import Path
from bot.storage.store import SqliteStore

async def main() -> None:
    try:
        await SqliteStore.open(Path(sys.argv[1]))
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
        await SqliteStore.open(db_path)

    assert read_file(db_path) == garbage


async def test_a_damaged_database_is_refused_and_left_untouched(db_path: Path) -> None:
    async with await SqliteStore.open(db_path) as store:
        for n in range(200):
            await create(store, new_job(prompt=f"job {n} " + "x" * 500), T0)
    data = bytearray(read_file(db_path))
    page = 4096
    data[3 * page : 6 * page] = b"\xff" * (3 * page)  # smash pages in the middle of the table
    write_file(db_path, bytes(data))

    with pytest.raises(DatabaseUnusableError, match="left untouched"):
        await SqliteStore.open(db_path)

    assert read_file(db_path) == bytes(data)


async def test_a_database_from_a_newer_bot_is_refused_and_left_untouched(db_path: Path) -> None:
    async with await SqliteStore.open(db_path):
        pass
    newer = max(number for number, _ in _migrations()) + 1
    with sqlite3.connect(db_path) as db:
        db.execute(f"PRAGMA user_version = {newer}")
    before = read_file(db_path)

    with pytest.raises(DatabaseUnusableError, match=f"schema version {newer}"):
        await SqliteStore.open(db_path)

    assert read_file(db_path) == before
    assert read_pragma(db_path, "user_version") == newer


async def test_failure_kind_and_delivery_route_are_stored(store: SqliteStore) -> None:
    job = await create(store, new_job(), T0)

    await store.set_failure_kind(job.id, FailureKind.SUBMIT_UNKNOWN)
    await store.set_delivery_route(job.id, DeliveryRoute.DM, "channel post refused: 403")

    stored = await store.get_job(job.id)
    assert stored is not None
    assert stored.failure_kind == FailureKind.SUBMIT_UNKNOWN
    assert (stored.delivered_via, stored.delivery_note) == (
        DeliveryRoute.DM,
        "channel post refused: 403",
    )


# Jobs ------------------------------------------------------------------------------------------


async def test_create_job_round_trips_every_field(store: SqliteStore) -> None:
    new = replace(
        new_job(),
        last_image_url="https://cdn.example.com/end.png",
        settings=GenerationSettings(
            duration_s=12,
            resolution="1080p",
            aspect_ratio="9:16",
            camera_fixed=True,
            seed=1000,
            generate_audio=True,
        ),
    )
    created_at = datetime(2025, 3, 15, 10, 0, 0, 123456, tzinfo=UTC)

    job = await store.create_job(new, created_at, max_open_per_user=1)

    assert job is not None
    assert job == Job(
        id=job.id,
        state=JobState.QUEUED,
        origin=new.origin,
        prompt=new.prompt,
        image_url=new.image_url,
        last_image_url=new.last_image_url,
        model=new.model,
        settings=new.settings,
        nonce=new.nonce,
        created_at=created_at,
    )
    assert await store.get_job(job.id) == job


async def test_get_job_of_an_unknown_id_is_none(store: SqliteStore) -> None:
    assert await store.get_job(12345) is None


async def test_job_state_follows_the_stored_state(store: SqliteStore) -> None:
    job = await create(store, new_job(ALICE), T0)
    assert await store.job_state(job.id) == JobState.QUEUED

    await store.set_state(job.id, JobState.SUBMITTING)

    assert await store.job_state(job.id) == JobState.SUBMITTING
    assert await store.job_state(12345) is None


async def test_claim_takes_the_oldest_queued_job(store: SqliteStore) -> None:
    first = await create(store, new_job(ALICE), T0)
    await create(store, new_job(BOB), T0)

    claimed = await store.claim_next_queued(max_in_flight=10, max_per_user=10)

    assert claimed is not None
    assert (claimed.id, claimed.state) == (first.id, JobState.CLAIMED)
    assert await state_of(store, first.id) == JobState.CLAIMED


async def test_claim_returns_none_when_nothing_is_queued(store: SqliteStore) -> None:
    assert await store.claim_next_queued(max_in_flight=10, max_per_user=10) is None


async def test_claim_honours_the_global_in_flight_cap(store: SqliteStore) -> None:
    await in_flight(store, ALICE, 1)
    await in_flight(store, BOB, 1)
    waiting = await create(store, new_job(CAROL), T0)

    assert await store.claim_next_queued(max_in_flight=2, max_per_user=10) is None
    assert await state_of(store, waiting.id) == JobState.QUEUED


async def test_claim_skips_a_capped_user_for_the_next_users_job(store: SqliteStore) -> None:
    await in_flight(store, ALICE, 2)
    alice_waiting = await create(store, new_job(ALICE), T0)
    bob_waiting = await create(store, new_job(BOB), T0)

    claimed = await store.claim_next_queued(max_in_flight=10, max_per_user=2)

    assert claimed is not None
    assert claimed.id == bob_waiting.id
    assert await state_of(store, alice_waiting.id) == JobState.QUEUED


async def test_claim_returns_none_when_every_queued_job_belongs_to_a_capped_user(
    store: SqliteStore,
) -> None:
    await in_flight(store, ALICE, 2)
    await create(store, new_job(ALICE), T0)

    assert await store.claim_next_queued(max_in_flight=10, max_per_user=2) is None


async def test_finished_jobs_free_their_in_flight_slot(store: SqliteStore) -> None:
    (running,) = await in_flight(store, ALICE, 1)
    await store.mark_failed(running.id, "boom", None, T0)
    await store.mark_notified(running.id)
    waiting = await create(store, new_job(ALICE), T0)

    claimed = await store.claim_next_queued(max_in_flight=1, max_per_user=1)

    assert claimed is not None
    assert claimed.id == waiting.id


async def test_queue_position_counts_queued_jobs_up_to_and_including_this_one(
    store: SqliteStore,
) -> None:
    jobs = [await create(store, new_job(user), T0) for user in (ALICE, BOB, CAROL)]

    assert [await store.queue_position(j.id) for j in jobs] == [1, 2, 3]


async def test_queue_position_ignores_jobs_already_sent(store: SqliteStore) -> None:
    await in_flight(store, ALICE, 2)
    waiting = await create(store, new_job(BOB), T0)

    assert await store.queue_position(waiting.id) == 1


async def test_queue_position_is_zero_once_the_job_left_the_queue(store: SqliteStore) -> None:
    job = await create(store, new_job(), T0)
    await store.claim_next_queued(max_in_flight=10, max_per_user=10)

    assert await store.queue_position(job.id) == 0


async def test_requeued_job_keeps_its_place_ahead_of_later_jobs(store: SqliteStore) -> None:
    first = await create(store, new_job(ALICE), T0)
    second = await create(store, new_job(BOB), T0)
    await store.claim_next_queued(max_in_flight=10, max_per_user=10)

    requeued = await store.set_state(first.id, JobState.QUEUED)

    assert requeued.state == JobState.QUEUED
    assert [await store.queue_position(j.id) for j in (first, second)] == [1, 2]
    claimed = await store.claim_next_queued(max_in_flight=10, max_per_user=10)
    assert claimed is not None
    assert claimed.id == first.id


async def test_open_job_limit_counts_only_that_users_unfinished_jobs(store: SqliteStore) -> None:
    await in_flight(store, ALICE, 1)
    await create(store, new_job(ALICE), T0)
    failed = await create(store, new_job(ALICE), T0)
    await store.mark_failed(failed.id, "boom", None, T0)
    delivered = await create(store, new_job(ALICE), T0)
    await store.mark_delivered(delivered.id, 1, "file", T0)
    await create(store, new_job(BOB), T0)
    await create(store, new_job(BOB), T0)

    # Alice has 2 unfinished jobs (claimed and queued): a 3rd fits under 3, a 4th does not.
    third = await store.create_job(new_job(ALICE), T0, max_open_per_user=3)
    fourth = await store.create_job(new_job(ALICE), T0, max_open_per_user=3)

    assert third is not None
    assert fourth is None


async def test_create_job_refuses_a_users_job_over_the_limit_but_not_another_users(
    store: SqliteStore,
) -> None:
    admitted = [await store.create_job(new_job(ALICE), T0, max_open_per_user=2) for _ in range(2)]
    before = await store.open_jobs()

    refused = await store.create_job(new_job(ALICE), T0, max_open_per_user=2)
    bobs = await store.create_job(new_job(BOB), T0, max_open_per_user=2)

    assert all(job is not None for job in admitted)
    assert refused is None
    assert bobs is not None
    assert bobs.origin.user_id == BOB
    assert [job.id for job in await store.open_jobs()] == [*(j.id for j in before), bobs.id]


async def test_a_finished_job_makes_room_under_the_open_job_limit(store: SqliteStore) -> None:
    job = await create(store, new_job(ALICE), T0)
    assert await store.create_job(new_job(ALICE), T0, max_open_per_user=1) is None
    await store.mark_delivered(job.id, 1, "file", T0)

    assert await store.create_job(new_job(ALICE), T0, max_open_per_user=1) is not None


async def test_concurrent_create_job_calls_admit_exactly_the_limit(store: SqliteStore) -> None:
    results = await asyncio.gather(
        *(store.create_job(new_job(ALICE), T0, max_open_per_user=3) for _ in range(10))
    )

    admitted = [job for job in results if job is not None]
    assert len(admitted) == 3
    assert len({job.id for job in admitted}) == 3
    assert [job.id for job in await store.open_jobs()] == sorted(job.id for job in admitted)


async def test_set_state_changes_only_the_state_and_persists_it(store: SqliteStore) -> None:
    job = await create(store, new_job(), T0)

    changed = await store.set_state(job.id, JobState.DELIVERING)

    assert changed == replace(job, state=JobState.DELIVERING)
    assert await store.get_job(job.id) == changed


@pytest.mark.parametrize(
    "state", [JobState.CLAIMED, JobState.SUBMITTING, JobState.SUBMITTED], ids=str
)
async def test_claimed_submitting_and_submitted_jobs_count_toward_both_caps(
    store: SqliteStore, state: JobState
) -> None:
    (running,) = await in_flight(store, ALICE, 1)
    await store.set_state(running.id, state)
    alice_waiting = await create(store, new_job(ALICE), T0)
    bob_waiting = await create(store, new_job(BOB), T0)

    assert await store.claim_next_queued(max_in_flight=1, max_per_user=10) is None
    claimed = await store.claim_next_queued(max_in_flight=10, max_per_user=1)

    assert claimed is not None
    assert claimed.id == bob_waiting.id
    assert await state_of(store, alice_waiting.id) == JobState.QUEUED


@pytest.mark.parametrize(
    "state", [JobState.COMPLETED, JobState.DELIVERING, JobState.FAILED], ids=str
)
async def test_jobs_past_the_api_hold_no_in_flight_slot(
    store: SqliteStore, state: JobState
) -> None:
    (done,) = await in_flight(store, ALICE, 1)
    await store.set_state(done.id, state)
    waiting = await create(store, new_job(ALICE), T0)

    claimed = await store.claim_next_queued(max_in_flight=1, max_per_user=1)

    assert claimed is not None
    assert claimed.id == waiting.id


# State transitions -----------------------------------------------------------------------------


async def test_mark_submitted_records_the_prediction_cost_and_estimate(
    store: SqliteStore,
) -> None:
    job = await create(store, new_job(), T0)

    job = await store.mark_submitted(job.id, "pred-1", 29, (60.0, 120.0), T0)

    assert job.state == JobState.SUBMITTED
    assert (job.prediction_id, job.cost_cents) == ("pred-1", 29)
    assert (job.estimate_low_s, job.estimate_high_s) == (60.0, 120.0)
    assert job.submitted_at == T0


async def test_mark_submitted_without_estimate_stores_none(store: SqliteStore) -> None:
    job = await create(store, new_job(), T0)

    job = await store.mark_submitted(job.id, "pred-1", 29, None, T0)

    assert (job.estimate_low_s, job.estimate_high_s) == (None, None)


async def test_mark_completed_keeps_the_cost_when_the_api_gives_none(
    store: SqliteStore,
) -> None:
    job = await create(store, new_job(), T0)
    await store.mark_submitted(job.id, "pred-1", 29, None, T0)
    done_at = T0 + timedelta(seconds=90)

    job = await store.mark_completed(job.id, "https://assets.example/x.mp4", None, done_at)

    assert job.state == JobState.COMPLETED
    assert (job.output_url, job.cost_cents, job.completed_at) == (
        "https://assets.example/x.mp4",
        29,
        done_at,
    )


async def test_mark_completed_takes_the_final_cost_when_given(store: SqliteStore) -> None:
    job = await create(store, new_job(), T0)
    await store.mark_submitted(job.id, "pred-1", 29, None, T0)

    job = await store.mark_completed(job.id, "https://assets.example/x.mp4", 58, T0)

    assert job.cost_cents == 58


async def test_mark_delivered_finishes_and_notifies_the_job(store: SqliteStore) -> None:
    job = await create(store, new_job(), T0)
    assert (await store.set_state(job.id, JobState.DELIVERING)).state == JobState.DELIVERING
    finished_at = T0 + timedelta(minutes=2)

    job = await store.mark_delivered(job.id, 4242, "file", finished_at)

    assert job.state == JobState.DELIVERED
    assert (job.message_id, job.delivered_as, job.finished_at) == (4242, "file", finished_at)
    assert job.notified
    assert job.origin.interaction_token == ""
    assert await store.get_job(job.id) == job


async def test_mark_failed_records_the_error_but_the_user_is_still_to_be_told(
    store: SqliteStore,
) -> None:
    job = await create(store, new_job(), T0)

    job = await store.mark_failed(job.id, "moderation", 0, T0)

    assert (job.state, job.error, job.cost_cents, job.finished_at) == (
        JobState.FAILED,
        "moderation",
        0,
        T0,
    )
    assert not job.notified


async def test_mark_notified_closes_the_job_and_drops_its_token(store: SqliteStore) -> None:
    job = await create(store, new_job(), T0)
    await store.mark_failed(job.id, "moderation", None, T0)

    job = await store.mark_notified(job.id)

    assert job.notified
    assert job.origin.interaction_token == ""


async def test_forget_token_drops_only_the_token(store: SqliteStore) -> None:
    job = await create(store, new_job(), T0)

    await store.forget_token(job.id)

    after = await store.get_job(job.id)
    assert after == replace(job, origin=replace(job.origin, interaction_token=""))


async def test_open_jobs_are_exactly_those_whose_user_was_not_told(store: SqliteStore) -> None:
    queued = await create(store, new_job(), T0)
    delivered = await create(store, new_job(), T0)
    await store.mark_delivered(delivered.id, 1, "file", T0)
    failed_untold = await create(store, new_job(), T0)
    await store.mark_failed(failed_untold.id, "boom", None, T0)
    failed_told = await create(store, new_job(), T0)
    await store.mark_failed(failed_told.id, "boom", None, T0)
    await store.mark_notified(failed_told.id)
    submitted = await create(store, new_job(), T0)
    await store.mark_submitted(submitted.id, "pred-1", 29, None, T0)

    open_ids = [job.id for job in await store.open_jobs()]

    assert open_ids == [queued.id, failed_untold.id, submitted.id]


# Usage -----------------------------------------------------------------------------------------

NOW = datetime(2025, 3, 15, 18, 30, 0, tzinfo=UTC)
TODAY_START = datetime(2025, 3, 15, tzinfo=UTC)
MONTH_START = datetime(2025, 3, 1, tzinfo=UTC)
ONE_SECOND = timedelta(seconds=1)


async def delivered_job(
    store: SqliteStore, created_at: datetime, *, duration_s: int, cost_cents: int
) -> Job:
    job = await create(store, new_job(ALICE, duration_s=duration_s), created_at)
    await store.mark_submitted(job.id, f"pred-{job.id}", cost_cents, None, created_at)
    await store.mark_completed(job.id, "https://assets.example/x.mp4", None, created_at)
    return await store.mark_delivered(job.id, 1, "file", created_at)


async def failed_job(store: SqliteStore, created_at: datetime, *, cost_cents: int) -> Job:
    job = await create(store, new_job(ALICE, duration_s=8), created_at)
    return await store.mark_failed(job.id, "boom", cost_cents, created_at)


async def test_usage_counts_today_from_utc_midnight(store: SqliteStore) -> None:
    await delivered_job(store, TODAY_START, duration_s=5, cost_cents=29)
    await failed_job(store, TODAY_START + timedelta(hours=3), cost_cents=10)
    await delivered_job(store, TODAY_START - ONE_SECOND, duration_s=4, cost_cents=100)

    report = await store.usage_report(ALICE, NOW)

    today = report.today
    assert (today.succeeded, today.failed, today.video_seconds, today.cost_cents) == (1, 1, 5, 39)


async def test_usage_counts_this_month_from_the_first_at_utc_midnight(
    store: SqliteStore,
) -> None:
    await delivered_job(store, MONTH_START, duration_s=6, cost_cents=29)
    await delivered_job(store, TODAY_START - ONE_SECOND, duration_s=4, cost_cents=29)
    await failed_job(store, MONTH_START + timedelta(days=3), cost_cents=0)
    await delivered_job(store, MONTH_START - ONE_SECOND, duration_s=12, cost_cents=500)

    report = await store.usage_report(ALICE, NOW)

    month = report.month
    assert (month.succeeded, month.failed, month.video_seconds, month.cost_cents) == (
        2,
        1,
        10,
        58,
    )


async def test_usage_all_time_counts_every_job_of_the_user_only(store: SqliteStore) -> None:
    await delivered_job(store, NOW - timedelta(days=400), duration_s=12, cost_cents=100)
    await delivered_job(store, NOW, duration_s=4, cost_cents=29)
    await failed_job(store, NOW - timedelta(days=40), cost_cents=5)
    bobs = await create(store, new_job(BOB), NOW)
    await store.mark_submitted(bobs.id, "pred-bob", 999, None, NOW)

    report = await store.usage_report(ALICE, NOW)

    total = report.all_time
    assert (total.succeeded, total.failed, total.video_seconds, total.cost_cents) == (
        2,
        1,
        16,
        134,
    )


async def test_usage_periods_follow_utc_even_when_now_has_another_offset(
    store: SqliteStore,
) -> None:
    # 01:30 on 1 April in UTC+2 is still 31 March in UTC.
    local_now = datetime(2025, 4, 1, 1, 30, tzinfo=timezone(timedelta(hours=2)))
    await delivered_job(store, datetime(2025, 3, 31, 12, 0, tzinfo=UTC), duration_s=5, cost_cents=1)

    report = await store.usage_report(ALICE, local_now)

    assert (report.today.succeeded, report.month.succeeded) == (1, 1)


async def test_usage_counts_unfinished_jobs_as_in_progress(store: SqliteStore) -> None:
    await in_flight(store, ALICE, 1)
    await create(store, new_job(ALICE), NOW)
    await delivered_job(store, NOW, duration_s=5, cost_cents=29)

    report = await store.usage_report(ALICE, NOW)

    assert report.in_progress == 2


async def test_usage_lists_the_latest_jobs_newest_first(store: SqliteStore) -> None:
    ids = []
    for hours_ago in (5, 1, 3, 2, 4, 6):
        job = await create(store, new_job(ALICE), NOW - timedelta(hours=hours_ago))
        ids.append((hours_ago, job.id))
    await create(store, new_job(BOB), NOW)

    report = await store.usage_report(ALICE, NOW, recent=3)

    by_age = dict(ids)
    assert [job.id for job in report.recent] == [by_age[1], by_age[2], by_age[3]]


async def test_usage_of_a_user_without_jobs_is_all_zero(store: SqliteStore) -> None:
    report = await store.usage_report(CAROL, NOW)

    assert (report.today.generations, report.month.generations, report.all_time.cost_cents) == (
        0,
        0,
        0,
    )
    assert (report.in_progress, report.recent) == (0, ())


# Meta ------------------------------------------------------------------------------------------


async def test_meta_of_an_unknown_key_is_none(store: SqliteStore) -> None:
    assert await store.get_meta("command_tree_hash") is None


async def test_meta_set_twice_keeps_the_latest_value(store: SqliteStore, db_path: Path) -> None:
    await store.set_meta("command_tree_hash", "abc")
    await store.set_meta("command_tree_hash", "def")

    assert await store.get_meta("command_tree_hash") == "def"
    async with await SqliteStore.open(db_path) as reopened:
        assert await reopened.get_meta("command_tree_hash") == "def"


# Lineage and deleted posts ---------------------------------------------------------------------


async def test_a_job_records_its_kind_and_parent(store: SqliteStore) -> None:
    parent = await create(store, new_job(), T0)
    child = await create(
        store, replace(new_job(), kind=JobKind.CONTINUE, parent_job_id=parent.id), T0
    )

    assert (parent.kind, parent.parent_job_id) == (JobKind.ANIMATE, None)
    reread = await store.get_job(child.id)
    assert reread is not None
    assert (reread.kind, reread.parent_job_id) == (JobKind.CONTINUE, parent.id)


async def test_a_deleted_post_is_recorded_once(store: SqliteStore) -> None:
    job = await create(store, new_job(), T0)

    assert await store.mark_post_deleted(job.id, T0 + timedelta(hours=1)) is True
    assert await store.mark_post_deleted(job.id, T0 + timedelta(hours=2)) is False
    reread = await store.get_job(job.id)
    assert reread is not None
    assert reread.post_deleted_at == T0 + timedelta(hours=1)
