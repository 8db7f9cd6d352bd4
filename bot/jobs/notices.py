"""How a job's end is recorded and told: the requester (on their progress message, else in the
channel or by DM) and the server's moderators (the job's moderation-log entry)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from bot.i18n import common
from bot.i18n.text import Text
from bot.jobs import messages
from bot.jobs.model import (
    CANCELLABLE,
    DeliveryRoute,
    FailureKind,
    Job,
    JobChange,
    JobState,
    RefusedInput,
)
from bot.jobs.notifier import PostFailedError
from bot.jobs.runtime import JobRuntime

log = logging.getLogger(__name__)

_MOD_LOG_RETRIES = 3
_MOD_LOG_RETRY_S = 5.0


class Notices:
    """Fails jobs and tells everyone concerned how a job ended."""

    def __init__(
        self, runtime: JobRuntime, *, group_ended: Callable[[int], None] | None = None
    ) -> None:
        self._rt = runtime
        #: A variation that ends without a clip is told in its group's one post (`batches`).
        self._group_ended = group_ended

    async def fail(
        self,
        job: Job,
        why: Text,
        *,
        cost_cents: int | None = None,
        failure_kind: FailureKind | None = None,
        refused: RefusedInput | None = None,
    ) -> None:
        """Move a job to FAILED with its reason and settled cost, then tell its requester.

        `cost_cents` None keeps the cost known so far; any reservation is released. A job that
        was cancelled meanwhile stays cancelled, but what the failed step cost is still kept.
        The reason says plainly whether anything was charged, and `refused` names the input
        the API objected to (a refused prompt gets an Edit prompt button).
        """
        settled = job.cost_cents if cost_cents is None else cost_cents
        # Stored as the requester reads it: it is shown to them, and on the moderation log.
        reason = messages.honest(why, settled, failure_kind, refused).render(job.origin.locale)
        change = JobChange(
            error=reason,
            finished_at=self._rt.now(),
            reserved_cents=0,
            cost_cents=cost_cents,
            failure_kind=failure_kind,
            refused_input=refused,
        )
        rt = self._rt
        failed = await rt.move(job.id, JobState.FAILED, change)
        rt.wake_dispatch()  # it may have held an in-flight slot
        if failed is None:
            current = await rt.store.get_job(job.id)
            if current is not None and current.state == JobState.CANCELLED:
                log.info("job %d: failed after it was cancelled: %s", job.id, reason)
                await rt.update(job.id, change)  # what it cost still counts
            else:
                log.warning("job %d: cannot fail from %s", job.id, current and current.state)
            return
        log.info("job %d: -> failed: %s", job.id, reason)
        self._rt.metrics.job_failed(failed.kind)
        await self.failure(failed)

    async def failure(self, job: Job) -> None:
        """Tell the requester why their job failed: on the progress message, or elsewhere
        (a variation: in its group's post)."""
        if self._in_group(job):
            return
        reason = job.error or common.SOMETHING_WENT_WRONG.render(job.origin.locale)
        shown = await self._rt.progress.show(job, messages.failed(reason), final=True)
        if not shown or job.failure_kind is FailureKind.UNDELIVERABLE:
            await self._tell_elsewhere(job, reason)
        await self._told(job)

    async def cancelled(self, job: Job) -> None:
        """Tell the requester their job was cancelled (and by whom, if not by them)."""
        assert job.cancelled_by is not None
        if self._in_group(job):
            return
        text = messages.cancelled(job.cancelled_by, job.origin.user_id)
        shown = await self._rt.progress.show(job, text, final=True)
        if not shown and job.cancelled_by != job.origin.user_id:
            await self._tell_elsewhere(job, text)  # a moderator did it: say so, once
        # Not fenced: whichever process cancelled it tells the requester, whoever holds the
        # job's lease (that one stops at its next write, refused by the state).
        await self._told(job, fenced=False)

    def _in_group(self, job: Job) -> bool:
        """Hand a variation's end to its group, which tells it with the others."""
        if job.group_id is None or self._group_ended is None:
            return False
        self._group_ended(job.group_id)
        return True

    async def _told(self, job: Job, *, fenced: bool = True) -> None:
        told = JobChange(notified=True, drop_token=True)
        if fenced:
            await self._rt.update(job.id, told)
        else:
            await self._rt.store.update(job.id, told)
        self._rt.progress.forget(job.id)
        self.sync_mod_log(job.id)

    async def _tell_elsewhere(self, job: Job, reason: Text | str) -> None:
        """Tell the user in the channel, or by DM where the channel cannot be used."""
        routes = [DeliveryRoute.CHANNEL, DeliveryRoute.DM]
        if job.failure_kind is FailureKind.UNDELIVERABLE:
            routes = [DeliveryRoute.DM]  # the channel is gone or refuses the bot
        for route in routes:
            if route is DeliveryRoute.DM:
                text = messages.failed_by_dm(job.id, reason)
            else:
                text = messages.failed_in_channel(job.origin.user_id, job.id, reason)
            try:
                await self._rt.notifier.post_failure(job, text.render(job.origin.locale), route)
                return
            except PostFailedError as exc:
                log.warning("job %d: could not tell the user by %s: %s", job.id, route, exc)

    # Moderation log -------------------------------------------------------------------------

    def sync_mod_log(self, job_id: int) -> None:
        """Bring the job's moderation-log entry up to date in the background; the job itself
        never waits on it, and a crash of it is logged and dropped."""
        self._rt.spawn(job_id, self._sync_mod_log(job_id))

    async def _sync_mod_log(self, job_id: int, attempt: int = 0) -> None:
        """Post the entry if the server keeps a log and it has none yet (the nonce makes a
        repeat the same message), else show the job's state. Passing Discord errors are
        retried a few times."""
        store, notifier = self._rt.store, self._rt.notifier
        job = await store.get_job(job_id)
        if job is None or job.origin.guild_id is None:
            return
        try:
            if job.mod_log_message_id is not None:
                await notifier.update_mod_log(job)
                return
            config = await store.guild_config(job.origin.guild_id)
            if config.mod_log_channel_id is None:
                return
            message_id = await notifier.post_mod_log(job, config.mod_log_channel_id)
            entry = JobChange(
                mod_log_channel_id=config.mod_log_channel_id, mod_log_message_id=message_id
            )
            current = await store.update(job.id, entry)
            if current.state not in CANCELLABLE:  # it ended meanwhile
                await notifier.update_mod_log(current)
        except PostFailedError as exc:
            if exc.retryable and attempt < _MOD_LOG_RETRIES:
                self._rt.scheduler.call_later(
                    ("mod-log", job_id),
                    _MOD_LOG_RETRY_S * (attempt + 1),
                    lambda: self._sync_mod_log(job_id, attempt + 1),
                )
                return
            log.warning(
                "job %d: could not post or update its moderation-log entry: %s", job_id, exc
            )
