"""/usage: a user's own figures, shown only to them."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.bot import AnimateBot
from bot.i18n.format import dollars, timestamp
from bot.i18n.translator import command_text, say
from bot.jobs import messages as job_messages
from bot.jobs.model import Job
from bot.members import messages
from bot.members.model import QuotaStatus, UsageReport
from bot.members.usage import MemberService
from cogs.support.embeds import truncate

_PROMPT_PREVIEW_CHARS = 40


class Usage(commands.Cog):
    """The /usage command."""

    def __init__(self, members: MemberService) -> None:
        self.members = members

    # One command with an option rather than `/usage show` + `/usage forget`: Discord does not
    # let a command both run on its own and have subcommands, and `/usage` must stay as it is.
    @app_commands.command(
        name=command_text("command.usage.name"),
        description=command_text("command.usage.description"),
    )
    @app_commands.describe(forget=command_text("command.usage.forget"))
    @app_commands.rename(forget=command_text("command.usage.option.forget"))
    async def usage(self, interaction: discord.Interaction, forget: bool = False) -> None:
        """Reply with the caller's usage, ephemerally; or erase their stored prompts."""
        if forget:
            count = await self.members.forget(interaction.user.id)
            text = say(interaction, messages.forgotten(count))
            await interaction.response.send_message(text, ephemeral=True)
            return
        report = await self.members.usage(interaction.user.id)
        quota = None
        if interaction.guild_id is not None:
            quota = await self.members.quota_status(interaction.guild_id, interaction.user.id)
        embed = usage_embed(report, interaction.locale.value, quota)
        await interaction.response.send_message(embed=embed, ephemeral=True)


def usage_embed(
    report: UsageReport, locale: str, quota: QuotaStatus | None = None
) -> discord.Embed:
    """Render a usage report in `locale`'s language, with what is left on this server if known."""
    fields = messages.USAGE_FIELDS
    embed = discord.Embed(
        title=messages.USAGE_TITLE.render(locale), colour=discord.Colour.blurple()
    )
    for name, totals in (
        ("today", report.today),
        ("month", report.month),
        ("all", report.all_time),
    ):
        embed.add_field(
            name=fields[name].render(locale), value=messages.usage_totals(totals).render(locale)
        )
    if quota is not None:
        embed.add_field(
            name=fields["here"].render(locale),
            value=messages.quota_lines(quota).render(locale),
            inline=False,
        )
    if report.in_progress:
        embed.add_field(
            name=fields["in_progress"].render(locale), value=str(report.in_progress), inline=False
        )
    recent = "\n".join(_job_line(job, locale) for job in report.recent)
    recent = recent or messages.NO_JOBS_YET.render(locale)
    embed.description = f"**{messages.RECENT_CLIPS.render(locale)}**\n{recent}"
    return embed


def _job_line(job: Job, locale: str) -> str:
    erased = messages.USAGE_ERASED.render(locale)
    prompt = (
        erased if job.redacted else truncate(job.prompt.replace("\n", " "), _PROMPT_PREVIEW_CHARS)
    )
    line = (
        f"`#{job.id}` {job_messages.STATE_LABELS[job.state].render(locale)}"
        f" · `{job.model}` {job.settings.duration_s} s {job.settings.resolution}"
        f" · {dollars(job.cost_cents)} · {timestamp(job.created_at)}"
        f" · {discord.utils.escape_markdown(prompt)}"
    )
    if job.post_deleted_at is not None:
        line += f" · {job_messages.post_deleted(job).render(locale)}"
    elif link := job_messages.post_url(job):
        line += f" · [{messages.OPEN_LINK.render(locale)}]({link})"
    return line


async def setup(bot: AnimateBot) -> None:
    """Extension entry point."""
    await bot.add_cog(Usage(bot.members))
