"""`SqlStore`: every aggregate's statements over one database, the store the bot opens."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from bot.storage.database import Database
from bot.storage.guilds import SqlGuilds
from bot.storage.jobs import SqlJobs
from bot.storage.members import SqlMembers
from bot.storage.meta import SqlMeta
from bot.storage.reports import SqlReports


class SqlStore(SqlJobs, SqlGuilds, SqlMembers, SqlReports, SqlMeta):
    """`Store` on one SQLite file in WAL mode, with numbered migrations applied at open.

    A shared PostgreSQL backend for several bot processes would run the same statements;
    there `claim_next_queued` must serialise its count-then-claim across processes (an
    advisory lock around the statement), and `admit` its transaction likewise.
    """

    #: One process by design: it takes every lease at start, and hints stay in the process.
    single_process = True

    def __init__(self, database: Database) -> None:
        self._db = database
        self._listeners: defaultdict[str, list[Callable[[], None]]] = defaultdict(list)

    async def notify(self, channel: str) -> None:
        """Call every listener of `channel` (SQLite: the listeners of this process)."""
        for callback in list(self._listeners[channel]):
            callback()

    async def listen(self, channel: str, callback: Callable[[], None]) -> None:
        """Have `callback` called at every `notify(channel)`, until the store closes."""
        self._listeners[channel].append(callback)

    @classmethod
    async def open(cls, path: Path) -> SqlStore:
        """Open (creating if needed) the database at `path` and bring its schema up to date.

        Raises DatabaseUnusableError, leaving the file untouched, when it is not a readable
        SQLite database or was written by a newer version of the bot.
        """
        return cls(await Database.open(path))

    @property
    def database(self) -> Database:
        """The database under the store (SQLite-specific tests read plans through it)."""
        return self._db

    async def close(self) -> None:
        """Close the database."""
        self._listeners.clear()
        await self._db.close()

    async def __aenter__(self) -> SqlStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
