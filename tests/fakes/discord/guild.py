"""The guilds the fake hosts: the main one (its ids, channels, roles, members, overwrites and
the permissions Discord computes from them) and, for sharding, plain further ones.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from tests.fakes.discord.constants import (
    DEFAULT_APP_PERMISSIONS,
    EVERYONE_PERMISSIONS,
    SEND_MESSAGES,
    VIEW_CHANNEL,
)
from tests.fakes.discord.payloads import (
    guild_text_channel,
    role_object,
    snowflake,
    snowflake_on_shard,
    user_object,
)
from tests.fakes.discord.permissions import base_permissions, channel_permissions


@dataclass
class OtherGuild:
    """A guild besides the main one: its @everyone role and its text channels. Every member
    of the main guild (the bot, the owner, invokers) is a member here too, with no role."""

    id: int
    name: str
    everyone: dict[str, Any]
    channel_id: int


class GuildSetup:
    """Ids and world setup (a part of ``FakeDiscord``).

    Changes reach the bot in GUILD_CREATE, so make them before it connects, or call
    ``push_guild_update()`` afterwards.
    """

    @property
    def application_id(self) -> int:
        """The application (and interaction webhook) id."""
        return self._application_id

    @property
    def bot_user_id(self) -> int:
        """The bot user's id."""
        return self._bot_user_id

    @property
    def guild_id(self) -> int:
        """The main guild's id."""
        return self._guild_id

    @property
    def channel_id(self) -> int:
        """The default text channel ("general")."""
        return self._channel_id

    @property
    def owner_id(self) -> int:
        """The guild owner's user id (has every permission everywhere)."""
        return self._owner_id

    @property
    def everyone_role_id(self) -> int:
        """The @everyone role's id (= the guild id)."""
        return self._guild_id

    def role(self, role_id: int) -> dict[str, Any]:
        """The role object of ``role_id`` (as sent in GUILD_CREATE)."""
        return self._roles[role_id]

    def channel(self, channel_id: int) -> dict[str, Any]:
        """The channel object of ``channel_id`` (as sent in GUILD_CREATE, plus guild_id)."""
        return self._channels[channel_id]

    def add_channel(self, name: str, *, nsfw: bool = False, guild_id: int | None = None) -> int:
        """Add a text channel to the main guild (or ``guild_id``); announce it by connecting
        after this call."""
        guild_id = guild_id or self._guild_id
        channel_id = snowflake()
        position = sum(1 for c in self._guild_channels(guild_id))
        self._channels[channel_id] = guild_text_channel(
            channel_id, guild_id, name, position=position, nsfw=nsfw
        )
        return channel_id

    # Sharding -----------------------------------------------------------------------------

    def use_shards(
        self, count: int, *, max_concurrency: int = 1, guilds_per_shard: int = 1
    ) -> dict[int, list[int]]:
        """Serve ``count`` gateway shards: ``GET /gateway/bot`` says ``count`` and
        ``max_concurrency``, IDENTIFYs must carry ``shard: [id, count]``, and each shard gets
        guilds (``add_guild``) until it has ``guilds_per_shard`` (the main guild counts for
        its own shard). Returns every shard's guild ids (``guilds_on_shard``)."""
        if self._conns:
            raise RuntimeError("set the shards before the bot connects")
        self.shard_count = count
        self.max_concurrency = max_concurrency
        for shard_id in range(count):
            while len(self.guilds_on_shard(shard_id)) < guilds_per_shard:
                self.add_guild(shard_id)
        return {shard_id: self.guilds_on_shard(shard_id) for shard_id in range(count)}

    def add_guild(self, shard_id: int | None = None, name: str | None = None) -> int:
        """Add a guild (on ``shard_id`` of ``shard_count``, if given) with a "general" text
        channel (``general_channel_of``); the bot, the owner and every member of the main
        guild are in it, with @everyone's permissions. Returns its id."""
        if shard_id is not None and not 0 <= shard_id < self.shard_count:
            raise ValueError(f"shard {shard_id} outside 0..{self.shard_count - 1}")
        guild_id = (
            snowflake() if shard_id is None else snowflake_on_shard(shard_id, self.shard_count)
        )
        everyone = role_object(guild_id, "@everyone", EVERYONE_PERMISSIONS)
        guild = OtherGuild(
            guild_id, name or f"Fake Guild {len(self._other_guilds) + 2}", everyone, 0
        )
        self._other_guilds[guild_id] = guild
        guild.channel_id = self.add_channel("general", guild_id=guild_id)
        return guild_id

    @property
    def guild_ids(self) -> list[int]:
        """Every guild's id, the main one first."""
        return [self._guild_id, *self._other_guilds]

    def shard_of(self, guild_id: int) -> int:
        """The shard Discord sends a guild's events to: ``(guild_id >> 22) % shard_count``."""
        return (guild_id >> 22) % self.shard_count

    def guilds_on_shard(self, shard_id: int) -> list[int]:
        """The guilds whose events go to ``shard_id``, the main guild first if it is one."""
        return [g for g in self.guild_ids if self.shard_of(g) == shard_id]

    def general_channel_of(self, guild_id: int) -> int:
        """A guild's first text channel ("general"): what ``channel_id=`` takes to make an
        interaction in that guild."""
        if guild_id == self._guild_id:
            return self._channel_id
        return self._other_guilds[guild_id].channel_id

    def guild_of(self, channel_id: int) -> int:
        """The guild of a channel (the main guild's for a DM: interactions there carry it)."""
        return int(self._channels[channel_id].get("guild_id") or self._guild_id)

    def _guild_channels(self, guild_id: int) -> list[dict[str, Any]]:
        return [
            c
            for c in self._channels.values()
            if c["type"] == 0 and int(c.get("guild_id") or 0) == guild_id
        ]

    def _roles_in(self, guild_id: int, user_id: int) -> list[int]:
        """A member's roles in a guild (roles exist in the main guild only)."""
        return self._member_roles.get(user_id, []) if guild_id == self._guild_id else []

    def _everyone_of(self, guild_id: int) -> dict[str, Any]:
        if guild_id == self._guild_id:
            return self._roles[guild_id]
        return self._other_guilds[guild_id].everyone

    def add_role(self, name: str, permissions: int = 0) -> int:
        """Add a guild role above the existing ones; return its id (announce by connecting)."""
        role_id = snowflake()
        self._roles[role_id] = role_object(role_id, name, permissions, position=len(self._roles))
        return role_id

    def add_member(self, username: str, *, roles: Iterable[int] = ()) -> int:
        """Add a guild member with ``roles``; return the user id."""
        user_id = snowflake()
        self._users[user_id] = user_object(user_id, username)
        self.set_roles(user_id, roles)
        return user_id

    def add_user(self, username: str) -> int:
        """Add a user who is not in the guild (e.g. for a USER option); return the id."""
        user_id = snowflake()
        self._users[user_id] = user_object(user_id, username)
        return user_id

    def set_roles(self, user_id: int, roles: Iterable[int]) -> None:
        """Replace a member's roles (``bot_user_id`` for the bot); adds the user to the guild."""
        role_ids = [int(r) for r in roles if int(r) != self._guild_id]
        unknown = [r for r in role_ids if r not in self._roles]
        if unknown or user_id not in self._users:
            raise ValueError(f"unknown role(s) {unknown} or user {user_id}")
        self._member_roles[user_id] = role_ids

    def set_overwrite(
        self, channel_id: int, target_id: int, *, allow: int = 0, deny: int = 0
    ) -> None:
        """Set (replace) the channel overwrite of a role or member; 0/0 removes it.

        ``target_id`` is a role id (incl. ``everyone_role_id``) or a user id.
        """
        channel = self._channels[channel_id]
        overwrites = [o for o in channel["permission_overwrites"] if int(o["id"]) != target_id]
        if allow or deny:
            kind = 0 if target_id in self._roles else 1
            overwrites.append(
                {"id": str(target_id), "type": kind, "allow": str(allow), "deny": str(deny)}
            )
        channel["permission_overwrites"] = overwrites

    def deny_bot(self, channel_id: int, permissions: int) -> None:
        """Deny the bot ``permissions`` in a channel (a member overwrite on the bot user)."""
        allow, deny = self._overwrite_bits(channel_id, self._bot_user_id)
        self.set_overwrite(
            channel_id, self._bot_user_id, allow=allow & ~permissions, deny=deny | permissions
        )

    def hide_channel_from_bot(self, channel_id: int) -> None:
        """Deny the bot VIEW_CHANNEL in a channel (it can still be invoked there)."""
        self.deny_bot(channel_id, VIEW_CHANNEL)

    def deny_channel_post(self, channel_id: int) -> None:
        """Deny SEND_MESSAGES for @everyone in a channel: channel posts then get 403/50013."""
        self.set_overwrite(channel_id, self._guild_id, deny=SEND_MESSAGES)

    def allow_channel_post(self, channel_id: int) -> None:
        """Undo ``deny_channel_post`` (drops the @everyone overwrite)."""
        self.set_overwrite(channel_id, self._guild_id)

    def permissions_in(self, channel_id: int, user_id: int) -> int:
        """A member's computed permissions in a guild channel (roles, overwrites, implicit)."""
        channel = self._channels[channel_id]
        if channel["type"] == 1:  # DM: no guild permissions apply
            return DEFAULT_APP_PERMISSIONS
        guild_id = int(channel["guild_id"])
        roles = self._roles_in(guild_id, user_id)
        base = base_permissions(
            [
                int(self._everyone_of(guild_id)["permissions"]),
                *(int(self._roles[r]["permissions"]) for r in roles),
            ],
            owner=user_id == self._owner_id,
        )
        return channel_permissions(
            base,
            channel["permission_overwrites"],
            guild_id=guild_id,
            member_id=user_id,
            member_roles=roles,
        )

    def bot_permissions(self, channel_id: int) -> int:
        """The bot's computed permissions in a guild channel."""
        return self.permissions_in(channel_id, self._bot_user_id)

    def _overwrite_bits(self, channel_id: int, target_id: int) -> tuple[int, int]:
        for ow in self._channels[channel_id]["permission_overwrites"]:
            if int(ow["id"]) == target_id:
                return int(ow["allow"]), int(ow["deny"])
        return 0, 0

    def delete_channel(self, channel_id: int) -> None:
        """Make channel routes answer 404/10003 (no CHANNEL_DELETE is dispatched)."""
        self._deleted_channels.add(channel_id)
