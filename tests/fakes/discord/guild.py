"""The one guild the fake hosts: its ids, channels, roles, members, overwrites and the
permissions Discord computes from them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tests.fakes.discord.constants import DEFAULT_APP_PERMISSIONS, SEND_MESSAGES, VIEW_CHANNEL
from tests.fakes.discord.payloads import guild_text_channel, role_object, snowflake, user_object
from tests.fakes.discord.permissions import base_permissions, channel_permissions


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
        """The single guild's id."""
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

    def add_channel(self, name: str, *, nsfw: bool = False) -> int:
        """Add a guild text channel; announce it by connecting after this call."""
        channel_id = snowflake()
        position = sum(1 for c in self._channels.values() if c["type"] == 0)
        self._channels[channel_id] = guild_text_channel(
            channel_id, self._guild_id, name, position=position, nsfw=nsfw
        )
        return channel_id

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
        roles = self._member_roles.get(user_id, [])
        base = base_permissions(
            [int(self._roles[r]["permissions"]) for r in (self._guild_id, *roles)],
            owner=user_id == self._owner_id,
        )
        return channel_permissions(
            base,
            channel["permission_overwrites"],
            guild_id=self._guild_id,
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
