"""A job at the video API: claimed while an in-flight slot is free, submitted at most once,
polled until the clip is made, then handed to delivery."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from bot.errors import (
    ApiAuthError,
    ApiError,
    ApiProtocolError,
    ApiRejectedError,
    ApiUnavailableError,
    ModelUnavailableError,
)
from bot.jobs import messages
from bot.jobs.delivery import Delivery
from bot.jobs.model import FailureKind, Job, JobChange, JobState, LeaseLostError
from bot.jobs.notices import Notices
from bot.jobs.runtime import JobRuntime
from bot.media.files import LINK_MARGIN, link_expires_within
from bot.video.availability import ModelAvailability
from bot.video.catalogue import MODELS
from bot.video.vibedream import VibedreamClient
from bot.video.wire import Prediction, SubmitResponse

log = logging.getLogger(__name__)


class _ShuttingDownError(Exception):
    """Raised before a submit goes on the wire while the engine is stopping."""


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


class Generation:
    """Dispatches queued jobs to the API, submits them and polls them to completion."""

    def __init__(
        self,
        runtime: JobRuntime,
        api: VibedreamClient,
        delivery: Delivery,
        notices: Notices,
        availability: ModelAvailability,
        *,
        recover: Callable[[int], None],
    ) -> None:
        self._rt = runtime
        self._api = api
        self._delivery = delivery
        self._notices = notices
        self._availability = availability
        self._recover = recover
        self._paused_until = 0.0
        self._dispatcher: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start dispatching queued jobs."""
        self._dispatcher = asyncio.create_task(self._dispatch_loop(), name="dispatcher")
        self._rt.dispatch_wake.set()

    def stop(self) -> None:
        """Stop dispatching (steps under way are the runtime's to finish or cancel)."""
        if self._dispatcher is not None:
            self._dispatcher.cancel()

    @property
    def running(self) -> bool:
        """True while the dispatcher runs."""
        return self._dispatcher is not None and not self._dispatcher.done()

    # Dispatch and submit --------------------------------------------------------------------

    async def _dispatch_loop(self) -> None:
        wake = self._rt.dispatch_wake
        while True:
            # A hint wakes it at once; the timeout is the backstop for a hint that was lost
            # (another process's freed slot, say): one claim attempt per JOB_POLL_S when idle.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._rt.settings.job_poll_s):
                    await wake.wait()
            wake.clear()
            try:
                await self._dispatch()
            except Exception:
                log.exception("dispatching failed; trying again shortly")
                self._rt.scheduler.call_later("dispatch", 5.0, self._wake)

    async def _dispatch(self) -> None:
        """Claim queued jobs while both in-flight caps have room, oldest first."""
        pause = self._paused_until - asyncio.get_running_loop().time()
        if pause > 0:
            self._rt.scheduler.call_later("dispatch", pause, self._wake)
            return
        s = self._rt.settings
        while job := await self._rt.store.claim_next_queued(
            s.max_jobs_in_flight, s.max_jobs_in_flight_per_user, self._rt.lease
        ):
            self._rt.hold(job)
            log.info("job %d: queued -> claimed (epoch %d)", job.id, job.epoch)
            self._rt.spawn(job.id, self._submit(job), on_crash=self._recovery_of(job.id))

    def _recovery_of(self, job_id: int) -> Callable[[], None]:
        return lambda: self._recover(job_id)

    async def _wake(self) -> None:
        self._rt.dispatch_wake.set()

    async def _submit(self, job: Job) -> None:
        links = (job.image_url, job.last_image_url or "")
        if any(link_expires_within(url, self._rt.now(), LINK_MARGIN) for url in links):
            await self._notices.fail(job, messages.IMAGE_LINK_EXPIRED, cost_cents=0)
            return
        model = MODELS.get(job.model)
        if model is None or self._availability.is_unavailable(job.model):
            # Known to be gone: refused without asking the API again (see `_model_gone`).
            why = "is no longer in the catalogue" if model is None else "is marked unavailable"
            log.info("job %d: model %s %s; not submitting", job.id, job.model, why)
            await self._notices.fail(job, messages.MODEL_UNAVAILABLE, cost_cents=0)
            return
        self._rt.progress.follow_if_it_lasts(job.id)  # "Sending", if the submit is slow
        rt = self._rt
        try:
            response = await self._api.submit(
                model.id,
                model.request_body(job.prompt, job.image_url, job.last_image_url, job.settings),
                # Persisted around every attempt, so a restart knows whether one was on the wire.
                on_send=lambda: self._mark_sending(job.id),
                on_refused=lambda: self._mark_refused(job.id),
            )
        except _ShuttingDownError:
            if await rt.move(job.id, JobState.QUEUED) is None:
                # Cancelled while an earlier attempt was out, which was refused: nothing
                # reached the API, so its reservation goes.
                await rt.update(job.id, JobChange(reserved_cents=0))
            return
        except _CancelledBeforeSendError:
            log.info("job %d: cancelled before its submit was sent", job.id)
            await rt.update(job.id, JobChange(reserved_cents=0))  # an earlier try was refused
            return
        except LeaseLostError:
            raise  # another process has the job: nothing was sent (see `_mark_sending`)
        except ApiUnavailableError as exc:
            await self._requeue(job, exc)
            return
        except ApiAuthError:
            log.error("job %d: the video API refused our key; check VIBEDREAM_API_KEY", job.id)
            await self._notices.fail(job, messages.FAILED_UNAVAILABLE, cost_cents=0)
            return
        except ModelUnavailableError as exc:
            await self._model_gone(job, exc)
            return
        except ApiRejectedError as exc:
            await self._notices.fail(
                job,
                messages.api_rejected(exc.message),
                cost_cents=0,
                refused=messages.refused_input(exc.message),
            )
            return
        except ApiError as exc:  # sent, but the answer never came or made no sense
            log.info("job %d: no usable answer to the submit (%s); not re-sending", job.id, exc)
            await self.fail_outcome_unknown(job)
            return
        except Exception:
            # A state hook failed: it runs before sending or after a certain refusal, so this
            # attempt was not processed and nothing was charged.
            log.exception("job %d: submit aborted", job.id)
            await self._notices.fail(job, messages.SUBMIT_ABORTED, cost_cents=0)
            return
        await self._submitted(job, response)

    async def _submitted(self, job: Job, response: SubmitResponse) -> None:
        """Record the API's answer to the job's submit, then poll it."""
        rt = self._rt
        estimate = response.estimate_s()
        change = JobChange(
            prediction_id=response.id,
            cost_cents=response.cost_cents,
            reserved_cents=0,  # settled: the API said what it costs
            estimate_s=estimate,
            submitted_at=self._rt.now(),
        )
        try:
            submitted = await rt.move(job.id, JobState.SUBMITTED, change)
        except LeaseLostError:
            # This process stalled with the submit on the wire, and another took the job over
            # (failing it as "outcome unknown"): the prediction exists and may be charged.
            log.warning(
                "job %d: the API made prediction %s (%d cents) after this process lost the "
                "job's lease; an admin should reconcile its charge",
                job.id,
                response.id,
                response.cost_cents,
            )
            raise
        if submitted is None:
            log.info("job %d: submitted as %s after it was cancelled", job.id, response.id)
            await rt.update(job.id, change)  # what it costs still counts
            return
        log.info(
            "job %d: submitting -> submitted as prediction %s (estimate %s, %d cents)",
            job.id,
            response.id,
            response.estimated_time,
            response.cost_cents,
        )
        s = self._rt.settings
        self.schedule_poll(
            submitted, next_poll_delay(0, estimate, s.poll_interval_s, s.poll_max_interval_s)
        )
        self._rt.progress.follow(job.id, 0)

    async def _model_gone(self, job: Job, exc: ModelUnavailableError) -> None:
        """The API no longer serves the job's model: the job fails plainly at no cost, and the
        model is refused without an API call for a while (servers on other models go on)."""
        if self._availability.mark_unavailable(job.model):
            retry_s = self._rt.settings.vibedream_model_retry_s
            log.error(
                "video model %s is unavailable at the API (HTTP %d: %s); refusing it for %g s "
                "(job %d failed, not charged); choose another with VIBEDREAM_MODEL or "
                "/animate-admin model",
                job.model,
                exc.status,
                exc.message[:200],
                retry_s,
                job.id,
            )
        await self._notices.fail(job, messages.MODEL_UNAVAILABLE, cost_cents=0)

    async def fail_outcome_unknown(self, job: Job) -> None:
        """Fail a job whose submit may have reached the API, tagged for an admin to check."""
        log.warning(
            "job %d: submit outcome unknown, tagged %s: an admin should check the API's billing",
            job.id,
            FailureKind.SUBMIT_UNKNOWN,
        )
        current = await self._rt.store.get_job(job.id) or job
        self._rt.check_held(current)
        # It may have been charged: the reservation stands as its cost.
        await self._notices.fail(
            current,
            messages.SUBMIT_OUTCOME_UNKNOWN,
            cost_cents=current.reserved_cents,
            failure_kind=FailureKind.SUBMIT_UNKNOWN,
        )

    async def _mark_sending(self, job_id: int) -> None:
        if self._rt.closing:  # no new submit once stopping: it could be cut off mid-flight
            raise _ShuttingDownError
        # Fenced: a process that lost the job's lease never sends its submit.
        if await self._rt.move(job_id, JobState.SUBMITTING) is None:
            raise _CancelledBeforeSendError

    async def _mark_refused(self, job_id: int) -> None:
        # Refused if the job was cancelled meanwhile: then it stays cancelled.
        await self._rt.move(job_id, JobState.CLAIMED)

    async def _requeue(self, job: Job, exc: ApiError) -> None:
        """Put a job the API certainly did not take back at its place, and pause dispatch."""
        log.warning("job %d: -> queued; the video API is unavailable (%s)", job.id, exc)
        rt = self._rt
        if await rt.move(job.id, JobState.QUEUED) is None:
            # Cancelled while that submit was out: nothing reached the API, nothing is owed.
            await rt.update(job.id, JobChange(reserved_cents=0))
            return
        loop = asyncio.get_running_loop()
        self._paused_until = loop.time() + self._rt.settings.api_backoff_max_s
        await self._rt.progress.show(job, messages.SERVICE_BUSY)
        self._rt.wake_dispatch()

    # Polling --------------------------------------------------------------------------------

    def schedule_poll(self, job: Job, delay_s: float) -> None:
        """Check the job's prediction after `delay_s`."""
        self._rt.scheduler.call_later(("poll", job.id), delay_s, lambda: self._poll(job))

    def cancel_poll(self, job_id: int) -> None:
        """Drop the job's next status check (it was cancelled)."""
        self._rt.scheduler.cancel(("poll", job_id))

    async def _poll(self, job: Job) -> None:
        try:
            await self._poll_once(job)
        except LeaseLostError:
            self._rt.drop(job.id)
        except Exception:
            log.exception("job %d: status check crashed; will retry", job.id)
            self.schedule_poll(job, self._rt.settings.poll_max_interval_s)

    async def _poll_once(self, job: Job) -> None:
        # Of what a poll uses, only the state can change once a job is submitted (a cancel,
        # say), so that is all it reads again: about 17 polls a job, each sparing a row read.
        store = self._rt.store
        if job.prediction_id is None:
            return
        if await store.job_state(job.id) != JobState.SUBMITTED:
            # Moved on without this poll: cancelled (still this process's job), or taken over
            # and finished by another process while this one was paused; then it learns so
            # here (LeaseLostError) and drops the job, rather than keep holding it unawares.
            if (current := await store.get_job(job.id)) is not None:
                self._rt.check_held(current)
            return
        elapsed = (self._rt.now() - (job.submitted_at or job.created_at)).total_seconds()
        prediction: Prediction | None = None
        try:
            # No retries inside the call: the next poll is the retry, and it keeps the
            # scheduler's slot free meanwhile.
            prediction = await self._api.get_prediction(job.prediction_id, retries=0)
        except ApiAuthError:
            log.error("job %d: the video API refused our key; check VIBEDREAM_API_KEY", job.id)
            await self._notices.fail(job, messages.FAILED_UNAVAILABLE)
            return
        except ApiRejectedError as exc:
            await self._notices.fail(
                job, messages.api_failed(exc.message), refused=messages.refused_input(exc.message)
            )
            return
        except (ApiUnavailableError, ApiProtocolError) as exc:
            log.warning("job %d: status check failed (%s); will retry", job.id, exc)
        if prediction is not None and prediction.status == "completed":
            await self._complete(job, prediction)
        elif prediction is not None and prediction.status == "failed":
            why = messages.api_failed(prediction.error)
            refused = messages.refused_input(prediction.error)
            await self._notices.fail(job, why, cost_cents=prediction.cost_cents, refused=refused)
        elif elapsed > self._timeout_s(answered=prediction is not None):
            await self._notices.fail(job, messages.TIMED_OUT)
        else:
            s = self._rt.settings
            delay = next_poll_delay(
                elapsed, job.estimate_s, s.poll_interval_s, s.poll_max_interval_s
            )
            self.schedule_poll(job, delay)

    def _timeout_s(self, *, answered: bool) -> float:
        """How long a submitted job may go unfinished before it is failed as timed out.

        Only the API's own "still processing" counts against `JOB_TIMEOUT_S`: while the API
        cannot be reached the prediction may well be done, so the job waits for it as long
        as the API keeps outputs (after that the clip is gone anyway).
        """
        s = self._rt.settings
        if answered:
            return s.job_timeout_s
        return max(s.job_timeout_s, s.vibedream_output_ttl_hours * 3600)

    async def _complete(self, job: Job, prediction: Prediction) -> None:
        assert prediction.outputs  # the client guarantees outputs on completion
        change = JobChange(
            output_url=prediction.outputs[0],
            completed_at=self._rt.now(),
            cost_cents=prediction.cost_cents,
        )
        moved = await self._rt.move(job.id, JobState.COMPLETED, change)
        self._rt.wake_dispatch()  # its in-flight slot is free
        if moved is None:
            log.info("job %d: completed after it was cancelled; not posted", job.id)
            await self._rt.update(job.id, change)  # what it cost still counts
            return
        log.info("job %d: submitted -> completed", job.id)
        self._delivery.start(job.id, made_at=prediction.completed_at)
