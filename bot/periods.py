"""Calendar periods in UTC, the clock every limit and report uses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def utc_now() -> datetime:
    """The current time in UTC: every service's default clock."""
    return datetime.now(UTC)


def day_start(now: datetime) -> datetime:
    """Midnight UTC at the start of `now`'s day."""
    return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def month_start(now: datetime) -> datetime:
    """Midnight UTC on the first of `now`'s month."""
    return day_start(now).replace(day=1)


def next_day(now: datetime) -> datetime:
    """Midnight UTC at the end of `now`'s day."""
    return day_start(now) + timedelta(days=1)


def next_month(now: datetime) -> datetime:
    """Midnight UTC on the first of the month after `now`'s."""
    start = month_start(now)
    return start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)
