"""A job at the video API: dispatch under the in-flight caps, submit (at most once), polling."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

import bot.jobs.progress
from bot.jobs import messages
from bot.jobs.model import (
    FailureKind,
    JobState,
)
from tests.unit.jobs.engine import (
    ALICE,
    BOB,
    WAIT_S,
    Harness,
    MakeHarness,
    wait_until,
)


async def test_a_job_sent_at_once_goes_straight_to_generating(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A long delay, so that the outcome cannot depend on how fast this machine is.
    monkeypatch.setattr(bot.jobs.progress, "STEP_SHOW_DELAY_S", 30.0)
    h.fake.hold()  # it cannot be done before its first progress edit, however slow that is
    job = await h.accept()

    await wait_until(lambda: bool(h.notifier.texts(job.id)))
    (prediction_id,) = h.fake.predictions
    h.fake.complete_now(prediction_id)
    await h.wait_state(job.id, JobState.DELIVERED)
    await wait_until(lambda: any("Done" in t for t in h.notifier.texts(job.id)))

    texts = h.notifier.texts(job.id)
    assert texts[0].startswith("🎬 **Generating**")
    assert not any(t.startswith(messages.SUBMITTING.render()) for t in texts)
    assert not any(t.startswith("⏳ **Queued**") for t in texts)


async def test_a_slow_submit_shows_that_the_job_is_being_sent(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bot.jobs.progress, "STEP_SHOW_DELAY_S", 0.05)
    h.sleeper.gate = asyncio.Event()
    h.fake.fail_next("submit", 429)
    job = await h.accept()
    await asyncio.wait_for(h.sleeper.entered.wait(), WAIT_S)  # the client waits to retry

    await wait_until(
        lambda: any(t.startswith(messages.SUBMITTING.render()) for t in h.notifier.texts(job.id))
    )
    h.sleeper.gate.set()
    await h.wait_state(job.id, JobState.DELIVERED)


async def test_second_job_of_a_user_at_the_in_flight_cap_waits_while_another_user_goes_first(
    make_harness: MakeHarness,
) -> None:
    h = make_harness(max_jobs_in_flight_per_user=1)
    await h.start()
    h.fake.hold()
    first = await h.accept(ALICE, prompt="alice one")
    second = await h.accept(ALICE, prompt="alice two")
    other = await h.accept(BOB, prompt="bob one")

    await h.wait_state(other.id, JobState.SUBMITTED)

    assert (await h.job(first.id)).state == JobState.SUBMITTED
    assert (await h.job(second.id)).state == JobState.QUEUED
    assert sorted(h.submitted_prompts()) == ["alice one", "bob one"]
    # Once Alice's first job is done, her second one goes out.
    h.fake.complete_now(h.prediction_id_of("alice one"))
    await h.wait_state(second.id, JobState.SUBMITTED)


async def test_image_link_about_to_expire_fails_at_submit_without_calling_the_api(
    h: Harness,
) -> None:
    expires = int((h.clock() + timedelta(seconds=90)).timestamp())
    url = f"{h.image_url}?ex={expires:x}&is={expires - 86400:x}&hm=abc123&"

    job = await h.accept(image_url=url)
    failed = await h.wait_notified(job.id)

    assert failed.state == JobState.FAILED
    told = messages.honest(messages.IMAGE_LINK_EXPIRED, 0, None, None).render()
    assert failed.error == told
    assert messages.NOT_CHARGED.render() in told
    assert failed.cost_cents == 0
    assert h.fake.submits == []
    assert messages.failed(told).render() in h.notifier.texts(job.id)


async def test_persistent_429_on_submit_requeues_the_job_and_submits_it_once_the_api_recovers(
    h: Harness,
) -> None:
    attempts = 1 + h.settings.api_max_retries
    h.fake.fail_next("submit", 429, times=attempts)

    job = await h.accept()
    done = await h.wait_state(job.id, JobState.DELIVERED)

    history = h.store.history[job.id]
    requeued_at = history.index(JobState.QUEUED)
    assert JobState.SUBMITTING in history[:requeued_at]
    assert history[requeued_at + 1 :].count(JobState.SUBMITTED) == 1
    assert messages.SERVICE_BUSY.render() in h.notifier.texts(job.id)
    assert len(h.fake.submits) == attempts + 1
    assert list(h.fake.predictions) == [done.prediction_id]


async def test_stop_during_a_submit_retry_sends_nothing_more_and_requeues_the_job(
    h: Harness,
) -> None:
    h.sleeper.gate = asyncio.Event()
    h.fake.fail_next("submit", 429)
    job = await h.accept()
    await asyncio.wait_for(h.sleeper.entered.wait(), WAIT_S)  # the client waits to retry

    stopping = asyncio.create_task(h.service.stop(grace_s=1.0))
    await asyncio.sleep(0)  # stop() marks the service as closing before its first await
    h.sleeper.gate.set()
    await asyncio.wait_for(stopping, WAIT_S)

    assert len(h.fake.submits) == 1
    assert h.fake.predictions == {}
    assert (await h.job(job.id)).state == JobState.QUEUED


async def test_prediction_processing_past_the_job_timeout_fails_and_tells_the_user(
    make_harness: MakeHarness,
) -> None:
    h = make_harness(job_timeout_s=60)
    await h.start()
    h.fake.hold()
    job = await h.accept()
    await h.wait_state(job.id, JobState.SUBMITTED)

    h.clock.advance(61)
    failed = await h.wait_notified(job.id)

    assert failed.state == JobState.FAILED
    told = messages.honest(messages.TIMED_OUT, failed.cost_cents, None, None).render()
    assert failed.error == told
    assert messages.failed(told).render() in h.notifier.texts(job.id)
    assert h.notifier.failures == []  # the token still works: told in the progress message


async def test_api_unreachable_past_the_job_timeout_keeps_the_job_until_it_answers(
    make_harness: MakeHarness,
) -> None:
    h = make_harness(job_timeout_s=60)
    await h.start()
    h.fake.hold()
    job = await h.accept()
    await h.wait_state(job.id, JobState.SUBMITTED)
    polls = len([r for r in h.fake.requests if r.route == "status"])

    h.fake.fail_next("status", 503, times=4)  # the API is down...
    h.clock.advance(600)  # ...for far longer than the job timeout
    h.fake.complete_now(h.prediction_id_of(job.prompt))  # and made the clip meanwhile

    done = await h.wait_state(job.id, JobState.DELIVERED)
    assert done.error is None
    statuses = [r.status for r in h.fake.requests if r.route == "status"][polls:]
    assert statuses[:4] == [503] * 4  # every poll during the outage was past the timeout


async def test_401_while_polling_fails_the_job_as_service_unavailable(h: Harness) -> None:
    h.fake.fail_next("status", 401)

    job = await h.accept()
    failed = await h.wait_notified(job.id)

    assert failed.state == JobState.FAILED
    told = messages.honest(messages.FAILED_UNAVAILABLE, failed.cost_cents, None, None).render()
    assert failed.error == told
    assert f"charged ${failed.cost_cents / 100:.2f}" in told  # it was submitted: it cost
    assert messages.failed(told).render() in h.notifier.texts(job.id)
    assert failed.prediction_id is not None
    assert h.fake.status_polls(failed.prediction_id) == 1  # no further polls


async def test_submit_answered_by_a_gateway_error_is_recorded_as_outcome_unknown(
    h: Harness,
) -> None:
    h.fake.fail_next("submit", 502)  # a proxy error can hide a prediction that was created

    job = await h.accept()
    failed = await h.wait_notified(job.id)

    assert failed.state == JobState.FAILED
    assert failed.failure_kind == FailureKind.SUBMIT_UNKNOWN
    assert failed.error == (
        messages.honest(
            messages.SUBMIT_OUTCOME_UNKNOWN, failed.cost_cents, FailureKind.SUBMIT_UNKNOWN, None
        ).render()
    )
    assert "may have been charged" in failed.error
    assert len(h.fake.submits) == 1
