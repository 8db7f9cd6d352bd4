"""Small key/value facts about the deployment (e.g. the hash of the synced command tree)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import bindparam

from bot.storage.database import Database
from bot.storage.schema import meta

_GET = sa.select(meta.c.value).where(meta.c.key == bindparam("key"))


class SqlMeta:
    """`MetaStore` over a `Database`."""

    _db: Database

    async def get_meta(self, key: str) -> str | None:
        """Read a deployment fact."""
        value: str | None = await self._db.value(_GET, {"key": key})
        return value

    async def set_meta(self, key: str, value: str) -> None:
        """Write a deployment fact."""
        await self._db.upsert(meta, ("key",), {"key": key, "value": value})
