"""The retention purge: at start, then every period; only old finished jobs."""

from __future__ import annotations

import pytest

import bot.members.retention
from bot.jobs.model import (
    JobState,
)
from tests import factories
from tests.unit.jobs.engine import (
    ALICE,
    BOB,
    MakeHarness,
)


async def test_retention_purge_runs_at_start_and_erases_only_old_finished_jobs(
    make_harness: MakeHarness,
) -> None:
    h = make_harness(retention_days=30)
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
