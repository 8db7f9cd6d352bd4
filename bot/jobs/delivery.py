"""The delivery step: a made clip goes out (through `ResultPoster`) exactly once, passing
failures are retried on a growing schedule, and the requester is told where it is."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from bot.errors import DownloadError
from bot.i18n.format import jump_url
from bot.jobs import messages
from bot.jobs.model import DeliveryRoute, FailureKind, Job, JobChange, JobState, LeaseLostError
from bot.jobs.notices import Notices
from bot.jobs.notifier import PostFailedError
from bot.jobs.posting import ResultPoster, UndeliverableError
from bot.jobs.runtime import JobRuntime

log = logging.getLogger(__name__)

_DELIVERY_BACKOFF_FACTOR = 3
_DELIVERY_BACKOFF_MAX_S = 300.0


class Delivery:
    """Posts completed jobs' clips and records where they went."""

    def __init__(
        self,
        runtime: JobRuntime,
        poster: ResultPoster,
        notices: Notices,
        *,
        recover: Callable[[int], None],
        group_made: Callable[[int], None] | None = None,
    ) -> None:
        self._rt = runtime
        #: A variation is posted with its group, once all are made (`bot.jobs.batches`).
        self._group_made = group_made
        self._poster = poster
        self._notices = notices
        self._recover = recover

    def start(self, job_id: int, *, made_at: datetime | None = None) -> None:
        """Deliver a completed job in the background (a crash resumes it later); `made_at` is
        when the API says it finished the clip, if it said."""
        self._rt.spawn(
            job_id, self.deliver(job_id, made_at=made_at), on_crash=lambda: self._recover(job_id)
        )

    async def deliver(
        self, job_id: int, attempt: int = 0, *, made_at: datetime | None = None
    ) -> None:
        """Post the clip; transient failures are retried on a schedule, then reported."""
        store = self._rt.store
        job = await store.get_job(job_id)
        if job is None or job.state not in (JobState.COMPLETED, JobState.DELIVERING):
            return
        # Read just now: if another process has taken the job over, it posts, not this one.
        self._rt.check_held(job)
        if job.group_id is not None and self._group_made is not None:
            self._group_made(job.group_id)
            return
        if job.state == JobState.COMPLETED:
            moved = await self._rt.move(job.id, JobState.DELIVERING)
            if moved is None:  # cancelled meanwhile
                return
            job = moved
            log.info("job %d: completed -> delivering", job.id)
        try:
            message_id, kind = await self._poster.post(
                job, self._rt.notifier, still_ours=lambda: self._rt.check_still_held(job_id)
            )
        except (DownloadError, PostFailedError) as exc:
            if exc.retryable and attempt < self._rt.settings.delivery_retries:
                self._retry_later(job_id, attempt, exc, made_at)
                return
            log.warning("job %d: delivery failed for good: %s", job.id, exc)
            failure = messages.DOWNLOAD_FAILED if isinstance(exc, DownloadError) else None
            await self._notices.fail(job, failure or messages.POST_FAILED)
            return
        except UndeliverableError as exc:
            log.warning("job %d: undeliverable: %s", job.id, exc)
            expires_at = self._poster.link_expires_at(job)
            why = messages.undeliverable(job.output_url or "", expires_at)
            await self._notices.fail(job, why, failure_kind=FailureKind.UNDELIVERABLE)
            return
        except LeaseLostError:
            raise  # another process has the job now: it posts (the caller drops it here)
        except Exception:
            log.exception("job %d: delivery crashed", job.id)
            await self._notices.fail(job, messages.POST_FAILED)
            return
        change = JobChange(
            message_id=message_id,
            delivered_as=kind,
            finished_at=self._rt.now(),
            notified=True,
            drop_token=True,
        )
        delivered = await self._rt.move(job.id, JobState.DELIVERED, change)
        if delivered is None:
            log.error("job %d: posted as message %s but no longer delivering", job.id, message_id)
            return
        log.info("job %d: delivering -> delivered as %s (message %s)", job.id, kind, message_id)
        # From the API's own completedAt; after a restart, from when this bot saw it done.
        finished_making = made_at or job.completed_at or self._rt.now()
        lag_s = (self._rt.now() - finished_making).total_seconds()
        self._rt.metrics.job_delivered(job.kind, max(0.0, lag_s))
        await self._tell_requester(job, delivered.delivered_via, message_id)
        self._notices.sync_mod_log(job.id)

    def _retry_later(
        self, job_id: int, attempt: int, exc: Exception, made_at: datetime | None
    ) -> None:
        s = self._rt.settings
        delay = min(
            _DELIVERY_BACKOFF_MAX_S, s.delivery_retry_base_s * _DELIVERY_BACKOFF_FACTOR**attempt
        )
        log.warning("job %d: delivery failed (%s); retrying in %g s", job_id, exc, delay)
        self._rt.scheduler.call_later(
            ("deliver", job_id),
            delay,
            lambda: self._rt.guarded(
                job_id,
                self.deliver(job_id, attempt + 1, made_at=made_at),
                lambda: self._recover(job_id),
            ),
        )

    async def _tell_requester(self, job: Job, route: DeliveryRoute | None, message_id: int) -> None:
        took = messages.generation_time(job)
        if route is DeliveryRoute.DM:
            text = messages.done_by_dm(took)
        else:
            link = jump_url(job.origin.guild_id, job.origin.channel_id, message_id)
            text = messages.done(link, took)
        # `job` still holds the interaction token, which the store has just dropped.
        await self._rt.progress.show(job, text, final=True)
