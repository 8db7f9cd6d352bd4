"""The server's rules as pure functions: access, quotas with their reset times, admin input,
the limits in force, and the calendar periods they use."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import SecretStr

from bot.errors import UserError
from bot.guilds import messages
from bot.guilds.model import LIMIT_NAMES, Block, GuildConfig, LimitName, QuotaUsage
from bot.guilds.policy import Access, Limits, check_access, check_quota, parse_limit
from bot.jobs.model import MAX_VARIATIONS
from bot.periods import day_start, month_start, next_day, next_month
from bot.settings import Settings

GUILD, USER, CHANNEL, THREAD_PARENT, ROLE = 1, 2, 10, 11, 20
NOW = datetime(2026, 3, 14, 20, 48, 0, tzinfo=UTC)  # 3 h 12 min before midnight UTC
UNLIMITED = Limits(daily=None, monthly=None, cooldown=None, in_flight=None, monthly_spend=None)
NO_USAGE = QuotaUsage(
    today=0, month=0, open_here=0, open_anywhere=0, last_started_at=None, guild_month_cents=0
)


def access(**changes: Any) -> Access:
    fields: dict[str, Any] = {
        "guild_id": GUILD,
        "user_id": USER,
        "role_ids": frozenset({ROLE}),
        "channel_ids": frozenset({CHANNEL}),
        "nsfw": False,
    }
    return Access(**(fields | changes))


def settings(**overrides: Any) -> Settings:
    return Settings(
        discord_token=SecretStr("x"),
        vibedream_api_key=SecretStr("y"),
        _env_file=None,  # type: ignore[call-arg]
        **overrides,
    )


# check_access -----------------------------------------------------------------------------------


def test_default_config_lets_everyone_in_everywhere() -> None:
    assert check_access(GuildConfig(), access(role_ids=frozenset()), None) is None


def test_blocked_member_is_refused_with_the_reason_whatever_else_allows() -> None:
    block = Block(USER, "spamming", blocked_by=3, blocked_at=NOW)

    refusal = check_access(GuildConfig(), access(), block)

    assert refusal == messages.blocked("spamming")
    assert "spamming" in refusal.render()


def test_channel_allowlist_refuses_other_channels_and_names_the_allowed_ones() -> None:
    config = GuildConfig(channel_ids=frozenset({99, 98}))

    assert check_access(config, access(), None) == messages.channel_not_allowed([98, 99])
    assert check_access(config, access(channel_ids=frozenset({99})), None) is None


def test_thread_of_an_allowed_channel_is_allowed() -> None:
    config = GuildConfig(channel_ids=frozenset({THREAD_PARENT}))

    assert (
        check_access(config, access(channel_ids=frozenset({CHANNEL, THREAD_PARENT})), None) is None
    )


def test_nsfw_only_refuses_ordinary_channels() -> None:
    config = GuildConfig(nsfw_only=True)

    assert check_access(config, access(nsfw=False), None) == messages.NSFW_ONLY
    assert check_access(config, access(nsfw=True), None) is None


def test_role_rule_refuses_members_without_one_of_the_roles() -> None:
    config = GuildConfig(role_ids=frozenset({ROLE, 21}))

    refusal = check_access(config, access(role_ids=frozenset({22})), None)

    assert refusal == messages.role_required([ROLE, 21])
    assert check_access(config, access(role_ids=frozenset({21, 22})), None) is None


# check_quota ------------------------------------------------------------------------------------


def test_no_limits_and_no_usage_fit() -> None:
    assert check_quota(UNLIMITED, NO_USAGE, 100, NOW) is None


@pytest.mark.parametrize("name", ["daily", "monthly", "in_flight", "monthly_spend"])
def test_a_limit_of_zero_switches_the_bot_off(name: str) -> None:
    limits = replace(UNLIMITED, **{name: 0})

    assert check_quota(limits, NO_USAGE, 0, NOW) == messages.SWITCHED_OFF


def test_a_cooldown_of_zero_means_none() -> None:
    usage = replace(NO_USAGE, last_started_at=NOW)

    assert check_quota(replace(UNLIMITED, cooldown=0), usage, 0, NOW) is None


def test_daily_limit_says_when_it_resets() -> None:
    limits = replace(UNLIMITED, daily=5)

    assert check_quota(limits, replace(NO_USAGE, today=4), 0, NOW) is None
    refusal = check_quota(limits, replace(NO_USAGE, today=5), 0, NOW)

    assert refusal == messages.daily_limit(5, timedelta(hours=3, minutes=12))
    assert "daily limit of 5" in refusal.render()
    assert "resets in 3 h 12 min" in refusal.render()


def test_monthly_limit_says_when_it_resets() -> None:
    limits = replace(UNLIMITED, monthly=30)

    assert check_quota(limits, replace(NO_USAGE, month=29), 0, NOW) is None
    refusal = check_quota(limits, replace(NO_USAGE, month=30), 0, NOW)

    # From 14 March 20:48 to 1 April 00:00.
    assert refusal == messages.monthly_limit(30, timedelta(days=17, hours=3, minutes=12))
    assert "resets in 17 days 3 h" in refusal.render()


def test_in_flight_limit_counts_open_jobs_on_this_server() -> None:
    limits = replace(UNLIMITED, in_flight=2)

    assert check_quota(limits, replace(NO_USAGE, open_here=1, open_anywhere=9), 0, NOW) is None
    refusal = check_quota(limits, replace(NO_USAGE, open_here=2), 0, NOW)

    assert refusal == messages.in_flight_limit(2)


def test_cooldown_runs_from_the_last_start() -> None:
    limits = replace(UNLIMITED, cooldown=90)

    waiting = replace(NO_USAGE, last_started_at=NOW - timedelta(seconds=30))
    refusal = check_quota(limits, waiting, 0, NOW)
    assert refusal == messages.cooldown(timedelta(seconds=60))
    assert "1 min 0 s" in refusal.render()

    done = replace(NO_USAGE, last_started_at=NOW - timedelta(seconds=90))
    assert check_quota(limits, done, 0, NOW) is None
    assert check_quota(limits, NO_USAGE, 0, NOW) is None  # never started one


def test_spending_cap_counts_the_expected_cost_of_the_new_job() -> None:
    limits = replace(UNLIMITED, monthly_spend=500)
    usage = replace(NO_USAGE, guild_month_cents=400)

    assert check_quota(limits, usage, 100, NOW) is None  # exactly at the cap is fine
    refusal = check_quota(limits, usage, 101, NOW)

    assert refusal == messages.spend_cap(500, next_month(NOW) - NOW)
    assert "$5.00" in refusal.render()


def test_none_means_unlimited_even_with_large_usage() -> None:
    heavy = QuotaUsage(
        today=10**6,
        month=10**6,
        open_here=10**3,
        open_anywhere=10**3,
        last_started_at=NOW,
        guild_month_cents=10**9,
    )

    assert check_quota(UNLIMITED, heavy, 10**6, NOW) is None


# parse_limit ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", LIMIT_NAMES)
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("default", "default"),
        (" Default ", "default"),
        ("unlimited", None),
        ("no limit", None),
    ],
)
def test_words_every_limit_accepts(name: LimitName, text: str, expected: str | None) -> None:
    assert parse_limit(name, text) == expected


@pytest.mark.parametrize("name", ["daily", "monthly", "in_flight"])
@pytest.mark.parametrize(("text", "expected"), [("0", 0), ("5", 5), (" 120 ", 120)])
def test_counts_are_whole_numbers(name: LimitName, text: str, expected: int) -> None:
    assert parse_limit(name, text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0", 0), ("45", 45), ("90s", 90), ("5m", 300), ("5 m", 300), ("1h", 3600), ("2d", 172800)],
)
def test_cooldown_takes_seconds_or_a_unit(text: str, expected: int) -> None:
    assert parse_limit("cooldown", text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0", 0), ("25", 2500), ("$12.50", 1250), ("12.5", 1250), ("$0.99", 99), ("7.05", 705)],
)
def test_spending_cap_takes_dollars(text: str, expected: int) -> None:
    assert parse_limit("monthly_spend", text) == expected


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("daily", "-1"),
        ("daily", "2.5"),
        ("daily", "five"),
        ("daily", ""),
        ("monthly", "10m"),
        ("in_flight", "$3"),
        ("cooldown", "-5"),
        ("cooldown", "5w"),
        ("cooldown", "1.5h"),
        ("cooldown", "m"),
        ("monthly_spend", "-10"),
        ("monthly_spend", "12.345"),
        ("monthly_spend", "€10"),
        ("monthly_spend", "ten"),
    ],
)
def test_other_values_are_refused_politely(name: LimitName, text: str) -> None:
    with pytest.raises(UserError) as refused:
        parse_limit(name, text)

    assert refused.value.user_message == messages.bad_limit_value(name, text)


# Limits.resolve ---------------------------------------------------------------------------------


def test_defaults_come_from_settings() -> None:
    s = settings(
        default_user_daily_limit=7,
        default_user_monthly_limit=70,
        default_user_cooldown_s=15,
        default_user_in_flight_limit=2,
        default_guild_monthly_spend_usd=12.5,
    )

    assert Limits.resolve(GuildConfig(), s) == Limits(
        daily=7, monthly=70, cooldown=15, in_flight=2, monthly_spend=1250
    )


def test_empty_defaults_mean_unlimited() -> None:
    s = settings(
        default_user_daily_limit=None,
        default_user_monthly_limit=None,
        default_user_cooldown_s=None,
        default_user_in_flight_limit=None,
        default_guild_monthly_spend_usd=None,
    )

    assert Limits.resolve(GuildConfig(), s) == UNLIMITED


def test_overrides_replace_defaults_including_unlimited_and_zero() -> None:
    config = GuildConfig(limits={"daily": 3, "monthly": None, "monthly_spend": 0})

    limits = Limits.resolve(config, settings())

    assert limits == Limits(daily=3, monthly=None, cooldown=30, in_flight=4, monthly_spend=0)
    assert limits.get("daily") == 3
    assert limits.get("cooldown") == 30


# Periods ----------------------------------------------------------------------------------------


def test_day_and_month_starts_are_midnight_utc() -> None:
    assert day_start(NOW) == datetime(2026, 3, 14, tzinfo=UTC)
    assert month_start(NOW) == datetime(2026, 3, 1, tzinfo=UTC)
    assert next_day(NOW) == datetime(2026, 3, 15, tzinfo=UTC)
    assert next_month(NOW) == datetime(2026, 4, 1, tzinfo=UTC)


def test_next_day_crosses_month_and_year_ends() -> None:
    assert next_day(datetime(2026, 2, 28, 23, 59, tzinfo=UTC)) == datetime(2026, 3, 1, tzinfo=UTC)
    assert next_day(datetime(2028, 2, 28, 12, tzinfo=UTC)) == datetime(2028, 2, 29, tzinfo=UTC)
    assert next_day(datetime(2026, 12, 31, 23, 0, tzinfo=UTC)) == datetime(2027, 1, 1, tzinfo=UTC)


def test_next_month_in_november_and_december() -> None:
    assert next_month(datetime(2026, 11, 30, 23, 59, tzinfo=UTC)) == datetime(
        2026, 12, 1, tzinfo=UTC
    )
    assert next_month(datetime(2026, 12, 1, tzinfo=UTC)) == datetime(2027, 1, 1, tzinfo=UTC)
    assert next_month(datetime(2026, 12, 31, 23, 59, tzinfo=UTC)) == datetime(
        2027, 1, 1, tzinfo=UTC
    )


def test_periods_use_utc_whatever_the_offset_of_now() -> None:
    tokyo = timezone(timedelta(hours=9))
    late_in_tokyo = datetime(2026, 4, 1, 5, 0, tzinfo=tokyo)  # 31 March 20:00 UTC

    assert day_start(late_in_tokyo) == datetime(2026, 3, 31, tzinfo=UTC)
    assert next_month(late_in_tokyo) == datetime(2026, 4, 1, tzinfo=UTC)


def test_the_default_limits_let_a_member_ask_for_every_variation_at_once() -> None:
    s = settings()
    limits = Limits.resolve(GuildConfig(), s)
    # A group is checked as its last job, with the others already in (`Admission._refusal`).
    others = MAX_VARIATIONS - 1
    usage = QuotaUsage(
        today=others,
        month=others,
        open_here=others,
        open_anywhere=others,
        last_started_at=None,
        guild_month_cents=0,
    )

    assert check_quota(limits, usage, expected_cents=29, now=NOW) is None
    assert s.max_jobs_queued_per_user > others
