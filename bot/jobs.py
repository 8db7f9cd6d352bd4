"""The job service: accepts /animate requests and drives each job to a posted clip.

Discord-free. The cog hands in plain values; results and progress go out through a
`JobNotifier`. Every state change is written to the store before the next step, so a restart
picks each job up where it stopped (see `start`).
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import yarl

from bot import messages
from bot.api_models import (
    ASPECT_RATIOS,
    DURATION_MAX_S,
    DURATION_MIN_S,
    RESOLUTIONS,
    SEED_MAX,
    SEED_MIN,
    GenerateRequest,
)
from bot.errors import (
    ApiAuthError,
    ApiError,
    ApiProtocolError,
    ApiRejectedError,
    ApiUnavailableError,
    ClipTooLargeError,
    DownloadError,
    UserError,
)
from bot.media import SNIFF_BYTES, ClipDownloader, DownloadedClip, fetch_head
from bot.models import (
    GenerationSettings,
    ImageInput,
    Job,
    JobState,
    NewJob,
    Origin,
    UsageReport,
)
from bot.notifier import JobNotifier, PostFailedError, ProgressGoneError, UploadTooLargeError
from bot.scheduler import Scheduler
from bot.settings import Settings
from bot.store import Store
from bot.validation import ImageRules, check_image, check_image_bytes, clean_prompt
from bot.vibedream import VibedreamClient

log = logging.getLogger(__name__)

_TOKEN_SAFETY = timedelta(seconds=30)
_DOWNLOAD_ATTEMPTS = 3
_POST_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class AnimateRequest:
    """/animate as the user filled it in; None means "use the default"."""

    prompt: str
    image: ImageInput
    last_image: ImageInput | None = None
    duration_s: int | None = None
    resolution: str | None = None
    aspect_ratio: str | None = None
    camera_fixed: bool | None = None
    seed: int | None = None
    generate_audio: bool | None = None


@dataclass(frozen=True, slots=True)
class Accepted:
    """A job that was stored and queued."""

    job: Job
    position: int


@dataclass(slots=True)
class _Progress:
    """What was last shown on one job's progress message (kept only while the job is open)."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    text: str = ""
    final: bool = False


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
        http: aiohttp.ClientSession,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._settings = settings
        self._store = store
        self._api = api
        self._downloader = downloader
        self._http = http
        self._now = now
        self._rules = ImageRules.from_settings(settings)
        self._scheduler = Scheduler()
        self._notifier: JobNotifier | None = None
        self._progress: dict[int, _Progress] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._dispatch_wake = asyncio.Event()
        self._dispatch_paused_until = 0.0
        self._dispatcher: asyncio.Task[None] | None = None
        self._closing = False

    # Lifecycle ------------------------------------------------------------------------------

    async def start(self, notifier: JobNotifier) -> None:
        """Resume every job left open by a previous run, then start dispatching."""
        self._notifier = notifier
        self._scheduler.start()
        for job in await self._store.open_jobs():
            self._resume(job)
        self._dispatcher = asyncio.create_task(self._dispatch_loop(), name="dispatcher")
        self._dispatch_wake.set()

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

    def _resume(self, job: Job) -> None:
        log.info("job %d: resuming in state %s", job.id, job.state)
        match job.state:
            case JobState.QUEUED:
                self._schedule_progress(job.id, 0)
            case JobState.SUBMITTING:
                # The submit may or may not have reached the API: never send it twice.
                self._spawn(self._fail(job, messages.SUBMIT_OUTCOME_UNKNOWN), f"job-{job.id}")
            case JobState.SUBMITTED:
                self._schedule_poll(job.id, 0)
                self._schedule_progress(job.id, 0)
            case JobState.COMPLETED | JobState.DELIVERING:
                self._spawn(self._deliver(job), f"job-{job.id}")
            case JobState.FAILED:
                self._spawn(self._notify_failure(job), f"job-{job.id}")
            case JobState.DELIVERED:
                pass

    # Intake ---------------------------------------------------------------------------------

    def check(self, request: AnimateRequest) -> GenerationSettings:
        """Validate what can be checked without any I/O; returns the settings with defaults."""
        clean_prompt(request.prompt, self._settings.prompt_max_chars)
        check_image(request.image, self._rules, "image")
        if request.last_image is not None:
            check_image(request.last_image, self._rules, "last_image")
        return self._resolve_settings(request)

    async def accept(self, request: AnimateRequest, origin: Origin) -> Accepted:
        """Verify the images' bytes, store the job and queue it. Raises UserError."""
        if self._closing:
            raise UserError(messages.SHUTTING_DOWN)
        settings = self.check(request)
        prompt = clean_prompt(request.prompt, self._settings.prompt_max_chars)
        open_jobs = await self._store.open_jobs_of(origin.user_id)
        if open_jobs >= self._settings.max_jobs_queued_per_user:
            raise UserError(messages.too_many_open_jobs(self._settings.max_jobs_queued_per_user))
        images = [("image", request.image), ("last_image", request.last_image)]
        await asyncio.gather(*(self._check_bytes(img, label) for label, img in images if img))
        job = await self._store.create_job(
            NewJob(
                origin=origin,
                prompt=prompt,
                image_url=request.image.url,
                last_image_url=request.last_image.url if request.last_image else None,
                settings=settings,
                nonce=secrets.token_hex(8),
            ),
            self._now(),
        )
        log.info(
            "job %d: queued for user %d in channel %d", job.id, origin.user_id, origin.channel_id
        )
        position = await self._store.queue_position(job.id)
        await self._show(job, messages.queued(position))
        self._schedule_progress(job.id, self._settings.progress_edit_interval_s)
        self._dispatch_wake.set()
        return Accepted(job=job, position=position)

    async def usage(self, user_id: int) -> UsageReport:
        """The user's own usage figures and recent jobs."""
        return await self._store.usage_report(user_id, self._now())

    def _resolve_settings(self, r: AnimateRequest) -> GenerationSettings:
        d = self._settings
        duration = d.default_duration_s if r.duration_s is None else r.duration_s
        resolution = r.resolution or d.default_resolution
        aspect = r.aspect_ratio or d.default_aspect_ratio
        seed = random.randint(SEED_MIN, SEED_MAX) if r.seed is None else r.seed
        if not DURATION_MIN_S <= duration <= DURATION_MAX_S:
            raise UserError(
                messages.value_out_of_range(
                    "duration", duration, f"{DURATION_MIN_S}–{DURATION_MAX_S} seconds"
                )
            )
        if resolution not in RESOLUTIONS:
            raise UserError(
                messages.value_out_of_range("resolution", resolution, ", ".join(RESOLUTIONS))
            )
        if aspect not in ASPECT_RATIOS:
            raise UserError(
                messages.value_out_of_range("aspect_ratio", aspect, ", ".join(ASPECT_RATIOS))
            )
        if not SEED_MIN <= seed <= SEED_MAX:
            raise UserError(messages.value_out_of_range("seed", seed, f"{SEED_MIN}–{SEED_MAX}"))
        return GenerationSettings(
            duration_s=duration,
            resolution=resolution,  # type: ignore[arg-type]  # checked against RESOLUTIONS
            aspect_ratio=aspect,  # type: ignore[arg-type]  # checked against ASPECT_RATIOS
            camera_fixed=d.default_camera_fixed if r.camera_fixed is None else r.camera_fixed,
            seed=seed,
            generate_audio=d.default_generate_audio
            if r.generate_audio is None
            else r.generate_audio,
        )

    async def _check_bytes(self, image: ImageInput, label: str) -> None:
        try:
            head = await fetch_head(self._http, image.url, SNIFF_BYTES)
        except DownloadError as exc:
            log.info("could not read %s attachment: %s", label, exc)
            raise UserError(messages.image_unreadable(label)) from exc
        check_image_bytes(head, label)

    # Dispatch and submit --------------------------------------------------------------------

    async def _dispatch_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._dispatch_wake.wait()
            self._dispatch_wake.clear()
            pause = self._dispatch_paused_until - loop.time()
            if pause > 0:
                self._scheduler.call_later("dispatch", pause, self._wake_dispatch)
                continue
            s = self._settings
            while job := await self._store.claim_next_queued(
                s.max_jobs_in_flight, s.max_jobs_in_flight_per_user
            ):
                log.info("job %d: queued -> submitting", job.id)
                self._spawn(self._submit(job), f"job-{job.id}")

    async def _wake_dispatch(self) -> None:
        self._dispatch_wake.set()

    async def _submit(self, job: Job) -> None:
        await self._show(job, messages.SUBMITTING)
        if _link_expired(job.image_url, self._now()):
            await self._fail(job, messages.IMAGE_LINK_EXPIRED, cost_cents=0)
            return
        request = GenerateRequest(
            prompt=job.prompt,
            image=job.image_url,  # type: ignore[arg-type]  # pydantic parses the URL
            last_image=job.last_image_url,  # type: ignore[arg-type]
            duration=job.settings.duration_s,
            resolution=job.settings.resolution,
            aspect_ratio=job.settings.aspect_ratio,
            camera_fixed=job.settings.camera_fixed,
            seed=job.settings.seed,
            generate_audio=job.settings.generate_audio,
        )
        try:
            response = await self._api.submit(request)
        except ApiUnavailableError as exc:
            await self._requeue(job, exc)
            return
        except ApiAuthError:
            log.error("job %d: the video API rejected our key; check VIBEDREAM_API_KEY", job.id)
            await self._fail(job, messages.SERVICE_UNAVAILABLE, cost_cents=0)
            return
        except ApiRejectedError as exc:
            await self._fail(job, messages.api_rejected(exc.message), cost_cents=0)
            return
        except ApiError as exc:  # outcome unknown (timeout after sending, unreadable answer)
            log.warning("job %d: submit outcome unknown (%s); not re-sending", job.id, exc)
            await self._fail(job, messages.SUBMIT_OUTCOME_UNKNOWN)
            return
        job = await self._store.mark_submitted(
            job.id, response.id, response.cost_cents, response.estimate_s(), self._now()
        )
        log.info(
            "job %d: submitting -> submitted as prediction %s (estimate %s, %d cents)",
            job.id,
            response.id,
            response.estimated_time,
            response.cost_cents,
        )
        self._schedule_poll(
            job.id,
            next_poll_delay(
                0,
                response.estimate_s(),
                self._settings.poll_interval_s,
                self._settings.poll_max_interval_s,
            ),
        )
        self._schedule_progress(job.id, 0)

    async def _requeue(self, job: Job, exc: ApiError) -> None:
        """Put a job whose submit certainly did not go through back at its place in the queue."""
        log.warning("job %d: submitting -> queued; video API unavailable (%s)", job.id, exc)
        await self._store.requeue(job.id)
        loop = asyncio.get_running_loop()
        self._dispatch_paused_until = loop.time() + self._settings.api_backoff_max_s
        await self._show(job, messages.SERVICE_BUSY)
        self._dispatch_wake.set()

    # Polling --------------------------------------------------------------------------------

    def _schedule_poll(self, job_id: int, delay_s: float) -> None:
        self._scheduler.call_later(("poll", job_id), delay_s, lambda: self._poll(job_id))

    async def _poll(self, job_id: int) -> None:
        job = await self._store.get_job(job_id)
        if job is None or job.state != JobState.SUBMITTED or job.prediction_id is None:
            return
        elapsed = (self._now() - (job.submitted_at or job.created_at)).total_seconds()
        try:
            prediction = await self._api.get_prediction(job.prediction_id)
        except ApiRejectedError as exc:
            await self._fail(job, messages.api_failed(exc.message))
            return
        except (ApiUnavailableError, ApiAuthError, ApiProtocolError) as exc:
            log.warning("job %d: status check failed (%s); will retry", job.id, exc)
            prediction = None
        if prediction is not None and prediction.status == "completed":
            assert prediction.outputs  # the client guarantees outputs on completion
            job = await self._store.mark_completed(
                job.id, prediction.outputs[0], prediction.cost_cents, self._now()
            )
            log.info("job %d: submitted -> completed", job.id)
            self._dispatch_wake.set()
            self._spawn(self._deliver(job), f"deliver-{job.id}")
        elif prediction is not None and prediction.status == "failed":
            self._dispatch_wake.set()
            await self._fail(job, messages.api_failed(prediction.error), prediction.cost_cents)
        elif elapsed > self._settings.job_timeout_s:
            self._dispatch_wake.set()
            await self._fail(job, messages.TIMED_OUT)
        else:
            estimate = _estimate(job)
            delay = next_poll_delay(
                elapsed,
                estimate,
                self._settings.poll_interval_s,
                self._settings.poll_max_interval_s,
            )
            self._schedule_poll(job.id, delay)

    # Delivery -------------------------------------------------------------------------------

    async def _deliver(self, job: Job) -> None:
        if job.state == JobState.COMPLETED:
            job = await self._store.mark_delivering(job.id)
            log.info("job %d: completed -> delivering", job.id)
        assert job.output_url is not None
        try:
            message_id, kind = await self._post_result(job)
        except DownloadError as exc:
            log.warning("job %d: download failed: %s", job.id, exc)
            await self._fail(job, messages.DOWNLOAD_FAILED)
            return
        except PostFailedError as exc:
            log.warning("job %d: post failed: %s", job.id, exc)
            await self._fail(job, messages.POST_FAILED)
            return
        job = await self._store.mark_delivered(job.id, message_id, kind, self._now())
        log.info("job %d: delivering -> delivered as %s (message %s)", job.id, kind, message_id)
        link = messages.jump_url(job.origin.guild_id, job.origin.channel_id, message_id)
        await self._show(job, messages.done(link, messages.generation_time(job)), final=True)

    async def _post_result(self, job: Job) -> tuple[int, str]:
        """Post the clip as a file, or as a link when it is too big for the channel."""
        assert job.output_url is not None
        notifier = self._notifier_()
        expires_at = (job.completed_at or self._now()) + timedelta(
            hours=self._settings.vibedream_output_ttl_hours
        )
        try:
            clip = await self._download(job.output_url, job.origin.upload_limit_bytes)
        except ClipTooLargeError:
            return await self._with_retries(lambda: notifier.post_link(job, expires_at)), "link"
        try:
            return await self._with_retries(lambda: notifier.post_clip(job, clip)), "file"
        except UploadTooLargeError:
            return await self._with_retries(lambda: notifier.post_link(job, expires_at)), "link"
        finally:
            clip.discard()

    async def _download(self, url: str, max_bytes: int) -> DownloadedClip:
        for attempt in range(_DOWNLOAD_ATTEMPTS):
            try:
                return await self._downloader.download(url, max_bytes=max_bytes)
            except DownloadError as exc:
                if not exc.retryable or attempt + 1 == _DOWNLOAD_ATTEMPTS:
                    raise
                await asyncio.sleep(2**attempt)
        raise AssertionError("unreachable")

    @staticmethod
    async def _with_retries(post: Callable[[], Coroutine[Any, Any, int]]) -> int:
        for attempt in range(_POST_ATTEMPTS):
            try:
                return await post()
            except PostFailedError as exc:
                if not exc.retryable or attempt + 1 == _POST_ATTEMPTS:
                    raise
                await asyncio.sleep(2 ** (attempt + 1))
        raise AssertionError("unreachable")

    # Failure --------------------------------------------------------------------------------

    async def _fail(self, job: Job, reason: str, cost_cents: int | None = None) -> None:
        previous = job.state
        job = await self._store.mark_failed(job.id, reason, cost_cents, self._now())
        log.info("job %d: %s -> failed: %s", job.id, previous, reason)
        await self._notify_failure(job)

    async def _notify_failure(self, job: Job) -> None:
        reason = job.error or messages.SOMETHING_WENT_WRONG
        if not await self._show(job, messages.failed(reason), final=True):
            try:
                text = messages.failed_in_channel(job.origin.user_id, job.id, reason)
                await self._notifier_().post_failure(job, text)
            except PostFailedError as exc:
                log.warning("job %d: could not tell the user about the failure: %s", job.id, exc)
        await self._store.mark_notified(job.id)
        self._forget(job.id)

    # Progress -------------------------------------------------------------------------------

    def _schedule_progress(self, job_id: int, delay_s: float) -> None:
        self._scheduler.call_later(("progress", job_id), delay_s, lambda: self._tick(job_id))

    async def _tick(self, job_id: int) -> None:
        job = await self._store.get_job(job_id)
        if job is None or not self._token_alive(job):
            self._forget(job_id)
            return
        if job.state == JobState.QUEUED:
            text = messages.queued(await self._store.queue_position(job.id))
        elif job.state == JobState.SUBMITTED:
            elapsed = (self._now() - (job.submitted_at or job.created_at)).total_seconds()
            text = messages.generating(elapsed, _estimate(job), job.settings)
        else:
            return  # submitting and delivering show their own messages
        if await self._show(job, text):
            self._schedule_progress(job.id, max(self._settings.progress_edit_interval_s, 1.0))

    async def _show(self, job: Job, text: str, *, final: bool = False) -> bool:
        """Edit the job's progress message; False when it can no longer be edited."""
        if not self._token_alive(job):
            return False
        progress = self._progress.setdefault(job.id, _Progress())
        async with progress.lock:
            if progress.final:
                return True
            if text != progress.text:
                try:
                    await self._notifier_().edit_progress(job, text)
                except ProgressGoneError:
                    log.info("job %d: progress message is gone; stop editing it", job.id)
                    await self._store.forget_token(job.id)
                    progress.final = True
                    return False
                progress.text = text
            progress.final = final
        if final:
            self._forget(job.id)
        return True

    def _token_alive(self, job: Job) -> bool:
        origin = job.origin
        return bool(origin.interaction_token) and (
            self._now() < origin.interaction_expires_at - _TOKEN_SAFETY
        )

    def _forget(self, job_id: int) -> None:
        self._scheduler.cancel(("progress", job_id))
        self._progress.pop(job_id, None)

    # Plumbing -------------------------------------------------------------------------------

    def _notifier_(self) -> JobNotifier:
        if self._notifier is None:
            raise RuntimeError("JobService.start() has not been called")
        return self._notifier

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("background task %s failed", task.get_name(), exc_info=exc)


def _estimate(job: Job) -> tuple[float, float] | None:
    if job.estimate_low_s is None or job.estimate_high_s is None:
        return None
    return (job.estimate_low_s, job.estimate_high_s)


def _link_expired(url: str, now: datetime) -> bool:
    """True when a signed Discord CDN link (`?ex=<hex unix time>`) has expired."""
    expiry = yarl.URL(url).query.get("ex")
    try:
        return expiry is not None and int(expiry, 16) <= now.timestamp()
    except ValueError:
        return False
