"""/animate: validate, hand the job to the service, and keep Discord out of the service."""

from __future__ import annotations

import logging

import discord
from discord import app_commands
from discord.ext import commands

from bot.bot import AnimateBot
from bot.i18n.translator import command_text
from bot.jobs.request import AnimateRequest
from bot.jobs.service import JobService
from bot.settings import PROMPT_MAX_CHARS
from bot.video.catalogue import DEFAULT_MODEL
from bot.video.seedance import AspectRatio, Resolution
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
)
_RANGES = ("duration", "seed")

# discord.py reads the options' ranges and choices from the annotations below when this module
# is imported, before any settings are read, so they are the default model's; its choices are
# Literal types, which only its own module declares (a test checks they match its options).
_OFFERED = DEFAULT_MODEL.options
_DURATION_MIN_S, _DURATION_MAX_S = _OFFERED.durations_s[0], _OFFERED.durations_s[-1]
_SEED_MIN, _SEED_MAX = _OFFERED.seeds[0], _OFFERED.seeds[-1]


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
        resolution: Resolution | None = None,
        aspect_ratio: AspectRatio | None = None,
        camera_fixed: bool | None = None,
        seed: app_commands.Range[int, _SEED_MIN, _SEED_MAX] | None = None,
        generate_audio: bool | None = None,
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
        )
        await start_job(self.jobs, interaction, request)


async def setup(bot: AnimateBot) -> None:
    """Extension entry point."""
    await bot.add_cog(Animate(bot, bot.jobs))
