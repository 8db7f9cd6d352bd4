"""`python -m bot copy-database --to postgresql://…`: move a bot from SQLite to PostgreSQL.

Copies every table of the SQLite database (`--from`, else `DATABASE_URL`) into an EMPTY
PostgreSQL database, in one transaction: parents before children (a job's parent job first),
ids kept, then each id counter set past the highest id SQLite ever gave, and every table's
row count compared. Stop the bot first: rows written during the copy would be left behind.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import aiosqlite
import asyncpg
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.settings import DatabaseUrl, Settings, database_password
from bot.storage import DatabaseUnusableError, schema
from bot.storage.store import SqlStore

#: Rows read from SQLite and sent to PostgreSQL at a time.
_BATCH = 1000
#: Where `--to` is read from when it is not given (a URL with a password in it).
TARGET_VARIABLE = "COPY_TO_DATABASE_URL"
#: Tables that hold the database's own bookkeeping, not the bot's data.
_NOT_COPIED = {"sqlite_sequence", "schema_version"}


class CopyRefusedError(Exception):
    """The copy cannot be made as asked; nothing was written."""


class _DatabaseOnly(BaseSettings):
    """`DATABASE_URL` alone (the other settings are not needed to copy)."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")
    database_url: str = Settings.model_fields["database_url"].default


@dataclass(frozen=True)
class Copied:
    """What was copied: rows per table, in the order copied."""

    rows: dict[str, int]

    def summary(self, source: DatabaseUrl, target: DatabaseUrl) -> str:
        """A few lines for the operator."""
        counts = ", ".join(f"{table} {count}" for table, count in self.rows.items())
        return (
            f"copied {sum(self.rows.values())} rows in {len(self.rows)} tables from {source} "
            f"to {target}, every count verified: {counts}"
        )


def main(args: Sequence[str]) -> int:
    """Parse the command line, copy, print the summary; the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m bot copy-database",
        description="Copy the bot's SQLite database into an empty PostgreSQL database.",
    )
    parser.add_argument(
        "--to",
        default=os.environ.get(TARGET_VARIABLE),
        help=f"postgresql://USER:PASSWORD@HOST:PORT/DB (default: ${TARGET_VARIABLE}, which keeps "
        "the password out of the process list and the shell's history)",
    )
    parser.add_argument("--from", dest="source", help="sqlite:///path (default: DATABASE_URL)")
    options = parser.parse_args(args)
    if not options.to:
        parser.error(f"name the PostgreSQL database: --to URL, or {TARGET_VARIABLE}")
    try:
        source = DatabaseUrl.parse(options.source or _DatabaseOnly().database_url)
        target = DatabaseUrl.parse(options.to)
        copied = asyncio.run(copy_database(source, target))
    except (ValueError, CopyRefusedError, DatabaseUnusableError) as exc:
        print(f"copy-database: {exc}", file=sys.stderr)
        return 2
    except (OSError, asyncpg.PostgresError) as exc:
        # Unreachable, refused, or failed midway (the copy is one transaction: nothing stays).
        print(f"copy-database: {_without_password(exc, options.to)}", file=sys.stderr)
        return 2
    print(copied.summary(source, target))
    return 0


def _without_password(exc: BaseException, url: str) -> str:
    """What went wrong, in one line, never with the password."""
    text = f"{type(exc).__name__}: {exc}"
    if password := database_password(url):
        text = text.replace(password, "***")
    return text.replace("\n", " ")


async def copy_database(source: DatabaseUrl, target: DatabaseUrl) -> Copied:
    """Copy every table of `source` (SQLite) into `target` (an empty PostgreSQL database),
    bringing both schemas up to date first; CopyRefusedError if that cannot be done."""
    if source.path is None or not target.is_postgresql:
        raise CopyRefusedError("copies a SQLite database (--from) into PostgreSQL (--to)")
    if not _exists(source.path):
        raise CopyRefusedError(f"{source} does not exist")
    # Opening brings each schema to the newest version (SQLite keeps a backup first).
    async with await SqlStore.open(source.path):
        pass
    async with await SqlStore.open(target.url):
        pass
    async with aiosqlite.connect(source.path) as sqlite:
        connection = await asyncpg.connect(target.url)
        try:
            return await _copy(sqlite, connection, target)
        finally:
            await connection.close()


def _exists(path: Path) -> bool:
    return path.exists()


async def _copy(
    sqlite: aiosqlite.Connection, postgresql: asyncpg.Connection, target: DatabaseUrl
) -> Copied:
    tables = await _tables_in_order(sqlite)
    found = {row[0] for row in await postgresql.fetch(_POSTGRESQL_TABLES)} - _NOT_COPIED
    if found != set(tables):
        raise CopyRefusedError(
            f"the two schemas differ (SQLite: {sorted(tables)}, PostgreSQL: {sorted(found)})"
        )
    rows: dict[str, int] = {}
    async with postgresql.transaction():
        for table in tables:
            if await postgresql.fetchval(f'SELECT EXISTS (SELECT FROM "{table}")'):
                raise CopyRefusedError(
                    f"{target} is not empty (table {table} has rows): copy into an empty database"
                )
        for table in tables:
            rows[table] = await _copy_table(sqlite, postgresql, table)
        await _continue_ids(sqlite, postgresql)
        for table, count in rows.items():
            copied = await postgresql.fetchval(f'SELECT count(*) FROM "{table}"')
            if copied != count:
                raise CopyRefusedError(f"{table}: {count} rows read, {copied} written")
    return Copied(rows)


_POSTGRESQL_TABLES = "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"


async def _tables_in_order(sqlite: aiosqlite.Connection) -> list[str]:
    """Every table, parents before the tables that refer to them (then any the bot's schema
    description does not know, by name)."""
    listed = await sqlite.execute_fetchall("SELECT name FROM sqlite_master WHERE type = 'table'")
    present = {name for (name,) in listed} - _NOT_COPIED
    known = [t.name for t in schema.metadata.sorted_tables if t.name in present]
    return known + sorted(present - set(known))


async def _copy_table(
    sqlite: aiosqlite.Connection, postgresql: asyncpg.Connection, table: str
) -> int:
    """Copy one table in batches (a table with an `id` in its order, so a job's parent job
    comes before it); the number of rows."""
    columns = [row[1] for row in await sqlite.execute_fetchall(f'PRAGMA table_info("{table}")')]
    order = " ORDER BY id" if "id" in columns else ""
    listed = ", ".join(f'"{c}"' for c in columns)
    count = 0
    async with sqlite.execute(f'SELECT {listed} FROM "{table}"{order}') as cursor:
        while batch := list(await cursor.fetchmany(_BATCH)):
            await postgresql.copy_records_to_table(table, records=batch, columns=columns)
            count += len(batch)
    return count


async def _continue_ids(sqlite: aiosqlite.Connection, postgresql: asyncpg.Connection) -> None:
    """Set each id counter past the highest id SQLite gave (its counter: ids of deleted rows
    are not given again either)."""
    counters = await sqlite.execute_fetchall("SELECT name, seq FROM sqlite_sequence")
    given: dict[str, int] = {name: int(seq) for name, seq in counters}
    counted = await postgresql.fetch(
        "SELECT table_name, pg_get_serial_sequence(quote_ident(table_name), 'id') "
        "FROM information_schema.columns WHERE table_schema = 'public' "
        "AND column_name = 'id' AND is_identity = 'YES'"
    )
    for table, sequence in counted:
        highest = await postgresql.fetchval(f'SELECT coalesce(max(id), 0) FROM "{table}"')
        next_id = max(int(highest), given.get(table, 0)) + 1
        await postgresql.execute("SELECT setval($1, $2, false)", sequence, next_id)
