"""Usage figures: a member's /usage, a server's report and its jobs export."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import bindparam, func

from bot.guilds.model import GuildUsageReport, ModelTotals, UserTotals
from bot.jobs.model import UNFINISHED, Job, JobState
from bot.members.model import UsageReport, UsageTotals
from bot.periods import day_start, month_start
from bot.storage import rows
from bot.storage.database import Database
from bot.storage.schema import jobs

j = jobs.c
_DELIVERED = j.state == JobState.DELIVERED.value
_FAILED = j.state == JobState.FAILED.value
_CANCELLED = j.state == JobState.CANCELLED.value


def _member_totals(since: str | None) -> list[sa.ColumnElement[Any]]:
    """A member's `UsageTotals` over the jobs created since the parameter `since` (None: all)."""
    period = [j.created_at >= bindparam(since)] if since else []
    return [
        func.count().filter(_DELIVERED, *period),
        func.count().filter(_FAILED, *period),
        func.sum(j.duration_s).filter(_DELIVERED, *period),
        func.sum(j.cost_cents).filter(*period) if period else func.sum(j.cost_cents),
        func.count().filter(_CANCELLED, *period),
    ]


_USAGE = sa.select(
    *_member_totals("day"),
    *_member_totals("month"),
    *_member_totals(None),
    func.count().filter(j.state.in_(sorted(UNFINISHED))),
).where(j.user_id == bindparam("user"))
_RECENT = (
    sa.select(jobs)
    .where(j.user_id == bindparam("user"))
    .order_by(j.created_at.desc(), j.id.desc())
    .limit(bindparam("recent"))
)

# Server reports count every job that ended, charged or not (only the limits skip uncharged
# ones), and spend includes what running jobs have reserved.
_spent = func.sum(j.cost_cents + j.reserved_cents).label("spent")
_delivered = func.count().filter(_DELIVERED).label("delivered")
_GUILD_TOTALS = (
    _delivered,
    func.count().filter(_FAILED),
    func.sum(j.duration_s).filter(_DELIVERED),
    _spent,
    func.count().filter(_CANCELLED),
)
_IN_GUILD = sa.and_(j.guild_id == bindparam("guild"), j.created_at >= bindparam("since"))
_GUILD_USAGE = sa.select(*_GUILD_TOTALS).where(_IN_GUILD)
_TOP_USERS = (
    sa.select(j.user_id, *_GUILD_TOTALS)
    .where(_IN_GUILD)
    .group_by(j.user_id)
    .order_by(_spent.desc(), _delivered.desc(), j.user_id)
    .limit(bindparam("top"))
)

_BY_MODEL = (
    sa.select(j.model, *_GUILD_TOTALS)
    .where(_IN_GUILD)
    .group_by(j.model)
    .order_by(_spent.desc(), j.model)
)

# Keyset paging in the order of `jobs_by_guild_time`: each batch starts where the last ended
# instead of re-reading the period.
_BATCH = 500
_GUILD_JOBS = (
    sa.select(jobs)
    .where(
        j.guild_id == bindparam("guild"),
        sa.tuple_(j.created_at, j.id) > sa.tuple_(bindparam("at"), bindparam("id")),
    )
    .order_by(j.created_at, j.id)
    .limit(_BATCH)
)


class SqlReports:
    """`ReportStore` over a `Database`."""

    _db: Database

    async def usage_report(self, user_id: int, now: datetime, recent: int = 5) -> UsageReport:
        """A user's totals today, this month (UTC) and overall, and their latest jobs."""
        day, month = rows.ts(day_start(now)), rows.ts(month_start(now))
        row = await self._db.row(_USAGE, {"user": user_id, "day": day, "month": month})
        assert row is not None
        found = await self._db.rows(_RECENT, {"user": user_id, "recent": recent})
        return UsageReport(
            today=_totals(row[0:5]),
            month=_totals(row[5:10]),
            all_time=_totals(row[10:15]),
            in_progress=int(row[15]),
            recent=tuple(rows.job(r) for r in found),
        )

    async def guild_usage(
        self, guild_id: int, since: datetime | None, top: int = 10
    ) -> GuildUsageReport:
        """A server's totals since `since` (None: all time) and its `top` users by spend."""
        params = {"guild": guild_id, "since": rows.ts(since) if since else 0.0, "top": top}
        totals = await self._db.row(_GUILD_USAGE, params)
        assert totals is not None
        users = await self._db.rows(_TOP_USERS, params)
        models = await self._db.rows(_BY_MODEL, params)
        return GuildUsageReport(
            since=since,
            totals=_totals(totals),
            top_users=tuple(UserTotals(row.user_id, _totals(row[1:])) for row in users),
            by_model=tuple(ModelTotals(row.model, _totals(row[1:])) for row in models),
        )

    async def guild_jobs(self, guild_id: int, since: datetime | None) -> AsyncIterator[Job]:
        """Every job of a server since `since`, oldest first, read in batches."""
        after: dict[str, Any] = {
            "guild": guild_id,
            "at": rows.ts(since) if since else 0.0,
            "id": -1,
        }
        while True:
            found = await self._db.rows(_GUILD_JOBS, after)
            for row in found:
                yield rows.job(row)
            if len(found) < _BATCH:
                return
            after = {**after, "at": found[-1].created_at, "id": found[-1].id}


def _totals(values: Sequence[Any]) -> UsageTotals:
    return UsageTotals(*(int(v or 0) for v in values))
