"""Discord's size limits on embeds, and fitting text into them."""

from __future__ import annotations

#: Characters Discord allows in an embed's description, and in one field's value.
DESCRIPTION_MAX = 4096
FIELD_MAX = 1024


def truncate(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, ending in an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
