"""Bot-wide named locks: what several processes of one bot must do one at a time or once.

On SQLite the bot is one process by design (one writer on one file), so a lock held in this
process is a bot-wide lock. A shared backend (PostgreSQL) takes session advisory locks instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class ProcessLocks:
    """`LockStore` for a bot that is one process: one asyncio lock per name."""

    #: Set by the store's constructor (empty).
    _locks: dict[str, asyncio.Lock]

    def _named(self, name: str) -> asyncio.Lock:
        return self._locks.setdefault(name, asyncio.Lock())

    @asynccontextmanager
    async def hold_lock(self, name: str) -> AsyncIterator[None]:
        """Hold the bot-wide lock `name`, waiting while another holder has it."""
        async with self._named(name):
            yield

    @asynccontextmanager
    async def try_lock(self, name: str) -> AsyncIterator[bool]:
        """Take the bot-wide lock `name` if it is free: yields whether it was taken (and is
        held until the block ends); never waits."""
        lock = self._named(name)
        if lock.locked():
            yield False
            return
        async with lock:
            yield True
