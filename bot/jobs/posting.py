"""Posting a made clip: fitted to the channel's upload limit, with the job's input images, in
the channel or, where the bot may not post, through the interaction or by DM.

Discord-free: the posts go out through a `JobNotifier`. The job service decides when to post
and what a failure means; this module only knows how.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from bot.errors import ClipTooLargeError, DownloadError
from bot.i18n.format import jump_url
from bot.jobs.metrics import NO_METRICS, JobMetrics
from bot.jobs.model import DeliveryRoute, Job, JobChange, JobKind
from bot.jobs.notifier import (
    ChannelForbiddenError,
    ChannelGoneError,
    JobNotifier,
    PostFailedError,
    ResultExtras,
    UploadTooLargeError,
    Variation,
)
from bot.media.files import (
    IMAGE_EXTENSIONS,
    LINK_MARGIN,
    SOURCE_FIRST,
    SOURCE_LAST,
    ClipDownloader,
    DiscordFiles,
    DownloadedClip,
    SourceImage,
    link_expires_within,
    sniff_image,
)
from bot.media.transcode import ClipFitter
from bot.settings import Settings
from bot.storage import Store

log = logging.getLogger(__name__)

#: Discord's cap on one message request, all its files together (research B4).
_MESSAGE_MAX_BYTES = 25 * 1024 * 1024
#: What a post's files may add up to: the rest of the request (multipart headers, the embed,
#: the components) needs room under the cap too.
_FILES_MAX_BYTES = _MESSAGE_MAX_BYTES - 1024 * 1024
#: Deliver through the interaction only while its token has at least this long to live.
_TOKEN_MARGIN = timedelta(seconds=30)


class UndeliverableError(Exception):
    """The clip could be posted nowhere: not in the channel, not as a followup, not by DM."""


class ResultPoster:
    """Posts a job's clip as a file (re-encoded to fit if need be) or as an expiring link."""

    def __init__(
        self,
        *,
        settings: Settings,
        store: Store,
        downloader: ClipDownloader,
        files: DiscordFiles,
        fitter: ClipFitter,
        now: Callable[[], datetime],
        metrics: JobMetrics = NO_METRICS,
    ) -> None:
        self._metrics = metrics
        self._settings = settings
        self._store = store
        self._downloader = downloader
        self._files = files
        self._fitter = fitter
        self._now = now

    def link_expires_at(self, job: Job) -> datetime:
        """When the video API stops serving the job's clip: every link post says so."""
        return self._settings.output_expires_at(job.completed_at or self._now())

    async def post(
        self,
        job: Job,
        notifier: JobNotifier,
        still_ours: Callable[[], Awaitable[None]] | None = None,
    ) -> tuple[int, str]:
        """Post the clip as a file, or as a link when it is too big for the channel; either
        way with the job's input images, when they can still be fetched and fit.

        `still_ours` runs once the clip is ready, just before anything is sent: the download
        and re-encode may take minutes, and a process paused meanwhile must find out that
        another has taken the job over (it raises) rather than post it a second time."""
        assert job.output_url is not None
        expires_at = self.link_expires_at(job)
        # Read now, not at accept: a change applies to jobs already running.
        mention = await self._store.mention_on_done(job.origin.user_id)
        parent_link = await self._parent_link(job)

        def link(via: DeliveryRoute, extras: ResultExtras) -> Coroutine[Any, Any, int]:
            return notifier.post_link(job, expires_at, via, extras, mention=mention)

        try:
            clip = await self._fitting_clip(job)
        except ClipTooLargeError:
            clip = None
        if still_ours is not None:
            try:
                await still_ours()
            except BaseException:
                if clip is not None:
                    clip.discard()
                raise
        if clip is None:
            return await self._post_with_sources(job, link, parent_link, _FILES_MAX_BYTES), "link"

        def file(via: DeliveryRoute, extras: ResultExtras) -> Coroutine[Any, Any, int]:
            return notifier.post_clip(job, clip, via, extras, mention=mention)

        try:
            room = _FILES_MAX_BYTES - clip.size_bytes
            return await self._post_with_sources(job, file, parent_link, room), "file"
        except UploadTooLargeError:
            # Even the clip alone is too large: a link, still with the images the buttons use.
            return await self._post_with_sources(job, link, parent_link, _FILES_MAX_BYTES), "link"
        finally:
            clip.discard()

    async def group_clip(self, job: Job) -> DownloadedClip | None:
        """A variation's clip, fitted to the channel's upload limit like a single clip's;
        None when it can only be linked."""
        try:
            return await self._fitting_clip(job)
        except ClipTooLargeError:
            return None

    async def post_group(
        self, leader: Job, variations: Sequence[Variation], notifier: JobNotifier
    ) -> int:
        """Post a group's variations as one message, with the group's input images: the
        clips that fit in the message's room as files, the others as links (as a single
        clip that does not fit). Refused as too large even so, every clip goes as a link."""
        mention = await self._store.mention_on_done(leader.origin.user_id)
        parent_link = await self._parent_link(leader)
        room = _FILES_MAX_BYTES
        fitted: list[Variation] = []
        for variation in variations:
            clip = variation.clip
            if clip is not None and clip.size_bytes > room:
                clip = None  # the others took the room: this one goes as a link
            room -= clip.size_bytes if clip is not None else 0
            fitted.append(replace(variation, clip=clip))

        def group(kept: Sequence[Variation]) -> Callable[..., Coroutine[Any, Any, int]]:
            def post(via: DeliveryRoute, extras: ResultExtras) -> Coroutine[Any, Any, int]:
                return notifier.post_group(leader, kept, via, extras, mention=mention)

            return post

        try:
            return await self._post_with_sources(leader, group(fitted), parent_link, room)
        except UploadTooLargeError:
            links = [replace(v, clip=None) for v in fitted]
            return await self._post_with_sources(
                leader, group(links), parent_link, _FILES_MAX_BYTES
            )

    async def _post_with_sources(
        self,
        job: Job,
        post: Callable[[DeliveryRoute, ResultExtras], Coroutine[Any, Any, int]],
        parent_link: str | None,
        room: int,
    ) -> int:
        """Make `post` with the job's input images (within `room` bytes); if the platform
        refuses it as too large, once more without them. Raises UploadTooLargeError when even
        that is refused."""
        sources = await self._fetch_sources(job, room)
        parent_cost = await self._parent_cost(job)
        try:
            extras = ResultExtras(sources, parent_link, job.parent_job_id, parent_cost)
            return await self._post_somewhere(job, lambda via: post(via, extras))
        except UploadTooLargeError:
            if not sources:
                raise
            log.info("job %d: post refused as too large; again without its source images", job.id)
        finally:
            _discard(sources)
        bare = ResultExtras((), parent_link, job.parent_job_id, parent_cost)
        return await self._post_somewhere(job, lambda via: post(via, bare))

    async def _parent_link(self, job: Job) -> str | None:
        """The jump link to the post of the job this one was made from, if it has one."""
        if job.parent_job_id is None:
            return None
        parent = await self._store.get_job(job.parent_job_id)
        if parent is None or parent.message_id is None or parent.post_deleted_at is not None:
            return None
        o = parent.origin
        return jump_url(o.guild_id, o.channel_id, parent.message_id)

    async def _parent_cost(self, job: Job) -> int | None:
        """What a Render final's draft cost: its post shows both."""
        if job.kind is not JobKind.FINAL or job.parent_job_id is None:
            return None
        parent = await self._store.get_job(job.parent_job_id)
        return None if parent is None else parent.cost_cents

    async def _fetch_sources(self, job: Job, room: int) -> tuple[SourceImage, ...]:
        """Download the job's input images to post with its result (so its buttons can reuse
        them), within `room` bytes in all. One that cannot be fetched is left out: the clip
        matters more."""
        found: list[SourceImage] = []
        for name, url in ((SOURCE_FIRST, job.image_url), (SOURCE_LAST, job.last_image_url)):
            cap = min(job.origin.upload_limit_bytes, room)
            if not url or cap <= 0 or link_expires_within(url, self._now(), LINK_MARGIN):
                continue
            try:
                file = await self._files.fetch(
                    url,
                    max_bytes=cap,
                    suffix=".img",
                    accept=lambda head: sniff_image(head) is not None,
                    what="image",
                )
            except DownloadError as exc:
                log.info("job %d: posting without its %s: %s", job.id, name, exc)
                continue
            kind = sniff_image(file.head) or "PNG"
            found.append(SourceImage(file, name + IMAGE_EXTENSIONS[kind]))
            room -= file.size_bytes
        return tuple(found)

    async def _fitting_clip(self, job: Job) -> DownloadedClip | None:
        """Download the clip, in a format that plays everywhere (`ClipFitter.playable`); one
        over the channel's upload limit is re-encoded to fit it. None when even that cannot fit
        (the clip is then posted as a link); ClipTooLargeError when it is over the limit and
        re-encoding is off."""
        assert job.output_url is not None
        limit = job.origin.upload_limit_bytes
        # With nothing to re-encode it, a clip over the limit can only be linked: never fetched.
        cap = None if self._fitter.enabled else limit
        clip = await self._downloader.download(job.output_url, max_bytes=cap)
        if clip.size_bytes <= limit:
            ready = await self._fitter.playable(clip)
            log.info("job %d: clip %s (came as %s)", job.id, ready.treatment, ready.came_as)
            if ready.clip.size_bytes <= limit:
                return ready.clip
            clip = ready.clip  # a re-encode grew past the limit: fitting it makes it playable too
        log.info("job %d: clip is %d bytes, over the %d-byte limit", job.id, clip.size_bytes, limit)
        started = time.monotonic()
        fitted: DownloadedClip | None = None
        try:
            fitted = await self._fitter.fit(clip, limit)
            return fitted
        finally:
            clip.discard()
            self._metrics.clip_reencoded(time.monotonic() - started, fitted=fitted is not None)

    async def _post_somewhere(
        self, job: Job, post: Callable[[DeliveryRoute], Coroutine[Any, Any, int]]
    ) -> int:
        """Post in the channel; if the bot may not, through the interaction or by DM.

        A channel that is gone raises UndeliverableError at once: its followups would fail
        too. Each fallback is recorded on the job (with why) before it is tried.
        """
        route = job.delivered_via or DeliveryRoute.CHANNEL
        if route is DeliveryRoute.CHANNEL:
            try:
                return await post(DeliveryRoute.CHANNEL)
            except ChannelGoneError as exc:
                raise UndeliverableError(f"channel gone: {exc}") from exc
            except ChannelForbiddenError as exc:
                note = f"channel post refused: {exc}"
                log.warning("job %d: %s; trying the fallbacks", job.id, note)
        else:
            note = job.delivery_note or ""
        for fallback in self._fallback_routes(job, after=route):
            await self._store.update(job.id, JobChange(delivered_via=fallback, delivery_note=note))
            try:
                return await post(fallback)
            except UploadTooLargeError:
                raise
            except PostFailedError as exc:
                if exc.retryable:
                    raise
                note = f"{note}; {fallback} refused: {exc}"
                log.warning("job %d: delivery by %s refused: %s", job.id, fallback, exc)
        raise UndeliverableError(note)

    def _fallback_routes(self, job: Job, *, after: DeliveryRoute) -> list[DeliveryRoute]:
        token_alive = bool(job.origin.interaction_token) and (
            job.origin.interaction_expires_at - self._now() > _TOKEN_MARGIN
        )
        routes = [DeliveryRoute.FOLLOWUP] if token_alive else []
        routes.append(DeliveryRoute.DM)
        order = [DeliveryRoute.CHANNEL, DeliveryRoute.FOLLOWUP, DeliveryRoute.DM]
        return [r for r in routes if order.index(r) >= order.index(after)]


def _discard(sources: tuple[SourceImage, ...]) -> None:
    for source in sources:
        source.file.discard()
