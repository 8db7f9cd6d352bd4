"""/animate-history and /animate-show: a member's own jobs, shown only to them."""

from __future__ import annotations

import logging
import re
from typing import Any, Literal, Self, cast

import discord
from discord import app_commands
from discord.ext import commands

from bot.bot import AnimateBot
from bot.i18n import common
from bot.i18n.text import Text
from bot.i18n.translator import command_text, say
from bot.jobs import messages as job_messages
from bot.jobs.model import DeliveryRoute, Job, JobState
from bot.members import messages
from bot.members.history import HistoryService
from bot.members.model import HistoryPage, JobDetails
from cogs.support.embeds import DESCRIPTION_MAX, FIELD_MAX, truncate

log = logging.getLogger(__name__)

_PROMPT_PREVIEW_CHARS = 60
_REASON_PREVIEW_CHARS = 80
#: Discord's limit on an autocomplete choice's name.
_CHOICE_NAME_MAX = 100
Direction = Literal["newer", "older"]


class History(commands.Cog):
    """The /animate-history and /animate-show commands."""

    def __init__(self, history: HistoryService) -> None:
        self.history = history

    @app_commands.command(
        name=command_text("command.history.name"),
        description=command_text("command.history.description"),
    )
    @app_commands.guild_only()
    async def animate_history(self, interaction: discord.Interaction) -> None:
        """Show the caller's newest jobs here, with buttons to page through the rest."""
        assert interaction.guild_id is not None
        page = await self.history.page(interaction.guild_id, interaction.user.id)
        message = history_message(page, interaction.locale.value)
        await interaction.response.send_message(**message, ephemeral=True)

    @app_commands.command(
        name=command_text("command.show.name"),
        description=command_text("command.show.description"),
    )
    @app_commands.guild_only()
    @app_commands.describe(job=command_text("command.show.job"))
    @app_commands.rename(job=command_text("command.show.option.job"))
    async def animate_show(self, interaction: discord.Interaction, job: str) -> None:
        """Show one of the caller's jobs here."""
        assert interaction.guild_id is not None
        details = await self.history.details(interaction.guild_id, interaction.user.id, job)
        embed = show_embed(details, interaction.locale.value)
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @animate_show.autocomplete("job")
    async def job_choices(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        """The caller's newest jobs here that match what they typed."""
        if interaction.guild_id is None:
            return []
        jobs = await self.history.choices(interaction.guild_id, interaction.user.id, current)
        locale = interaction.locale.value
        return [app_commands.Choice(name=choice_name(j, locale), value=str(j.id)) for j in jobs]


class HistoryButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"animate:history:(?P<direction>newer|older):(?P<job_id>[0-9]+)",
):
    """Turn a page of /animate-history. The custom id holds only where the page starts; whose
    history it is comes from the press, so a press can only ever show the presser's own."""

    def __init__(
        self,
        direction: Direction,
        job_id: int,
        locale: str | None = None,
        *,
        disabled: bool = False,
    ) -> None:
        label = messages.HISTORY_NEWER if direction == "newer" else messages.HISTORY_OLDER
        super().__init__(
            discord.ui.Button(
                label=label.render(locale),
                style=discord.ButtonStyle.secondary,
                custom_id=f"animate:history:{direction}:{job_id}",
                disabled=disabled,
            )
        )
        self.direction: Direction = direction
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
        return cls(cast(Direction, match["direction"]), int(match["job_id"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        """Replace the message with the next page in this direction."""
        bot = cast(AnimateBot, interaction.client)
        assert interaction.guild_id is not None  # the command runs in servers only
        cursor = {"before" if self.direction == "older" else "after": self.job_id}
        try:
            page = await bot.history.page(interaction.guild_id, interaction.user.id, **cursor)
        except Exception:
            # A button's errors never reach the command tree's handler: answer here.
            log.exception("history page after job %d failed", self.job_id)
            text = say(interaction, common.SOMETHING_WENT_WRONG)
            await interaction.response.send_message(text, ephemeral=True)
            return
        await interaction.response.edit_message(**history_message(page, interaction.locale.value))


def history_message(page: HistoryPage, locale: str) -> dict[str, Any]:
    """The content, embed and buttons of one history page, in `locale`'s language."""
    if not page.jobs:
        return {"content": messages.NO_HISTORY.render(locale), "embed": None, "view": None}
    lines = [_history_line(job, locale) for job in page.jobs]
    embed = discord.Embed(
        title=messages.HISTORY_TITLE.render(locale),
        description=truncate("\n\n".join(lines), DESCRIPTION_MAX),
        colour=discord.Colour.blurple(),
    )
    first, last = page.newer + 1, page.newer + len(page.jobs)
    embed.set_footer(text=messages.history_footer(first, last, page.total).render(locale))
    view = None
    if page.has_newer or page.has_older:
        newer, older = page.jobs[0].id, page.jobs[-1].id
        view = discord.ui.View(timeout=None)
        view.add_item(HistoryButton("newer", newer, locale, disabled=not page.has_newer))
        view.add_item(HistoryButton("older", older, locale, disabled=not page.has_older))
    return {"content": None, "embed": embed, "view": view}


def show_embed(details: JobDetails, locale: str) -> discord.Embed:
    """One job in full: prompt, settings, cost, times, where it was posted, its clip link."""
    job = details.job
    erased = f"*{messages.USAGE_ERASED.render(locale)}*"
    prompt = erased if job.redacted else discord.utils.escape_markdown(job.prompt)
    embed = discord.Embed(
        title=messages.show_title(job).render(locale),
        description=truncate(prompt, DESCRIPTION_MAX),
        colour=discord.Colour.blurple(),
    )

    def field(name: str, value: Text | str, *, inline: bool = False) -> None:
        text = value if isinstance(value, str) else value.render(locale)
        embed.add_field(
            name=messages.SHOW_FIELDS[name].render(locale),
            value=truncate(text, FIELD_MAX),
            inline=inline,
        )

    field("settings", job_messages.settings_line(job.model, job.settings))
    field("cost", job_messages.mod_log_cost(job), inline=True)
    field("times", messages.show_times(job), inline=True)
    if job.post_deleted_at is not None:
        field("post", job_messages.post_deleted(job))
    elif job.delivered_via is DeliveryRoute.DM and job.state == JobState.DELIVERED:
        field("post", messages.SENT_BY_DM)
    elif link := job_messages.post_url(job):
        field("post", link)
    if clip := _clip_text(details):
        field("clip", clip)
    if job.state == JobState.FAILED:
        field("why", job.error or common.SOMETHING_WENT_WRONG)
    if job.state == JobState.CANCELLED:
        field("cancelled", job_messages.mod_log_result(job))
    return embed


def choice_name(job: Job, locale: str) -> str:
    """An autocomplete choice's label: `#123 · ✅ · a cat turns its head…` (≤ 100 chars)."""
    emoji = job_messages.STATE_LABELS[job.state].render(locale).split(" ", 1)[0]
    prompt = "" if job.redacted else " ".join(job.prompt.split())
    return truncate(messages.job_choice(job.id, emoji, prompt).render(locale), _CHOICE_NAME_MAX)


def _history_line(job: Job, locale: str) -> str:
    reason = None
    if job.state == JobState.FAILED:
        error = job.error or common.SOMETHING_WENT_WRONG.render(locale)
        reason = truncate(" ".join(error.split()), _REASON_PREVIEW_CHARS)
    line = messages.history_line(job, _preview(job), reason)
    return line.render(locale)


def _clip_text(details: JobDetails) -> Text | None:
    if details.clip_url is not None and details.clip_expires_at is not None:
        return messages.clip_link(details.clip_url, details.clip_expires_at)
    if details.clip_expires_at is not None:
        return messages.clip_expired(details.clip_expires_at)
    if details.job.redacted and details.job.completed_at is not None:
        return messages.CLIP_ERASED
    return None


def _preview(job: Job) -> str:
    prompt = truncate(" ".join(job.prompt.split()), _PROMPT_PREVIEW_CHARS)
    return discord.utils.escape_markdown(prompt)


async def setup(bot: AnimateBot) -> None:
    """Extension entry point."""
    bot.add_dynamic_items(HistoryButton)
    await bot.add_cog(History(bot.history))
