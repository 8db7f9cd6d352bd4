"""The job service: accepts /animate requests and drives each job to a posted clip.

Discord-free. The cog hands in plain values; results and progress go out through a
`JobNotifier`. Every state change is written to the store before the next step, so a restart
picks each job up where it stopped (see `start`).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.errors import (
    ApiAuthError,
    ApiError,
    ApiProtocolError,
    ApiRejectedError,
    ApiUnavailableError,
    DownloadError,
    UserError,
)
from bot.guilds.model import GuildConfig, QuotaUsage
from bot.guilds.policy import Access, Actor, Limits, check_access, check_quota
from bot.i18n import messages
from bot.i18n.text import Text
from bot.jobs.model import (
    CANCELLABLE,
    DeliveryRoute,
    FailureKind,
    GenerationSettings,
    ImageInput,
    Job,
    JobChange,
    JobKind,
    JobState,
    NewJob,
    Origin,
)
from bot.jobs.notifier import JobNotifier, PostFailedError
from bot.jobs.posting import ResultPoster, UndeliverableError
from bot.jobs.progress import STEP_SHOW_DELAY_S, ProgressReporter
from bot.jobs.request import AnimateRequest, ValidatedRequest, check_image_bytes, validate
from bot.jobs.scheduler import Scheduler
from bot.media.files import (
    LINK_MARGIN,
    SNIFF_BYTES,
    ClipDownloader,
    DiscordFiles,
    link_expires_within,
)
from bot.media.transcode import ClipFitter
from bot.members.model import QuotaStatus, UsageReport
from bot.periods import next_day, next_month
from bot.settings import Settings
from bot.storage import Store
from bot.video.seedance import MODEL_ID, GenerateRequest
from bot.video.vibedream import VibedreamClient
from bot.video.wire import Prediction

log = logging.getLogger(__name__)

_DELIVERY_BACKOFF_FACTOR = 3
_DELIVERY_BACKOFF_MAX_S = 300.0
#: How long after an unexpected error a job's step is picked up again from its stored state.
_RECOVER_AFTER_S = 30.0
_PURGE_EVERY_S = 24 * 3600.0
_MOD_LOG_RETRIES = 3
_MOD_LOG_RETRY_S = 5.0


@dataclass(frozen=True, slots=True)
class _Admission:
    """What `accept` learnt while checking a request: the rules it must be admitted under."""

    config: GuildConfig
    limits: Limits
    expected_cents: int
    cooldown_s: int


class _ShuttingDownError(Exception):
    """Raised before a submit goes on the wire while the service is stopping."""


class _CancelledBeforeSendError(Exception):
    """Raised before a submit goes on the wire when the job was cancelled meanwhile."""


def next_poll_delay(
    elapsed_s: float, estimate_s: tuple[float, float] | None, interval_s: float, max_s: float
) -> float:
    """Seconds until the next status poll.

    Nothing can be ready before the low end of the API's estimate, so the first poll waits for
    it; from there polls run every `interval_s`, slowing gently once the estimate is exceeded.
    """
    low, high = estimate_s or (0.0, 60.0)
    if elapsed_s < low:
        return low - elapsed_s
    overtime = max(0.0, elapsed_s - high)
    return min(max_s, interval_s + overtime / 10)


class JobService:
    """Validates, stores, submits, polls and delivers /animate jobs."""

    def __init__(
        self,
        *,
        settings: Settings,
        store: Store,
        api: VibedreamClient,
        downloader: ClipDownloader,
        files: DiscordFiles,
        fitter: ClipFitter | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._settings = settings
        self._store = store
        self._api = api
        self._files = files
        self._poster = ResultPoster(
            settings=settings,
            store=store,
            downloader=downloader,
            files=files,
            fitter=fitter or ClipFitter.from_settings(settings),
            now=now,
        )
        self._now = now
        self._scheduler = Scheduler()
        self._notifier: JobNotifier | None = None
        self._progress: ProgressReporter | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._dispatch_wake = asyncio.Event()
        self._dispatch_paused_until = 0.0
        self._dispatcher: asyncio.Task[None] | None = None
        self._closing = False

    # Lifecycle ------------------------------------------------------------------------------

    async def start(self, notifier: JobNotifier) -> None:
        """Resume every job left open by a previous run, then start dispatching."""
        self._notifier = notifier
        self._progress = ProgressReporter(
            notifier=notifier,
            store=self._store,
            scheduler=self._scheduler,
            now=self._now,
            interval_s=self._settings.progress_edit_interval_s,
        )
        self._scheduler.start()
        for job in await self._store.open_jobs():
            await self._resume(job)
        self._dispatcher = asyncio.create_task(self._dispatch_loop(), name="dispatcher")
        self._dispatch_wake.set()
        if self._settings.retention_days is not None:
            self._scheduler.call_later("purge", 0, self._purge)

    async def stop(self, grace_s: float = 5.0) -> None:
        """Stop taking and starting work, let running steps finish briefly, then cancel them.

        Every state is already persisted, so whatever is cancelled resumes on the next start;
        the grace period mainly lets a submit on the wire get its answer, since a submit cut
        off mid-flight cannot safely be re-sent.
        """
        self._closing = True
        if self._dispatcher is not None:
            self._dispatcher.cancel()
        await self._scheduler.stop()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=grace_s)
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _resume(self, job: Job) -> None:
        log.info("job %d: resuming in state %s", job.id, job.state)
        match job.state:
            case JobState.QUEUED:
                self._reporter.follow(job.id, 0)
            case JobState.CLAIMED:
                # Nothing was on the wire: it simply goes back to its place in the queue.
                await self._store.move(job.id, JobState.QUEUED)
                self._reporter.follow(job.id, 0)
            case JobState.SUBMITTING:
                # The submit may or may not have reached the API: never send it twice.
                self._spawn_step(job.id, self._fail_outcome_unknown(job))
            case JobState.SUBMITTED:
                self._schedule_poll(job, 0)
                self._reporter.follow(job.id, 0)
            case JobState.COMPLETED | JobState.DELIVERING:
                self._spawn_step(job.id, self._deliver(job.id))
            case JobState.FAILED:
                self._spawn_step(job.id, self._notify_failure(job))
            case JobState.CANCELLED:
                if job.reserved_cents and job.prediction_id is None:
                    # Cancelled with a submit on the wire, and stopped before its answer: it
                    # may have been charged, so it is settled like any unknown submit.
                    job = await self._store.update(
                        job.id, JobChange(failure_kind=FailureKind.SUBMIT_UNKNOWN)
                    )
                    reason = messages.SUBMIT_OUTCOME_UNKNOWN.render(job.origin.locale)
                    failed = JobChange(
                        error=reason,
                        cost_cents=job.reserved_cents,
                        reserved_cents=0,
                        finished_at=self._now(),
                    )
                    job = await self._store.move(
                        job.id, JobState.FAILED, failed
                    ) or await self._store.update(job.id, failed)
                self._spawn_step(job.id, self._notify_cancelled(job))
            case JobState.DELIVERED:
                pass
        if job.mod_log_message_id is None and job.state != JobState.DELIVERED:
            self._spawn_side(job.id, self._sync_mod_log(job.id))  # posted if the log is on

    # Intake ---------------------------------------------------------------------------------

    def check(self, request: AnimateRequest) -> ValidatedRequest:
        """Validate what can be checked without any I/O, so the cog can answer at once."""
        return validate(request, self._settings)

    async def accept(
        self,
        request: ValidatedRequest,
        origin: Origin,
        access: Access,
        *,
        kind: JobKind = JobKind.ANIMATE,
        parent_job_id: int | None = None,
    ) -> Job:
        """Apply the server's rules, verify the images' bytes, then store and queue the job.

        Raises UserError saying why (and until when) the request cannot run; a refused
        request costs nothing.
        """
        rules = await self._admission(access, request.settings)
        images = [("image", request.image), ("last_image", request.last_image)]
        await asyncio.gather(*(self._check_bytes(img, label) for label, img in images if img))
        new = NewJob(
            origin=origin,
            model=MODEL_ID,
            prompt=request.prompt,
            image_url=request.image.url,
            last_image_url=request.last_image.url if request.last_image else None,
            settings=request.settings,
            nonce=secrets.token_hex(8),
            kind=kind,
            parent_job_id=parent_job_id,
        )
        admitted = await self._store.admit(
            new,
            self._now(),
            reserve_cents=rules.expected_cents,
            cooldown_s=rules.cooldown_s,
            decide=lambda usage: self._quota_refusal(rules.limits, usage, rules.expected_cents),
        )
        if isinstance(admitted, Text):
            raise UserError(admitted)
        job = admitted
        log.info(
            "job %d: queued (%s) for user %d in channel %d",
            job.id,
            kind,
            origin.user_id,
            origin.channel_id,
        )
        self._reporter.follow(job.id, STEP_SHOW_DELAY_S)  # its place in the queue, if it waits
        self._dispatch_wake.set()
        if rules.config.mod_log_channel_id is not None:
            self._spawn_side(job.id, self._sync_mod_log(job.id))
        return job

    async def check_admission(self, access: Access, settings: GenerationSettings) -> None:
        """Raise UserError if a job with these settings may not start now (nothing is
        reserved: `accept` checks again as it admits)."""
        await self._admission(access, settings)

    async def _admission(self, access: Access, settings: GenerationSettings) -> _Admission:
        """The server's rules and the member's quota as they stand: raises UserError if a job
        with these settings may not start now (the admission re-checks atomically)."""
        if self._closing:
            raise UserError(messages.SHUTTING_DOWN)
        config = await self._store.guild_config(access.guild_id)
        block = await self._store.get_block(access.guild_id, access.user_id)
        if (refusal := check_access(config, access, block)) is not None:
            raise UserError(refusal)
        limits = Limits.resolve(config, self._settings)
        expected = await self._store.expected_cost(settings)
        if expected is None:
            expected = self._settings.expected_cost_cents
        cooldown = limits.cooldown or 0
        now = self._now()
        usage = await self._store.quota_usage(access.guild_id, access.user_id, now, cooldown)
        if (refusal := self._quota_refusal(limits, usage, expected)) is not None:
            raise UserError(refusal)
        return _Admission(config, limits, expected, cooldown)

    def _quota_refusal(self, limits: Limits, usage: QuotaUsage, expected_cents: int) -> Text | None:
        cap = self._settings.max_jobs_queued_per_user
        if usage.open_anywhere >= cap:
            return messages.too_many_open_jobs(cap)
        return check_quota(limits, usage, expected_cents, self._now())

    async def usage(self, user_id: int) -> UsageReport:
        """The user's own usage figures and recent jobs."""
        return await self._store.usage_report(user_id, self._now())

    async def quota_status(self, guild_id: int, user_id: int) -> QuotaStatus:
        """What the user may still start on this server."""
        limits = Limits.resolve(await self._store.guild_config(guild_id), self._settings)
        now = self._now()
        usage = await self._store.quota_usage(guild_id, user_id, now, limits.cooldown or 0)
        ready_at = None
        if limits.cooldown and usage.last_started_at is not None:
            ready_at = usage.last_started_at + timedelta(seconds=limits.cooldown)
        return QuotaStatus(
            daily_left=None if limits.daily is None else max(0, limits.daily - usage.today),
            monthly_left=None if limits.monthly is None else max(0, limits.monthly - usage.month),
            ready_at=ready_at if ready_at is not None and ready_at > now else None,
            daily_resets_at=next_day(now),
            monthly_resets_at=next_month(now),
        )

    async def forget(self, user_id: int) -> int:
        """Erase the user's prompts and image links from finished jobs; returns how many."""
        count = await self._store.redact_user(user_id)
        log.info("user %d: erased prompts and links of %d jobs", user_id, count)
        return count

    async def notify_on_done(self, user_id: int) -> bool:
        """Whether the user is mentioned (so notified) on their result posts."""
        return await self._store.mention_on_done(user_id)

    async def set_notify_on_done(self, user_id: int, enabled: bool) -> None:
        """Turn the mention on the user's result posts on or off, from the next post on (jobs
        already running included: the setting is read when the result is posted)."""
        await self._store.set_mention_on_done(user_id, enabled, self._now())
        log.info("user %d: mention on result posts %s", user_id, "on" if enabled else "off")

    async def _purge(self) -> None:
        """Erase prompts and links older than the retention period; runs daily."""
        try:
            assert self._settings.retention_days is not None
            cutoff = self._now() - timedelta(days=self._settings.retention_days)
            count = await self._store.redact_before(cutoff)
            if count:
                log.info("retention: erased prompts and links of %d jobs", count)
        finally:
            self._scheduler.call_later("purge", _PURGE_EVERY_S, self._purge)

    # A result's post --------------------------------------------------------------------------

    async def delete_post(self, job_id: int, actor: Actor) -> Job:
        """Delete a job's result post, for its requester or a moderator. Raises UserError."""
        job = await self._store.get_job(job_id)
        if job is None or job.origin.guild_id != actor.guild_id:
            raise UserError(messages.NO_SUCH_JOB)
        if actor.user_id != job.origin.user_id and not actor.can_manage_messages:
            raise UserError(messages.DELETE_NOT_ALLOWED)
        if job.post_deleted_at is not None or job.message_id is None:
            raise UserError(messages.POST_ALREADY_DELETED)
        try:
            await self._notifier_().delete_post(job)
        except PostFailedError as exc:
            log.warning("job %d: could not delete its post: %s", job.id, exc)
            raise UserError(messages.DELETE_FAILED) from exc
        if not await self._store.mark_post_deleted(job.id, self._now()):
            raise UserError(messages.POST_ALREADY_DELETED)  # another press got there first
        log.info("job %d: post deleted by user %d", job.id, actor.user_id)
        self._spawn_side(job.id, self._sync_mod_log(job.id))
        return await self._store_job(job.id)

    async def _store_job(self, job_id: int) -> Job:
        job = await self._store.get_job(job_id)
        assert job is not None
        return job

    # Cancel ---------------------------------------------------------------------------------

    async def cancel(self, job_id: int, actor: Actor) -> Job:
        """Cancel a job for its requester or a moderator of its server. Raises UserError."""
        job = await self._store.get_job(job_id)
        if job is None or job.origin.guild_id != actor.guild_id:
            raise UserError(messages.NO_SUCH_JOB)
        if actor.user_id != job.origin.user_id and not actor.can_manage_messages:
            raise UserError(messages.CANCEL_NOT_ALLOWED)
        cancelled = await self._store.cancel_job(job_id, actor.user_id, self._now())
        if cancelled is None:
            current = await self._store.get_job(job_id)
            raise UserError(messages.cannot_cancel(current.state if current else job.state))
        log.info("job %d: %s -> cancelled by user %d", job.id, job.state, actor.user_id)
        self._scheduler.cancel(("poll", job.id))
        self._dispatch_wake.set()  # its slot is free
        # The token was read before the update; the stored row keeps it until notified.
        self._spawn_step(job.id, self._notify_cancelled(cancelled))
        return cancelled

    async def _notify_cancelled(self, job: Job) -> None:
        assert job.cancelled_by is not None
        text = messages.cancelled(job.cancelled_by, job.origin.user_id)
        shown = await self._reporter.show(job, text, final=True)
        if not shown and job.cancelled_by != job.origin.user_id:
            await self._tell_elsewhere(job, text)  # a moderator did it: say so, once
        await self._store.update(job.id, JobChange(notified=True, drop_token=True))
        self._reporter.forget(job.id)
        self._spawn_side(job.id, self._sync_mod_log(job.id))

    async def _check_bytes(self, image: ImageInput, label: str) -> None:
        try:
            head = await self._files.head(image.url, SNIFF_BYTES)
        except DownloadError as exc:
            log.info("could not read the %s attachment: %s", label, exc)
            raise UserError(messages.image_unreadable(label)) from exc
        check_image_bytes(head.data, label)
        # Checked here too: an embed's image (or a stored one) comes with no size of its own.
        limit = self._settings.image_max_bytes
        if head.size_bytes is not None and head.size_bytes > limit:
            raise UserError(messages.image_too_big(label, head.size_bytes, limit))

    # Dispatch and submit --------------------------------------------------------------------

    async def _dispatch_loop(self) -> None:
        while True:
            await self._dispatch_wake.wait()
            self._dispatch_wake.clear()
            try:
                await self._dispatch()
            except Exception:
                log.exception("dispatching failed; trying again shortly")
                self._scheduler.call_later("dispatch", 5.0, self._wake_dispatch)

    async def _dispatch(self) -> None:
        """Claim queued jobs while both in-flight caps have room, oldest first."""
        pause = self._dispatch_paused_until - asyncio.get_running_loop().time()
        if pause > 0:
            self._scheduler.call_later("dispatch", pause, self._wake_dispatch)
            return
        s = self._settings
        while job := await self._store.claim_next_queued(
            s.max_jobs_in_flight, s.max_jobs_in_flight_per_user
        ):
            log.info("job %d: queued -> claimed", job.id)
            self._spawn_step(job.id, self._submit(job))

    async def _wake_dispatch(self) -> None:
        self._dispatch_wake.set()

    async def _submit(self, job: Job) -> None:
        links = (job.image_url, job.last_image_url or "")
        if any(link_expires_within(url, self._now(), LINK_MARGIN) for url in links):
            await self._fail(job, messages.IMAGE_LINK_EXPIRED, cost_cents=0)
            return
        self._reporter.follow(job.id, STEP_SHOW_DELAY_S)  # "Sending", if the submit is slow
        try:
            response = await self._api.submit(
                _generate_request(job),
                # Persisted around every attempt, so a restart knows whether one was on the wire.
                on_send=lambda: self._mark_sending(job.id),
                on_refused=lambda: self._store.move(job.id, JobState.CLAIMED),
            )
        except _ShuttingDownError:
            await self._store.move(job.id, JobState.QUEUED)
            return
        except _CancelledBeforeSendError:
            log.info("job %d: cancelled before its submit was sent", job.id)
            await self._store.update(job.id, JobChange(reserved_cents=0))  # an earlier try refused
            return
        except ApiUnavailableError as exc:
            await self._requeue(job, exc)
            return
        except ApiAuthError:
            log.error("job %d: the video API refused our key; check VIBEDREAM_API_KEY", job.id)
            await self._fail(job, messages.SERVICE_UNAVAILABLE, cost_cents=0)
            return
        except ApiRejectedError as exc:
            await self._fail(job, messages.api_rejected(exc.message), cost_cents=0)
            return
        except ApiError as exc:  # sent, but the answer never came or made no sense
            log.info("job %d: no usable answer to the submit (%s); not re-sending", job.id, exc)
            await self._fail_outcome_unknown(job)
            return
        except Exception:
            # A state hook failed: it runs before sending or after a certain refusal, so this
            # attempt was not processed and nothing was charged.
            log.exception("job %d: submit aborted", job.id)
            await self._fail(job, messages.SOMETHING_WENT_WRONG, cost_cents=0)
            return
        estimate = response.estimate_s()
        submitted = JobChange(
            prediction_id=response.id,
            cost_cents=response.cost_cents,
            reserved_cents=0,  # settled: the API said what it costs
            estimate_s=estimate,
            submitted_at=self._now(),
        )
        job = await self._store.move(
            job.id, JobState.SUBMITTED, submitted
        ) or await self._store.update(job.id, submitted)
        if job.state == JobState.CANCELLED:
            log.info("job %d: submitted as %s after it was cancelled", job.id, response.id)
            return
        log.info(
            "job %d: submitting -> submitted as prediction %s (estimate %s, %d cents)",
            job.id,
            response.id,
            response.estimated_time,
            response.cost_cents,
        )
        s = self._settings
        self._schedule_poll(
            job, next_poll_delay(0, estimate, s.poll_interval_s, s.poll_max_interval_s)
        )
        self._reporter.follow(job.id, 0)

    async def _fail_outcome_unknown(self, job: Job) -> None:
        """Fail a job whose submit may have reached the API, tagged for an admin to check."""
        log.warning(
            "job %d: submit outcome unknown, tagged %s: an admin should check the API's billing",
            job.id,
            FailureKind.SUBMIT_UNKNOWN,
        )
        job = await self._store.update(job.id, JobChange(failure_kind=FailureKind.SUBMIT_UNKNOWN))
        # It may have been charged: the reservation stands as its cost.
        await self._fail(job, messages.SUBMIT_OUTCOME_UNKNOWN, cost_cents=job.reserved_cents)

    async def _mark_sending(self, job_id: int) -> None:
        if self._closing:  # no new submit once stopping: it could be cut off mid-flight
            raise _ShuttingDownError
        if await self._store.move(job_id, JobState.SUBMITTING) is None:  # cancelled
            raise _CancelledBeforeSendError

    async def _requeue(self, job: Job, exc: ApiError) -> None:
        """Put a job the API certainly did not take back at its place, and pause dispatch."""
        log.warning("job %d: -> queued; the video API is unavailable (%s)", job.id, exc)
        if await self._store.move(job.id, JobState.QUEUED) is None:
            # cancelled while that submit was out
            await self._store.update(job.id, JobChange(reserved_cents=0))
            return
        loop = asyncio.get_running_loop()
        self._dispatch_paused_until = loop.time() + self._settings.api_backoff_max_s
        await self._reporter.show(job, messages.SERVICE_BUSY)
        self._dispatch_wake.set()

    # Polling --------------------------------------------------------------------------------

    def _schedule_poll(self, job: Job, delay_s: float) -> None:
        self._scheduler.call_later(("poll", job.id), delay_s, lambda: self._poll(job))

    async def _poll(self, job: Job) -> None:
        try:
            await self._poll_once(job)
        except Exception:
            log.exception("job %d: status check crashed; will retry", job.id)
            self._schedule_poll(job, self._settings.poll_max_interval_s)

    async def _poll_once(self, job: Job) -> None:
        # Of what a poll uses, only the state can change once a job is submitted (a cancel,
        # say), so that is all it reads again: about 17 polls a job, each sparing a row read.
        if job.prediction_id is None or await self._store.job_state(job.id) != JobState.SUBMITTED:
            return
        elapsed = (self._now() - (job.submitted_at or job.created_at)).total_seconds()
        prediction: Prediction | None = None
        try:
            # No retries inside the call: the next poll is the retry, and it keeps the
            # scheduler's slot free meanwhile.
            prediction = await self._api.get_prediction(job.prediction_id, retries=0)
        except ApiAuthError:
            log.error("job %d: the video API refused our key; check VIBEDREAM_API_KEY", job.id)
            await self._fail(job, messages.SERVICE_UNAVAILABLE)
            return
        except ApiRejectedError as exc:
            await self._fail(job, messages.api_failed(exc.message))
            return
        except (ApiUnavailableError, ApiProtocolError) as exc:
            log.warning("job %d: status check failed (%s); will retry", job.id, exc)
        if prediction is not None and prediction.status == "completed":
            await self._complete(job, prediction)
        elif prediction is not None and prediction.status == "failed":
            await self._fail(job, messages.api_failed(prediction.error), prediction.cost_cents)
        elif elapsed > self._timeout_s(answered=prediction is not None):
            await self._fail(job, messages.TIMED_OUT)
        else:
            s = self._settings
            delay = next_poll_delay(
                elapsed, job.estimate_s, s.poll_interval_s, s.poll_max_interval_s
            )
            self._schedule_poll(job, delay)

    def _timeout_s(self, *, answered: bool) -> float:
        """How long a submitted job may go unfinished before it is failed as timed out.

        Only the API's own "still processing" counts against `JOB_TIMEOUT_S`: while the API
        cannot be reached the prediction may well be done, so the job waits for it as long
        as the API keeps outputs (after that the clip is gone anyway).
        """
        if answered:
            return self._settings.job_timeout_s
        return max(self._settings.job_timeout_s, self._settings.vibedream_output_ttl_hours * 3600)

    async def _complete(self, job: Job, prediction: Prediction) -> None:
        assert prediction.outputs  # the client guarantees outputs on completion
        completed = JobChange(
            output_url=prediction.outputs[0],
            cost_cents=prediction.cost_cents,
            completed_at=self._now(),
        )
        job = await self._store.move(
            job.id, JobState.COMPLETED, completed
        ) or await self._store.update(job.id, completed)
        log.info("job %d: submitted -> completed", job.id)
        self._dispatch_wake.set()  # its in-flight slot is free
        self._spawn_step(job.id, self._deliver(job.id))

    # Delivery -------------------------------------------------------------------------------

    async def _deliver(self, job_id: int, attempt: int = 0) -> None:
        """Post the clip; transient failures are retried on a schedule, then reported."""
        job = await self._store.get_job(job_id)
        if job is None or job.state not in (JobState.COMPLETED, JobState.DELIVERING):
            return
        if job.state == JobState.COMPLETED:
            moved = await self._store.move(job.id, JobState.DELIVERING)
            if moved is None:  # cancelled
                return
            job = moved
            log.info("job %d: completed -> delivering", job.id)
        try:
            message_id, kind = await self._poster.post(job, self._notifier_())
        except (DownloadError, PostFailedError) as exc:
            if exc.retryable and attempt < self._settings.delivery_retries:
                delay = min(
                    _DELIVERY_BACKOFF_MAX_S,
                    self._settings.delivery_retry_base_s * _DELIVERY_BACKOFF_FACTOR**attempt,
                )
                log.warning("job %d: delivery failed (%s); retrying in %g s", job.id, exc, delay)
                self._scheduler.call_later(
                    ("deliver", job.id),
                    delay,
                    lambda: self._guarded(job_id, self._deliver(job_id, attempt + 1)),
                )
                return
            log.warning("job %d: delivery failed for good: %s", job.id, exc)
            failure = messages.DOWNLOAD_FAILED if isinstance(exc, DownloadError) else None
            await self._fail(job, failure or messages.POST_FAILED)
            return
        except UndeliverableError as exc:
            await self._fail_undeliverable(job, str(exc))
            return
        except Exception:
            log.exception("job %d: delivery crashed", job.id)
            await self._fail(job, messages.POST_FAILED)
            return
        posted = JobChange(
            message_id=message_id,
            delivered_as=kind,
            finished_at=self._now(),
            notified=True,
            drop_token=True,
        )
        delivered = await self._store.move(
            job.id, JobState.DELIVERED, posted
        ) or await self._store.update(job.id, posted)
        log.info("job %d: delivering -> delivered as %s (message %s)", job.id, kind, message_id)
        took = messages.generation_time(job)
        if delivered.delivered_via is DeliveryRoute.DM:
            text = messages.done_by_dm(took)
        else:
            link = messages.jump_url(job.origin.guild_id, job.origin.channel_id, message_id)
            text = messages.done(link, took)
        # `job` still holds the interaction token, which the store has just dropped.
        await self._reporter.show(job, text, final=True)
        self._spawn_side(job.id, self._sync_mod_log(job.id))

    # Failure --------------------------------------------------------------------------------

    async def _fail(self, job: Job, why: Text, cost_cents: int | None = None) -> None:
        # Stored as the requester reads it: it is shown to them, and on the moderation log.
        reason = why.render(job.origin.locale)
        failed = JobChange(
            error=reason, cost_cents=cost_cents, reserved_cents=0, finished_at=self._now()
        )
        job = await self._store.move(job.id, JobState.FAILED, failed) or await self._store.update(
            job.id, failed
        )
        log.info("job %d: -> failed: %s", job.id, reason)
        self._dispatch_wake.set()  # it may have held an in-flight slot
        await self._notify_failure(job)

    async def _fail_undeliverable(self, job: Job, why: str) -> None:
        """Fail a made clip that could be posted nowhere; the user is told by DM if possible."""
        log.warning("job %d: undeliverable: %s", job.id, why)
        job = await self._store.update(job.id, JobChange(failure_kind=FailureKind.UNDELIVERABLE))
        expires_at = self._poster.link_expires_at(job)
        await self._fail(job, messages.undeliverable(job.output_url or "", expires_at))

    async def _notify_failure(self, job: Job) -> None:
        if job.state == JobState.CANCELLED:  # a step failed after the job was cancelled
            return
        reason = job.error or messages.SOMETHING_WENT_WRONG.render(job.origin.locale)
        shown = await self._reporter.show(job, messages.failed(reason), final=True)
        if not shown or job.failure_kind is FailureKind.UNDELIVERABLE:
            await self._tell_elsewhere(job, reason)
        await self._store.update(job.id, JobChange(notified=True, drop_token=True))
        self._reporter.forget(job.id)
        self._spawn_side(job.id, self._sync_mod_log(job.id))

    # Moderation log -------------------------------------------------------------------------

    async def _sync_mod_log(self, job_id: int, attempt: int = 0) -> None:
        """Bring the job's moderation-log entry up to date: post it if the server keeps a log
        and it has none yet (the nonce makes a repeat the same message), else show its state.
        Passing Discord errors are retried a few times; the job itself never waits on this."""
        job = await self._store.get_job(job_id)
        if job is None or job.origin.guild_id is None:
            return
        notifier = self._notifier_()
        try:
            if job.mod_log_message_id is not None:
                await notifier.update_mod_log(job)
                return
            config = await self._store.guild_config(job.origin.guild_id)
            if config.mod_log_channel_id is None:
                return
            message_id = await notifier.post_mod_log(job, config.mod_log_channel_id)
            await self._store.update(
                job.id,
                JobChange(
                    mod_log_channel_id=config.mod_log_channel_id, mod_log_message_id=message_id
                ),
            )
            current = await self._store.get_job(job.id)
            if current is not None and current.state not in CANCELLABLE:  # ended meanwhile
                await notifier.update_mod_log(current)
        except PostFailedError as exc:
            if exc.retryable and attempt < _MOD_LOG_RETRIES:
                self._scheduler.call_later(
                    ("mod-log", job_id),
                    _MOD_LOG_RETRY_S * (attempt + 1),
                    lambda: self._sync_mod_log(job_id, attempt + 1),
                )
                return
            log.warning(
                "job %d: could not post or update its moderation-log entry: %s", job_id, exc
            )

    async def _tell_elsewhere(self, job: Job, reason: Text | str) -> None:
        """Tell the user of a failure in the channel, or by DM where the channel cannot be used."""
        routes = [DeliveryRoute.CHANNEL, DeliveryRoute.DM]
        if job.failure_kind is FailureKind.UNDELIVERABLE:
            routes = [DeliveryRoute.DM]  # the channel is gone or refuses the bot
        for route in routes:
            if route is DeliveryRoute.DM:
                text = messages.failed_by_dm(job.id, reason)
            else:
                text = messages.failed_in_channel(job.origin.user_id, job.id, reason)
            try:
                await self._notifier_().post_failure(job, text.render(job.origin.locale), route)
                return
            except PostFailedError as exc:
                log.warning("job %d: could not tell the user by %s: %s", job.id, route, exc)

    # Plumbing -------------------------------------------------------------------------------

    @property
    def _reporter(self) -> ProgressReporter:
        if self._progress is None:
            raise RuntimeError("JobService.start() has not been called")
        return self._progress

    def _notifier_(self) -> JobNotifier:
        if self._notifier is None:
            raise RuntimeError("JobService.start() has not been called")
        return self._notifier

    def _spawn_side(self, job_id: int, effect: Coroutine[Any, Any, None]) -> None:
        """Run a side effect of a job (its moderation-log entry) as a tracked task. A crash is
        logged and nothing more: recovering would re-run the job's own steps alongside."""

        async def logged() -> None:
            try:
                await effect
            except Exception:
                log.exception("job %d: moderation-log update crashed", job_id)

        task = asyncio.create_task(logged(), name=f"job-{job_id}-side")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _spawn_step(self, job_id: int, step: Coroutine[Any, Any, None]) -> None:
        """Run one step of a job as a tracked task (see `_guarded`)."""
        task = asyncio.create_task(self._guarded(job_id, step), name=f"job-{job_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _guarded(self, job_id: int, step: Coroutine[Any, Any, None]) -> None:
        """Run a job step; if it crashes (say, a database error), pick the job up again later
        from its stored state rather than leave it stranded until a restart."""
        try:
            await step
        except Exception:
            log.exception("job %d: step crashed; resuming in %g s", job_id, _RECOVER_AFTER_S)
            self._scheduler.call_later(
                ("recover", job_id), _RECOVER_AFTER_S, lambda: self._recover(job_id)
            )

    async def _recover(self, job_id: int) -> None:
        job = await self._store.get_job(job_id)
        if job is not None and not job.notified:
            await self._resume(job)
            self._dispatch_wake.set()  # it may be back in the queue


def _generate_request(job: Job) -> GenerateRequest:
    s = job.settings
    return GenerateRequest.model_validate(
        {
            "prompt": job.prompt,
            "image": job.image_url,
            "last_image": job.last_image_url,
            "duration": s.duration_s,
            "resolution": s.resolution,
            "aspect_ratio": s.aspect_ratio,
            "camera_fixed": s.camera_fixed,
            "seed": s.seed,
            "generate_audio": s.generate_audio,
        }
    )
