"""Telling how a job ended: failure notices on every route, the moderation log, the progress
reporter's memory."""

from __future__ import annotations

import asyncio

import pytest

import bot.jobs.notices
import bot.jobs.progress
import bot.jobs.service
from bot.jobs import messages
from bot.jobs.model import (
    DeliveryRoute,
    JobState,
)
from bot.jobs.notifier import (
    PostFailedError,
    ProgressGoneError,
)
from tests.unit.jobs.engine import (
    ALICE,
    BOB,
    FORBIDDEN,
    MOD,
    MOD_LOG_ID,
    MODERATION,
    WAIT_S,
    Harness,
    actor,
    enable_mod_log,
    wait_until,
)


async def test_failure_after_the_token_expired_is_posted_in_the_channel(h: Harness) -> None:
    h.fake.fail_prompts_containing = {"forbidden": MODERATION}

    job = await h.accept(prompt="something forbidden", origin=h.origin(token_ttl_s=-60))
    failed = await h.wait_notified(job.id)

    reason = messages.honest(
        messages.api_failed(MODERATION), failed.cost_cents, None, failed.refused_input
    )
    assert failed.state == JobState.FAILED
    assert h.notifier.failures == [
        (job.id, messages.failed_in_channel(ALICE, job.id, reason).render())
    ]
    assert h.notifier.edits == []


async def test_failure_whose_progress_message_is_gone_is_posted_in_the_channel(
    h: Harness,
) -> None:
    h.fake.fail_prompts_containing = {"forbidden": MODERATION}
    h.notifier.edit_error = ProgressGoneError("Unknown Webhook")

    job = await h.accept(prompt="something forbidden")
    failed = await h.wait_notified(job.id)

    reason = messages.honest(
        messages.api_failed(MODERATION), failed.cost_cents, None, failed.refused_input
    )
    assert failed.state == JobState.FAILED
    assert h.notifier.failures == [
        (job.id, messages.failed_in_channel(ALICE, job.id, reason).render())
    ]


async def test_failure_notice_that_cannot_be_posted_still_ends_the_job(h: Harness) -> None:
    h.fake.fail_prompts_containing = {"forbidden": MODERATION}
    h.notifier.failure_error = PostFailedError("403 Missing Access", retryable=False)

    job = await h.accept(prompt="something forbidden", origin=h.origin(token_ttl_s=-60))
    failed = await h.wait_notified(job.id)

    assert failed.state == JobState.FAILED
    assert failed.origin.interaction_token == ""


async def test_finished_jobs_are_dropped_from_the_progress_reporters_memory(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bot.jobs.progress, "_KEEP_FINAL_S", 0.05)
    h.fake.fail_prompts_containing = {"forbidden": MODERATION}

    delivered = await h.accept(ALICE, prompt="a cat blinks")
    failed = await h.accept(BOB, prompt="something forbidden")
    await h.wait_state(delivered.id, JobState.DELIVERED)
    await h.wait_notified(failed.id)

    reporter = h.runtime.progress
    await wait_until(lambda: not reporter._shown)


async def test_failure_notice_refused_in_the_channel_is_sent_by_dm(h: Harness) -> None:
    h.fake.fail_prompts_containing = {"forbidden": "Flagged."}
    h.notifier.route_errors[DeliveryRoute.CHANNEL] = FORBIDDEN

    job = await h.accept(prompt="something forbidden", origin=h.origin(token_ttl_s=-60))
    failed = await h.wait_notified(job.id)

    assert h.notifier.failure_routes == [DeliveryRoute.DM]
    ((_, text),) = h.notifier.failures
    reason = messages.honest(messages.api_failed("Flagged."), failed.cost_cents, None, None)
    assert text == messages.failed_by_dm(job.id, reason).render()


async def test_each_job_is_posted_to_the_mod_log_and_its_entry_follows_the_outcome(
    h: Harness,
) -> None:
    await enable_mod_log(h)
    h.fake.fail_prompts_containing = {"forbidden": MODERATION}

    delivered = await h.accept(ALICE, prompt="a cat blinks")
    failed = await h.accept(BOB, prompt="something forbidden")
    await h.wait_state(delivered.id, JobState.DELIVERED)
    await h.wait_notified(failed.id)

    await wait_until(lambda: len(h.notifier.mod_log_updates) == 2)
    assert sorted(h.notifier.mod_log_posts) == [(delivered.id, MOD_LOG_ID), (failed.id, MOD_LOG_ID)]
    assert sorted(h.notifier.mod_log_updates) == [
        (delivered.id, JobState.DELIVERED),
        (failed.id, JobState.FAILED),
    ]
    stored = await h.job(delivered.id)
    assert stored.mod_log_channel_id == MOD_LOG_ID
    assert stored.mod_log_message_id is not None


async def test_cancel_updates_the_mod_log_entry(h: Harness) -> None:
    await enable_mod_log(h)
    h.fake.hold()
    job = await h.accept(ALICE)
    await h.wait_job(job.id, lambda j: j.mod_log_message_id is not None)

    await h.service.cancel(job.id, actor(MOD, manages=True))

    await wait_until(lambda: (job.id, JobState.CANCELLED) in h.notifier.mod_log_updates)
    assert h.notifier.mod_log_updates == [(job.id, JobState.CANCELLED)]


async def test_job_cancelled_before_its_mod_log_entry_is_posted_still_shows_cancelled(
    h: Harness,
) -> None:
    await enable_mod_log(h)
    h.fake.hold()

    job = await h.accept(ALICE)
    await h.service.cancel(job.id, actor(ALICE))

    await wait_until(lambda: (job.id, JobState.CANCELLED) in h.notifier.mod_log_updates)
    assert h.notifier.mod_log_posts == [(job.id, MOD_LOG_ID)]


async def test_no_mod_log_without_a_channel(h: Harness) -> None:
    job = await h.accept(ALICE)
    await h.wait_state(job.id, JobState.DELIVERED)
    await asyncio.sleep(0.2)  # room for a stray moderation-log call after delivery

    assert h.notifier.mod_log_posts == []
    assert h.notifier.mod_log_updates == []


async def test_a_mod_log_that_cannot_be_posted_does_not_stop_the_job(h: Harness) -> None:
    await enable_mod_log(h)
    h.notifier.mod_log_error = PostFailedError("Missing Access", retryable=False)

    job = await h.accept(ALICE)

    done = await h.wait_state(job.id, JobState.DELIVERED)
    await asyncio.sleep(0.2)  # room for a stray moderation-log call after delivery
    assert done.mod_log_message_id is None
    assert h.notifier.mod_log_updates == []


async def test_a_crashing_mod_log_post_never_resubmits_the_job(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bot.jobs.service, "_RECOVER_AFTER_S", 0.05)
    await enable_mod_log(h)
    h.notifier.mod_log_error = RuntimeError("a bug in the moderation-log post")
    h.sleeper.gate = asyncio.Event()
    h.fake.fail_next("submit", 429)  # the job holds its slot while its submit waits to retry
    job = await h.accept(ALICE)
    await asyncio.wait_for(h.sleeper.entered.wait(), WAIT_S)

    await asyncio.sleep(0.3)  # well past the recovery delay a crashed job step would get
    h.sleeper.gate.set()

    await h.wait_state(job.id, JobState.DELIVERED)
    assert len(h.fake.predictions) == 1
    assert h.notifier.clips == [(job.id, h.notifier.clips[0][1])]


async def test_a_passing_mod_log_failure_is_retried(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bot.jobs.notices, "_MOD_LOG_RETRY_S", 0.05)
    await enable_mod_log(h)
    h.notifier.mod_log_passing_failures = 2

    job = await h.accept(ALICE)

    await h.wait_state(job.id, JobState.DELIVERED)
    await wait_until(lambda: (job.id, MOD_LOG_ID) in h.notifier.mod_log_posts)
    assert h.notifier.mod_log_attempts >= 3


async def test_requester_is_told_elsewhere_when_a_moderator_cancels_after_their_token_expired(
    h: Harness,
) -> None:
    h.fake.hold()
    job = await h.accept(ALICE, origin=h.origin(token_ttl_s=-60))
    await h.wait_state(job.id, JobState.SUBMITTED)

    await h.service.cancel(job.id, actor(MOD, manages=True))

    await h.wait_notified(job.id)
    ((job_id, text),) = h.notifier.failures
    assert job_id == job.id
    assert messages.cancelled(MOD, ALICE).render() in text
    assert h.notifier.failure_routes == [DeliveryRoute.CHANNEL]
