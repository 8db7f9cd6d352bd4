"""The SQLite backend: one file in WAL mode, its two connections, transactions, migrations
and backups, and the usability checks done before anything writes.

Each statement is compiled once for SQLite and run straight on aiosqlite (`database.py` says
why). SQLite is one process by design, so its bot-wide locks and wake-up hints are that
process's own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import aiosqlite
import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Dialect

from bot.storage.database import (
    Database,
    DatabaseUnusableError,
    Params,
    Row,
    Session,
    compile_for,
    migrations,
)

log = logging.getLogger(__name__)

#: SQLite as the statements are compiled for: named parameters, which sqlite3 binds by name.
_SQLITE = sqlite.dialect(paramstyle="named")


class SqliteSession(Session):
    """Runs statements on one connection, each executed and drained in one step: other tasks
    share the connection, and a write landing between execute and fetch could show a moved
    row twice."""

    dialect: ClassVar[Dialect] = _SQLITE

    def __init__(self, connection: aiosqlite.Connection) -> None:
        self._connection = connection

    async def rows(self, statement: sa.Executable, params: Params | None = None) -> list[Row]:
        """Every row the statement returns."""
        given = params or {}
        compiled = compile_for(_SQLITE, statement, given)
        assert compiled.row_type is not None, "a statement that returns no rows"
        sql, values = compiled.named(given)
        found = await self._connection.execute_fetchall(sql, values)
        return [compiled.row_type(row) for row in found]

    async def write(self, statement: sa.Executable, params: Params | None = None) -> int:
        """Run a statement that returns no rows; how many rows it changed."""
        given = params or {}
        sql, values = compile_for(_SQLITE, statement, given).named(given)
        async with self._connection.execute(sql, values) as cursor:
            return cursor.rowcount


@dataclass
class _ProcessLocal:
    """A file's bot-wide locks and listeners: the process's own, as SQLite has one process."""

    locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    listeners: dict[str, list[Callable[[], None]]] = field(default_factory=dict)


#: Per database file (two stores on one file in a process share them, as a restart in a test).
_LOCAL: dict[Path, _ProcessLocal] = {}


class SqliteDatabase(SqliteSession, Database):
    """One SQLite file in WAL mode, through two connections.

    Statements run on the shared connection in autocommit mode. Multi-statement transactions
    get their own connection (`transaction`), so statements other tasks send meanwhile cannot
    end up inside (or be rolled back with) them.
    """

    def __init__(
        self, path: Path, shared: aiosqlite.Connection, transactions: aiosqlite.Connection
    ) -> None:
        super().__init__(shared)
        self._path = path
        self._shared = shared
        self._tx = transactions
        self._tx_lock = asyncio.Lock()
        self._local = _LOCAL.setdefault(path.resolve(), _ProcessLocal())
        self._listening: list[tuple[str, Callable[[], None]]] = []

    @classmethod
    async def open(cls, path: Path) -> SqliteDatabase:
        """Open (creating if needed) the database at `path` and bring its schema up to date.

        Raises DatabaseUnusableError, leaving the file untouched, when it is not a readable
        SQLite database or was written by a newer version of the bot.
        """
        path.parent.mkdir(parents=True, exist_ok=True)
        connections: list[aiosqlite.Connection] = []
        try:
            for _ in range(2):
                # isolation_level None: the driver never begins a transaction by itself;
                # `transaction` says when, and takes the write lock at once.
                connection = await aiosqlite.connect(path, isolation_level=None)
                connections.append(connection)
                if len(connections) == 1:
                    # Checked before anything writes: WAL mode or a migration would modify it.
                    await _check_usable(connection, path)
                await connection.execute("PRAGMA journal_mode = WAL")
                # FULL: a job's "submit on the wire" mark must survive a power cut, or the job
                # could be sent twice; the bot writes far too little for the cost to matter.
                await connection.execute("PRAGMA synchronous = FULL")
                await connection.execute("PRAGMA busy_timeout = 5000")
            shared, transactions = connections
            await _migrate(shared, path)
        except BaseException:
            for connection in connections:  # their threads would keep the process alive
                await connection.close()
            raise
        return cls(path, shared, transactions)

    async def close(self) -> None:
        """Close the connections, and stop listening."""
        for channel, callback in self._listening:
            self._local.listeners[channel].remove(callback)
        self._listening.clear()
        await self._shared.close()
        await self._tx.close()

    @contextlib.asynccontextmanager
    async def transaction(self, *locks: str) -> AsyncIterator[Session]:
        """An immediate (write-locked) transaction on the dedicated connection: what it reads
        stays true until it commits; committed when the block ends, rolled back if it
        raises. `locks` need no taking: SQLite runs one writing transaction at a time."""
        async with self._tx_lock:
            await self._tx.execute("BEGIN IMMEDIATE")
            try:
                yield SqliteSession(self._tx)
            except BaseException:
                await self._tx.execute("ROLLBACK")
                raise
            await self._tx.execute("COMMIT")

    @contextlib.asynccontextmanager
    async def serialized(self, *locks: str) -> AsyncIterator[Session]:
        """The shared connection: one statement is atomic, and SQLite's single writer keeps
        it from overlapping any other."""
        yield self

    @contextlib.asynccontextmanager
    async def hold_lock(self, name: str) -> AsyncIterator[None]:
        """Hold the lock `name` for the block, waiting until it is free (this process's own:
        SQLite serves one bot process)."""
        async with self._local.locks.setdefault(name, asyncio.Lock()):
            yield

    @contextlib.asynccontextmanager
    async def try_lock(self, name: str) -> AsyncIterator[bool]:
        """Hold the lock `name` for the block if it is free; yields whether it is held."""
        lock = self._local.locks.setdefault(name, asyncio.Lock())
        if lock.locked():
            yield False
            return
        async with lock:
            yield True

    async def notify(self, channel: str) -> None:
        """Call every listener of `channel` in this process, soon (not inside this call)."""
        loop = asyncio.get_running_loop()
        for callback in self._local.listeners.get(channel, ()):
            loop.call_soon(callback)

    async def listen(self, channel: str, callback: Callable[[], None]) -> None:
        """Call `callback` whenever `channel` is notified, until this database closes."""
        self._local.listeners.setdefault(channel, []).append(callback)
        self._listening.append((channel, callback))

    async def driver_connection(self) -> aiosqlite.Connection:
        """The shared connection (tests trace and explain with it)."""
        return self._shared


async def schema_version(path: Path) -> int:
    """The schema version of the existing database at `path`, read without changing anything
    (for `python -m bot check`); raises DatabaseUnusableError as `Database.open` would."""
    connection = await aiosqlite.connect(_read_only_uri(path), uri=True)
    try:
        await _check_usable(connection, path)
        ((version,),) = await connection.execute_fetchall("PRAGMA user_version")
        return int(version)
    finally:
        await connection.close()


def _read_only_uri(path: Path) -> str:
    return path.resolve().as_uri() + "?mode=ro"


async def _migrate(driver: aiosqlite.Connection, path: Path) -> None:
    ((current,),) = await driver.execute_fetchall("PRAGMA user_version")
    pending = [(number, script) for number, script in migrations("sqlite") if number > current]
    if pending and current > 0:
        await _back_up(driver, path, current)
    for number, script in pending:
        log.info("applying database migration %04d", number)
        await driver.executescript(
            f"BEGIN IMMEDIATE;\n{script}\nPRAGMA user_version = {number};\nCOMMIT;"
        )


def backup_path(path: Path, version: int) -> Path:
    """Where the copy of a database at schema `version` is kept before it is upgraded."""
    return path.with_name(f"{path.name}.v{version}.bak")


async def _back_up(driver: aiosqlite.Connection, path: Path, version: int) -> None:
    """Copy the database before upgrading it: an upgrade is one way (the older bot refuses a
    newer schema), and this copy is how to go back. Kept if it exists already."""
    backup = backup_path(path, version)
    if backup.exists():
        return
    log.info("copying the database (schema version %d) to %s before upgrading it", version, backup)
    await driver.execute("VACUUM INTO ?", (str(backup),))


async def _check_usable(driver: aiosqlite.Connection, path: Path) -> None:
    try:
        ((current,),) = await driver.execute_fetchall("PRAGMA user_version")
        ((verdict,),) = await driver.execute_fetchall("PRAGMA quick_check")
    except aiosqlite.DatabaseError as error:
        if any(word in str(error) for word in ("locked", "busy")):
            raise  # another process holds it: worth trying again, not a broken file
        raise _unreadable(path, error) from error
    if verdict != "ok":
        raise DatabaseUnusableError(
            f"{path} is damaged (integrity check: {verdict}). It was left untouched; "
            "restore it from a backup or point DATABASE_URL at another file."
        )
    known = max(number for number, _ in migrations("sqlite"))
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
