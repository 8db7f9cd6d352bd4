"""A server's rules for /animate: where, who, and how much. Pure functions, Discord-free.

`GuildConfig` (in `bot.models`) is what admins change; `Limits` is what applies once the bot's
defaults fill the gaps; `check_access` and `check_quota` turn a request's facts into a refusal
message, or None.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from bot.errors import UserError
from bot.guilds import messages
from bot.guilds.model import LIMIT_NAMES, Block, GuildConfig, LimitName, QuotaUsage
from bot.i18n.text import Text
from bot.jobs.model import MAX_VARIATIONS
from bot.periods import next_day, next_month
from bot.settings import Settings


@dataclass(frozen=True, slots=True)
class Limits:
    """The limits in force on a server; None means unlimited, 0 means blocked."""

    daily: int | None
    monthly: int | None
    cooldown: int | None  # seconds between the starts of a user's jobs
    in_flight: int | None
    monthly_spend: int | None  # cents per calendar month, for the whole server
    #: Clips one request may ask for (`variations`); None: the bot's most, `MAX_VARIATIONS`.
    variations: int | None = MAX_VARIATIONS

    @property
    def max_variations(self) -> int:
        """How many variations one request may ask for here."""
        return MAX_VARIATIONS if self.variations is None else min(self.variations, MAX_VARIATIONS)

    @classmethod
    def resolve(cls, config: GuildConfig, settings: Settings) -> Limits:
        """The server's overrides on top of the bot's defaults."""
        defaults = default_limits(settings)
        return cls(**{name: config.limits.get(name, defaults[name]) for name in LIMIT_NAMES})

    def get(self, name: LimitName) -> int | None:
        """The value of one limit by name."""
        value: int | None = getattr(self, name)
        return value


def default_limits(settings: Settings) -> dict[LimitName, int | None]:
    """The bot-wide defaults, from settings."""
    spend = settings.default_guild_monthly_spend_usd
    return {
        "daily": settings.default_user_daily_limit,
        "monthly": settings.default_user_monthly_limit,
        "cooldown": settings.default_user_cooldown_s,
        "in_flight": settings.default_user_in_flight_limit,
        "monthly_spend": None if spend is None else round(spend * 100),
        "variations": MAX_VARIATIONS,
    }


@dataclass(frozen=True, slots=True)
class Access:
    """Facts about the caller and the channel, as the chat platform reports them."""

    guild_id: int
    user_id: int
    role_ids: frozenset[int]
    channel_ids: frozenset[int]  # the channel, plus its parent for a thread
    nsfw: bool


@dataclass(frozen=True, slots=True)
class Actor:
    """Someone acting on a job (say, pressing Cancel), with the rights the platform reports."""

    guild_id: int
    user_id: int
    can_manage_messages: bool


def check_access(config: GuildConfig, access: Access, block: Block | None) -> Text | None:
    """Why this member may not use the bot here, or None if they may."""
    if block is not None:
        return messages.blocked(block.reason)
    if config.channel_ids and not config.channel_ids & access.channel_ids:
        return messages.channel_not_allowed(sorted(config.channel_ids))
    if config.nsfw_only and not access.nsfw:
        return messages.NSFW_ONLY
    if config.role_ids and not config.role_ids & access.role_ids:
        return messages.role_required(sorted(config.role_ids))
    return None


def check_quota(
    limits: Limits, usage: QuotaUsage, expected_cents: int, now: datetime
) -> Text | None:
    """Why a new job would break a limit (saying when it lifts), or None if it fits."""
    if 0 in (limits.daily, limits.monthly, limits.in_flight, limits.monthly_spend):
        return messages.SWITCHED_OFF
    if limits.daily is not None and usage.today >= limits.daily:
        return messages.daily_limit(limits.daily, next_day(now) - now)
    if limits.monthly is not None and usage.month >= limits.monthly:
        return messages.monthly_limit(limits.monthly, next_month(now) - now)
    if limits.in_flight is not None and usage.open_here >= limits.in_flight:
        return messages.in_flight_limit(limits.in_flight)
    if limits.cooldown and usage.last_started_at is not None:
        ready_at = usage.last_started_at + timedelta(seconds=limits.cooldown)
        if ready_at > now:
            return messages.cooldown(ready_at - now)
    spend = limits.monthly_spend
    if spend is not None and usage.guild_month_cents + expected_cents > spend:
        return messages.spend_cap(spend, next_month(now) - now)
    return None


# Parsing admin input --------------------------------------------------------------------------

# Not "off" or "none": an admin may mean "switched off" by them, the opposite of unlimited.
_UNLIMITED = {"unlimited", "no limit"}
_DURATION = re.compile(r"^(\d+)\s*([smhd]?)$")
_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_MONEY = re.compile(r"^\$?(\d+(?:\.\d{1,2})?)$")
#: The largest value each limit takes (past them a limit means nothing, and a longer cooldown
#: would overflow date arithmetic).
LIMIT_MAXIMA: dict[LimitName, int] = {
    "daily": 100_000,
    "monthly": 1_000_000,
    "cooldown": 365 * 86400,
    "in_flight": 1_000,
    "monthly_spend": 100_000_000,  # cents: $1,000,000
    "variations": MAX_VARIATIONS,
}


def parse_limit(name: LimitName, text: str) -> int | Literal["default"] | None:
    """Read an admin's value for a limit: a number, "unlimited", or "default". Raises UserError.

    Counts are whole numbers; the cooldown takes seconds or a unit (`90s`, `5m`, `1h`); the
    spending cap takes dollars (`25`, `$12.50`). 0 blocks.
    """
    value = text.strip().lower()
    if value == "default":
        return "default"
    if value in _UNLIMITED:
        return None
    number = _number(name, value)
    if number is None or (name == "variations" and number < 1):  # one clip is the least
        raise UserError(messages.bad_limit_value(name, text))
    if number > LIMIT_MAXIMA[name]:
        raise UserError(messages.limit_too_large(name, text, LIMIT_MAXIMA[name]))
    return number


def _number(name: LimitName, value: str) -> int | None:
    if name == "cooldown":
        match = _DURATION.match(value)
        return int(match[1]) * _SECONDS[match[2]] if match else None
    if name == "monthly_spend":
        match = _MONEY.match(value)
        return round(float(match[1]) * 100) if match else None
    return int(value) if value.isascii() and value.isdigit() else None
