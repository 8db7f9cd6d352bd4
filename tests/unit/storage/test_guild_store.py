"""SqlStore's server controls on a real file: atomic admission, reservations, cancellation,
server reports, data retention, configuration, blocks and the audit trail."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from bot.guilds.model import AuditEntry, Block, GuildConfig, QuotaUsage
from bot.jobs.model import CANCELLABLE, Job, JobChange, JobState, NewJob
from bot.members import messages
from bot.members.model import UsageTotals
from bot.storage import schema
from bot.storage.store import SqlStore
from tests import factories
from tests.factories import LEASE, SETTINGS

SEEDANCE = "seedance-1.5-pro-i2v"

T0 = datetime(2025, 3, 15, 10, 0, 0, tzinfo=UTC)
GUILD, OTHER_GUILD = 555, 556
ALICE, BOB, CAROL, ADMIN = 1001, 1002, 1003, 1
RESERVE = 100


def new_job(
    user_id: int = ALICE, *, guild_id: int = GUILD, duration_s: int = 5, prompt: str = "cat"
) -> NewJob:
    return factories.new_job(
        user_id,
        now=T0,
        guild_id=guild_id,
        duration_s=duration_s,
        prompt=prompt,
        last_image_url="https://cdn.example.com/last.png",
        nonce=f"nonce-{user_id}",
    )


async def admitted(
    store: SqlStore, new: NewJob | None = None, now: datetime = T0, reserve: int = RESERVE
) -> Job:
    job = await store.admit(
        new or new_job(), now, reserve_cents=reserve, cooldown_s=0, decide=lambda _: None
    )
    assert isinstance(job, Job)
    return job


async def job_in(store: SqlStore, state: JobState, new: NewJob | None = None) -> Job:
    """A job moved along the normal path to `state`."""
    job = await admitted(store, new)
    if state == JobState.QUEUED:
        return job
    if state == JobState.CANCELLED:
        cancelled = await store.cancel_job(job.id, ADMIN, T0)
        assert cancelled is not None
        return cancelled
    if state == JobState.FAILED:
        return await factories.fail(store, job.id, "boom", None, T0)
    await factories.record(store, job.id, JobState.CLAIMED)
    if state == JobState.CLAIMED:
        return await store.get_job(job.id) or job
    await factories.record(store, job.id, JobState.SUBMITTING)
    if state == JobState.SUBMITTING:
        return await store.get_job(job.id) or job
    job = await factories.submit(store, job.id, f"pred-{job.id}", 29, (1.0, 2.0), T0)
    if state == JobState.SUBMITTED:
        return job
    job = await factories.complete(store, job.id, "https://assets.example/out.mp4", None, T0)
    if state == JobState.COMPLETED:
        return job
    job = await factories.record(store, job.id, JobState.DELIVERING)
    if state == JobState.DELIVERING:
        return job
    return await factories.deliver(store, job.id, 4242, "file", T0)


async def usage_now(store: SqlStore, user_id: int = ALICE, cooldown_s: int = 0) -> int:
    return (await store.quota_usage(GUILD, user_id, T0, cooldown_s)).guild_month_cents


# Admission ---------------------------------------------------------------------------------------


async def test_twenty_concurrent_admits_with_room_for_three_admit_exactly_three(
    store: SqlStore,
) -> None:
    seen: list[tuple[int, int]] = []

    def decide(usage: QuotaUsage) -> str | None:
        seen.append((usage.today, usage.guild_month_cents))
        return "full" if usage.today >= 3 else None

    results = await asyncio.gather(
        *(
            store.admit(
                new_job(ALICE, prompt=f"p{i}"),
                T0,
                reserve_cents=RESERVE,
                cooldown_s=0,
                decide=decide,
            )
            for i in range(20)
        )
    )

    jobs = [r for r in results if isinstance(r, Job)]
    assert len(jobs) == 3
    assert [r for r in results if not isinstance(r, Job)] == ["full"] * 17
    # Each decision saw every admission before it, reservations included: a consistent order.
    assert sorted(seen) == [(0, 0), (1, 100), (2, 200)] + [(3, 300)] * 17
    assert len(await store.open_jobs()) == 3


async def test_admits_from_two_processes_sharing_the_file_never_overshoot_the_spend_cap(
    reopen: Callable[[], AbstractAsyncContextManager[SqlStore]], store: SqlStore
) -> None:
    async with reopen() as second:
        cap = 300

        def decide(usage: QuotaUsage) -> str | None:
            return "over budget" if usage.guild_month_cents + RESERVE > cap else None

        calls = [
            s.admit(new_job(1000 + i), T0, reserve_cents=RESERVE, cooldown_s=0, decide=decide)
            for i in range(20)
            for s in [store if i % 2 else second]
        ]
        results = await asyncio.gather(*calls)

    assert sum(isinstance(r, Job) for r in results) == 3
    assert await usage_now(store) == cap


async def test_refused_admission_stores_nothing(store: SqlStore) -> None:
    result = await store.admit(
        new_job(), T0, reserve_cents=RESERVE, cooldown_s=0, decide=lambda _: "no"
    )

    assert result == "no"
    assert await store.open_jobs() == []


async def test_quota_usage_counts_what_the_limits_count(store: SqlStore) -> None:
    yesterday = T0 - timedelta(days=1)
    last_month = T0 - timedelta(days=20)
    await admitted(store, now=yesterday)  # this month, not today
    await admitted(store, now=last_month)  # another month entirely
    await admitted(store)  # today, queued: counts and is open
    uncharged = await admitted(store)  # rejected before submit: counts nothing
    await factories.fail(store, uncharged.id, "refused", 0, T0)
    cancelled = await admitted(store)  # cancelled before submit: counts nothing
    await store.cancel_job(cancelled.id, ALICE, T0)
    charged = await admitted(store)  # failed after the API charged: counts
    await factories.fail(store, charged.id, "moderated", 29, T0)
    await admitted(store, new_job(BOB))  # someone else's
    await admitted(store, new_job(ALICE, guild_id=OTHER_GUILD))  # open on another server

    usage = await store.quota_usage(GUILD, ALICE, T0, cooldown_s=60)

    assert usage.today == 2
    assert usage.month == 3
    assert usage.open_here == 3  # today's, yesterday's and last month's queued jobs
    assert usage.open_anywhere == 4
    assert usage.last_started_at == T0
    # Reservations of the open jobs (3 on this server this month: yesterday's, today's, Bob's)
    # plus the charged failure.
    assert usage.guild_month_cents == 3 * RESERVE + 29


# Reservations ------------------------------------------------------------------------------------


async def test_reservation_is_settled_by_the_submit_cost(store: SqlStore) -> None:
    job = await admitted(store)
    assert job.reserved_cents == RESERVE
    assert await usage_now(store) == RESERVE

    submitted = await factories.submit(store, job.id, "pred-1", 29, None, T0)

    assert (submitted.reserved_cents, submitted.cost_cents) == (0, 29)
    assert await usage_now(store) == 29


async def test_reservation_is_released_when_the_job_fails_before_submit(
    store: SqlStore,
) -> None:
    job = await admitted(store)

    failed = await factories.fail(store, job.id, "link expired", 0, T0)

    assert (failed.reserved_cents, failed.cost_cents) == (0, 0)
    assert await usage_now(store) == 0


async def test_failure_after_submit_keeps_the_cost_the_api_reported(store: SqlStore) -> None:
    job = await job_in(store, JobState.SUBMITTED)

    failed = await factories.fail(store, job.id, "timed out", None, T0)

    assert (failed.reserved_cents, failed.cost_cents) == (0, 29)


async def test_expected_cost_is_the_price_the_api_charged_for_the_same_settings(
    store: SqlStore,
) -> None:
    assert await store.expected_cost(SEEDANCE, SETTINGS) is None
    job = await admitted(store)
    await factories.submit(store, job.id, "pred-1", 37, None, T0)
    other = await admitted(store, new_job(duration_s=10))
    await factories.submit(store, other.id, "pred-2", 80, None, T0)

    assert await store.expected_cost(SEEDANCE, SETTINGS) == 37
    assert await store.expected_cost(SEEDANCE, replace(SETTINGS, duration_s=10)) == 80
    assert await store.expected_cost(SEEDANCE, replace(SETTINGS, resolution="1080p")) is None


async def test_expected_cost_is_learned_per_model(store: SqlStore) -> None:
    job = await admitted(store)
    await factories.submit(store, job.id, "pred-1", 37, None, T0)
    veo = await admitted(store, replace(new_job(BOB), model="veo3-i2v"))
    await factories.submit(store, veo.id, "pred-2", 132, None, T0)

    assert await store.expected_cost(SEEDANCE, SETTINGS) == 37
    assert await store.expected_cost("veo3-i2v", SETTINGS) == 132
    assert await store.expected_cost("vidu-q3-i2v", SETTINGS) is None


# Cancellation ------------------------------------------------------------------------------------


@pytest.mark.parametrize("state", sorted(CANCELLABLE))
async def test_cancel_from_a_cancellable_state(store: SqlStore, state: JobState) -> None:
    job = await job_in(store, state)
    cost_before = job.cost_cents

    cancelled = await store.cancel_job(job.id, BOB, T0 + timedelta(seconds=5))

    assert cancelled is not None
    assert cancelled.state == JobState.CANCELLED
    assert cancelled.cancelled_by == BOB
    # A submit on the wire may still be charged: its reservation stands until settled.
    assert cancelled.reserved_cents == (job.reserved_cents if state == JobState.SUBMITTING else 0)
    assert cancelled.cost_cents == cost_before  # what the API charged stays
    assert cancelled.finished_at == T0 + timedelta(seconds=5)
    assert not cancelled.notified  # the requester still has to be told


@pytest.mark.parametrize(
    "state", [JobState.DELIVERING, JobState.DELIVERED, JobState.FAILED, JobState.CANCELLED]
)
async def test_cancel_refused_past_the_point_of_posting(store: SqlStore, state: JobState) -> None:
    job = await job_in(store, state)

    assert await store.cancel_job(job.id, BOB, T0) is None
    after = await store.get_job(job.id)
    assert after is not None
    assert after.state == state
    assert after.cancelled_by == (ADMIN if state == JobState.CANCELLED else None)


async def test_cancel_of_an_unknown_job_is_none(store: SqlStore) -> None:
    assert await store.cancel_job(12345, BOB, T0) is None


async def test_late_steps_never_overwrite_a_cancelled_state(store: SqlStore) -> None:
    job = await job_in(store, JobState.SUBMITTING)
    cancelled = await store.cancel_job(job.id, ALICE, T0)

    for state in JobState:
        assert await store.move(job.id, state, JobChange(error="late")) is None
    assert await store.get_job(job.id) == cancelled  # a refused move writes nothing
    # What a late step learnt is still recorded on its own, the state untouched.
    late = JobChange(prediction_id="pred-late", cost_cents=29, reserved_cents=0)
    recorded = await store.update(job.id, late)
    assert recorded.state == JobState.CANCELLED
    assert (recorded.prediction_id, recorded.cost_cents, recorded.reserved_cents) == (
        "pred-late",
        29,
        0,
    )
    output = "https://assets.example/o.mp4"
    completed = await store.update(job.id, JobChange(output_url=output, cost_cents=31))
    assert completed.state == JobState.CANCELLED
    assert (completed.output_url, completed.cost_cents) == (output, 31)


async def test_a_cancelled_job_frees_its_slot(store: SqlStore) -> None:
    running = await job_in(store, JobState.SUBMITTED)
    waiting = await admitted(store, new_job(BOB))
    assert await store.claim_next_queued(max_in_flight=1, max_per_user=5, lease=LEASE) is None

    await store.cancel_job(running.id, ALICE, T0)

    claimed = await store.claim_next_queued(max_in_flight=1, max_per_user=5, lease=LEASE)
    assert claimed is not None
    assert claimed.id == waiting.id


async def test_mod_log_message_is_remembered(store: SqlStore) -> None:
    job = await admitted(store)

    await store.update(job.id, JobChange(mod_log_channel_id=888, mod_log_message_id=999))

    stored = await store.get_job(job.id)
    assert stored is not None
    assert (stored.mod_log_channel_id, stored.mod_log_message_id) == (888, 999)


# Server reports ----------------------------------------------------------------------------------


async def test_guild_usage_totals_and_top_users(store: SqlStore) -> None:
    for user, duration in ((ALICE, 5), (ALICE, 10), (BOB, 5)):
        job = await job_in(store, JobState.DELIVERED, new_job(user, duration_s=duration))
        assert job.cost_cents == 29
    await job_in(store, JobState.FAILED, new_job(BOB))  # rejected: listed, costs nothing
    charged = await job_in(store, JobState.SUBMITTED, new_job(CAROL))
    await factories.fail(store, charged.id, "moderated", None, T0)
    paid_cancel = await job_in(store, JobState.SUBMITTED, new_job(CAROL))
    await store.cancel_job(paid_cancel.id, CAROL, T0)
    await job_in(store, JobState.CANCELLED, new_job(CAROL))  # before submit: costs nothing
    await admitted(store, new_job(BOB))  # still queued: its reservation is spend
    await job_in(store, JobState.DELIVERED, new_job(ALICE, guild_id=OTHER_GUILD))
    await admitted(store, new_job(ALICE), now=T0 - timedelta(days=40))  # long ago

    month = await store.guild_usage(GUILD, T0 - timedelta(days=1))

    t = month.totals
    # A report lists every job that ended; only the limits skip those nobody paid for.
    assert (t.succeeded, t.failed, t.cancelled) == (3, 2, 2)
    assert t.video_seconds == 20
    assert t.cost_cents == 5 * 29 + RESERVE
    assert [(u.user_id, u.totals.cost_cents) for u in month.top_users] == [
        (BOB, 29 + RESERVE),
        (ALICE, 58),
        (CAROL, 58),
    ]
    alice = month.top_users[1].totals
    assert (alice.succeeded, alice.video_seconds) == (2, 15)
    all_time = await store.guild_usage(GUILD, None, top=1)
    assert all_time.totals.cost_cents == t.cost_cents + RESERVE
    assert len(all_time.top_users) == 1
    assert all_time.since is None


async def copy_job(store: SqlStore, job_id: int, times: int) -> None:
    """Write `times` copies of a job directly, for speed (the same SQL on every backend)."""
    listed = ", ".join(c.name for c in schema.jobs.c if c.name != "id")
    await store.database.write(
        sa.text(
            f"""WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {times})
                INSERT INTO jobs ({listed}) SELECT {listed} FROM jobs, n WHERE jobs.id = :id"""
        ),
        {"id": job_id},
    )


async def test_guild_jobs_reads_every_job_in_batches_oldest_first(store: SqlStore) -> None:
    first = await admitted(store)
    await admitted(store, new_job(guild_id=OTHER_GUILD))
    await copy_job(store, first.id, 1234)

    ids = [job.id async for job in store.guild_jobs(GUILD, T0 - timedelta(days=1))]

    assert len(ids) == 1235
    assert ids == sorted(set(ids))
    assert ids[0] == first.id
    assert [job.id async for job in store.guild_jobs(GUILD, T0 + timedelta(days=1))] == []
    assert len([j async for j in store.guild_jobs(OTHER_GUILD, None)]) == 1


async def test_guild_jobs_with_exactly_one_batch(store: SqlStore) -> None:
    first = await admitted(store)
    await copy_job(store, first.id, 499)

    assert len([j async for j in store.guild_jobs(GUILD, None)]) == 500


# Data retention ----------------------------------------------------------------------------------


async def test_redact_user_erases_only_that_users_finished_jobs(store: SqlStore) -> None:
    delivered = await job_in(store, JobState.DELIVERED)
    failed = await job_in(store, JobState.FAILED)
    await factories.told(store, failed.id)
    open_job = await job_in(store, JobState.SUBMITTED)
    unnotified_failure = await job_in(store, JobState.FAILED)
    bobs = await job_in(store, JobState.DELIVERED, new_job(BOB))

    assert await store.redact_user(ALICE) == 2
    assert await store.redact_user(ALICE) == 0  # nothing left to erase

    for job_id in (delivered.id, failed.id):
        erased = await store.get_job(job_id)
        assert erased is not None
        assert erased.redacted
        assert (erased.prompt, erased.image_url) == ("", "")
        assert erased.last_image_url is None
        assert erased.output_url is None
        assert erased.cost_cents == (29 if job_id == delivered.id else 0)  # figures stay
        assert erased.state in (JobState.DELIVERED, JobState.FAILED)
    for job_id in (open_job.id, unnotified_failure.id, bobs.id):
        kept = await store.get_job(job_id)
        assert kept is not None
        assert not kept.redacted
        assert kept.prompt == "cat"


async def test_redact_before_erases_only_old_finished_jobs(store: SqlStore) -> None:
    old = await admitted(store, now=T0 - timedelta(days=100))
    await factories.fail(store, old.id, "x", 0, T0)
    await factories.told(store, old.id)
    old_open = await admitted(store, new_job(BOB), now=T0 - timedelta(days=100))
    recent = await job_in(store, JobState.DELIVERED)

    assert await store.redact_before(T0 - timedelta(days=90)) == 1

    assert (await store.get_job(old.id)).redacted  # type: ignore[union-attr]
    assert not (await store.get_job(old_open.id)).redacted  # type: ignore[union-attr]
    assert not (await store.get_job(recent.id)).redacted  # type: ignore[union-attr]


# Configuration, blocks, audit --------------------------------------------------------------------


async def test_config_defaults_then_updates_with_an_audit_entry(store: SqlStore) -> None:
    assert await store.guild_config(GUILD) == GuildConfig()
    entry = AuditEntry(ADMIN, "channels allow", "<#5>", T0)

    updated = await store.update_guild_config(
        GUILD, lambda c: c.model_copy(update={"channel_ids": c.channel_ids | {5}}), entry
    )

    assert updated.channel_ids == frozenset({5})
    assert await store.guild_config(GUILD) == updated
    assert await store.guild_config(OTHER_GUILD) == GuildConfig()
    assert await store.audit_log(GUILD, 10) == [entry]
    assert await store.audit_log(OTHER_GUILD, 10) == []


async def test_config_change_that_raises_writes_nothing(store: SqlStore) -> None:
    def refuse(config: GuildConfig) -> GuildConfig:
        raise ValueError("refused")

    with pytest.raises(ValueError, match="refused"):
        await store.update_guild_config(GUILD, refuse, AuditEntry(ADMIN, "x", "y", T0))

    assert await store.guild_config(GUILD) == GuildConfig()
    assert await store.audit_log(GUILD, 10) == []
    # The transaction connection is usable afterwards.
    await store.update_guild_config(
        GUILD, lambda c: c.model_copy(update={"nsfw_only": True}), AuditEntry(ADMIN, "a", "b", T0)
    )
    assert (await store.guild_config(GUILD)).nsfw_only


async def test_limits_round_trip_including_unlimited(store: SqlStore) -> None:
    limits = {"daily": 5, "monthly": None, "monthly_spend": 0}

    await store.update_guild_config(
        GUILD,
        lambda c: c.model_copy(update={"limits": limits}),
        AuditEntry(ADMIN, "limit", "daily", T0),
    )

    assert (await store.guild_config(GUILD)).limits == limits


async def test_block_unblock_and_audit(store: SqlStore) -> None:
    await store.block_user(GUILD, Block(BOB, "spam", ADMIN, T0))
    await store.block_user(GUILD, Block(BOB, "more spam", ADMIN, T0 + timedelta(minutes=1)))
    await store.block_user(GUILD, Block(CAROL, "rude", ADMIN, T0 + timedelta(minutes=2)))

    block = await store.get_block(GUILD, BOB)
    assert block == Block(BOB, "more spam", ADMIN, T0 + timedelta(minutes=1))
    assert await store.get_block(OTHER_GUILD, BOB) is None
    assert [b.user_id for b in await store.blocks(GUILD)] == [CAROL, BOB]

    lifted = AuditEntry(ADMIN, "unblock", f"<@{BOB}>", T0 + timedelta(minutes=3))
    assert await store.unblock_user(GUILD, BOB, lifted)
    assert not await store.unblock_user(GUILD, BOB, lifted)  # not blocked any more: no entry
    assert await store.get_block(GUILD, BOB) is None

    log = await store.audit_log(GUILD, 10)
    assert [e.action for e in log] == ["unblock", "block", "block", "block"]
    assert log[0] == lifted
    assert "more spam" in log[2].detail
    assert [e.action for e in await store.audit_log(GUILD, 2)] == ["unblock", "block"]


# The user's own report ---------------------------------------------------------------------------


async def test_user_report_counts_cancelled_jobs_as_ended_not_in_progress(
    store: SqlStore,
) -> None:
    await job_in(store, JobState.CANCELLED)
    paid = await job_in(store, JobState.SUBMITTED)
    await store.cancel_job(paid.id, ALICE, T0)
    await job_in(store, JobState.SUBMITTED)  # really in progress
    failed = await job_in(store, JobState.FAILED)  # ended, not yet told
    assert not failed.notified

    report = await store.usage_report(ALICE, T0)

    assert report.in_progress == 1
    assert report.all_time.cancelled == 2
    assert report.today.cancelled == 2
    assert report.all_time.cost_cents == 2 * 29


def test_user_totals_mention_cancelled_jobs_only_when_there_are_some() -> None:
    assert "cancelled" not in messages.usage_totals(UsageTotals(1, 1, 5, 29)).render()
    assert (
        messages.usage_totals(UsageTotals(1, 0, 5, 29, cancelled=2))
        .render()
        .startswith("3 generations (1 succeeded, 0 failed, 2 cancelled)")
    )
