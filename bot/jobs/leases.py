"""Job leases across processes: this process renews the leases it holds, and takes over the
jobs of a process that died (or stalled) once their leases run out.

A job past the queue belongs to the process named in its `owner` until `lease_until`, counted
by the database's clock. The holder renews all its leases in one statement every third of
`JOB_LEASE_S`; every process sweeps for expired leases every `JOB_POLL_S`. A takeover bumps
the job's epoch, which fences the previous holder's writes (`JobStore.move`), then resumes the
job by the same per-state rules as a restart (`JobService._resume`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from bot.jobs.model import Job, JobState, Takeable, Takeover
from bot.jobs.runtime import JobRuntime

log = logging.getLogger(__name__)

#: Leases taken over per sweep statement; a full batch is followed by another at once.
SWEEP_BATCH = 20
#: At start, every lease a process may take is taken in one statement (open jobs are few:
#: the per-user caps bound them).
_START_BATCH = 10_000

Resume = Callable[[Job], Awaitable[None]]


class LeaseKeeper:
    """Renews this process's leases and takes over expired ones, resuming each job."""

    def __init__(self, runtime: JobRuntime, resume: Resume) -> None:
        self._rt = runtime
        self._resume = resume
        self._tasks: list[asyncio.Task[None]] = []

    async def jobs_to_resume(self) -> list[Job]:
        """The jobs this process picks up as it starts, oldest first, their leases taken.

        On a database no other process uses (SQLite), every open job, as a restart always
        did. On a shared one, the jobs whose leases ran out, and at once those held under this
        process's own name (its previous run's); queued jobs are the dispatchers' to claim.
        """
        rt = self._rt
        store = rt.store
        if store.single_process:
            taken = await self._take(Takeable.EVERY, _START_BATCH)
            queued = [job for job in await store.open_jobs() if job.state == JobState.QUEUED]
            return sorted([*taken, *queued], key=lambda job: job.id)
        # Leases under this process's own name can only be its previous run's: names are
        # unique among live processes.
        return await self._take(Takeable.EXPIRED_OR_MINE, _START_BATCH)

    def start(self) -> None:
        """Start renewing and sweeping."""
        self._tasks = [
            asyncio.create_task(self._renew_loop(), name="lease-renewal"),
            asyncio.create_task(self._sweep_loop(), name="lease-sweep"),
        ]

    async def stop(self) -> None:
        """Stop renewing and sweeping (the leases stand until `release`)."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def release(self) -> None:
        """End this process's leases now (a clean stop), so others take over at once."""
        try:
            released = await self._rt.store.release_leases(self._rt.name)
        except Exception:
            log.warning("could not release this process's leases; they expire", exc_info=True)
            return
        if released:
            log.info("released %d job lease(s) for the other processes", released)

    async def renew(self) -> int:
        """Extend every lease this process holds (one statement); how many."""
        return await self._rt.store.renew_leases(self._rt.lease)

    async def sweep(self) -> list[Job]:
        """Take over the jobs whose leases ran out and resume each; the jobs taken."""
        taken = await self._take(Takeable.EXPIRED, SWEEP_BATCH)
        for job in taken:
            await self._resume(job)
        return taken

    async def _take(self, which: Takeable, limit: int) -> list[Job]:
        rt = self._rt
        takeovers = await rt.store.take_over(rt.lease, which, limit)
        for takeover in takeovers:
            self._log(takeover)
            rt.hold(takeover.job)
        return [takeover.job for takeover in takeovers]

    def _log(self, takeover: Takeover) -> None:
        job, previous = takeover.job, takeover.previous_owner
        if previous == self._rt.name:
            log.info("job %d: taken back by %s from its previous run", job.id, previous)
            return
        log.warning(
            "job %d: lease of %s expired; taken over by %s in state %s (epoch %d)",
            job.id,
            previous or "a process before leases",
            self._rt.name,
            job.state,
            job.epoch,
        )

    async def _renew_loop(self) -> None:
        every_s = self._rt.settings.job_lease_s / 3
        while True:
            await asyncio.sleep(every_s)
            try:
                await self.renew()
            except Exception:
                log.exception("renewing job leases failed; trying again in %g s", every_s)

    async def _sweep_loop(self) -> None:
        every_s = self._rt.settings.job_poll_s
        while True:
            await asyncio.sleep(every_s)
            try:
                while len(await self.sweep()) == SWEEP_BATCH:
                    pass  # a full batch: there may be more
            except Exception:
                log.exception("taking over expired job leases failed; trying again")
