"""/usage: a user's own figures, shown only to them."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot import messages
from bot.bot import AnimateBot
from bot.jobs import JobService
from bot.models import Job, QuotaStatus, UsageReport

_PROMPT_PREVIEW_CHARS = 40


class Usage(commands.Cog):
    """The /usage command."""

    def __init__(self, jobs: JobService) -> None:
        self.jobs = jobs

    # One command with an option rather than `/usage show` + `/usage forget`: Discord does not
    # let a command both run on its own and have subcommands, and `/usage` must stay as it is.
    @app_commands.command(
        name="usage", description="See how many clips you made, what they cost, and what's left."
    )
    @app_commands.describe(
        forget="Erase the prompts and image links of your finished clips (counts and costs stay)."
    )
    async def usage(self, interaction: discord.Interaction, forget: bool = False) -> None:
        """Reply with the caller's usage, ephemerally; or erase their stored prompts."""
        if forget:
            count = await self.jobs.forget(interaction.user.id)
            await interaction.response.send_message(messages.forgotten(count), ephemeral=True)
            return
        report = await self.jobs.usage(interaction.user.id)
        quota = None
        if interaction.guild_id is not None:
            quota = await self.jobs.quota_status(interaction.guild_id, interaction.user.id)
        await interaction.response.send_message(embed=usage_embed(report, quota), ephemeral=True)


def usage_embed(report: UsageReport, quota: QuotaStatus | None = None) -> discord.Embed:
    """Render a usage report, with what is left on this server if known."""
    embed = discord.Embed(title=messages.USAGE_TITLE, colour=discord.Colour.blurple())
    embed.add_field(name="Today (UTC)", value=messages.usage_totals(report.today))
    embed.add_field(name="This month", value=messages.usage_totals(report.month))
    embed.add_field(name="All time", value=messages.usage_totals(report.all_time))
    if quota is not None:
        embed.add_field(
            name="Left on this server",
            value=messages.quota_lines(quota),
            inline=False,
        )
    if report.in_progress:
        embed.add_field(name="In progress", value=str(report.in_progress), inline=False)
    recent = "\n".join(_job_line(job) for job in report.recent) or messages.NO_JOBS_YET
    embed.description = f"**Recent clips**\n{recent}"
    return embed


def _job_line(job: Job) -> str:
    prompt = "(erased)" if job.redacted else job.prompt.replace("\n", " ")
    if len(prompt) > _PROMPT_PREVIEW_CHARS:
        prompt = prompt[: _PROMPT_PREVIEW_CHARS - 1] + "…"
    line = (
        f"`#{job.id}` {messages.STATE_LABELS[job.state]}"
        f" · {job.settings.duration_s} s {job.settings.resolution}"
        f" · {messages.dollars(job.cost_cents)} · <t:{int(job.created_at.timestamp())}:R>"
        f" · {discord.utils.escape_markdown(prompt)}"
    )
    if job.message_id is not None:
        link = messages.jump_url(job.origin.guild_id, job.origin.channel_id, job.message_id)
        line += f" · [open]({link})"
    return line


async def setup(bot: AnimateBot) -> None:
    """Extension entry point."""
    await bot.add_cog(Usage(bot.jobs))
