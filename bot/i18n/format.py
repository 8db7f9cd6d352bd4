"""Formatting shared by every feature's messages: times, lengths of time, money, sizes, links.

Discord-specific strings (timestamps, message links) are plain text every client understands;
lengths of time are `Text`, so they read in the reader's language.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from bot.i18n.text import Join, Text


def lines(parts: Iterable[Text | str]) -> Text:
    """Several messages (or plain lines) shown one per line."""
    return Join(parts)


def jump_url(guild_id: int | None, channel_id: int, message_id: int) -> str:
    """Link that opens a message in the Discord client."""
    return f"https://discord.com/channels/{guild_id or '@me'}/{channel_id}/{message_id}"


def timestamp(moment: datetime, style: str = "R") -> str:
    """A Discord timestamp, which every client shows in its own language and time zone."""
    return f"<t:{int(moment.timestamp())}:{style}>"


def dollars(cents: int) -> str:
    """An amount of money: `$1,234.50`."""
    return f"${cents / 100:,.2f}"


def mib(size: int) -> str:
    """A file size in MiB with one decimal: `7.5 MiB`."""
    return f"{size / (1024 * 1024):.1f} MiB"


def wait_text(wait: timedelta) -> Text:
    """A coarse, friendly length of time: `3 h 12 min`, `45 s`, `2 days 4 h`."""
    seconds = max(1, int(wait.total_seconds() + 0.999))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return Text("time.days_hours", count=days, hours=hours)
    if hours:
        return Text("time.hours_minutes", hours=hours, minutes=minutes)
    if minutes:
        if minutes < 5:
            return Text("time.minutes_seconds", minutes=minutes, seconds=secs)
        return Text("time.minutes", minutes=minutes)
    return Text("time.seconds", seconds=secs)


def duration_text(seconds: float) -> Text:
    """How long something took: `1 min 5 s`, `42 s`."""
    seconds = max(0, round(seconds))
    minutes, secs = divmod(seconds, 60)
    if minutes:
        return Text("time.minutes_seconds", minutes=minutes, seconds=secs)
    return Text("time.seconds", seconds=secs)
