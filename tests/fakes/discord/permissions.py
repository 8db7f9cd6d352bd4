"""Discord's permission arithmetic: a member's guild permissions, then a channel's overwrites."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tests.fakes.discord.constants import (
    ADMINISTRATOR,
    ALL_CHANNEL_PERMISSIONS,
    ALL_PERMISSIONS,
    ATTACH_FILES,
    EMBED_LINKS,
    MENTION_EVERYONE,
    SEND_MESSAGES,
    SEND_TTS_MESSAGES,
    VIEW_CHANNEL,
)


def base_permissions(role_permissions: Iterable[int], *, owner: bool = False) -> int:
    """Guild-level permissions from @everyone plus the member's roles (owner/admin: all)."""
    perms = 0
    for value in role_permissions:
        perms |= value
    if owner or perms & ADMINISTRATOR:
        return ALL_PERMISSIONS
    return perms


def channel_permissions(
    base: int,
    overwrites: Iterable[dict[str, Any]],
    *,
    guild_id: int,
    member_id: int,
    member_roles: Iterable[int],
) -> int:
    """Apply a channel's overwrites (@everyone, roles, member) and the implicit denials.

    Same order as Discord (docs topics/permissions.mdx) and discord.py's ``permissions_for``:
    no VIEW_CHANNEL denies every channel permission (guild-wide ones stay); no SEND_MESSAGES
    also removes TTS, @everyone mentions, embeds and files.
    """
    if base & ADMINISTRATOR or base == ALL_PERMISSIONS:
        return ALL_PERMISSIONS
    by_id = {int(o["id"]): o for o in overwrites}
    perms = base
    everyone = by_id.get(guild_id)
    if everyone is not None:
        perms = (perms & ~int(everyone["deny"])) | int(everyone["allow"])
    allow = deny = 0
    for role_id in member_roles:
        ow = by_id.get(role_id)
        if ow is not None and ow["type"] == 0:
            allow |= int(ow["allow"])
            deny |= int(ow["deny"])
    perms = (perms & ~deny) | allow
    mine = by_id.get(member_id)
    if mine is not None and mine["type"] == 1:
        perms = (perms & ~int(mine["deny"])) | int(mine["allow"])
    if not perms & VIEW_CHANNEL:
        return perms & ~ALL_CHANNEL_PERMISSIONS
    if not perms & SEND_MESSAGES:
        perms &= ~(SEND_TTS_MESSAGES | MENTION_EVERYONE | EMBED_LINKS | ATTACH_FILES)
    return perms
