"""The PostgreSQL backend: one database shared by every bot process, through an asyncpg pool.

Each statement is compiled once for PostgreSQL (placeholders `$1, $2, …`) and run straight on
asyncpg (`database.py` says why). What SQLite gets from running one writer at a time, this
backend gets from advisory locks: a transaction names its locks and takes them first, each as
a statement of its own (a lock taken inside the statement that reads would come too late: that
statement's snapshot predates the wait; research note `scale-out.md` §2.4). Bot-wide locks are
session locks on a connection of their own; wake-up hints are LISTEN/NOTIFY. Migrations are
the numbered scripts in `migrations/postgresql/`, applied by one process at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any, ClassVar

import asyncpg
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect
from sqlalchemy.engine import Dialect
from sqlalchemy.engine.interfaces import BindTyping

from bot.storage.database import (
    Database,
    DatabaseUnusableError,
    Params,
    Row,
    Session,
    compile_for,
    lock_key,
    migrations,
)

log = logging.getLogger(__name__)


def _dialect() -> Dialect:
    dialect: Dialect = asyncpg_dialect.dialect(paramstyle="numeric_dollar")  # type: ignore[no-untyped-call]
    # Flags are integer 0/1 columns, as in SQLite's schema, so that `notified = 0` and a bound
    # True read the same on both.
    dialect.supports_native_boolean = False
    # No `$1::BOOLEAN` casts: the server infers each parameter's type from its column, which
    # for a flag is integer (asyncpg sends True as 1).
    dialect.bind_typing = BindTyping.NONE
    return dialect


_POSTGRESQL = _dialect()
#: Connections the pool keeps open at most (per process).
POOL_SIZE = 10
#: Connections transactions may hold at once; the rest are kept for single statements. In a
#: burst, admissions queue on one server's advisory lock, each holding its connection while it
#: waits; without this they could take every connection, and the reads that come before an
#: interaction's acknowledgement would wait behind them.
TRANSACTIONS_AT_ONCE = POOL_SIZE - 4
#: Statements asyncpg keeps prepared per connection: every statement the store has, and room.
_STATEMENT_CACHE = 1024
#: How often the listening connection is checked, so that a silently lost one is replaced.
LISTENER_PING_S = 15.0
#: The lock the migrations are applied under, by one process at a time.
_MIGRATION_LOCK = "bot:migrations"

_CREATE_VERSION_TABLE = """
CREATE TABLE IF NOT EXISTS schema_version (
    version  integer NOT NULL,
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row)
)"""


class PostgresSession(Session):
    """Runs statements on a connection (inside a transaction) or on the pool (each statement
    on whichever connection is free, in autocommit)."""

    dialect: ClassVar[Dialect] = _POSTGRESQL

    def __init__(self, executor: asyncpg.Connection | asyncpg.Pool) -> None:
        self._on = executor

    async def rows(self, statement: sa.Executable, params: Params | None = None) -> list[Row]:
        """Every row the statement returns."""
        given = params or {}
        compiled = compile_for(_POSTGRESQL, statement, given)
        assert compiled.row_type is not None, "a statement that returns no rows"
        sql, values = compiled.positional(given)
        found = await self._on.fetch(sql, *values)
        return [compiled.row_type(row) for row in found]

    async def write(self, statement: sa.Executable, params: Params | None = None) -> int:
        """Run a statement that returns no rows; how many rows it changed."""
        given = params or {}
        sql, values = compile_for(_POSTGRESQL, statement, given).positional(given)
        status: str = await self._on.execute(sql, *values)
        # "UPDATE 3", "DELETE 0", "INSERT 0 1": the count comes last.
        return int(status.rsplit(" ", 1)[-1])


class PostgresDatabase(PostgresSession, Database):
    """A PostgreSQL database through a pool of connections, shared with other processes."""

    def __init__(self, url: str, pool: asyncpg.Pool) -> None:
        super().__init__(pool)
        self._url = url
        self._pool = pool
        self._listener = _Listener(url)
        self._transactions = asyncio.Semaphore(TRANSACTIONS_AT_ONCE)

    @classmethod
    async def open(cls, url: str) -> PostgresDatabase:
        """Connect to the database at `url` and bring its schema up to date (one process at a
        time; the others wait, then find nothing left to do).

        Raises DatabaseUnusableError, changing nothing, when its schema is newer than this
        version of the bot knows.
        """
        pool = await asyncpg.create_pool(
            url,
            min_size=1,
            max_size=POOL_SIZE,
            statement_cache_size=_STATEMENT_CACHE,
            reset=_nothing_to_reset,
        )
        try:
            async with pool.acquire() as connection:
                await _migrate(connection)
        except BaseException:
            await pool.close()
            raise
        return cls(url, pool)

    async def close(self) -> None:
        """Stop listening and close every connection."""
        await self._listener.close()
        await self._pool.close()

    @contextlib.asynccontextmanager
    async def transaction(self, *locks: str) -> AsyncIterator[Session]:
        """A transaction on a connection of its own, which first takes `locks` (advisory
        transaction locks, released at its end), each in a statement of its own."""
        async with (
            self._transactions,
            self._pool.acquire() as connection,
            connection.transaction(),
        ):
            for name in locks:
                await connection.execute("SELECT pg_advisory_xact_lock($1)", lock_key(name))
            yield PostgresSession(connection)

    def serialized(self, *locks: str) -> contextlib.AbstractAsyncContextManager[Session]:
        """A transaction holding `locks`: other processes write at the same time."""
        return self.transaction(*locks)

    @contextlib.asynccontextmanager
    async def hold_lock(self, name: str) -> AsyncIterator[None]:
        """Hold the bot-wide lock `name` (a session advisory lock on a connection of its own)
        for the block, waiting until it is free. If the process dies, the lock goes with its
        connection."""
        connection = await asyncpg.connect(self._url)
        try:
            await connection.execute("SELECT pg_advisory_lock($1)", lock_key(name))
            yield
        finally:
            await _close(connection)  # ends the session, and so releases the lock

    @contextlib.asynccontextmanager
    async def try_lock(self, name: str) -> AsyncIterator[bool]:
        """Hold the bot-wide lock `name` for the block if it is free; yields whether it is."""
        connection = await asyncpg.connect(self._url)
        try:
            held = await connection.fetchval("SELECT pg_try_advisory_lock($1)", lock_key(name))
            yield bool(held)
        finally:
            await _close(connection)

    async def notify(self, channel: str) -> None:
        """NOTIFY `channel`: every process listening on it is woken once it commits."""
        await self._pool.execute("SELECT pg_notify($1, '')", channel)

    async def listen(self, channel: str, callback: Callable[[], None]) -> None:
        """LISTEN on `channel` (on one connection kept for it, replaced if lost; after a
        replacement every callback is called once, for hints missed meanwhile)."""
        await self._listener.add(channel, callback)

    @property
    def url(self) -> str:
        """The database's URL, password included: never log it."""
        return self._url

    async def driver_connection(self) -> asyncpg.Pool:
        """The pool (tests inspect the database through it)."""
        return self._pool


async def _nothing_to_reset(_connection: asyncpg.Connection) -> None:
    """What a pooled connection needs reset on its way back: nothing. Its statements leave
    no session state (session locks and LISTEN have connections of their own; asyncpg still
    rolls back a transaction left open). asyncpg's default reset (unlock all, UNLISTEN, RESET
    ALL) would cost a round trip after every statement."""


async def _close(connection: asyncpg.Connection) -> None:
    try:
        await asyncio.wait_for(connection.close(), 5)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        connection.terminate()


class _Listener:
    """The connection LISTEN runs on, and the callbacks by channel: replaced when lost (the
    driver says so at once when the server closes it; a ping now and then finds a connection
    that died silently)."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._callbacks: dict[str, list[Callable[[], None]]] = {}
        self._connection: asyncpg.Connection | None = None
        self._watch: asyncio.Task[None] | None = None
        self._lost = asyncio.Event()
        self._lock = asyncio.Lock()

    async def add(self, channel: str, callback: Callable[[], None]) -> None:
        async with self._lock:
            first = channel not in self._callbacks
            self._callbacks.setdefault(channel, []).append(callback)
            if self._connection is None:
                await self._connect()
            elif first:
                await self._connection.add_listener(channel, self._deliver)
        if self._watch is None:
            self._watch = asyncio.create_task(self._keep_connected(), name="db-listener")

    def _deliver(self, _connection: Any, _pid: int, channel: str, _payload: str) -> None:
        for callback in list(self._callbacks.get(channel, ())):
            callback()

    async def _connect(self) -> None:
        connection = await asyncpg.connect(self._url)
        for channel in self._callbacks:
            await connection.add_listener(channel, self._deliver)
        connection.add_termination_listener(lambda _connection: self._lost.set())
        self._connection = connection

    async def _keep_connected(self) -> None:
        """Ping the connection now and then; replace it when it is lost, with a backoff."""
        wait_s = 1.0
        while True:
            if self._connection is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._lost.wait(), LISTENER_PING_S)
                if not self._lost.is_set() and await self._answers(self._connection):
                    continue
                log.warning("the database connection for wake-up hints was lost; reconnecting")
                self._connection.terminate()
                self._connection = None
                self._lost.clear()
            try:
                async with self._lock:
                    await self._connect()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
                log.warning("cannot listen for wake-up hints (%s); next try in %.0f s", exc, wait_s)
                await asyncio.sleep(wait_s)
                wait_s = min(wait_s * 2, 30.0)
                continue
            wait_s = 1.0
            for callbacks in list(self._callbacks.values()):
                for callback in list(callbacks):
                    callback()  # a hint may have been missed while disconnected

    @staticmethod
    async def _answers(connection: asyncpg.Connection) -> bool:
        try:
            await asyncio.wait_for(connection.fetchval("SELECT 1"), 10)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
            return False
        return True

    async def close(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
        if self._connection is not None:
            await _close(self._connection)
            self._connection = None


async def _migrate(connection: asyncpg.Connection) -> None:
    """Apply the pending migrations, each in a transaction, holding the migration lock so that
    processes starting together apply each once."""
    await connection.execute("SELECT pg_advisory_lock($1)", lock_key(_MIGRATION_LOCK))
    try:
        await connection.execute(_CREATE_VERSION_TABLE)
        current = await _version(connection)
        known = migrations("postgresql")
        newest = max(number for number, _ in known)
        if current > newest:
            raise DatabaseUnusableError(
                f"the PostgreSQL database has schema version {current}, but this version of "
                f"the bot knows only up to {newest}: it was written by a newer bot. It was left "
                "untouched; run the newer version."
            )
        for number, script in known:
            if number <= current:
                continue
            log.info("applying database migration %04d (PostgreSQL)", number)
            async with connection.transaction():
                await connection.execute(script)
                await connection.execute(
                    "INSERT INTO schema_version (version) VALUES ($1) "
                    "ON CONFLICT (only_row) DO UPDATE SET version = excluded.version",
                    number,
                )
    finally:
        await connection.execute("SELECT pg_advisory_unlock($1)", lock_key(_MIGRATION_LOCK))


async def _version(connection: asyncpg.Connection) -> int:
    version = await connection.fetchval("SELECT version FROM schema_version")
    return int(version or 0)


async def schema_version(url: str) -> int:
    """The schema version of the database at `url` (0: none yet), read without changing
    anything (for `python -m bot check`)."""
    connection = await asyncpg.connect(url)
    try:
        if await connection.fetchval("SELECT to_regclass('schema_version')") is None:
            return 0
        return await _version(connection)
    finally:
        await _close(connection)


def unreachable(exc: BaseException) -> bool:
    """Whether `exc` says the server could not be reached or is not ready yet (worth trying
    again), rather than that it refused us."""
    return isinstance(
        exc,
        OSError
        | TimeoutError
        | asyncpg.CannotConnectNowError
        | asyncpg.TooManyConnectionsError
        | asyncpg.ConnectionDoesNotExistError,
    )


def refused(exc: BaseException) -> bool:
    """Whether `exc` is the server's (or the driver's) refusal of what we asked: a wrong
    password, a database that does not exist, no right to create a table."""
    return isinstance(exc, asyncpg.PostgresError | asyncpg.InterfaceError)
