"""The few Discord REST reads that start-up and `python -m bot check` need, over plain HTTP:
who the token belongs to, its application, and the servers the bot is in.

discord.py is the Discord edge's; these checks run before it starts (or without it) and must
turn each answer into one clear line, so they read Discord's JSON themselves (pydantic,
leniently: unknown fields are ignored).
"""

from __future__ import annotations

import json
from typing import TypeVar

import aiohttp
from pydantic import BaseModel, ConfigDict, ValidationError

from bot.settings import Settings

#: What the bot needs in a channel, as Discord's permission bits: View Channels, Send
#: Messages, Embed Links, Attach Files, Send Messages in Threads (README, the invite).
REQUIRED_PERMISSIONS = {
    1 << 10: "View Channels",
    1 << 11: "Send Messages",
    1 << 14: "Embed Links",
    1 << 15: "Attach Files",
    1 << 38: "Send Messages in Threads",
}
#: The permission integer of the README's invite link.
INVITE_PERMISSIONS = sum(REQUIRED_PERMISSIONS)
ADMINISTRATOR = 1 << 3
#: The scopes the invite needs: the bot user, and its slash commands.
INVITE_SCOPES = ("bot", "applications.commands")
#: Application flags for privileged intents (enabled, or enabled while unverified).
PRIVILEGED_INTENT_FLAGS = {
    "presence": (1 << 12) | (1 << 13),
    "server members": (1 << 14) | (1 << 15),
    "message content": (1 << 18) | (1 << 19),
}
_TIMEOUT = aiohttp.ClientTimeout(total=15)


class TokenRefusedError(Exception):
    """Discord answered 401: the token is wrong or was reset."""


class DiscordUnavailableError(Exception):
    """Discord answered 429 or 5xx: it may well answer in a moment."""


class DiscordAnswerError(Exception):
    """Discord answered something else the check cannot use."""


class _Lenient(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


ModelT = TypeVar("ModelT", bound=_Lenient)


class DiscordUser(_Lenient):
    """`GET /users/@me`: the bot user."""

    id: int
    username: str
    bot: bool = False

    @property
    def display(self) -> str:
        """`name (id)`."""
        return f"{self.username} ({self.id})"


class InstallParams(_Lenient):
    """The application's default in-app invite, if it has one."""

    scopes: list[str] = []
    permissions: str = "0"


class DiscordApplication(_Lenient):
    """`GET /oauth2/applications/@me`: the bot's application."""

    id: int
    name: str
    flags: int = 0
    interactions_endpoint_url: str | None = None
    install_params: InstallParams | None = None

    @property
    def display(self) -> str:
        """`name (id)`."""
        return f"{self.name} ({self.id})"

    def privileged_intents(self) -> list[str]:
        """Privileged intents switched on in the Developer Portal."""
        return [name for name, bits in PRIVILEGED_INTENT_FLAGS.items() if self.flags & bits]


class PartialGuild(_Lenient):
    """One entry of `GET /users/@me/guilds`, with the bot's server-wide permissions."""

    id: int
    name: str
    permissions: int = 0

    def missing_permissions(self) -> list[str]:
        """What the bot lacks server-wide of what it needs (channel overwrites may differ)."""
        if self.permissions & ADMINISTRATOR:
            return []
        return [name for bit, name in REQUIRED_PERMISSIONS.items() if not self.permissions & bit]


class SessionStartLimit(_Lenient):
    """Part of `GET /gateway/bot`: how many shards may IDENTIFY per 5 s."""

    max_concurrency: int = 1


class GatewayBot(_Lenient):
    """`GET /gateway/bot`: the shard count Discord recommends, and the IDENTIFY pace."""

    shards: int
    session_start_limit: SessionStartLimit = SessionStartLimit()


def invite_url(application_id: int | str) -> str:
    """The README's invite link for this application."""
    scopes = "+".join(INVITE_SCOPES)
    return (
        f"https://discord.com/oauth2/authorize?client_id={application_id}"
        f"&scope={scopes}&permissions={INVITE_PERMISSIONS}"
    )


class DiscordRest:
    """Reads with the bot's token; raises TokenRefusedError, DiscordUnavailableError,
    DiscordAnswerError, or aiohttp's errors when Discord cannot be reached."""

    def __init__(self, http: aiohttp.ClientSession, settings: Settings) -> None:
        self._http = http
        self._base = settings.discord_api_url.rstrip("/")
        self._token = settings.discord_token

    async def me(self) -> DiscordUser:
        """The bot user the token belongs to (the request discord.py logs in with)."""
        return _parse(DiscordUser, await self._get("/users/@me"))

    async def application(self) -> DiscordApplication:
        """The bot's application."""
        return _parse(DiscordApplication, await self._get("/oauth2/applications/@me"))

    async def guilds(self) -> list[PartialGuild]:
        """The servers the bot is in (the first 200), with its permissions in each."""
        body = await self._get("/users/@me/guilds?limit=200")
        try:
            data = json.loads(body)
            if not isinstance(data, list):
                raise DiscordAnswerError("the server list is not a list")
            return [PartialGuild.model_validate(entry) for entry in data]
        except (ValueError, ValidationError) as exc:
            raise DiscordAnswerError("unexpected server list") from exc

    async def gateway_bot(self) -> GatewayBot:
        """The recommended shard count and `max_concurrency`."""
        return _parse(GatewayBot, await self._get("/gateway/bot"))

    async def _get(self, path: str) -> bytes:
        headers = {"Authorization": f"Bot {self._token.get_secret_value()}"}
        async with self._http.get(self._base + path, headers=headers, timeout=_TIMEOUT) as answer:
            body = await answer.read()
            status = answer.status
        if status == 401:
            raise TokenRefusedError
        route = path.partition("?")[0]
        if status == 429 or status >= 500:
            raise DiscordUnavailableError(f"GET {route} answered {status}")
        if status >= 300:
            raise DiscordAnswerError(f"GET {route} answered {status}")
        return body


def _parse(model: type[ModelT], body: bytes) -> ModelT:
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        raise DiscordAnswerError(f"unexpected {model.__name__} answer") from exc
