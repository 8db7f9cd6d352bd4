"""The requester's progress message: periodic, deduplicated, in-order edits while it works."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bot.i18n.text import Text
from bot.jobs import messages
from bot.jobs.expectations import (
    HISTORY_SAMPLE,
    Eta,
    Forecast,
    expected_generation,
    late_after_s,
    learned_eta,
    settle_shown,
)
from bot.jobs.model import CANCELLABLE, Job, JobChange, JobState
from bot.jobs.notifier import JobNotifier, ProgressGoneError
from bot.jobs.scheduler import Scheduler
from bot.storage import JobStore

log = logging.getLogger(__name__)

#: Stop using an interaction token this long before Discord's 15 minutes are up.
TOKEN_SAFETY = timedelta(seconds=30)
_MIN_TICK_S = 1.0
#: How long a new step (queued, being sent) waits before its message is shown. A job that is
#: sent at once goes straight from Discord's "thinking…" to Generating: two edits fewer.
STEP_SHOW_DELAY_S = 1.0
#: How long a finished job's final text is remembered, so a late edit cannot replace it.
_KEEP_FINAL_S = 120.0


@dataclass(slots=True)
class _Shown:
    """What one job's progress message shows now (kept only while the job is open)."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    text: str = ""
    final: bool = False
    #: What recent similar jobs took, looked up once per job (`learned` None: too few of them).
    looked_up: bool = False
    learned: Eta | None = None
    #: The ready moment (epoch seconds) shown while the job waits to be sent.
    ready_at: float | None = None
    #: Whether an earlier job with these settings shows the price (looked up once, if needed).
    price_known: bool | None = None


class ProgressReporter:
    """Keeps each open job's progress message current, at most one edit per interval."""

    def __init__(
        self,
        *,
        notifier: JobNotifier,
        store: JobStore,
        scheduler: Scheduler,
        now: Callable[[], datetime],
        interval_s: float,
        process_name: str | None = None,
    ) -> None:
        self._notifier = notifier
        #: This process: a job another process holds is that one's to show.
        self._me = process_name
        self._store = store
        self._scheduler = scheduler
        self._now = now
        self._interval_s = max(interval_s, _MIN_TICK_S)
        self._shown: dict[int, _Shown] = {}

    def follow(self, job_id: int, delay_s: float | None = None) -> None:
        """Refresh the job's message after `delay_s` (default: the edit interval), repeatedly."""
        delay = self._interval_s if delay_s is None else delay_s
        self._scheduler.call_later(("progress", job_id), delay, lambda: self._tick(job_id))

    def follow_if_it_lasts(self, job_id: int) -> None:
        """Follow the job, showing its step only if it lasts `STEP_SHOW_DELAY_S`: a step that
        ends sooner never flashes on the message."""
        self.follow(job_id, STEP_SHOW_DELAY_S)

    async def show(
        self, job: Job, message: Text, *, final: bool = False, only_in: JobState | None = None
    ) -> bool:
        """Put `message` on the job's message, in the requester's language; False when the
        message could not be updated.

        Edits for one job are serialised, identical texts are skipped, and nothing replaces a
        final text. With `only_in`, the edit is skipped unless the job is still in that state
        (so a refresh computed a moment ago cannot overwrite a newer step's message).
        """
        if not self.can_edit(job):
            return False
        text = message.render(job.origin.locale)
        shown = self._shown.setdefault(job.id, _Shown())
        async with shown.lock:
            if shown.final:
                return shown.text != ""  # "" marks a message that can no longer be edited
            if text != shown.text:
                # Checked only when there is something to change: it costs a database read.
                if only_in is not None and not await self._still_in(job.id, only_in):
                    return True
                try:
                    cancellable = not final and job.state in CANCELLABLE
                    if not await self._notifier.edit_progress(job, text, cancellable=cancellable):
                        return False
                except ProgressGoneError:
                    log.info("job %d: progress message can no longer be edited", job.id)
                    await self._store.update(job.id, JobChange(drop_token=True))
                    shown.text = ""
                    self._retire(job.id, shown)
                    return False
                shown.text = text
            if final:
                self._retire(job.id, shown)
        return True

    async def _still_in(self, job_id: int, state: JobState) -> bool:
        return await self._store.job_state(job_id) == state

    def can_edit(self, job: Job) -> bool:
        """True while the job's interaction token is known to work (a variation's group has
        one progress message: its first job's)."""
        origin = job.origin
        return (
            not job.follows_group
            and bool(origin.interaction_token)
            and (self._now() < origin.interaction_expires_at - TOKEN_SAFETY)
        )

    def forget(self, job_id: int) -> None:
        """Stop following a job."""
        self._scheduler.cancel(("progress", job_id))
        shown = self._shown.get(job_id)
        if shown is None or not shown.final:
            self._shown.pop(job_id, None)

    def _retire(self, job_id: int, shown: _Shown) -> None:
        """Freeze the message as it is; drop the memory of it a little later."""
        shown.final = True
        self._scheduler.cancel(("progress", job_id))
        self._scheduler.call_later(
            ("progress-drop", job_id), _KEEP_FINAL_S, lambda: self._drop(job_id)
        )

    async def _drop(self, job_id: int) -> None:
        self._shown.pop(job_id, None)

    async def _tick(self, job_id: int) -> None:
        job = await self._store.get_job(job_id)
        if job is None or job.notified or not self.can_edit(job) or self._is_final(job_id):
            self.forget(job_id)
            return
        if job.owner is not None and self._me is not None and job.owner != self._me:
            self.forget(job_id)  # claimed or taken over by another process: it shows it now
            return
        delay = self._interval_s
        text: Text | None = None  # posting is short; its own message stays up
        if job.state == JobState.QUEUED:
            forecast = await self._forecast(job)
            position = await self._store.queue_position(job.id)
            text = messages.queued(position, forecast, job)
        elif job.state == JobState.SUBMITTED:
            forecast = await self._forecast(job)
            started = job.submitted_at or job.created_at
            elapsed = (self._now() - started).total_seconds()
            late = forecast.is_late(self._now())
            text = messages.generating(started, elapsed, forecast, job, late=late)
            # The bar moves one cell per 1/BAR_WIDTH of the ETA: no need to look more often.
            delay = max(delay, forecast.eta.seconds / messages.BAR_WIDTH)
        elif job.state in (JobState.CLAIMED, JobState.SUBMITTING):
            # The submit is taking a while (say, being retried).
            text = messages.submitting(await self._forecast(job), job)
        if text is not None:
            await self.show(job, text, only_in=job.state)
        if not self._is_final(job_id):
            self.follow(job_id, delay)

    async def _forecast(self, job: Job) -> Forecast:
        """The job's cost and ready time: from its submit once sent, else from now (held
        steady while it waits, see `settle_shown`)."""
        shown = self._shown.setdefault(job.id, _Shown())
        if not shown.looked_up:
            s = job.settings
            recent = await self._store.recent_generation_s(
                job.model, s.resolution, s.duration_s, HISTORY_SAMPLE
            )
            shown.looked_up, shown.learned = True, learned_eta(recent)
        documented_s = messages.model_of(job).documented_estimate_s
        eta = expected_generation(shown.learned, job.estimate_s, documented_s)
        late_after = timedelta(seconds=late_after_s(eta, job.estimate_s))
        if job.submitted_at is not None:
            ready_at = job.submitted_at + timedelta(seconds=eta.seconds)
            return Forecast(job.cost_cents, eta, ready_at, job.submitted_at + late_after)
        now = self._now()
        shown.ready_at = settle_shown(shown.ready_at, now.timestamp() + eta.seconds, eta)
        ready_at = datetime.fromtimestamp(shown.ready_at, UTC)
        if shown.price_known is None:
            shown.price_known = await self._store.expected_cost(job.model, job.settings) is not None
        cost = job.reserved_cents if shown.price_known else None
        return Forecast(cost, eta, ready_at, now + late_after)

    def _is_final(self, job_id: int) -> bool:
        shown = self._shown.get(job_id)
        return shown is not None and shown.final
