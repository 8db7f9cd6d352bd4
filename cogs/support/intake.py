"""The intake every way to start a clip shares (/animate, the context menu's form, the
result buttons): what Discord tells about an interaction, as the plain values the job service
takes, and the checks that cost nothing."""

from __future__ import annotations

from typing import Any

import discord

from bot.errors import UserError
from bot.guilds.policy import Access
from bot.jobs import request_messages as messages
from bot.jobs.model import ImageInput, JobKind, Origin
from bot.jobs.request import AnimateRequest
from bot.jobs.service import JobService
from cogs.support.permissions import CLIP_PERMISSIONS, missing


async def start_job(
    jobs: JobService,
    interaction: discord.Interaction,
    request: AnimateRequest,
    kind: JobKind = JobKind.ANIMATE,
) -> None:
    """The one intake of every way to start a clip (/animate, the context menu's form):
    check against the server's model what costs nothing, acknowledge at once (unless the
    caller already did), then hand the job to the service.

    Raises UserError saying what to change; a refused request costs nothing.
    """
    if interaction.guild_id is None or interaction.channel_id is None:
        raise UserError(messages.GUILD_ONLY)
    if missing := missing_permissions(interaction):
        raise UserError(messages.missing_permissions(missing))
    checked = await jobs.check(request, interaction.guild_id, interaction.user.id)
    if not interaction.response.is_done():
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


def form_values(components: list[Any]) -> dict[str, str]:
    """Text typed into a submitted form, by field; inputs come in action rows or labels."""
    values: dict[str, str] = {}
    for component in components:
        if not isinstance(component, dict):
            continue
        if "custom_id" in component and "value" in component:
            values[str(component["custom_id"])] = str(component["value"] or "")
        values.update(form_values(component.get("components", [])))
        if isinstance(component.get("component"), dict):
            values.update(form_values([component["component"]]))
    return values
