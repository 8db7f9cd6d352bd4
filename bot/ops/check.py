"""`python -m bot check`: verify a configuration without starting the bot.

One line per check, `ok` or `PROBLEM` with what to do, and exit status 0 only if every check
passed, so it fits CI and a container's start. Nothing is written and nothing costs money:
the database is opened read-only, the video API is asked for a prediction that cannot exist.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
from pydantic import ValidationError

from bot.errors import ApiAuthError, ApiUnavailableError
from bot.ops.discord_rest import (
    INVITE_PERMISSIONS,
    INVITE_SCOPES,
    REQUIRED_PERMISSIONS,
    DiscordAnswerError,
    DiscordApplication,
    DiscordRest,
    DiscordUnavailableError,
    GatewayBot,
    TokenRefusedError,
    invite_url,
)
from bot.ops.startup import KEY_REFUSED, TOKEN_REFUSED, describe, probe_video_key, settings_problems
from bot.settings import DEFAULT_DISCORD_API_URL, DatabaseUrl, Settings
from bot.storage import DatabaseUnusableError, postgresql
from bot.storage.database import migrations
from bot.storage.sqlite import schema_version
from bot.video.vibedream import VibedreamClient

#: Where the real API serves its clips: the one host `VIBEDREAM_OUTPUT_HOSTS` lists by default.
(DEFAULT_OUTPUT_HOST,) = Settings.model_fields["vibedream_output_hosts"].default
DEFAULT_VIBEDREAM_API_URL = Settings.model_fields["vibedream_api_url"].default
_TIMEOUT = aiohttp.ClientTimeout(total=20)


@dataclass(frozen=True)
class Result:
    """The outcome of one check."""

    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        """`ok      name: detail` or `PROBLEM name: what to do`."""
        return f"{'ok' if self.ok else 'PROBLEM':<8}{self.name}: {self.detail}"


def main() -> int:
    """Run every check, print a line for each, and return the exit status."""
    try:
        settings = Settings()  # type: ignore[call-arg]  # required values come from the environment
    except ValidationError as exc:
        for problem in settings_problems(exc):
            print(Result("settings", False, problem).line(), flush=True)
        return 1
    return asyncio.run(_print_all(settings))


async def _print_all(settings: Settings) -> int:
    passed = True
    async for result in checks(settings):
        print(result.line(), flush=True)
        passed = passed and result.ok
    return 0 if passed else 1


async def checks(settings: Settings) -> AsyncIterator[Result]:
    """Every check's results, in order (the settings were read already)."""
    yield Result("settings", True, f"valid (video model {settings.vibedream_model})")
    async with aiohttp.ClientSession(timeout=_TIMEOUT) as http:
        async for result in discord_checks(http, settings):
            yield result
        yield await database_check(settings)
        yield await video_key_check(http, settings)
    for result in host_checks(settings):
        yield result


def shard_check(settings: Settings, gateway: GatewayBot) -> Result:
    """Which gateway shards this process runs, beside what Discord recommends (only when
    `SHARD_COUNT` is set; the settings were found consistent)."""
    count = settings.shard_count
    assert count is not None
    ids = settings.shard_ids or tuple(range(count))
    runs = "all" if len(ids) == count else f"{len(ids)}"
    return Result(
        "sharding",
        True,
        f"{runs} of {count} shard(s) in this process: {', '.join(map(str, ids))} (Discord "
        f"recommends {gateway.shards}; {gateway.session_start_limit.max_concurrency} may "
        "identify per 5 s)",
    )


# Discord ---------------------------------------------------------------------------------------


async def discord_checks(http: aiohttp.ClientSession, settings: Settings) -> AsyncIterator[Result]:
    """The token (naming the bot user and application), then what the API tells of the
    application's intents, invite and servers."""
    rest = DiscordRest(http, settings)
    try:
        user = await rest.me()
        application = await rest.application()
        guilds = await rest.guilds()
    except TokenRefusedError:
        yield Result("discord token", False, TOKEN_REFUSED)
        return
    except (aiohttp.ClientError, TimeoutError, DiscordUnavailableError) as exc:
        yield Result(
            "discord token",
            False,
            f"cannot reach Discord at {settings.discord_api_url} ({describe(exc)}): check the "
            "network, and DISCORD_API_URL if you set it",
        )
        return
    except DiscordAnswerError as exc:
        yield Result("discord token", False, f"{exc}: check DISCORD_API_URL if you set it")
        return
    yield Result(
        "discord token",
        True,
        f"accepted: bot user {user.display} of application {application.display}",
    )
    yield application_check(application)
    if settings.sharded:
        try:
            yield shard_check(settings, await rest.gateway_bot())
        except (aiohttp.ClientError, TimeoutError, DiscordUnavailableError, DiscordAnswerError):
            yield Result("sharding", False, "cannot read GET /gateway/bot: try again")
    if not guilds:
        yield Result(
            "discord servers", True, f"in no server yet; invite it: {invite_url(application.id)}"
        )
        return
    short = [guild for guild in guilds if guild.missing_permissions()]
    for guild in short:
        yield Result(
            "discord servers",
            False,
            f"in {guild.name} ({guild.id}) the bot lacks {', '.join(guild.missing_permissions())}: "
            f"give them to its role, or invite it again: {invite_url(application.id)}",
        )
    if not short:
        yield Result(
            "discord servers",
            True,
            f"in {len(guilds)} server(s), with every permission it needs server-wide "
            "(channel overrides are checked when /animate runs)",
        )


def application_check(application: DiscordApplication) -> Result:
    """Intents, where commands go, and the default invite's scopes and permissions."""
    problems = []
    if application.interactions_endpoint_url:
        problems.append(
            "remove the Interactions Endpoint URL (Developer Portal -> General Information): "
            "with it, commands go there instead of to the bot"
        )
    install = application.install_params
    if install is not None:
        scopes = [scope for scope in INVITE_SCOPES if scope not in install.scopes]
        if scopes:
            problems.append(f"add the scope(s) {' '.join(scopes)} to the default install link")
        lacking = [
            name for bit, name in REQUIRED_PERMISSIONS.items() if not int(install.permissions) & bit
        ]
        if lacking:
            problems.append(
                f"add {', '.join(lacking)} to the default install link's permissions "
                f"(or use {INVITE_PERMISSIONS})"
            )
    if problems:
        return Result("discord application", False, "; ".join(problems))
    intents = "intents: guilds only, no privileged intent needed"
    if privileged := application.privileged_intents():
        intents += f" ({', '.join(privileged)} switched on: it may be switched off)"
    invite = "no default install link" if install is None else "default install link fits"
    return Result(
        "discord application",
        True,
        f"{intents}; commands come over the gateway (no Interactions Endpoint URL); {invite}",
    )


# Database --------------------------------------------------------------------------------------


async def database_check(settings: Settings) -> Result:
    """Reachable, its schema version and the migrations a start would apply; read-only."""
    try:
        database = settings.database
    except ValueError as exc:
        return Result("database", False, str(exc))
    if database.path is None:
        return await _postgresql_check(database)
    path = database.path
    known = [number for number, _ in migrations()]
    if not path.exists():
        folder = _nearest_existing(path.parent)
        if not os.access(folder, os.W_OK):
            return Result(
                "database",
                False,
                f"{path} does not exist and {folder} is not writable: make it writable for the "
                "bot, or point DATABASE_URL elsewhere",
            )
        return Result(
            "database", True, f"{path} will be created at the first start ({len(known)} migrations)"
        )
    try:
        version = await schema_version(path)
    except DatabaseUnusableError as exc:
        return Result("database", False, str(exc))
    except (OSError, sqlite3.Error) as exc:
        return Result(
            "database",
            False,
            f"cannot open {path} ({describe(exc)}): check that the bot may read and write it",
        )
    return _versions(str(path), version, known)


async def _postgresql_check(database: DatabaseUrl) -> Result:
    """Connect, and read the schema version (the URL shown with its password masked)."""
    known = [number for number, _ in migrations("postgresql")]
    try:
        version = await postgresql.schema_version(database.url)
    except Exception as exc:
        if not (postgresql.unreachable(exc) or postgresql.refused(exc)):
            raise
        return Result(
            "database",
            False,
            f"cannot use {database} ({describe(exc)}): check that PostgreSQL runs, and "
            "DATABASE_URL's host, port, user, password and database name",
        )
    if version > known[-1]:
        return Result(
            "database",
            False,
            f"{database} has schema version {version}, newer than this bot knows "
            f"({known[-1]}): run the newer version",
        )
    return _versions(str(database), version, known)


def _versions(where: str, version: int, known: list[int]) -> Result:
    pending = [f"{number:04d}" for number in known if number > version]
    detail = f"{where} answers, schema version {version}; " + (
        f"{len(pending)} migration(s) pending, applied at the next start: {', '.join(pending)}"
        if pending
        else "no migration pending"
    )
    return Result("database", True, detail)


def _nearest_existing(folder: Path) -> Path:
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder


# Video API -------------------------------------------------------------------------------------


async def video_key_check(http: aiohttp.ClientSession, settings: Settings) -> Result:
    """The key, by reading a prediction that cannot exist (free: no generation starts)."""
    api = VibedreamClient.from_settings(http, settings)
    try:
        await probe_video_key(api)
    except ApiAuthError:
        return Result("video API key", False, KEY_REFUSED)
    except ApiUnavailableError as exc:
        return Result(
            "video API key",
            False,
            f"cannot reach the video API at {settings.vibedream_api_url} ({exc}): check the "
            "network, and VIBEDREAM_API_URL if you set it",
        )
    return Result("video API key", True, f"accepted by {settings.vibedream_api_url}")


# Hosts -----------------------------------------------------------------------------------------


def host_checks(settings: Settings) -> list[Result]:
    """The hosts clips and Discord's files may come from: plain host names, and the real
    services' own when the bot talks to them."""
    results = []
    for name, hosts, needed in (
        (
            "VIBEDREAM_OUTPUT_HOSTS",
            settings.vibedream_output_hosts,
            DEFAULT_OUTPUT_HOST if settings.vibedream_api_url == DEFAULT_VIBEDREAM_API_URL else "",
        ),
        (
            "DISCORD_CDN_HOSTS",
            settings.discord_cdn_hosts,
            "cdn.discordapp.com" if settings.discord_api_url == DEFAULT_DISCORD_API_URL else "",
        ),
    ):
        results.append(_host_list_check(name, hosts, needed))
    if not settings.vibedream_output_require_https and (
        settings.vibedream_api_url == DEFAULT_VIBEDREAM_API_URL
    ):
        results.append(
            Result(
                "output hosts",
                False,
                "VIBEDREAM_OUTPUT_REQUIRE_HTTPS is off with the real API, which serves clips "
                "over https: turn it back on",
            )
        )
    return results


def _host_list_check(name: str, hosts: frozenset[str], needed: str) -> Result:
    label = name.lower().replace("_", " ")
    if not hosts:
        return Result(label, False, f"{name} is empty: no file could ever be downloaded")
    odd = sorted(host for host in hosts if not _is_host_name(host))
    if odd:
        return Result(
            label,
            False,
            f"{name} holds {', '.join(odd)}: give bare host names (no scheme, path or "
            "wildcard), comma-separated",
        )
    if needed and needed not in hosts:
        return Result(label, False, f"{name} lacks {needed}, where those files come from")
    return Result(label, True, ", ".join(sorted(hosts)))


def _is_host_name(host: str) -> bool:
    parts = urlsplit(f"//{host}")
    return (
        bool(parts.hostname)
        and parts.hostname == host.partition(":")[0]
        and "*" not in host
        and not parts.path
        and " " not in host
    )
