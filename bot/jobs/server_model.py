"""Which video model a server's jobs run on, and whether a job may use a model now: the
server's choice (`/animate-admin model`) among those the bot offers (`VIBEDREAM_MODELS`),
else the bot's own (`VIBEDREAM_MODEL`); relaxed-content models only where the server is
limited to age-restricted channels; a model the API called unavailable refused for a while."""

from __future__ import annotations

from bot.errors import UserError
from bot.guilds import video_models
from bot.guilds.model import GuildConfig
from bot.jobs import messages
from bot.settings import Settings
from bot.video.availability import ModelAvailability
from bot.video.model import VideoModel


class ServerModels:
    """The bot's models as servers see them."""

    def __init__(self, settings: Settings, default: VideoModel) -> None:
        self._settings = settings
        self._default = default  # `VIBEDREAM_MODEL`'s, as the composition root built it
        self.availability = ModelAvailability(settings.vibedream_model_retry_s)

    @property
    def default(self) -> VideoModel:
        """The bot's own model (`VIBEDREAM_MODEL`)."""
        return self._default

    def offered(self, config: GuildConfig) -> tuple[VideoModel, ...]:
        """The models this server's admins may choose from."""
        return video_models.offered(self._settings, config)

    def for_server(self, config: GuildConfig) -> VideoModel:
        """The model a new job on this server runs on."""
        return video_models.for_server(self._settings, config)

    def check_usable(self, model: VideoModel, config: GuildConfig, *, nsfw: bool) -> None:
        """Raise UserError unless a job here may run on `model` now (a remix keeps its
        parent's model, which the server may no longer offer)."""
        if model not in self.offered(config):
            raise UserError(messages.model_not_offered(model.id, self.for_server(config).id))
        if model.relaxed_content and not nsfw:
            raise UserError(messages.model_age_restricted(model.id))
        if self.availability.is_unavailable(model.id):
            current = self.for_server(config)
            if current.id != model.id:  # a remix of a clip made before the server switched
                raise UserError(messages.parent_model_unavailable(model.id, current.id))
            raise UserError(messages.model_unavailable_now(model.id))
