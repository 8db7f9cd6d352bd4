"""The storage contract for job leases (migration 0013), run against each backend: claims take
a lease, fenced writes refuse a process that lost it, renewal, release, and takeover.

Several processes are several stores on one database (`reopen`); a lease is made to run out
by taking it with a negative length, or by its holder's release, never by waiting."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime

import pytest

from bot.jobs.model import JobChange, JobState, Lease, LeaseLostError, Takeable
from bot.storage import Store
from bot.storage.store import SqlStore
from tests import factories

T0 = datetime(2025, 3, 15, 10, 0, 0, tzinfo=UTC)
ALICE = 1001
A, B, C = Lease("process-a", 30.0), Lease("process-b", 30.0), Lease("process-c", 30.0)
#: A lease that ran out the moment it was taken: the holder died at once.
A_EXPIRED = Lease("process-a", -1.0)

Reopen = Callable[[], AbstractAsyncContextManager[SqlStore]]


async def claimed(store: Store, lease: Lease, *, prompt: str = "The cat blinks") -> int:
    """Queue a job and claim it under `lease`; its id."""
    job = await factories.admit(store, factories.new_job(ALICE, now=T0, prompt=prompt), T0)
    got = await store.claim_next_queued(100, 100, lease)
    assert got is not None
    assert got.id == job.id
    return job.id


async def test_a_queued_job_holds_no_lease(store: Store) -> None:
    job = await factories.admit(store, factories.new_job(ALICE, now=T0), T0)

    assert (job.owner, job.epoch) == (None, 0)
    assert await store.take_over(B, Takeable.EVERY) == []


async def test_a_claim_takes_a_lease_at_the_next_epoch(store: Store) -> None:
    job_id = await claimed(store, A)

    job = await store.get_job(job_id)
    assert job is not None
    assert (job.state, job.owner, job.epoch) == (JobState.CLAIMED, "process-a", 1)


async def test_a_fenced_move_by_the_holder_is_made(store: Store) -> None:
    job_id = await claimed(store, A)

    moved = await store.move(job_id, JobState.SUBMITTING, epoch=1)

    assert moved is not None
    assert (moved.state, moved.owner, moved.epoch) == (JobState.SUBMITTING, "process-a", 1)


async def test_a_fenced_move_is_refused_after_a_takeover_and_writes_nothing(store: Store) -> None:
    job_id = await claimed(store, A_EXPIRED)
    (taken,) = await store.take_over(B)

    with pytest.raises(LeaseLostError):
        await store.move(job_id, JobState.SUBMITTING, JobChange(error="late"), epoch=1)
    with pytest.raises(LeaseLostError):
        await store.update(job_id, JobChange(prediction_id="p-late"), epoch=1)

    job = await store.get_job(job_id)
    assert job is not None
    assert (job.state, job.owner, job.epoch) == (JobState.CLAIMED, "process-b", 2)
    assert (job.error, job.prediction_id) == (None, None)
    assert (taken.job.id, taken.previous_owner) == (job_id, "process-a")
    assert await store.move(job_id, JobState.SUBMITTING, epoch=2) is not None


async def test_a_fenced_move_the_state_table_refuses_is_not_a_lost_lease(store: Store) -> None:
    job_id = await claimed(store, A)

    # Claimed may not become delivered: refused as before, the lease still A's.
    assert await store.move(job_id, JobState.DELIVERED, epoch=1) is None


async def test_the_sweep_takes_only_expired_leases(store: Store) -> None:
    live = await claimed(store, A, prompt="live")
    dead = await claimed(store, A_EXPIRED, prompt="dead")

    taken = await store.take_over(B)

    assert [(t.job.id, t.job.owner, t.job.epoch) for t in taken] == [(dead, "process-b", 2)]
    live_job = await store.get_job(live)
    assert live_job is not None
    assert (live_job.owner, live_job.epoch) == ("process-a", 1)


async def test_a_taken_over_lease_is_not_taken_again_while_it_is_renewed(store: Store) -> None:
    await claimed(store, A_EXPIRED)
    assert len(await store.take_over(B)) == 1

    assert await store.take_over(C) == []


async def test_two_sweeps_at_once_never_take_the_same_job(store: Store, reopen: Reopen) -> None:
    expired = [await claimed(store, A_EXPIRED, prompt=f"job {i}") for i in range(15)]

    async with reopen() as other:
        by_b, by_c = await asyncio.gather(
            store.take_over(B, limit=10), other.take_over(C, limit=10)
        )

    ids_b, ids_c = {t.job.id for t in by_b}, {t.job.id for t in by_c}
    assert ids_b.isdisjoint(ids_c)
    assert ids_b | ids_c == set(expired)
    assert all(t.job.epoch == 2 for t in [*by_b, *by_c])


async def test_renewal_extends_every_lease_of_its_process_and_no_other(store: Store) -> None:
    mine = [await claimed(store, A_EXPIRED, prompt=f"mine {i}") for i in range(2)]
    others = await claimed(store, Lease("process-b", -1.0), prompt="another's")

    assert await store.renew_leases(A) == len(mine)

    assert [t.job.id for t in await store.take_over(C)] == [others]


async def test_renewal_does_not_reach_a_job_taken_over_from_its_process(store: Store) -> None:
    await claimed(store, A_EXPIRED)
    await store.take_over(B)

    assert await store.renew_leases(A) == 0


async def test_released_leases_are_taken_over_at_once(store: Store) -> None:
    job_id = await claimed(store, A)
    assert await store.take_over(B) == []

    assert await store.release_leases("process-a") == 1
    await asyncio.sleep(0.01)  # the database clock moves past the release

    assert [t.job.id for t in await store.take_over(B)] == [job_id]


async def test_a_job_back_in_the_queue_drops_its_lease_and_the_next_claim_fences_the_old(
    store: Store,
) -> None:
    job_id = await claimed(store, A_EXPIRED)

    requeued = await store.move(job_id, JobState.QUEUED, epoch=1)

    assert requeued is not None
    assert requeued.owner is None
    assert await store.take_over(B) == []
    again = await store.claim_next_queued(100, 100, B)
    assert again is not None
    assert (again.owner, again.epoch) == ("process-b", 2)
    with pytest.raises(LeaseLostError):
        await store.move(job_id, JobState.SUBMITTING, epoch=1)


async def test_a_finished_job_is_never_taken_over(store: Store) -> None:
    job_id = await claimed(store, A_EXPIRED)
    await store.move(job_id, JobState.FAILED, JobChange(error="x"), epoch=1)
    await store.update(job_id, JobChange(notified=True), epoch=1)

    assert await store.take_over(B, Takeable.EVERY) == []


async def test_a_start_under_a_stable_name_takes_back_its_own_live_leases(store: Store) -> None:
    own = await claimed(store, A, prompt="own")
    await claimed(store, Lease("process-b", 30.0), prompt="another's, live")

    taken = await store.take_over(A, Takeable.EXPIRED_OR_MINE)

    assert [(t.job.id, t.previous_owner, t.job.epoch) for t in taken] == [(own, "process-a", 2)]


async def test_a_start_on_a_database_of_its_own_takes_every_job_past_the_queue(
    store: Store,
) -> None:
    live = await claimed(store, Lease("process-b", 30.0), prompt="live")
    await factories.admit(store, factories.new_job(ALICE, now=T0, prompt="queued"), T0)

    taken = await store.take_over(A, Takeable.EVERY)

    assert [(t.job.id, t.job.owner) for t in taken] == [(live, "process-a")]


async def test_cancelling_a_queued_job_gives_the_canceller_a_lease(store: Store) -> None:
    job = await factories.admit(store, factories.new_job(ALICE, now=T0), T0)

    cancelled = await store.cancel_job(job.id, ALICE, T0, A_EXPIRED)

    assert cancelled is not None
    assert (cancelled.owner, cancelled.epoch) == ("process-a", 1)
    # If the canceller dies before telling the requester, another process takes it over.
    assert [t.job.state for t in await store.take_over(B)] == [JobState.CANCELLED]


async def test_cancelling_a_held_job_leaves_its_lease_with_the_holder(store: Store) -> None:
    job_id = await claimed(store, A)

    cancelled = await store.cancel_job(job_id, ALICE, T0, B)

    assert cancelled is not None
    assert (cancelled.owner, cancelled.epoch) == ("process-a", 1)
    # The holder's next fenced move is refused by the state, not for a lost lease; what it
    # learnt still counts.
    assert await store.move(job_id, JobState.SUBMITTING, epoch=1) is None
    assert (await store.update(job_id, JobChange(cost_cents=29), epoch=1)).cost_cents == 29


async def test_adopting_a_group_fences_another_process_but_not_the_adopter_s_own_steps(
    store: Store,
) -> None:
    news = [factories.new_job(ALICE, now=T0, prompt=f"variation {n}") for n in (1, 2)]
    group = await store.admit_group(
        news, T0, reserve_cents=29, cooldown_s=0, decide=lambda _usage: None
    )
    assert isinstance(group, list)
    mine = await store.claim_next_queued(100, 100, A)
    theirs = await store.claim_next_queued(100, 100, B)
    assert mine is not None
    assert theirs is not None
    # Mine: cancelled with a submit out (no longer being made); theirs: made, at B.
    await store.move(mine.id, JobState.SUBMITTING, epoch=1)
    await store.cancel_job(mine.id, ALICE, T0, A)
    await store.move(theirs.id, JobState.SUBMITTING, epoch=1)
    await store.move(theirs.id, JobState.SUBMITTED, JobChange(prediction_id="p-b"), epoch=1)
    await store.move(theirs.id, JobState.COMPLETED, epoch=1)

    adopted = await store.adopt_group(group[0].id, A)

    assert [(job.id, job.owner, job.epoch) for job in adopted] == [
        (mine.id, "process-a", 1),  # A held it: its submit's answer may still be written
        (theirs.id, "process-a", 2),  # B's late writes are refused from now on
    ]
    assert (await store.update(mine.id, JobChange(cost_cents=29), epoch=1)).cost_cents == 29
    with pytest.raises(LeaseLostError):
        await store.update(theirs.id, JobChange(cost_cents=29), epoch=1)


async def test_the_sweep_leaves_its_own_process_s_expired_leases_to_renewal(store: Store) -> None:
    # A step of this process may still be at work on the job: taking it again would run it twice.
    job_id = await claimed(store, A_EXPIRED)

    assert await store.take_over(A) == []
    assert await store.renew_leases(A) == 1
    assert await store.take_over(B) == []
    job = await store.get_job(job_id)
    assert job is not None
    assert job.epoch == 1


async def test_a_hint_reaches_every_listener_of_its_channel(store: Store) -> None:
    heard: list[str] = []
    await store.listen("jobs", lambda: heard.append("first"))
    await store.listen("jobs", lambda: heard.append("second"))
    await store.listen("other", lambda: heard.append("other"))

    await store.notify("jobs")

    for _ in range(100):  # delivered at once in one process, within moments across several
        if len(heard) == 2:
            break
        await asyncio.sleep(0.01)
    assert sorted(heard) == ["first", "second"]


async def test_adopting_a_group_takes_every_ended_variation_but_a_submit_on_the_wire(
    store: Store,
) -> None:
    news = [factories.new_job(ALICE, now=T0, prompt=f"variation {i}") for i in range(4)]
    admitted = await store.admit_group(
        news, T0, reserve_cents=29, cooldown_s=0, decide=lambda usage: None
    )
    assert isinstance(admitted, list)
    made, on_the_wire, still_making, queued = (job.id for job in admitted)
    for _ in range(3):
        assert await store.claim_next_queued(100, 100, A) is not None
    await store.move(made, JobState.SUBMITTING, epoch=1)
    await store.move(made, JobState.SUBMITTED, JobChange(prediction_id="p-0"), epoch=1)
    await store.move(made, JobState.COMPLETED, epoch=1)
    await store.move(on_the_wire, JobState.SUBMITTING, epoch=1)
    assert await store.cancel_job(on_the_wire, ALICE, T0) is not None  # A still awaits it
    assert await store.cancel_job(queued, ALICE, T0, B) is not None

    adopted = await store.adopt_group(admitted[0].id, B)

    # Neither the variation still being made nor the cancelled submit A awaits the answer of.
    assert [(job.id, job.owner, job.epoch) for job in adopted] == [
        (made, "process-b", 2),
        (queued, "process-b", 1),
    ]
    wire = await store.get_job(on_the_wire)
    making = await store.get_job(still_making)
    assert wire is not None
    assert making is not None
    assert (wire.owner, wire.epoch) == ("process-a", 1)
    assert (making.state, making.owner, making.epoch) == (JobState.CLAIMED, "process-a", 1)
