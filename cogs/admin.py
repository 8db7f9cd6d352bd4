"""/animate-admin: a server's rules, blocks, moderation log and usage report, for its admins."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TypeVar

import discord
from discord import app_commands
from discord.ext import commands

from bot.bot import AnimateBot, NotPermittedError
from bot.defaults.service import DefaultsService
from bot.errors import UserError
from bot.guilds import messages
from bot.guilds.admin import DEFAULT_CHOICE, REASON_MAX_CHARS, GuildAdmin, Period
from bot.guilds.model import LIMIT_NAMES, LimitName
from bot.guilds.policy import Actor
from bot.i18n.text import Text
from bot.i18n.translator import command_text, say
from bot.jobs import messages as job_messages
from bot.jobs.defaults import DEFAULT_NAMES, LOCK_NAMES, DefaultName, LockName
from bot.jobs.service import JobService
from cogs.support.admin_embeds import (
    model_choice,
    models_embed,
    overview_embed,
    usage_report_embed,
)
from cogs.support.permissions import CLIP_PERMISSIONS, MOD_LOG_PERMISSIONS, missing

_LIMIT_CHOICES = [
    app_commands.Choice(name=command_text(messages.LIMIT_LABELS[name].key), value=name)
    for name in LIMIT_NAMES
]


#: The options a server may set a default or a lock for, named as /animate names them.
_DEFAULT_CHOICES = [
    app_commands.Choice(name=command_text(f"command.animate.option.{name}"), value=name)
    for name in DEFAULT_NAMES
]
_LOCK_CHOICES = [
    app_commands.Choice(name=command_text(f"command.animate.option.{name}"), value=name)
    for name in LOCK_NAMES
]
T = TypeVar("T", bound=str)


def _name(key: str) -> app_commands.locale_str:
    """A command's or subcommand's name, localized (the English one is what Discord sends)."""
    return command_text(f"command.admin.subcommand.{key}")


def _option(key: str) -> app_commands.locale_str:
    """An option's name, localized."""
    return command_text(f"command.admin.option.{key}")


def _describe(key: str) -> app_commands.locale_str:
    """An option's description, localized."""
    return command_text(f"command.admin.describe.{key}")


class PostableChannel(app_commands.Transformer):
    """A channel option offering only channels a bot can post in; checked by `check_channel`.

    Forums hold threads, not messages: fine for where members may run /animate (its threads),
    not for the moderation log, which the bot posts in directly.
    """

    def __init__(self, *, forums: bool) -> None:
        super().__init__()
        self.forums = forums

    @property
    def type(self) -> discord.AppCommandOptionType:
        """Discord's option type."""
        return discord.AppCommandOptionType.channel

    @property
    def channel_types(self) -> list[discord.ChannelType]:
        """Which channels the picker offers."""
        kinds = [discord.ChannelType.text, discord.ChannelType.news]
        return [*kinds, discord.ChannelType.forum] if self.forums else kinds

    async def transform(
        self, interaction: discord.Interaction, value: app_commands.AppCommandChannel
    ) -> app_commands.AppCommandChannel:
        """The channel as Discord resolved it."""
        return value


Channel = app_commands.Transform[app_commands.AppCommandChannel, PostableChannel(forums=True)]
LogChannel = app_commands.Transform[app_commands.AppCommandChannel, PostableChannel(forums=False)]


class Admin(commands.Cog):
    """The /animate-admin command group."""

    group = app_commands.Group(
        name=_name("animate_admin"),
        description=command_text("command.admin.description"),
        guild_only=True,
        # `contexts`, which Discord now reads instead of the deprecated `dm_permission`.
        allowed_contexts=app_commands.AppCommandContext(guild=True),
        # Shown to members with Manage Server; owners can change who sees it under
        # Server Settings > Integrations. The bot re-checks on every call (interaction_check).
        default_permissions=discord.Permissions(manage_guild=True),
    )
    channels = app_commands.Group(
        name=_name("channels"), description=command_text("command.admin.channels"), parent=group
    )
    roles = app_commands.Group(
        name=_name("roles"), description=command_text("command.admin.roles"), parent=group
    )

    def __init__(self, admin: GuildAdmin, jobs: JobService, saved: DefaultsService) -> None:
        self.admin = admin
        self.jobs = jobs
        self.saved = saved

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        """Every subcommand needs Manage Server, whatever the client showed."""
        if interaction.guild_id is None or not interaction.permissions.manage_guild:
            raise NotPermittedError(messages.ADMIN_ONLY)
        return True

    @group.command(name=_name("view"), description=command_text("command.admin.view"))
    async def view(self, interaction: discord.Interaction) -> None:
        """The whole configuration in one embed."""
        await self._show(interaction, messages.CONFIG_TITLE)

    # Where ----------------------------------------------------------------------------------

    @channels.command(name=_name("allow"), description=command_text("command.admin.channels_allow"))
    @app_commands.describe(channel=command_text("command.admin.channel_option"))
    @app_commands.rename(channel=_option("channel"))
    async def channels_allow(self, interaction: discord.Interaction, channel: Channel) -> None:
        """Add a channel to the allowlist."""
        check_channel(interaction, channel.id, CLIP_PERMISSIONS)
        await self.admin.allow_channel(_guild(interaction), interaction.user.id, channel.id)
        await self._show(interaction, messages.CONFIG_SAVED)

    @channels.command(
        name=_name("remove"), description=command_text("command.admin.channels_remove")
    )
    @app_commands.describe(channel=_describe("channel_remove"))
    @app_commands.rename(channel=_option("channel"))
    async def channels_remove(self, interaction: discord.Interaction, channel: Channel) -> None:
        """Remove a channel from the allowlist."""
        await self.admin.remove_channel(_guild(interaction), interaction.user.id, channel.id)
        await self._show(interaction, messages.CONFIG_SAVED)

    @channels.command(name=_name("all"), description=command_text("command.admin.channels_all"))
    async def channels_all(self, interaction: discord.Interaction) -> None:
        """Clear the allowlist."""
        await self.admin.allow_all_channels(_guild(interaction), interaction.user.id)
        await self._show(interaction, messages.CONFIG_SAVED)

    @channels.command(name=_name("nsfw_only"), description=command_text("command.admin.nsfw_only"))
    @app_commands.describe(enabled=_describe("enabled"))
    @app_commands.rename(enabled=_option("enabled"))
    async def channels_nsfw_only(self, interaction: discord.Interaction, enabled: bool) -> None:
        """Turn the age-restricted-only rule on or off."""
        await self.admin.set_nsfw_only(_guild(interaction), interaction.user.id, enabled)
        await self._show(interaction, messages.CONFIG_SAVED)

    # Who ------------------------------------------------------------------------------------

    @roles.command(name=_name("allow"), description=command_text("command.admin.roles_allow"))
    @app_commands.describe(role=_describe("role_allow"))
    @app_commands.rename(role=_option("role"))
    async def roles_allow(self, interaction: discord.Interaction, role: discord.Role) -> None:
        """Add a role to the allowed roles."""
        await self.admin.allow_role(_guild(interaction), interaction.user.id, role.id)
        await self._show(interaction, messages.CONFIG_SAVED)

    @roles.command(name=_name("remove"), description=command_text("command.admin.roles_remove"))
    @app_commands.describe(role=_describe("role_remove"))
    @app_commands.rename(role=_option("role"))
    async def roles_remove(self, interaction: discord.Interaction, role: discord.Role) -> None:
        """Remove a role from the allowed roles."""
        await self.admin.remove_role(_guild(interaction), interaction.user.id, role.id)
        await self._show(interaction, messages.CONFIG_SAVED)

    @roles.command(name=_name("everyone"), description=command_text("command.admin.roles_everyone"))
    async def roles_everyone(self, interaction: discord.Interaction) -> None:
        """Clear the role list."""
        await self.admin.allow_everyone(_guild(interaction), interaction.user.id)
        await self._show(interaction, messages.CONFIG_SAVED)

    @group.command(name=_name("block"), description=command_text("command.admin.block"))
    @app_commands.describe(
        member=_describe("member_block"), reason=command_text("command.admin.block_reason")
    )
    @app_commands.rename(member=_option("member"), reason=_option("reason"))
    async def block(
        self,
        interaction: discord.Interaction,
        member: discord.User,
        reason: app_commands.Range[str, 1, REASON_MAX_CHARS],
    ) -> None:
        """Block a member, with a reason."""
        if member.bot:
            raise UserError(messages.CANNOT_BLOCK_BOT)
        block = await self.admin.block(_guild(interaction), interaction.user.id, member.id, reason)
        await _reply(interaction, messages.blocked_member(member.id, block.reason))

    @group.command(name=_name("unblock"), description=command_text("command.admin.unblock"))
    @app_commands.describe(member=_describe("member_unblock"))
    @app_commands.rename(member=_option("member"))
    async def unblock(self, interaction: discord.Interaction, member: discord.User) -> None:
        """Lift a block."""
        lifted = await self.admin.unblock(_guild(interaction), interaction.user.id, member.id)
        text = messages.unblocked_member(member.id) if lifted else messages.not_blocked(member.id)
        await _reply(interaction, text)

    # How much -------------------------------------------------------------------------------

    @group.command(name=_name("limit"), description=command_text("command.admin.limit"))
    @app_commands.describe(
        name=command_text("command.admin.limit_name"),
        value=command_text("command.admin.limit_value"),
    )
    @app_commands.choices(name=_LIMIT_CHOICES)
    @app_commands.rename(name=_option("name"), value=_option("value"))
    async def limit(
        self,
        interaction: discord.Interaction,
        name: app_commands.Choice[str],
        value: app_commands.Range[str, 1, 30],
    ) -> None:
        """Set one limit."""
        limit_name: LimitName = _limit_name(name.value)
        await self.admin.set_limit(_guild(interaction), interaction.user.id, limit_name, value)
        await self._show(interaction, messages.CONFIG_SAVED)

    @group.command(name=_name("mod_log"), description=command_text("command.admin.mod_log"))
    @app_commands.describe(channel=_describe("mod_log_channel"))
    @app_commands.rename(channel=_option("channel"))
    async def mod_log(
        self,
        interaction: discord.Interaction,
        channel: LogChannel | None = None,
    ) -> None:
        """Set or clear the moderation-log channel."""
        if channel is not None:
            check_channel(interaction, channel.id, MOD_LOG_PERMISSIONS, forums=False)
        channel_id = channel.id if channel else None
        await self.admin.set_mod_log(_guild(interaction), interaction.user.id, channel_id)
        await self._show(interaction, messages.CONFIG_SAVED)

    # Defaults for new clips ------------------------------------------------------------------

    @group.command(name=_name("defaults"), description=command_text("command.admin.defaults"))
    @app_commands.describe(
        name=command_text("command.admin.default_name"),
        value=command_text("command.admin.default_value"),
    )
    @app_commands.choices(name=_DEFAULT_CHOICES)
    @app_commands.rename(name=_option("name"), value=_option("value"))
    async def defaults(
        self,
        interaction: discord.Interaction,
        name: app_commands.Choice[str],
        value: app_commands.Range[str, 1, 20],
    ) -> None:
        """Set this server's default for an option members leave out."""
        option: DefaultName = _pick(DEFAULT_NAMES, name.value)
        await self.saved.set_server_default(_guild(interaction), interaction.user.id, option, value)
        await self._show(interaction, messages.CONFIG_SAVED)

    @group.command(name=_name("lock"), description=command_text("command.admin.lock"))
    @app_commands.describe(
        name=command_text("command.admin.lock_name"),
        value=command_text("command.admin.lock_value"),
    )
    @app_commands.choices(name=_LOCK_CHOICES)
    @app_commands.rename(name=_option("name"), value=_option("value"))
    async def lock(
        self,
        interaction: discord.Interaction,
        name: app_commands.Choice[str],
        value: app_commands.Range[str, 1, 20],
    ) -> None:
        """Lock the longest duration or the largest resolution of clips here."""
        option: LockName = _pick(LOCK_NAMES, name.value)
        await self.saved.set_server_lock(_guild(interaction), interaction.user.id, option, value)
        await self._show(interaction, messages.CONFIG_SAVED)

    # Which video model -----------------------------------------------------------------------

    @group.command(name=_name("model"), description=command_text("command.admin.model"))
    @app_commands.describe(model=_describe("model"))
    @app_commands.rename(model=_option("model"))
    async def model(
        self, interaction: discord.Interaction, model: app_commands.Range[str, 1, 100]
    ) -> None:
        """Choose the video model this server's new clips are made with."""
        chosen = await self.admin.set_model(_guild(interaction), interaction.user.id, model)
        await self._show(interaction, messages.model_saved(chosen, model == DEFAULT_CHOICE))

    @model.autocomplete("model")
    async def model_choices(
        self, interaction: discord.Interaction, typed: str
    ) -> list[app_commands.Choice[str]]:
        """The models this server may choose, each with its price and options."""
        overview = await self.admin.models(_guild(interaction))
        locale = interaction.locale.value
        typed = typed.strip().lower()
        choices = [
            app_commands.Choice(name=model_choice(m, locale), value=m.id)
            for m in overview.offered
            if typed in m.id.lower()
        ]
        default = say(interaction, messages.MODEL_DEFAULT_CHOICE)
        choices.append(app_commands.Choice(name=default[:100], value=DEFAULT_CHOICE))
        return choices[:25]

    @group.command(name=_name("models"), description=command_text("command.admin.models"))
    async def models(self, interaction: discord.Interaction) -> None:
        """Every model the bot knows: price, options, and whether this server may use it."""
        overview = await self.admin.models(_guild(interaction))
        unavailable = {
            m.id for m in overview.catalogue if self.jobs.models.availability.is_unavailable(m.id)
        }
        embed = models_embed(overview, unavailable, interaction.locale.value)
        await interaction.response.send_message(embed=embed, ephemeral=True)

    # Reports and jobs -----------------------------------------------------------------------

    @group.command(name=_name("usage"), description=command_text("command.admin.usage"))
    @app_commands.describe(period=_describe("period"), csv=command_text("command.admin.usage_csv"))
    @app_commands.rename(period=_option("period"), csv=_option("csv"))
    async def usage(
        self,
        interaction: discord.Interaction,
        period: Period = "month",
        csv: bool = False,
    ) -> None:
        """Totals for a period, the top members, and optionally a CSV export."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        guild_id = _guild(interaction)
        report = await self.admin.usage(guild_id, period)
        embed = usage_report_embed(report, period, interaction.locale.value)
        if not csv:
            await interaction.followup.send(embed=embed, ephemeral=True)
            return
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / f"animate-{guild_id}-{period}.csv"
            await self.admin.export_csv(guild_id, period, path)
            if path.stat().st_size > interaction.filesize_limit:
                embed.add_field(
                    name="CSV", value=say(interaction, messages.CSV_TOO_LARGE), inline=False
                )
                await interaction.followup.send(embed=embed, ephemeral=True)
                return
            await interaction.followup.send(embed=embed, file=discord.File(path), ephemeral=True)

    @group.command(name=_name("cancel"), description=command_text("command.admin.cancel"))
    @app_commands.describe(job=_describe("job"))
    @app_commands.rename(job=_option("job"))
    async def cancel(self, interaction: discord.Interaction, job: int) -> None:
        """Cancel a job as a moderator."""
        actor = Actor(_guild(interaction), interaction.user.id, can_manage_messages=True)
        cancelled = await self.jobs.cancel(job, actor)
        await _reply(interaction, job_messages.cancel_done(cancelled.id))

    async def _show(self, interaction: discord.Interaction, heading: Text) -> None:
        overview = await self.admin.overview(_guild(interaction))
        await interaction.response.send_message(
            say(interaction, heading),
            embed=overview_embed(overview, interaction.locale.value),
            ephemeral=True,
        )


def check_channel(
    interaction: discord.Interaction,
    channel_id: int,
    needed: tuple[str, ...],
    *,
    forums: bool = True,
) -> None:
    """Refuse a channel the bot cannot see or post in, naming what it lacks."""
    guild = interaction.guild
    channel = guild.get_channel(channel_id) if guild else None
    if guild is None or channel is None:
        raise UserError(messages.channel_unusable(channel_id, ["view_channel"]))
    kinds = (discord.TextChannel, discord.ForumChannel) if forums else (discord.TextChannel,)
    if not isinstance(channel, kinds):
        raise UserError(messages.NOT_A_TEXT_CHANNEL)
    if lacking := _root_causes(missing(channel.permissions_for(guild.me), needed)):
        raise UserError(messages.channel_unusable(channel_id, lacking))


def _root_causes(lacking: list[str]) -> list[str]:
    """Without View Channel (or Send Messages) Discord denies the rest implicitly: name only
    the permission to fix."""
    for gate in ("view_channel", "send_messages"):
        if gate in lacking:
            return [gate]
    return lacking


async def _reply(interaction: discord.Interaction, text: Text) -> None:
    await interaction.response.send_message(say(interaction, text), ephemeral=True)


def _guild(interaction: discord.Interaction) -> int:
    assert interaction.guild_id is not None  # guild_only group
    return interaction.guild_id


def _pick(names: tuple[T, ...], value: str) -> T:
    """The choice Discord sent back (it only sends the values offered)."""
    (name,) = (n for n in names if n == value)
    return name


def _limit_name(value: str) -> LimitName:
    """The choice Discord sent back (it only sends the values offered)."""
    (name,) = (n for n in LIMIT_NAMES if n == value)
    return name


async def setup(bot: AnimateBot) -> None:
    """Extension entry point."""
    await bot.add_cog(Admin(bot.admin, bot.jobs, bot.defaults))
