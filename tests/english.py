"""The bot's messages as an English reader sees them, for end-to-end assertions.

`english.daily_limit(2, wait)` is `messages.daily_limit(2, wait).render("en-US")`; constants
and tables of messages come rendered too, and everything else in `bot.messages` as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.i18n import messages
from bot.i18n.text import Text


def _rendered(value: Any) -> Any:
    if isinstance(value, Text):
        return value.render("en-US")
    if isinstance(value, dict):
        return {key: _rendered(item) for key, item in value.items()}
    return value


class _English:
    def __getattr__(self, name: str) -> Any:
        value = getattr(messages, name)
        if callable(value) and not isinstance(value, type):
            function: Callable[..., Any] = value
            return lambda *args, **kwargs: _rendered(function(*args, **kwargs))
        return _rendered(value)


english: Any = _English()
