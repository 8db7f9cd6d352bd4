"""Buttons that keep working after a restart: their custom ids carry everything they need."""

from __future__ import annotations

import logging
import re
from typing import Any, Self, cast

import discord

from bot import messages
from bot.bot import AnimateBot
from bot.errors import UserError
from bot.policy import Actor
from bot.translator import say

log = logging.getLogger(__name__)


class CancelButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"animate:cancel:(?P<job_id>[0-9]+)"
):
    """Cancel one job; for its requester and members with Manage Messages (checked here,
    not only by who can see the button)."""

    def __init__(self, job_id: int, locale: str | None = None) -> None:
        super().__init__(
            discord.ui.Button(
                label=messages.CANCEL_LABEL.render(locale),
                style=discord.ButtonStyle.danger,
                custom_id=f"animate:cancel:{job_id}",
            )
        )
        self.job_id = job_id

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> Self:
        """Rebuild the button from a press."""
        return cls(int(match["job_id"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        """Cancel the job, or say politely why not."""
        bot = cast(AnimateBot, interaction.client)
        try:
            if interaction.guild_id is None:
                raise UserError(messages.NO_SUCH_JOB)
            actor = Actor(
                guild_id=interaction.guild_id,
                user_id=interaction.user.id,
                can_manage_messages=interaction.permissions.manage_messages,
            )
            job = await bot.jobs.cancel(self.job_id, actor)
            text = messages.cancel_done(job.id)
        except UserError as exc:
            text = exc.user_message
        except Exception:
            log.exception("cancel of job %d failed", self.job_id)
            text = messages.CANCEL_FAILED
        await interaction.response.send_message(say(interaction, text), ephemeral=True)


def cancel_view(job_id: int, locale: str) -> discord.ui.View:
    """A message's components: one Cancel button for the job, labelled in `locale`."""
    view = discord.ui.View(timeout=None)
    view.add_item(CancelButton(job_id, locale))
    return view
