"""What the engine records through its metrics port: one start and one end per job, by kind,
and a delivered clip's lag from when the API says it finished making it."""

from __future__ import annotations

from bot.jobs.model import JobKind, JobState
from tests.unit.jobs.engine import ALICE, MODERATION, Harness, actor


async def test_a_delivered_job_records_its_start_and_its_delivery_once(h: Harness) -> None:
    job = await h.accept()

    await h.wait_notified(job.id)

    assert h.metrics.events == [("started", JobKind.ANIMATE), ("delivered", JobKind.ANIMATE)]
    assert len(h.metrics.lags_s) == 1


async def test_the_delivery_lag_counts_from_the_api_s_completed_at(h: Harness) -> None:
    h.fake.hold()
    job = await h.accept()
    submitted = await h.wait_state(job.id, JobState.SUBMITTED)
    assert submitted.prediction_id is not None
    h.fake.complete_now(submitted.prediction_id)  # made now, by the API's clock
    h.clock.advance(40)  # the bot sees it 40 s later

    await h.wait_notified(job.id)

    (lag_s,) = h.metrics.lags_s
    assert 40 <= lag_s < 45  # not from when the bot saw it done (that would be about 0)


async def test_a_failed_job_records_its_failure_once(h: Harness) -> None:
    h.fake.fail_prompts_containing = {"forbidden": MODERATION}
    job = await h.accept(prompt="something forbidden")

    await h.wait_notified(job.id)

    assert h.metrics.events == [("started", JobKind.ANIMATE), ("failed", JobKind.ANIMATE)]


async def test_a_cancelled_job_records_neither_delivery_nor_failure(h: Harness) -> None:
    h.fake.hold()
    job = await h.accept()
    await h.wait_state(job.id, JobState.SUBMITTED)

    await h.service.cancel(job.id, actor(ALICE))
    await h.wait_notified(job.id)

    assert h.metrics.events == [("started", JobKind.ANIMATE)]
