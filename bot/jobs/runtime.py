"""What the parts of the job engine share: the settings, the store, the clock, one timer loop,
one set of tracked tasks, the leases this process holds and, once started, the chat platform
and the progress messages."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Any

from bot.jobs.metrics import NO_METRICS, JobMetrics
from bot.jobs.model import NO_CHANGE, Job, JobChange, JobState, Lease, LeaseLostError
from bot.jobs.notifier import JobNotifier
from bot.jobs.progress import ProgressReporter
from bot.jobs.scheduler import Scheduler
from bot.periods import utc_now
from bot.settings import Settings
from bot.storage import Store

log = logging.getLogger(__name__)

Work = Coroutine[Any, Any, None]
#: The store's channel for "a job joined the queue, or an in-flight slot came free".
JOBS_CHANNEL = "jobs"
#: Timers a job may have; all are dropped with the job when its lease is lost.
_JOB_TIMERS = ("poll", "deliver", "recover", "progress", "mod-log")


class JobRuntime:
    """The engine's shared parts. Built by the composition root; `start` hands it the platform,
    `stop` ends its timers and tasks (every job's state is already stored by then)."""

    def __init__(
        self,
        *,
        settings: Settings,
        store: Store,
        now: Callable[[], datetime] = utc_now,
        metrics: JobMetrics = NO_METRICS,
    ) -> None:
        self.settings = settings
        self.store = store
        self.now = now
        #: Where job counts and timings go (an operator's dashboard, or nowhere).
        self.metrics = metrics
        self.scheduler = Scheduler()
        #: Set once stopping: no new job is accepted and no new submit goes on the wire.
        self.closing = False
        #: Set whenever an in-flight slot may have come free or a job joined the queue.
        self.dispatch_wake = asyncio.Event()
        #: What this process writes when it takes a job: its name and the lease's length.
        self.lease = Lease(settings.process_name, settings.job_lease_s)
        #: The epoch at which this process holds each job it claimed or took over.
        self._held: dict[int, int] = {}
        #: Jobs another process took over from this one: never acted on again.
        self._lost: set[int] = set()
        self._notifier: JobNotifier | None = None
        self._progress: ProgressReporter | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def name(self) -> str:
        """This process's name, in its leases and its log lines."""
        return self.lease.owner

    def start(self, notifier: JobNotifier) -> None:
        """Attach the platform and start the timer loop."""
        self._notifier = notifier
        self._progress = ProgressReporter(
            notifier=notifier,
            store=self.store,
            scheduler=self.scheduler,
            now=self.now,
            interval_s=self.settings.progress_edit_interval_s,
            process_name=self.name,
        )
        self.scheduler.start()

    # Leases and fenced writes ---------------------------------------------------------------

    def hold(self, job: Job) -> Job:
        """Note that this process now holds `job`'s lease, at its epoch."""
        self._held[job.id] = job.epoch
        self._lost.discard(job.id)
        return job

    def holds(self, job: Job) -> bool:
        """True if this process holds the job's lease at the epoch the job shows."""
        return self._held.get(job.id) == job.epoch and job.id not in self._lost

    def check_held(self, job: Job) -> None:
        """Raise LeaseLostError if this process held the job but `job`, as just read, shows
        another process has taken it over since (say, after this one was paused)."""
        held = self._held.get(job.id)
        if job.id in self._lost or (held is not None and held != job.epoch):
            raise LeaseLostError(job.id)

    async def check_still_held(self, job_id: int) -> None:
        """Read the job now and `check_held` it: just before a step that cannot be undone (a
        post), after work that may have outlasted the lease (a download, a re-encode)."""
        if (current := await self.store.get_job(job_id)) is not None:
            self.check_held(current)

    def _fence(self, job_id: int) -> int | None:
        """The epoch this process's writes of the job are fenced with; None for a job it does
        not hold (telling the requester of a job it cancelled for them, say)."""
        if job_id in self._lost:
            raise LeaseLostError(job_id)
        return self._held.get(job_id)

    async def move(self, job_id: int, to: JobState, change: JobChange = NO_CHANGE) -> Job | None:
        """`JobStore.move`, fenced by this process's lease on the job: None if the state
        table refuses it, LeaseLostError if another process has taken the job over."""
        moved = await self.store.move(job_id, to, change, epoch=self._fence(job_id))
        # Over: forgotten. (A job put back in the queue keeps its epoch here, so should another
        # process claim it, a late write of this one is refused.)
        if moved is not None and moved.notified:
            self._held.pop(job_id, None)
        return moved

    async def update(self, job_id: int, change: JobChange) -> Job:
        """`JobStore.update`, fenced like `move`."""
        updated = await self.store.update(job_id, change, epoch=self._fence(job_id))
        if updated.notified:
            self._held.pop(job_id, None)
        return updated

    def drop(self, job_id: int) -> None:
        """Another process took the job over: stop every timer of it here and never act on it
        again (its fenced writes would change nothing anyway). Logged once."""
        if job_id in self._lost:
            return
        self._lost.add(job_id)
        self._held.pop(job_id, None)
        for timer in _JOB_TIMERS:
            self.scheduler.cancel((timer, job_id))
        if self._progress is not None:
            self._progress.forget(job_id)
        log.warning("job %d: lost its lease to another process; %s drops it", job_id, self.name)

    # Wake-ups -------------------------------------------------------------------------------

    async def listen(self) -> None:
        """Wake the dispatcher at every hint that there is work, from any process."""
        await self.store.listen(JOBS_CHANNEL, self.dispatch_wake.set)

    def wake_dispatch(self) -> None:
        """A job joined the queue or an in-flight slot came free: wake this process's
        dispatcher, and hint the other processes (a hint may be lost: they also poll)."""
        self.dispatch_wake.set()
        if not self.store.single_process and not self.closing:
            task = asyncio.create_task(self._hint(), name="jobs-hint")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _hint(self) -> None:
        try:
            await self.store.notify(JOBS_CHANNEL)
        except Exception:
            log.warning("could not hint the other processes; they will poll", exc_info=True)

    async def stop(self, grace_s: float) -> None:
        """Stop the timers, let running work finish for up to `grace_s`, then cancel it."""
        self.closing = True
        await self.scheduler.stop()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=grace_s)
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    @property
    def notifier(self) -> JobNotifier:
        """The chat platform jobs report to."""
        if self._notifier is None:
            raise RuntimeError("the job engine has not been started")
        return self._notifier

    @property
    def progress(self) -> ProgressReporter:
        """The requesters' progress messages."""
        if self._progress is None:
            raise RuntimeError("the job engine has not been started")
        return self._progress

    def spawn(self, job_id: int, work: Work, *, on_crash: Callable[[], None] | None = None) -> None:
        """Run a piece of a job's work as a tracked task, which `stop` waits for or cancels."""
        task = asyncio.create_task(self.guarded(job_id, work, on_crash), name=f"job-{job_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def guarded(
        self, job_id: int, work: Work, on_crash: Callable[[], None] | None = None
    ) -> None:
        """Run a piece of a job's work; a crash is logged, then `on_crash` (if any) decides what
        follows: a job step picks the job up again later, a side effect is simply dropped.
        Background work must catch at its top: nothing else ever sees its exceptions."""
        try:
            await work
        except LeaseLostError:
            self.drop(job_id)
        except Exception:
            log.exception("job %d: %s crashed", job_id, getattr(work, "__qualname__", "a step"))
            if on_crash is not None:
                on_crash()
