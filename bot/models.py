"""Records the job service and the store exchange: plain, frozen, Discord-free."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from bot.api_models import AspectRatio, Resolution


class JobState(StrEnum):
    """Where a job is in its life. Terminal: DELIVERED, CANCELLED, and FAILED (once notified)."""

    QUEUED = "queued"  # stored, waiting for a free slot; nothing sent to the API yet
    CLAIMED = "claimed"  # holds a slot; no submit on the wire (none yet, or the last was refused)
    SUBMITTING = "submitting"  # a submit is on the wire; outcome unknown if we crash here
    SUBMITTED = "submitted"  # the API accepted it; we poll for the result
    COMPLETED = "completed"  # the API produced the clip; not yet posted to Discord
    DELIVERING = "delivering"  # the post to Discord is on its way (nonce fixed, so it posts once)
    DELIVERED = "delivered"  # the clip (or its link) is in the channel
    FAILED = "failed"  # the API or the bot gave up; `error` says why
    CANCELLED = "cancelled"  # stopped by its requester or a moderator; never posted


#: States from which a job may still be cancelled: once it is being posted, it is too late.
CANCELLABLE = frozenset(
    {
        JobState.QUEUED,
        JobState.CLAIMED,
        JobState.SUBMITTING,
        JobState.SUBMITTED,
        JobState.COMPLETED,
    }
)


class FailureKind(StrEnum):
    """Why a failed job failed, where an admin may need to act (stored in `failure_kind`)."""

    #: A submit was sent but its answer never came: the API may have made (and charged) it.
    SUBMIT_UNKNOWN = "submit_unknown"
    #: The clip was made but could be posted nowhere (channel gone, no followup, no DM).
    UNDELIVERABLE = "undeliverable"


class JobKind(StrEnum):
    """How a job was started (stored in `kind`); all but the first two come from a result's
    buttons and name their parent in `parent_job_id`."""

    ANIMATE = "animate"  # /animate
    CONTEXT = "context"  # right-click "Animate this image"
    REGENERATE = "regenerate"  # same image, prompt and settings, a new seed
    EDIT = "edit"  # same image and settings, a new prompt
    CONTINUE = "continue"  # the parent's last frame as the first
    LOOP = "loop"  # the parent's first image as both first and last frame


#: The kinds made from a delivered job by its buttons.
DERIVED_KINDS = frozenset({JobKind.REGENERATE, JobKind.EDIT, JobKind.CONTINUE, JobKind.LOOP})


class DeliveryRoute(StrEnum):
    """Where a result was posted (stored in `delivered_via` when not the channel)."""

    CHANNEL = "channel"  # the bot's own message in the job's channel (the normal route)
    FOLLOWUP = "followup"  # an interaction followup, when the bot may not post in the channel
    DM = "dm"  # a direct message to the requester


@dataclass(frozen=True, slots=True)
class ImageInput:
    """An image attachment as Discord describes it, before we trust it."""

    url: str
    filename: str
    size_bytes: int
    content_type: str | None
    width: int | None
    height: int | None


@dataclass(frozen=True, slots=True)
class GenerationSettings:
    """The model options of one job, defaults already applied."""

    duration_s: int
    resolution: Resolution
    aspect_ratio: AspectRatio
    camera_fixed: bool
    seed: int
    generate_audio: bool


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a job came from and how to answer it."""

    guild_id: int | None
    channel_id: int
    user_id: int
    application_id: int
    interaction_token: str
    interaction_expires_at: datetime
    upload_limit_bytes: int
    #: The requester's language (a Discord locale), for everything the job tells them.
    locale: str = "en-US"
    #: The server's language, for what its moderators read (the moderation log).
    guild_locale: str = "en-US"


@dataclass(frozen=True, slots=True)
class NewJob:
    """Everything needed to create a job row."""

    origin: Origin
    prompt: str
    image_url: str
    last_image_url: str | None
    settings: GenerationSettings
    nonce: str
    kind: JobKind = JobKind.ANIMATE
    parent_job_id: int | None = None


@dataclass(frozen=True, slots=True)
class Job:
    """A job as stored."""

    id: int
    state: JobState
    origin: Origin
    prompt: str
    image_url: str
    last_image_url: str | None
    settings: GenerationSettings
    nonce: str
    created_at: datetime
    prediction_id: str | None = None
    estimate_low_s: float | None = None
    estimate_high_s: float | None = None
    cost_cents: int = 0
    submitted_at: datetime | None = None
    completed_at: datetime | None = None
    output_url: str | None = None
    error: str | None = None
    message_id: int | None = None
    delivered_as: str | None = None
    finished_at: datetime | None = None
    notified: bool = False
    reserved_cents: int = 0
    cancelled_by: int | None = None
    mod_log_channel_id: int | None = None
    mod_log_message_id: int | None = None
    redacted: bool = False
    failure_kind: FailureKind | None = None
    delivered_via: DeliveryRoute | None = None
    delivery_note: str | None = None
    kind: JobKind = JobKind.ANIMATE
    parent_job_id: int | None = None
    post_deleted_at: datetime | None = None

    @property
    def estimate_s(self) -> tuple[float, float] | None:
        """The API's estimate of the generation time, as (low, high) seconds."""
        if self.estimate_low_s is None or self.estimate_high_s is None:
            return None
        return (self.estimate_low_s, self.estimate_high_s)


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
class UserTotals:
    """One user's line in a server report."""

    user_id: int
    totals: UsageTotals


@dataclass(frozen=True, slots=True)
class GuildUsageReport:
    """What `/animate-admin usage` shows: a server's totals over a period, and its top users."""

    since: datetime | None  # None: all time
    totals: UsageTotals
    top_users: tuple[UserTotals, ...]


@dataclass(frozen=True, slots=True)
class QuotaStatus:
    """A user's remaining allowance on one server; None means unlimited."""

    daily_left: int | None
    monthly_left: int | None
    ready_at: datetime | None  # when the cooldown lets them start again; None if now
    daily_resets_at: datetime
    monthly_resets_at: datetime


# Server controls ---------------------------------------------------------------------------------

LimitName = Literal["daily", "monthly", "cooldown", "in_flight", "monthly_spend"]
LIMIT_NAMES: tuple[LimitName, ...] = get_args(LimitName)


class GuildConfig(BaseModel):
    """One server's settings as its admins set them. Empty collections mean "no restriction"."""

    model_config = ConfigDict(frozen=True)

    channel_ids: frozenset[int] = frozenset()
    nsfw_only: bool = False
    role_ids: frozenset[int] = frozenset()
    mod_log_channel_id: int | None = None
    #: Limits the admins overrode; None means unlimited. Absent ones follow the bot's defaults.
    limits: dict[LimitName, int | None] = Field(default_factory=dict)


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


# History -----------------------------------------------------------------------------------------


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
