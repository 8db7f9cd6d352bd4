"""/animate-notify: whether the bot mentions a member on their result posts."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.bot import AnimateBot
from bot.i18n.translator import command_text, say
from bot.members import messages
from bot.members.usage import MemberService


class Notify(commands.Cog):
    """The /animate-notify command."""

    def __init__(self, members: MemberService) -> None:
        self.members = members

    @app_commands.command(
        name=command_text("command.notify.name"),
        description=command_text("command.notify.description"),
    )
    @app_commands.describe(mention=command_text("command.notify.mention"))
    @app_commands.rename(mention=command_text("command.notify.option.mention"))
    async def animate_notify(
        self, interaction: discord.Interaction, mention: bool | None = None
    ) -> None:
        """Show the caller's setting, or change it; privately."""
        user_id = interaction.user.id
        if mention is None:
            text = messages.notify_setting(await self.members.mention_on_done(user_id))
        else:
            await self.members.set_mention_on_done(user_id, mention)
            text = messages.notify_changed(mention)
        await interaction.response.send_message(say(interaction, text), ephemeral=True)


async def setup(bot: AnimateBot) -> None:
    """Extension entry point."""
    await bot.add_cog(Notify(bot.members))
