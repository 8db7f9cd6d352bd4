"""Variations: the jobs of one request (`/animate … variations:4`) run each on their own, and
are posted together, once, when the last of them has ended.

Each variation is an ordinary job (admitted, counted and charged like any other, and moved
only by `JobStore.move`); what makes them a group is `group_id`, the first job's id. A job of
a group that is made waits in COMPLETED; when none of its group is still being made, the group
is settled here: the made clips move to DELIVERING, one post carries them all with every
failure beside them (under the first job's nonce, so a restart or a second process posting
again yields the same message), and each job then moves to DELIVERED with that message.
Only the first job has a progress message: the group's.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from dataclasses import replace

from bot.errors import DownloadError
from bot.i18n.format import jump_url
from bot.i18n.text import Join, Text
from bot.jobs import messages
from bot.jobs.model import (
    MAKING,
    GenerationSettings,
    Job,
    JobChange,
    JobState,
)
from bot.jobs.notifier import PostFailedError, Variation
from bot.jobs.posting import ResultPoster, UndeliverableError
from bot.jobs.runtime import JobRuntime
from bot.video.model import VideoModel

log = logging.getLogger(__name__)

#: A variation whose clip goes in the group's post.
WITH_CLIP = frozenset({JobState.COMPLETED, JobState.DELIVERING, JobState.DELIVERED})

_BACKOFF_FACTOR = 3
_BACKOFF_MAX_S = 300.0


def variation_settings(
    settings: GenerationSettings, count: int, model: VideoModel, *, seed_typed: bool
) -> list[GenerationSettings]:
    """The settings of each of `count` variations: the same but for the seed. A seed the
    member typed gives seed, seed+1, … (wrapping within the model's range); else each gets a
    seed of its own, all different. A model without seeds varies by itself."""
    seeds = model.options.seeds
    if seeds is None or settings.seed is None:
        return [settings] * count
    if seed_typed:
        start = seeds.index(settings.seed)
        chosen = [seeds[(start + i) % len(seeds)] for i in range(count)]
    else:
        chosen = [settings.seed]
        while len(chosen) < count:
            if (seed := random.choice(seeds)) not in chosen:
                chosen.append(seed)
    return [replace(settings, seed=seed) for seed in chosen]


class Batches:
    """Posts each group of variations once, when all of them have ended."""

    def __init__(
        self,
        runtime: JobRuntime,
        poster: ResultPoster,
        *,
        sync_mod_log: Callable[[int], None],
        recover: Callable[[int], None],
    ) -> None:
        self._rt = runtime
        self._poster = poster
        self._sync_mod_log = sync_mod_log
        self._recover = recover
        #: One settle at a time per group: its lock, and how many settles hold or await it.
        self._locks: dict[int, tuple[asyncio.Lock, int]] = {}

    def start(self, group_id: int) -> None:
        """Settle a group in the background: post it if none of it is still being made."""
        self._rt.spawn(group_id, self.settle(group_id), on_crash=lambda: self._recover(group_id))

    async def settle(self, group_id: int, attempt: int = 0) -> None:
        """Post the group if every variation has ended (else show how many are ready); one
        at a time per group, and not at all once its requester has been told."""
        lock, users = self._locks.get(group_id, (asyncio.Lock(), 0))
        self._locks[group_id] = (lock, users + 1)
        try:
            async with lock:
                await self._settle(group_id, attempt)
        finally:
            lock, users = self._locks[group_id]
            if users == 1:
                del self._locks[group_id]
            else:
                self._locks[group_id] = (lock, users - 1)

    async def _settle(self, group_id: int, attempt: int) -> None:
        group = await self._rt.store.group_jobs(group_id)
        if not group or all(job.notified for job in group):
            return
        leader = group[0]
        if any(job.state in MAKING for job in group):
            if leader.state not in MAKING:  # its own progress is over: show the group's
                ready = sum(job.state in WITH_CLIP for job in group)
                await self._rt.progress.show(leader, messages.variations_ready(ready, len(group)))
            return
        group = [await self._to_delivering(job) for job in await self._adopt(group)]
        if not any(job.state in WITH_CLIP for job in group):
            await self._tell_all(group, _nothing_made(group))
            return
        await self._post(group, attempt)

    async def _adopt(self, group: list[Job]) -> list[Job]:
        """Take the lease of every variation not yet told, whichever process made it: from
        here on this process alone writes them (another's late writes are refused), so the
        group is settled by one writer even when its variations were made by several."""
        assert group[0].group_id is not None
        adopted = await self._rt.store.adopt_group(group[0].group_id, self._rt.lease)
        taken = {job.id: self._rt.hold(job) for job in adopted}
        return [taken.get(job.id, job) for job in group]

    async def _still_held(self, group: list[Job]) -> None:
        """Read just before posting: if another process has adopted the group since (this one
        was paused, say), it posts, not this one (LeaseLostError)."""
        for job in group:
            await self._rt.check_still_held(job.id)

    async def _to_delivering(self, job: Job) -> Job:
        if job.state != JobState.COMPLETED:
            return job
        moved = await self._rt.move(job.id, JobState.DELIVERING)
        if moved is not None:
            log.info("job %d: completed -> delivering (group %d)", job.id, job.group_id)
            return moved
        current = await self._rt.store.get_job(job.id)  # cancelled meanwhile
        assert current is not None
        return current

    async def _post(self, group: list[Job], attempt: int) -> None:
        leader = group[0]
        fetched: list[Variation | BaseException] = []
        try:
            # Fetched side by side: the post waits for the slowest, not for their sum.
            made = (self._variation(job) for job in group)
            fetched = list(await asyncio.gather(*made, return_exceptions=True))
            lost = [e for e in fetched if isinstance(e, BaseException)]
            if other := [e for e in lost if not isinstance(e, DownloadError)]:
                raise other[0]  # a bug, or a lease lost: not any variation's fault
            failed = [e for e in lost if isinstance(e, DownloadError)]
            retries_left = attempt < self._rt.settings.delivery_retries
            if retries_left and any(e.retryable for e in failed):
                self._retry_later(leader, attempt, failed[0])
                return
            group, variations = await self._without_unfetched(group, fetched)
            if not any(v.job.state in WITH_CLIP for v in variations):
                await self._tell_all(group, _nothing_made(group))
                return
            await self._still_held(group)
            message_id = await self._poster.post_group(leader, variations, self._rt.notifier)
        except PostFailedError as exc:
            if exc.retryable and attempt < self._rt.settings.delivery_retries:
                self._retry_later(leader, attempt, exc)
                return
            log.warning("group %d: delivery failed for good: %s", leader.id, exc)
            await self._fail_all(group, lambda job: messages.POST_FAILED)
            return
        except UndeliverableError as exc:
            log.warning("group %d: undeliverable: %s", leader.id, exc)
            await self._fail_all(group, self._undeliverable)
            return
        finally:
            for variation in fetched:
                if isinstance(variation, Variation) and variation.clip is not None:
                    variation.clip.discard()
        await self._record(group, variations, message_id)

    async def _without_unfetched(
        self, group: list[Job], fetched: list[Variation | BaseException]
    ) -> tuple[list[Job], list[Variation]]:
        """A variation whose clip could not be fetched, for good, fails on its own (what the
        API charged for it still counts, and the post says so); the others are posted."""
        jobs: list[Job] = []
        variations: list[Variation] = []
        for job, result in zip(group, fetched, strict=True):
            if isinstance(result, Variation):
                jobs.append(job)
                variations.append(result)
                continue
            log.warning("job %d: its clip cannot be fetched: %s", job.id, result)
            failed = await self._fail(job, messages.DOWNLOAD_FAILED)
            jobs.append(failed)
            variations.append(Variation(failed))
        return jobs, variations

    def _undeliverable(self, job: Job) -> Text:
        """Why a made variation could not be posted: with the link to its clip."""
        return messages.undeliverable(job.output_url or "", self._poster.link_expires_at(job))

    async def _variation(self, job: Job) -> Variation:
        """One variation as the post shows it: its clip fitted to the upload limit (None when
        it goes as a link, or when there is none)."""
        if job.state not in WITH_CLIP:
            return Variation(job)
        clip = await self._poster.group_clip(job)
        return Variation(job, clip, self._poster.link_expires_at(job))

    async def _record(self, group: list[Job], variations: list[Variation], message_id: int) -> None:
        leader, store, now = group[0], self._rt.store, self._rt.now()
        posted = await store.get_job(leader.id)  # the route the post took is on the first job
        via = posted.delivered_via if posted else None
        for job, variation in zip(group, variations, strict=True):
            told = JobChange(message_id=message_id, notified=True, drop_token=True)
            if job.state == JobState.DELIVERING:
                kind = "file" if variation.clip is not None else "link"
                change = replace(told, delivered_as=kind, finished_at=now, delivered_via=via)
                if await self._rt.move(job.id, JobState.DELIVERED, change) is not None:
                    lag_s = (now - (job.completed_at or now)).total_seconds()
                    self._rt.metrics.job_delivered(job.kind, max(0.0, lag_s))
            elif not job.notified:
                await self._rt.update(job.id, told)
            self._sync_mod_log(job.id)
        log.info("group %d: posted as message %d", leader.id, message_id)
        link = jump_url(leader.origin.guild_id, leader.origin.channel_id, message_id)
        await self._rt.progress.show(leader, messages.done(link, None), final=True)

    async def _tell_all(self, group: list[Job], text: Text) -> None:
        """Nothing is posted (no variation was made, or the post failed): the requester is
        told on the progress message (or in the channel), once for the group."""
        leader = group[0]
        if not await self._rt.progress.show(leader, text, final=True):
            try:
                await self._rt.notifier.post_failure(leader, text.render(leader.origin.locale))
            except PostFailedError as exc:
                log.warning("group %d: could not tell the user: %s", leader.id, exc)
        for job in group:
            if not job.notified:
                await self._rt.update(job.id, JobChange(notified=True, drop_token=True))
            self._sync_mod_log(job.id)

    async def _fail_all(self, group: list[Job], why: Callable[[Job], Text]) -> None:
        """The post could not be made: every variation that was to be posted fails, and the
        requester is told each one's reason (with what it cost)."""
        ended = [
            await self._fail(job, why(job)) if job.state == JobState.DELIVERING else job
            for job in group
        ]
        await self._tell_all(ended, _nothing_made(ended))

    async def _fail(self, job: Job, why: Text) -> Job:
        """Fail one variation; its reason says plainly what the API charged for it."""
        reason = messages.honest(why, job.cost_cents, None, None).render(job.origin.locale)
        change = JobChange(error=reason, finished_at=self._rt.now(), reserved_cents=0)
        failed = await self._rt.move(job.id, JobState.FAILED, change)
        if failed is None:
            return job
        self._rt.metrics.job_failed(failed.kind)
        return failed

    def _retry_later(self, leader: Job, attempt: int, exc: Exception) -> None:
        s = self._rt.settings
        delay = min(_BACKOFF_MAX_S, s.delivery_retry_base_s * _BACKOFF_FACTOR**attempt)
        log.warning("group %d: delivery failed (%s); retrying in %g s", leader.id, exc, delay)
        group_id = leader.id
        self._rt.scheduler.call_later(
            ("deliver-group", group_id),
            delay,
            lambda: self._rt.guarded(
                group_id, self.settle(group_id, attempt + 1), lambda: self._recover(group_id)
            ),
        )


def _nothing_made(group: list[Job]) -> Text:
    """Why a group has no post: cancelled (by whom), or why each variation could not be made
    (each reason saying what it cost)."""
    leader = group[0]
    if leader.cancelled_by is not None and all(j.state == JobState.CANCELLED for j in group):
        return messages.cancelled(leader.cancelled_by, leader.origin.user_id)
    lines: list[Text | str] = [messages.variations_none_made(len(group))]
    for number, job in enumerate(group, 1):
        if job.state == JobState.CANCELLED:
            why: Text | str = messages.variation_cancelled(job.cost_cents)
        else:
            why = job.error or ""
        lines.append(Join([messages.variation_heading(number, job.settings.seed), why], sep=": "))
    return Join(lines)
