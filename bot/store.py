"""Persistence: every SQL statement the bot runs, behind the small `Store` interface.

The interface is what the services use; `SqliteStore` is today's implementation. A shared
PostgreSQL implementation for several bot processes would provide the same methods; there
`claim_next_queued` must serialise its count-then-claim across processes (an advisory lock
around the statement), and `create_job` its per-user count likewise.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

import aiosqlite

from bot.models import (
    DeliveryRoute,
    FailureKind,
    GenerationSettings,
    Job,
    JobState,
    NewJob,
    Origin,
    UsageReport,
    UsageTotals,
)

log = logging.getLogger(__name__)

_IN_FLIGHT = "('claimed', 'submitting', 'submitted')"
# Listed rather than written as NOT IN (...), so SQLite can search the `jobs_open` index.
_UNFINISHED = "('queued', 'claimed', 'submitting', 'submitted', 'completed', 'delivering')"


class DatabaseUnusableError(Exception):
    """The database file cannot be used as it is; the bot must stop rather than overwrite it."""


class Store(Protocol):
    """What the services need from storage."""

    async def create_job(
        self, new: NewJob, now: datetime, *, max_open_per_user: int
    ) -> Job | None: ...
    async def get_job(self, job_id: int) -> Job | None: ...
    async def open_jobs(self) -> list[Job]: ...
    async def claim_next_queued(self, max_in_flight: int, max_per_user: int) -> Job | None: ...
    async def queue_position(self, job_id: int) -> int: ...
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
    async def get_meta(self, key: str) -> str | None: ...
    async def set_meta(self, key: str, value: str) -> None: ...
    async def set_failure_kind(self, job_id: int, kind: FailureKind) -> Job: ...
    async def set_delivery_route(self, job_id: int, route: DeliveryRoute, note: str) -> Job: ...


class SqliteStore:
    """`Store` on one SQLite file in WAL mode, with numbered migrations applied at open."""

    def __init__(self, connection: aiosqlite.Connection) -> None:
        self._db = connection

    @classmethod
    async def open(cls, path: Path) -> SqliteStore:
        """Open (creating if needed) the database at `path` and bring its schema up to date.

        Raises DatabaseUnusableError, leaving the file untouched, when it is not a readable
        SQLite database or was written by a newer version of the bot.
        """
        path.parent.mkdir(parents=True, exist_ok=True)
        connection = await aiosqlite.connect(path, isolation_level=None)
        connection.row_factory = sqlite3.Row
        store = cls(connection)
        try:
            # Checked before anything writes: WAL mode or a migration would modify the file.
            await store._check_usable(path)
            await connection.execute("PRAGMA journal_mode = WAL")
            # FULL: a job's "submit on the wire" mark must survive a power cut, or the job
            # could be sent twice; the bot writes far too little for the cost to matter.
            await connection.execute("PRAGMA synchronous = FULL")
            await connection.execute("PRAGMA busy_timeout = 5000")
            await store._migrate()
        except BaseException:
            await connection.close()  # its worker thread would otherwise keep the process alive
            raise
        return store

    async def close(self) -> None:
        """Close the connection."""
        await self._db.close()

    async def __aenter__(self) -> SqliteStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _check_usable(self, path: Path) -> None:
        try:
            (current,) = await self._fetchone("PRAGMA user_version")
            (verdict,) = await self._fetchone("PRAGMA quick_check")
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
        o, s = new.origin, new.settings
        # Count and insert in one statement, so concurrent requests cannot both squeeze in.
        cursor = await self._db.execute(
            f"""INSERT INTO jobs (state, guild_id, channel_id, user_id, application_id,
                   interaction_token, interaction_expires_at, upload_limit_bytes, prompt,
                   image_url, last_image_url, duration_s, resolution, aspect_ratio,
                   camera_fixed, seed, generate_audio, nonce, created_at, updated_at)
               SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?
               WHERE (SELECT COUNT(*) FROM jobs
                      WHERE notified = 0 AND state IN {_UNFINISHED}
                        AND user_id = ?) < ?""",
            (
                JobState.QUEUED,
                o.guild_id,
                o.channel_id,
                o.user_id,
                o.application_id,
                o.interaction_token,
                _ts(o.interaction_expires_at),
                o.upload_limit_bytes,
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
                o.user_id,
                max_open_per_user,
            ),
        )
        if cursor.rowcount == 0:
            return None
        assert cursor.lastrowid is not None
        return await self._job(cursor.lastrowid)

    async def get_job(self, job_id: int) -> Job | None:
        """Return the job, or None if there is no such id."""
        row = await self._fetchone("SELECT * FROM jobs WHERE id = ?", (job_id,))
        return _job_from_row(row) if row else None

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
        """Record a failure; the user still has to be told (see `mark_notified`)."""
        changes: dict[str, Any] = {
            "state": JobState.FAILED,
            "error": error,
            "finished_at": _ts(now),
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

    # Usage ----------------------------------------------------------------------------------

    async def usage_report(self, user_id: int, now: datetime, recent: int = 5) -> UsageReport:
        """A user's totals today, this month (UTC) and overall, and their latest jobs."""
        day = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        month = day.replace(day=1)
        row = await self._fetchone(
            """SELECT
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
                 SUM(state NOT IN ('delivered', 'failed'))
               FROM jobs WHERE user_id = :user""",
            {"user": user_id, "day": _ts(day), "month": _ts(month)},
        )
        values = [int(v or 0) for v in row]
        rows = await self._fetchall(
            "SELECT * FROM jobs WHERE user_id = ? ORDER BY created_at DESC, id DESC LIMIT ?",
            (user_id, recent),
        )
        return UsageReport(
            today=UsageTotals(*values[0:4]),
            month=UsageTotals(*values[4:8]),
            all_time=UsageTotals(*values[8:12]),
            in_progress=values[12],
            recent=tuple(_job_from_row(r) for r in rows),
        )

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
        assignments = ", ".join(f"{column} = :{column}" for column in changes)
        await self._db.execute(
            f"UPDATE jobs SET {assignments} WHERE id = :job_id", {**changes, "job_id": job_id}
        )

    async def _job(self, job_id: int) -> Job:
        job = await self.get_job(job_id)
        if job is None:
            raise LookupError(f"job {job_id} does not exist")
        return job

    async def _fetchone(self, sql: str, params: Iterable[Any] | dict[str, Any] = ()) -> Any:
        rows = await self._fetchall(sql, params)
        return rows[0] if rows else None

    async def _fetchall(self, sql: str, params: Iterable[Any] | dict[str, Any] = ()) -> list[Any]:
        # Run and drain the statement in one step: other tasks share this connection, and a
        # write landing between execute and fetch could show a moved row twice.
        return list(await self._db.execute_fetchall(sql, params))


def _migrations() -> list[tuple[int, str]]:
    folder = resources.files("bot") / "migrations"
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            found.append((int(entry.name.split("_", 1)[0]), entry.read_text(encoding="utf-8")))
    return sorted(found)


def _ts(moment: datetime) -> float:
    return moment.timestamp()


def _dt(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


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
        ),
        prompt=row["prompt"],
        image_url=row["image_url"],
        last_image_url=row["last_image_url"],
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
        failure_kind=FailureKind(row["failure_kind"]) if row["failure_kind"] else None,
        delivered_via=DeliveryRoute(row["delivered_via"]) if row["delivered_via"] else None,
        delivery_note=row["delivery_note"],
    )
