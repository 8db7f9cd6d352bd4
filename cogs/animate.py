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
from bot.video.seedance import (
    DURATION_MAX_S,
    DURATION_MIN_S,
    SEED_MAX,
    SEED_MIN,
    AspectRatio,
    Resolution,
)
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
        duration=command_text("command.animate.duration", low=DURATION_MIN_S, high=DURATION_MAX_S),
        seed=command_text("command.animate.seed", low=SEED_MIN, high=SEED_MAX),
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
        duration: app_commands.Range[int, DURATION_MIN_S, DURATION_MAX_S] | None = None,
        resolution: Resolution | None = None,
        aspect_ratio: AspectRatio | None = None,
        camera_fixed: bool | None = None,
        seed: app_commands.Range[int, SEED_MIN, SEED_MAX] | None = None,
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
