"""Composition root: `python -m bot` builds every part, wires them and runs the bot."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Callable

import aiohttp
import discord
import yarl

from bot.bot import AnimateBot, bot_class
from bot.defaults.service import DefaultsService
from bot.guilds.admin import GuildAdmin
from bot.jobs.metrics import NO_METRICS, JobMetrics
from bot.jobs.posting import ResultPoster
from bot.jobs.runtime import JobRuntime
from bot.jobs.service import JobService
from bot.media.files import ClipDownloader, DiscordFiles
from bot.media.gif import GifMaker
from bot.media.transcode import ClipFitter
from bot.members.forms import OpenForms
from bot.members.history import HistoryService
from bot.members.retention import Retention
from bot.members.usage import MemberService
from bot.ops import check, copy_database
from bot.ops.logs import setup_logging
from bot.ops.metrics import PrometheusMetrics
from bot.ops.server import HealthProbes, OpsServer
from bot.ops.startup import (
    EXIT_CONFIG,
    EXIT_UNAVAILABLE,
    TOKEN_REFUSED,
    StartupError,
    check_video_key,
    describe,
    load_settings,
    open_store,
    retrying,
    sign_in_to_discord,
)
from bot.remix.service import RemixService
from bot.settings import Settings
from bot.storage.store import SqlStore
from bot.video.catalogue import configured_model
from bot.video.vibedream import VibedreamClient
from cogs.support.notifier import DiscordNotifier

log = logging.getLogger("bot")


async def point_discord_at(settings: Settings, http: aiohttp.ClientSession) -> None:
    """Send discord.py's REST and gateway traffic to a Discord-compatible server.

    discord.py's plain Bot, and its sharded one given a shard count, always connect to
    Discord's own gateway, so when `DISCORD_API_URL` names another server the gateway comes
    from `DISCORD_GATEWAY_URL` or that server's `GET /gateway/bot`.
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
    """Check what the bot needs, then run it until it is closed or receives SIGTERM/SIGINT.

    Every start-up failure is a `StartupError`: one line saying what to do.
    """
    timeout = aiohttp.ClientTimeout(total=None, connect=10, sock_read=60)
    prometheus = PrometheusMetrics() if settings.metrics_port is not None else None
    metrics: JobMetrics = prometheus or NO_METRICS
    api_traces = [prometheus.api_trace_config(settings.vibedream_api_url)] if prometheus else []
    async with contextlib.AsyncExitStack() as stack:
        http = await stack.enter_async_context(aiohttp.ClientSession(timeout=timeout))
        # Its own session, so that its traces see the video API's requests alone.
        api_http = await stack.enter_async_context(
            aiohttp.ClientSession(timeout=timeout, trace_configs=api_traces)
        )
        store = await stack.enter_async_context(await open_store(settings))
        await sign_in_to_discord(http, settings)
        if settings.uses_custom_discord:
            await retrying(
                "Discord's gateway address",
                lambda: point_discord_at(settings, http),
                transient=lambda exc: isinstance(exc, aiohttp.ClientError | TimeoutError),
                settings=settings,
                hint="check DISCORD_API_URL and DISCORD_GATEWAY_URL",
            )
        api = VibedreamClient.from_settings(api_http, settings)
        await check_video_key(api, settings)
        downloader = ClipDownloader.from_settings(http, settings)
        files = DiscordFiles.from_settings(http, settings)
        runtime = JobRuntime(settings=settings, store=store, metrics=metrics)
        fitter = ClipFitter.from_settings(settings)
        poster = ResultPoster(
            settings=settings,
            store=store,
            downloader=downloader,
            files=files,
            fitter=fitter,
            now=runtime.now,
            metrics=metrics,
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
            jobs=jobs,
            settings=settings,
            store=store,
            downloader=downloader,
            files=files,
            gifs=GifMaker.from_settings(settings, slots=fitter.slots),
        )
        bot = await stack.enter_async_context(
            bot_class(settings)(
                settings=settings,
                jobs=jobs,
                admin=admin,
                store=store,
                history=history,
                remix=remix,
                forms=OpenForms(store),
                members=MemberService(settings=settings, store=store),
                defaults=DefaultsService(settings=settings, store=store),
                retention=Retention(settings=settings, store=store),
                notifier=DiscordNotifier,
            )
        )
        if prometheus is not None:
            await _serve_health_and_metrics(stack, settings, prometheus, bot, store)
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, lambda: asyncio.ensure_future(bot.close()))
        await _start(bot, settings)


async def _serve_health_and_metrics(
    stack: contextlib.AsyncExitStack,
    settings: Settings,
    prometheus: PrometheusMetrics,
    bot: AnimateBot,
    store: SqlStore,
) -> None:
    """Count discord.py's rate-limit waits and serve `/healthz` and `/metrics` until the
    stack closes."""
    assert settings.metrics_port is not None
    stack.callback(logging.getLogger("discord.http").removeHandler, prometheus.watch_rate_limits())
    probes = HealthProbes(
        gateway_connected=bot.gateway_open,
        database_answers=lambda: store.get_meta("health"),
        engine_running=lambda: bot.jobs.running,
    )
    server = OpsServer(
        host=settings.metrics_host,
        port=settings.metrics_port,
        probes=probes,
        metrics=prometheus,
        store=store,
    )
    await stack.enter_async_context(server)


async def _start(bot: AnimateBot, settings: Settings) -> None:
    """Log in, then hold the gateway; the token and Discord's reach were checked just before,
    so a login failure here is one of those changing in between, said in one line all the
    same. Once connected, discord.py reconnects by itself whenever the gateway drops."""
    try:
        await bot.login(settings.discord_token.get_secret_value())
    except discord.LoginFailure:
        raise StartupError(TOKEN_REFUSED, EXIT_CONFIG) from None
    except (aiohttp.ClientError, OSError, discord.DiscordServerError) as exc:
        raise StartupError(
            f"Discord could not be reached ({describe(exc)}); check the network", EXIT_UNAVAILABLE
        ) from None
    await _connect(bot, settings)


async def _connect(bot: AnimateBot, settings: Settings) -> None:
    """Connect to the gateway, retrying a first connection that fails.

    discord.py retries a gateway that drops, but not one it never reached: that first failure
    ends its `connect` (with an AttributeError of its own, raised while handling the real
    reason), so the start retries it here, `STARTUP_ATTEMPTS` times in all.
    """
    attempts = settings.startup_attempts
    for number in range(1, attempts + 1):
        try:
            await bot.connect()
            return  # closed
        except discord.PrivilegedIntentsRequired:
            raise StartupError(
                "Discord refused an intent the bot asked for; it needs no privileged intent, "
                "so report this as a bug",
                EXIT_CONFIG,
            ) from None
        except Exception as exc:
            if bot.is_closed() or bot.gateway_reached():
                raise  # it was connected: no longer a start-up failure
            reason = describe(exc.__context__ or exc)
            if number == attempts:
                raise StartupError(
                    f"Discord's gateway could not be reached in {attempts} attempts ({reason}); "
                    "check the network (and DISCORD_GATEWAY_URL if you set it)",
                    EXIT_UNAVAILABLE,
                ) from None
            wait_s = min(settings.startup_backoff_max_s, 2.0 ** (number - 1))
            log.warning(
                "Discord's gateway cannot be reached (%s); attempt %d of %d, next in %.1f s",
                reason,
                number,
                attempts,
                wait_s,
            )
            await asyncio.sleep(wait_s)


def main(args: list[str] | None = None) -> None:
    """Entry point of `python -m bot` (run the bot), `python -m bot check` and `python -m bot
    copy-database --to postgresql://…`; `args` are the command line's (none: run the bot)."""
    args = args or []
    if args == ["check"]:
        raise SystemExit(check.main())
    if args[:1] == ["copy-database"]:
        raise SystemExit(copy_database.main(args[1:]))
    if args:
        raise SystemExit("usage: python -m bot [check | copy-database --to URL [--from URL]]")
    settings = load_settings()
    setup_logging(settings)
    discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False  # never joins voice
    try:
        with asyncio.Runner(loop_factory=_fast_loop_factory()) as runner:
            runner.run(run(settings))
    except StartupError as exc:
        # One line, in the log's own format; starting afresh could hide or overwrite real data.
        log.critical("cannot start: %s", exc)
        raise SystemExit(exc.exit_code) from None
    except KeyboardInterrupt:
        raise SystemExit(130) from None


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
    main(sys.argv[1:])
