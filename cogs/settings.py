"""/animate-settings: a member's own defaults for /animate on this server, as a private message
with selects (duration, resolution, aspect ratio, variations) and buttons (camera, sound,
mention, clear). Each choice is saved at once and the message redrawn from what is stored; the
components carry only what they set, so they keep working after a restart."""

from __future__ import annotations

import logging
import re
from typing import Any, Self, cast

import discord
from discord import app_commands
from discord.ext import commands

from bot.bot import AnimateBot
from bot.defaults import messages
from bot.defaults.service import SettingsView
from bot.errors import UserError
from bot.i18n.text import Text
from bot.i18n.translator import command_text, say
from bot.jobs import request_messages
from bot.jobs.defaults import CLEAR, allowed_under
from bot.jobs.model import MAX_VARIATIONS

log = logging.getLogger(__name__)

_PREFIX = "animate:settings:"
#: Discord shows at most 25 options in a select.
_MAX_OPTIONS = 25


class AnimateSettings(commands.Cog):
    """The /animate-settings command."""

    @app_commands.command(
        name=command_text("command.settings.name"),
        description=command_text("command.settings.description"),
    )
    @app_commands.guild_only()
    async def animate_settings(self, interaction: discord.Interaction) -> None:
        """Show the caller's defaults here, privately, with the controls to change them."""
        if interaction.guild_id is None:
            raise UserError(request_messages.GUILD_ONLY)
        bot = cast(AnimateBot, interaction.client)
        shown = await bot.defaults.view(interaction.guild_id, interaction.user.id)
        await interaction.response.send_message(
            say(interaction, _summary(shown)),
            view=form(shown, interaction.locale.value),
            ephemeral=True,
        )


def _summary(v: SettingsView) -> Text:
    return messages.summary(v.model.id, v.saved, v.server, v.locks, v.effective, v.mention_on_done)


def form(v: SettingsView, locale: str) -> discord.ui.View:
    """The controls, each showing what is saved; values above the server's locks are not
    offered."""
    view = discord.ui.View(timeout=None)
    offered = v.model.options
    durations = [d for d in offered.durations_s if allowed_under(d, v.locks.max_duration_s)]
    resolutions = [r for r in offered.resolutions if allowed_under(r, v.locks.max_resolution)]
    o = v.saved.options
    view.add_item(SettingSelect("duration", durations, o.duration_s, locale))
    view.add_item(SettingSelect("resolution", resolutions, o.resolution, locale))
    if offered.aspect_ratios != ("auto",):
        view.add_item(SettingSelect("aspect_ratio", offered.aspect_ratios, o.aspect_ratio, locale))
    view.add_item(
        SettingSelect("variations", range(1, MAX_VARIATIONS + 1), v.saved.variations, locale)
    )
    if offered.camera_fixed:
        view.add_item(SettingButton("camera_fixed", messages.CAMERA_LABELS[o.camera_fixed], locale))
    if offered.audio:
        view.add_item(
            SettingButton("generate_audio", messages.AUDIO_LABELS[o.generate_audio], locale)
        )
    view.add_item(SettingButton("mention", messages.MENTION_LABELS[v.mention_on_done], locale))
    view.add_item(SettingButton("reset", messages.RESET_LABEL, locale, danger=True))
    return view


class SettingSelect(
    discord.ui.DynamicItem[discord.ui.Select[Any]],
    template=_PREFIX + r"(?P<name>duration|resolution|aspect_ratio|variations)",
):
    """One option's default: follow the next level, or one value the server's model makes."""

    def __init__(
        self,
        name: str,
        values: Any = (),
        saved: object = None,
        locale: str | None = None,
    ) -> None:
        choices = [
            discord.SelectOption(
                label=messages.choice_default(name).render(locale)[:100],
                value=CLEAR,
                default=saved is None,
            )
        ]
        for value in list(values)[: _MAX_OPTIONS - 1]:
            label = messages.choice_value(name, value).render(locale)
            choices.append(
                discord.SelectOption(label=label[:100], value=str(value), default=value == saved)
            )
        super().__init__(discord.ui.Select(custom_id=_PREFIX + name, options=choices))
        self.name = name

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> Self:
        """Rebuild the select from a choice."""
        return cls(match["name"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        """Save the choice and redraw the form."""
        chosen = self.item.values
        await _save(interaction, self.name, str(chosen[0]) if chosen else CLEAR)


class SettingButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=_PREFIX + r"(?P<name>camera_fixed|generate_audio|mention|reset)",
):
    """Camera and sound go round default -> on -> off; mention toggles; reset clears."""

    def __init__(
        self,
        name: str,
        label: Text | None = None,
        locale: str | None = None,
        *,
        danger: bool = False,
    ) -> None:
        style = discord.ButtonStyle.danger if danger else discord.ButtonStyle.secondary
        text = label.render(locale) if label is not None else name
        super().__init__(discord.ui.Button(label=text[:80], style=style, custom_id=_PREFIX + name))
        self.name = name

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> Self:
        """Rebuild the button from a press."""
        return cls(match["name"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        """Move the setting on one step and redraw the form."""
        await _save(interaction, self.name, None)


async def _save(interaction: discord.Interaction[Any], name: str, value: str | None) -> None:
    """Save one change from the form (a button's `value` is its next step), then redraw it;
    a value that cannot be saved gets a private answer and the form stays as it was."""
    bot = cast(AnimateBot, interaction.client)
    defaults = bot.defaults
    try:
        if interaction.guild_id is None:
            raise UserError(request_messages.GUILD_ONLY)
        guild_id, user_id = interaction.guild_id, interaction.user.id
        if name == "reset":
            shown = await defaults.reset(guild_id, user_id)
        elif name == "mention":
            current = await defaults.view(guild_id, user_id)
            shown = await defaults.set_mention(guild_id, user_id, not current.mention_on_done)
        else:
            if value is None:  # camera or sound: the next step round default -> on -> off
                current = await defaults.view(guild_id, user_id)
                value = _next_step(getattr(current.saved.options, name))
            shown = await defaults.save(guild_id, user_id, name, value)
    except UserError as exc:
        await interaction.response.send_message(say(interaction, exc.user_message), ephemeral=True)
        return
    await interaction.response.edit_message(
        content=say(interaction, _summary(shown)), view=form(shown, interaction.locale.value)
    )


def _next_step(saved: bool | None) -> str:
    return {None: "on", True: "off", False: CLEAR}[saved]


async def setup(bot: AnimateBot) -> None:
    """Extension entry point."""
    bot.add_dynamic_items(SettingSelect, SettingButton)
    await bot.add_cog(AnimateSettings())
