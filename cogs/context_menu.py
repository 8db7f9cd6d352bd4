"""Right-click a message → Apps → "Animate this image": a form for the prompt and duration,
then the same intake as /animate (`cogs.support.intake.start_job`).

The form's custom id carries a short key to its image (`bot.forms`). Forms are never
registered with discord.py's view store; every submit comes through `on_interaction`, so one
opened before a restart still runs, and one opened too long ago gets a polite "please try
again" instead of Discord's "interaction failed".
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

import discord
from discord import app_commands
from discord.ext import commands

from bot.bot import AnimateBot, reply_privately
from bot.errors import UserError
from bot.i18n import common
from bot.i18n.translator import command_text, say
from bot.jobs import request_messages as messages
from bot.jobs.model import ImageInput, JobKind
from bot.jobs.request import (
    IMAGE_TYPES_BY_EXTENSION,
    AnimateRequest,
    default_duration_s,
    parse_duration,
    seconds_allowed,
)
from bot.members.forms import form_key
from bot.settings import Settings
from bot.video.model import VideoModel
from cogs.support.intake import form_values, image_input, start_job

log = logging.getLogger(__name__)

FORM_PREFIX = "animate:form:"
PROMPT_FIELD = "prompt"
DURATION_FIELD = "duration"


class ContextMenu(commands.Cog):
    """The "Animate this image" message command and its form."""

    def __init__(self, bot: AnimateBot) -> None:
        self.bot = bot
        self.menu = app_commands.ContextMenu(
            name=command_text("command.context.name"),
            callback=self.open_form,
            allowed_contexts=app_commands.AppCommandContext(guild=True),  # like /animate
        )
        self.menu.guild_only = True

    async def cog_load(self) -> None:
        """Register the message command."""
        self.bot.tree.add_command(self.menu)

    async def cog_unload(self) -> None:
        """Unregister the message command."""
        self.bot.tree.remove_command(self.menu.name, type=self.menu.type)

    async def open_form(self, interaction: discord.Interaction, message: discord.Message) -> None:
        """Ask for the prompt and duration, or say at once that the message has no image."""
        image = first_image(message)
        if image is None:
            raise UserError(messages.NO_IMAGE_IN_MESSAGE)
        key = form_key()
        assert interaction.guild_id is not None  # a guild-only command
        model = await self.bot.jobs.server_model(interaction.guild_id)  # one small read
        form = animate_form(key, model, self.bot.settings, interaction.locale.value)
        # The form first: the answer is due within 3 s, and nobody sends a form this fast.
        await interaction.response.send_modal(form)
        await self.bot.forms.open(key, interaction.user.id, image)

    @commands.Cog.listener()
    async def on_interaction(self, interaction: discord.Interaction) -> None:
        """Run a submitted form through the /animate intake."""
        if interaction.type is not discord.InteractionType.modal_submit:
            return
        data: Any = interaction.data or {}
        custom_id = str(data.get("custom_id", ""))
        if not custom_id.startswith(FORM_PREFIX):
            return
        try:
            # Acknowledged first: finding the form's image is a database read.
            await interaction.response.defer(ephemeral=True, thinking=True)
            key = custom_id.removeprefix(FORM_PREFIX)
            image = await self.bot.forms.take(key, interaction.user.id)
            if image is None:
                raise UserError(messages.FORM_EXPIRED)
            values = form_values(data.get("components", []))
            model = await self.bot.jobs.server_model(interaction.guild_id or 0)
            request = AnimateRequest(
                prompt=values.get(PROMPT_FIELD, ""),
                image=image,
                duration_s=parse_duration(values.get(DURATION_FIELD, ""), model),
            )
            await start_job(self.bot.jobs, interaction, request, JobKind.CONTEXT)
        except UserError as exc:
            await reply_privately(interaction, say(interaction, exc.user_message))
        except Exception:
            log.exception("the Animate this image form failed")
            await reply_privately(interaction, say(interaction, common.SOMETHING_WENT_WRONG))


def animate_form(key: str, model: VideoModel, settings: Settings, locale: str) -> discord.ui.Modal:
    """The form, in `locale`'s language: prompt (required) and duration (optional, as the
    server's model offers it). It is stopped before it is sent, so discord.py keeps no copy of
    it and the submit reaches `on_interaction`."""
    title = messages.FORM_TITLE.render(locale)
    durations_s = model.options.durations_s
    form = discord.ui.Modal(title=title, custom_id=f"{FORM_PREFIX}{key}")
    form.add_item(
        discord.ui.TextInput(
            label=messages.FORM_PROMPT_LABEL.render(locale),
            custom_id=PROMPT_FIELD,
            style=discord.TextStyle.paragraph,
            placeholder=messages.FORM_PROMPT_PLACEHOLDER.render(locale),
            min_length=1,
            max_length=settings.prompt_max_chars,
        )
    )
    form.add_item(
        discord.ui.TextInput(
            label=messages.FORM_DURATION_LABEL.render(locale),
            custom_id=DURATION_FIELD,
            placeholder=messages.form_duration_placeholder(
                default_duration_s(settings, model), seconds_allowed(durations_s)
            ).render(locale),
            required=False,
            max_length=3,
        )
    )
    form.stop()
    return form


def first_image(message: discord.Message) -> ImageInput | None:
    """The message's first image: an attachment, else an embed's picture through Discord's
    media proxy (never the host a user linked to)."""
    for attachment in message.attachments:
        kind = (attachment.content_type or "").lower()
        if kind.startswith("image/") or attachment.filename.lower().endswith(
            tuple(IMAGE_TYPES_BY_EXTENSION)
        ):
            return image_input(attachment)
    for embed in message.embeds:
        for picture in (embed.image, embed.thumbnail):
            if picture.proxy_url:
                return ImageInput(
                    url=picture.proxy_url,
                    filename=_filename(picture.url or picture.proxy_url),
                    size_bytes=0,  # not given for embeds; the image's own bytes are checked
                    content_type=None,
                    width=picture.width,
                    height=picture.height,
                )
    return None


def _filename(url: str) -> str:
    return urlsplit(url).path.rsplit("/", 1)[-1]


async def setup(bot: AnimateBot) -> None:
    """Extension entry point."""
    await bot.add_cog(ContextMenu(bot))
