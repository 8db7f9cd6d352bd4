"""What every database under the store shares: result rows, statements compiled once per
dialect, the `Session` that runs them and the `Database` a backend provides.

The statements (the aggregate modules) are SQLAlchemy Core, written once for any dialect.
Each is compiled once per dialect and run straight on the driver (aiosqlite, asyncpg):
SQLAlchemy's asyncio layer cost about five times as much CPU per statement (README,
Performance), and the bot runs some twenty statements a job. Each backend (`sqlite.py`,
`postgresql.py`) holds what is its own: connections, transactions, locks, wake-up hints and
its numbered migrations in `migrations/<dialect>/`.
"""

from __future__ import annotations

import abc
import functools
import hashlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from importlib import resources
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.compiler import SQLCompiler

#: Parameters of one statement, by name.
Params = dict[str, Any]


class DatabaseUnusableError(Exception):
    """The database cannot be used as it is; the bot must stop rather than overwrite it."""


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
class Compiled:
    """One statement as a dialect runs it: its SQL and the values it carries itself (such as
    an IN list of states, spelled out), or, if the caller gives an IN list, the compiled
    statement to spell it out with per call."""

    compiled: SQLCompiler
    sql: str
    constants: Params
    per_call: bool
    row_type: type[Row] | None  # None: it returns no rows
    #: The parameters' names in the order of `$1, $2, …` (positional dialects); else empty.
    order: tuple[str, ...]

    def named(self, params: Params) -> tuple[str, Mapping[str, Any]]:
        """The SQL and every value it binds, by name: the statement's own, and the caller's."""
        if self.per_call:
            expanded = self.compiled.construct_expanded_state(params)
            return expanded.statement, expanded.parameters
        return self.sql, {**self.constants, **params}

    def positional(self, params: Params) -> tuple[str, list[Any]]:
        """The SQL and every value it binds, in the order of its `$n` placeholders."""
        if self.per_call:
            expanded = self.compiled.construct_expanded_state(params)
            return expanded.statement, list(expanded.positional_parameters)
        values = {**self.constants, **params}
        return self.sql, [values[name] for name in self.order]


@functools.lru_cache(maxsize=2048)
def _compile(dialect: Dialect, statement: sa.Executable, keys: tuple[str, ...]) -> Compiled:
    """Compile once per dialect and statement (and, for an INSERT or UPDATE, per set of
    columns given): the statements are module-level constants. SQLAlchemy's type converters
    are not applied: every column holds plain values (epoch seconds, text, JSON encoded by
    `rows`), which `test_schema_columns_need_no_converters` keeps true.

    Most statements bind only the caller's values by their own names, plus fixed values of
    their own: then the SQL and those values are worked out here, once, and a call costs a
    dict merge. A statement whose IN list comes from the caller is spelled out per call.
    """
    compiled = statement.compile(dialect=dialect, column_keys=list(keys))  # type: ignore[attr-defined]
    assert isinstance(compiled, SQLCompiler)
    columns = getattr(statement, "exported_columns", None)
    returns_rows = isinstance(statement, sa.Select) or bool(getattr(statement, "_returning", ()))
    row_type = _row_type(tuple(columns.keys())) if returns_rows and columns is not None else None
    given = {name for bind, name in compiled.bind_names.items() if bind.required}
    per_call = bool(compiled.escaped_bind_names) or any(
        bind.expanding and bind.required for bind in compiled.bind_names
    )
    if per_call:
        return Compiled(compiled, str(compiled), {}, True, row_type, ())
    expanded = compiled.construct_expanded_state(dict.fromkeys(given))
    constants = {k: v for k, v in expanded.parameters.items() if k not in given}
    order = tuple(expanded.positiontup or ())
    return Compiled(compiled, expanded.statement, constants, False, row_type, order)


def compile_for(dialect: Dialect, statement: sa.Executable, params: Params | None) -> Compiled:
    """`statement` compiled for `dialect`, for these parameters' columns if it sets any."""
    # Only an INSERT or UPDATE takes its columns from the values it is run with; any other
    # statement compiles once, whatever it is given.
    sets_columns = isinstance(statement, sa.Insert | sa.Update)
    return _compile(dialect, statement, tuple(params or ()) if sets_columns else ())


class Session(abc.ABC):
    """Runs statements: on a database's shared connections, or inside one transaction."""

    #: The dialect the session's statements are compiled for.
    dialect: ClassVar[Dialect]

    @abc.abstractmethod
    async def rows(self, statement: sa.Executable, params: Params | None = None) -> list[Row]:
        """Every row the statement returns."""

    @abc.abstractmethod
    async def write(self, statement: sa.Executable, params: Params | None = None) -> int:
        """Run a statement that returns no rows; how many rows it changed."""

    async def row(self, statement: sa.Executable, params: Params | None = None) -> Row | None:
        """The statement's first row, if any."""
        rows = await self.rows(statement, params)
        return rows[0] if rows else None

    async def value(self, statement: sa.Executable, params: Params | None = None) -> Any:
        """The first column of the statement's first row (None if no row)."""
        row = await self.row(statement, params)
        return None if row is None else row[0]

    async def upsert(self, table: sa.Table, keys: tuple[str, ...], values: Params) -> None:
        """Insert a row, or update the row with the same `keys` to these values."""
        await self.write(_upsert(self.dialect.name, table, keys), values)


@functools.cache
def _upsert(dialect: str, table: sa.Table, keys: tuple[str, ...]) -> sa.Executable:
    """INSERT ... ON CONFLICT (keys) DO UPDATE SET every other column, in `dialect`'s words
    (SQLite and PostgreSQL spell it alike, but SQLAlchemy builds it per dialect)."""
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql  # noqa: PLC0415 - loaded only where used

        on_postgresql = postgresql.insert(table)
        others = {c.name: on_postgresql.excluded[c.name] for c in table.c if c.name not in keys}
        return on_postgresql.on_conflict_do_update(index_elements=keys, set_=others)
    from sqlalchemy.dialects import sqlite  # noqa: PLC0415

    on_sqlite = sqlite.insert(table)
    others = {c.name: on_sqlite.excluded[c.name] for c in table.c if c.name not in keys}
    return on_sqlite.on_conflict_do_update(index_elements=keys, set_=others)


class Database(Session):
    """A backend: statements in autocommit, transactions, bot-wide locks and wake-up hints."""

    @abc.abstractmethod
    def transaction(self, *locks: str) -> AbstractAsyncContextManager[Session]:
        """A transaction: what it reads stays true until it commits; committed when the block
        ends, rolled back if it raises. It first waits for every other transaction naming
        one of `locks` (in the order given: always name them in one fixed order)."""

    @abc.abstractmethod
    def serialized(self, *locks: str) -> AbstractAsyncContextManager[Session]:
        """A session for ONE statement that must not overlap with any other naming one of
        `locks` (such as a count-then-claim), without the cost of a transaction where the
        database already runs one writer at a time."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Close every connection."""

    @abc.abstractmethod
    def hold_lock(self, name: str) -> AbstractAsyncContextManager[None]:
        """Hold the bot-wide lock `name` for the block, waiting until it is free."""

    @abc.abstractmethod
    def try_lock(self, name: str) -> AbstractAsyncContextManager[bool]:
        """Hold the bot-wide lock `name` for the block if it is free: yields whether it is
        held (False: another holder has it; nothing to release)."""

    @abc.abstractmethod
    async def notify(self, channel: str) -> None:
        """Wake every listener of `channel`, in any process (a hint: may be lost or merged)."""

    @abc.abstractmethod
    async def listen(self, channel: str, callback: Callable[[], None]) -> None:
        """Call `callback` whenever `channel` is notified, until the database closes."""


def migrations(dialect: str = "sqlite") -> list[tuple[int, str]]:
    """The numbered migration scripts of `dialect` (`sqlite`, `postgresql`), in order."""
    folder = resources.files("bot.storage") / "migrations" / dialect
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            found.append((int(entry.name.split("_", 1)[0]), entry.read_text(encoding="utf-8")))
    return sorted(found)


def lock_key(name: str) -> int:
    """A lock's name as a signed 64-bit key, the same in every process and every run (unlike
    `hash`, which Python salts per process)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
