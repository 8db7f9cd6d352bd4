"""Routes for users, DMs, the application and the gateway URL."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from aiohttp import web

from tests.fakes.discord.http import Call, DiscordError
from tests.fakes.discord.payloads import application_object, dm_channel, snowflake
from tests.fakes.discord.permissions import base_permissions


class Users:
    """``/users``, ``/oauth2/applications/@me``, ``/gateway`` (a part of ``FakeDiscord``)."""

    #: Fields merged into GET /oauth2/applications/@me (``interactions_endpoint_url``,
    #: ``install_params``, ``flags``...), to give the application a setup to check; assign a
    #: new dict.
    application_overrides: Mapping[str, Any] = MappingProxyType({})

    def _me(self) -> dict[str, Any]:
        return {**self._bot_user, "verified": True, "mfa_enabled": False, "flags": 0}

    async def _get_me(self, call: Call) -> web.Response:
        return self._ok(call, self._me())

    async def _get_user(self, call: Call) -> web.Response:
        user = self._users.get(call.int_param("uid"))
        if user is None:
            raise DiscordError(404, 10013, "Unknown User")
        return self._ok(call, user)

    async def _get_my_guilds(self, call: Call) -> web.Response:
        """The bot's guilds, with its server-wide permissions there (roles, no overwrites)."""
        guilds = []
        for guild_id in self.guild_ids:
            roles = self._roles_in(guild_id, self._bot_user_id)
            permissions = base_permissions(
                [
                    int(self._everyone_of(guild_id)["permissions"]),
                    *(int(self._roles[r]["permissions"]) for r in roles),
                ],
                owner=False,
            )
            main = guild_id == self._guild_id
            guilds.append(
                {
                    "id": str(guild_id),
                    "name": "Fake Guild" if main else self._other_guilds[guild_id].name,
                    "icon": None,
                    "owner": False,
                    "permissions": str(permissions),
                    "features": [],
                }
            )
        return self._ok(call, guilds)

    async def _get_application(self, call: Call) -> web.Response:
        owner = self._users[self._owner_id]
        application = application_object(self._application_id, owner, self._bot_user)
        return self._ok(call, {**application, **self.application_overrides})

    async def _get_gateway(self, call: Call) -> web.Response:
        return self._ok(call, {"url": self.gateway_url})

    async def _get_gateway_bot(self, call: Call) -> web.Response:
        limit = {
            "total": 1000,
            "remaining": 999,
            "reset_after": 14_400_000,
            "max_concurrency": self.max_concurrency,
        }
        body = {"url": self.gateway_url, "shards": self.shard_count, "session_start_limit": limit}
        return self._ok(call, body)

    async def _create_dm(self, call: Call) -> web.Response:
        recipient_id = int((call.body or {}).get("recipient_id", 0))
        recipient = self._users.get(recipient_id)
        if recipient is None:
            raise DiscordError(400, 50033, "Invalid Recipient(s)")
        for channel in self._channels.values():
            if channel["type"] == 1 and channel["recipients"][0]["id"] == recipient["id"]:
                return self._ok(call, channel)
        channel_id = snowflake()
        self._channels[channel_id] = dm_channel(channel_id, recipient)
        return self._ok(call, self._channels[channel_id])
