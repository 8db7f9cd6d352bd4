"""What server admins change and read: configuration, blocks, audit trail, usage reports.

Discord-free. Every change is validated, applied atomically and recorded with who made it.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

from bot.errors import UserError
from bot.guilds import messages, video_models
from bot.guilds.model import AuditEntry, Block, GuildConfig, GuildUsageReport, LimitName
from bot.guilds.policy import Limits, parse_limit
from bot.i18n.text import DEFAULT_LANGUAGE, Text
from bot.periods import day_start, month_start, utc_now
from bot.settings import Settings
from bot.storage import Store
from bot.video.catalogue import MODELS, configured_model, offered_models
from bot.video.model import VideoModel

Period = Literal["day", "month", "all"]
#: What `/animate-admin model` takes to go back to the bot's own model.
DEFAULT_CHOICE = "default"
_AUDIT_SHOWN = 10
#: Longest block reason kept (the command's option allows no more).
REASON_MAX_CHARS = 300
#: Spreadsheet apps run cells starting with these as formulas.
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True, slots=True)
class GuildOverview:
    """Everything `/animate-admin view` shows."""

    config: GuildConfig
    #: The video model this server's new jobs run on.
    model: VideoModel
    limits: Limits
    blocks: tuple[Block, ...]
    recent_changes: tuple[AuditEntry, ...]


@dataclass(frozen=True, slots=True)
class ModelsOverview:
    """What `/animate-admin models` shows: the catalogue, and what this server may choose."""

    current: VideoModel
    bot_default: VideoModel
    offered: tuple[VideoModel, ...]
    catalogue: tuple[VideoModel, ...]


class GuildAdmin:
    """Changes and reports for one bot's servers."""

    def __init__(
        self,
        *,
        settings: Settings,
        store: Store,
        now: Callable[[], datetime] = utc_now,
    ) -> None:
        self._settings = settings
        self._store = store
        self._now = now

    async def overview(self, guild_id: int) -> GuildOverview:
        """The server's configuration, the limits in force, blocks and recent changes."""
        config = await self._store.guild_config(guild_id)
        return GuildOverview(
            config=config,
            model=video_models.for_server(self._settings, config),
            limits=Limits.resolve(config, self._settings),
            blocks=tuple(await self._store.blocks(guild_id)),
            recent_changes=tuple(await self._store.audit_log(guild_id, _AUDIT_SHOWN)),
        )

    # Where ----------------------------------------------------------------------------------

    async def allow_channel(self, guild_id: int, actor_id: int, channel_id: int) -> GuildConfig:
        """Add a channel to the allowlist (which then applies)."""
        return await self._change(
            guild_id,
            actor_id,
            "channel-allow",
            f"<#{channel_id}>",
            lambda c: c.model_copy(update={"channel_ids": c.channel_ids | {channel_id}}),
        )

    async def remove_channel(self, guild_id: int, actor_id: int, channel_id: int) -> GuildConfig:
        """Take a channel off the allowlist (an empty list allows every channel)."""
        return await self._change(
            guild_id,
            actor_id,
            "channel-remove",
            f"<#{channel_id}>",
            lambda c: c.model_copy(update={"channel_ids": c.channel_ids - {channel_id}}),
        )

    async def allow_all_channels(self, guild_id: int, actor_id: int) -> GuildConfig:
        """Clear the allowlist: every channel the bot can post in."""
        return await self._change(
            guild_id,
            actor_id,
            "channels-all",
            messages.EVERY_CHANNEL,
            lambda c: c.model_copy(update={"channel_ids": frozenset()}),
        )

    async def set_nsfw_only(self, guild_id: int, actor_id: int, enabled: bool) -> GuildConfig:
        """Allow the bot only in age-restricted channels, or everywhere allowed."""
        return await self._change(
            guild_id,
            actor_id,
            "nsfw-only",
            "on" if enabled else "off",
            lambda c: c.model_copy(update={"nsfw_only": enabled}),
        )

    # Who ------------------------------------------------------------------------------------

    async def allow_role(self, guild_id: int, actor_id: int, role_id: int) -> GuildConfig:
        """Add a role to those allowed (which then applies)."""
        return await self._change(
            guild_id,
            actor_id,
            "role-allow",
            f"<@&{role_id}>",
            lambda c: c.model_copy(update={"role_ids": c.role_ids | {role_id}}),
        )

    async def remove_role(self, guild_id: int, actor_id: int, role_id: int) -> GuildConfig:
        """Take a role off the list (an empty list allows everyone)."""
        return await self._change(
            guild_id,
            actor_id,
            "role-remove",
            f"<@&{role_id}>",
            lambda c: c.model_copy(update={"role_ids": c.role_ids - {role_id}}),
        )

    async def allow_everyone(self, guild_id: int, actor_id: int) -> GuildConfig:
        """Clear the role list: every member may use the bot."""
        return await self._change(
            guild_id,
            actor_id,
            "roles-everyone",
            messages.EVERYONE,
            lambda c: c.model_copy(update={"role_ids": frozenset()}),
        )

    async def block(self, guild_id: int, actor_id: int, user_id: int, reason: str) -> Block:
        """Bar a member from the bot on this server."""
        reason = " ".join(reason.split())[:REASON_MAX_CHARS]  # "" shows as "no reason given"
        block = Block(user_id, reason, actor_id, self._now())
        await self._store.block_user(guild_id, block)
        return block

    async def unblock(self, guild_id: int, actor_id: int, user_id: int) -> bool:
        """Lift a block; False if the member was not blocked."""
        audit = AuditEntry(actor_id, "unblock", f"<@{user_id}>", self._now())
        return await self._store.unblock_user(guild_id, user_id, audit)

    # How much -------------------------------------------------------------------------------

    async def set_limit(
        self, guild_id: int, actor_id: int, name: LimitName, value: str
    ) -> GuildConfig:
        """Set one limit from an admin's text (see `parse_limit`). Raises UserError."""
        parsed = parse_limit(name, value)

        def change(config: GuildConfig) -> GuildConfig:
            limits = dict(config.limits)
            if parsed == "default":
                limits.pop(name, None)
            else:
                limits[name] = parsed
            return config.model_copy(update={"limits": limits})

        shown = "default" if parsed == "default" else messages.limit_value(name, parsed)
        return await self._change(guild_id, actor_id, f"limit-{name}", shown, change)

    async def set_mod_log(
        self, guild_id: int, actor_id: int, channel_id: int | None
    ) -> GuildConfig:
        """Post every job in this channel from now on; None turns the log off."""
        detail = f"<#{channel_id}>" if channel_id else messages.OFF
        return await self._change(
            guild_id,
            actor_id,
            "mod-log",
            detail,
            lambda c: c.model_copy(update={"mod_log_channel_id": channel_id}),
        )

    # Which video model -----------------------------------------------------------------------

    async def models(self, guild_id: int) -> ModelsOverview:
        """The catalogue, the models this server may choose, and the one it uses."""
        config = await self._store.guild_config(guild_id)
        return ModelsOverview(
            current=video_models.for_server(self._settings, config),
            bot_default=configured_model(self._settings),
            offered=video_models.offered(self._settings, config),
            catalogue=tuple(MODELS.values()),
        )

    async def set_model(self, guild_id: int, actor_id: int, model_id: str) -> VideoModel:
        """Make this server's new jobs run on `model_id` (`default`: the bot's own model), if
        the bot offers it here; jobs already accepted keep theirs. Raises UserError."""
        before = video_models.for_server(self._settings, await self._store.guild_config(guild_id))

        def change(config: GuildConfig) -> GuildConfig:
            if model_id == DEFAULT_CHOICE:
                return config.model_copy(update={"model": None})
            offered = video_models.offered(self._settings, config)
            model = MODELS.get(model_id)
            if model is not None and model.relaxed_content and model not in offered:
                offered_elsewhere = model in offered_models(self._settings)
                if offered_elsewhere:  # to servers limited to age-restricted channels
                    raise UserError(messages.model_needs_nsfw_only(model_id))
            if model is None or model not in offered:
                raise UserError(messages.model_refused(model_id, [m.id for m in offered]))
            return config.model_copy(update={"model": model.id})

        shown = f"{before.id} -> {model_id}"
        config = await self._change(guild_id, actor_id, "model", shown, change)
        return video_models.for_server(self._settings, config)

    # Reports --------------------------------------------------------------------------------

    async def usage(self, guild_id: int, period: Period) -> GuildUsageReport:
        """The server's totals and top users over a period."""
        return await self._store.guild_usage(guild_id, self._since(period))

    async def export_csv(self, guild_id: int, period: Period, path: Path) -> int:
        """Write every job of the period to a CSV file; returns the number of jobs."""
        count = 0
        with path.open("w", newline="", encoding="utf-8") as file:
            writer = csv.writer(file)
            writer.writerow(_CSV_COLUMNS)
            async for job in self._store.guild_jobs(guild_id, self._since(period)):
                s = job.settings
                writer.writerow(
                    [
                        job.id,
                        job.created_at.isoformat(timespec="seconds"),
                        job.origin.user_id,
                        job.origin.channel_id,
                        job.state,
                        job.model,
                        s.duration_s,
                        s.resolution,
                        s.aspect_ratio,
                        "" if s.seed is None else s.seed,
                        s.generate_audio,
                        f"{(job.cost_cents + job.reserved_cents) / 100:.2f}",
                        _cell(job.prompt),
                        _cell(job.error or ""),
                    ]
                )
                count += 1
        return count

    def _since(self, period: Period) -> datetime | None:
        now = self._now()
        return {"day": day_start(now), "month": month_start(now), "all": None}[period]

    async def _change(
        self,
        guild_id: int,
        actor_id: int,
        action: str,
        detail: Text | str,
        change: Callable[[GuildConfig], GuildConfig],
    ) -> GuildConfig:
        # The audit trail is a record, kept in one language (English) whoever reads it later.
        shown = detail if isinstance(detail, str) else detail.render(DEFAULT_LANGUAGE)
        audit = AuditEntry(actor_id, action, shown, self._now())
        return await self._store.update_guild_config(guild_id, change, audit)


_CSV_COLUMNS = (
    "job_id",
    "created_at_utc",
    "user_id",
    "channel_id",
    "state",
    "model",
    "duration_s",
    "resolution",
    "aspect_ratio",
    "seed",
    "generate_audio",
    "cost_usd",
    "prompt",
    "error",
)


def _cell(text: str) -> str:
    """A user-written cell, defused so spreadsheets show it rather than run it."""
    # Leading blanks too: some spreadsheet apps skip them before deciding it is a formula.
    return "'" + text if text.lstrip(" ").startswith(_FORMULA_PREFIXES) else text
