"""The SQLite database under the store: opening it, its two connections, transactions,
migrations, and running the statements.

The statements (the aggregate modules) are SQLAlchemy Core, written once for any dialect. Here
each is compiled once, for SQLite, and run straight on aiosqlite: SQLAlchemy's asyncio layer
cost about five times as much CPU per statement (README, Performance), and the bot runs some
twenty statements a job. Everything SQLite-specific that is not a statement lives here too: the
PRAGMAs, `BEGIN IMMEDIATE`, the usability checks and the numbered migrations in
`migrations/sqlite/`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import aiosqlite
import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlalchemy.sql.compiler import SQLCompiler

log = logging.getLogger(__name__)

#: Parameters of one statement, by name.
Params = dict[str, Any]
#: SQLite as the statements are compiled for: named parameters, which sqlite3 binds by name.
_SQLITE = sqlite.dialect(paramstyle="named")


class DatabaseUnusableError(Exception):
    """The database file cannot be used as it is; the bot must stop rather than overwrite it."""


class Row(tuple[Any, ...]):
    """A result row: by position, by slice, or by column name (`row.name`, `row._mapping`)."""

    __slots__ = ()
    _names: tuple[str, ...] = ()
    _index: Mapping[str, int] = {}

    @property
    def _mapping(self) -> Mapping[str, Any]:
        return _ByName(self)

    def __getattr__(self, name: str) -> Any:
        try:
            return self[self._index[name]]
        except KeyError:
            raise AttributeError(name) from None


#: A result row of any columns.
AnyRow = Row


class _ByName(Mapping[str, Any]):
    """A row's columns by name, without copying them (rows are read by name, a column at a
    time, for every job the store returns)."""

    __slots__ = ("_row",)

    def __init__(self, row: Row) -> None:
        self._row = row

    def __getitem__(self, name: str) -> Any:
        return self._row[self._row._index[name]]

    def __iter__(self) -> Iterator[str]:
        return iter(self._row._names)

    def __len__(self) -> int:
        return len(self._row)


@functools.lru_cache(maxsize=256)
def _row_type(names: tuple[str, ...]) -> type[Row]:
    index = {name: position for position, name in enumerate(names)}
    return type("Row", (Row,), {"__slots__": (), "_names": names, "_index": index})


@dataclass(frozen=True, slots=True)
class _Compiled:
    """One statement as SQLite runs it: its SQL and the values it carries itself (such as an IN
    list of states, spelled out), or, if the caller gives an IN list, the compiled statement
    to spell it out with per call."""

    compiled: SQLCompiler
    sql: str
    constants: Params
    per_call: bool
    row_type: type[Row] | None  # None: it returns no rows

    def bind(self, params: Params) -> tuple[str, Mapping[str, Any]]:
        """The SQL and every value it binds: the statement's own, and the caller's."""
        if self.per_call:
            expanded = self.compiled.construct_expanded_state(params)
            return expanded.statement, expanded.parameters
        return self.sql, {**self.constants, **params}


@functools.lru_cache(maxsize=1024)
def _compile(statement: sa.Executable, keys: tuple[str, ...]) -> _Compiled:
    """Compile once per statement (and, for an INSERT or UPDATE, per set of columns given):
    the statements are module-level constants. SQLAlchemy's type converters are not applied:
    every column holds plain values (epoch seconds, text, JSON encoded by `rows`), which
    `test_schema_columns_need_no_converters` keeps true.

    Most statements bind only the caller's values by their own names, plus fixed values of
    their own: then the SQL and those values are worked out here, once, and a call costs a
    dict merge. A statement whose IN list comes from the caller is spelled out per call.
    """
    compiled = statement.compile(dialect=_SQLITE, column_keys=list(keys))  # type: ignore[attr-defined]
    assert isinstance(compiled, SQLCompiler)
    columns = getattr(statement, "exported_columns", None)
    returns_rows = isinstance(statement, sa.Select) or bool(getattr(statement, "_returning", ()))
    row_type = _row_type(tuple(columns.keys())) if returns_rows and columns is not None else None
    given = {name for bind, name in compiled.bind_names.items() if bind.required}
    per_call = bool(compiled.escaped_bind_names) or any(
        bind.expanding and bind.required for bind in compiled.bind_names
    )
    if per_call:
        return _Compiled(compiled, str(compiled), {}, True, row_type)
    expanded = compiled.construct_expanded_state(dict.fromkeys(given))
    constants = {k: v for k, v in expanded.parameters.items() if k not in given}
    return _Compiled(compiled, expanded.statement, constants, False, row_type)


def _prepare(statement: sa.Executable, params: Params | None) -> tuple[_Compiled, str, Any]:
    given = params or {}
    # Only an INSERT or UPDATE takes its columns from the values it is run with; any other
    # statement compiles once, whatever it is given.
    sets_columns = isinstance(statement, sa.Insert | sa.Update)
    compiled = _compile(statement, tuple(given) if sets_columns else ())
    sql, values = compiled.bind(given)
    return compiled, sql, values


class Session:
    """Runs statements on one connection, each executed and drained in one step: other tasks
    share the connection, and a write landing between execute and fetch could show a moved
    row twice."""

    def __init__(self, connection: aiosqlite.Connection) -> None:
        self._connection = connection

    async def rows(self, statement: sa.Executable, params: Params | None = None) -> list[Row]:
        """Every row the statement returns."""
        compiled, sql, values = _prepare(statement, params)
        assert compiled.row_type is not None, "a statement that returns no rows"
        found = await self._connection.execute_fetchall(sql, values)
        return [compiled.row_type(row) for row in found]

    async def row(self, statement: sa.Executable, params: Params | None = None) -> Row | None:
        """The statement's first row, if any."""
        rows = await self.rows(statement, params)
        return rows[0] if rows else None

    async def value(self, statement: sa.Executable, params: Params | None = None) -> Any:
        """The first column of the statement's first row (None if no row)."""
        row = await self.row(statement, params)
        return None if row is None else row[0]

    async def write(self, statement: sa.Executable, params: Params | None = None) -> int:
        """Run a statement that returns no rows; how many rows it changed."""
        _, sql, values = _prepare(statement, params)
        async with self._connection.execute(sql, values) as cursor:
            return cursor.rowcount

    async def upsert(self, table: sa.Table, keys: tuple[str, ...], values: Params) -> None:
        """Insert a row, or update the row with the same `keys` to these values."""
        await self.write(_upsert(_SQLITE.name, table, keys), values)


@functools.cache
def _upsert(dialect: str, table: sa.Table, keys: tuple[str, ...]) -> sa.Executable:
    """INSERT ... ON CONFLICT (keys) DO UPDATE SET every other column, in `dialect`'s words
    (SQLite and PostgreSQL spell it alike, but SQLAlchemy builds it per dialect)."""
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql  # noqa: PLC0415 - loaded only where used

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

    def __init__(self, shared: aiosqlite.Connection, transactions: aiosqlite.Connection) -> None:
        super().__init__(shared)
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
        return cls(shared, transactions)

    async def close(self) -> None:
        """Close the connections."""
        await self._shared.close()
        await self._tx.close()

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Session]:
        """An immediate (write-locked) transaction on the dedicated connection: what it reads
        stays true until it commits; committed when the block ends, rolled back if it
        raises."""
        async with self._tx_lock:
            await self._tx.execute("BEGIN IMMEDIATE")
            try:
                yield Session(self._tx)
            except BaseException:
                await self._tx.execute("ROLLBACK")
                raise
            await self._tx.execute("COMMIT")

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


def migrations() -> list[tuple[int, str]]:
    """The numbered migration scripts, in order."""
    folder = resources.files("bot.storage") / "migrations" / "sqlite"
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            found.append((int(entry.name.split("_", 1)[0]), entry.read_text(encoding="utf-8")))
    return sorted(found)


async def _migrate(driver: aiosqlite.Connection, path: Path) -> None:
    ((current,),) = await driver.execute_fetchall("PRAGMA user_version")
    pending = [(number, script) for number, script in migrations() if number > current]
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
