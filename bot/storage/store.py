"""Persistence: every SQL statement the bot runs, behind the small `Store` interface.

The interface is what the services use; `SqliteStore` is today's implementation. A shared
PostgreSQL implementation for several bot processes would provide the same methods; there
`claim_next_queued` must serialise its count-then-claim across processes (an advisory lock
around the statement), and `create_job` its per-user count likewise.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import replace
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

import aiosqlite
from pydantic import TypeAdapter

from bot.guilds.model import (
    AuditEntry,
    Block,
    GuildConfig,
    GuildUsageReport,
    QuotaUsage,
    UserTotals,
)
from bot.i18n.text import Text
from bot.jobs.model import (
    CANCELLABLE,
    NO_CHANGE,
    DeliveryRoute,
    FailureKind,
    GenerationSettings,
    ImageInput,
    Job,
    JobChange,
    JobKind,
    JobState,
    NewJob,
    Origin,
    sources,
)
from bot.members.model import HistoryPage, UsageReport, UsageTotals
from bot.periods import day_start, month_start

log = logging.getLogger(__name__)

_IN_FLIGHT = "('claimed', 'submitting', 'submitted')"
# Listed rather than written as NOT IN (...), so SQLite can search the `jobs_open` index.
_UNFINISHED = "('queued', 'claimed', 'submitting', 'submitted', 'completed', 'delivering')"
_CANCELLABLE = "(" + ", ".join(f"'{state}'" for state in sorted(CANCELLABLE)) + ")"
#: Jobs that count against limits: all but those that ended without the API charging for them.
_COUNTED = "(state NOT IN ('failed', 'cancelled') OR cost_cents > 0)"
_JOB_COLUMNS = (
    "state, guild_id, channel_id, user_id, application_id, interaction_token, "
    "interaction_expires_at, upload_limit_bytes, locale, guild_locale, prompt, image_url, "
    "last_image_url, duration_s, resolution, aspect_ratio, camera_fixed, seed, generate_audio, "
    "nonce, created_at, updated_at, reserved_cents, kind, parent_job_id, model"
)
_INSERT_JOB = f"INSERT INTO jobs ({_JOB_COLUMNS})"
_JOB_PLACEHOLDERS = ", ".join("?" * len(_JOB_COLUMNS.split(",")))
#: An open form's image, as stored in `open_forms.image`.
_IMAGE_JSON = TypeAdapter(ImageInput)
#: Decides, inside the admission transaction, whether a job may start: None, or why not.
Decision = Callable[[QuotaUsage], Text | None]


class DatabaseUnusableError(Exception):
    """The database file cannot be used as it is; the bot must stop rather than overwrite it."""


class Store(Protocol):
    """What the services need from storage."""

    async def create_job(
        self, new: NewJob, now: datetime, *, max_open_per_user: int
    ) -> Job | None: ...
    async def get_job(self, job_id: int) -> Job | None: ...
    async def job_state(self, job_id: int) -> JobState | None: ...
    async def open_jobs(self) -> list[Job]: ...
    async def claim_next_queued(self, max_in_flight: int, max_per_user: int) -> Job | None: ...
    async def queue_position(self, job_id: int) -> int: ...
    async def move(
        self, job_id: int, to: JobState, change: JobChange = NO_CHANGE
    ) -> Job | None: ...
    async def update(self, job_id: int, change: JobChange) -> Job: ...
    async def set_state(self, job_id: int, state: JobState) -> Job: ...
    async def mark_submitted(
        self,
        job_id: int,
        prediction_id: str,
        cost_cents: int,
        estimate_s: tuple[float, float] | None,
        now: datetime,
    ) -> Job: ...
    async def mark_completed(
        self, job_id: int, output_url: str, cost_cents: int | None, now: datetime
    ) -> Job: ...
    async def mark_delivered(
        self, job_id: int, message_id: int | None, delivered_as: str, now: datetime
    ) -> Job: ...
    async def mark_failed(
        self, job_id: int, error: str, cost_cents: int | None, now: datetime
    ) -> Job: ...
    async def mark_notified(self, job_id: int) -> Job: ...
    async def forget_token(self, job_id: int) -> None: ...
    async def usage_report(self, user_id: int, now: datetime, recent: int = 5) -> UsageReport: ...
    async def admit(
        self, new: NewJob, now: datetime, *, reserve_cents: int, cooldown_s: int, decide: Decision
    ) -> Job | Text: ...
    async def quota_usage(
        self, guild_id: int, user_id: int, now: datetime, cooldown_s: int
    ) -> QuotaUsage: ...
    async def expected_cost(self, settings: GenerationSettings) -> int | None: ...
    async def recent_generation_s(
        self, resolution: str, duration_s: int, limit: int
    ) -> list[float]: ...
    async def cancel_job(self, job_id: int, actor_id: int, now: datetime) -> Job | None: ...
    async def release_reservation(self, job_id: int) -> None: ...
    async def set_mod_log(self, job_id: int, channel_id: int, message_id: int) -> None: ...
    async def guild_config(self, guild_id: int) -> GuildConfig: ...
    async def update_guild_config(
        self,
        guild_id: int,
        change: Callable[[GuildConfig], GuildConfig],
        audit: AuditEntry,
    ) -> GuildConfig: ...
    async def get_block(self, guild_id: int, user_id: int) -> Block | None: ...
    async def blocks(self, guild_id: int) -> list[Block]: ...
    async def block_user(self, guild_id: int, block: Block) -> None: ...
    async def unblock_user(self, guild_id: int, user_id: int, audit: AuditEntry) -> bool: ...
    async def audit_log(self, guild_id: int, limit: int) -> list[AuditEntry]: ...
    async def guild_usage(
        self, guild_id: int, since: datetime | None, top: int = 10
    ) -> GuildUsageReport: ...
    def guild_jobs(self, guild_id: int, since: datetime | None) -> AsyncIterator[Job]: ...
    async def history_page(
        self, guild_id: int, user_id: int, *, size: int, before: int | None, after: int | None
    ) -> HistoryPage: ...
    async def job_choices(
        self, guild_id: int, user_id: int, *, id_prefix: str, text: str, limit: int
    ) -> list[Job]: ...
    async def mention_on_done(self, user_id: int) -> bool: ...
    async def set_mention_on_done(self, user_id: int, enabled: bool, now: datetime) -> None: ...
    async def save_form(
        self, key: str, user_id: int, image: ImageInput, expires_at: datetime, now: datetime
    ) -> None: ...
    async def take_form(self, key: str, user_id: int, now: datetime) -> ImageInput | None: ...
    async def redact_user(self, user_id: int) -> int: ...
    async def redact_before(self, cutoff: datetime) -> int: ...
    async def get_meta(self, key: str) -> str | None: ...
    async def set_meta(self, key: str, value: str) -> None: ...
    async def set_failure_kind(self, job_id: int, kind: FailureKind) -> Job: ...
    async def set_delivery_route(self, job_id: int, route: DeliveryRoute, note: str) -> Job: ...
    async def mark_post_deleted(self, job_id: int, now: datetime) -> bool: ...


class SqliteStore:
    """`Store` on one SQLite file in WAL mode, with numbered migrations applied at open."""

    def __init__(
        self, connection: aiosqlite.Connection, transactions: aiosqlite.Connection
    ) -> None:
        self._db = connection
        # Multi-statement transactions get their own connection, so statements other tasks
        # send meanwhile cannot end up inside (or be rolled back with) them.
        self._tx = transactions
        self._tx_lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: Path) -> SqliteStore:
        """Open (creating if needed) the database at `path` and bring its schema up to date.

        Raises DatabaseUnusableError, leaving the file untouched, when it is not a readable
        SQLite database or was written by a newer version of the bot.
        """
        path.parent.mkdir(parents=True, exist_ok=True)
        connections: list[aiosqlite.Connection] = []
        try:
            for _ in range(2):
                connection = await aiosqlite.connect(path, isolation_level=None)
                connections.append(connection)
                connection.row_factory = sqlite3.Row
                if len(connections) == 1:
                    # Checked before anything writes: WAL mode or a migration would modify it.
                    await _check_usable(connection, path)
                await connection.execute("PRAGMA journal_mode = WAL")
                # FULL: a job's "submit on the wire" mark must survive a power cut, or the job
                # could be sent twice; the bot writes far too little for the cost to matter.
                await connection.execute("PRAGMA synchronous = FULL")
                await connection.execute("PRAGMA busy_timeout = 5000")
            store = cls(*connections)
            await store._migrate()
        except BaseException:
            for connection in connections:  # their threads would keep the process alive
                await connection.close()
            raise
        return store

    async def close(self) -> None:
        """Close the connections."""
        await self._db.close()
        await self._tx.close()

    async def __aenter__(self) -> SqliteStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _migrate(self) -> None:
        (current,) = await self._fetchone("PRAGMA user_version")
        for number, script in _migrations():
            if number <= current:
                continue
            log.info("applying database migration %04d", number)
            await self._db.executescript(
                f"BEGIN IMMEDIATE;\n{script}\nPRAGMA user_version = {number};\nCOMMIT;"
            )

    # Jobs -----------------------------------------------------------------------------------

    async def create_job(self, new: NewJob, now: datetime, *, max_open_per_user: int) -> Job | None:
        """Insert a queued job and return it, or None if the user already has enough open."""
        # Count and insert in one statement, so concurrent requests cannot both squeeze in.
        cursor = await self._db.execute(
            f"""{_INSERT_JOB}
               SELECT {_JOB_PLACEHOLDERS}
               WHERE (SELECT COUNT(*) FROM jobs
                      WHERE notified = 0 AND state IN {_UNFINISHED}
                        AND user_id = ?) < ?""",
            (*_job_values(new, now, reserve_cents=0), new.origin.user_id, max_open_per_user),
        )
        if cursor.rowcount == 0:
            return None
        assert cursor.lastrowid is not None
        return await self._job(cursor.lastrowid)

    async def admit(
        self, new: NewJob, now: datetime, *, reserve_cents: int, cooldown_s: int, decide: Decision
    ) -> Job | Text:
        """Create a queued job, reserving its expected cost, if `decide` allows it.

        The usage `decide` sees and the insert are one transaction, so concurrent requests
        are admitted one after another and no limit is overshot. Returns the job, or the
        refusal `decide` gave.
        """
        o = new.origin
        assert o.guild_id is not None
        async with self._transaction() as db:
            usage = await self._quota_usage(db, o.guild_id, o.user_id, now, cooldown_s)
            if (refusal := decide(usage)) is not None:
                return refusal
            cursor = await db.execute(
                f"{_INSERT_JOB} VALUES ({_JOB_PLACEHOLDERS})",
                _job_values(new, now, reserve_cents=reserve_cents),
            )
            job_id = cursor.lastrowid
        assert job_id is not None
        return await self._job(job_id)

    async def quota_usage(
        self, guild_id: int, user_id: int, now: datetime, cooldown_s: int
    ) -> QuotaUsage:
        """What counts against a user's limits on a server right now."""
        return await self._quota_usage(self._db, guild_id, user_id, now, cooldown_s)

    async def _quota_usage(
        self,
        db: aiosqlite.Connection,
        guild_id: int,
        user_id: int,
        now: datetime,
        cooldown_s: int,
    ) -> QuotaUsage:
        day, month = _ts(day_start(now)), _ts(month_start(now))
        since = min(month, _ts(now) - cooldown_s)
        params = {"guild": guild_id, "user": user_id, "day": day, "month": month}
        (mine,) = await _query(
            db,
            f"""SELECT SUM({_COUNTED} AND created_at >= :day),
                       SUM({_COUNTED} AND created_at >= :month),
                       MAX(CASE WHEN {_COUNTED} THEN created_at END)
                FROM jobs WHERE guild_id = :guild AND user_id = :user AND created_at >= :since""",
            {**params, "since": since},
        )
        ((open_here, open_anywhere),) = await _query(
            db,
            f"""SELECT SUM(guild_id = :guild), COUNT(*) FROM jobs
                WHERE notified = 0 AND state IN {_UNFINISHED} AND user_id = :user""",
            params,
        )
        ((spent,),) = await _query(
            db,
            """SELECT SUM(cost_cents + reserved_cents) FROM jobs
               WHERE guild_id = :guild AND created_at >= :month""",
            params,
        )
        return QuotaUsage(
            today=int(mine[0] or 0),
            month=int(mine[1] or 0),
            open_here=int(open_here or 0),
            open_anywhere=int(open_anywhere or 0),
            last_started_at=_dt(mine[2]),
            guild_month_cents=int(spent or 0),
        )

    async def expected_cost(self, settings: GenerationSettings) -> int | None:
        """The most the API recently charged for a job with these settings, if known."""
        row = await self._fetchone(
            """SELECT MAX(cost_cents) FROM (
                 SELECT cost_cents FROM jobs
                 WHERE prediction_id IS NOT NULL AND duration_s = ? AND resolution = ?
                   AND generate_audio = ?
                 ORDER BY id DESC LIMIT 20)""",
            (settings.duration_s, settings.resolution, settings.generate_audio),
        )
        return None if row[0] is None else int(row[0])

    async def recent_generation_s(
        self, resolution: str, duration_s: int, limit: int
    ) -> list[float]:
        """Generation times (submitted to completed, seconds) of the latest `limit` delivered
        jobs with this resolution and duration, newest first."""
        rows = await self._fetchall(
            """SELECT completed_at - submitted_at FROM jobs
               WHERE state = 'delivered' AND resolution = ? AND duration_s = ?
                 AND submitted_at IS NOT NULL AND completed_at IS NOT NULL
               ORDER BY completed_at DESC LIMIT ?""",
            (resolution, duration_s, limit),
        )
        return [float(row[0]) for row in rows]

    async def cancel_job(self, job_id: int, actor_id: int, now: datetime) -> Job | None:
        """Cancel a job that is not yet being posted; None if it is past that point.

        A reservation is released, except while a submit is on the wire: that one may still be
        charged, so it stands until the answer settles it (see `release_reservation`). A cost
        the API already reported stays.
        """
        row = await self._fetchone(
            f"""UPDATE jobs SET state = 'cancelled', cancelled_by = ?,
                   reserved_cents = CASE WHEN state = 'submitting' THEN reserved_cents ELSE 0 END,
                   finished_at = ?, updated_at = ?
                WHERE id = ? AND state IN {_CANCELLABLE} RETURNING id""",
            (actor_id, _ts(now), _ts(now), job_id),
        )
        return await self._job(row["id"]) if row else None

    async def release_reservation(self, job_id: int) -> None:
        """Drop a job's reservation: it certainly reached the API in no way that costs."""
        await self._set(job_id, reserved_cents=0)

    async def set_mod_log(self, job_id: int, channel_id: int, message_id: int) -> None:
        """Remember where the job's moderation-log entry is, to update it later."""
        await self._set(job_id, mod_log_channel_id=channel_id, mod_log_message_id=message_id)

    async def get_job(self, job_id: int) -> Job | None:
        """Return the job, or None if there is no such id."""
        row = await self._fetchone("SELECT * FROM jobs WHERE id = ?", (job_id,))
        return _job_from_row(row) if row else None

    async def job_state(self, job_id: int) -> JobState | None:
        """Return just the job's state (cheaper than `get_job`), or None if there is no such id."""
        row = await self._fetchone("SELECT state FROM jobs WHERE id = ?", (job_id,))
        return JobState(row["state"]) if row else None

    async def open_jobs(self) -> list[Job]:
        """Jobs whose user has not yet been told the outcome, oldest first."""
        rows = await self._fetchall("SELECT * FROM jobs WHERE notified = 0")
        # Sorted here: ORDER BY id would make SQLite scan the whole table instead of the index.
        return sorted((_job_from_row(row) for row in rows), key=lambda job: job.id)

    async def claim_next_queued(self, max_in_flight: int, max_per_user: int) -> Job | None:
        """Atomically move the oldest queued job that fits both caps to CLAIMED."""
        # One statement, so no other writer can slip between the choice and the claim.
        row = await self._fetchone(
            f"""UPDATE jobs SET state = 'claimed', updated_at = :now
                WHERE id = (
                    SELECT q.id FROM jobs q
                    WHERE q.notified = 0 AND q.state = 'queued'
                      AND (SELECT COUNT(*) FROM jobs f
                           WHERE f.notified = 0 AND f.state IN {_IN_FLIGHT}) < :max_all
                      AND (SELECT COUNT(*) FROM jobs u
                           WHERE u.notified = 0 AND u.state IN {_IN_FLIGHT}
                             AND u.user_id = q.user_id) < :max_user
                    ORDER BY q.id LIMIT 1)
                RETURNING id""",
            {"now": _ts(datetime.now(UTC)), "max_all": max_in_flight, "max_user": max_per_user},
        )
        return await self._job(row["id"]) if row else None

    async def queue_position(self, job_id: int) -> int:
        """1-based place of a queued job in the queue (0 if it is not queued)."""
        (position,) = await self._fetchone(
            """SELECT COUNT(*) FROM jobs
               WHERE notified = 0 AND state = 'queued' AND id <= ?
                 AND EXISTS (SELECT 1 FROM jobs WHERE id = ? AND state = 'queued')""",
            (job_id, job_id),
        )
        return int(position)

    async def move(self, job_id: int, to: JobState, change: JobChange = NO_CHANGE) -> Job | None:
        """Move a job to `to` with the facts of `change`, if its state allows that move.

        The one guarded write of a job's state: it happens only from a state that
        `TRANSITIONS` lets move to `to`, and says whether it did (the job, or None).
        """
        allowed = ", ".join(f"'{state}'" for state in sorted(sources(to)))
        values = {**_change_values(change), "state": str(to), "updated_at": _ts(datetime.now(UTC))}
        assignments = ", ".join(f"{column} = :{column}" for column in values)
        row = await self._fetchone(
            f"UPDATE jobs SET {assignments} WHERE id = :job_id AND state IN ({allowed}) "
            "RETURNING id",
            {**values, "job_id": job_id},
        )
        return await self._job(row["id"]) if row else None

    async def update(self, job_id: int, change: JobChange) -> Job:
        """Write facts about a job without moving its state."""
        values = _change_values(change)
        if values:
            await self._set(job_id, **values)
        return await self._job(job_id)

    async def set_state(self, job_id: int, state: JobState) -> Job:
        """Move a job to `state` (for transitions that carry no other data)."""
        return await self._update(job_id, state=state)

    async def mark_submitted(
        self,
        job_id: int,
        prediction_id: str,
        cost_cents: int,
        estimate_s: tuple[float, float] | None,
        now: datetime,
    ) -> Job:
        """Record the API's acceptance of a job."""
        low, high = estimate_s or (None, None)
        return await self._update(
            job_id,
            state=JobState.SUBMITTED,
            prediction_id=prediction_id,
            cost_cents=cost_cents,
            reserved_cents=0,  # settled: the API said what it costs
            estimate_low_s=low,
            estimate_high_s=high,
            submitted_at=_ts(now),
        )

    async def mark_completed(
        self, job_id: int, output_url: str, cost_cents: int | None, now: datetime
    ) -> Job:
        """Record the clip's URL; the job still has to be delivered."""
        changes: dict[str, Any] = {
            "state": JobState.COMPLETED,
            "output_url": output_url,
            "completed_at": _ts(now),
        }
        if cost_cents is not None:
            changes["cost_cents"] = cost_cents
        return await self._update(job_id, **changes)

    async def mark_delivered(
        self, job_id: int, message_id: int | None, delivered_as: str, now: datetime
    ) -> Job:
        """Record the posted message; the job is finished."""
        return await self._update(
            job_id,
            state=JobState.DELIVERED,
            message_id=message_id,
            delivered_as=delivered_as,
            finished_at=_ts(now),
            notified=1,
            interaction_token=None,
        )

    async def mark_failed(
        self, job_id: int, error: str, cost_cents: int | None, now: datetime
    ) -> Job:
        """Record a failure; the user still has to be told (see `mark_notified`).

        `cost_cents` None keeps the cost known so far; any reservation is released.
        """
        changes: dict[str, Any] = {
            "state": JobState.FAILED,
            "error": error,
            "finished_at": _ts(now),
            "reserved_cents": 0,
        }
        if cost_cents is not None:
            changes["cost_cents"] = cost_cents
        return await self._update(job_id, **changes)

    async def mark_notified(self, job_id: int) -> Job:
        """Record that the user was told how a failed job ended."""
        return await self._update(job_id, notified=1, interaction_token=None)

    async def forget_token(self, job_id: int) -> None:
        """Drop an interaction token that no longer works."""
        await self._set(job_id, interaction_token=None)

    async def set_failure_kind(self, job_id: int, kind: FailureKind) -> Job:
        """Tag a job with why it failed, for admins (e.g. a submit whose outcome is unknown)."""
        return await self._update(job_id, failure_kind=kind)

    async def set_delivery_route(self, job_id: int, route: DeliveryRoute, note: str) -> Job:
        """Record that the result goes out another way than the channel post, and why."""
        return await self._update(job_id, delivered_via=route, delivery_note=note)

    async def mark_post_deleted(self, job_id: int, now: datetime) -> bool:
        """Record that the job's result post was deleted; False if it already was."""
        cursor = await self._db.execute(
            """UPDATE jobs SET post_deleted_at = ?, updated_at = ?
               WHERE id = ? AND post_deleted_at IS NULL""",
            (_ts(now), _ts(now), job_id),
        )
        return cursor.rowcount == 1

    # Usage ----------------------------------------------------------------------------------

    async def usage_report(self, user_id: int, now: datetime, recent: int = 5) -> UsageReport:
        """A user's totals today, this month (UTC) and overall, and their latest jobs."""
        day, month = day_start(now), month_start(now)
        row = await self._fetchone(
            f"""SELECT
                 SUM(state = 'delivered' AND created_at >= :day),
                 SUM(state = 'failed' AND created_at >= :day),
                 SUM(CASE WHEN state = 'delivered' AND created_at >= :day THEN duration_s END),
                 SUM(CASE WHEN created_at >= :day THEN cost_cents END),
                 SUM(state = 'delivered' AND created_at >= :month),
                 SUM(state = 'failed' AND created_at >= :month),
                 SUM(CASE WHEN state = 'delivered' AND created_at >= :month THEN duration_s END),
                 SUM(CASE WHEN created_at >= :month THEN cost_cents END),
                 SUM(state = 'delivered'), SUM(state = 'failed'),
                 SUM(CASE WHEN state = 'delivered' THEN duration_s END), SUM(cost_cents),
                 SUM(state = 'cancelled' AND created_at >= :day),
                 SUM(state = 'cancelled' AND created_at >= :month),
                 SUM(state = 'cancelled'),
                 SUM(state IN {_UNFINISHED})
               FROM jobs WHERE user_id = :user""",
            {"user": user_id, "day": _ts(day), "month": _ts(month)},
        )
        values = [int(v or 0) for v in row]
        cancelled_today, cancelled_month, cancelled_ever = values[12:15]
        rows = await self._fetchall(
            "SELECT * FROM jobs WHERE user_id = ? ORDER BY created_at DESC, id DESC LIMIT ?",
            (user_id, recent),
        )

        return UsageReport(
            today=replace(_totals(values[0:4]), cancelled=cancelled_today),
            month=replace(_totals(values[4:8]), cancelled=cancelled_month),
            all_time=replace(_totals(values[8:12]), cancelled=cancelled_ever),
            in_progress=values[15],
            recent=tuple(_job_from_row(r) for r in rows),
        )

    async def guild_usage(
        self, guild_id: int, since: datetime | None, top: int = 10
    ) -> GuildUsageReport:
        """A server's totals since `since` (None: all time) and its `top` users by spend."""
        params = {"guild": guild_id, "since": _ts(since) if since else 0.0, "top": top}
        where = "WHERE guild_id = :guild AND created_at >= :since"
        (totals,) = await self._fetchall(f"SELECT {_TOTALS} FROM jobs {where}", params)
        rows = await self._fetchall(
            f"""SELECT user_id, {_TOTALS} FROM jobs {where}
                GROUP BY user_id ORDER BY 5 DESC, 2 DESC, user_id LIMIT :top""",
            params,
        )
        return GuildUsageReport(
            since=since,
            totals=_totals(totals),
            top_users=tuple(UserTotals(row["user_id"], _totals(row[1:])) for row in rows),
        )

    async def guild_jobs(self, guild_id: int, since: datetime | None) -> AsyncIterator[Job]:
        """Every job of a server since `since`, oldest first, read in batches."""
        # Keyset paging in the order of `jobs_by_guild_time`: each batch starts where the last
        # ended instead of re-reading the period.
        after: tuple[float, int] = (_ts(since) if since else 0.0, -1)
        while True:
            rows = await self._fetchall(
                """SELECT * FROM jobs WHERE guild_id = ? AND (created_at, id) > (?, ?)
                   ORDER BY created_at, id LIMIT 500""",
                (guild_id, *after),
            )
            for row in rows:
                yield _job_from_row(row)
            if len(rows) < 500:
                return
            after = (rows[-1]["created_at"], rows[-1]["id"])

    # History ---------------------------------------------------------------------------------

    async def history_page(
        self, guild_id: int, user_id: int, *, size: int, before: int | None, after: int | None
    ) -> HistoryPage:
        """A page of `size` of a member's jobs on a server, newest first: the newest, or those
        just older than job `before`, or those just newer than job `after`."""
        # Keyset paging along `jobs_by_guild_user_time` (its rows end in the id): a page starts
        # at its neighbour's key, so jobs started meanwhile shift no page, and no page re-reads
        # the ones before it.
        params = {"guild": guild_id, "user": user_id, "size": size, "cursor": before or after}
        mine = "guild_id = :guild AND user_id = :user"
        cursor_key = "((SELECT created_at FROM jobs WHERE id = :cursor), :cursor)"
        if after is not None:
            rows = await self._fetchall(
                f"""SELECT * FROM jobs WHERE {mine} AND (created_at, id) > {cursor_key}
                    ORDER BY created_at, id LIMIT :size""",
                params,
            )
            rows.reverse()
        else:
            older = f"AND (created_at, id) < {cursor_key}" if before is not None else ""
            rows = await self._fetchall(
                f"""SELECT * FROM jobs WHERE {mine} {older}
                    ORDER BY created_at DESC, id DESC LIMIT :size""",
                params,
            )
        newer = 0
        if rows:
            (newer,) = await self._fetchone(
                f"SELECT COUNT(*) FROM jobs WHERE {mine} AND (created_at, id) > (:at, :id)",
                {**params, "at": rows[0]["created_at"], "id": rows[0]["id"]},
            )
        (total,) = await self._fetchone(f"SELECT COUNT(*) FROM jobs WHERE {mine}", params)
        return HistoryPage(tuple(_job_from_row(r) for r in rows), int(newer), int(total))

    async def job_choices(
        self, guild_id: int, user_id: int, *, id_prefix: str, text: str, limit: int
    ) -> list[Job]:
        """A member's newest jobs on a server whose id starts with `id_prefix` and whose
        prompt contains `text` (any case); empty strings match everything."""
        escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        rows = await self._fetchall(
            """SELECT * FROM jobs WHERE guild_id = :guild AND user_id = :user
                 AND CAST(id AS TEXT) LIKE :prefix || '%'
                 AND prompt LIKE '%' || :text || '%' ESCAPE '\\'
               ORDER BY created_at DESC, id DESC LIMIT :limit""",
            {
                "guild": guild_id,
                "user": user_id,
                "prefix": id_prefix,
                "text": escaped,
                "limit": limit,
            },
        )
        return [_job_from_row(row) for row in rows]

    # Members' settings ------------------------------------------------------------------------

    async def mention_on_done(self, user_id: int) -> bool:
        """Whether the member wants to be mentioned on their result posts (default yes)."""
        row = await self._fetchone(
            "SELECT notify_on_done FROM user_prefs WHERE user_id = ?", (user_id,)
        )
        return True if row is None else bool(row["notify_on_done"])

    async def set_mention_on_done(self, user_id: int, enabled: bool, now: datetime) -> None:
        """Turn the mention on the member's result posts on or off."""
        await self._db.execute(
            """INSERT INTO user_prefs (user_id, notify_on_done, updated_at) VALUES (?, ?, ?)
               ON CONFLICT (user_id) DO UPDATE SET notify_on_done = excluded.notify_on_done,
                   updated_at = excluded.updated_at""",
            (user_id, enabled, _ts(now)),
        )

    # Open forms -------------------------------------------------------------------------------

    async def save_form(
        self, key: str, user_id: int, image: ImageInput, expires_at: datetime, now: datetime
    ) -> None:
        """Remember which image the form `key` is for; forms past their time are dropped."""
        await self._db.execute("DELETE FROM open_forms WHERE expires_at <= ?", (_ts(now),))
        await self._db.execute(
            "INSERT INTO open_forms (key, user_id, image, expires_at) VALUES (?, ?, ?, ?)",
            (key, user_id, _IMAGE_JSON.dump_json(image).decode(), _ts(expires_at)),
        )

    async def take_form(self, key: str, user_id: int, now: datetime) -> ImageInput | None:
        """The image of the form `key`, once, to the member who opened it while it lasts;
        forms past their time are dropped."""
        await self._db.execute("DELETE FROM open_forms WHERE expires_at <= ?", (_ts(now),))
        row = await self._fetchone(
            """DELETE FROM open_forms WHERE key = ? AND user_id = ? AND expires_at > ?
               RETURNING image""",
            (key, user_id, _ts(now)),
        )
        return _IMAGE_JSON.validate_json(row["image"]) if row else None

    # Data retention ---------------------------------------------------------------------------

    async def redact_user(self, user_id: int) -> int:
        """Erase the prompts and links of a user's finished jobs, and drop their open forms;
        returns how many jobs."""
        await self._db.execute("DELETE FROM open_forms WHERE user_id = ?", (user_id,))
        return await self._redact("user_id = ?", (user_id,))

    async def redact_before(self, cutoff: datetime) -> int:
        """Erase the prompts and links of finished jobs created before `cutoff`."""
        return await self._redact("created_at < ?", (_ts(cutoff),))

    async def _redact(self, where: str, params: tuple[Any, ...]) -> int:
        # Counts, durations and costs stay, so quotas and totals remain true.
        cursor = await self._db.execute(
            f"""UPDATE jobs SET prompt = '', image_url = '', last_image_url = NULL,
                   output_url = NULL, redacted = 1
                WHERE {where} AND notified = 1 AND redacted = 0""",
            params,
        )
        return cursor.rowcount

    # Server configuration ---------------------------------------------------------------------

    async def guild_config(self, guild_id: int) -> GuildConfig:
        """A server's configuration (the defaults if its admins never changed anything)."""
        row = await self._fetchone(
            "SELECT config FROM guild_config WHERE guild_id = ?", (guild_id,)
        )
        return GuildConfig.model_validate_json(row["config"]) if row else GuildConfig()

    async def update_guild_config(
        self,
        guild_id: int,
        change: Callable[[GuildConfig], GuildConfig],
        audit: AuditEntry,
    ) -> GuildConfig:
        """Apply `change` to a server's configuration and record who did it, atomically.

        `change` may raise to refuse; nothing is written then.
        """
        async with self._transaction() as db:
            rows = await _query(
                db, "SELECT config FROM guild_config WHERE guild_id = ?", (guild_id,)
            )
            current = GuildConfig.model_validate_json(rows[0]["config"]) if rows else GuildConfig()
            updated = change(current)
            await db.execute(
                """INSERT INTO guild_config (guild_id, config, updated_at) VALUES (?, ?, ?)
                   ON CONFLICT (guild_id) DO UPDATE
                   SET config = excluded.config, updated_at = excluded.updated_at""",
                (guild_id, updated.model_dump_json(), _ts(audit.at)),
            )
            await _insert_audit(db, guild_id, audit)
        return updated

    async def get_block(self, guild_id: int, user_id: int) -> Block | None:
        """The member's block on this server, if any."""
        row = await self._fetchone(
            "SELECT * FROM guild_blocks WHERE guild_id = ? AND user_id = ?", (guild_id, user_id)
        )
        return _block_from_row(row) if row else None

    async def blocks(self, guild_id: int) -> list[Block]:
        """Every blocked member of a server, most recent first."""
        rows = await self._fetchall(
            "SELECT * FROM guild_blocks WHERE guild_id = ? ORDER BY blocked_at DESC", (guild_id,)
        )
        return [_block_from_row(row) for row in rows]

    async def block_user(self, guild_id: int, block: Block) -> None:
        """Block a member (replacing an earlier block's reason), with an audit entry."""
        audit = AuditEntry(
            block.blocked_by, "block", f"<@{block.user_id}>: {block.reason}", block.blocked_at
        )
        async with self._transaction() as db:
            await db.execute(
                """INSERT INTO guild_blocks (guild_id, user_id, reason, blocked_by, blocked_at)
                   VALUES (?, ?, ?, ?, ?)
                   ON CONFLICT (guild_id, user_id) DO UPDATE SET reason = excluded.reason,
                       blocked_by = excluded.blocked_by, blocked_at = excluded.blocked_at""",
                (guild_id, block.user_id, block.reason, block.blocked_by, _ts(block.blocked_at)),
            )
            await _insert_audit(db, guild_id, audit)

    async def unblock_user(self, guild_id: int, user_id: int, audit: AuditEntry) -> bool:
        """Lift a block, with an audit entry; False if the member was not blocked."""
        async with self._transaction() as db:
            cursor = await db.execute(
                "DELETE FROM guild_blocks WHERE guild_id = ? AND user_id = ?", (guild_id, user_id)
            )
            if cursor.rowcount == 0:
                return False
            await _insert_audit(db, guild_id, audit)
        return True

    async def audit_log(self, guild_id: int, limit: int) -> list[AuditEntry]:
        """A server's latest configuration changes, newest first."""
        rows = await self._fetchall(
            "SELECT * FROM guild_audit WHERE guild_id = ? ORDER BY id DESC LIMIT ?",
            (guild_id, limit),
        )
        return [
            AuditEntry(row["actor_id"], row["action"], row["detail"], _at(row["at"]))
            for row in rows
        ]

    # Meta -----------------------------------------------------------------------------------

    async def get_meta(self, key: str) -> str | None:
        """Read a deployment fact."""
        row = await self._fetchone("SELECT value FROM meta WHERE key = ?", (key,))
        return row["value"] if row else None

    async def set_meta(self, key: str, value: str) -> None:
        """Write a deployment fact."""
        await self._db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    # Helpers --------------------------------------------------------------------------------

    async def _update(self, job_id: int, **changes: Any) -> Job:
        await self._set(job_id, **changes)
        return await self._job(job_id)

    async def _set(self, job_id: int, **changes: Any) -> None:
        # Column names come from this module's own keyword arguments, never from input.
        changes["updated_at"] = _ts(datetime.now(UTC))
        assignments = ", ".join(
            # A cancelled job stays cancelled whatever step was still under way.
            "state = CASE WHEN state = 'cancelled' THEN state ELSE :state END"
            if column == "state"
            else f"{column} = :{column}"
            for column in changes
        )
        await self._db.execute(
            f"UPDATE jobs SET {assignments} WHERE id = :job_id", {**changes, "job_id": job_id}
        )

    async def _job(self, job_id: int) -> Job:
        job = await self.get_job(job_id)
        if job is None:
            raise LookupError(f"job {job_id} does not exist")
        return job

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """An immediate (write-locked) transaction on the dedicated connection."""
        async with self._tx_lock:
            await self._tx.execute("BEGIN IMMEDIATE")
            try:
                yield self._tx
            except BaseException:
                await self._tx.execute("ROLLBACK")
                raise
            await self._tx.execute("COMMIT")

    async def _fetchone(self, sql: str, params: Iterable[Any] | dict[str, Any] = ()) -> Any:
        rows = await self._fetchall(sql, params)
        return rows[0] if rows else None

    async def _fetchall(self, sql: str, params: Iterable[Any] | dict[str, Any] = ()) -> list[Any]:
        return await _query(self._db, sql, params)


def _migrations() -> list[tuple[int, str]]:
    folder = resources.files("bot.storage") / "migrations" / "sqlite"
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            found.append((int(entry.name.split("_", 1)[0]), entry.read_text(encoding="utf-8")))
    return sorted(found)


# Reports count every job that ended, charged or not; only the limits skip uncharged ones.
_TOTALS = """SUM(state = 'delivered'), SUM(state = 'failed'),
    SUM(CASE WHEN state = 'delivered' THEN duration_s END), SUM(cost_cents + reserved_cents),
    SUM(state = 'cancelled')"""


async def _check_usable(db: aiosqlite.Connection, path: Path) -> None:
    try:
        ((current,),) = await _query(db, "PRAGMA user_version")
        ((verdict,),) = await _query(db, "PRAGMA quick_check")
    except sqlite3.DatabaseError as exc:
        raise DatabaseUnusableError(
            f"{path} is not a readable SQLite database ({exc}). It was left untouched; "
            "restore it from a backup or point DATABASE_URL at another file."
        ) from exc
    if verdict != "ok":
        raise DatabaseUnusableError(
            f"{path} is damaged (integrity check: {verdict}). It was left untouched; "
            "restore it from a backup or point DATABASE_URL at another file."
        )
    known = max(number for number, _ in _migrations())
    if current > known:
        raise DatabaseUnusableError(
            f"{path} has schema version {current}, but this version of the bot knows only "
            f"up to {known}: it was written by a newer bot. It was left untouched; run the "
            "newer version, or restore a backup made before the upgrade."
        )


async def _query(
    db: aiosqlite.Connection, sql: str, params: Iterable[Any] | dict[str, Any] = ()
) -> list[Any]:
    # Run and drain the statement in one step: other tasks share the connection, and a
    # write landing between execute and fetch could show a moved row twice.
    return list(await db.execute_fetchall(sql, params))


def _totals(values: Iterable[Any]) -> UsageTotals:
    return UsageTotals(*(int(v or 0) for v in values))


async def _insert_audit(db: aiosqlite.Connection, guild_id: int, audit: AuditEntry) -> None:
    await db.execute(
        "INSERT INTO guild_audit (guild_id, actor_id, action, detail, at) VALUES (?, ?, ?, ?, ?)",
        (guild_id, audit.actor_id, audit.action, audit.detail, _ts(audit.at)),
    )


def _job_values(new: NewJob, now: datetime, *, reserve_cents: int) -> tuple[Any, ...]:
    """The values of `_INSERT_JOB`, in its column order."""
    o, s = new.origin, new.settings
    return (
        JobState.QUEUED,
        o.guild_id,
        o.channel_id,
        o.user_id,
        o.application_id,
        o.interaction_token,
        _ts(o.interaction_expires_at),
        o.upload_limit_bytes,
        o.locale,
        o.guild_locale,
        new.prompt,
        new.image_url,
        new.last_image_url,
        s.duration_s,
        s.resolution,
        s.aspect_ratio,
        s.camera_fixed,
        s.seed,
        s.generate_audio,
        new.nonce,
        _ts(now),
        _ts(now),
        reserve_cents,
        new.kind,
        new.parent_job_id,
        new.model,
    )


def _change_values(change: JobChange) -> dict[str, Any]:
    """The columns a `JobChange` writes (its None fields leave theirs alone)."""
    values: dict[str, Any] = {}
    for name in (
        "prediction_id",
        "cost_cents",
        "reserved_cents",
        "output_url",
        "error",
        "message_id",
        "delivered_as",
        "failure_kind",
        "delivered_via",
        "delivery_note",
        "mod_log_channel_id",
        "mod_log_message_id",
    ):
        if (value := getattr(change, name)) is not None:
            values[name] = value
    for name in ("submitted_at", "completed_at", "finished_at"):
        if (moment := getattr(change, name)) is not None:
            values[name] = _ts(moment)
    if change.estimate_s is not None:
        values["estimate_low_s"], values["estimate_high_s"] = change.estimate_s
    if change.notified:
        values["notified"] = 1
    if change.drop_token:
        values["interaction_token"] = None
    return values


def _block_from_row(row: sqlite3.Row) -> Block:
    return Block(row["user_id"], row["reason"], row["blocked_by"], _at(row["blocked_at"]))


def _ts(moment: datetime) -> float:
    return moment.timestamp()


def _dt(value: float | None) -> datetime | None:
    return None if value is None else _at(value)


def _at(value: float) -> datetime:
    return datetime.fromtimestamp(value, UTC)


def _job_from_row(row: sqlite3.Row) -> Job:
    return Job(
        id=row["id"],
        state=JobState(row["state"]),
        origin=Origin(
            guild_id=row["guild_id"],
            channel_id=row["channel_id"],
            user_id=row["user_id"],
            application_id=row["application_id"],
            interaction_token=row["interaction_token"] or "",
            interaction_expires_at=datetime.fromtimestamp(row["interaction_expires_at"], UTC),
            upload_limit_bytes=row["upload_limit_bytes"],
            locale=row["locale"],
            guild_locale=row["guild_locale"],
        ),
        prompt=row["prompt"],
        image_url=row["image_url"],
        last_image_url=row["last_image_url"],
        model=row["model"],
        settings=GenerationSettings(
            duration_s=row["duration_s"],
            resolution=row["resolution"],
            aspect_ratio=row["aspect_ratio"],
            camera_fixed=bool(row["camera_fixed"]),
            seed=row["seed"],
            generate_audio=bool(row["generate_audio"]),
        ),
        nonce=row["nonce"],
        created_at=datetime.fromtimestamp(row["created_at"], UTC),
        prediction_id=row["prediction_id"],
        estimate_low_s=row["estimate_low_s"],
        estimate_high_s=row["estimate_high_s"],
        cost_cents=row["cost_cents"],
        submitted_at=_dt(row["submitted_at"]),
        completed_at=_dt(row["completed_at"]),
        output_url=row["output_url"],
        error=row["error"],
        message_id=row["message_id"],
        delivered_as=row["delivered_as"],
        finished_at=_dt(row["finished_at"]),
        notified=bool(row["notified"]),
        reserved_cents=row["reserved_cents"],
        cancelled_by=row["cancelled_by"],
        mod_log_channel_id=row["mod_log_channel_id"],
        mod_log_message_id=row["mod_log_message_id"],
        redacted=bool(row["redacted"]),
        failure_kind=FailureKind(row["failure_kind"]) if row["failure_kind"] else None,
        delivered_via=DeliveryRoute(row["delivered_via"]) if row["delivered_via"] else None,
        delivery_note=row["delivery_note"],
        kind=JobKind(row["kind"]),
        parent_job_id=row["parent_job_id"],
        post_deleted_at=_dt(row["post_deleted_at"]),
    )
