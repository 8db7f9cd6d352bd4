"""The few messages that belong to no one feature: the generic apology, "not allowed", and
Discord's names for the permissions the bot needs (a job's channel and an admin's both check
them)."""

from __future__ import annotations

from bot.i18n.text import Join, Text

NOT_ALLOWED = Text("service.not_allowed")
SOMETHING_WENT_WRONG = Text("service.something_went_wrong")

#: Discord's names for the permissions the bot checks, keyed by discord.py's attribute.
PERMISSION_NAMES = {
    flag: Text(f"permission.{flag}")
    for flag in (
        "view_channel",
        "send_messages",
        "send_messages_in_threads",
        "attach_files",
        "embed_links",
    )
}


def permission_list(flags: list[str]) -> Text:
    """Permissions as a bold, comma-separated list: **Attach Files**, **Embed Links**."""
    return Join((Text("bold", text=PERMISSION_NAMES[f]) for f in flags), ", ")
