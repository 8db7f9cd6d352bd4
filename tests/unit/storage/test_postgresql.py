"""The PostgreSQL backend itself, on a real server: migrations run once by processes starting
together, a newer schema refused, the same schema as SQLite's, and the bot-wide limits held
by several stores at once (each its own pool, as separate processes would be)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from bot.guilds.model import QuotaUsage
from bot.jobs.model import Job, Lease
from bot.storage import DatabaseUnusableError, postgresql
from bot.storage.database import migrations
from bot.storage.store import SqlStore
from tests import factories

pytestmark = pytest.mark.backends("postgresql")

T0 = datetime(2025, 3, 15, 10, 0, 0, tzinfo=UTC)
GUILD = 555
RESERVE = 100
Reopen = Callable[[], AbstractAsyncContextManager[SqlStore]]


async def stores(stack: AsyncExitStack, reopen: Reopen, count: int) -> list[SqlStore]:
    """`count` stores on the test's database, each with its own pool of connections."""
    return [await stack.enter_async_context(reopen()) for _ in range(count)]


# Migrations --------------------------------------------------------------------------------------


async def test_three_processes_starting_at_once_on_an_empty_database_all_come_up(
    empty_postgresql: str,
) -> None:
    opened = await asyncio.gather(*(SqlStore.open(empty_postgresql) for _ in range(3)))
    try:
        for store in opened:
            assert await store.get_meta("nothing") is None
        newest = migrations("postgresql")[-1][0]
        assert await postgresql.schema_version(empty_postgresql) == newest
        connection = await asyncpg.connect(empty_postgresql)
        try:
            assert await connection.fetchval("SELECT count(*) FROM schema_version") == 1
        finally:
            await connection.close()
    finally:
        for store in opened:
            await store.close()


async def test_a_schema_newer_than_the_bot_knows_is_refused(empty_postgresql: str) -> None:
    async with await SqlStore.open(empty_postgresql):
        pass
    connection = await asyncpg.connect(empty_postgresql)
    try:
        await connection.execute("UPDATE schema_version SET version = 9999")
    finally:
        await connection.close()

    with pytest.raises(DatabaseUnusableError, match="schema version 9999"):
        await SqlStore.open(empty_postgresql)


def test_both_dialects_have_the_same_migrations_from_the_postgresql_baseline_on() -> None:
    postgres = [number for number, _ in migrations("postgresql")]
    sqlite = [number for number, _ in migrations("sqlite")]
    assert postgres[0] == 12
    assert postgres == [number for number in sqlite if number >= 12]


async def test_fresh_databases_of_both_dialects_have_the_same_tables_columns_and_indexes(
    empty_postgresql: str, tmp_path: Path
) -> None:
    async with await SqlStore.open(tmp_path / "fresh.db"):
        pass
    async with await SqlStore.open(empty_postgresql):
        pass

    assert await _postgresql_shape(empty_postgresql) == _sqlite_shape(tmp_path / "fresh.db")


def _sqlite_shape(path: Path) -> dict[str, set[str]]:
    with sqlite3.connect(path) as db:
        tables = [
            name
            for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            if name != "sqlite_sequence"
        ]
        shape = {t: {row[1] for row in db.execute(f"PRAGMA table_info({t})")} for t in tables}
        indexes = db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
        )
        shape["(indexes)"] = {name for (name,) in indexes}
    return shape


async def _postgresql_shape(url: str) -> dict[str, set[str]]:
    connection = await asyncpg.connect(url)
    try:
        columns = await connection.fetch(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'public' AND table_name <> 'schema_version'"
        )
        indexes = await connection.fetch(
            "SELECT indexname FROM pg_indexes WHERE schemaname = 'public' "
            "AND indexname NOT LIKE '%\\_pkey' AND indexname NOT LIKE '%\\_key'"
        )
    finally:
        await connection.close()
    shape: dict[str, set[str]] = {}
    for table, column in columns:
        shape.setdefault(table, set()).add(column)
    shape["(indexes)"] = {name for (name,) in indexes}
    return shape


# Bot-wide limits across processes ---------------------------------------------------------------


async def test_twenty_admissions_over_three_processes_with_room_for_three_admit_three(
    store: SqlStore, reopen: Reopen
) -> None:
    def decide(usage: QuotaUsage) -> str | None:
        return "daily limit" if usage.today >= 3 else None

    async with AsyncExitStack() as stack:
        processes = await stores(stack, reopen, 3)
        results = await asyncio.gather(
            *(
                processes[i % 3].admit(
                    factories.new_job(1001, now=T0, prompt=f"p{i}"),
                    T0,
                    reserve_cents=0,
                    cooldown_s=0,
                    decide=decide,
                )
                for i in range(20)
            )
        )

    assert sum(isinstance(r, Job) for r in results) == 3
    assert len(await store.open_jobs()) == 3


async def test_twenty_admissions_over_three_processes_never_overshoot_the_spending_cap(
    store: SqlStore, reopen: Reopen
) -> None:
    cap = 300

    def decide(usage: QuotaUsage) -> str | None:
        return "over budget" if usage.guild_month_cents + RESERVE > cap else None

    async with AsyncExitStack() as stack:
        processes = await stores(stack, reopen, 3)
        results = await asyncio.gather(
            *(
                processes[i % 3].admit(
                    factories.new_job(2000 + i, now=T0),  # twenty members, one server
                    T0,
                    reserve_cents=RESERVE,
                    cooldown_s=0,
                    decide=decide,
                )
                for i in range(20)
            )
        )

    assert sum(isinstance(r, Job) for r in results) == 3
    usage = await store.quota_usage(GUILD, 2000, T0, 0)
    assert usage.guild_month_cents == cap


async def test_claims_from_three_processes_never_exceed_the_bot_wide_in_flight_cap(
    store: SqlStore, reopen: Reopen
) -> None:
    for user in range(10):
        await factories.admit(store, factories.new_job(3000 + user, now=T0), T0)

    async with AsyncExitStack() as stack:
        processes = await stores(stack, reopen, 3)
        claimed = await asyncio.gather(
            *(
                processes[i % 3].claim_next_queued(3, 5, Lease(f"process-{i % 3}", 30.0))
                for i in range(12)
            )
        )

    assert sum(job is not None for job in claimed) == 3
    assert len({job.id for job in claimed if job is not None}) == 3


async def test_claims_from_three_processes_never_exceed_a_members_in_flight_cap(
    store: SqlStore, reopen: Reopen
) -> None:
    for i in range(6):
        await factories.admit(store, factories.new_job(4000, now=T0, prompt=f"p{i}"), T0)

    async with AsyncExitStack() as stack:
        processes = await stores(stack, reopen, 3)
        claimed = await asyncio.gather(
            *(
                processes[i % 3].claim_next_queued(10, 2, Lease(f"process-{i % 3}", 30.0))
                for i in range(9)
            )
        )

    assert sum(job is not None for job in claimed) == 2


# Wake-up hints -----------------------------------------------------------------------------------


async def test_listening_resumes_after_the_connection_is_cut(
    store: SqlStore, reopen: Reopen, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(postgresql, "LISTENER_PING_S", 0.2)
    woken: list[str] = []
    async with reopen() as other:
        await other.listen("jobs", lambda: woken.append("jobs"))
        connection = await asyncpg.connect(await _url_of(store))
        try:
            cut = await connection.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE query LIKE 'LISTEN %'"
            )
        finally:
            await connection.close()
        assert cut == 1
        await _until(lambda: len(woken) >= 1)  # the reconnect wakes it once: hints may be lost
        woken.clear()

        await store.notify("jobs")

        await _until(lambda: woken == ["jobs"])


async def _url_of(store: SqlStore) -> str:
    database = store.database
    assert isinstance(database, postgresql.PostgresDatabase)
    return database.url


async def _until(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not condition():  # noqa: ASYNC110 - callbacks set plain values, not events
            await asyncio.sleep(0.02)


async def test_a_statement_finds_a_connection_while_transactions_queue_on_a_lock(
    store: SqlStore,
) -> None:
    # A burst of admissions on one server: each waits for that server's lock. The reads that
    # come before an interaction's acknowledgement must not wait behind them for a connection.
    database = store.database
    release = asyncio.Event()

    async def holder() -> None:
        async with database.transaction("guild:1"):
            await release.wait()

    async def waiter() -> None:
        async with database.transaction("guild:1"):
            pass

    waiting = [asyncio.create_task(holder())]
    waiting += [asyncio.create_task(waiter()) for _ in range(2 * postgresql.POOL_SIZE)]
    await asyncio.sleep(0.3)  # every one of them holds or waits for the lock, or a slot

    try:
        assert await asyncio.wait_for(store.get_meta("anything"), 2.0) is None
    finally:
        release.set()
        await asyncio.gather(*waiting)
