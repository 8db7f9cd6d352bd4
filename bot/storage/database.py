"""The SQLite database under the store: opening it, its two connections, transactions and
migrations.

Everything SQLite-specific that is not a statement lives here: the PRAGMAs, `BEGIN IMMEDIATE`,
the usability checks and the numbered migrations in `migrations/sqlite/`. The statements
themselves (the aggregate modules) are SQLAlchemy Core and render for any dialect.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Coroutine
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite
import sqlalchemy as sa
from sqlalchemy import event, exc
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection as SyncConnection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

log = logging.getLogger(__name__)

#: Parameters of one statement, by name.
Params = dict[str, Any]
#: A result row of any columns.
AnyRow = sa.Row[*tuple[Any, ...]]
_T = TypeVar("_T")


class DatabaseUnusableError(Exception):
    """The database file cannot be used as it is; the bot must stop rather than overwrite it."""


class Session:
    """Runs statements on one connection, each executed and drained in one step: other tasks
    share the connection, and a write landing between execute and fetch could show a moved
    row twice."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def rows(self, statement: sa.Executable, params: Params | None = None) -> list[AnyRow]:
        """Every row the statement returns."""
        rows, _ = await _uninterrupted(self._run(statement, params))
        return rows

    async def row(self, statement: sa.Executable, params: Params | None = None) -> AnyRow | None:
        """The statement's first row, if any."""
        rows = await self.rows(statement, params)
        return rows[0] if rows else None

    async def value(self, statement: sa.Executable, params: Params | None = None) -> Any:
        """The first column of the statement's first row (None if no row)."""
        row = await self.row(statement, params)
        return None if row is None else row[0]

    async def write(self, statement: sa.Executable, params: Params | None = None) -> int:
        """Run a statement that returns no rows; how many rows it changed."""
        _, count = await _uninterrupted(self._run(statement, params))
        return count

    async def upsert(self, table: sa.Table, keys: tuple[str, ...], values: Params) -> None:
        """Insert a row, or update the row with the same `keys` to these values."""
        await self.write(_upsert(self._connection.dialect.name, table, keys), values)

    async def _run(
        self, statement: sa.Executable, params: Params | None
    ) -> tuple[list[AnyRow], int]:
        result = await self._connection.execute(statement, params)
        return (list(result.all()) if result.returns_rows else []), result.rowcount


async def _uninterrupted(step: Coroutine[Any, Any, _T]) -> _T:
    """Run `step` to its end even if the caller is cancelled meanwhile (then raise that).

    SQLAlchemy takes a statement cut off halfway for a broken connection and closes it, for
    every task sharing it; so a cancelled caller waits for its statement instead, as the
    driver's thread would finish it anyway.
    """
    task = asyncio.ensure_future(step)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await task
        raise


@functools.cache
def _upsert(dialect: str, table: sa.Table, keys: tuple[str, ...]) -> sa.Executable:
    """INSERT ... ON CONFLICT (keys) DO UPDATE SET every other column, in `dialect`'s words
    (SQLite and PostgreSQL spell it alike, but SQLAlchemy builds it per dialect)."""
    if dialect == "postgresql":
        on_postgresql = postgresql.insert(table)
        others = {c.name: on_postgresql.excluded[c.name] for c in table.c if c.name not in keys}
        return on_postgresql.on_conflict_do_update(index_elements=keys, set_=others)
    on_sqlite = sqlite.insert(table)
    others = {c.name: on_sqlite.excluded[c.name] for c in table.c if c.name not in keys}
    return on_sqlite.on_conflict_do_update(index_elements=keys, set_=others)


class Database(Session):
    """One SQLite file in WAL mode, through two connections.

    Statements run on the shared connection in autocommit mode. Multi-statement transactions
    get their own connection (`transaction`), so statements other tasks send meanwhile cannot
    end up inside (or be rolled back with) them.
    """

    def __init__(
        self, engine: AsyncEngine, shared: AsyncConnection, transactions: AsyncConnection
    ) -> None:
        super().__init__(shared)
        self._engine = engine
        self._shared = shared
        self._tx = transactions
        self._tx_lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: Path) -> Database:
        """Open (creating if needed) the database at `path` and bring its schema up to date.

        Raises DatabaseUnusableError, leaving the file untouched, when it is not a readable
        SQLite database or was written by a newer version of the bot.
        """
        path.parent.mkdir(parents=True, exist_ok=True)
        # NullPool: each connection is opened once and really closed with the store.
        engine = create_async_engine(f"sqlite+aiosqlite:///{path}", poolclass=NullPool)
        # The driver never begins a transaction by itself; `transaction` says when.
        event.listen(engine.sync_engine, "connect", _driver_autocommit)
        connections: list[AsyncConnection] = []
        try:
            for _ in range(2):
                try:
                    connection = await engine.connect()
                except exc.DatabaseError as error:  # SQLAlchemy reads the file as it connects
                    raise _unreadable(path, error.orig) from error
                connections.append(connection)
                if len(connections) == 1:
                    # Checked before anything writes: WAL mode or a migration would modify it.
                    await _check_usable(connection, path)
                await connection.exec_driver_sql("PRAGMA journal_mode = WAL")
                # FULL: a job's "submit on the wire" mark must survive a power cut, or the job
                # could be sent twice; the bot writes far too little for the cost to matter.
                await connection.exec_driver_sql("PRAGMA synchronous = FULL")
                await connection.exec_driver_sql("PRAGMA busy_timeout = 5000")
                await connection.commit()  # ends SQLAlchemy's own record of an open transaction
            shared, transactions = connections
            # Each statement on the shared connection is its own transaction.
            shared = await shared.execution_options(isolation_level="AUTOCOMMIT")
            # Only the transaction connection takes the write lock when a transaction begins.
            event.listen(transactions.sync_connection, "begin", _begin_immediate)
            await _migrate(shared)
        except BaseException:
            for connection in connections:  # their threads would keep the process alive
                await connection.close()
            await engine.dispose()
            raise
        return cls(engine, shared, transactions)

    async def close(self) -> None:
        """Close the connections."""
        await self._shared.close()
        await self._tx.close()
        await self._engine.dispose()

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Session]:
        """An immediate (write-locked) transaction on the dedicated connection: committed when
        the block ends, rolled back if it raises."""
        async with self._tx_lock:
            await _uninterrupted(self._tx.begin().start())
            try:
                yield Session(self._tx)
            except BaseException:
                await _uninterrupted(self._tx.rollback())
                raise
            await _uninterrupted(self._tx.commit())

    async def driver_connection(self) -> aiosqlite.Connection:
        """The shared connection's aiosqlite connection (tests trace and explain with it)."""
        raw = await self._shared.get_raw_connection()
        connection = raw.driver_connection
        assert isinstance(connection, aiosqlite.Connection)
        return connection


def migrations() -> list[tuple[int, str]]:
    """The numbered migration scripts, in order."""
    folder = resources.files("bot.storage") / "migrations" / "sqlite"
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            found.append((int(entry.name.split("_", 1)[0]), entry.read_text(encoding="utf-8")))
    return sorted(found)


async def _migrate(connection: AsyncConnection) -> None:
    driver = await _driver(connection)
    ((current,),) = await driver.execute_fetchall("PRAGMA user_version")
    for number, script in migrations():
        if number <= current:
            continue
        log.info("applying database migration %04d", number)
        await driver.executescript(
            f"BEGIN IMMEDIATE;\n{script}\nPRAGMA user_version = {number};\nCOMMIT;"
        )


async def _check_usable(connection: AsyncConnection, path: Path) -> None:
    driver = await _driver(connection)
    try:
        ((current,),) = await driver.execute_fetchall("PRAGMA user_version")
        ((verdict,),) = await driver.execute_fetchall("PRAGMA quick_check")
    except aiosqlite.DatabaseError as error:
        raise _unreadable(path, error) from error
    if verdict != "ok":
        raise DatabaseUnusableError(
            f"{path} is damaged (integrity check: {verdict}). It was left untouched; "
            "restore it from a backup or point DATABASE_URL at another file."
        )
    known = max(number for number, _ in migrations())
    if current > known:
        raise DatabaseUnusableError(
            f"{path} has schema version {current}, but this version of the bot knows only "
            f"up to {known}: it was written by a newer bot. It was left untouched; run the "
            "newer version, or restore a backup made before the upgrade."
        )


def _unreadable(path: Path, error: BaseException | None) -> DatabaseUnusableError:
    return DatabaseUnusableError(
        f"{path} is not a readable SQLite database ({error}). It was left untouched; "
        "restore it from a backup or point DATABASE_URL at another file."
    )


async def _driver(connection: AsyncConnection) -> aiosqlite.Connection:
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    assert isinstance(driver, aiosqlite.Connection)
    return driver


def _driver_autocommit(dbapi_connection: Any, _record: object) -> None:
    # SQLAlchemy's recipe for SQLite transactions: keep the driver from issuing BEGIN itself
    # (it would defer the write lock), and begin in the "begin" event instead.
    dbapi_connection.isolation_level = None


def _begin_immediate(connection: SyncConnection) -> None:
    # Take the write lock at once: what the transaction reads stays true until it commits.
    connection.exec_driver_sql("BEGIN IMMEDIATE")
