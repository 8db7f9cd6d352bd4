"""The storage contract: what every backend must do, run against each (SQLite and PostgreSQL,
through the `store` fixture). Jobs' life cycle and guarded moves, queue rules, usage figures,
meta, bot-wide locks.

Backend-specific behaviour is tested beside it: SQLite's pragmas, refusals, plans and
migrations in `test_sqlite.py`, PostgreSQL's migrations and cross-process limits in
`test_postgresql.py`."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from bot.jobs.model import (
    TRANSITIONS,
    DeliveryRoute,
    FailureKind,
    GenerationSettings,
    Job,
    JobChange,
    JobKind,
    JobState,
    NewJob,
    OptionDefaults,
    RefusedInput,
)
from bot.members.model import MemberDefaults
from bot.storage import Store
from tests import factories
from tests.factories import LEASE

T0 = datetime(2025, 3, 15, 10, 0, 0, tzinfo=UTC)
ALICE, BOB, CAROL = 1001, 1002, 1003


def new_job(user_id: int = ALICE, *, duration_s: int = 5, prompt: str = "The cat blinks") -> NewJob:
    return factories.new_job(user_id, now=T0, duration_s=duration_s, prompt=prompt)


async def create(store: Store, new: NewJob, now: datetime) -> Job:
    """Admit a job with no limit in the way."""
    return await factories.admit(store, new, now)


async def admit_under(
    store: Store, new: NewJob, max_open_per_user: int, now: datetime = T0
) -> Job | None:
    """Admit a job unless its user already has `max_open_per_user` unfinished jobs."""
    result = await store.admit(
        new,
        now,
        reserve_cents=0,
        cooldown_s=0,
        decide=lambda usage: "too many" if usage.open_anywhere >= max_open_per_user else None,
    )
    return result if isinstance(result, Job) else None


async def state_of(store: Store, job_id: int) -> JobState:
    job = await store.get_job(job_id)
    assert job is not None
    return job.state


async def in_flight(store: Store, user_id: int, count: int) -> list[Job]:
    """Create `count` jobs of `user_id` already claimed for sending to the API (CLAIMED).

    Call it before queueing other jobs: it claims the oldest queued job.
    """
    jobs = []
    for _ in range(count):
        created = await create(store, new_job(user_id), T0)
        claimed = await store.claim_next_queued(max_in_flight=100, max_per_user=100, lease=LEASE)
        assert claimed is not None
        assert claimed.id == created.id
        jobs.append(claimed)
    return jobs


async def test_failure_kind_and_delivery_route_are_stored(store: Store) -> None:
    job = await create(store, new_job(), T0)

    await store.update(job.id, JobChange(failure_kind=FailureKind.SUBMIT_UNKNOWN))
    await store.update(
        job.id, JobChange(delivered_via=DeliveryRoute.DM, delivery_note="channel post refused: 403")
    )

    stored = await store.get_job(job.id)
    assert stored is not None
    assert stored.failure_kind == FailureKind.SUBMIT_UNKNOWN
    assert (stored.delivered_via, stored.delivery_note) == (
        DeliveryRoute.DM,
        "channel post refused: 403",
    )


# Jobs ------------------------------------------------------------------------------------------


async def test_admit_round_trips_every_field(store: Store) -> None:
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

    job = await admit_under(store, new, 1, created_at)

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


async def test_get_job_of_an_unknown_id_is_none(store: Store) -> None:
    assert await store.get_job(12345) is None


async def test_job_state_follows_the_stored_state(store: Store) -> None:
    job = await create(store, new_job(ALICE), T0)
    assert await store.job_state(job.id) == JobState.QUEUED

    await factories.record(store, job.id, JobState.SUBMITTING)

    assert await store.job_state(job.id) == JobState.SUBMITTING
    assert await store.job_state(12345) is None


async def test_claim_takes_the_oldest_queued_job(store: Store) -> None:
    first = await create(store, new_job(ALICE), T0)
    await create(store, new_job(BOB), T0)

    claimed = await store.claim_next_queued(max_in_flight=10, max_per_user=10, lease=LEASE)

    assert claimed is not None
    assert (claimed.id, claimed.state) == (first.id, JobState.CLAIMED)
    assert await state_of(store, first.id) == JobState.CLAIMED


async def test_claim_returns_none_when_nothing_is_queued(store: Store) -> None:
    assert await store.claim_next_queued(max_in_flight=10, max_per_user=10, lease=LEASE) is None


async def test_claim_honours_the_global_in_flight_cap(store: Store) -> None:
    await in_flight(store, ALICE, 1)
    await in_flight(store, BOB, 1)
    waiting = await create(store, new_job(CAROL), T0)

    assert await store.claim_next_queued(max_in_flight=2, max_per_user=10, lease=LEASE) is None
    assert await state_of(store, waiting.id) == JobState.QUEUED


async def test_claim_skips_a_capped_user_for_the_next_users_job(store: Store) -> None:
    await in_flight(store, ALICE, 2)
    alice_waiting = await create(store, new_job(ALICE), T0)
    bob_waiting = await create(store, new_job(BOB), T0)

    claimed = await store.claim_next_queued(max_in_flight=10, max_per_user=2, lease=LEASE)

    assert claimed is not None
    assert claimed.id == bob_waiting.id
    assert await state_of(store, alice_waiting.id) == JobState.QUEUED


async def test_claim_returns_none_when_every_queued_job_belongs_to_a_capped_user(
    store: Store,
) -> None:
    await in_flight(store, ALICE, 2)
    await create(store, new_job(ALICE), T0)

    assert await store.claim_next_queued(max_in_flight=10, max_per_user=2, lease=LEASE) is None


async def test_finished_jobs_free_their_in_flight_slot(store: Store) -> None:
    (running,) = await in_flight(store, ALICE, 1)
    await factories.fail(store, running.id, "boom", None, T0)
    await factories.told(store, running.id)
    waiting = await create(store, new_job(ALICE), T0)

    claimed = await store.claim_next_queued(max_in_flight=1, max_per_user=1, lease=LEASE)

    assert claimed is not None
    assert claimed.id == waiting.id


async def test_queue_position_counts_queued_jobs_up_to_and_including_this_one(
    store: Store,
) -> None:
    jobs = [await create(store, new_job(user), T0) for user in (ALICE, BOB, CAROL)]

    assert [await store.queue_position(j.id) for j in jobs] == [1, 2, 3]


async def test_queue_position_ignores_jobs_already_sent(store: Store) -> None:
    await in_flight(store, ALICE, 2)
    waiting = await create(store, new_job(BOB), T0)

    assert await store.queue_position(waiting.id) == 1


async def test_queue_position_is_zero_once_the_job_left_the_queue(store: Store) -> None:
    job = await create(store, new_job(), T0)
    await store.claim_next_queued(max_in_flight=10, max_per_user=10, lease=LEASE)

    assert await store.queue_position(job.id) == 0


async def test_requeued_job_keeps_its_place_ahead_of_later_jobs(store: Store) -> None:
    first = await create(store, new_job(ALICE), T0)
    second = await create(store, new_job(BOB), T0)
    await store.claim_next_queued(max_in_flight=10, max_per_user=10, lease=LEASE)

    requeued = await factories.record(store, first.id, JobState.QUEUED)

    assert requeued.state == JobState.QUEUED
    assert [await store.queue_position(j.id) for j in (first, second)] == [1, 2]
    claimed = await store.claim_next_queued(max_in_flight=10, max_per_user=10, lease=LEASE)
    assert claimed is not None
    assert claimed.id == first.id


async def test_open_job_limit_counts_only_that_users_unfinished_jobs(store: Store) -> None:
    await in_flight(store, ALICE, 1)
    await create(store, new_job(ALICE), T0)
    failed = await create(store, new_job(ALICE), T0)
    await factories.fail(store, failed.id, "boom", None, T0)
    delivered = await create(store, new_job(ALICE), T0)
    await factories.deliver(store, delivered.id, 1, "file", T0)
    await create(store, new_job(BOB), T0)
    await create(store, new_job(BOB), T0)

    # Alice has 2 unfinished jobs (claimed and queued): a 3rd fits under 3, a 4th does not.
    third = await admit_under(store, new_job(ALICE), 3)
    fourth = await admit_under(store, new_job(ALICE), 3)

    assert third is not None
    assert fourth is None


async def test_admission_refuses_a_users_job_over_the_limit_but_not_another_users(
    store: Store,
) -> None:
    admitted = [await admit_under(store, new_job(ALICE), 2) for _ in range(2)]
    before = await store.open_jobs()

    refused = await admit_under(store, new_job(ALICE), 2)
    bobs = await admit_under(store, new_job(BOB), 2)

    assert all(job is not None for job in admitted)
    assert refused is None
    assert bobs is not None
    assert bobs.origin.user_id == BOB
    assert [job.id for job in await store.open_jobs()] == [*(j.id for j in before), bobs.id]


async def test_a_finished_job_makes_room_under_the_open_job_limit(store: Store) -> None:
    job = await create(store, new_job(ALICE), T0)
    assert await admit_under(store, new_job(ALICE), 1) is None
    await factories.deliver(store, job.id, 1, "file", T0)

    assert await admit_under(store, new_job(ALICE), 1) is not None


async def test_concurrent_admits_admit_exactly_the_limit(store: Store) -> None:
    results = await asyncio.gather(*(admit_under(store, new_job(ALICE), 3) for _ in range(10)))

    admitted = [job for job in results if job is not None]
    assert len(admitted) == 3
    assert len({job.id for job in admitted}) == 3
    assert [job.id for job in await store.open_jobs()] == sorted(job.id for job in admitted)


async def test_set_state_changes_only_the_state_and_persists_it(store: Store) -> None:
    job = await create(store, new_job(), T0)

    changed = await factories.record(store, job.id, JobState.DELIVERING)

    assert changed == replace(job, state=JobState.DELIVERING)
    assert await store.get_job(job.id) == changed


@pytest.mark.parametrize(
    "state", [JobState.CLAIMED, JobState.SUBMITTING, JobState.SUBMITTED], ids=str
)
async def test_claimed_submitting_and_submitted_jobs_count_toward_both_caps(
    store: Store, state: JobState
) -> None:
    (running,) = await in_flight(store, ALICE, 1)
    await factories.record(store, running.id, state)
    alice_waiting = await create(store, new_job(ALICE), T0)
    bob_waiting = await create(store, new_job(BOB), T0)

    assert await store.claim_next_queued(max_in_flight=1, max_per_user=10, lease=LEASE) is None
    claimed = await store.claim_next_queued(max_in_flight=10, max_per_user=1, lease=LEASE)

    assert claimed is not None
    assert claimed.id == bob_waiting.id
    assert await state_of(store, alice_waiting.id) == JobState.QUEUED


@pytest.mark.parametrize(
    "state", [JobState.COMPLETED, JobState.DELIVERING, JobState.FAILED], ids=str
)
async def test_jobs_past_the_api_hold_no_in_flight_slot(store: Store, state: JobState) -> None:
    (done,) = await in_flight(store, ALICE, 1)
    await factories.record(store, done.id, state)
    waiting = await create(store, new_job(ALICE), T0)

    claimed = await store.claim_next_queued(max_in_flight=1, max_per_user=1, lease=LEASE)

    assert claimed is not None
    assert claimed.id == waiting.id


# State transitions -----------------------------------------------------------------------------


async def test_mark_submitted_records_the_prediction_cost_and_estimate(
    store: Store,
) -> None:
    job = await create(store, new_job(), T0)

    job = await factories.submit(store, job.id, "pred-1", 29, (60.0, 120.0), T0)

    assert job.state == JobState.SUBMITTED
    assert (job.prediction_id, job.cost_cents) == ("pred-1", 29)
    assert (job.estimate_low_s, job.estimate_high_s) == (60.0, 120.0)
    assert job.submitted_at == T0


async def test_mark_submitted_without_estimate_stores_none(store: Store) -> None:
    job = await create(store, new_job(), T0)

    job = await factories.submit(store, job.id, "pred-1", 29, None, T0)

    assert (job.estimate_low_s, job.estimate_high_s) == (None, None)


async def test_mark_completed_keeps_the_cost_when_the_api_gives_none(
    store: Store,
) -> None:
    job = await create(store, new_job(), T0)
    await factories.submit(store, job.id, "pred-1", 29, None, T0)
    done_at = T0 + timedelta(seconds=90)

    job = await factories.complete(store, job.id, "https://assets.example/x.mp4", None, done_at)

    assert job.state == JobState.COMPLETED
    assert (job.output_url, job.cost_cents, job.completed_at) == (
        "https://assets.example/x.mp4",
        29,
        done_at,
    )


async def test_mark_completed_takes_the_final_cost_when_given(store: Store) -> None:
    job = await create(store, new_job(), T0)
    await factories.submit(store, job.id, "pred-1", 29, None, T0)

    job = await factories.complete(store, job.id, "https://assets.example/x.mp4", 58, T0)

    assert job.cost_cents == 58


async def test_mark_delivered_finishes_and_notifies_the_job(store: Store) -> None:
    job = await create(store, new_job(), T0)
    assert (await factories.record(store, job.id, JobState.DELIVERING)).state == JobState.DELIVERING
    finished_at = T0 + timedelta(minutes=2)

    job = await factories.deliver(store, job.id, 4242, "file", finished_at)

    assert job.state == JobState.DELIVERED
    assert (job.message_id, job.delivered_as, job.finished_at) == (4242, "file", finished_at)
    assert job.notified
    assert job.origin.interaction_token == ""
    assert await store.get_job(job.id) == job


async def test_mark_failed_records_the_error_but_the_user_is_still_to_be_told(
    store: Store,
) -> None:
    job = await create(store, new_job(), T0)

    job = await factories.fail(store, job.id, "moderation", 0, T0)

    assert (job.state, job.error, job.cost_cents, job.finished_at) == (
        JobState.FAILED,
        "moderation",
        0,
        T0,
    )
    assert not job.notified


async def test_mark_notified_closes_the_job_and_drops_its_token(store: Store) -> None:
    job = await create(store, new_job(), T0)
    await factories.fail(store, job.id, "moderation", None, T0)

    job = await factories.told(store, job.id)

    assert job.notified
    assert job.origin.interaction_token == ""


async def test_dropping_the_token_drops_only_the_token(store: Store) -> None:
    job = await create(store, new_job(), T0)

    await store.update(job.id, JobChange(drop_token=True))

    after = await store.get_job(job.id)
    assert after == replace(job, origin=replace(job.origin, interaction_token=""))


async def test_open_jobs_are_exactly_those_whose_user_was_not_told(store: Store) -> None:
    queued = await create(store, new_job(), T0)
    delivered = await create(store, new_job(), T0)
    await factories.deliver(store, delivered.id, 1, "file", T0)
    failed_untold = await create(store, new_job(), T0)
    await factories.fail(store, failed_untold.id, "boom", None, T0)
    failed_told = await create(store, new_job(), T0)
    await factories.fail(store, failed_told.id, "boom", None, T0)
    await factories.told(store, failed_told.id)
    submitted = await create(store, new_job(), T0)
    await factories.submit(store, submitted.id, "pred-1", 29, None, T0)

    open_ids = [job.id for job in await store.open_jobs()]

    assert open_ids == [queued.id, failed_untold.id, submitted.id]


# Usage -----------------------------------------------------------------------------------------

NOW = datetime(2025, 3, 15, 18, 30, 0, tzinfo=UTC)
TODAY_START = datetime(2025, 3, 15, tzinfo=UTC)
MONTH_START = datetime(2025, 3, 1, tzinfo=UTC)
ONE_SECOND = timedelta(seconds=1)


async def delivered_job(
    store: Store, created_at: datetime, *, duration_s: int, cost_cents: int
) -> Job:
    job = await create(store, new_job(ALICE, duration_s=duration_s), created_at)
    await factories.submit(store, job.id, f"pred-{job.id}", cost_cents, None, created_at)
    await factories.complete(store, job.id, "https://assets.example/x.mp4", None, created_at)
    return await factories.deliver(store, job.id, 1, "file", created_at)


async def failed_job(store: Store, created_at: datetime, *, cost_cents: int) -> Job:
    job = await create(store, new_job(ALICE, duration_s=8), created_at)
    return await factories.fail(store, job.id, "boom", cost_cents, created_at)


async def test_usage_counts_today_from_utc_midnight(store: Store) -> None:
    await delivered_job(store, TODAY_START, duration_s=5, cost_cents=29)
    await failed_job(store, TODAY_START + timedelta(hours=3), cost_cents=10)
    await delivered_job(store, TODAY_START - ONE_SECOND, duration_s=4, cost_cents=100)

    report = await store.usage_report(ALICE, NOW)

    today = report.today
    assert (today.succeeded, today.failed, today.video_seconds, today.cost_cents) == (1, 1, 5, 39)


async def test_usage_counts_this_month_from_the_first_at_utc_midnight(
    store: Store,
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


async def test_usage_all_time_counts_every_job_of_the_user_only(store: Store) -> None:
    await delivered_job(store, NOW - timedelta(days=400), duration_s=12, cost_cents=100)
    await delivered_job(store, NOW, duration_s=4, cost_cents=29)
    await failed_job(store, NOW - timedelta(days=40), cost_cents=5)
    bobs = await create(store, new_job(BOB), NOW)
    await factories.submit(store, bobs.id, "pred-bob", 999, None, NOW)

    report = await store.usage_report(ALICE, NOW)

    total = report.all_time
    assert (total.succeeded, total.failed, total.video_seconds, total.cost_cents) == (
        2,
        1,
        16,
        134,
    )


async def test_usage_periods_follow_utc_even_when_now_has_another_offset(
    store: Store,
) -> None:
    # 01:30 on 1 April in UTC+2 is still 31 March in UTC.
    local_now = datetime(2025, 4, 1, 1, 30, tzinfo=timezone(timedelta(hours=2)))
    await delivered_job(store, datetime(2025, 3, 31, 12, 0, tzinfo=UTC), duration_s=5, cost_cents=1)

    report = await store.usage_report(ALICE, local_now)

    assert (report.today.succeeded, report.month.succeeded) == (1, 1)


async def test_usage_counts_unfinished_jobs_as_in_progress(store: Store) -> None:
    await in_flight(store, ALICE, 1)
    await create(store, new_job(ALICE), NOW)
    await delivered_job(store, NOW, duration_s=5, cost_cents=29)

    report = await store.usage_report(ALICE, NOW)

    assert report.in_progress == 2


async def test_usage_lists_the_latest_jobs_newest_first(store: Store) -> None:
    ids = []
    for hours_ago in (5, 1, 3, 2, 4, 6):
        job = await create(store, new_job(ALICE), NOW - timedelta(hours=hours_ago))
        ids.append((hours_ago, job.id))
    await create(store, new_job(BOB), NOW)

    report = await store.usage_report(ALICE, NOW, recent=3)

    by_age = dict(ids)
    assert [job.id for job in report.recent] == [by_age[1], by_age[2], by_age[3]]


async def test_usage_of_a_user_without_jobs_is_all_zero(store: Store) -> None:
    report = await store.usage_report(CAROL, NOW)

    assert (report.today.generations, report.month.generations, report.all_time.cost_cents) == (
        0,
        0,
        0,
    )
    assert (report.in_progress, report.recent) == (0, ())


# Meta ------------------------------------------------------------------------------------------


async def test_meta_of_an_unknown_key_is_none(store: Store) -> None:
    assert await store.get_meta("command_tree_hash") is None


async def test_meta_set_twice_keeps_the_latest_value(
    store: Store, reopen: Callable[[], AbstractAsyncContextManager[Store]]
) -> None:
    await store.set_meta("command_tree_hash", "abc")
    await store.set_meta("command_tree_hash", "def")

    assert await store.get_meta("command_tree_hash") == "def"
    async with reopen() as reopened:
        assert await reopened.get_meta("command_tree_hash") == "def"


# Lineage and deleted posts ---------------------------------------------------------------------


async def test_a_job_records_its_kind_and_parent(store: Store) -> None:
    parent = await create(store, new_job(), T0)
    child = await create(
        store, replace(new_job(), kind=JobKind.CONTINUE, parent_job_id=parent.id), T0
    )

    assert (parent.kind, parent.parent_job_id) == (JobKind.ANIMATE, None)
    reread = await store.get_job(child.id)
    assert reread is not None
    assert (reread.kind, reread.parent_job_id) == (JobKind.CONTINUE, parent.id)


async def test_a_deleted_post_is_recorded_once(store: Store) -> None:
    job = await create(store, new_job(), T0)

    assert await store.mark_post_deleted(job.id, T0 + timedelta(hours=1)) is True
    assert await store.mark_post_deleted(job.id, T0 + timedelta(hours=2)) is False
    reread = await store.get_job(job.id)
    assert reread is not None
    assert reread.post_deleted_at == T0 + timedelta(hours=1)


# Guarded moves -----------------------------------------------------------------------------------


async def job_at(store: Store, state: JobState) -> Job:
    """A fresh job taken to `state` by legal moves."""
    job = await create(store, new_job(), T0)
    return await factories.record(store, job.id, state)


@pytest.mark.parametrize(("start", "to"), list(itertools.product(JobState, JobState)), ids=str)
async def test_a_move_succeeds_exactly_when_the_table_allows_it(
    store: Store, start: JobState, to: JobState
) -> None:
    job = await job_at(store, start)
    assert job.state == start

    moved = await store.move(job.id, to, JobChange(error="a fact"))

    if to in TRANSITIONS[start]:
        assert moved is not None
        assert (moved.state, moved.error) == (to, "a fact")
        assert await store.get_job(job.id) == moved
    else:
        assert moved is None
        assert await store.get_job(job.id) == job  # nothing written, facts included


async def test_move_writes_the_state_and_only_the_facts_given(store: Store) -> None:
    job = await job_at(store, JobState.SUBMITTING)
    change = JobChange(
        prediction_id="pred-1",
        cost_cents=29,
        reserved_cents=0,
        estimate_s=(60.0, 120.0),
        submitted_at=T0 + timedelta(seconds=3),
    )

    moved = await store.move(job.id, JobState.SUBMITTED, change)

    assert moved == replace(
        job,
        state=JobState.SUBMITTED,
        prediction_id="pred-1",
        cost_cents=29,
        reserved_cents=0,
        estimate_low_s=60.0,
        estimate_high_s=120.0,
        submitted_at=T0 + timedelta(seconds=3),
    )


async def test_update_records_every_fact_and_leaves_the_state(store: Store) -> None:
    job = await job_at(store, JobState.DELIVERING)
    at = T0 + timedelta(minutes=5)

    updated = await store.update(
        job.id,
        JobChange(
            output_url="https://assets.example/x.mp4",
            completed_at=at,
            finished_at=at,
            error="e",
            message_id=42,
            delivered_as="link",
            failure_kind=FailureKind.UNDELIVERABLE,
            delivered_via=DeliveryRoute.FOLLOWUP,
            delivery_note="channel post refused: 403",
            mod_log_channel_id=7,
            mod_log_message_id=8,
            notified=True,
            drop_token=True,
        ),
    )

    assert updated == replace(
        job,
        output_url="https://assets.example/x.mp4",
        completed_at=at,
        finished_at=at,
        error="e",
        message_id=42,
        delivered_as="link",
        failure_kind=FailureKind.UNDELIVERABLE,
        delivered_via=DeliveryRoute.FOLLOWUP,
        delivery_note="channel post refused: 403",
        mod_log_channel_id=7,
        mod_log_message_id=8,
        notified=True,
        origin=replace(job.origin, interaction_token=""),
    )
    assert await store.get_job(job.id) == updated


async def test_update_of_an_unknown_job_raises(store: Store) -> None:
    with pytest.raises(LookupError):
        await store.update(12345, JobChange(error="x"))


async def test_a_move_of_an_unknown_job_is_refused(store: Store) -> None:
    assert await store.move(12345, JobState.CLAIMED) is None


async def test_a_cancelled_job_refuses_every_later_step(store: Store) -> None:
    job = await job_at(store, JobState.SUBMITTED)
    cancelled = await store.cancel_job(job.id, ALICE, T0)
    assert cancelled is not None

    for to in (JobState.COMPLETED, JobState.DELIVERING, JobState.DELIVERED, JobState.FAILED):
        assert await store.move(job.id, to) is None
    assert await store.get_job(job.id) == cancelled


# Bot-wide locks ---------------------------------------------------------------------------------


async def test_a_held_lock_makes_the_next_holder_wait_until_it_is_let_go(store: Store) -> None:
    order: list[str] = []
    first_in = asyncio.Event()

    async def first() -> None:
        async with store.hold_lock("command-sync"):
            order.append("first in")
            first_in.set()
            await asyncio.sleep(0.05)
            order.append("first out")

    async def second() -> None:
        await first_in.wait()
        async with store.hold_lock("command-sync"):
            order.append("second in")

    await asyncio.wait_for(asyncio.gather(first(), second()), 5)

    assert order == ["first in", "first out", "second in"]


async def test_try_lock_is_refused_while_another_holds_it_and_granted_after(store: Store) -> None:
    async with store.try_lock("retention") as first:
        async with store.try_lock("retention") as second:
            assert (first, second) == (True, False)
        async with store.try_lock("another name") as other:
            assert other is True
    async with store.try_lock("retention") as again:
        assert again is True


async def test_try_lock_is_refused_while_the_lock_is_held_by_hold_lock(store: Store) -> None:
    async with store.hold_lock("identify-bucket-0"), store.try_lock("identify-bucket-0") as taken:
        assert taken is False
    async with store.try_lock("identify-bucket-0") as taken:
        assert taken is True


# Groups (variations) and drafts -----------------------------------------------------------------


async def test_admit_group_stores_every_variation_in_one_group_in_order(store: Store) -> None:
    news = [new_job(prompt=f"variation {i}") for i in range(3)]

    admitted = await store.admit_group(
        news, T0, reserve_cents=29, cooldown_s=0, decide=lambda usage: None
    )

    assert isinstance(admitted, list)
    leader = admitted[0]
    assert [(j.group_id, j.group_index) for j in admitted] == [(leader.id, i) for i in range(3)]
    assert [j.reserved_cents for j in admitted] == [29, 29, 29]
    assert await store.group_jobs(leader.id) == admitted
    assert await store.group_jobs(leader.id + 100) == []


async def test_admit_group_refused_stores_none_of_them(store: Store) -> None:
    await create(store, new_job(), T0)
    news = [new_job(prompt=f"variation {i}") for i in range(4)]

    # The decision sees the usage before the group: one open job, so four more make five.
    refused = await store.admit_group(
        news,
        T0,
        reserve_cents=0,
        cooldown_s=0,
        decide=lambda usage: "too many" if usage.open_anywhere + 4 > 4 else None,
    )

    assert refused == "too many"
    assert len(await store.open_jobs()) == 1


async def test_a_drafts_final_settings_round_trip(store: Store) -> None:
    final = GenerationSettings(
        duration_s=8,
        resolution="1080p",
        aspect_ratio="16:9",
        camera_fixed=False,
        seed=12,
        generate_audio=False,
    )

    job = await create(store, replace(new_job(), final_settings=final), T0)

    assert job.final_settings == final
    assert (await store.get_job(job.id)) == job
    assert (await create(store, new_job(), T0)).final_settings is None


# Saved defaults and what the API objected to ------------------------------------------------------


async def test_a_member_without_saved_defaults_has_none(store: Store) -> None:
    assert await store.member_defaults(1, ALICE) == MemberDefaults()


async def test_saved_defaults_are_kept_per_member_and_server(store: Store) -> None:
    mine = MemberDefaults(
        options=OptionDefaults(
            duration_s=8,
            resolution="1080p",
            aspect_ratio="9:16",
            camera_fixed=True,
            generate_audio=False,
        ),
        variations=3,
    )
    await store.set_member_defaults(1, ALICE, mine, T0)
    await store.set_member_defaults(2, ALICE, MemberDefaults(variations=2), T0)

    assert await store.member_defaults(1, ALICE) == mine
    assert await store.member_defaults(2, ALICE) == MemberDefaults(variations=2)
    assert await store.member_defaults(1, BOB) == MemberDefaults()


async def test_saving_defaults_again_replaces_them(store: Store) -> None:
    await store.set_member_defaults(1, ALICE, MemberDefaults(variations=4), T0)
    cleared = MemberDefaults(options=OptionDefaults(generate_audio=True))

    await store.set_member_defaults(1, ALICE, cleared, T0 + timedelta(seconds=1))

    assert await store.member_defaults(1, ALICE) == cleared


async def test_the_input_the_api_objected_to_is_kept_with_the_failure(store: Store) -> None:
    job = await create(store, new_job(), T0)

    failed = await store.update(job.id, JobChange(refused_input=RefusedInput.PROMPT))

    assert failed.refused_input is RefusedInput.PROMPT
    assert (await store.get_job(job.id)) == failed
