"""/animate: validate, hand the job to the service, and keep Discord out of the service."""

from __future__ import annotations

import logging

import discord
from discord import app_commands
from discord.ext import commands

from bot import messages
from bot.api_models import (
    DURATION_MAX_S,
    DURATION_MIN_S,
    PROMPT_MAX_CHARS,
    SEED_MAX,
    SEED_MIN,
    AspectRatio,
    Resolution,
)
from bot.bot import AnimateBot
from bot.errors import UserError
from bot.jobs import JobService
from bot.models import ImageInput, JobKind, Origin
from bot.policy import Access
from bot.translator import command_text
from bot.validation import AnimateRequest
from cogs.buttons import CancelButton, EditForms, ResultButton
from cogs.delivery import DiscordNotifier
from cogs.permissions import CLIP_PERMISSIONS, missing

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
    """The /animate command; owns the job service's lifetime."""

    def __init__(self, bot: AnimateBot, jobs: JobService) -> None:
        self.bot = bot
        self.jobs = jobs

    async def cog_load(self) -> None:
        """Resume jobs a previous run left open."""
        await self.jobs.start(DiscordNotifier(self.bot))

    async def cog_unload(self) -> None:
        """Stop background work; every job's state is already in the database."""
        await self.jobs.stop()

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


async def start_job(
    jobs: JobService,
    interaction: discord.Interaction,
    request: AnimateRequest,
    kind: JobKind = JobKind.ANIMATE,
) -> None:
    """The one intake of every way to start a clip (/animate, the context menu's form):
    check what costs nothing, acknowledge at once, then hand the job to the service.

    Raises UserError saying what to change; a refused request costs nothing.
    """
    if interaction.guild_id is None or interaction.channel_id is None:
        raise UserError(messages.GUILD_ONLY)
    if missing := missing_permissions(interaction):
        raise UserError(messages.missing_permissions(missing))
    checked = jobs.check(request)
    await interaction.response.defer(ephemeral=True, thinking=True)
    await jobs.accept(checked, origin(interaction), access(interaction), kind=kind)


def image_input(attachment: discord.Attachment) -> ImageInput:
    """Discord's description of an attachment, as plain values."""
    return ImageInput(
        url=attachment.url,
        filename=attachment.filename,
        size_bytes=attachment.size,
        content_type=attachment.content_type,
        width=attachment.width,
        height=attachment.height,
    )


def origin(interaction: discord.Interaction) -> Origin:
    """Where the job came from and how to answer it."""
    assert interaction.channel_id is not None
    upload_limit = interaction.filesize_limit
    if interaction.guild is not None:
        upload_limit = min(upload_limit, interaction.guild.filesize_limit)
    return Origin(
        guild_id=interaction.guild_id,
        channel_id=interaction.channel_id,
        user_id=interaction.user.id,
        application_id=interaction.application_id,
        interaction_token=interaction.token,
        interaction_expires_at=interaction.expires_at,
        upload_limit_bytes=upload_limit,
        locale=interaction.locale.value,
        guild_locale=(interaction.guild_locale or interaction.locale).value,
    )


def access(interaction: discord.Interaction) -> Access:
    """The caller's roles and the channel's identity, for the server's rules."""
    assert interaction.guild_id is not None
    assert interaction.channel_id is not None
    channel = interaction.channel
    channel_ids = {interaction.channel_id}
    if isinstance(channel, discord.Thread):
        channel_ids.add(channel.parent_id)  # an allowed channel's threads are allowed too
    roles = getattr(interaction.user, "roles", [])
    nsfw = getattr(channel, "is_nsfw", None)
    return Access(
        guild_id=interaction.guild_id,
        user_id=interaction.user.id,
        role_ids=frozenset(role.id for role in roles),
        channel_ids=frozenset(channel_ids),
        nsfw=bool(nsfw()) if callable(nsfw) else False,
    )


def missing_permissions(interaction: discord.Interaction) -> list[str]:
    """The permissions the bot lacks here to post a clip."""
    required: tuple[str, ...] = CLIP_PERMISSIONS
    if isinstance(interaction.channel, discord.Thread):
        # In threads Discord checks this one instead of Send Messages.
        required = tuple(
            "send_messages_in_threads" if flag == "send_messages" else flag for flag in required
        )
    return missing(interaction.app_permissions, required)


async def setup(bot: AnimateBot) -> None:
    """Extension entry point."""
    bot.add_dynamic_items(CancelButton, ResultButton)
    await bot.add_cog(Animate(bot, bot.jobs))
    await bot.add_cog(EditForms())
