"""Servers: their configuration, their blocked members and the audit trail of both."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy import bindparam

from bot.guilds.model import AuditEntry, Block, GuildConfig
from bot.storage import rows
from bot.storage.database import Database, Session
from bot.storage.schema import guild_audit, guild_blocks, guild_config

_CONFIG = sa.select(guild_config.c.config).where(guild_config.c.guild_id == bindparam("guild"))
_BLOCK = sa.select(guild_blocks).where(
    guild_blocks.c.guild_id == bindparam("guild"), guild_blocks.c.user_id == bindparam("user")
)
_BLOCKS = (
    sa.select(guild_blocks)
    .where(guild_blocks.c.guild_id == bindparam("guild"))
    .order_by(guild_blocks.c.blocked_at.desc())
)
_UNBLOCK = sa.delete(guild_blocks).where(
    guild_blocks.c.guild_id == bindparam("guild"), guild_blocks.c.user_id == bindparam("user")
)
_AUDIT = (
    sa.select(guild_audit)
    .where(guild_audit.c.guild_id == bindparam("guild"))
    .order_by(guild_audit.c.id.desc())
    .limit(bindparam("limit"))
)
_INSERT_AUDIT = sa.insert(guild_audit)


class SqlGuilds:
    """`GuildStore` over a `Database`."""

    _db: Database

    async def guild_config(self, guild_id: int) -> GuildConfig:
        """A server's configuration (the defaults if its admins never changed anything)."""
        return await _config(self._db, guild_id)

    async def update_guild_config(
        self, guild_id: int, change: Callable[[GuildConfig], GuildConfig], audit: AuditEntry
    ) -> GuildConfig:
        """Apply `change` to a server's configuration and record who did it, atomically.

        `change` may raise to refuse; nothing is written then.
        """
        # The lock: two admins' changes at once, from two processes, must not lose one.
        async with self._db.transaction(f"guilds:config:{guild_id}") as tx:
            updated = change(await _config(tx, guild_id))
            await tx.upsert(
                guild_config,
                ("guild_id",),
                {
                    "guild_id": guild_id,
                    "config": updated.model_dump_json(),
                    "updated_at": rows.ts(audit.at),
                },
            )
            await _insert_audit(tx, guild_id, audit)
        return updated

    async def get_block(self, guild_id: int, user_id: int) -> Block | None:
        """The member's block on this server, if any."""
        row = await self._db.row(_BLOCK, {"guild": guild_id, "user": user_id})
        return rows.block(row) if row else None

    async def blocks(self, guild_id: int) -> list[Block]:
        """Every blocked member of a server, most recent first."""
        return [rows.block(row) for row in await self._db.rows(_BLOCKS, {"guild": guild_id})]

    async def block_user(self, guild_id: int, block: Block) -> None:
        """Block a member (replacing an earlier block's reason), with an audit entry."""
        audit = AuditEntry(
            block.blocked_by, "block", f"<@{block.user_id}>: {block.reason}", block.blocked_at
        )
        async with self._db.transaction() as tx:
            await tx.upsert(
                guild_blocks,
                ("guild_id", "user_id"),
                {
                    "guild_id": guild_id,
                    "user_id": block.user_id,
                    "reason": block.reason,
                    "blocked_by": block.blocked_by,
                    "blocked_at": rows.ts(block.blocked_at),
                },
            )
            await _insert_audit(tx, guild_id, audit)

    async def unblock_user(self, guild_id: int, user_id: int, audit: AuditEntry) -> bool:
        """Lift a block, with an audit entry; False if the member was not blocked."""
        async with self._db.transaction() as tx:
            if await tx.write(_UNBLOCK, {"guild": guild_id, "user": user_id}) == 0:
                return False
            await _insert_audit(tx, guild_id, audit)
        return True

    async def audit_log(self, guild_id: int, limit: int) -> list[AuditEntry]:
        """A server's latest configuration changes, newest first."""
        found = await self._db.rows(_AUDIT, {"guild": guild_id, "limit": limit})
        return [AuditEntry(row.actor_id, row.action, row.detail, rows.at(row.at)) for row in found]


async def _config(db: Session, guild_id: int) -> GuildConfig:
    config = await db.value(_CONFIG, {"guild": guild_id})
    return GuildConfig() if config is None else GuildConfig.model_validate_json(config)


async def _insert_audit(db: Session, guild_id: int, audit: AuditEntry) -> None:
    await db.write(
        _INSERT_AUDIT,
        {
            "guild_id": guild_id,
            "actor_id": audit.actor_id,
            "action": audit.action,
            "detail": audit.detail,
            "at": rows.ts(audit.at),
        },
    )
