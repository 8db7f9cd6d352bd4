"""A restart resumes every job by its stored state: never a second submit, never a lost clip."""

from __future__ import annotations

from bot.jobs import messages
from bot.jobs.model import (
    FailureKind,
    JobState,
)
from tests.unit.jobs.engine import (
    ALICE,
    MOD,
    MakeHarness,
    Restarted,
    wait_until,
)


async def test_resumed_queued_job_is_submitted(restarted: Restarted) -> None:
    job = restarted.jobs[JobState.QUEUED]

    await restarted.h.wait_state(job.id, JobState.SUBMITTED)

    assert restarted.new_submits().count(job.prompt) == 1


async def test_restart_with_nothing_but_a_queued_job_submits_it(
    make_harness: MakeHarness,
) -> None:
    # Nothing else finishes or fails to wake the dispatcher: start() itself must.
    h = make_harness()
    job = await h.seed(JobState.QUEUED, ALICE, "alone in the queue")

    await h.start()

    await h.wait_state(job.id, JobState.SUBMITTED)


async def test_resumed_claimed_job_goes_back_to_the_queue_then_is_submitted(
    restarted: Restarted,
) -> None:
    job = restarted.jobs[JobState.CLAIMED]

    await restarted.h.wait_state(job.id, JobState.SUBMITTED)

    assert restarted.h.store.history[job.id][:3] == [
        JobState.QUEUED,
        JobState.CLAIMED,
        JobState.SUBMITTING,
    ]
    assert restarted.new_submits().count(job.prompt) == 1


async def test_resumed_job_caught_mid_submit_fails_as_outcome_unknown_without_resending(
    restarted: Restarted,
) -> None:
    h, job = restarted.h, restarted.jobs[JobState.SUBMITTING]

    failed = await h.wait_notified(job.id)

    assert failed.state == JobState.FAILED
    told = messages.honest(
        messages.SUBMIT_OUTCOME_UNKNOWN, failed.cost_cents, FailureKind.SUBMIT_UNKNOWN, None
    ).render()
    assert failed.error == told
    assert messages.failed(told).render() in h.notifier.texts(job.id)
    # Once the dispatcher has sent the queued jobs, it is clear nothing else was (re-)sent.
    await h.wait_state(restarted.jobs[JobState.QUEUED].id, JobState.SUBMITTED)
    await h.wait_state(restarted.jobs[JobState.CLAIMED].id, JobState.SUBMITTED)
    assert sorted(restarted.new_submits()) == ["claimed at the restart", "queued at the restart"]


async def test_resumed_submitted_job_is_polled_and_delivered_without_resending(
    restarted: Restarted,
) -> None:
    h, job = restarted.h, restarted.jobs[JobState.SUBMITTED]
    assert job.prediction_id is not None
    prediction_id = job.prediction_id

    await wait_until(lambda: h.fake.status_polls(prediction_id) > 0)
    h.fake.complete_now(prediction_id)
    done = await h.wait_state(job.id, JobState.DELIVERED)

    assert done.delivered_as == "file"
    assert job.prompt not in restarted.new_submits()


async def test_resumed_completed_job_is_delivered(restarted: Restarted) -> None:
    h, job = restarted.h, restarted.jobs[JobState.COMPLETED]

    done = await h.wait_state(job.id, JobState.DELIVERED)

    assert done.delivered_as == "file"
    assert h.notifier.clips == [(job.id, h.fake.clip_bytes)]


async def test_resumed_failed_job_tells_the_user(restarted: Restarted) -> None:
    h, job = restarted.h, restarted.jobs[JobState.FAILED]

    told = await h.wait_notified(job.id)

    assert told.state == JobState.FAILED
    assert h.notifier.texts(job.id) == [messages.failed(messages.TIMED_OUT.render()).render()]


async def test_resumed_job_caught_mid_submit_is_recorded_as_outcome_unknown(
    make_harness: MakeHarness,
) -> None:
    h = make_harness()
    job = await h.seed(JobState.SUBMITTING, ALICE, "cut off mid-submit")

    await h.start()
    failed = await h.wait_notified(job.id)

    assert failed.failure_kind == FailureKind.SUBMIT_UNKNOWN
    assert h.fake.submits == []


async def test_resumed_cancelled_job_tells_the_user(make_harness: MakeHarness) -> None:
    h = make_harness()
    job = await h.seed(JobState.QUEUED, ALICE, "cancelled before the restart")
    await h.store.inner.cancel_job(job.id, MOD, h.clock())

    await h.start()

    await h.wait_notified(job.id)
    assert h.notifier.texts(job.id) == [messages.cancelled(MOD, ALICE).render()]
    assert h.fake.submits == []


async def test_job_cancelled_mid_submit_before_a_restart_is_settled_as_unknown(
    make_harness: MakeHarness,
) -> None:
    h = make_harness()
    job = await h.seed(JobState.SUBMITTING, ALICE, "cut off after its cancel", reserve=29)
    await h.store.inner.cancel_job(job.id, ALICE, h.clock())

    await h.start()

    told = await h.wait_notified(job.id)
    assert told.state == JobState.CANCELLED
    assert told.failure_kind == FailureKind.SUBMIT_UNKNOWN
    assert told.cost_cents == job.reserved_cents
    assert told.reserved_cents == 0
    assert h.fake.submits == []
