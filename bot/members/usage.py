"""A member's own figures and settings: usage, what they may still start, the mention on their
result posts, and forgetting their prompts and links."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from bot.guilds.policy import Limits
from bot.members.model import QuotaStatus, UsageReport
from bot.periods import next_day, next_month, utc_now
from bot.settings import Settings
from bot.storage import Store

log = logging.getLogger(__name__)


class MemberService:
    """What `/usage` and `/animate-notify` read and change."""

    def __init__(
        self, *, settings: Settings, store: Store, now: Callable[[], datetime] = utc_now
    ) -> None:
        self._settings = settings
        self._store = store
        self._now = now

    async def usage(self, user_id: int) -> UsageReport:
        """The member's own usage figures and recent jobs."""
        return await self._store.usage_report(user_id, self._now())

    async def quota_status(self, guild_id: int, user_id: int) -> QuotaStatus:
        """What the member may still start on this server."""
        limits = Limits.resolve(await self._store.guild_config(guild_id), self._settings)
        now = self._now()
        usage = await self._store.quota_usage(guild_id, user_id, now, limits.cooldown or 0)
        ready_at = None
        if limits.cooldown and usage.last_started_at is not None:
            ready_at = usage.last_started_at + timedelta(seconds=limits.cooldown)
        return QuotaStatus(
            daily_left=None if limits.daily is None else max(0, limits.daily - usage.today),
            monthly_left=None if limits.monthly is None else max(0, limits.monthly - usage.month),
            ready_at=ready_at if ready_at is not None and ready_at > now else None,
            daily_resets_at=next_day(now),
            monthly_resets_at=next_month(now),
        )

    async def forget(self, user_id: int) -> int:
        """Erase the member's prompts and image links from finished jobs; returns how many."""
        count = await self._store.redact_user(user_id)
        log.info("user %d: erased prompts and links of %d jobs", user_id, count)
        return count

    async def mention_on_done(self, user_id: int) -> bool:
        """Whether the member is mentioned (so notified) on their result posts."""
        return await self._store.mention_on_done(user_id)

    async def set_mention_on_done(self, user_id: int, enabled: bool) -> None:
        """Turn the mention on the member's result posts on or off, from the next post on (jobs
        already running included: the setting is read when the result is posted)."""
        await self._store.set_mention_on_done(user_id, enabled, self._now())
        log.info("user %d: mention on result posts %s", user_id, "on" if enabled else "off")
