"""The retention period: prompts and links older than `RETENTION_DAYS` are erased, daily."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol

from bot.periods import utc_now
from bot.settings import Settings
from bot.storage import LockStore, MemberStore

log = logging.getLogger(__name__)

_PURGE_EVERY_S = 24 * 3600.0
#: How often a process that is not purging checks whether the purging one has stopped.
_FOLLOWER_RETRY_S = 3600.0
#: Bot-wide lock: of several processes, the one holding it purges; the others wait their turn.
RETENTION_LOCK = "retention"


class RetentionStore(MemberStore, LockStore, Protocol):
    """What the purge needs: the members' data and a bot-wide lock."""


class Retention:
    """Erases what members wrote once it is older than the retention period (counts, durations
    and costs stay, so limits and totals remain true)."""

    def __init__(
        self,
        *,
        settings: Settings,
        store: RetentionStore,
        now: Callable[[], datetime] = utc_now,
        follower_retry_s: float = _FOLLOWER_RETRY_S,
    ) -> None:
        self._settings = settings
        self._store = store
        self._now = now
        self._follower_retry_s = follower_retry_s
        self._task: asyncio.Task[None] | None = None
        #: Whether this process is the one purging for the bot (holds the lock).
        self.leading = False

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
        """Lead or wait: the process holding the bot-wide lock purges daily for as long as it
        runs; the others try again every `_FOLLOWER_RETRY_S`, so one takes over if it stops."""
        while True:
            try:
                async with self._store.try_lock(RETENTION_LOCK) as leader:
                    if leader:
                        self.leading = True
                        await self._purge_daily()
            except asyncio.CancelledError:
                self.leading = False
                raise
            except Exception:
                log.exception("retention: the bot-wide purge lock failed; trying again later")
            self.leading = False
            await asyncio.sleep(self._follower_retry_s)

    async def _purge_daily(self) -> None:
        log.info("retention: this process purges for the whole bot")
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
