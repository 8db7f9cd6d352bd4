"""The job service's face: accepting a request, cancelling a job (who may, and what a cancel at
each step costs), stopping."""

from __future__ import annotations

import asyncio

import pytest

from bot.errors import UserError
from bot.i18n.format import jump_url
from bot.jobs import messages
from bot.jobs.model import (
    FailureKind,
    JobChange,
    JobState,
)
from tests.unit.jobs.engine import (
    ALICE,
    BOB,
    CHANNEL_ID,
    GUILD_ID,
    MOD,
    OTHER_GUILD_ID,
    WAIT_S,
    Harness,
    MakeHarness,
    actor,
    cancel_refusal,
    wait_until,
)


async def test_accepted_job_is_generated_and_posted_as_a_file(h: Harness) -> None:
    job = await h.accept()

    done = await h.wait_state(job.id, JobState.DELIVERED)

    assert done.delivered_as == "file"
    assert h.notifier.clips == [(job.id, h.fake.clip_bytes)]
    assert done.message_id is not None
    link = jump_url(GUILD_ID, CHANNEL_ID, done.message_id)
    await wait_until(
        lambda: (
            messages.done(link, messages.generation_time(done)).render() in h.notifier.texts(job.id)
        )
    )
    assert h.store.history[job.id] == [
        JobState.CLAIMED,
        JobState.SUBMITTING,
        JobState.SUBMITTED,
        JobState.COMPLETED,
        JobState.DELIVERING,
        JobState.DELIVERED,
    ]


async def test_accept_beyond_the_per_user_open_job_cap_is_refused_and_stores_nothing(
    make_harness: MakeHarness,
) -> None:
    h = make_harness(max_jobs_queued_per_user=2)
    await h.start()
    h.fake.hold()
    await h.accept(prompt="first")
    await h.accept(prompt="second")

    with pytest.raises(UserError) as refused:
        await h.accept(prompt="third")

    assert refused.value.user_message == messages.too_many_open_jobs(2)
    usage = await h.members.usage(ALICE)
    assert [job.prompt for job in usage.recent] == ["second", "first"]


async def test_no_new_job_is_accepted_once_stopping(h: Harness) -> None:
    await h.service.stop(grace_s=0.1)

    with pytest.raises(UserError) as refused:
        await h.accept()

    assert refused.value.user_message == messages.SHUTTING_DOWN
    assert await h.store.inner.open_jobs() == []


async def test_requester_cancels_a_queued_job_which_is_never_submitted(
    make_harness: MakeHarness,
) -> None:
    h = make_harness(max_jobs_in_flight=1)
    await h.start()
    h.fake.hold()
    running = await h.accept(BOB, prompt="running")
    await h.wait_state(running.id, JobState.SUBMITTED)
    queued = await h.accept(ALICE, prompt="waiting")
    await wait_until(lambda: h.notifier.cancellable.get(queued.id) is True)

    cancelled = await h.service.cancel(queued.id, actor(ALICE))

    assert cancelled.state == JobState.CANCELLED
    assert cancelled.cancelled_by == ALICE
    told = await h.wait_notified(queued.id)
    assert told.state == JobState.CANCELLED
    assert h.notifier.texts(queued.id)[-1] == messages.cancelled(ALICE, ALICE).render()
    assert h.notifier.cancellable[queued.id] is False
    h.fake.complete_now(h.prediction_id_of("running"))
    await h.wait_state(running.id, JobState.DELIVERED)
    assert h.submitted_prompts() == ["running"]
    assert (await h.job(queued.id)).state == JobState.CANCELLED


async def test_cancelling_a_generating_job_frees_its_slot_and_never_posts_it(
    make_harness: MakeHarness,
) -> None:
    h = make_harness(max_jobs_in_flight=1)
    await h.start()
    h.fake.hold()
    first = await h.accept(ALICE, prompt="first")
    await h.wait_state(first.id, JobState.SUBMITTED)
    second = await h.accept(BOB, prompt="second")

    await h.service.cancel(first.id, actor(ALICE))

    await h.wait_state(second.id, JobState.SUBMITTED)
    h.fake.complete_now(h.prediction_id_of("first"))
    h.fake.complete_now(h.prediction_id_of("second"))
    await h.wait_state(second.id, JobState.DELIVERED)
    assert [job_id for job_id, _ in h.notifier.clips] == [second.id]
    stopped = await h.job(first.id)
    assert stopped.state == JobState.CANCELLED
    assert stopped.cost_cents == h.fake.cost_cents
    assert stopped.reserved_cents == 0


async def test_job_cancelled_while_its_submit_is_on_the_wire_is_never_polled_or_posted(
    h: Harness,
) -> None:
    h.fake.submit_answer_delay_s = 0.5
    job = await h.accept(ALICE, prompt="on the wire")
    await h.wait_state(job.id, JobState.SUBMITTING)

    await h.service.cancel(job.id, actor(ALICE))

    # The answer still comes back and is recorded: the API charged for it.
    charged = await h.wait_job(job.id, lambda j: j.prediction_id is not None)
    assert charged.state == JobState.CANCELLED
    assert charged.cost_cents == h.fake.cost_cents
    other = await h.accept(BOB, prompt="after")
    h.fake.submit_answer_delay_s = 0
    await h.wait_state(other.id, JobState.DELIVERED)
    assert h.fake.status_polls(charged.prediction_id or "") == 0
    assert [job_id for job_id, _ in h.notifier.clips] == [other.id]
    assert h.notifier.texts(job.id)[-1] == messages.cancelled(ALICE, ALICE).render()


async def test_job_cancelled_once_completed_is_not_posted_by_a_late_delivery_step(
    h: Harness,
) -> None:
    h.fake.hold()
    job = await h.accept(ALICE)
    await h.wait_state(job.id, JobState.SUBMITTED)
    prediction = h.fake.complete_now(h.prediction_id_of(job.prompt))
    assert prediction.outputs
    # As if a poll had just recorded the clip and its delivery step had not yet run.
    h.runtime.scheduler.cancel(("poll", job.id))
    change = JobChange(output_url=prediction.outputs[0], completed_at=h.clock())
    assert await h.store.inner.move(job.id, JobState.COMPLETED, change) is not None

    await h.service.cancel(job.id, actor(ALICE))
    await h.service._delivery.deliver(job.id)

    told = await h.wait_notified(job.id)
    assert told.state == JobState.CANCELLED
    assert told.message_id is None
    assert h.notifier.clip_attempts == []
    assert h.notifier.links == []


async def test_job_cancelled_while_its_submit_waits_to_retry_is_not_sent_again(
    h: Harness,
) -> None:
    h.sleeper.gate = asyncio.Event()
    h.fake.fail_next("submit", 429)
    job = await h.accept()
    await asyncio.wait_for(h.sleeper.entered.wait(), WAIT_S)  # the client waits to retry

    await h.service.cancel(job.id, actor(ALICE))
    h.sleeper.gate.set()

    told = await h.wait_notified(job.id)
    assert told.state == JobState.CANCELLED
    assert told.cost_cents == 0
    other = await h.accept(BOB, prompt="after")
    await h.wait_state(other.id, JobState.DELIVERED)
    assert h.submitted_prompts() == [job.prompt, "after"]  # the refused attempt, then Bob's
    assert h.fake.predictions.keys() == {(await h.job(other.id)).prediction_id}


async def test_moderator_may_cancel_someone_elses_job_and_others_may_not(h: Harness) -> None:
    h.fake.hold()
    job = await h.accept(ALICE)
    await h.wait_state(job.id, JobState.SUBMITTED)

    assert await cancel_refusal(h, job.id, actor(BOB)) == messages.CANCEL_NOT_ALLOWED
    assert (await h.job(job.id)).state == JobState.SUBMITTED

    cancelled = await h.service.cancel(job.id, actor(MOD, manages=True))

    assert cancelled.cancelled_by == MOD
    await h.wait_notified(job.id)
    assert h.notifier.texts(job.id)[-1] == messages.cancelled(MOD, ALICE).render()


async def test_cancel_from_another_server_or_of_an_unknown_job_finds_nothing(h: Harness) -> None:
    h.fake.hold()
    job = await h.accept(ALICE)

    other_server = actor(ALICE, manages=True, guild_id=OTHER_GUILD_ID)
    assert await cancel_refusal(h, job.id, other_server) == messages.NO_SUCH_JOB
    assert await cancel_refusal(h, job.id + 100, actor(ALICE)) == messages.NO_SUCH_JOB
    assert (await h.job(job.id)).cancelled_by is None


async def test_cancel_after_the_end_says_why_not(h: Harness) -> None:
    delivered = await h.accept(ALICE, prompt="done")
    await h.wait_state(delivered.id, JobState.DELIVERED)
    h.fake.hold()
    cancelled = await h.accept(ALICE, prompt="stopped")
    await h.service.cancel(cancelled.id, actor(ALICE))

    assert await cancel_refusal(h, delivered.id, actor(ALICE)) == messages.cannot_cancel(
        JobState.DELIVERED
    )
    assert await cancel_refusal(h, cancelled.id, actor(ALICE)) == messages.cannot_cancel(
        JobState.CANCELLED
    )
    assert messages.cannot_cancel(JobState.DELIVERED) != messages.cannot_cancel(JobState.CANCELLED)


async def test_cancel_while_the_submit_is_on_the_wire_keeps_its_possible_charge(
    make_harness: MakeHarness,
) -> None:
    h = make_harness(api_timeout_s=0.3)
    await h.start()
    h.fake.submit_answer_delay_s = 1.0  # the answer never arrives in time: outcome unknown
    job = await h.accept(ALICE, prompt="on the wire")
    await h.wait_state(job.id, JobState.SUBMITTING)

    cancelled = await h.service.cancel(job.id, actor(ALICE))

    assert cancelled.reserved_cents > 0  # it may still be charged
    settled = await h.wait_job(job.id, lambda j: j.error is not None)
    assert settled.state == JobState.CANCELLED
    assert settled.failure_kind == FailureKind.SUBMIT_UNKNOWN
    assert settled.cost_cents == cancelled.reserved_cents
    assert settled.reserved_cents == 0


async def test_cancelled_job_whose_refused_submit_is_not_retried_releases_its_reservation(
    h: Harness,
) -> None:
    h.sleeper.gate = asyncio.Event()
    h.fake.fail_next("submit", 429)
    job = await h.accept()
    await asyncio.wait_for(h.sleeper.entered.wait(), WAIT_S)

    await h.service.cancel(job.id, actor(ALICE))
    h.sleeper.gate.set()

    released = await h.wait_job(job.id, lambda j: j.notified and j.reserved_cents == 0)
    assert released.cost_cents == 0
    assert len(h.fake.predictions) == 0
