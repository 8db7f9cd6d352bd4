"""Server limits end to end: daily, monthly, cooldown, in-flight, switched off, unlimited and
default, bad values, the spending cap under concurrent requests, and /usage with its quota,
`forget`, and retention."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from bot.members.model import QuotaStatus
from bot.periods import month_start, next_day, next_month
from tests.e2e.admin_tools import (
    admin,
    animate_outcome,
    audit_rows,
    fields_of,
    guild_config,
    reply_of,
    seed_job,
    texts_over,
    user_jobs,
    wait_all_notified,
)
from tests.e2e.conftest import BotProcess, BotRunner, animate_interaction, wait_until
from tests.english import english
from tests.fakes.discord import FakeDiscord
from tests.fakes.fake_vibedream import FakeVibedream
from tests.fakes.secret_scan import SCAN

PG_PASSWORD = "pg-password-of-the-e2e-bots"
SCAN.add_secret("DATABASE_URL password (e2e)", PG_PASSWORD)


@pytest.fixture(params=["sqlite", "postgresql"])
def e2e_database_url(request: pytest.FixtureRequest) -> str | None:
    """Every limit, on each backend: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return None
    url: str = request.getfixturevalue("empty_postgresql")
    # With a password (the test server lets anyone in): the bot must never log it.
    return url.replace("postgres@", f"postgres:{PG_PASSWORD}@", 1)


def is_progress(text: str) -> bool:
    """An accepted job's first progress line (queued, being sent, or already generating)."""
    return text.startswith(("⏳ **Queued**", "🎬 **Generating**", english.SUBMITTING))


async def set_limit(discord: FakeDiscord, name: str, value: str) -> dict[str, object]:
    """`/animate-admin limit name value`; returns the ephemeral reply."""
    return await admin(
        discord,
        "limit",
        options=[discord.string_option("name", name), discord.string_option("value", value)],
    )


async def animate_as(discord: FakeDiscord, user_id: int, **kwargs: object) -> str:
    """Send /animate as `user_id`; the first text on its response."""
    return await animate_outcome(discord, animate_interaction(discord, user_id=user_id, **kwargs))


def spend_cents(runner: BotRunner) -> int:
    """Settled costs plus open reservations of every job."""
    (row,) = runner.query("SELECT SUM(cost_cents + reserved_cents) AS total FROM jobs")
    return int(row["total"] or 0)


# Limits -------------------------------------------------------------------------------------------


async def test_daily_limit_refuses_with_the_time_to_midnight_utc(
    bot: BotProcess, runner: BotRunner, discord_fake: FakeDiscord
) -> None:
    alice = discord_fake.add_member("alice")
    await set_limit(discord_fake, "daily", "2")

    assert is_progress(await animate_as(discord_fake, alice))
    assert is_progress(await animate_as(discord_fake, alice))
    refused = await animate_as(discord_fake, alice)

    assert refused in texts_over(lambda now: english.daily_limit(2, next_day(now) - now))
    await wait_all_notified(runner, 2)
    assert is_progress(await animate_as(discord_fake, discord_fake.add_member("bob")))


async def test_simultaneous_requests_cannot_overshoot_a_members_daily_limit(
    bot: BotProcess, runner: BotRunner, discord_fake: FakeDiscord
) -> None:
    alice = discord_fake.add_member("alice")
    await set_limit(discord_fake, "daily", "2")

    outcomes = await asyncio.gather(*(animate_as(discord_fake, alice) for _ in range(5)))

    refusals = texts_over(lambda now: english.daily_limit(2, next_day(now) - now))
    assert sum(is_progress(text) for text in outcomes) == 2
    assert sum(text in refusals for text in outcomes) == 3
    await wait_all_notified(runner, 2)


async def test_monthly_limit_counts_earlier_jobs_this_month(
    bot: BotProcess, runner: BotRunner, discord_fake: FakeDiscord
) -> None:
    alice, bob = discord_fake.add_member("alice"), discord_fake.add_member("bob")
    start = month_start(datetime.now(UTC))
    for user, state, cost in ((alice, "delivered", 29), (alice, "failed", 29), (bob, "failed", 0)):
        seed_job(runner, discord_fake, user_id=user, created_at=start, state=state, cost_cents=cost)
    seed_job(runner, discord_fake, user_id=bob, created_at=start - timedelta(seconds=1))
    await set_limit(discord_fake, "monthly", "2")

    refused = await animate_as(discord_fake, alice)
    assert refused in texts_over(lambda now: english.monthly_limit(2, next_month(now) - now))
    # An uncharged failure and last month's clip do not count.
    assert is_progress(await animate_as(discord_fake, bob))
    await wait_all_notified(runner, 5)
    assert len(user_jobs(runner, alice)) == 2


async def test_cooldown_refuses_with_the_wait(
    bot: BotProcess, runner: BotRunner, discord_fake: FakeDiscord
) -> None:
    alice = discord_fake.add_member("alice")
    saved = await set_limit(discord_fake, "cooldown", "1h")
    assert f"{english.LIMIT_LABELS['cooldown']}: **1 h 0 min**" in fields_of(saved)["Limits"]

    assert is_progress(await animate_as(discord_fake, alice))
    refused = await animate_as(discord_fake, alice)

    (job,) = runner.jobs()
    ready_at = datetime.fromtimestamp(job["created_at"], UTC) + timedelta(hours=1)
    assert refused in texts_over(lambda now: english.cooldown(ready_at - now))
    none = await set_limit(discord_fake, "cooldown", "0")
    assert f"{english.LIMIT_LABELS['cooldown']}: **none**" in fields_of(none)["Limits"]
    assert audit_rows(runner)[-1][1:] == ("limit-cooldown", "none")
    assert is_progress(await animate_as(discord_fake, alice))
    await wait_all_notified(runner, 2)


async def test_in_flight_limit_frees_a_slot_when_a_job_ends(
    bot: BotProcess, runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    alice = discord_fake.add_member("alice")
    await set_limit(discord_fake, "in_flight", "1")
    video_api.hold()

    assert is_progress(await animate_as(discord_fake, alice))
    assert await animate_as(discord_fake, alice) == english.in_flight_limit(1)
    await wait_until(lambda: len(video_api.predictions) == 1)
    (prediction_id,) = video_api.predictions
    video_api.release()
    video_api.complete_now(prediction_id)
    await wait_all_notified(runner, 1)

    assert is_progress(await animate_as(discord_fake, alice))
    await wait_all_notified(runner, 2)


async def test_zero_switches_off_and_unlimited_and_default_restore(
    runner: BotRunner, discord_fake: FakeDiscord
) -> None:
    await runner.start(default_user_daily_limit="1")
    alice = discord_fake.add_member("alice")
    label = english.LIMIT_LABELS["daily"]

    view = await admin(discord_fake, "view")
    assert f"{label}: **1** (default)" in fields_of(view)["Limits"]
    off = await set_limit(discord_fake, "daily", "0")
    assert f"{label}: **0 (blocked)**" in fields_of(off)["Limits"]
    assert await animate_as(discord_fake, alice) == english.SWITCHED_OFF

    unlimited = await set_limit(discord_fake, "daily", "unlimited")
    assert f"{label}: **unlimited**\n" in fields_of(unlimited)["Limits"]
    assert guild_config(runner) == {**(guild_config(runner) or {}), "limits": {"daily": None}}
    assert is_progress(await animate_as(discord_fake, alice))
    assert is_progress(await animate_as(discord_fake, alice))

    default = await set_limit(discord_fake, "daily", "default")
    assert f"{label}: **1** (default)" in fields_of(default)["Limits"]
    assert (guild_config(runner) or {})["limits"] == {}
    refused = await animate_as(discord_fake, alice)
    assert refused in texts_over(lambda now: english.daily_limit(1, next_day(now) - now))
    await wait_all_notified(runner, 2)
    owner = discord_fake.owner_id
    assert audit_rows(runner) == [
        (owner, "limit-daily", "0 (blocked)"),
        (owner, "limit-daily", "unlimited"),
        (owner, "limit-daily", "default"),
    ]


async def test_bad_limit_values_are_refused_without_a_change(
    bot: BotProcess, runner: BotRunner, discord_fake: FakeDiscord
) -> None:
    await set_limit(discord_fake, "daily", "5")
    before = (guild_config(runner), audit_rows(runner))

    for name, value in (
        ("daily", "abc"),
        ("daily", "1.5"),
        ("daily", "off"),  # ambiguous: switched off, or no limit?
        ("monthly_spend", "none"),
        ("monthly", "-3"),
        ("cooldown", "5 parsecs"),
        ("in_flight", "two"),
        ("monthly_spend", "$1.234"),
        ("monthly_spend", "€5"),
    ):
        reply = await set_limit(discord_fake, name, value)
        assert reply["content"] == english.bad_limit_value(name, value)  # type: ignore[arg-type]
        assert not reply.get("embeds")

    too_long = await set_limit(discord_fake, "cooldown", "99999999999d")
    assert too_long["content"] == english.limit_too_large("cooldown", "99999999999d", 365 * 86400)
    assert (guild_config(runner), audit_rows(runner)) == before


# Spending cap -------------------------------------------------------------------------------------


async def test_spending_cap_admits_exactly_what_fits_among_20_concurrent_requests(
    runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    await runner.start(expected_cost_cents=str(video_api.cost_cents))
    cap = 3 * video_api.cost_cents
    saved = await set_limit(discord_fake, "monthly_spend", f"${cap / 100:.2f}")
    assert f"**{english.dollars(cap)}**" in fields_of(saved)["Limits"]
    users = [discord_fake.add_member(f"user{i}") for i in range(20)]
    highest = 0
    done = asyncio.Event()

    async def watch_spend() -> None:
        nonlocal highest
        while not done.is_set():
            highest = max(highest, spend_cents(runner))
            await asyncio.sleep(0.02)

    watcher = asyncio.create_task(watch_spend())
    outcomes = await asyncio.gather(*(animate_as(discord_fake, user) for user in users))
    await wait_all_notified(runner, 3, 30)
    done.set()
    await watcher

    accepted = [text for text in outcomes if is_progress(text)]
    refusals = texts_over(lambda now: english.spend_cap(cap, next_month(now) - now))
    assert len(accepted) == 3
    assert sum(text in refusals for text in outcomes) == 17
    assert all(j["state"] == "delivered" for j in runner.jobs())
    assert highest <= cap
    assert spend_cents(runner) == cap
    assert len(video_api.predictions) == 3


async def test_a_job_refused_before_submission_releases_its_reservation(
    runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    await runner.start(expected_cost_cents=str(video_api.cost_cents))
    cap = video_api.cost_cents
    await set_limit(discord_fake, "monthly_spend", f"{cap / 100:.2f}")
    alice, bob = discord_fake.add_member("alice"), discord_fake.add_member("bob")
    video_api.fail_next("submit", 400)

    first = await animate_as(discord_fake, alice)
    # Accepted: the API refused it, so fast that no progress line was shown before the failure.
    assert is_progress(first) or first.startswith(english.failed(""))
    await wait_all_notified(runner, 1)
    (failed,) = runner.jobs()
    assert (failed["state"], failed["cost_cents"], failed["reserved_cents"]) == ("failed", 0, 0)

    assert is_progress(await animate_as(discord_fake, bob))
    refused = await animate_as(discord_fake, alice)
    assert refused in texts_over(lambda now: english.spend_cap(cap, next_month(now) - now))
    await wait_all_notified(runner, 2)
    assert spend_cents(runner) == cap


# /usage -------------------------------------------------------------------------------------------


async def usage_reply(
    discord: FakeDiscord, user_id: int, forget: bool = False
) -> dict[str, object]:
    """The ephemeral reply to `/usage` (with `forget:true` if asked)."""
    options = [discord.boolean_option("forget", True)] if forget else []
    d = discord.make_interaction("usage", options, user_id=user_id)
    await discord.send_interaction(d)
    return await reply_of(discord, d)


async def test_usage_shows_what_is_left_on_this_server(
    bot: BotProcess, runner: BotRunner, discord_fake: FakeDiscord
) -> None:
    alice = discord_fake.add_member("alice")
    await set_limit(discord_fake, "daily", "3")
    await set_limit(discord_fake, "cooldown", "1h")
    assert is_progress(await animate_as(discord_fake, alice))
    await wait_all_notified(runner, 1)

    reply = await usage_reply(discord_fake, alice)

    now = datetime.now(UTC)
    (job,) = runner.jobs()
    expected = QuotaStatus(
        daily_left=2,
        monthly_left=None,
        ready_at=datetime.fromtimestamp(job["created_at"], UTC) + timedelta(hours=1),
        daily_resets_at=next_day(now),
        monthly_resets_at=next_month(now),
    )
    assert fields_of(reply)["Left on this server"] == english.quota_lines(expected)


async def test_forget_erases_only_the_callers_finished_jobs(
    bot: BotProcess, runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    alice, bob = discord_fake.add_member("alice"), discord_fake.add_member("bob")
    for user, prompt in ((alice, "alice one"), (alice, "alice two"), (bob, "bob one")):
        assert is_progress(await animate_as(discord_fake, user, prompt=prompt))
    await wait_all_notified(runner, 3)
    video_api.hold()
    assert is_progress(await animate_as(discord_fake, alice, prompt="alice running"))
    await wait_until(lambda: len(video_api.predictions) == 4)
    await wait_until(lambda: runner.jobs()[-1]["state"] == "submitted")  # the answer is in
    before = {j["id"]: dict(j) for j in runner.jobs()}

    reply = await usage_reply(discord_fake, alice, forget=True)

    assert reply["content"] == english.forgotten(2)
    after = {j["id"]: dict(j) for j in runner.jobs()}
    for job_id, row in after.items():
        old = before[job_id]
        assert (row["state"], row["cost_cents"], row["duration_s"]) == (
            old["state"],
            old["cost_cents"],
            old["duration_s"],
        )
        erased = old["user_id"] == alice and old["notified"]
        assert row["redacted"] == erased
        assert (row["prompt"] == "") == erased
        assert (row["image_url"] == "") == erased
        assert (row["output_url"] is None) == (erased or old["output_url"] is None)
    assert [j["prompt"] for j in runner.jobs() if j["user_id"] != alice] == ["bob one"]
    assert user_jobs(runner, alice)[-1]["prompt"] == "alice running"

    video_api.release()
    video_api.complete_now(next(reversed(video_api.predictions)))
    await wait_all_notified(runner, 4)
    usage = await usage_reply(discord_fake, alice)
    (embed,) = usage["embeds"]  # type: ignore[misc]
    description = str(embed["description"])
    assert description.count("(erased)") == 2
    assert "alice running" in description
    assert "3 generations (3 succeeded, 0 failed)" in fields_of(usage)["All time"]
    bob_usage = await usage_reply(discord_fake, bob)
    assert "bob one" in str(bob_usage["embeds"])


async def test_retention_erases_old_finished_jobs_at_start(
    runner: BotRunner, discord_fake: FakeDiscord
) -> None:
    first = await runner.start()
    await first.stop()
    now = datetime.now(UTC)
    alice = discord_fake.add_member("alice")
    old = seed_job(
        runner, discord_fake, user_id=alice, created_at=now - timedelta(days=2), prompt="old"
    )
    recent = seed_job(
        runner, discord_fake, user_id=alice, created_at=now - timedelta(hours=1), prompt="new"
    )

    await runner.start(retention_days="1")

    await wait_until(lambda: bool(runner.jobs()[0]["redacted"]))
    rows = {j["id"]: j for j in runner.jobs()}
    assert (rows[old]["prompt"], rows[old]["image_url"], rows[old]["output_url"]) == ("", "", None)
    assert rows[old]["cost_cents"] == 29
    assert (rows[recent]["prompt"], rows[recent]["redacted"]) == ("new", 0)
    assert rows[recent]["output_url"] is not None
