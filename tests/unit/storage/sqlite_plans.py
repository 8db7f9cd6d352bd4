"""Reading what SQLite does with the statements the store sends: trace them, explain them."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from bot.storage.store import SqlStore


@contextlib.asynccontextmanager
async def traced(store: SqlStore) -> AsyncIterator[list[str]]:
    """Collect the SQL the store's shared connection runs, parameters filled in."""
    connection = await store.database.driver_connection()
    statements: list[str] = []
    await connection.set_trace_callback(statements.append)
    try:
        yield statements
    finally:
        await connection.set_trace_callback(None)  # type: ignore[arg-type]  # sqlite3 takes None


async def plan(store: SqlStore, sql: str) -> list[str]:
    """The steps of SQLite's query plan for `sql`."""
    connection = await store.database.driver_connection()
    rows = await connection.execute_fetchall(f"EXPLAIN QUERY PLAN {sql}")
    return [str(row[3]) for row in rows]
