"""What the parts of the job engine share: the settings, the store, the clock, one timer loop,
one set of tracked tasks and, once started, the chat platform and the progress messages."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Any

from bot.jobs.metrics import NO_METRICS, JobMetrics
from bot.jobs.notifier import JobNotifier
from bot.jobs.progress import ProgressReporter
from bot.jobs.scheduler import Scheduler
from bot.periods import utc_now
from bot.settings import Settings
from bot.storage import Store

log = logging.getLogger(__name__)

Work = Coroutine[Any, Any, None]


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
        self._notifier: JobNotifier | None = None
        self._progress: ProgressReporter | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self, notifier: JobNotifier) -> None:
        """Attach the platform and start the timer loop."""
        self._notifier = notifier
        self._progress = ProgressReporter(
            notifier=notifier,
            store=self.store,
            scheduler=self.scheduler,
            now=self.now,
            interval_s=self.settings.progress_edit_interval_s,
        )
        self.scheduler.start()

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
        except Exception:
            log.exception("job %d: %s crashed", job_id, getattr(work, "__qualname__", "a step"))
            if on_crash is not None:
                on_crash()
