"""Jobs: admission, the queue's claims, guarded state moves and lookups.

Every state set a statement uses comes from `bot.jobs.model`, so the SQL and the state machine
cannot disagree. Statements are built once, here, with bound parameters: SQLAlchemy compiles
each shape once and reuses it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy import bindparam, func

from bot.guilds.model import QuotaUsage
from bot.i18n.text import Text
from bot.jobs.model import (
    CANCELLABLE,
    ENDED_WITHOUT_CLIP,
    IN_FLIGHT,
    MAKING,
    NO_CHANGE,
    UNFINISHED,
    GenerationSettings,
    Job,
    JobChange,
    JobState,
    Lease,
    LeaseLostError,
    NewJob,
    Takeable,
    Takeover,
    sources,
)
from bot.periods import day_start, month_start
from bot.storage import rows
from bot.storage.clock import db_now
from bot.storage.database import Database, Session
from bot.storage.protocols import Decision
from bot.storage.schema import jobs

j = jobs.c

#: Jobs whose requester has not been told the outcome: a small set however large the history
#: grows (the partial index `jobs_open`). The states are listed rather than negated (NOT IN), so
#: SQLite can search that index.
_OPEN_UNFINISHED = sa.and_(j.notified == False, j.state.in_(sorted(UNFINISHED)))  # noqa: E712
#: Jobs that count against limits: all but those that ended without the API charging for them.
_COUNTED = sa.or_(j.state.not_in(sorted(ENDED_WITHOUT_CLIP)), j.cost_cents > 0)

_INSERT = sa.insert(jobs).returning(*j)
_BY_ID = sa.select(jobs).where(j.id == bindparam("job_id"))
_STATE_BY_ID = sa.select(j.state).where(j.id == bindparam("job_id"))
#: A group's jobs in their order (index `jobs_by_group`).
_GROUP = sa.select(jobs).where(j.group_id == bindparam("group")).order_by(j.group_index)
_OPEN = sa.select(jobs).where(j.notified == False)  # noqa: E712 - renders `notified = 0`
#: Unfinished jobs by state, for the metrics: read from the partial index `jobs_open` alone.
_UNFINISHED_BY_STATE = sa.select(j.state, func.count()).where(_OPEN_UNFINISHED).group_by(j.state)

_USAGE_MINE = sa.select(
    func.count().filter(_COUNTED, j.created_at >= bindparam("day")),
    func.count().filter(_COUNTED, j.created_at >= bindparam("month")),
    func.max(j.created_at).filter(_COUNTED),
).where(
    j.guild_id == bindparam("guild"),
    j.user_id == bindparam("user"),
    j.created_at >= bindparam("since"),
)
_USAGE_OPEN = sa.select(func.count().filter(j.guild_id == bindparam("guild")), func.count()).where(
    _OPEN_UNFINISHED, j.user_id == bindparam("user")
)
_USAGE_SPENT = sa.select(func.sum(j.cost_cents + j.reserved_cents)).where(
    j.guild_id == bindparam("guild"), j.created_at >= bindparam("month")
)

# The price of a model with these settings: its latest charged jobs with them (index
# `jobs_by_price_settings`).
_recent_prices = (
    sa.select(j.cost_cents)
    .where(
        j.prediction_id.is_not(None),
        j.model == bindparam("model"),
        j.duration_s == bindparam("duration_s"),
        j.resolution == bindparam("resolution"),
        j.generate_audio == bindparam("generate_audio"),
    )
    .order_by(j.id.desc())
    .limit(20)
    .subquery()
)
_EXPECTED_COST = sa.select(func.max(_recent_prices.c.cost_cents))

# Read from the covering index `jobs_by_eta_settings` alone, latest first: no sort step.
_GENERATION_TIMES = (
    sa.select(j.completed_at - j.submitted_at)
    .where(
        j.state == JobState.DELIVERED.value,
        j.model == bindparam("model"),
        j.resolution == bindparam("resolution"),
        j.duration_s == bindparam("duration_s"),
        j.submitted_at.is_not(None),
        j.completed_at.is_not(None),
    )
    .order_by(j.completed_at.desc())
    .limit(bindparam("limit"))
)

# The oldest queued job that fits both in-flight caps, in one statement, so no other writer can
# slip between the choice and the claim (on PostgreSQL, with the claim lock held: see
# `claim_next_queued`).
_queued, _flying, _users_flying = jobs.alias("q"), jobs.alias("f"), jobs.alias("u")
assert JobState.QUEUED in sources(JobState.CLAIMED)
_in_flight_all = (
    sa.select(func.count())
    .where(_flying.c.notified == False, _flying.c.state.in_(sorted(IN_FLIGHT)))  # noqa: E712
    .scalar_subquery()
)
_in_flight_user = (
    sa.select(func.count())
    .where(
        _users_flying.c.notified == False,  # noqa: E712
        _users_flying.c.state.in_(sorted(IN_FLIGHT)),
        _users_flying.c.user_id == _queued.c.user_id,
    )
    .scalar_subquery()
)
_next_queued = (
    sa.select(_queued.c.id)
    .where(
        _queued.c.notified == False,  # noqa: E712
        _queued.c.state == JobState.QUEUED.value,
        _in_flight_all < bindparam("max_all"),
        _in_flight_user < bindparam("max_user"),
    )
    .order_by(_queued.c.id)
    .limit(1)
    .scalar_subquery()
)
#: A lease as a process takes or renews it, by the database's clock.
_ME = bindparam("me", type_=sa.Text)
_LEASE_UNTIL = db_now() + bindparam("ttl_s", type_=sa.Float)
_CLAIM = (
    sa.update(jobs)
    # The state again: a row another process changed meanwhile is read anew against it.
    .where(j.id == _next_queued, j.state == JobState.QUEUED.value)
    .values(
        state=JobState.CLAIMED.value,
        updated_at=bindparam("now"),
        owner=_ME,
        epoch=j.epoch + 1,
        lease_until=_LEASE_UNTIL,
    )
    .returning(*j)
)

_me = jobs.alias("me")
_QUEUE_POSITION = sa.select(func.count()).where(
    j.notified == False,  # noqa: E712
    j.state == JobState.QUEUED.value,
    j.id <= bindparam("job_id"),
    sa.exists().where(_me.c.id == bindparam("job_id"), _me.c.state == JobState.QUEUED.value),
)

#: The one guarded compare-and-set state write, one statement per target state: the SET clause
#: is the state, `updated_at` and the facts given with it (the parameters named like columns),
#: and the WHERE clause lets only the states `TRANSITIONS` allows to move there.
_MOVES = {
    to: sa.update(jobs)
    .where(j.id == bindparam("job_id"), j.state.in_(sorted(sources(to))))
    .returning(*j)
    for to in JobState
}
# Back in the queue, a job holds no lease: whichever process has a free slot claims it.
_MOVES[JobState.QUEUED] = _MOVES[JobState.QUEUED].values(owner=None, lease_until=None)
#: The same moves fenced: only the holder of the job's lease at `fence` may make them.
_FENCED_MOVES = {to: move.where(j.epoch == bindparam("fence")) for to, move in _MOVES.items()}
_UPDATE = sa.update(jobs).where(j.id == bindparam("job_id")).returning(*j)
_FENCED_UPDATE = _UPDATE.where(j.epoch == bindparam("fence"))
_EPOCH_BY_ID = sa.select(j.epoch).where(j.id == bindparam("job_id"))

# Leases. Only open jobs hold one that matters (the partial index `jobs_leases`); queued jobs
# hold none.
_NOT_NOTIFIED = j.notified == False  # noqa: E712
_RENEW = sa.update(jobs).where(_NOT_NOTIFIED, j.owner == _ME).values(lease_until=_LEASE_UNTIL)
_RELEASE = sa.update(jobs).where(_NOT_NOTIFIED, j.owner == _ME).values(lease_until=db_now())
#: Which leases a takeover takes: those of other processes that ran out (its own it renews: a
#: step of this process may still be at work on such a job); at start, also this process's own
#: under a stable name; on a database no other process uses, every one.
_EXPIRED = j.lease_until < db_now()
_TAKEABLE = {
    "expired": sa.and_(_EXPIRED, j.owner.is_distinct_from(_ME)),
    "expired_or_mine": sa.or_(_EXPIRED, j.owner == _ME),
    # Every job past the queue, leased or not (queued jobs are the dispatcher's).
    "every": j.state != JobState.QUEUED.value,
}
_LEASED = {
    which: sa.select(j.id, j.owner).where(_NOT_NOTIFIED, takeable)
    for which, takeable in _TAKEABLE.items()
}


def _take_over(takeable: sa.ColumnElement[bool]) -> sa.Update:
    """Take up to `limit` leases: each gets this process as owner, a fresh lease and the next
    epoch, so the previous holder's writes are refused from now on. On PostgreSQL the rows are
    chosen in a materialised CTE with FOR UPDATE SKIP LOCKED (as Oban and River do): two
    processes sweeping at once take disjoint jobs, and LIMIT bounds the UPDATE. SQLite, one
    writer at a time, needs neither (SQLAlchemy renders no lock clause there)."""
    chosen = (
        sa.select(j.id)
        .where(_NOT_NOTIFIED, takeable)
        .order_by(j.id)
        .limit(bindparam("limit"))
        .with_for_update(skip_locked=True)
        .cte("takeable")
        .prefix_with("MATERIALIZED", dialect="postgresql")
    )
    return (
        sa.update(jobs)
        .where(j.id.in_(sa.select(chosen.c.id)))
        .values(owner=_ME, epoch=j.epoch + 1, lease_until=_LEASE_UNTIL)
        .returning(*j)
        .add_cte(chosen)
    )


_TAKE_OVER = {which: _take_over(takeable) for which, takeable in _TAKEABLE.items()}
#: A group of variations none of which is still being made: its post is to be made, by
#: whichever process takes every unsettled variation's lease (one writer for the group). A
#: variation this process holds already keeps its epoch: its own steps still at work on it
#: (the answer to a submit cut off by a cancel, say) must not find their writes refused.
#: Not taken: a variation cancelled with its submit still on the wire at a live process, which
#: records the submit's answer (its cost) under its own lease when it comes.
_SUBMIT_ON_THE_WIRE_ELSEWHERE = sa.and_(
    j.state == JobState.CANCELLED.value,
    j.prediction_id.is_(None),
    j.reserved_cents > 0,
    j.owner.is_distinct_from(_ME),
    func.coalesce(j.lease_until, 0) > db_now(),
)
_ADOPT_GROUP = (
    sa.update(jobs)
    .where(
        j.group_id == bindparam("group"),
        _NOT_NOTIFIED,
        j.state.not_in(sorted(MAKING)),
        sa.not_(_SUBMIT_ON_THE_WIRE_ELSEWHERE),
    )
    .values(
        owner=_ME,
        epoch=sa.case((j.owner.is_distinct_from(_ME), j.epoch + 1), else_=j.epoch),
        lease_until=_LEASE_UNTIL,
    )
    .returning(*j)
)

# A reservation is released, except while a submit is on the wire: that one may still be
# charged, so it stands until the answer settles it. A cost the API already reported stays.
_CANCEL = (
    sa.update(jobs)
    .where(j.id == bindparam("job_id"), j.state.in_(sorted(CANCELLABLE)))
    .values(
        state=JobState.CANCELLED.value,
        cancelled_by=bindparam("actor_id"),
        reserved_cents=sa.case((j.state == JobState.SUBMITTING.value, j.reserved_cents), else_=0),
        finished_at=bindparam("now"),
        updated_at=bindparam("now"),
        # A job cancelled in the queue held no lease: the canceller takes one, so that if it
        # dies before the requester is told, another process tells them. A held lease stays
        # its holder's (who learns of the cancel at its next write).
        owner=sa.func.coalesce(j.owner, _ME),
        epoch=sa.case((sa.and_(j.owner.is_(None), _ME.is_not(None)), j.epoch + 1), else_=j.epoch),
        lease_until=sa.func.coalesce(j.lease_until, _LEASE_UNTIL),
    )
    .returning(*j)
)
_POST_DELETED = (
    sa.update(jobs)
    .where(j.id == bindparam("job_id"), j.post_deleted_at.is_(None))
    .values(post_deleted_at=bindparam("now"), updated_at=bindparam("now"))
)


#: The lock every claim holds on PostgreSQL: the in-flight caps count the whole bot.
CLAIM_LOCK = "jobs:claim"


def admission_locks(guild_id: int, user_id: int) -> tuple[str, str]:
    """The locks an admission holds, always in this order (guild, then user), so that two
    admissions never wait for each other crosswise: every limit it checks counts the jobs of
    this server (spending cap) or of this member (quotas, cooldown, open jobs anywhere)."""
    return f"jobs:admit:guild:{guild_id}", f"jobs:admit:user:{user_id}"


class SqlJobs:
    """`JobStore` over a `Database`."""

    _db: Database

    async def admit(
        self, new: NewJob, now: datetime, *, reserve_cents: int, cooldown_s: int, decide: Decision
    ) -> Job | Text:
        """Create a queued job, reserving its expected cost, if `decide` allows it.

        The usage `decide` sees and the insert are one transaction, holding the server's and
        the member's admission locks, so concurrent requests (from any process) are admitted
        one after another and no limit is overshot. Returns the job, or the refusal `decide`
        gave.
        """
        o = new.origin
        assert o.guild_id is not None
        async with self._db.transaction(*admission_locks(o.guild_id, o.user_id)) as tx:
            usage = await _quota_usage(tx, o.guild_id, o.user_id, now, cooldown_s)
            if (refusal := decide(usage)) is not None:
                return refusal
            row = await tx.row(_INSERT, rows.new_job_values(new, now, reserve_cents=reserve_cents))
        assert row is not None
        return rows.job(row)

    async def admit_group(
        self,
        news: Sequence[NewJob],
        now: datetime,
        *,
        reserve_cents: int,
        cooldown_s: int,
        decide: Decision,
    ) -> list[Job] | Text:
        """Create the queued jobs of one request's variations, each reserving its expected
        cost, if `decide` allows them all: all or nothing, in one transaction (as `admit`).
        They form one group: each names the first one's id (`group_id`) and its place in it."""
        o = news[0].origin
        assert o.guild_id is not None
        admitted: list[Job] = []
        async with self._db.transaction(*admission_locks(o.guild_id, o.user_id)) as tx:
            usage = await _quota_usage(tx, o.guild_id, o.user_id, now, cooldown_s)
            if (refusal := decide(usage)) is not None:
                return refusal
            group_id: int | None = None
            for index, new in enumerate(news):
                values = rows.new_job_values(new, now, reserve_cents=reserve_cents)
                values.update(group_id=group_id, group_index=index)
                row = await tx.row(_INSERT, values)
                assert row is not None
                if group_id is None:  # the first names itself: its id is the group's
                    group_id = int(row.id)
                    marked = {"group_id": group_id, "updated_at": rows.ts(now)}
                    row = await tx.row(_UPDATE, {**marked, "job_id": group_id})
                    assert row is not None
                admitted.append(rows.job(row))
        return admitted

    async def group_jobs(self, group_id: int) -> list[Job]:
        """The jobs of one group, in their order (empty if there is no such group)."""
        return [rows.job(row) for row in await self._db.rows(_GROUP, {"group": group_id})]

    async def adopt_group(self, group_id: int, lease: Lease) -> list[Job]:
        """Take the lease of every variation of the group that is made or ended but not yet
        told (each at its next epoch), so this process alone settles the group's post: a
        previous holder's writes of them are refused from now on. A variation cancelled while
        its submit is on the wire at a live process stays that process's, to record what the
        submit cost."""
        params = {"group": group_id, "me": lease.owner, "ttl_s": lease.ttl_s}
        taken = await self._db.rows(_ADOPT_GROUP, params)
        return sorted((rows.job(row) for row in taken), key=lambda job: job.id)

    async def quota_usage(
        self, guild_id: int, user_id: int, now: datetime, cooldown_s: int
    ) -> QuotaUsage:
        """What counts against a user's limits on a server right now."""
        return await _quota_usage(self._db, guild_id, user_id, now, cooldown_s)

    async def expected_cost(self, model: str, settings: GenerationSettings) -> int | None:
        """The most the API recently charged for a job of this model with these settings, if
        known."""
        cost = await self._db.value(
            _EXPECTED_COST,
            {
                "model": model,
                "duration_s": settings.duration_s,
                "resolution": settings.resolution,
                "generate_audio": settings.generate_audio,
            },
        )
        return None if cost is None else int(cost)

    async def recent_generation_s(
        self, model: str, resolution: str, duration_s: int, limit: int
    ) -> list[float]:
        """Generation times (submitted to completed, seconds) of the latest `limit` delivered
        jobs of this model with this resolution and duration, newest first."""
        found = await self._db.rows(
            _GENERATION_TIMES,
            {"model": model, "resolution": resolution, "duration_s": duration_s, "limit": limit},
        )
        return [float(row[0]) for row in found]

    async def get_job(self, job_id: int) -> Job | None:
        """Return the job, or None if there is no such id."""
        row = await self._db.row(_BY_ID, {"job_id": job_id})
        return rows.job(row) if row else None

    async def job_state(self, job_id: int) -> JobState | None:
        """Return just the job's state (cheaper than `get_job`), or None if there is no such id."""
        state = await self._db.value(_STATE_BY_ID, {"job_id": job_id})
        return None if state is None else JobState(state)

    async def open_jobs(self) -> list[Job]:
        """Jobs whose user has not yet been told the outcome, oldest first."""
        found = await self._db.rows(_OPEN)
        # Sorted here: ORDER BY id would make SQLite scan the whole table instead of the index.
        return sorted((rows.job(row) for row in found), key=lambda job: job.id)

    async def unfinished_by_state(self) -> dict[JobState, int]:
        """How many jobs are in each unfinished state (states with none are left out)."""
        found = await self._db.rows(_UNFINISHED_BY_STATE)
        return {JobState(state): count for state, count in found}

    async def queue_position(self, job_id: int) -> int:
        """1-based place of a queued job in the queue (0 if it is not queued)."""
        return int(await self._db.value(_QUEUE_POSITION, {"job_id": job_id}))

    async def claim_next_queued(
        self, max_in_flight: int, max_per_user: int, lease: Lease
    ) -> Job | None:
        """Atomically move the oldest queued job that fits both caps to CLAIMED, under a new
        lease of `lease.owner` (the next epoch): one claim at a time in the whole bot, so that
        the caps hold across processes."""
        async with self._db.serialized(CLAIM_LOCK) as session:
            row = await session.row(
                _CLAIM,
                {
                    "now": _now(),
                    "max_all": max_in_flight,
                    "max_user": max_per_user,
                    "me": lease.owner,
                    "ttl_s": lease.ttl_s,
                },
            )
        return rows.job(row) if row else None

    async def move(
        self,
        job_id: int,
        to: JobState,
        change: JobChange = NO_CHANGE,
        *,
        epoch: int | None = None,
    ) -> Job | None:
        """Move a job to `to` with the facts of `change`, if its state may move there
        (`bot.jobs.model.TRANSITIONS`); None, writing nothing, if it may not.

        With `epoch` the move is fenced: made only while the job's epoch is still that one,
        and LeaseLostError, writing nothing, if another process has taken the job over since.
        """
        values = rows.change_values(change)
        values.update(state=to.value, updated_at=_now(), job_id=job_id)
        if epoch is None:
            row = await self._db.row(_MOVES[to], values)
        else:
            row = await self._db.row(_FENCED_MOVES[to], {**values, "fence": epoch})
            if row is None:
                await self._check_fence(job_id, epoch)
        return rows.job(row) if row else None

    async def update(self, job_id: int, change: JobChange, *, epoch: int | None = None) -> Job:
        """Record the facts of `change` without moving the job; returns the job. With
        `epoch`, fenced like `move`."""
        values = rows.change_values(change)
        values.update(updated_at=_now(), job_id=job_id)
        if epoch is None:
            row = await self._db.row(_UPDATE, values)
        else:
            row = await self._db.row(_FENCED_UPDATE, {**values, "fence": epoch})
            if row is None:
                await self._check_fence(job_id, epoch)
        if row is None:
            raise LookupError(f"job {job_id} does not exist")
        return rows.job(row)

    async def _check_fence(self, job_id: int, epoch: int) -> None:
        """After a refused fenced write: LeaseLostError if the job has moved on to another
        epoch (a state the move may not leave is the caller's to handle, as unfenced)."""
        current = await self._db.value(_EPOCH_BY_ID, {"job_id": job_id})
        if current is not None and current != epoch:
            raise LeaseLostError(job_id)

    async def cancel_job(
        self, job_id: int, actor_id: int, now: datetime, lease: Lease | None = None
    ) -> Job | None:
        """Cancel a job that is not yet being posted; None if it is past that point.

        A reservation is released, except while a submit is on the wire (that one may still
        be charged; the answer settles it). A cost the API already reported stays. A job that
        held no lease (it was queued) gets `lease`, so that telling its requester is some
        process's job until done.
        """
        row = await self._db.row(
            _CANCEL,
            {
                "job_id": job_id,
                "actor_id": actor_id,
                "now": rows.ts(now),
                "me": lease.owner if lease else None,
                "ttl_s": lease.ttl_s if lease else None,
            },
        )
        return rows.job(row) if row else None

    async def renew_leases(self, lease: Lease) -> int:
        """Extend every lease `lease.owner` holds on an open job, in one statement; how many."""
        return await self._db.write(_RENEW, {"me": lease.owner, "ttl_s": lease.ttl_s})

    async def release_leases(self, owner: str) -> int:
        """End every lease `owner` holds now (a clean stop), so others take over at once."""
        return await self._db.write(_RELEASE, {"me": owner})

    async def take_over(
        self, lease: Lease, which: Takeable = Takeable.EXPIRED, limit: int = 20
    ) -> list[Takeover]:
        """Take up to `limit` open jobs whose lease `which` allows (oldest first) for
        `lease.owner`, each at its next epoch, and say whose each was. One read when there is
        nothing to take (the idle case); two statements when there is."""
        me = {"me": lease.owner}
        candidates = await self._db.rows(_LEASED[which], me)
        if not candidates:
            return []
        previous: dict[int, str | None] = {row[0]: row[1] for row in candidates}
        taken = await self._db.rows(_TAKE_OVER[which], {**me, "ttl_s": lease.ttl_s, "limit": limit})
        found = sorted((rows.job(row) for row in taken), key=lambda job: job.id)
        return [Takeover(job, previous.get(job.id)) for job in found]

    async def mark_post_deleted(self, job_id: int, now: datetime) -> bool:
        """Record that the job's result post was deleted; False if it already was."""
        return await self._db.write(_POST_DELETED, {"job_id": job_id, "now": rows.ts(now)}) == 1


async def _quota_usage(
    db: Session, guild_id: int, user_id: int, now: datetime, cooldown_s: int
) -> QuotaUsage:
    day, month = rows.ts(day_start(now)), rows.ts(month_start(now))
    params = {"guild": guild_id, "user": user_id, "day": day, "month": month}
    mine = await db.row(_USAGE_MINE, {**params, "since": min(month, rows.ts(now) - cooldown_s)})
    here = await db.row(_USAGE_OPEN, params)
    spent = await db.value(_USAGE_SPENT, params)
    assert mine is not None
    assert here is not None
    return QuotaUsage(
        today=int(mine[0]),
        month=int(mine[1]),
        open_here=int(here[0]),
        open_anywhere=int(here[1]),
        last_started_at=rows.maybe_at(mine[2]),
        guild_month_cents=int(spent or 0),
    )


def _now() -> float:
    return rows.ts(datetime.now(UTC))
