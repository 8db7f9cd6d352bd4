"""/animate: validate, hand the job to the service, and keep Discord out of the service."""

from __future__ import annotations

import logging

import discord
from discord import app_commands
from discord.ext import commands

from bot.bot import AnimateBot
from bot.i18n.translator import command_text
from bot.jobs.defaults import allowed_under
from bot.jobs.model import MAX_VARIATIONS, NO_LOCKS, OptionLocks
from bot.jobs.request import AnimateRequest
from bot.jobs.service import JobService
from bot.settings import PROMPT_MAX_CHARS
from bot.video.catalogue import DURATION_BOUNDS_S, SEED_BOUNDS
from bot.video.model import VideoModel
from cogs.support.intake import image_input, start_job

log = logging.getLogger(__name__)


#: /animate's options, named like the API's parameters (their localized names and descriptions
#: are in the catalogue under `command.animate`); the two ranges' descriptions show their bounds.
_OPTIONS = (
    "image",
    "prompt",
    "last_image",
    "resolution",
    "aspect_ratio",
    "camera_fixed",
    "generate_audio",
    "variations",
    "draft",
)
_RANGES = ("duration", "seed")

# Discord reads the options' ranges when this module is imported, before any server's model is
# known: they span the whole catalogue. The values a server's model takes are offered by
# autocomplete, and whatever is typed is checked against that model before anything is sent.
_DURATION_MIN_S, _DURATION_MAX_S = DURATION_BOUNDS_S
_SEED_MIN, _SEED_MAX = SEED_BOUNDS
#: Discord shows at most 25 suggestions.
_MAX_CHOICES = 25


class Animate(commands.Cog):
    """The /animate command."""

    def __init__(self, bot: AnimateBot, jobs: JobService) -> None:
        self.bot = bot
        self.jobs = jobs

    @app_commands.command(
        name=command_text("command.animate.name"),
        description=command_text("command.animate.description"),
    )
    @app_commands.guild_only()
    @app_commands.describe(
        **{name: command_text(f"command.animate.{name}") for name in _OPTIONS},
        duration=command_text(
            "command.animate.duration", low=_DURATION_MIN_S, high=_DURATION_MAX_S
        ),
        seed=command_text("command.animate.seed", low=_SEED_MIN, high=_SEED_MAX),
    )
    @app_commands.rename(
        **{name: command_text(f"command.animate.option.{name}") for name in (*_OPTIONS, *_RANGES)}
    )
    async def animate(
        self,
        interaction: discord.Interaction,
        image: discord.Attachment,
        prompt: app_commands.Range[str, 1, PROMPT_MAX_CHARS],
        last_image: discord.Attachment | None = None,
        duration: app_commands.Range[int, _DURATION_MIN_S, _DURATION_MAX_S] | None = None,
        resolution: app_commands.Range[str, 1, 10] | None = None,
        aspect_ratio: app_commands.Range[str, 1, 10] | None = None,
        camera_fixed: bool | None = None,
        seed: app_commands.Range[int, _SEED_MIN, _SEED_MAX] | None = None,
        generate_audio: bool | None = None,
        variations: app_commands.Range[int, 1, MAX_VARIATIONS] | None = None,
        draft: bool = False,
    ) -> None:
        """Check the request, acknowledge at once, then queue the job."""
        request = AnimateRequest(
            prompt=prompt,
            image=image_input(image),
            last_image=image_input(last_image) if last_image else None,
            duration_s=duration,
            resolution=resolution,
            aspect_ratio=aspect_ratio,
            camera_fixed=camera_fixed,
            seed=seed,
            generate_audio=generate_audio,
            variations=variations,
            draft=draft,
        )
        await start_job(self.jobs, interaction, request)

    @animate.autocomplete("duration")
    async def duration_choices(
        self, interaction: discord.Interaction, typed: str
    ) -> list[app_commands.Choice[int]]:
        """The lengths the server's model makes within its lock, those starting with what was
        typed first."""
        model, locks = await self._model_and_locks(interaction)
        durations = [
            d
            for d in model.options.durations_s
            if str(d).startswith(typed.strip()) and allowed_under(d, locks.max_duration_s)
        ]
        return [app_commands.Choice(name=f"{d} s", value=d) for d in durations][:_MAX_CHOICES]

    @animate.autocomplete("resolution")
    async def resolution_choices(
        self, interaction: discord.Interaction, typed: str
    ) -> list[app_commands.Choice[str]]:
        """The sizes the server's model makes within its lock."""
        model, locks = await self._model_and_locks(interaction)
        sizes = tuple(
            r for r in model.options.resolutions if allowed_under(r, locks.max_resolution)
        )
        return _matching(sizes, typed)

    @animate.autocomplete("aspect_ratio")
    async def aspect_ratio_choices(
        self, interaction: discord.Interaction, typed: str
    ) -> list[app_commands.Choice[str]]:
        """The shapes the server's model makes."""
        return _matching((await self._model(interaction)).options.aspect_ratios, typed)

    async def _model_and_locks(
        self, interaction: discord.Interaction
    ) -> tuple[VideoModel, OptionLocks]:
        if interaction.guild_id is None:
            return self.jobs.models.default, NO_LOCKS
        layers, model = await self.jobs.defaults(interaction.guild_id, interaction.user.id)
        return model, layers.locks

    async def _model(self, interaction: discord.Interaction) -> VideoModel:
        if interaction.guild_id is None:
            return self.jobs.models.default
        return await self.jobs.server_model(interaction.guild_id)


def _matching(values: tuple[str, ...], typed: str) -> list[app_commands.Choice[str]]:
    typed = typed.strip().lower()
    return [app_commands.Choice(name=v, value=v) for v in values if typed in v.lower()][
        :_MAX_CHOICES
    ]


async def setup(bot: AnimateBot) -> None:
    """Extension entry point."""
    await bot.add_cog(Animate(bot, bot.jobs))
