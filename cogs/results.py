"""The result buttons' extension: registers the persistent buttons (Cancel; Regenerate, Edit
prompt, Continue, Loop, GIF, Delete; a draft's Render final) and handles the Edit prompt
form's submit, which is never kept in discord.py's view store and is answered from the job id
in its custom id alone."""

from __future__ import annotations

import logging
from typing import Any

import discord
from discord.ext import commands

from bot.bot import AnimateBot
from bot.errors import UserError
from bot.jobs.model import JobKind
from bot.remix import messages
from cogs.support.buttons import (
    EDIT_FIELD,
    EDIT_FORM_PREFIX,
    CancelButton,
    FinalButton,
    ResultButton,
    answer,
    post_files,
    start_remix,
)
from cogs.support.intake import form_values

log = logging.getLogger(__name__)


class EditForms(commands.Cog):
    """Runs submitted Edit prompt forms, also those opened before a restart."""

    @commands.Cog.listener()
    async def on_interaction(self, interaction: discord.Interaction[Any]) -> None:
        """Start the edited job from the form's job id and the post it was opened on."""
        if interaction.type is not discord.InteractionType.modal_submit:
            return
        data: Any = interaction.data or {}
        custom_id = str(data.get("custom_id", ""))
        job_ref = custom_id.removeprefix(EDIT_FORM_PREFIX)
        if not custom_id.startswith(EDIT_FORM_PREFIX) or not job_ref.isdigit():
            return
        job_id = int(job_ref)
        try:
            prompt = form_values(data.get("components", [])).get(EDIT_FIELD, "")
            # The submit carries the post the form was opened on, with fresh links.
            files = post_files(interaction.message)
            await start_remix(interaction, job_id, JobKind.EDIT, files, prompt=prompt)
        except UserError as exc:
            await answer(interaction, exc.user_message)
        except Exception:
            log.exception("edit of job %d failed", job_id)
            await answer(interaction, messages.BUTTON_FAILED)


async def setup(bot: AnimateBot) -> None:
    """Extension entry point: the persistent buttons answer whichever message carries them."""
    bot.add_dynamic_items(CancelButton, ResultButton, FinalButton)
    await bot.add_cog(EditForms())
