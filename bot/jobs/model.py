"""A job and its parts, as the job service and the store exchange them: plain, frozen,
Discord-free."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType


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


#: Every legal move of a job's state: from each state, where it may go next. The store's one
#: guarded write (`JobStore.move`) refuses any other, so a step that lost a race (say, a submit
#: answered after its job was cancelled) learns it did not move the job and acts on that.
TRANSITIONS: Mapping[JobState, frozenset[JobState]] = MappingProxyType(
    {
        JobState.QUEUED: frozenset({JobState.CLAIMED, JobState.CANCELLED}),
        # Back to QUEUED: the API was unavailable, the bot is stopping, or a restart found it.
        JobState.CLAIMED: frozenset(
            {JobState.QUEUED, JobState.SUBMITTING, JobState.FAILED, JobState.CANCELLED}
        ),
        # Back to CLAIMED: the API certainly did not process that attempt (refused, 429, 503).
        JobState.SUBMITTING: frozenset(
            {JobState.CLAIMED, JobState.SUBMITTED, JobState.FAILED, JobState.CANCELLED}
        ),
        JobState.SUBMITTED: frozenset({JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED}),
        JobState.COMPLETED: frozenset({JobState.DELIVERING, JobState.FAILED, JobState.CANCELLED}),
        # Once the post is on its way it is too late to cancel: the nonce makes it post once.
        JobState.DELIVERING: frozenset({JobState.DELIVERED, JobState.FAILED}),
        JobState.DELIVERED: frozenset(),
        JobState.FAILED: frozenset(),
        JobState.CANCELLED: frozenset(),
    }
)


def sources(to: JobState) -> frozenset[JobState]:
    """The states from which a job may move to `to`."""
    return frozenset(state for state, next_states in TRANSITIONS.items() if to in next_states)


#: States a job never leaves.
TERMINAL = frozenset(state for state, next_states in TRANSITIONS.items() if not next_states)
#: States of a job still under way (what the open-job caps count).
UNFINISHED = frozenset(JobState) - TERMINAL
#: States from which a job may still be cancelled: once it is being posted, it is too late.
CANCELLABLE = sources(JobState.CANCELLED)
#: States that hold one of the API's in-flight slots (`MAX_JOBS_IN_FLIGHT`): from the claim
#: until the API has made the clip.
IN_FLIGHT = frozenset({JobState.CLAIMED, JobState.SUBMITTING, JobState.SUBMITTED})
#: Ends without a clip. Such a job counts against limits only if the API charged for it.
ENDED_WITHOUT_CLIP = TERMINAL - {JobState.DELIVERED}
#: Still being made: no clip yet, no end yet. A group of variations waits for these.
MAKING = UNFINISHED - {JobState.COMPLETED, JobState.DELIVERING}


class FailureKind(StrEnum):
    """Why a failed job failed, where an admin may need to act (stored in `failure_kind`)."""

    #: A submit was sent but its answer never came: the API may have made (and charged) it.
    SUBMIT_UNKNOWN = "submit_unknown"
    #: The clip was made but could be posted nowhere (channel gone, no followup, no DM).
    UNDELIVERABLE = "undeliverable"


class RefusedInput(StrEnum):
    """Which of a job's inputs the video API objected to, when its answer says so (stored in
    `refused_input`): a refusal of the prompt is answered with an Edit prompt button."""

    PROMPT = "prompt"
    IMAGE = "image"
    LAST_IMAGE = "last_image"
    OUTPUT = "output"


class JobKind(StrEnum):
    """How a job was started (stored in `kind`); all but the first two come from a result's
    buttons and name their parent in `parent_job_id`."""

    ANIMATE = "animate"  # /animate
    CONTEXT = "context"  # right-click "Animate this image"
    REGENERATE = "regenerate"  # same image, prompt and settings, a new seed
    EDIT = "edit"  # same image and settings, a new prompt
    CONTINUE = "continue"  # the parent's last frame as the first
    LOOP = "loop"  # the parent's first image as both first and last frame
    FINAL = "final"  # a draft's Render final: its images, prompt and seed at the final settings


#: The kinds a result's buttons make from a delivered job (remixes; `parent_job_id` names it).
REMIX_KINDS = frozenset(
    {JobKind.REGENERATE, JobKind.EDIT, JobKind.CONTINUE, JobKind.LOOP, JobKind.FINAL}
)
#: The most clips one request may ask for (`variations`); a server may allow fewer.
MAX_VARIATIONS = 4


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
    """The model options of one job, defaults already applied: the bot's vocabulary, which each
    model's declaration maps onto its own parameters (`bot.video`).

    `duration_s`, `resolution` and `generate_audio` always say what the clip is, even on a
    model that takes no such parameter (Hailuo 2.3 Pro always makes 5 s at 1080p); `None` in
    `camera_fixed` or `seed` means the model has no such option.
    """

    duration_s: int
    resolution: str  # one the model offers: checked by `bot.jobs.request` and the model
    aspect_ratio: str  # "auto": the clip follows the image (also for a model taking none)
    camera_fixed: bool | None
    seed: int | None
    generate_audio: bool


@dataclass(frozen=True, slots=True)
class OptionDefaults:
    """Values for the options a member leaves out, at one level of precedence (a member's saved
    defaults, a server's): None means "not set here", and the next level decides."""

    duration_s: int | None = None
    resolution: str | None = None
    aspect_ratio: str | None = None
    camera_fixed: bool | None = None
    generate_audio: bool | None = None


#: No default at a level: every option left to the next one.
NO_DEFAULTS = OptionDefaults()


@dataclass(frozen=True, slots=True)
class OptionLocks:
    """A server's locked maximums: a typed value above one is refused, a default above one is
    lowered to the longest (largest) value the model makes within it. None: no lock."""

    max_duration_s: int | None = None
    max_resolution: str | None = None


NO_LOCKS = OptionLocks()


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
    #: The video model that makes it (its id in the API), and the options it gets.
    model: str
    settings: GenerationSettings
    nonce: str
    kind: JobKind = JobKind.ANIMATE
    parent_job_id: int | None = None
    #: A draft's: the settings its Render final is made with (None: not a draft).
    final_settings: GenerationSettings | None = None


@dataclass(frozen=True, slots=True)
class Job:
    """A job as stored."""

    id: int
    state: JobState
    origin: Origin
    prompt: str
    image_url: str
    last_image_url: str | None
    model: str
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
    #: The input the API objected to when it failed or refused the job, if it said which.
    refused_input: RefusedInput | None = None
    #: Variations of one request share one post: the group's first job's id, and this one's
    #: place in it from 0 (both None for a job of its own). See `bot.jobs.batches`.
    group_id: int | None = None
    group_index: int | None = None
    #: A draft's: the settings its Render final is made with (None: not a draft).
    final_settings: GenerationSettings | None = None

    @property
    def follows_group(self) -> bool:
        """True for a variation other than its group's first: it has no progress message or
        post of its own (the first job's carry the group's)."""
        return self.group_index is not None and self.group_index > 0

    #: The process holding the job's lease (None while queued, or before leases existed).
    owner: str | None = None
    #: The fencing token: one more at every claim and takeover (`Lease`).
    epoch: int = 0

    @property
    def estimate_s(self) -> tuple[float, float] | None:
        """The API's estimate of the generation time, as (low, high) seconds."""
        if self.estimate_low_s is None or self.estimate_high_s is None:
            return None
        return (self.estimate_low_s, self.estimate_high_s)


@dataclass(frozen=True, slots=True)
class JobChange:
    """Facts a step learnt about a job, written with its move (`JobStore.move`) or on their own
    (`JobStore.update`). None leaves a column as it is."""

    prediction_id: str | None = None
    cost_cents: int | None = None
    reserved_cents: int | None = None
    estimate_s: tuple[float, float] | None = None
    submitted_at: datetime | None = None
    completed_at: datetime | None = None
    output_url: str | None = None
    error: str | None = None
    finished_at: datetime | None = None
    message_id: int | None = None
    delivered_as: str | None = None
    failure_kind: FailureKind | None = None
    delivered_via: DeliveryRoute | None = None
    delivery_note: str | None = None
    mod_log_channel_id: int | None = None
    mod_log_message_id: int | None = None
    refused_input: RefusedInput | None = None
    #: The requester has been told the outcome: the job leaves the open set for good.
    notified: bool | None = None
    #: Drop the interaction token (it expired, or the requester was told the outcome).
    drop_token: bool = False


#: A move that writes nothing but the new state.
NO_CHANGE = JobChange()


@dataclass(frozen=True, slots=True)
class Lease:
    """What a process writes when it takes a job: its name, and how long the job is its own
    unless it renews the lease (seconds, counted by the database's clock)."""

    owner: str
    ttl_s: float


class Takeable(StrEnum):
    """Which leases a takeover takes (`JobStore.take_over`)."""

    EXPIRED = "expired"  # ran out: their holder died or stalled (the periodic sweep)
    EXPIRED_OR_MINE = "expired_or_mine"  # also this process's own, from its previous run
    EVERY = "every"  # every lease: a database no other process uses (SQLite)


@dataclass(frozen=True, slots=True)
class Takeover:
    """A job this process has just taken over, and the process that held it (None if none
    did, as for a job open when leases were introduced)."""

    job: Job
    previous_owner: str | None


class LeaseLostError(Exception):
    """A fenced write of a job was refused because another process took the job over: this
    process must drop the job and never act on it again."""

    def __init__(self, job_id: int) -> None:
        super().__init__(f"job {job_id}: its lease was taken over by another process")
        self.job_id = job_id
