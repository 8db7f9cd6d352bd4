"""The retention period: prompts and links older than `RETENTION_DAYS` are erased, daily."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from bot.periods import utc_now
from bot.settings import Settings
from bot.storage import MemberStore

log = logging.getLogger(__name__)

_PURGE_EVERY_S = 24 * 3600.0


class Retention:
    """Erases what members wrote once it is older than the retention period (counts, durations
    and costs stay, so limits and totals remain true)."""

    def __init__(
        self, *, settings: Settings, store: MemberStore, now: Callable[[], datetime] = utc_now
    ) -> None:
        self._settings = settings
        self._store = store
        self._now = now
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Purge now and then daily; nothing if retention is off."""
        if self._settings.retention_days is not None and self._task is None:
            self._task = asyncio.create_task(self._run(), name="retention")

    async def stop(self) -> None:
        """Stop purging (a purge is one statement: nothing is left half done)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await self.purge()
            except Exception:
                log.exception("retention purge failed; trying again next period")
            await asyncio.sleep(_PURGE_EVERY_S)

    async def purge(self) -> int:
        """Erase prompts and links older than the retention period now; returns how many."""
        assert self._settings.retention_days is not None
        cutoff = self._now() - timedelta(days=self._settings.retention_days)
        count = await self._store.redact_before(cutoff)
        if count:
            log.info("retention: erased prompts and links of %d jobs", count)
        return count
