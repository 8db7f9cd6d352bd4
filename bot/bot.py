"""The Discord client: loads the cogs, syncs commands when they change, answers errors politely."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable

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
from bot.storage import MetaStore

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
        store: MetaStore,
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
        synced = await self.tree.sync()
        await self.store.set_meta(key, digest)
        log.info("synced %d application commands", len(synced))
        return True
