"""What the services need from storage, one protocol per aggregate; `Store` is all of them.

A service depends on the narrow protocol it uses. Every backend provides all of them and
passes `tests/unit/storage/test_contract.py`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Protocol

from bot.guilds.model import AuditEntry, Block, GuildConfig, GuildUsageReport, QuotaUsage
from bot.i18n.text import Text
from bot.jobs.model import (
    NO_CHANGE,
    GenerationSettings,
    ImageInput,
    Job,
    JobChange,
    JobState,
    Lease,
    NewJob,
    Takeable,
    Takeover,
)
from bot.members.model import HistoryPage, MemberDefaults, UsageReport

#: Decides, inside the admission transaction, whether a job may start: None, or why not.
Decision = Callable[[QuotaUsage], Text | None]


class JobStore(Protocol):
    """Jobs: admission, claims, guarded state moves, lookups."""

    async def admit(
        self, new: NewJob, now: datetime, *, reserve_cents: int, cooldown_s: int, decide: Decision
    ) -> Job | Text: ...
    async def admit_group(
        self,
        news: Sequence[NewJob],
        now: datetime,
        *,
        reserve_cents: int,
        cooldown_s: int,
        decide: Decision,
    ) -> list[Job] | Text: ...
    async def group_jobs(self, group_id: int) -> list[Job]: ...
    async def adopt_group(self, group_id: int, lease: Lease) -> list[Job]: ...
    async def quota_usage(
        self, guild_id: int, user_id: int, now: datetime, cooldown_s: int
    ) -> QuotaUsage: ...
    async def expected_cost(self, model: str, settings: GenerationSettings) -> int | None: ...
    async def recent_generation_s(
        self, model: str, resolution: str, duration_s: int, limit: int
    ) -> list[float]: ...
    async def get_job(self, job_id: int) -> Job | None: ...
    async def job_state(self, job_id: int) -> JobState | None: ...
    async def open_jobs(self) -> list[Job]: ...
    async def unfinished_by_state(self) -> dict[JobState, int]: ...
    async def queue_position(self, job_id: int) -> int: ...
    async def claim_next_queued(
        self, max_in_flight: int, max_per_user: int, lease: Lease
    ) -> Job | None: ...
    async def move(
        self,
        job_id: int,
        to: JobState,
        change: JobChange = NO_CHANGE,
        *,
        epoch: int | None = None,
    ) -> Job | None: ...
    async def update(self, job_id: int, change: JobChange, *, epoch: int | None = None) -> Job: ...
    async def cancel_job(
        self, job_id: int, actor_id: int, now: datetime, lease: Lease | None = None
    ) -> Job | None: ...
    async def mark_post_deleted(self, job_id: int, now: datetime) -> bool: ...
    async def renew_leases(self, lease: Lease) -> int: ...
    async def release_leases(self, owner: str) -> int: ...
    async def take_over(
        self, lease: Lease, which: Takeable = Takeable.EXPIRED, limit: int = 20
    ) -> list[Takeover]: ...


class GuildStore(Protocol):
    """A server's configuration, its blocked members and the audit trail of both."""

    async def guild_config(self, guild_id: int) -> GuildConfig: ...
    async def update_guild_config(
        self, guild_id: int, change: Callable[[GuildConfig], GuildConfig], audit: AuditEntry
    ) -> GuildConfig: ...
    async def get_block(self, guild_id: int, user_id: int) -> Block | None: ...
    async def blocks(self, guild_id: int) -> list[Block]: ...
    async def block_user(self, guild_id: int, block: Block) -> None: ...
    async def unblock_user(self, guild_id: int, user_id: int, audit: AuditEntry) -> bool: ...
    async def audit_log(self, guild_id: int, limit: int) -> list[AuditEntry]: ...


class MemberStore(Protocol):
    """A member's own things: preferences, open forms, history, and forgetting them."""

    async def mention_on_done(self, user_id: int) -> bool: ...
    async def set_mention_on_done(self, user_id: int, enabled: bool, now: datetime) -> None: ...
    async def member_defaults(self, guild_id: int, user_id: int) -> MemberDefaults: ...
    async def set_member_defaults(
        self, guild_id: int, user_id: int, defaults: MemberDefaults, now: datetime
    ) -> None: ...
    async def save_form(
        self, key: str, user_id: int, image: ImageInput, expires_at: datetime, now: datetime
    ) -> None: ...
    async def take_form(self, key: str, user_id: int, now: datetime) -> ImageInput | None: ...
    async def history_page(
        self, guild_id: int, user_id: int, *, size: int, before: int | None, after: int | None
    ) -> HistoryPage: ...
    async def job_choices(
        self, guild_id: int, user_id: int, *, id_prefix: str, text: str, limit: int
    ) -> list[Job]: ...
    async def redact_user(self, user_id: int) -> int: ...
    async def redact_before(self, cutoff: datetime) -> int: ...


class ReportStore(Protocol):
    """Usage figures and exports."""

    async def usage_report(self, user_id: int, now: datetime, recent: int = 5) -> UsageReport: ...
    async def guild_usage(
        self, guild_id: int, since: datetime | None, top: int = 10
    ) -> GuildUsageReport: ...
    def guild_jobs(self, guild_id: int, since: datetime | None) -> AsyncIterator[Job]: ...


class MetaStore(Protocol):
    """Small key/value facts about the deployment."""

    async def get_meta(self, key: str) -> str | None: ...
    async def set_meta(self, key: str, value: str) -> None: ...


class LockStore(Protocol):
    """Bot-wide named locks, across every process of the bot (README "Running several
    processes"); on SQLite (one process) the process's own."""

    def hold_lock(self, name: str) -> AbstractAsyncContextManager[None]: ...
    def try_lock(self, name: str) -> AbstractAsyncContextManager[bool]: ...


class CoordinationStore(LockStore, Protocol):
    """What several processes on one database use to work as one bot: bot-wide locks (work
    done once for the whole bot) and wake-up hints (LISTEN/NOTIFY on PostgreSQL). On SQLite
    (one process) both are the process's own. A hint may be lost: listeners also poll."""

    @property
    def single_process(self) -> bool: ...
    async def notify(self, channel: str) -> None: ...
    async def listen(self, channel: str, callback: Callable[[], None]) -> None: ...


class Store(JobStore, GuildStore, MemberStore, ReportStore, MetaStore, CoordinationStore, Protocol):
    """Everything storage offers (what the composition root opens)."""
