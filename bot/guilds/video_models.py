"""Which video models a server may run on: what the bot offers (`VIBEDREAM_MODELS`, and always
its own `VIBEDREAM_MODEL`), less relaxed-content models unless the server is limited to
age-restricted channels; and which one its jobs use (its admins' choice, else the bot's)."""

from __future__ import annotations

from bot.guilds.model import GuildConfig
from bot.settings import Settings
from bot.video.catalogue import MODELS, configured_model, offered_models
from bot.video.model import VideoModel


def offered(settings: Settings, config: GuildConfig) -> tuple[VideoModel, ...]:
    """The models this server's admins may choose from, in catalogue order."""
    return tuple(m for m in offered_models(settings) if config.nsfw_only or not m.relaxed_content)


def for_server(settings: Settings, config: GuildConfig) -> VideoModel:
    """The model a new job on this server runs on: its admins' choice while the bot still
    offers it to them, else the bot's own."""
    chosen = MODELS.get(config.model or "")
    if chosen is not None and chosen in offered(settings, config):
        return chosen
    return configured_model(settings)
