"""Composition root: `python -m bot` builds every part, wires them and runs the bot."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable

import aiohttp
import discord
import yarl
from pydantic import ValidationError

from bot.bot import AnimateBot
from bot.guilds.admin import GuildAdmin
from bot.jobs.posting import ResultPoster
from bot.jobs.runtime import JobRuntime
from bot.jobs.service import JobService
from bot.media.files import ClipDownloader, DiscordFiles
from bot.media.transcode import ClipFitter
from bot.members.forms import OpenForms
from bot.members.history import HistoryService
from bot.members.retention import Retention
from bot.members.usage import MemberService
from bot.remix.service import RemixService
from bot.settings import Settings
from bot.storage import DatabaseUnusableError
from bot.storage.store import SqlStore
from bot.video.catalogue import configured_model
from bot.video.vibedream import VibedreamClient
from cogs.support.notifier import DiscordNotifier

log = logging.getLogger("bot")


async def point_discord_at(settings: Settings, http: aiohttp.ClientSession) -> None:
    """Send discord.py's REST and gateway traffic to a Discord-compatible server.

    discord.py's plain Bot always connects to Discord's own gateway, so when `DISCORD_API_URL`
    names another server the gateway comes from `DISCORD_GATEWAY_URL` or that server's
    `GET /gateway/bot`.
    """
    api_url = settings.discord_api_url.rstrip("/")
    discord.http.Route.BASE = api_url
    gateway = settings.discord_gateway_url
    if gateway is None:
        headers = {"Authorization": f"Bot {settings.discord_token.get_secret_value()}"}
        async with http.get(f"{api_url}/gateway/bot", headers=headers) as response:
            response.raise_for_status()
            gateway = str((await response.json(content_type=None))["url"])
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway)
    log.info("using Discord-compatible server %s (gateway %s)", api_url, gateway)


async def run(settings: Settings) -> None:
    """Run the bot until it is closed or receives SIGTERM/SIGINT."""
    timeout = aiohttp.ClientTimeout(total=None, connect=10, sock_read=60)
    async with (
        aiohttp.ClientSession(timeout=timeout) as http,
        await SqlStore.open(settings.database_path) as store,
    ):
        if settings.uses_custom_discord:
            await point_discord_at(settings, http)
        api = VibedreamClient.from_settings(http, settings)
        downloader = ClipDownloader.from_settings(http, settings)
        files = DiscordFiles.from_settings(http, settings)
        runtime = JobRuntime(settings=settings, store=store)
        poster = ResultPoster(
            settings=settings,
            store=store,
            downloader=downloader,
            files=files,
            fitter=ClipFitter.from_settings(settings),
            now=runtime.now,
        )
        jobs = JobService(
            runtime=runtime,
            api=api,
            model=configured_model(settings),
            poster=poster,
            files=files,
        )
        admin = GuildAdmin(settings=settings, store=store)
        history = HistoryService(settings=settings, store=store)
        remix = RemixService(
            jobs=jobs, settings=settings, store=store, downloader=downloader, files=files
        )
        async with AnimateBot(
            settings=settings,
            jobs=jobs,
            admin=admin,
            store=store,
            history=history,
            remix=remix,
            forms=OpenForms(store),
            members=MemberService(settings=settings, store=store),
            retention=Retention(settings=settings, store=store),
            notifier=DiscordNotifier,
        ) as bot:
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signum, lambda: asyncio.ensure_future(bot.close()))
            await bot.start(settings.discord_token.get_secret_value())


def main() -> None:
    """Entry point of `python -m bot`."""
    try:
        settings = Settings()  # type: ignore[call-arg]  # required values come from the environment
    except ValidationError as exc:
        # Listed by hand: pydantic's own message echoes every input value, secrets included.
        problems = "\n".join(
            f"  {'.'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors()
        )
        raise SystemExit(f"Configuration error (see .env.example):\n{problems}") from None
    discord.utils.setup_logging(
        level=logging.getLevelName(settings.log_level.upper()),
        formatter=logging.Formatter("%(asctime)s %(levelname)-8s %(name)s: %(message)s"),
        root=True,
    )
    discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False  # never joins voice
    try:
        with asyncio.Runner(loop_factory=_fast_loop_factory()) as runner:
            runner.run(run(settings))
    except DatabaseUnusableError as exc:
        # Stop with a clear message: starting afresh would hide, or overwrite, the real data.
        log.critical("cannot start: %s", exc)
        raise SystemExit(f"Database error: {exc}") from None


def _fast_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop where it exists: the same asyncio API with the loop and socket transports in C,
    taking about half of aiohttp's own CPU off each HTTP round trip (README, Performance).
    It does not exist on Windows, where asyncio's own loop runs the bot just the same."""
    try:
        import uvloop  # noqa: PLC0415 - optional by platform
    except ImportError:
        return None
    return uvloop.new_event_loop


if __name__ == "__main__":
    main()
