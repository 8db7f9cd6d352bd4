"""Several engines on one database are several bot processes: when one dies, stops or stalls,
another takes its jobs over once their leases run out and finishes each exactly once; the
stalled one, woken, changes nothing.

Each harness is one process (its own `PROCESS_NAME`, its own notifier) on the test's one
database, with the fake API shared, as the real API would be."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

import bot.jobs.service as service_module
import bot.settings as settings_module
from bot.jobs import messages
from bot.jobs.model import FailureKind, JobChange, JobState, Lease, LeaseLostError
from tests.unit.jobs.engine import ALICE, Harness, MakeHarness, actor, wait_until
from tests.unit.storage.sqlite_plans import traced

#: Quick enough for a test: leases run out within a second, sweeps and polls every 50 ms.
FAST = {"job_poll_s": 0.05}


def process(make_harness: MakeHarness, name: str, *, lease_s: float = 30.0) -> Harness:
    """One bot process on the shared test database."""
    return make_harness(single_process=False, process_name=name, job_lease_s=lease_s, **FAST)


def takeover_lines(caplog: pytest.LogCaptureFixture, job_id: int) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.getMessage().startswith(f"job {job_id}: lease of ")
    ]


TAKEN_OVER = (
    JobState.CLAIMED,
    JobState.SUBMITTING,
    JobState.SUBMITTED,
    JobState.COMPLETED,
    JobState.DELIVERING,
    JobState.FAILED,
)


@pytest.mark.parametrize("state", TAKEN_OVER)
async def test_a_survivor_takes_over_a_dead_process_s_job_and_finishes_it_once(
    make_harness: MakeHarness, caplog: pytest.LogCaptureFixture, state: JobState
) -> None:
    caplog.set_level(logging.INFO, logger="bot")
    b = process(make_harness, "process-b")
    # Process A claimed it and died in `state`: its lease runs out 0.3 s from now.
    job = await b.seed(
        state, ALICE, f"left {state} by a dead process", lease=Lease("process-a", 0.3)
    )
    submits_before = len(b.fake.submits)
    await b.start()

    done = await b.wait_notified(job.id)

    new_submits = len(b.fake.submits) - submits_before
    assert new_submits == (1 if state == JobState.CLAIMED else 0)  # never a second submit
    if state == JobState.SUBMITTING:
        assert (done.state, done.failure_kind) == (JobState.FAILED, FailureKind.SUBMIT_UNKNOWN)
    elif state == JobState.FAILED:
        assert done.state == JobState.FAILED
        assert b.notifier.texts(job.id) == [messages.failed(messages.TIMED_OUT.render()).render()]
    else:
        assert done.state == JobState.DELIVERED
        assert b.notifier.clips == [(job.id, b.fake.clip_bytes)]
    if state != JobState.DELIVERED:
        assert [clip for clip in b.notifier.clips if clip[0] == job.id] == b.notifier.clips[:1]
    # A's claim was epoch 1, B's takeover 2 (and B's claim of it, back in the queue, 3).
    assert (done.owner, done.epoch) == ("process-b", 3 if state == JobState.CLAIMED else 2)
    assert takeover_lines(caplog, job.id) == [
        f"job {job.id}: lease of process-a expired; taken over by process-b in state {state} "
        "(epoch 2)"
    ]


async def test_a_live_lease_is_left_to_its_holder(make_harness: MakeHarness) -> None:
    b = process(make_harness, "process-b")
    job = await b.seed(JobState.SUBMITTED, ALICE, "A is alive", lease=Lease("process-a", 30.0))
    await b.start()

    await asyncio.sleep(0.3)  # some six of B's sweeps
    assert await b.service.leases.sweep() == []

    held = await b.job(job.id)
    assert (held.owner, held.epoch, held.state) == ("process-a", 1, JobState.SUBMITTED)
    assert b.fake.status_polls(job.prediction_id or "") == 0


async def test_a_cleanly_stopped_process_s_jobs_are_taken_over_at_once(
    make_harness: MakeHarness,
) -> None:
    a, b = process(make_harness, "process-a"), process(make_harness, "process-b")
    a.fake.hold()
    await a.start()
    job = await a.accept(prompt="A stops cleanly")
    await a.wait_state(job.id, JobState.SUBMITTED)
    await b.start()

    await a.service.stop(grace_s=1.0)  # releases its leases, 30 s long
    a.fake.release()
    done = await b.wait_notified(job.id)  # within WAIT_S: long before the lease would end

    assert done.state == JobState.DELIVERED
    assert (a.notifier.clips, b.notifier.clips) == ([], [(job.id, a.fake.clip_bytes)])
    assert a.submitted_prompts() == ["A stops cleanly"]


async def test_a_stalled_process_that_wakes_after_a_takeover_changes_nothing(
    make_harness: MakeHarness,
) -> None:
    a = process(make_harness, "process-a", lease_s=0.3)
    a.fake.hold()
    await a.start()
    job = await a.accept(prompt="A stalls")
    await a.wait_state(job.id, JobState.SUBMITTED)
    await a.service.leases.stop()  # stalled (SIGSTOP): no more renewals
    b = process(make_harness, "process-b")
    await b.start()
    await b.wait_job(job.id, lambda j: j.owner == "process-b")

    a.fake.release()  # A (its poll still scheduled) and B both see the clip made
    done = await b.wait_notified(job.id)
    # A's late writes, whenever they come, are refused and change nothing.
    with pytest.raises(LeaseLostError):
        await a.runtime.move(job.id, JobState.FAILED)
    with pytest.raises(LeaseLostError):
        await a.runtime.update(job.id, JobChange(error="late"))

    assert await b.job(job.id) == done
    assert done.state == JobState.DELIVERED
    assert (a.notifier.clips, b.notifier.clips) == ([], [(job.id, a.fake.clip_bytes)])
    assert a.submitted_prompts() == ["A stalls"]


async def test_a_process_stalled_while_fetching_the_clip_does_not_post_it_after_a_takeover(
    make_harness: MakeHarness,
) -> None:
    a = process(make_harness, "process-a", lease_s=0.3)
    a.fake.asset_answer_delay_s = 1.0  # the clip's download outlasts A's lease
    await a.start()
    job = await a.accept(prompt="A stalls mid-download")
    await a.wait_state(job.id, JobState.DELIVERING)
    await a.service.leases.stop()  # stalled (SIGSTOP) with the download under way
    b = process(make_harness, "process-b")
    await b.start()

    done = await b.wait_notified(job.id)
    await asyncio.sleep(1.2)  # A's download has long finished: it read the lease and let go

    assert (done.state, done.owner) == (JobState.DELIVERED, "process-b")
    assert (a.notifier.clips, b.notifier.clips) == ([], [(job.id, a.fake.clip_bytes)])
    assert not a.runtime.holds(done)


async def test_a_stalled_process_that_wakes_after_its_job_was_finished_drops_it_and_says_so(
    make_harness: MakeHarness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot")
    a = process(make_harness, "process-a", lease_s=0.3)
    a.fake.hold()
    await a.start()
    job = await a.accept(prompt="A sleeps through it")
    await a.wait_state(job.id, JobState.SUBMITTED)
    await a.service.leases.stop()  # stalled (SIGSTOP): no renewals,
    await a.runtime.scheduler.stop()  # and no timers: its next poll waits
    b = process(make_harness, "process-b")
    await b.start()
    a.fake.release()
    done = await b.wait_notified(job.id)

    a.runtime.scheduler.start()  # woken (SIGCONT): its poll comes due, on a finished job
    lost = f"job {job.id}: lost its lease to another process; process-a drops it"
    await wait_until(lambda: lost in [r.getMessage() for r in caplog.records])

    assert await b.job(job.id) == done
    assert done.state == JobState.DELIVERED
    assert (a.notifier.clips, b.notifier.clips) == ([], [(job.id, a.fake.clip_bytes)])
    assert not a.runtime.holds(done)
    assert ("poll", job.id) not in a.runtime.scheduler


async def test_a_stalled_process_whose_submit_is_answered_after_a_takeover_reports_it(
    make_harness: MakeHarness, caplog: pytest.LogCaptureFixture
) -> None:
    a = process(make_harness, "process-a", lease_s=0.3)
    a.fake.submit_answer_delay_s = 1.0
    await a.start()
    job = await a.accept(prompt="A stalls mid-submit")
    await a.wait_state(job.id, JobState.SUBMITTING)
    await a.service.leases.stop()  # stalled with the submit on the wire
    b = process(make_harness, "process-b")
    await b.start()

    failed = await b.wait_notified(job.id)
    prediction_id = await wait_for_prediction(a)
    await wait_until(lambda: job.id in {j for j, _ in a.store.lost})

    assert (failed.state, failed.failure_kind) == (JobState.FAILED, FailureKind.SUBMIT_UNKNOWN)
    assert (await a.job(job.id)).prediction_id is None  # the zombie could not record it
    assert a.submitted_prompts() == ["A stalls mid-submit"]  # and nobody sent it again
    assert (
        b.notifier.texts(job.id)[-1]
        == messages.failed(
            messages.honest(
                messages.SUBMIT_OUTCOME_UNKNOWN, failed.cost_cents, failed.failure_kind, None
            ).render()
        ).render()
    )
    assert [t for j, t in a.notifier.edits if j == job.id and "failed" in t.lower()] == []
    (warning,) = [
        r
        for r in caplog.records
        if r.levelno == logging.WARNING and prediction_id in r.getMessage()
    ]
    assert f"job {job.id}:" in warning.getMessage()
    assert "reconcile" in warning.getMessage()


async def wait_for_prediction(h: Harness) -> str:
    await wait_until(lambda: len(h.fake.predictions) == 1)
    (prediction_id,) = h.fake.predictions
    return prediction_id


# Counted with SQLite's trace callback; the engine's statements are the same on PostgreSQL.
@pytest.mark.backends("sqlite")
async def test_an_idle_process_makes_under_one_query_a_second(make_harness: MakeHarness) -> None:
    # Scaled down (a poll every 0.1 s, a renewal every 0.1 s), then counted per period.
    poll_s, lease_s, window_s = 0.1, 0.3, 1.0
    h = make_harness(
        single_process=False, process_name="idle", job_lease_s=lease_s, job_poll_s=poll_s
    )
    await h.service.start(h.notifier)  # the engine alone (not the daily purge)

    async with traced(h.store.inner) as statements:
        await asyncio.sleep(window_s)

    periods = window_s / poll_s  # also the renewal periods: lease_s / 3 == poll_s
    sweeps = sum("SELECT jobs.id, jobs.owner" in sql for sql in statements)
    claims = sum("SET state='claimed'" in sql for sql in statements)
    renewals = sum(sql.startswith("UPDATE jobs SET lease_until") for sql in statements)
    assert sweeps + claims + renewals == len(statements), statements  # nothing else
    for count in (sweeps, claims, renewals):
        assert count <= periods + 1
    # At the defaults (a sweep and a claim attempt every JOB_POLL_S = 5 s, a renewal every
    # JOB_LEASE_S / 3 = 10 s): what was measured per period, per second.
    per_second = (sweeps + claims) / periods / 5 + renewals / periods / 10
    assert per_second <= 0.55


async def test_a_cancel_on_another_process_stops_the_holder_and_tells_the_requester_once(
    make_harness: MakeHarness,
) -> None:
    a, b = process(make_harness, "process-a"), process(make_harness, "process-b")
    a.fake.hold()
    await a.start()
    job = await a.accept(prompt="cancelled elsewhere")
    await a.wait_state(job.id, JobState.SUBMITTED)
    await b.start()

    cancelled = await b.service.cancel(job.id, actor(ALICE))
    told = await b.wait_notified(job.id)
    a.fake.release()
    await asyncio.sleep(0.3)  # several of A's polls: each finds the job cancelled and stops

    assert cancelled.owner == "process-a"  # the lease stays with its holder
    assert (told.state, told.notified) == (JobState.CANCELLED, True)
    assert b.notifier.texts(job.id)[-1] == messages.cancelled(ALICE, ALICE).render()
    assert (a.notifier.clips, b.notifier.clips) == ([], [])
    assert a.submitted_prompts() == ["cancelled elsewhere"]


async def test_a_restart_under_the_same_name_takes_its_own_jobs_back_at_once(
    make_harness: MakeHarness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot")
    # Names are unique among live processes: a live lease under this one is its last run's.
    again = process(make_harness, "cluster-1")
    job = await again.seed(JobState.SUBMITTED, ALICE, "mine", lease=Lease("cluster-1", 30.0))

    await again.start()
    done = await again.wait_notified(job.id)

    assert (done.state, done.owner, done.epoch) == (JobState.DELIVERED, "cluster-1", 2)
    assert f"job {job.id}: taken back by cluster-1 from its previous run" in caplog.messages


async def test_a_new_name_waits_for_the_leases_of_another(
    make_harness: MakeHarness,
) -> None:
    fresh = make_harness(single_process=False, **FAST)  # the default: host name and pid
    assert fresh.settings.process_name != "host-1"
    job = await fresh.seed(JobState.SUBMITTED, ALICE, "old run's", lease=Lease("host-1", 30.0))

    await fresh.start()
    await asyncio.sleep(0.3)

    assert (await fresh.job(job.id)).owner == "host-1"


async def test_a_slot_freed_on_one_process_wakes_the_queue_without_waiting_for_a_poll(
    make_harness: MakeHarness,
) -> None:
    # No poll for a minute: only the hint can start the queued job in time.
    capped = {"single_process": False, "job_poll_s": 60.0, "max_jobs_in_flight": 1}
    a = make_harness(process_name="process-a", **capped)
    b = make_harness(process_name="process-b", **capped)
    a.fake.hold()
    await a.start()
    await b.start()
    first = await a.accept(prompt="holds the one slot")
    await a.wait_state(first.id, JobState.SUBMITTED)
    second = await b.accept(ALICE + 1, prompt="waits for it")
    await asyncio.sleep(0.2)
    assert (await b.job(second.id)).state == JobState.QUEUED

    a.fake.complete_now(a.prediction_id_of("holds the one slot"))

    await b.wait_job(second.id, lambda job: job.state != JobState.QUEUED)  # within WAIT_S


async def test_a_wake_up_on_one_process_reaches_the_other_processes_dispatchers(
    make_harness: MakeHarness,
) -> None:
    a = make_harness(single_process=False, process_name="process-a")
    b = make_harness(single_process=False, process_name="process-b")
    await b.runtime.listen()  # B's dispatcher is not started: its event stays as set

    a.runtime.wake_dispatch()

    await wait_until(b.runtime.dispatch_wake.is_set)


async def test_a_container_restarted_with_the_same_host_name_and_pid_takes_its_jobs_back(
    make_harness: MakeHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The default name of a container restarted: the same host name, and pid 1 again. Its
    # previous run's lease (30 s long, renewed until the stop) is taken back at start.
    monkeypatch.setattr(settings_module.socket, "gethostname", lambda: "c0ffee")
    monkeypatch.setattr(settings_module.os, "getpid", lambda: 1)
    restarted = make_harness(single_process=False, job_lease_s=30.0, **FAST)
    assert restarted.settings.process_name == "c0ffee-1"
    job = await restarted.seed(
        JobState.SUBMITTED, ALICE, "previous run", lease=Lease("c0ffee-1", 30.0)
    )

    await restarted.start()
    done = await restarted.wait_notified(job.id)  # within WAIT_S: long before the lease ends

    assert (done.state, done.owner) == (JobState.DELIVERED, "c0ffee-1")


async def test_a_database_error_while_resuming_a_taken_job_is_retried(
    make_harness: MakeHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    b = process(make_harness, "process-b")
    job = await b.seed(JobState.CLAIMED, ALICE, "left claimed", lease=Lease("process-a", 0.3))
    real_move = b.runtime.move
    failures = [OSError("connection reset")]

    async def move_failing_once(*args: Any, **kwargs: Any) -> Any:
        if failures:
            raise failures.pop()
        return await real_move(*args, **kwargs)

    monkeypatch.setattr(b.runtime, "move", move_failing_once)
    monkeypatch.setattr(service_module, "_RECOVER_AFTER_S", 0.1)
    await b.start()

    done = await b.wait_notified(job.id)

    assert failures == []  # the error happened
    assert (done.state, done.owner) == (JobState.DELIVERED, "process-b")
