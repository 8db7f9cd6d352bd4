"""What the bot must be allowed to do in a channel, and what it lacks there."""

from __future__ import annotations

import discord

#: What the bot must be allowed to do in a channel to post a finished clip there.
CLIP_PERMISSIONS = {
    "view_channel": "View Channel",
    "send_messages": "Send Messages",
    "attach_files": "Attach Files",
    "embed_links": "Embed Links",
}
#: ... and to keep a moderation log there.
MOD_LOG_PERMISSIONS = {
    "view_channel": "View Channel",
    "send_messages": "Send Messages",
    "embed_links": "Embed Links",
}


def missing(granted: discord.Permissions, needed: dict[str, str]) -> list[str]:
    """Labels of the `needed` permissions that `granted` lacks."""
    return [label for flag, label in needed.items() if not getattr(granted, flag)]
