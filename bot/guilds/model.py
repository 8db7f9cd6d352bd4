"""Server controls as admins set them, and the usage figures their rules and reports read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from bot.jobs.model import NO_DEFAULTS, NO_LOCKS, OptionDefaults, OptionLocks
from bot.members.model import UsageTotals

LimitName = Literal["daily", "monthly", "cooldown", "in_flight", "monthly_spend", "variations"]
LIMIT_NAMES: tuple[LimitName, ...] = get_args(LimitName)


class GuildConfig(BaseModel):
    """One server's settings as its admins set them. Empty collections mean "no restriction"."""

    model_config = ConfigDict(frozen=True)

    channel_ids: frozenset[int] = frozenset()
    nsfw_only: bool = False
    role_ids: frozenset[int] = frozenset()
    mod_log_channel_id: int | None = None
    #: The video model its admins chose (its id); None: the bot's own (`VIBEDREAM_MODEL`).
    model: str | None = None
    #: Limits the admins overrode; None means unlimited. Absent ones follow the bot's defaults.
    limits: dict[LimitName, int | None] = Field(default_factory=dict)
    #: Defaults for options members leave out (after their own saved ones; before the bot's).
    defaults: OptionDefaults = NO_DEFAULTS
    #: The longest clip and the largest resolution a job may have here.
    locks: OptionLocks = NO_LOCKS


@dataclass(frozen=True, slots=True)
class Block:
    """A member barred from the bot on one server."""

    user_id: int
    reason: str
    blocked_by: int
    blocked_at: datetime


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One configuration change: who, what, when."""

    actor_id: int
    action: str
    detail: str
    at: datetime


@dataclass(frozen=True, slots=True)
class QuotaUsage:
    """What a user and their server have used so far, read in the admission transaction."""

    today: int
    month: int
    open_here: int  # the user's unfinished jobs on this server
    open_anywhere: int  # ... on every server
    last_started_at: datetime | None
    guild_month_cents: int  # settled costs plus reservations of jobs still running


@dataclass(frozen=True, slots=True)
class UserTotals:
    """One user's line in a server report."""

    user_id: int
    totals: UsageTotals


@dataclass(frozen=True, slots=True)
class ModelTotals:
    """One video model's line in a server report."""

    model: str
    totals: UsageTotals


@dataclass(frozen=True, slots=True)
class GuildUsageReport:
    """What `/animate-admin usage` shows: a server's totals over a period, its top users, and
    what each video model made and cost."""

    since: datetime | None  # None: all time
    totals: UsageTotals
    top_users: tuple[UserTotals, ...]
    by_model: tuple[ModelTotals, ...] = ()
