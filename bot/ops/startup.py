"""Start-up: settings read with a clear word per problem, bounded retries of what may be only
briefly unreachable, and every failure as one line with what to do (`StartupError`)."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Awaitable, Callable
from typing import TypeVar

import aiohttp
from pydantic import ValidationError

from bot.errors import ApiAuthError, ApiError, ApiUnavailableError
from bot.ops.discord_rest import (
    DiscordAnswerError,
    DiscordApplication,
    DiscordRest,
    DiscordUnavailableError,
    DiscordUser,
    TokenRefusedError,
)
from bot.settings import DatabaseUrl, Settings
from bot.storage import DatabaseUnusableError
from bot.storage.postgresql import refused, unreachable
from bot.storage.store import SqlStore
from bot.video.vibedream import VibedreamClient

log = logging.getLogger(__name__)

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]

#: Exit codes (from BSD's sysexits): a setting to fix, a service that stayed unreachable, and a
#: database file that must not be used as it is.
EXIT_CONFIG = 78
EXIT_UNAVAILABLE = 69
EXIT_DATA = 65

#: What to put in each required setting when it is empty or missing.
REQUIRED_HINTS = {
    "DISCORD_TOKEN": (
        "put your bot's token there (https://discord.com/developers/applications -> your "
        "application -> Bot -> Reset Token)"
    ),
    "VIBEDREAM_API_KEY": "put your video API key there (from vibedream.ai/models/api-keys)",
}
TOKEN_REFUSED = (
    "Discord refused DISCORD_TOKEN (401 Unauthorized): reset it at "
    "https://discord.com/developers/applications -> your application -> Bot -> Reset Token "
    "and put the new token in .env"
)
KEY_REFUSED = (
    "the video API refused VIBEDREAM_API_KEY: check it, or make a new one at "
    "vibedream.ai/models/api-keys, and put it in .env"
)
#: A prediction id the API never hands out (its ids are random UUIDs): reading it costs
#: nothing, and the API answers 404 to an accepted key and 401/403 to a refused one.
PROBE_PREDICTION_ID = "00000000-0000-0000-0000-000000000000"
_FIRST_BACKOFF_S = 1.0


class StartupError(Exception):
    """The bot cannot start; the message is the one line an operator reads, with what to do."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def settings_problems(exc: ValidationError) -> list[str]:
    """One sentence per invalid setting, naming it and what it needs (never its value:
    pydantic's own message would echo every input, secrets included)."""
    problems = []
    for error in exc.errors():
        name = ".".join(map(str, error["loc"])).upper()
        empty = error["type"] == "missing" or error.get("input", "") in (None, "")
        if name in REQUIRED_HINTS and empty:
            problems.append(f"{name} is empty or missing: {REQUIRED_HINTS[name]}")
        else:
            problems.append(f"{name}: {error['msg']}")
    return problems


def load_settings() -> Settings:
    """The settings, or SystemExit with one line naming every problem (see .env.example)."""
    try:
        return Settings()  # type: ignore[call-arg]  # required values come from the environment
    except ValidationError as exc:
        problems = "; ".join(settings_problems(exc))
        raise SystemExit(f"Configuration error (see .env.example): {problems}") from None


def describe(exc: BaseException) -> str:
    """A short reason for a network or database failure (no URLs with secrets: none have)."""
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"cannot connect to {exc.host}:{exc.port}: {exc.os_error.strerror or exc.os_error}"
    if isinstance(exc, TimeoutError):
        return "timed out"
    return str(exc) or type(exc).__name__


async def retrying(
    what: str,
    attempt: Callable[[], Awaitable[T]],
    *,
    transient: Callable[[BaseException], bool],
    settings: Settings,
    hint: str,
    sleep: Sleep = asyncio.sleep,
) -> T:
    """Run `attempt`, retrying transient failures `STARTUP_ATTEMPTS` times in all with a
    doubling wait (at most `STARTUP_BACKOFF_MAX_S`), one log line per failed attempt; then
    StartupError naming `what`, the last reason and `hint`."""
    attempts = settings.startup_attempts
    for number in range(1, attempts + 1):
        try:
            return await attempt()
        except Exception as exc:
            if not transient(exc):
                raise
            reason = describe(exc)
            if number == attempts:
                tries = f"{attempts} attempts" if attempts > 1 else "1 attempt"
                raise StartupError(
                    f"{what} could not be reached in {tries} ({reason}); {hint}",
                    EXIT_UNAVAILABLE,
                ) from None
            wait_s = min(settings.startup_backoff_max_s, _FIRST_BACKOFF_S * 2 ** (number - 1))
            log.warning(
                "%s cannot be reached (%s); attempt %d of %d, next in %.1f s",
                what,
                reason,
                number,
                attempts,
                wait_s,
            )
            await sleep(wait_s)
    raise AssertionError("unreachable")  # the loop returns or raises


def _network_trouble(exc: BaseException) -> bool:
    return isinstance(exc, aiohttp.ClientError | TimeoutError | DiscordUnavailableError)


async def sign_in_to_discord(
    http: aiohttp.ClientSession, settings: Settings
) -> tuple[DiscordUser, DiscordApplication]:
    """Check the token with Discord before anything starts: the bot user and application."""
    rest = DiscordRest(http, settings)

    async def attempt() -> tuple[DiscordUser, DiscordApplication]:
        return await rest.me(), await rest.application()

    try:
        user, application = await retrying(
            f"Discord ({settings.discord_api_url})",
            attempt,
            transient=_network_trouble,
            settings=settings,
            hint="check the network (and DISCORD_API_URL if you set it)",
        )
    except TokenRefusedError:
        raise StartupError(TOKEN_REFUSED, EXIT_CONFIG) from None
    except DiscordAnswerError as exc:
        raise StartupError(
            f"Discord answered oddly ({exc}); check DISCORD_API_URL if you set it", EXIT_CONFIG
        ) from None
    log.info("signed in to Discord as %s of application %s", user.display, application.display)
    return user, application


def _database_busy(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and any(
        word in str(exc) for word in ("locked", "busy")
    )


async def open_store(settings: Settings) -> SqlStore:
    """Open the database, retrying while another process holds it locked (SQLite) or it
    cannot be reached (PostgreSQL); StartupError with why and what to do when it cannot be
    used."""
    try:
        database = settings.database
    except ValueError as exc:
        raise StartupError(str(exc), EXIT_CONFIG) from None
    if database.path is None:
        return await _open_postgresql(settings, database)
    path = database.path
    try:
        return await retrying(
            f"the database {path}",
            lambda: SqlStore.open(path),
            transient=_database_busy,
            settings=settings,
            hint="another process keeps it locked; stop it, or point DATABASE_URL elsewhere",
        )
    except DatabaseUnusableError as exc:
        raise StartupError(f"database: {exc}", EXIT_DATA) from None
    except (OSError, sqlite3.Error) as exc:
        raise StartupError(
            f"cannot open the database {path} ({describe(exc)}): make sure its folder exists "
            "and the bot may write there, or point DATABASE_URL at another file",
            EXIT_CONFIG,
        ) from None


async def _open_postgresql(settings: Settings, database: DatabaseUrl) -> SqlStore:
    """Connect to PostgreSQL, retrying while it cannot be reached (it may be starting too)."""
    try:
        return await retrying(
            f"the database {database}",
            lambda: SqlStore.open(database.url),
            transient=unreachable,
            settings=settings,
            hint="check that PostgreSQL runs, and DATABASE_URL's host and port",
        )
    except DatabaseUnusableError as exc:
        raise StartupError(f"database: {exc}", EXIT_DATA) from None
    except Exception as exc:
        if not refused(exc):
            raise
        raise StartupError(
            f"PostgreSQL refused the database {database} ({describe(exc)}): check "
            "DATABASE_URL's user, password and database name, and that the user may create "
            "tables in it",
            EXIT_CONFIG,
        ) from None


async def probe_video_key(api: VibedreamClient) -> None:
    """Raise ApiAuthError if the API refuses the key, ApiUnavailableError if it cannot be
    reached; read an id that cannot exist, which costs nothing."""
    try:
        await api.get_prediction(PROBE_PREDICTION_ID, retries=0)
    except ApiAuthError:
        raise
    except ApiUnavailableError:
        raise
    except ApiError:
        pass  # 404 (or any answer but auth): the key was accepted


async def check_video_key(api: VibedreamClient, settings: Settings) -> None:
    """Stop the start if the API refuses the key. An API that cannot be reached does not stop
    it: jobs wait in the queue until the API answers, as they would later on."""
    try:
        await retrying(
            "the video API",
            lambda: probe_video_key(api),
            transient=lambda exc: isinstance(exc, ApiUnavailableError),
            settings=settings,
            hint="jobs will wait until it answers",
        )
    except ApiAuthError:
        raise StartupError(KEY_REFUSED, EXIT_CONFIG) from None
    except StartupError as exc:
        log.warning("starting anyway: %s", exc)
        return
    log.info("the video API accepted the key")
