"""A member's own records: usage figures, remaining allowance, history pages, one job's details."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.jobs.model import NO_DEFAULTS, Job, OptionDefaults


@dataclass(frozen=True, slots=True)
class UsageTotals:
    """Counts and spend over one period."""

    succeeded: int = 0
    failed: int = 0
    video_seconds: int = 0
    cost_cents: int = 0
    cancelled: int = 0

    @property
    def generations(self) -> int:
        """Finished generations, successful or not."""
        return self.succeeded + self.failed + self.cancelled


@dataclass(frozen=True, slots=True)
class UsageReport:
    """What `/usage` shows a user."""

    today: UsageTotals
    month: UsageTotals
    all_time: UsageTotals
    in_progress: int
    recent: tuple[Job, ...]


@dataclass(frozen=True, slots=True)
class QuotaStatus:
    """A user's remaining allowance on one server; None means unlimited."""

    daily_left: int | None
    monthly_left: int | None
    ready_at: datetime | None  # when the cooldown lets them start again; None if now
    daily_resets_at: datetime
    monthly_resets_at: datetime


@dataclass(frozen=True, slots=True)
class HistoryPage:
    """One page of a member's jobs on one server, newest first."""

    jobs: tuple[Job, ...]
    newer: int  # how many of their jobs on this server are newer than this page
    total: int  # all their jobs on this server

    @property
    def has_newer(self) -> bool:
        """Whether a page of newer jobs exists."""
        return self.newer > 0

    @property
    def has_older(self) -> bool:
        """Whether a page of older jobs exists."""
        return self.newer + len(self.jobs) < self.total


@dataclass(frozen=True, slots=True)
class JobDetails:
    """One of a member's jobs as `/animate-show` presents it."""

    job: Job
    #: The API's output URL while it still works (None once expired, erased or never made).
    clip_url: str | None
    #: When the output URL stops (or stopped) working; None if there never was one.
    clip_expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class MemberDefaults:
    """A member's saved defaults on one server (`/animate-settings`); None: none saved."""

    options: OptionDefaults = NO_DEFAULTS
    #: Clips per /animate (1-4), read by the variations option when it is left out.
    variations: int | None = None
