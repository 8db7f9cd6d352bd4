"""The database's clock: leases are counted by it alone, so processes on several machines
agree on when a lease ran out whatever their own clocks say."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement


class db_now(FunctionElement[float]):
    """The database's current time, in UTC epoch seconds (a float)."""

    type = sa.Float()
    inherit_cache = True


@compiles(db_now, "sqlite")
def _sqlite_now(element: db_now, compiler: SQLCompiler, **kw: Any) -> str:
    # julianday('now') is UTC with millisecond precision; 2440587.5 is 1970-01-01 as a Julian day.
    return "((julianday('now') - 2440587.5) * 86400.0)"


@compiles(db_now, "postgresql")
def _postgresql_now(element: db_now, compiler: SQLCompiler, **kw: Any) -> str:
    # clock_timestamp(), not now(): the moment of the statement, not of its transaction.
    return "CAST(extract(epoch from clock_timestamp()) AS double precision)"


@compiles(db_now)
def _unsupported(element: db_now, compiler: SQLCompiler, **kw: Any) -> str:
    raise NotImplementedError(f"no database clock for {compiler.dialect.name}")
