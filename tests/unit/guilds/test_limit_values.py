"""Admins' limit values and the order of quota refusals, as found by the end-to-end tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.errors import UserError
from bot.guilds import messages
from bot.guilds.model import LimitName, QuotaUsage
from bot.guilds.policy import Limits, check_quota, parse_limit
from bot.i18n.text import Text

NOW = datetime(2026, 11, 23, 21, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("daily", "5", 5),
        ("daily", " 0 ", 0),
        ("daily", "Unlimited", None),
        ("daily", "default", "default"),
        ("cooldown", "90", 90),
        ("cooldown", "90s", 90),
        ("cooldown", "5m", 300),
        ("cooldown", "1h", 3600),
        ("cooldown", "2d", 172800),
        ("monthly_spend", "25", 2500),
        ("monthly_spend", "$0.87", 87),
        ("monthly_spend", "$12.5", 1250),
    ],
)
def test_parse_limit_reads_numbers_units_and_words(
    name: LimitName, text: str, expected: int | str | None
) -> None:
    assert parse_limit(name, text) == expected


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("daily", "abc"),
        ("daily", "1.5"),
        ("daily", "-1"),
        ("daily", "off"),
        ("daily", "none"),
        ("cooldown", "5 parsecs"),
        ("monthly_spend", "$1.234"),
        ("monthly_spend", "5€"),
    ],
)
def test_parse_limit_refuses_anything_else_with_the_forms_it_takes(
    name: LimitName, text: str
) -> None:
    with pytest.raises(UserError) as refused:
        parse_limit(name, text)
    assert refused.value.user_message == messages.bad_limit_value(name, text)


def test_quota_reasons_come_in_a_fixed_order() -> None:
    usage = QuotaUsage(
        today=2,
        month=2,
        open_here=1,
        open_anywhere=1,
        last_started_at=NOW - timedelta(seconds=10),
        guild_month_cents=100,
    )
    every = Limits(daily=2, monthly=2, cooldown=60, in_flight=1, monthly_spend=100)
    assert check_quota(every, usage, 29, NOW) == messages.daily_limit(2, timedelta(hours=3))
    fits = Limits(daily=3, monthly=3, cooldown=5, in_flight=2, monthly_spend=129)
    assert check_quota(fits, usage, 29, NOW) is None
    assert check_quota(Limits(None, None, 60, None, None), usage, 29, NOW) == messages.cooldown(
        timedelta(seconds=50)
    )
    assert check_quota(Limits(None, None, None, None, 0), usage, 0, NOW) == messages.SWITCHED_OFF


def test_a_zero_cooldown_reads_as_none_not_blocked() -> None:
    assert messages.limit_value("cooldown", 0) == Text("admin.no_cooldown")
    assert messages.limit_value("daily", 0) == Text("admin.zero_blocked")
    assert "`0` for none" in messages.bad_limit_value("cooldown", "x").render()


@pytest.mark.parametrize(
    ("name", "text", "maximum"),
    [
        ("cooldown", "99999999999d", 365 * 86400),
        ("daily", "100001", 100_000),
        ("monthly_spend", "$1000000.01", 100_000_000),
    ],
)
def test_parse_limit_refuses_values_past_the_maximum(
    name: LimitName, text: str, maximum: int
) -> None:
    with pytest.raises(UserError) as refused:
        parse_limit(name, text)
    assert refused.value.user_message == messages.limit_too_large(name, text, maximum)
    assert parse_limit(name, "unlimited") is None


def test_digit_like_characters_are_refused_politely() -> None:
    with pytest.raises(UserError):
        parse_limit("daily", "²")  # str.isdigit() accepts it, int() does not
