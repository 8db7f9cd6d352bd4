"""New clips from a delivered one: Regenerate, Edit prompt, Continue and Loop; and a GIF of it.

Discord-free. The job a press starts from is checked before any work is done for it (the
presser's own, not erased, a new job allowed now); the new job then starts through
`JobService.accept` like any other, so rules, quotas, the cost reservation and the moderation
log all apply at the moment of the press.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bot.errors import DownloadError, UserError
from bot.guilds.policy import Access
from bot.i18n.text import Text
from bot.jobs import messages as job_messages
from bot.jobs.model import ImageInput, Job, JobKind, Origin
from bot.jobs.service import JobService
from bot.media.files import LINK_MARGIN, ClipDownloader, DiscordFiles, DownloadedClip, is_mp4
from bot.media.frames import Frame, FrameError, last_frame
from bot.media.gif import GifFailedError, GifMaker, GifResult
from bot.media.threads import run_in_slot
from bot.periods import utc_now
from bot.remix import messages
from bot.remix.recipes import PostFiles, remix_request
from bot.settings import Settings
from bot.storage import JobStore

log = logging.getLogger(__name__)

#: Continue presses fetching or decoding a clip at once: each holds a clip on disk meanwhile,
#: and a decode costs a clip's worth of CPU and memory.
_FRAME_EXTRACTIONS = 2


@dataclass(frozen=True, slots=True)
class JobGif:
    """A GIF made of a job's clip, and the nonce that posts it once; delete `file.path` after."""

    file: GifResult
    nonce: str

    def discard(self) -> None:
        """Remove the file, if it is still there."""
        self.file.path.unlink(missing_ok=True)


class RemixService:
    """Starts jobs from a delivered one, for its requester."""

    def __init__(
        self,
        *,
        jobs: JobService,
        settings: Settings,
        store: JobStore,
        downloader: ClipDownloader,
        files: DiscordFiles,
        gifs: GifMaker,
        now: Callable[[], datetime] = utc_now,
    ) -> None:
        self._jobs = jobs
        self._settings = settings
        self._store = store
        self._downloader = downloader
        self._files = files
        self._gifs = gifs
        self._now = now
        self._clip_slots = asyncio.Semaphore(_FRAME_EXTRACTIONS)
        # Decoding threads have their own: one whose caller gave up holds its slot until it ends.
        self._frame_slots = asyncio.Semaphore(_FRAME_EXTRACTIONS)

    async def own_job(
        self, job_id: int, access: Access, *, not_yours: Text = messages.BUTTON_NOT_YOURS
    ) -> Job:
        """The delivered job behind a result's button, if the presser asked for it; else
        UserError (only the requester may make new clips, or GIFs, from a post)."""
        job = await self._store.get_job(job_id)
        if job is None or job.origin.guild_id != access.guild_id:
            raise UserError(job_messages.NO_SUCH_JOB)
        if job.origin.user_id != access.user_id:
            raise UserError(not_yours)
        return job

    async def source_job(self, parent_id: int, access: Access) -> Job:
        """The job a new clip would start from, checked before any work (the Edit prompt form
        opening, Continue's download): the presser's own, not erased, and a new job allowed
        now. Raises UserError."""
        parent = await self.own_job(parent_id, access)
        if parent.redacted:
            raise UserError(messages.SOURCE_GONE)
        await self._jobs.check_admission(access, parent.settings, parent.model)
        return parent

    async def start(
        self,
        parent_id: int,
        kind: JobKind,
        origin: Origin,
        access: Access,
        files: PostFiles,
        *,
        prompt: str | None = None,
        frame: ImageInput | None = None,
    ) -> Job:
        """Start a Regenerate, Edit prompt, Continue or Loop job from a delivered one, through
        `accept` like any other (rules, quotas, reservation, moderation log). Raises UserError."""
        parent = await self.own_job(parent_id, access)
        request = remix_request(
            parent, kind, files, self._settings, self._now(), prompt=prompt, frame=frame
        )
        return await self._jobs.accept(request, origin, access, kind=kind, parent_job_id=parent.id)

    async def continue_frame(
        self, parent_id: int, access: Access, clip_url: str | None, *, max_bytes: int
    ) -> Frame:
        """The last frame of a delivered job's clip, for Continue: from the post's file
        (`clip_url`, a fresh link) or, for a link post, the API's output while it lives.
        Whether the job was erased, and the server's rules and quota, are checked first, so a
        refused press costs no work. At most `_FRAME_EXTRACTIONS` presses fetch or decode a clip
        at once."""
        parent = await self.source_job(parent_id, access)
        s = self._settings
        async with self._clip_slots:
            clip = await self._parent_clip(parent, clip_url)
            extract = functools.partial(
                last_frame,
                clip.path,
                min_side=s.image_min_side_px,
                max_side=s.image_max_side_px,
                max_bytes=min(max_bytes, s.image_max_bytes),
            )
            try:
                return await run_in_slot(self._frame_slots, extract)
            except FrameError as exc:
                log.warning("job %d: no last frame: %s", parent.id, exc)
                raise UserError(messages.CLIP_UNREADABLE) from exc
            finally:
                clip.discard()

    async def gif(
        self, job_id: int, access: Access, clip_url: str | None, *, max_bytes: int
    ) -> JobGif:
        """A looping GIF of a delivered job's clip (from the post's file, `clip_url`, or the
        API's output while it lives), scaled and trimmed to `max_bytes`, for its requester.
        Made here, in the worker slots and under a time limit: no API call, nothing charged.
        Raises UserError when it is not theirs, the clip is gone, or no GIF fits."""
        job = await self.own_job(job_id, access, not_yours=messages.GIF_NOT_YOURS)
        async with self._clip_slots:
            clip = await self._parent_clip(job, clip_url, gone=messages.GIF_CLIP_GONE)
            try:
                made = await self._gifs.make(clip, max_bytes)
            except GifFailedError as exc:
                log.warning("job %d: no GIF: %s", job.id, exc)
                raise UserError(messages.GIF_FAILED) from exc
            finally:
                clip.discard()
        if made is None:
            log.info("job %d: no GIF fits %d bytes", job.id, max_bytes)
            raise UserError(messages.gif_too_big(max_bytes))
        log.info(
            "job %d: GIF of %d bytes at %dx%d, %.1f s (attempt %d)",
            *(job.id, made.size_bytes, made.width, made.height, made.seconds, made.attempts),
        )
        # Posted with this nonce, a press repeated (or retried) in Discord's window posts once.
        return JobGif(made, nonce=f"{job.nonce}-gif")

    async def _parent_clip(
        self, parent: Job, clip_url: str | None, *, gone: Text = messages.CLIP_GONE
    ) -> DownloadedClip:
        """Download the clip of `parent`'s post, no bigger than that post could carry; or its
        output at the API (a link post: the clip was over the limit). Raises UserError."""
        s = self._settings
        try:
            if clip_url is not None:
                return await self._files.fetch(
                    clip_url,
                    max_bytes=min(s.max_clip_bytes, parent.origin.upload_limit_bytes),
                    suffix=".mp4",
                    accept=is_mp4,
                    what="mp4",
                )
            if parent.output_url and not self._output_expired(parent):
                return await self._downloader.download(parent.output_url)
        except DownloadError as exc:
            log.info("job %d: cannot fetch the clip: %s", parent.id, exc)
            raise UserError(gone) from exc
        raise UserError(gone)

    def _output_expired(self, job: Job) -> bool:
        if job.completed_at is None:
            return True
        return self._settings.output_expires_at(job.completed_at) - LINK_MARGIN <= self._now()
