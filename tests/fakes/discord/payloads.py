"""Builders for the JSON objects Discord sends, shaped the way discord.py 2.7 parses them.

Users, members, channels, roles, GUILD_CREATE, the application, attachments and
messages. Field choices follow the research note (shared/research/discord-platform.md,
E2-E4) and discord.py's own ``data[...]`` accesses; every id is a current-time snowflake.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from tests.fakes.discord.constants import EVERYONE_PERMISSIONS, MESSAGE_TYPE_DEFAULT

DISCORD_EPOCH_MS = 1_420_070_400_000

_snowflake_lock = threading.Lock()
_last_snowflake = 0


def snowflake() -> int:
    """Return a fresh, strictly increasing snowflake for the current time."""
    global _last_snowflake  # noqa: PLW0603 - process-wide monotonic counter
    candidate = (int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22
    with _snowflake_lock:
        _last_snowflake = max(candidate, _last_snowflake + 1)
        return _last_snowflake


def snowflake_on_shard(shard_id: int, shard_count: int) -> int:
    """A fresh snowflake that, as a guild id, Discord routes to ``shard_id`` of
    ``shard_count`` (``(id >> 22) % shard_count``; its time is at most that many ms ahead)."""
    global _last_snowflake  # noqa: PLW0603 - process-wide monotonic counter
    with _snowflake_lock:
        value = max((int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22, _last_snowflake + 1)
        stamp = value >> 22
        if stamp % shard_count != shard_id:
            value = (stamp + (shard_id - stamp) % shard_count) << 22
        _last_snowflake = value
        return value


def snowflake_time(value: int) -> datetime:
    """Return the UTC creation time encoded in a snowflake."""
    return datetime.fromtimestamp(((value >> 22) + DISCORD_EPOCH_MS) / 1000, tz=UTC)


def iso(dt: datetime) -> str:
    """Format a datetime the way Discord does (ISO 8601 with offset)."""
    return dt.isoformat()


def now_iso() -> str:
    """Return the current UTC time in Discord's timestamp format."""
    return iso(datetime.now(UTC))


def user_object(user_id: int, username: str, *, bot: bool = False) -> dict[str, Any]:
    """Build a user object (discord.py needs id, username, discriminator, avatar)."""
    user: dict[str, Any] = {
        "id": str(user_id),
        "username": username,
        "discriminator": "0",
        "global_name": None if bot else username.title(),
        "avatar": None,
        "public_flags": 0,
    }
    if bot:
        user["bot"] = True
    return user


def member_object(
    user: dict[str, Any],
    *,
    permissions: int | None = None,
    joined_at: str | None = None,
    roles: Iterable[int] = (),
) -> dict[str, Any]:
    """Build a guild member object (discord.py needs user, roles, flags)."""
    member: dict[str, Any] = {
        "user": user,
        "roles": [str(r) for r in roles],
        "flags": 0,
        "joined_at": joined_at or "2024-01-01T00:00:00+00:00",
        "nick": None,
        "avatar": None,
        "premium_since": None,
        "pending": False,
        "deaf": False,
        "mute": False,
    }
    if permissions is not None:
        member["permissions"] = str(permissions)
    return member


def guild_text_channel(
    channel_id: int,
    guild_id: int,
    name: str,
    *,
    position: int = 0,
    nsfw: bool = False,
    overwrites: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Build a guild text channel object (type 0)."""
    return {
        "id": str(channel_id),
        "type": 0,
        "guild_id": str(guild_id),
        "name": name,
        "position": position,
        "permission_overwrites": list(overwrites or []),
        "nsfw": nsfw,
        "topic": None,
        "parent_id": None,
        "rate_limit_per_user": 0,
        "last_message_id": None,
        "flags": 0,
    }


def dm_channel(channel_id: int, recipient: dict[str, Any]) -> dict[str, Any]:
    """Build a DM channel object (type 1)."""
    return {
        "id": str(channel_id),
        "type": 1,
        "recipients": [recipient],
        "last_message_id": None,
        "flags": 0,
    }


def role_object(role_id: int, name: str, permissions: int, *, position: int = 0) -> dict[str, Any]:
    """Build a role object."""
    return {
        "id": str(role_id),
        "name": name,
        "permissions": str(permissions),
        "position": position,
        "color": 0,
        "hoist": False,
        "managed": False,
        "mentionable": False,
        "flags": 0,
    }


def guild_create(
    *,
    guild_id: int,
    owner_id: int,
    bot_member: dict[str, Any],
    channels: list[dict[str, Any]],
    everyone_permissions: int = EVERYONE_PERMISSIONS,
    roles: list[dict[str, Any]] | None = None,
    members: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Build the GUILD_CREATE ``d`` for the fake guild (not owned by the bot).

    ``roles`` must include @everyone (id = guild id) when given; ``members`` are extra
    members besides the bot.
    """
    if roles is None:
        roles = [role_object(guild_id, "@everyone", everyone_permissions)]
    all_members = [bot_member, *(members or [])]
    return {
        "id": str(guild_id),
        "name": "Fake Guild",
        "icon": None,
        "unavailable": False,
        "owner_id": str(owner_id),
        "member_count": max(2, len(all_members)),
        "large": False,
        "roles": roles,
        "channels": channels,
        "threads": [],
        "members": all_members,
        "voice_states": [],
        "presences": [],
        "emojis": [],
        "stickers": [],
        "features": [],
        "premium_tier": 0,
        "preferred_locale": "en-US",
        "joined_at": bot_member["joined_at"],
        "system_channel_id": None,
        "afk_channel_id": None,
        "afk_timeout": 300,
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "mfa_level": 0,
        "nsfw_level": 0,
        "application_id": None,
    }


def application_object(app_id: int, owner: dict[str, Any], bot: dict[str, Any]) -> dict[str, Any]:
    """Build the GET /oauth2/applications/@me body (no interactions_endpoint_url)."""
    return {
        "id": str(app_id),
        "name": "Fake App",
        "description": "",
        "icon": None,
        "bot_public": True,
        "bot_require_code_grant": False,
        "owner": owner,
        "team": None,
        "verify_key": "0" * 64,
        "flags": 0,
        "summary": "",
        "bot": bot,
    }


def attachment_object(
    *,
    attachment_id: int,
    filename: str,
    size: int,
    url: str,
    content_type: str | None = None,
    width: int | None = None,
    height: int | None = None,
    ephemeral: bool = False,
    description: str | None = None,
) -> dict[str, Any]:
    """Build an attachment object; ``content_type`` is omitted when unknown (it is optional)."""
    att: dict[str, Any] = {
        "id": str(attachment_id),
        "filename": filename,
        "size": size,
        "url": url,
        "proxy_url": url,
        "width": width,
        "height": height,
    }
    if content_type is not None:
        att["content_type"] = content_type
    if description is not None:
        att["description"] = description
    if ephemeral:
        att["ephemeral"] = True
    return att


_USER_MENTION = re.compile(r"<@!?(\d+)>")
_ROLE_MENTION = re.compile(r"<@&(\d+)>")


def resolve_mentions(
    content: str,
    allowed_mentions: dict[str, Any] | None,
    *,
    default_parse: frozenset[str],
    known_users: dict[int, dict[str, Any]],
) -> tuple[list[dict[str, Any]], list[str], bool]:
    """Apply Discord's allowed_mentions rules; return (mentions, mention_roles, everyone).

    Permissions (e.g. MENTION_EVERYONE) are not checked: ``mention_everyone`` says
    whether Discord *would* ping @everyone/@here if the sender were allowed to.
    """
    if allowed_mentions is None:
        parse, users, roles = set(default_parse), set(), set()
    else:
        parse = set(allowed_mentions.get("parse") or [])
        users = {str(u) for u in allowed_mentions.get("users") or []}
        roles = {str(r) for r in allowed_mentions.get("roles") or []}
    mentioned_users = [
        uid
        for uid in dict.fromkeys(_USER_MENTION.findall(content))
        if "users" in parse or uid in users
    ]
    mentions = [
        known_users.get(int(uid)) or user_object(int(uid), f"user{uid}") for uid in mentioned_users
    ]
    mention_roles = [
        rid
        for rid in dict.fromkeys(_ROLE_MENTION.findall(content))
        if "roles" in parse or rid in roles
    ]
    everyone = "everyone" in parse and ("@everyone" in content or "@here" in content)
    return mentions, mention_roles, everyone


def message_object(
    *,
    message_id: int,
    channel_id: int,
    guild_id: int | None,
    author: dict[str, Any],
    content: str = "",
    embeds: list[dict[str, Any]] | None = None,
    attachments: list[dict[str, Any]] | None = None,
    components: list[dict[str, Any]] | None = None,
    flags: int = 0,
    message_type: int = MESSAGE_TYPE_DEFAULT,
    tts: bool = False,
    nonce: str | int | None = None,
    mentions: list[dict[str, Any]] | None = None,
    mention_roles: list[str] | None = None,
    mention_everyone: bool = False,
    webhook_id: int | None = None,
    application_id: int | None = None,
    message_reference: dict[str, Any] | None = None,
    interaction_metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Build a message object with every field discord.py's Message parser reads."""
    msg: dict[str, Any] = {
        "id": str(message_id),
        "type": message_type,
        "content": content,
        "channel_id": str(channel_id),
        "author": author,
        "attachments": list(attachments or []),
        "embeds": list(embeds or []),
        "mentions": list(mentions or []),
        "mention_roles": list(mention_roles or []),
        "mention_everyone": mention_everyone,
        "components": list(components or []),
        "flags": flags,
        "timestamp": iso(snowflake_time(message_id)),
        "edited_timestamp": None,
        "pinned": False,
        "tts": tts,
    }
    if guild_id is not None:
        msg["guild_id"] = str(guild_id)
    if nonce is not None:
        msg["nonce"] = nonce
    if webhook_id is not None:
        msg["webhook_id"] = str(webhook_id)
    if application_id is not None:
        msg["application_id"] = str(application_id)
    if message_reference is not None:
        msg["message_reference"] = message_reference
    if interaction_metadata is not None:
        msg["interaction_metadata"] = interaction_metadata
    return msg
