"""A member's own jobs: their history on a server, one job's details, and picking a job by
what they type. Discord-free; the cog renders what these return."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime

from bot.errors import UserError
from bot.jobs.model import Job
from bot.members import messages
from bot.members.model import HistoryPage, JobDetails
from bot.periods import utc_now
from bot.settings import Settings
from bot.storage import Store

#: Jobs on one page of `/animate-history`.
PAGE_SIZE = 10
#: Discord shows at most 25 autocomplete choices.
MAX_CHOICES = 25
#: A job as typed into `/animate-show job:`: `123`, `#123`, or a chosen label (`#123 · …`).
_JOB_REF = re.compile(r"\s*#?\s*(\d{1,18})\b")
_ID_TYPED = re.compile(r"\s*#?\s*(\d{1,18})\s*")


class HistoryService:
    """Reads a member's own jobs on a server; never another member's."""

    def __init__(
        self,
        *,
        settings: Settings,
        store: Store,
        now: Callable[[], datetime] = utc_now,
    ) -> None:
        self._settings = settings
        self._store = store
        self._now = now

    async def page(
        self, guild_id: int, user_id: int, *, before: int | None = None, after: int | None = None
    ) -> HistoryPage:
        """The member's newest jobs here, or the page older than job `before` or newer than job
        `after`. A page that has run dry (its jobs were all on the other side) is the newest."""
        page = await self._store.history_page(
            guild_id, user_id, size=PAGE_SIZE, before=before, after=after
        )
        if not page.jobs and (before is not None or after is not None):
            page = await self._store.history_page(
                guild_id, user_id, size=PAGE_SIZE, before=None, after=None
            )
        return page

    async def details(self, guild_id: int, user_id: int, job_ref: str) -> JobDetails:
        """One of the member's jobs on this server, with its clip link if it still works.

        Raises UserError for anything else, the same way whether the job does not exist or
        belongs to someone else, so ids reveal nothing."""
        match = _JOB_REF.match(job_ref)
        job = await self._store.get_job(int(match[1])) if match else None
        if job is None or job.origin.guild_id != guild_id or job.origin.user_id != user_id:
            raise UserError(messages.JOB_NOT_FOUND)
        if job.output_url is None or job.completed_at is None:  # never made, or erased
            return JobDetails(job, clip_url=None, clip_expires_at=None)
        expires_at = self._settings.output_expires_at(job.completed_at)
        live = expires_at > self._now()
        return JobDetails(job, job.output_url if live else None, expires_at)

    async def choices(self, guild_id: int, user_id: int, typed: str) -> list[Job]:
        """The member's newest jobs here matching what they typed: digits (optionally after
        `#`) match the start of the id, anything else a part of the prompt."""
        if match := _ID_TYPED.fullmatch(typed):
            id_prefix, text = match[1], ""
        else:
            id_prefix, text = "", typed.strip()
        return await self._store.job_choices(
            guild_id, user_id, id_prefix=id_prefix, text=text, limit=MAX_CHOICES
        )
