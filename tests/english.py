"""The bot's messages as an English reader sees them, for end-to-end assertions.

`english.daily_limit(2, wait)` is `bot.guilds.messages.daily_limit(2, wait).render("en-US")`;
constants and tables of messages come rendered too, and everything else in the message modules
(each feature's `messages`, `bot.i18n.common` and `bot.i18n.format`) as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

from bot.guilds import messages as guild_messages
from bot.i18n import common
from bot.i18n import format as formatting
from bot.i18n.text import Text
from bot.jobs import messages as job_messages
from bot.jobs import request_messages
from bot.members import messages as member_messages
from bot.remix import messages as remix_messages

#: Where a name is looked up, in this order (a module may name another's message as well).
MODULES: tuple[ModuleType, ...] = (
    formatting,
    common,
    request_messages,
    job_messages,
    guild_messages,
    member_messages,
    remix_messages,
)


def _rendered(value: Any) -> Any:
    if isinstance(value, Text):
        return value.render("en-US")
    if isinstance(value, dict):
        return {key: _rendered(item) for key, item in value.items()}
    return value


class _English:
    def __getattr__(self, name: str) -> Any:
        value = _find(name)
        if callable(value) and not isinstance(value, type):
            function: Callable[..., Any] = value
            return lambda *args, **kwargs: _rendered(function(*args, **kwargs))
        return _rendered(value)


def _find(name: str) -> Any:
    for module in MODULES:
        if hasattr(module, name):
            return getattr(module, name)
    raise AttributeError(f"no message module names {name!r}")


english: Any = _English()
