"""The retention purge: at start, then every period; only old finished jobs; one process
purges for the whole bot."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

import bot.members.retention
from bot.jobs.model import (
    JobState,
)
from bot.members.retention import Retention
from tests import factories
from tests.unit.jobs.engine import (
    ALICE,
    BOB,
    MakeHarness,
)


async def test_retention_purge_runs_at_start_and_erases_only_old_finished_jobs(
    make_harness: MakeHarness,
) -> None:
    # The job still running must not time out as the clock jumps a month (it would end then).
    h = make_harness(retention_days=30, job_timeout_s=60 * 24 * 3600)
    h.fake.hold()
    store = h.store.inner
    old = await h.seed(JobState.FAILED, ALICE, "old failure")
    await factories.told(store, old.id)
    old_open = await h.seed(JobState.SUBMITTED, BOB, "old and still running")
    h.clock.advance(31 * 24 * 3600)
    recent = await h.seed(JobState.FAILED, 2001, "recent failure")
    await factories.told(store, recent.id)

    await h.start()

    erased = await h.wait_job(old.id, lambda j: j.redacted)
    assert erased.prompt == ""
    assert erased.state == JobState.FAILED
    assert (await h.job(recent.id)).prompt == "recent failure"
    still_running = await h.job(old_open.id)
    assert not still_running.redacted
    assert still_running.prompt == "old and still running"


async def test_no_purge_without_a_retention_period(make_harness: MakeHarness) -> None:
    h = make_harness(retention_days=None)
    old = await h.seed(JobState.FAILED, ALICE, "kept forever")
    await factories.told(h.store.inner, old.id)
    h.clock.advance(400 * 24 * 3600)

    await h.start()
    job = await h.accept(BOB)
    await h.wait_state(job.id, JobState.DELIVERED)

    assert not (await h.job(old.id)).redacted


async def test_retention_purge_runs_again_every_period(
    make_harness: MakeHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bot.members.retention, "_PURGE_EVERY_S", 0.1)
    h = make_harness(retention_days=30)
    await h.start()
    job = await h.accept(ALICE, prompt="ages out after the first purge")
    await h.wait_state(job.id, JobState.DELIVERED)

    h.clock.advance(31 * 24 * 3600)

    erased = await h.wait_job(job.id, lambda j: j.redacted)
    assert erased.prompt == ""
    assert erased.cost_cents == h.fake.cost_cents


async def test_of_two_processes_one_purges_and_the_other_takes_over_when_it_stops(
    make_harness: MakeHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = make_harness(retention_days=30)
    store = h.store.inner
    purged_by: list[str] = []

    class Named(Retention):
        def __init__(self, name: str) -> None:
            super().__init__(settings=h.settings, store=store, follower_retry_s=0.05)
            self.name = name

        async def purge(self) -> int:
            purged_by.append(self.name)
            return await super().purge()

    first, second = Named("first"), Named("second")
    first.start()
    await _until(lambda: first.leading)
    second.start()
    await asyncio.sleep(0.3)  # six chances for the second to take the lock

    assert purged_by == ["first"]
    assert (first.leading, second.leading) == (True, False)

    await first.stop()
    await _until(lambda: second.leading)
    await second.stop()

    assert purged_by == ["first", "second"]


async def _until(condition: Callable[[], bool]) -> None:
    for _ in range(500):  # 5 s
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("not within 5 s")
