"""Saving defaults: a member's own (per server, since each server has its own video model and
locks) and a server's, each checked against the server's model through the catalogue before
it is stored. Which value a job then gets is decided in one place, `bot.jobs.request`
(precedence in `bot.jobs.defaults`).

Discord-free. The mention on result posts is the member's existing preference (`user_prefs`,
bot-wide), read and written here through the same store methods as `/animate-notify`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from bot.errors import UserError
from bot.guilds import video_models
from bot.guilds.model import AuditEntry, GuildConfig
from bot.jobs.defaults import (
    DEFAULT_NAMES,
    DefaultLayers,
    DefaultName,
    LockName,
    parse_default,
    parse_lock,
    parse_variations,
    with_default,
)
from bot.jobs.model import GenerationSettings, ImageInput, OptionDefaults, OptionLocks
from bot.jobs.request import AnimateRequest, resolve_settings
from bot.members.model import MemberDefaults
from bot.periods import utc_now
from bot.settings import Settings
from bot.storage import Store
from bot.video.model import VideoModel

log = logging.getLogger(__name__)

#: A stand-in image: resolving what a job would get needs a request, not its image.
_NO_IMAGE = ImageInput(url="", filename="", size_bytes=0, content_type=None, width=1, height=1)


@dataclass(frozen=True, slots=True)
class SettingsView:
    """What `/animate-settings` shows a member: their saved defaults on this server, the
    server's, its locks, what a clip with nothing typed would get now, and the mention."""

    model: VideoModel
    saved: MemberDefaults
    server: OptionDefaults
    locks: OptionLocks
    #: What a job with no option typed gets now (seed aside); None if the server's locks
    #: leave its model nothing to make.
    effective: GenerationSettings | None
    mention_on_done: bool


class DefaultsService:
    """Reads and saves members' and servers' defaults."""

    def __init__(
        self, *, settings: Settings, store: Store, now: Callable[[], datetime] = utc_now
    ) -> None:
        self._settings = settings
        self._store = store
        self._now = now

    # A member's own ----------------------------------------------------------------------------

    async def view(self, guild_id: int, user_id: int) -> SettingsView:
        """The member's defaults here and what they lead to."""
        config = await self._store.guild_config(guild_id)
        saved = await self._store.member_defaults(guild_id, user_id)
        model = video_models.for_server(self._settings, config)
        layers = DefaultLayers(saved.options, config.defaults, config.locks, saved.variations)
        try:
            effective: GenerationSettings | None = resolve_settings(
                AnimateRequest(prompt="", image=_NO_IMAGE), self._settings, model, layers
            )
        except UserError:
            effective = None
        return SettingsView(
            model=model,
            saved=saved,
            server=config.defaults,
            locks=config.locks,
            effective=effective,
            mention_on_done=await self._store.mention_on_done(user_id),
        )

    async def save(
        self, guild_id: int, user_id: int, name: DefaultName | str, value: str
    ) -> SettingsView:
        """Save one of the member's defaults here (`default` clears it): a value the server's
        model makes, within the server's locks; `variations` 1-4. Raises UserError."""
        config = await self._store.guild_config(guild_id)
        saved = await self._store.member_defaults(guild_id, user_id)
        if name == "variations":
            saved = replace(saved, variations=parse_variations(value))
        else:
            model = video_models.for_server(self._settings, config)
            option = _default_name(name)
            parsed = parse_default(option, value, model, config.locks)
            saved = replace(saved, options=with_default(saved.options, option, parsed))
        await self._store.set_member_defaults(guild_id, user_id, saved, self._now())
        log.info("user %d: default %s on guild %d set to %s", user_id, name, guild_id, value)
        return await self.view(guild_id, user_id)

    async def reset(self, guild_id: int, user_id: int) -> SettingsView:
        """Clear every default the member saved here (the mention stays as it is)."""
        await self._store.set_member_defaults(guild_id, user_id, MemberDefaults(), self._now())
        log.info("user %d: defaults on guild %d cleared", user_id, guild_id)
        return await self.view(guild_id, user_id)

    async def set_mention(self, guild_id: int, user_id: int, enabled: bool) -> SettingsView:
        """Turn the mention on the member's result posts on or off (on every server: the same
        preference as `/animate-notify`)."""
        await self._store.set_mention_on_done(user_id, enabled, self._now())
        return await self.view(guild_id, user_id)

    # A server's -------------------------------------------------------------------------------

    async def set_server_default(
        self, guild_id: int, actor_id: int, name: DefaultName, value: str
    ) -> GuildConfig:
        """Set the server's default for an option members leave out (`default`: the bot's),
        one the server's model makes and within its locks; recorded. Raises UserError."""

        def change(config: GuildConfig) -> GuildConfig:
            model = video_models.for_server(self._settings, config)
            parsed = parse_default(name, value, model, config.locks)
            return config.model_copy(
                update={"defaults": with_default(config.defaults, name, parsed)}
            )

        return await self._change(guild_id, actor_id, f"default-{name}", value, change)

    async def set_server_lock(
        self, guild_id: int, actor_id: int, name: LockName, value: str
    ) -> GuildConfig:
        """Lock the longest duration or the largest resolution a job may have here (`none`
        lifts it), as a value the server's model makes; recorded. Raises UserError."""

        def change(config: GuildConfig) -> GuildConfig:
            model = video_models.for_server(self._settings, config)
            parsed = parse_lock(name, value, model)
            if name == "duration":
                locks = replace(config.locks, max_duration_s=_int_or_none(parsed))
            else:
                locks = replace(
                    config.locks, max_resolution=None if parsed is None else str(parsed)
                )
            return config.model_copy(update={"locks": locks})

        return await self._change(guild_id, actor_id, f"lock-{name}", value, change)

    async def _change(
        self,
        guild_id: int,
        actor_id: int,
        action: str,
        value: str,
        change: Callable[[GuildConfig], GuildConfig],
    ) -> GuildConfig:
        audit = AuditEntry(actor_id, action, value.strip(), self._now())
        return await self._store.update_guild_config(guild_id, change, audit)


def _default_name(name: str) -> DefaultName:
    """The option a form's field names (it only sends the names it was given)."""
    (option,) = (n for n in DEFAULT_NAMES if n == name)
    return option


def _int_or_none(value: int | str | None) -> int | None:
    return None if value is None else int(value)
