"""What the bot must be allowed to do in a channel, and what it lacks there."""

from __future__ import annotations

import discord

#: What the bot must be allowed to do in a channel to post a finished clip there (discord.py's
#: permission names; `bot.i18n.common.PERMISSION_NAMES` has what Discord calls them).
CLIP_PERMISSIONS = ("view_channel", "send_messages", "attach_files", "embed_links")
#: ... and to keep a moderation log there.
MOD_LOG_PERMISSIONS = ("view_channel", "send_messages", "embed_links")


def missing(granted: discord.Permissions, needed: tuple[str, ...]) -> list[str]:
    """The `needed` permissions that `granted` lacks."""
    return [flag for flag in needed if not getattr(granted, flag)]
