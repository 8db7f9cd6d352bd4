"""Several bot processes on one PostgreSQL: the same burst against 3 processes (one shard each)
and against 1 process running all 3 shards (on PostgreSQL, and on SQLite for reference);
admission under concurrent requests and takeover after a SIGKILL on the 3-process cluster.

The bots' database statements are counted by PostgreSQL's `pg_stat_statements` (loaded with
`shared_preload_libraries`), for the bots' database user only: the bench reads the database
as a user of its own, so its own reads are not counted. The server's CPU is the postmaster's
and its backends' (from /proc), but for the backends serving the bench. During a burst the
bench samples `pg_stat_activity` for the bots' connections: how many are open, busy, and
waiting for an advisory lock (the admission and claim locks).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import re
import sqlite3
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import asyncpg

from bench.procstats import cpu_seconds, tree_cpu_seconds
from bench.world import World, world
from bot.settings import Settings
from tests.fakes.discord import RecordedRequest
from tests.fakes.harness import BotProcess
from tests.postgres_server import PostgresServer

SHARDS = 3
#: Servers per shard the interactions are spread over.
GUILDS_PER_SHARD = 2
#: The bots connect as the server's superuser; the bench reads as this user.
_BOT_USER, _BENCH_USER = "postgres", "bench"
_CALLBACK = re.compile(r"/interactions/(\d+)/[^/]+/callback")
_CLIP_NAME = re.compile(r"animate-(\d+)\.mp4")
_CHANNEL_POST = re.compile(r"/channels/\d+/messages")
_TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "START TRANSACTION", "SAVEPOINT", "RELEASE")
#: How often the takeover watch reads the jobs' owners.
_WATCH_EVERY_S = 0.1
#: How often the bots' connections are sampled during a burst.
_SAMPLE_EVERY_S = 0.02


@dataclass(frozen=True)
class Statements:
    """What `pg_stat_statements` counted for the bots over a window."""

    total: int
    #: Of those, BEGIN, COMMIT, ROLLBACK and savepoints.
    transaction_control: int
    #: The most frequent statements, (first line of the text, calls).
    top: list[tuple[str, int]]


@dataclass(frozen=True)
class BurstFigures:
    """One configuration's burst."""

    label: str
    processes: int
    jobs: int
    delivered: int
    ack_s: list[float]
    delivery_lag_s: list[float]
    bot_cpu_s: float
    #: The PostgreSQL server's CPU (postmaster and backends); None on SQLite.
    db_cpu_s: float | None
    statements: Statements | None
    wall_s: float
    #: The bots' backends, sampled every `_SAMPLE_EVERY_S` during the burst: most busy at
    #: once (running a statement or waiting inside one) and most of those waiting for an
    #: advisory lock at once, of how many connections at most; None on SQLite.
    backends: Backends | None = None


@dataclass(frozen=True)
class Backends:
    """Peaks of the bots' PostgreSQL connections over a window."""

    connections: int
    busy: int
    waiting_for_lock: int


@dataclass(frozen=True)
class AdmissionFigures:
    """Concurrent /animate requests on the cluster."""

    requests: int
    #: Interaction sent -> its callback (the deferred "thinking" answer) at the fake Discord.
    ack_s: list[float]
    #: Interaction sent -> the job row committed (every limit checked), as a reader sampling
    #: every `_SAMPLE_EVERY_S` first sees it.
    stored_s: list[float]


@dataclass(frozen=True)
class TakeoverFigures:
    """One process SIGKILLed while it held jobs at the API."""

    victim: str
    held: int
    #: SIGKILL -> the job row names a survivor as its owner, per job the victim held.
    taken_s: list[float]
    #: What was left of each held job's lease at the SIGKILL (`lease_until`, the database's
    #: clock, against the bench's: one machine).
    lease_left_s: list[float]
    log_lines: int
    jobs: int
    delivered: int
    clip_posts: int
    submits: int


@dataclass(frozen=True)
class IdleFigures:
    """The 3-process cluster with nothing to do."""

    processes: int
    window_s: float
    statements: Statements


@dataclass(frozen=True)
class ClusterResult:
    """Everything the cluster workload measured."""

    bursts: list[BurstFigures]
    idle: IdleFigures
    admission: AdmissionFigures
    takeover: TakeoverFigures


@dataclass(frozen=True)
class ClusterPlan:
    """The sizes and settings of one run."""

    jobs: int
    admission_requests: int
    scale: float
    clip_bytes: int
    idle_s: float
    with_sqlite: bool
    #: Jobs each configuration runs to the end before its burst (quick at the API), so the
    #: burst meets warm processes: open pool connections, prepared statements.
    warmup: int = 0
    #: JOB_LEASE_S and JOB_POLL_S for the bots; None leaves the bot's default.
    job_lease_s: float | None = None
    job_poll_s: float | None = None

    @property
    def estimate_s(self) -> tuple[float, float]:
        """The API's estimate and completion range: a sixth of the burst workload's."""
        return 10 * self.scale, 20 * self.scale

    @property
    def lease_s(self) -> float:
        """The JOB_LEASE_S the bots run with."""
        default: float = Settings.model_fields["job_lease_s"].default
        return default if self.job_lease_s is None else self.job_lease_s

    @property
    def poll_s(self) -> float:
        """The JOB_POLL_S the bots run with."""
        default: float = Settings.model_fields["job_poll_s"].default
        return default if self.job_poll_s is None else self.job_poll_s

    def lease_settings(self) -> dict[str, str]:
        """The lease settings given, as the bots' environment."""
        given = {"JOB_LEASE_S": self.job_lease_s, "JOB_POLL_S": self.job_poll_s}
        return {k: f"{v:g}" for k, v in given.items() if v is not None}


class JobRows(Protocol):
    """Reads the bots' job table as an admin would."""

    async def rows(self, sql: str, *params: Any) -> list[dict[str, Any]]:
        """Rows of `sql` (`$1` placeholders) by column name."""
        ...


class _PostgresRows:
    def __init__(self, connection: asyncpg.Connection) -> None:
        self._connection = connection

    async def rows(self, sql: str, *params: Any) -> list[dict[str, Any]]:
        return [dict(row) for row in await self._connection.fetch(sql, *params)]


class _SqliteRows:
    def __init__(self, path: Path) -> None:
        self._path = path

    async def rows(self, sql: str, *params: Any) -> list[dict[str, Any]]:
        return await asyncio.to_thread(self._read, re.sub(r"\$\d+", "?", sql), params)

    def _read(self, sql: str, params: tuple[Any, ...]) -> list[dict[str, Any]]:
        with contextlib.closing(sqlite3.connect(self._path, timeout=10)) as db:
            db.row_factory = sqlite3.Row
            return [dict(row) for row in db.execute(sql, params).fetchall()]


async def _count(db: JobRows, where: str, *params: Any) -> int:
    (row,) = await db.rows(f"SELECT COUNT(*) AS n FROM jobs WHERE {where}", *params)
    return int(row["n"])


async def _wait_for(db: JobRows, where: str, n: int, timeout_s: float, *params: Any) -> None:
    """Wait until at least `n` jobs match `where` (read twice a second)."""
    deadline = time.monotonic() + timeout_s
    while (found := await _count(db, where, *params)) < n:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {found} of {n} jobs reached {where!r}")
        await asyncio.sleep(0.5)


class _PostgresBench:
    """The bench's view of the server: databases for the bots, statement counts, server CPU."""

    def __init__(self, server: PostgresServer, admin: asyncpg.Connection) -> None:
        self.server = server
        self._admin = admin
        #: The bench's own backends, left out of the server's CPU.
        self.own_backends: set[int] = {admin.get_server_pid()}

    def url(self, database: str, user: str = _BOT_USER) -> str:
        return f"postgresql://{user}@/{database}?host={self.server.root}&port={self.server.port}"

    async def new_database(self, name: str) -> str:
        """An empty database for one configuration (the bots migrate it as they start)."""
        await self._admin.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    async def backends_while(self, database: str, done: asyncio.Event) -> Backends:
        """Sample the bots' connections to `database` until `done` is set."""
        peak = Backends(0, 0, 0)
        while not done.is_set():
            row = await self._admin.fetchrow(
                """
                SELECT count(*) AS connections,
                       count(*) FILTER (WHERE state = 'active') AS busy,
                       count(*) FILTER (WHERE wait_event = 'advisory') AS waiting
                FROM pg_stat_activity WHERE datname = $1 AND usename = $2
                """,
                database,
                _BOT_USER,
            )
            assert row is not None
            peak = Backends(
                max(peak.connections, row["connections"]),
                max(peak.busy, row["busy"]),
                max(peak.waiting_for_lock, row["waiting"]),
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), _SAMPLE_EVERY_S)
        return peak

    def cpu_s(self) -> float:
        """CPU time of the server, but for the backends serving the bench itself."""
        return tree_cpu_seconds(self.server.pid, exclude=self.own_backends)

    async def reset_statements(self) -> None:
        await self._admin.execute("SELECT pg_stat_statements_reset()")

    async def statements(self, database: str) -> Statements:
        """The bots' statements in `database` since the last reset."""
        rows = await self._admin.fetch(
            """
            SELECT s.query, sum(s.calls)::bigint AS calls
            FROM pg_stat_statements s
            JOIN pg_database d ON d.oid = s.dbid
            JOIN pg_roles r ON r.oid = s.userid
            WHERE d.datname = $1 AND r.rolname = $2
            GROUP BY s.query ORDER BY calls DESC
            """,
            database,
            _BOT_USER,
        )
        control = sum(
            r["calls"] for r in rows if r["query"].lstrip().upper().startswith(_TRANSACTION_CONTROL)
        )
        top = [(" ".join(r["query"].split())[:100], int(r["calls"])) for r in rows[:6]]
        return Statements(sum(int(r["calls"]) for r in rows), int(control), top)


@contextlib.asynccontextmanager
async def _postgresql() -> AsyncIterator[_PostgresBench]:
    """A throw-away PostgreSQL server with `pg_stat_statements`, and a bench user."""
    server = PostgresServer({"shared_preload_libraries": "pg_stat_statements"})
    await asyncio.to_thread(server.start)
    try:
        admin = await asyncpg.connect(server.url("postgres"))
        try:
            await admin.execute("CREATE EXTENSION pg_stat_statements")
            await admin.execute(f"CREATE ROLE {_BENCH_USER} LOGIN SUPERUSER")
            yield _PostgresBench(server, admin)
        finally:
            await admin.close()
    finally:
        await asyncio.to_thread(server.stop)


async def cluster(workdir: Path, plan: ClusterPlan) -> ClusterResult:
    """Run the three configurations' bursts, then admission and takeover on the cluster."""
    async with _postgresql() as pg:
        three, idle, admission, takeover = await _on_three_processes(workdir / "three", pg, plan)
        one = await _on_one_process(workdir / "one-pg", pg, plan)
    bursts = [three, one]
    if plan.with_sqlite:
        bursts.append(await _on_one_process(workdir / "one-sqlite", None, plan))
    return ClusterResult(bursts, idle, admission, takeover)


def _settings(plan: ClusterPlan) -> dict[str, str]:
    """The bots' settings: polling on the bench's time scale, room for the whole burst."""
    return {
        "POLL_INTERVAL_S": f"{2.0 * plan.scale:g}",
        "POLL_MAX_INTERVAL_S": f"{10.0 * plan.scale:g}",
        "MAX_JOBS_IN_FLIGHT": str(max(plan.jobs, plan.admission_requests)),
        "SHARD_COUNT": str(SHARDS),
        **plan.lease_settings(),
    }


@contextlib.asynccontextmanager
async def _sharded_world(
    workdir: Path, plan: ClusterPlan, database_url: str | None
) -> AsyncIterator[World]:
    async with world(workdir, database_url=database_url, **_settings(plan)) as w:
        # Every shard in its own IDENTIFY bucket, so the processes connect at once.
        w.discord.use_shards(SHARDS, max_concurrency=SHARDS, guilds_per_shard=GUILDS_PER_SHARD)
        low, high = plan.estimate_s
        w.api.estimated_time = f"{low:g}-{high:g}s"
        w.api.completion_delay_range_s = (low, high)
        w.api.clip_bytes = plan.clip_bytes
        yield w


async def _start(w: World, clusters: Sequence[str | None]) -> list[BotProcess]:
    """Start one process per entry (its SHARD_IDS; None: every shard), named `bench-<n>`,
    together; return once every shard has a live session."""
    bots = []
    for n, shard_ids in enumerate(clusters):
        extra = {"SHARD_IDS": shard_ids} if shard_ids is not None else {}
        bots.append(await w.runner.launch(PROCESS_NAME=f"bench-{n}", **extra))
    async with asyncio.timeout(60):
        while not all(w.discord.shard_connected(s).is_set() for s in range(SHARDS)):
            for bot in bots:
                if bot.process.returncode is not None:
                    raise RuntimeError(f"bot exited early:\n{bot.log_text()}")
            await asyncio.sleep(0.05)
    return bots


def _events(w: World, count: int) -> list[dict[str, Any]]:
    """`count` /animate calls from new users, spread evenly over every shard's servers."""
    guilds = [g for s in range(SHARDS) for g in w.discord.guilds_on_shard(s)]
    return [
        w.interaction(channel_id=w.discord.general_channel_of(guilds[n % len(guilds)]))
        for n in range(count)
    ]


async def _on_three_processes(
    workdir: Path, pg: _PostgresBench, plan: ClusterPlan
) -> tuple[BurstFigures, IdleFigures, AdmissionFigures, TakeoverFigures]:
    database = "cluster_three"
    url = await pg.new_database(database)
    async with (
        _sharded_world(workdir, plan, url) as w,
        _reader(pg, database) as db,
    ):
        bots = await _start(w, [str(s) for s in range(SHARDS)])
        await asyncio.sleep(2.0)  # let the start-up work (command sync, first sweeps) pass
        await pg.reset_statements()
        await asyncio.sleep(plan.idle_s)
        idle = IdleFigures(len(bots), plan.idle_s, await pg.statements(database))
        burst = await _burst(w, db, bots, plan, "3 processes, PostgreSQL", pg, database)
        admission, takeover = await _admission_then_takeover(w, db, bots, plan)
    return burst, idle, admission, takeover


async def _on_one_process(
    workdir: Path, pg: _PostgresBench | None, plan: ClusterPlan
) -> BurstFigures:
    database = "cluster_one"
    url = await pg.new_database(database) if pg is not None else None
    async with contextlib.AsyncExitStack() as stack:
        w = await stack.enter_async_context(_sharded_world(workdir, plan, url))
        db: JobRows = (
            await stack.enter_async_context(_reader(pg, database))
            if pg is not None
            else _SqliteRows(w.runner.db_path)
        )
        bots = await _start(w, [None])
        label = "1 process, PostgreSQL" if pg is not None else "1 process, SQLite"
        return await _burst(w, db, bots, plan, label, pg, database)


@contextlib.asynccontextmanager
async def _reader(pg: _PostgresBench, database: str) -> AsyncIterator[JobRows]:
    connection = await asyncpg.connect(pg.url(database, _BENCH_USER))
    pg.own_backends.add(connection.get_server_pid())
    try:
        yield _PostgresRows(connection)
    finally:
        await connection.close()


async def _burst(
    w: World,
    db: JobRows,
    bots: list[BotProcess],
    plan: ClusterPlan,
    label: str,
    pg: _PostgresBench | None,
    database: str,
) -> BurstFigures:
    """`plan.jobs` users call /animate at once; every job is followed until its clip is posted."""
    pids = [bot.process.pid for bot in bots]
    await _warm_up(w, db, plan)
    events = _events(w, plan.jobs)
    first_id = await _next_job_id(db)
    if pg is not None:
        await pg.reset_statements()
    db_cpu_before = pg.cpu_s() if pg is not None else 0.0
    cpu_before = sum(cpu_seconds(pid) for pid in pids)
    done = asyncio.Event()
    sampler = asyncio.create_task(pg.backends_while(database, done)) if pg is not None else None
    sent_at = await w.send_all(events)
    _, high = plan.estimate_s
    await _wait_for(db, "notified = 1 AND id >= $1", plan.jobs, high + 120, first_id)
    wall = time.monotonic() - sent_at
    cpu = sum(cpu_seconds(pid) for pid in pids) - cpu_before
    done.set()
    backends = await sampler if sampler is not None else None
    db_cpu = pg.cpu_s() - db_cpu_before if pg is not None else None
    statements = await pg.statements(database) if pg is not None else None
    delivered = await _count(db, "state = 'delivered' AND id >= $1", first_id)
    return BurstFigures(
        label,
        len(bots),
        plan.jobs,
        delivered,
        _acks(w, events, sent_at),
        await _delivery_lags(w, db),
        cpu,
        db_cpu,
        statements,
        wall,
        backends,
    )


async def _warm_up(w: World, db: JobRows, plan: ClusterPlan) -> None:
    """Run `plan.warmup` jobs, spread over the servers, to the end with a quick API."""
    if not plan.warmup:
        return
    estimate, completion = w.api.estimated_time, w.api.completion_delay_range_s
    w.api.estimated_time, w.api.completion_delay_range_s = "1-2s", (1.0, 2.0)
    first_id = await _next_job_id(db)
    await w.send_all(_events(w, plan.warmup))
    await _wait_for(db, "notified = 1 AND id >= $1", plan.warmup, 120, first_id)
    w.api.estimated_time, w.api.completion_delay_range_s = estimate, completion


async def _next_job_id(db: JobRows) -> int:
    (row,) = await db.rows("SELECT COALESCE(MAX(id), 0) + 1 AS next FROM jobs")
    return int(row["next"])


def _acks(w: World, events: list[dict[str, Any]], sent_at: float) -> list[float]:
    """Each event's first callback at the fake Discord, counted from `sent_at`."""
    first: dict[int, float] = {}
    for r in w.discord.callbacks():
        if (m := _CALLBACK.search(r.path)) is not None:
            first.setdefault(int(m[1]), r.at)
    return [first[int(e["id"])] - sent_at for e in events if int(e["id"]) in first]


def _clip_posts(w: World) -> list[tuple[int, RecordedRequest]]:
    """(job id, request) of every successful post carrying a clip, in any server's channel."""
    found = []
    for r in w.discord.requests:
        if r.method != "POST" or r.status != 200 or not _CHANNEL_POST.fullmatch(r.path):
            continue
        for file in r.files:
            if (m := _CLIP_NAME.search(file.filename or "")) is not None:
                found.append((int(m[1]), r))
    return found


async def _delivery_lags(w: World, db: JobRows) -> list[float]:
    """Each clip's `completedAt` at the API to its upload reaching Discord."""
    uploads: dict[int, float] = {}
    for job_id, r in _clip_posts(w):
        uploads.setdefault(job_id, r.at)
    job_of = {
        row["prediction_id"]: row["id"]
        for row in await db.rows("SELECT prediction_id, id FROM jobs")
    }
    lags = []
    for prediction in w.api.predictions.values():
        uploaded = uploads.get(job_of.get(prediction.id, -1))
        if prediction.completed_at is not None and uploaded is not None:
            lags.append(uploaded + w.wall_offset_s - prediction.completed_at.timestamp())
    return lags


async def _admission_then_takeover(
    w: World, db: JobRows, bots: list[BotProcess], plan: ClusterPlan
) -> tuple[AdmissionFigures, TakeoverFigures]:
    """`admission_requests` users call /animate at once while the API holds every job; once
    all are at the API, the process holding the most is SIGKILLed, and the survivors' takeover
    of each of its jobs is timed. Then the API lets the jobs finish, each to be posted once."""
    w.api.hold()
    submits_before = len(w.api.submits)
    first_id = await _next_job_id(db)
    events = _events(w, plan.admission_requests)
    n = len(events)
    stored = asyncio.create_task(_watch_new_rows(db, first_id, n))
    sent_at = await w.send_all(events)
    seen = await stored
    await _wait_for(db, "state = 'submitted' AND id >= $1", n, 120, first_id)
    admission = AdmissionFigures(
        n, _acks(w, events, sent_at), [at - sent_at for at in seen.values()]
    )

    owners = await db.rows("SELECT id, owner FROM jobs WHERE id >= $1", first_id)
    victim, _ = collections.Counter(row["owner"] for row in owners).most_common(1)[0]
    held = [row["id"] for row in owners if row["owner"] == victim]
    killed = bots[int(victim.removeprefix("bench-"))]
    survivors = [bot for bot in bots if bot is not killed]
    logged_before = [len(bot.log_text()) for bot in survivors]
    killed_at, killed_wall = time.monotonic(), time.time()
    await killed.kill()
    # Read after the kill: a renewal just before it counts.
    leases = await db.rows("SELECT lease_until FROM jobs WHERE id = ANY($1::bigint[])", held)
    taken = await _watch_takeover(db, victim, held, plan, killed_at)
    line = f"lease of {victim} expired; taken over by"
    log_lines = sum(
        bot.log_text()[start:].count(line)
        for bot, start in zip(survivors, logged_before, strict=True)
    )

    w.api.release()
    await _wait_for(db, "notified = 1 AND id >= $1", n, 120, first_id)
    delivered = await _count(db, "state = 'delivered' AND id >= $1", first_id)
    posts = sum(1 for job_id, _ in _clip_posts(w) if job_id >= first_id)
    takeover = TakeoverFigures(
        victim,
        len(held),
        taken,
        [row["lease_until"] - killed_wall for row in leases],
        log_lines,
        n,
        delivered,
        posts,
        len(w.api.submits) - submits_before,
    )
    return admission, takeover


async def _watch_new_rows(db: JobRows, first_id: int, n: int) -> dict[int, float]:
    """When (monotonic) each of `n` new job rows from `first_id` on was first seen
    committed, read every `_SAMPLE_EVERY_S`."""
    seen: dict[int, float] = {}
    async with asyncio.timeout(120):
        while len(seen) < n:
            found = await db.rows("SELECT id FROM jobs WHERE id >= $1", first_id)
            now = time.monotonic()
            for row in found:
                seen.setdefault(row["id"], now)
            await asyncio.sleep(_SAMPLE_EVERY_S)
    return seen


async def _watch_takeover(
    db: JobRows, victim: str, held: list[int], plan: ClusterPlan, killed_at: float
) -> list[float]:
    """From the SIGKILL (`killed_at`, monotonic), when each held job's row names another
    owner, read every `_WATCH_EVERY_S`."""
    deadline = killed_at + plan.lease_s + plan.poll_s + 60
    taken: dict[int, float] = {}
    while len(taken) < len(held):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(held) - len(taken)} of {victim}'s jobs never taken over")
        rows = await db.rows("SELECT id, owner FROM jobs WHERE id = ANY($1::bigint[])", held)
        now = time.monotonic()
        for row in rows:
            if row["owner"] != victim:
                taken.setdefault(row["id"], now - killed_at)
        await asyncio.sleep(_WATCH_EVERY_S)
    return list(taken.values())
