"""A job and its parts, as the job service and the store exchange them: plain, frozen,
Discord-free."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


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
    resolution: str  # one the model offers: checked by `bot.jobs.request` and the model
    aspect_ratio: str
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
