"""A member's quota status and forgetting their prompts, through the real engine's jobs."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.errors import UserError
from bot.guilds import messages
from bot.guilds.model import AuditEntry, GuildConfig
from bot.jobs.model import (
    JobState,
)
from bot.periods import next_day, next_month
from tests.unit.jobs.engine import (
    ALICE,
    BOB,
    GUILD_ID,
    MOD,
    OTHER_GUILD_ID,
    Harness,
    MakeHarness,
)


async def test_quota_status_shows_what_is_left_and_when(make_harness: MakeHarness) -> None:
    h = make_harness(default_user_daily_limit=3, default_user_cooldown_s=60)
    await h.start()
    fresh = await h.members.quota_status(GUILD_ID, ALICE)
    assert (fresh.daily_left, fresh.monthly_left, fresh.ready_at) == (3, None, None)

    job = await h.accept(ALICE)
    status = await h.members.quota_status(GUILD_ID, ALICE)

    now = h.clock()
    assert status.daily_left == 2
    assert status.monthly_left is None
    assert status.ready_at == job.created_at + timedelta(seconds=60)
    assert status.daily_resets_at == next_day(now)
    assert status.monthly_resets_at == next_month(now)
    assert (await h.members.quota_status(OTHER_GUILD_ID, ALICE)).daily_left == 3
    h.clock.advance(61)
    assert (await h.members.quota_status(GUILD_ID, ALICE)).ready_at is None


async def test_quota_status_honours_the_servers_overrides(h: Harness) -> None:
    await h.store.inner.update_guild_config(
        GUILD_ID,
        lambda c: c.model_copy(update={"limits": {"daily": 0, "monthly": 7}}),
        AuditEntry(MOD, "limit", "daily", h.clock()),
    )

    status = await h.members.quota_status(GUILD_ID, ALICE)

    assert (status.daily_left, status.monthly_left) == (0, 7)
    with pytest.raises(UserError) as refused:
        await h.accept(ALICE)
    assert refused.value.user_message == messages.SWITCHED_OFF
    assert GuildConfig() == await h.store.inner.guild_config(OTHER_GUILD_ID)


async def test_forget_erases_only_the_callers_finished_jobs(h: Harness) -> None:
    mine = await h.accept(ALICE, prompt="mine")
    theirs = await h.accept(BOB, prompt="theirs")
    await h.wait_state(mine.id, JobState.DELIVERED)
    await h.wait_state(theirs.id, JobState.DELIVERED)

    assert await h.members.forget(ALICE) == 1

    erased, kept = await h.job(mine.id), await h.job(theirs.id)
    assert erased.redacted
    assert erased.prompt == ""
    assert erased.cost_cents == h.fake.cost_cents
    assert not kept.redacted
    assert kept.prompt == "theirs"
    usage = await h.members.usage(ALICE)
    assert usage.all_time.succeeded == 1
