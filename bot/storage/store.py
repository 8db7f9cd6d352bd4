"""`SqlStore`: every aggregate's statements over one database, the store the bot opens."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path

from bot.storage.database import Database
from bot.storage.guilds import SqlGuilds
from bot.storage.jobs import SqlJobs
from bot.storage.members import SqlMembers
from bot.storage.meta import SqlMeta
from bot.storage.reports import SqlReports

#: How DATABASE_URL names each backend (bot/settings.py validates it in full).
SQLITE_PREFIX = "sqlite:///"
POSTGRESQL_SCHEMES = ("postgresql://", "postgres://")


class SqlStore(SqlJobs, SqlGuilds, SqlMembers, SqlReports, SqlMeta):
    """`Store` on SQLite (one file in WAL mode, one process) or PostgreSQL (shared by several
    processes), with the numbered migrations of its dialect applied at open."""

    def __init__(self, database: Database) -> None:
        self._db = database

    @classmethod
    async def open(cls, target: Path | str) -> SqlStore:
        """Open the database `target` names (creating a SQLite file if needed) and bring its
        schema up to date: a path or `sqlite:///path` (SQLite), or `postgresql://…` /
        `postgres://…` (PostgreSQL).

        Raises DatabaseUnusableError, leaving it untouched, when it is not a readable database
        or was written by a newer version of the bot.
        """
        path, url = _backend(target)
        if url is not None:
            from bot.storage.postgresql import PostgresDatabase  # noqa: PLC0415 - only if used

            return cls(await PostgresDatabase.open(url))
        from bot.storage.sqlite import SqliteDatabase  # noqa: PLC0415

        assert path is not None
        return cls(await SqliteDatabase.open(path))

    @property
    def database(self) -> Database:
        """The database under the store (backend-specific tests inspect it)."""
        return self._db

    @property
    def dialect(self) -> str:
        """`sqlite` or `postgresql`."""
        return self._db.dialect.name

    @property
    def single_process(self) -> bool:
        """True when no other process uses the database (SQLite: one process by design), so
        this one takes every lease at start."""
        return self.dialect == "sqlite"

    def hold_lock(self, name: str) -> AbstractAsyncContextManager[None]:
        """Hold the bot-wide lock `name` for the block, waiting until it is free: at most one
        holder in every process on this database (for work done once for the whole bot).

        On PostgreSQL the lock lives as long as its own connection: a process that dies frees
        it at once, and so does a lost connection (the holder is not told), so keep the work
        under it short or idempotent."""
        return self._db.hold_lock(name)

    def try_lock(self, name: str) -> AbstractAsyncContextManager[bool]:
        """Hold the bot-wide lock `name` for the block if no one else does; yields whether
        this process got it (False: another holds it; skip the work)."""
        return self._db.try_lock(name)

    async def notify(self, channel: str) -> None:
        """Wake every listener of `channel` in every process on this database (a hint, never
        the only way work is found: it can be lost, and several merge into one)."""
        await self._db.notify(channel)

    async def listen(self, channel: str, callback: Callable[[], None]) -> None:
        """Call `callback` (in this process's loop) whenever `channel` is notified, until the
        store closes."""
        await self._db.listen(channel, callback)

    async def close(self) -> None:
        """Close the database."""
        await self._db.close()

    async def __aenter__(self) -> SqlStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def _backend(target: Path | str) -> tuple[Path | None, str | None]:
    """(a SQLite file, None) or (None, a PostgreSQL URL)."""
    if isinstance(target, Path):
        return target, None
    if target.startswith(POSTGRESQL_SCHEMES):
        return None, target
    return Path(target.removeprefix(SQLITE_PREFIX)), None
