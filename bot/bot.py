"""The Discord client: loads the cogs, syncs commands when they change, answers errors politely."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Callable
from typing import Any, Protocol

import discord
from discord import app_commands
from discord.ext import commands

from bot.defaults.service import DefaultsService
from bot.errors import UserError
from bot.guilds.admin import GuildAdmin
from bot.i18n import common
from bot.i18n.text import Text
from bot.i18n.translator import CatalogueTranslator, say
from bot.jobs.notifier import JobNotifier
from bot.jobs.service import JobService
from bot.members.forms import OpenForms
from bot.members.history import HistoryService
from bot.members.retention import Retention
from bot.members.usage import MemberService
from bot.remix.service import RemixService
from bot.settings import Settings
from bot.storage import LockStore, MetaStore

log = logging.getLogger(__name__)

EXTENSIONS = (
    "cogs.animate",
    "cogs.results",
    "cogs.context_menu",
    "cogs.usage",
    "cogs.admin",
    "cogs.history",
    "cogs.notify",
    "cogs.settings",
)
_COMMANDS_HASH_KEY = "command_tree_sha256"
#: Bot-wide lock under which one process at a time compares and uploads the command tree.
COMMAND_SYNC_LOCK = "command-sync"
#: Discord lets `max_concurrency` shards IDENTIFY per 5 s, one per bucket
#: (`shard_id % max_concurrency`); a bucket's lock is held this long after its IDENTIFY (the
#: margin covers the moment between taking the lock and the IDENTIFY reaching Discord).
IDENTIFY_INTERVAL_S = 5.0 + 0.5


class BotStore(MetaStore, LockStore, Protocol):
    """What the bot itself keeps: the command tree's hash, and the bot-wide locks."""


class NotPermittedError(app_commands.CheckFailure):
    """The caller lacks what a command needs; `user_message` says what."""

    def __init__(self, user_message: Text) -> None:
        super().__init__(user_message.key)
        self.user_message = user_message


class AnimateTree(app_commands.CommandTree["AnimateBot"]):
    """Command tree whose one error handler turns failures into ephemeral replies."""

    async def on_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        """Show a UserError's message; log anything else and apologise without details."""
        cause = error.original if isinstance(error, app_commands.CommandInvokeError) else error
        if isinstance(cause, UserError | NotPermittedError):
            text = say(interaction, cause.user_message)
        elif isinstance(cause, app_commands.CheckFailure):
            text = say(interaction, common.NOT_ALLOWED)
        else:
            command = interaction.command.qualified_name if interaction.command else "?"
            log.error("command /%s failed", command, exc_info=cause)
            text = say(interaction, common.SOMETHING_WENT_WRONG)
        await reply_privately(interaction, text)


async def reply_privately(interaction: discord.Interaction, text: str) -> None:
    """Answer only the user: the first response, or an edit of it once one was sent."""
    try:
        if interaction.response.is_done():
            await interaction.edit_original_response(content=text, embed=None)
        else:
            await interaction.response.send_message(text, ephemeral=True)
    except discord.HTTPException as exc:
        log.warning("could not tell the user about an error: %s", exc)


class AnimateBot(commands.Bot):
    """The bot. Services are built by the composition root and handed in."""

    def __init__(
        self,
        *,
        settings: Settings,
        jobs: JobService,
        admin: GuildAdmin,
        store: BotStore,
        history: HistoryService,
        remix: RemixService,
        forms: OpenForms,
        members: MemberService,
        defaults: DefaultsService,
        retention: Retention,
        notifier: Callable[[AnimateBot], JobNotifier],
    ) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            help_command=None,
            intents=discord.Intents(guilds=True),
            allowed_mentions=discord.AllowedMentions.none(),
            tree_cls=AnimateTree,
            **self._gateway_options(settings),
        )
        self.settings = settings
        self.jobs = jobs
        self.admin = admin
        self.store = store
        self.history = history
        self.remix = remix
        self.forms = forms
        self.members = members
        self.defaults = defaults
        self.retention = retention
        self._notifier = notifier
        self._engine_started = False

    @staticmethod
    def _gateway_options(settings: Settings) -> dict[str, Any]:
        """discord.py's shard options (a sharded subclass adds them)."""
        return {}

    def gateway_open(self) -> bool:
        """Whether the gateway is connected (events, interactions included, flow from the
        moment it identified; discord.py's own "ready" waits a further while for server data)."""
        return not self.is_closed() and self.ws is not None and self.ws.open

    def gateway_reached(self) -> bool:
        """Whether the gateway was ever reached (a failure after that is not a start-up one)."""
        return self.ws is not None

    async def setup_hook(self) -> None:
        """Start the job engine (resuming open jobs), load the extensions, and sync commands if
        their definitions changed."""
        await self.tree.set_translator(CatalogueTranslator())
        # The bot, not an extension, owns the engine: reloading a cog never stops a job.
        await self.jobs.start(self._notifier(self))
        self.retention.start()
        self._engine_started = True
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        await self.sync_commands_if_changed()

    async def close(self) -> None:
        """Stop the engine (every job's state is already stored), then disconnect."""
        try:
            if self._engine_started:
                self._engine_started = False
                await self.retention.stop()
                await self.jobs.stop()
        finally:
            await super().close()  # disconnect whatever happened above

    async def sync_commands_if_changed(self) -> bool:
        """Upload the command tree only when it differs from the last upload; True if synced."""
        translator = self.tree.translator
        assert translator is not None
        payload = [
            await command.get_translated_payload(self.tree, translator)
            for command in self.tree.get_commands()
        ]
        digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
        key = f"{_COMMANDS_HASH_KEY}:{self.application_id}"
        if await self.store.get_meta(key) == digest:
            log.info("application commands unchanged; not syncing")
            return False
        # Processes starting together wait here in turn; the first uploads, the others then
        # find its hash and do not.
        async with self.store.hold_lock(COMMAND_SYNC_LOCK):
            if await self.store.get_meta(key) == digest:
                log.info("application commands synced by another process; not syncing")
                return False
            synced = await self.tree.sync()
            await self.store.set_meta(key, digest)
        log.info("synced %d application commands", len(synced))
        return True


class ShardedAnimateBot(AnimateBot, commands.AutoShardedBot):
    """The bot as the gateway shards `SHARD_COUNT`/`SHARD_IDS` name (README "Sharding").

    Several processes may each run some shards of one bot; their IDENTIFYs are paced together
    through a bot-wide lock per rate-limit bucket, as Discord's `max_concurrency` requires
    (discord.py alone only spaces its own process's shards 5 s apart).
    """

    def __init__(self, **services: Any) -> None:
        super().__init__(**services)
        self._max_concurrency: int | None = None
        self._identify_holds: set[asyncio.Task[None]] = set()

    @staticmethod
    def _gateway_options(settings: Settings) -> dict[str, Any]:
        ids = settings.shard_ids
        return {"shard_count": settings.shard_count, "shard_ids": list(ids) if ids else None}

    def gateway_open(self) -> bool:
        """Whether every shard of this process is connected."""
        expected = len(self.settings.shard_ids or range(self.settings.shard_count or 0))
        shards = self.shards
        return (
            not self.is_closed()
            and len(shards) == expected
            and not any(shard.is_closed() for shard in shards.values())
        )

    def gateway_reached(self) -> bool:
        """Whether a shard ever connected (discord.py retries shards that fail to by itself)."""
        return bool(self.shards)

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """Wait for this shard's bucket, bot-wide, and keep it `IDENTIFY_INTERVAL_S` after."""
        concurrency = await self.max_concurrency()
        bucket = f"identify-bucket-{(shard_id or 0) % concurrency}"
        taken = asyncio.get_running_loop().create_future()
        hold = asyncio.create_task(self._hold_identify_bucket(bucket, taken), name=bucket)
        self._identify_holds.add(hold)
        hold.add_done_callback(self._identify_holds.discard)
        await taken  # raises what taking the lock raised
        log.info("shard %s identifying (bucket %s)", shard_id, bucket)

    async def _hold_identify_bucket(self, name: str, taken: asyncio.Future[None]) -> None:
        # One task takes and releases the lock: a database session lock belongs to its holder.
        try:
            async with self.store.hold_lock(name):
                taken.set_result(None)
                await asyncio.sleep(IDENTIFY_INTERVAL_S)
        except BaseException as exc:
            if not taken.done():
                taken.set_exception(exc)
            raise

    async def max_concurrency(self) -> int:
        """How many shards may IDENTIFY per 5 s (`GET /gateway/bot`; 1 if it cannot be read)."""
        if self._max_concurrency is None:
            try:
                limits = await self.fetch_session_start_limits()
                self._max_concurrency = max(1, limits.max_concurrency)
            except (discord.HTTPException, discord.GatewayNotFound) as exc:
                log.warning("cannot read max_concurrency (%s); identifying one at a time", exc)
                return 1
        return self._max_concurrency

    async def close(self) -> None:
        """Close as the plain bot does; bucket locks still held are let go."""
        for hold in list(self._identify_holds):
            hold.cancel()
        await super().close()


def bot_class(settings: Settings) -> type[AnimateBot]:
    """The sharded bot when `SHARD_COUNT` is set, else the plain (unsharded) one."""
    return ShardedAnimateBot if settings.sharded else AnimateBot
