"""What the job service needs from a chat platform, without naming Discord."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from bot.jobs.model import DeliveryRoute, Job
from bot.media.files import DownloadedClip, SourceImage


class ProgressGoneError(Exception):
    """The job's progress message can no longer be edited (its interaction token expired)."""


class UploadTooLargeError(Exception):
    """The platform refused the clip as too large for this channel."""


class PostFailedError(Exception):
    """A post to the channel failed; `retryable` says whether trying again may help."""

    def __init__(self, reason: str, *, retryable: bool) -> None:
        super().__init__(reason)
        self.retryable = retryable


class ChannelForbiddenError(PostFailedError):
    """The platform refused the channel post for missing permissions (will not pass by itself)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, retryable=False)


class ChannelGoneError(PostFailedError):
    """The job's channel no longer exists."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, retryable=False)


@dataclass(frozen=True, slots=True)
class ResultExtras:
    """What a result post carries besides the clip: the job's input images (so its buttons
    can reuse them) and, for a job made from another, a link to that one's post."""

    sources: tuple[SourceImage, ...] = ()
    parent_link: str | None = None
    parent_id: int | None = None
    #: What the parent cost (shown on a Render final's post beside its own cost).
    parent_cost_cents: int | None = None


NO_EXTRAS = ResultExtras()


@dataclass(frozen=True, slots=True)
class Variation:
    """One variation in its group's post: its job (its state says whether it was made), its
    clip file, or None when it goes as a link (`link_expires_at`) or none was made."""

    job: Job
    clip: DownloadedClip | None = None
    link_expires_at: datetime | None = None


class JobNotifier(Protocol):
    """Shows a job's progress to its requester and posts its result in its channel."""

    async def edit_progress(self, job: Job, text: str, *, cancellable: bool) -> bool:
        """Replace the requester's progress message; False if this attempt failed.

        With `cancellable`, the message offers a Cancel button. Raises ProgressGoneError when
        the message can never be edited again.
        """

    async def post_clip(
        self,
        job: Job,
        clip: DownloadedClip,
        via: DeliveryRoute = DeliveryRoute.CHANNEL,
        extras: ResultExtras = NO_EXTRAS,
        *,
        mention: bool = False,
    ) -> int:
        """Post the clip as a file, with its `extras` and the result's buttons (not by DM, where
        no button could work); returns the message id. Posting twice with the same job nonce
        in the channel yields one message. With `mention`, the post mentions (so notifies) the
        requester and no one else. Raises UploadTooLargeError or PostFailedError
        (ChannelForbiddenError, ChannelGoneError)."""

    async def post_link(
        self,
        job: Job,
        expires_at: datetime,
        via: DeliveryRoute = DeliveryRoute.CHANNEL,
        extras: ResultExtras = NO_EXTRAS,
        *,
        mention: bool = False,
    ) -> int:
        """Post the clip's URL instead of the file (with the same extras, buttons and
        `mention` as `post_clip`); returns the message id."""

    async def post_group(
        self,
        leader: Job,
        variations: Sequence[Variation],
        via: DeliveryRoute = DeliveryRoute.CHANNEL,
        extras: ResultExtras = NO_EXTRAS,
        *,
        mention: bool = False,
    ) -> int:
        """Post a group of variations as one message: each clip (file or link) with its number
        and seed, each failure beside them, and the buttons of each clip; returns the message
        id. `leader` is the group's first job: its nonce makes a repeat the same message.
        Raises like `post_clip`."""

    async def delete_post(self, job: Job) -> None:
        """Delete the job's result post; one that is already gone counts as deleted.
        Raises PostFailedError."""

    async def post_failure(
        self, job: Job, text: str, via: DeliveryRoute = DeliveryRoute.CHANNEL
    ) -> None:
        """Tell the requester that their job failed (in the channel unless told otherwise)."""

    async def post_mod_log(self, job: Job, channel_id: int) -> int:
        """Post the job's entry in a moderation-log channel; returns the message id. Posting
        twice for one job yields one message. Raises PostFailedError."""

    async def update_mod_log(self, job: Job) -> None:
        """Show the job's current state on its moderation-log entry. Raises PostFailedError."""
