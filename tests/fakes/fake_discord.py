"""Loopback fake of Discord (REST API, CDN and gateway) for black-box tests of a dpy 2.7 bot.

An unmodified ``discord.py`` client talks to it once ``discord.http.Route.BASE`` is set to
``fake.api_url`` and ``DiscordWebSocket.DEFAULT_GATEWAY`` to ``yarl.URL(fake.gateway_url)``.
Behaviour follows shared/research/discord-platform.md (sections A-C, E): exact
``application/json`` content type, 200 + body for ``with_response`` callbacks, 3 s ack window,
interaction-token expiry (401/50027), upload limits (413/40005), nonce dedupe, 429 with ``Via``.

Observing: ``fake.requests`` records every HTTP request (paths without ``/api/v10``; CDN paths
keep ``/cdn``; the gateway upgrade is ``GET /gateway`` with status 101). Bodies of the
message/command routes are validated against Discord's OpenAPI request schemas; problems go
to ``fake.violations`` (so does any internal error of the fake, answered with a 500), as
do ``*_localizations`` keys that are not Discord locales (answered 400/50035).
``fake.messages`` holds live messages by id (``add_user_message`` adds a user's, with
``add_attachment`` files and ``image_embed`` embeds the fake CDN serves).

Guild model: roles (``add_role``), members with roles (``add_member``, ``set_roles``; the bot
too), channel permission overwrites (``set_overwrite``, ``deny_bot``, ``hide_channel_from_bot``).
GUILD_CREATE carries all of them, so discord.py's ``permissions_for(guild.me)`` agrees with the
fake, which enforces the bot's computed permissions on channel routes (403 50001/50013) and
derives ``app_permissions`` and ``member.permissions`` of interactions from them.

Interactions: chat-input commands (``make_interaction``; options built with ``subcommand``,
``user_option``, ``channel_option``, ``role_option``... get ``data.resolved`` filled in) and
button/select presses on known messages (``make_component_interaction``), with callback
types 4, 5 and, for components, 6 and 7. Commands and components may open a modal
(callback 9, kept for ``modal_of``); ``make_modal_submit_interaction`` submits it (type 5,
answered with 4, 5 or, from a component, 6 and 7). Message context-menu commands
(``make_message_command_interaction``) target a live message; autocompletes
(``make_autocomplete_interaction``) take only callback 8, kept for ``choices_of``.

Not modelled: rate-limit buckets (only injected 429s), gateway MESSAGE_* events and
unprompted CHANNEL_*/ROLE_*/MEMBER_* events (setup changes reach the bot via GUILD_CREATE, or
via ``push_guild_update()`` once it is connected),
event replay on RESUME, zlib/zstd compression (dpy accepts plain text frames), threads.
Uploaded files are kept in memory up to ``keep_file_bytes`` (``upload_of``) and served by
the fake CDN at signed URLs (``?ex=&is=&hm=``, as ``add_attachment`` files) until their
message is deleted; bigger uploads are hashed, not kept, and their URLs answer 404.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import logging
import mimetypes
import random
import re
import secrets
import socket
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

from aiohttp import BodyPartReader, WSMsgType, web

from tests.fakes import discord_payloads as p
from tests.fakes.discord_payloads import snowflake
from tests.fakes.discord_schemas import RequestSchemas, default_schemas

__all__ = ["FakeDiscord", "RecordedFile", "RecordedRequest", "buttons_of", "snowflake"]

buttons_of = p.buttons_of

_log = logging.getLogger(__name__)

API_PREFIX = "/api/v10"
CDN_PREFIX = "/cdn"
HEAD_BYTES = 64
CHUNK = 1 << 16
PARSE_ALL = frozenset({"users", "roles", "everyone"})
PARSE_USERS = frozenset({"users"})
CALLBACK_SPEC_PATH = "/interactions/{interaction_id}/{interaction_token}/callback"


@dataclass
class RecordedFile:
    """One uploaded file part: size, hash, first bytes, and all bytes if small enough.

    ``content_type`` is the part's own header (discord.py always sends
    ``application/octet-stream``; the stored attachment's ``content_type`` is guessed from
    the filename, as Discord does). ``data`` is ``None`` above ``FakeDiscord.keep_file_bytes``.
    """

    field: str
    filename: str | None
    size: int
    sha256: str
    head: bytes
    content_type: str | None = None
    data: bytes | None = None


@dataclass
class RecordedRequest:
    """One HTTP request the fake received, and the status it answered with."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    json: Any
    files: list[RecordedFile]
    status: int
    at: float
    response: Any = None


class DiscordError(Exception):
    """Raised inside handlers to answer with a Discord-style JSON error."""

    def __init__(self, status: int, code: int, message: str) -> None:
        """Store the HTTP status and the Discord error code/message."""
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.body: dict[str, Any] = {"code": code, "message": message}


def _not_found() -> DiscordError:
    return DiscordError(404, 0, "404: Not Found")


def _unknown_message() -> DiscordError:
    return DiscordError(404, 10008, "Unknown Message")


def _invalid_webhook_token() -> DiscordError:
    return DiscordError(401, 50027, "Invalid Webhook Token")


def json_response(
    data: Any, *, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """JSON response whose Content-Type is exactly ``application/json`` (dpy requires it)."""
    return web.Response(
        body=json.dumps(data).encode(),
        status=status,
        content_type="application/json",
        headers=headers,
    )


def _truthy(value: str | None) -> bool:
    return value is not None and value.lower() in {"1", "true"}


@dataclass
class _Call:
    """A parsed request handed to a route handler."""

    request: web.Request
    match: re.Match[str]
    record: RecordedRequest

    @property
    def body(self) -> Any:
        return self.record.json

    @property
    def files(self) -> list[RecordedFile]:
        return self.record.files

    def int_param(self, name: str) -> int:
        return int(self.match[name])


Handler = Callable[[_Call], Awaitable[web.StreamResponse]]


@dataclass
class _Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    auth: bool = True
    spec_path: str | None = None
    api: bool = True


@dataclass
class _Fault:
    method: str
    pattern: re.Pattern[str]
    status: int
    body: dict[str, Any]
    headers: dict[str, str]
    remaining: int


@dataclass
class _Interaction:
    id: int
    token: str
    channel_id: int
    attachment_size_limit: int
    kind: int = p.INTERACTION_APPLICATION_COMMAND
    user_id: int | None = None
    #: For a component interaction: the message the component is on.
    message_id: int | None = None
    sent_at: float | None = None
    acked: bool = False
    original_id: int | None = None
    message_ids: set[int] = field(default_factory=set)
    #: Type of the messages its responses create (reply, slash or context-menu command).
    response_type: int = p.MESSAGE_TYPE_CHAT_INPUT_COMMAND
    #: The modal it was answered with (callback 9), components numbered like Discord does.
    modal: dict[str, Any] | None = None
    #: For a modal submit: the interaction that opened the modal.
    opened_by: _Interaction | None = None
    #: For an autocomplete: the choices the bot answered with (callback 8).
    choices: list[dict[str, Any]] | None = None

    def allowed_callbacks(self) -> tuple[int, ...]:
        """Callback types Discord accepts for this kind of interaction."""
        if self.kind == p.INTERACTION_AUTOCOMPLETE:
            return (8,)
        on_message = (6, 7) if self.message_id is not None else ()
        if self.kind == p.INTERACTION_MODAL_SUBMIT:
            return (4, 5, *on_message)
        return (4, 5, *on_message, 9)


@dataclass
class _Session:
    session_id: str
    seq: int = 0


@dataclass
class _GatewayConn:
    ws: web.WebSocketResponse
    session: _Session | None = None
    intents: int = 0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


@dataclass
class _CdnFile:
    """A file the fake CDN serves at ``paths``; signed URLs need ``hm`` and an unexpired ``ex``."""

    paths: set[str]
    data: bytes
    content_type: str | None
    signature: str | None
    expires_at: int


class FakeDiscord:
    """In-process Discord stand-in: one guild, one bot user, text channels, interactions."""

    def __init__(
        self,
        token: str = "test-discord-token",
        *,
        ack_deadline_s: float = 3.0,
        token_lifetime_s: float = 900.0,
        schemas: RequestSchemas | None = None,
    ) -> None:
        """Create the fake (call ``start()`` or use ``async with``)."""
        self.token = token
        self.ack_deadline_s = ack_deadline_s
        self.token_lifetime_s = token_lifetime_s
        #: Per-file upload limit for channel posts (the guild's limit; 10 MiB by default).
        self.upload_limit_bytes = 10 * 1024 * 1024
        #: How long a ``nonce`` with ``enforce_nonce`` dedupes channel posts.
        self.nonce_window_s = 300.0
        #: Uploaded files up to this size keep their bytes in ``RecordedFile.data`` and are
        #: served by the fake CDN; larger ones are only hashed as they stream in.
        self.keep_file_bytes = 10 * 1024 * 1024
        #: The guild's boost level (discord.py derives the guild upload limit from it).
        self.premium_tier = 0
        #: Fraction of REST requests whose path matches `random_fault_paths` answered with a
        #: random one of `random_fault_statuses`, unprocessed (drawn from `random`).
        self.random_fault_rate = 0.0
        self.random_fault_paths = re.compile(r"/(channels|webhooks)/.*")
        self.random_fault_statuses: tuple[int, ...] = (500, 502, 503)
        self.random = random.Random(0)
        self.requests: list[RecordedRequest] = []
        self.violations: list[str] = []
        #: Live messages by id (channel posts, interaction responses, followups).
        self.messages: dict[int, dict[str, Any]] = {}
        self.identify_count = 0
        self.resume_count = 0
        self.connected = asyncio.Event()
        self._schemas = schemas or default_schemas()
        self._application_id = snowflake()
        self._bot_user_id = snowflake()
        self._owner_id = snowflake()
        self._guild_id = snowflake()
        self._bot_user = p.user_object(self._bot_user_id, "FakeBot", bot=True)
        self._users: dict[int, dict[str, Any]] = {
            self._bot_user_id: self._bot_user,
            self._owner_id: p.user_object(self._owner_id, "owner"),
        }
        self._bot_joined_at = p.now_iso()
        self._roles: dict[int, dict[str, Any]] = {
            self._guild_id: p.role_object(self._guild_id, "@everyone", p.EVERYONE_PERMISSIONS)
        }
        #: Guild members (user id -> role ids); users not in here are not in the guild.
        self._member_roles: dict[int, list[int]] = {self._bot_user_id: [], self._owner_id: []}
        self._attachment_objects: dict[str, dict[str, Any]] = {}
        self._uploads: dict[int, RecordedFile] = {}
        self._channels: dict[int, dict[str, Any]] = {}
        self._deleted_channels: set[int] = set()
        #: Role and channel ids the connected client has been told about.
        self._announced: set[int] = set()
        self._channel_id = self.add_channel("general")
        self._commands: dict[int | None, list[dict[str, Any]]] = {}
        self._last_command_scope: int | None = None
        self._nonces: dict[tuple[int, str], tuple[int, float]] = {}
        self._interactions: dict[int, _Interaction] = {}
        self._by_token: dict[str, _Interaction] = {}
        self._expired_tokens: set[str] = set()
        self._faults: list[_Fault] = []
        self._cdn: dict[int, _CdnFile] = {}
        self._sessions: dict[str, _Session] = {}
        self._conn: _GatewayConn | None = None
        self._sockets: set[web.WebSocketResponse] = set()
        self._cond = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._routes = self._build_routes()

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Start listening on a free loopback port."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/gateway", self._gateway)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self._port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()

    async def close(self) -> None:
        """Close gateway sockets and stop the server."""
        for ws in list(self._sockets):
            await ws.close(code=1001, message=b"fake shutting down")
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        """Start the server."""
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the server."""
        await self.close()

    # ------------------------------------------------------------------ identity

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` (after ``start()``)."""
        if self._port is None:
            raise RuntimeError("FakeDiscord is not started")
        return f"http://127.0.0.1:{self._port}"

    @property
    def api_url(self) -> str:
        """Value for ``discord.http.Route.BASE``."""
        return self.base_url + API_PREFIX

    @property
    def gateway_url(self) -> str:
        """Gateway URL (also sent as READY's ``resume_gateway_url``)."""
        return self.base_url.replace("http://", "ws://") + "/gateway"

    @property
    def cdn_base(self) -> str:
        """Base of attachment URLs (``{cdn_base}/attachments/{cid}/{aid}/{filename}``)."""
        return self.base_url + CDN_PREFIX

    @property
    def application_id(self) -> int:
        """The application (and interaction webhook) id."""
        return self._application_id

    @property
    def bot_user_id(self) -> int:
        """The bot user's id."""
        return self._bot_user_id

    @property
    def guild_id(self) -> int:
        """The single guild's id."""
        return self._guild_id

    @property
    def channel_id(self) -> int:
        """The default text channel ("general")."""
        return self._channel_id

    @property
    def owner_id(self) -> int:
        """The guild owner's user id (has every permission everywhere)."""
        return self._owner_id

    @property
    def everyone_role_id(self) -> int:
        """The @everyone role's id (= the guild id)."""
        return self._guild_id

    def role(self, role_id: int) -> dict[str, Any]:
        """The role object of ``role_id`` (as sent in GUILD_CREATE)."""
        return self._roles[role_id]

    def channel(self, channel_id: int) -> dict[str, Any]:
        """The channel object of ``channel_id`` (as sent in GUILD_CREATE, plus guild_id)."""
        return self._channels[channel_id]

    @property
    def commands(self) -> list[dict[str, Any]]:
        """The command set of the most recent bulk overwrite (PUT), as echoed back."""
        return self._commands.get(self._last_command_scope, [])

    def commands_for(self, guild_id: int | None = None) -> list[dict[str, Any]]:
        """Registered commands of one scope (``None`` = global)."""
        return self._commands.get(guild_id, [])

    # ------------------------------------------------------------------ world setup

    def add_channel(self, name: str, *, nsfw: bool = False) -> int:
        """Add a guild text channel; announce it by connecting after this call."""
        channel_id = snowflake()
        position = sum(1 for c in self._channels.values() if c["type"] == 0)
        self._channels[channel_id] = p.guild_text_channel(
            channel_id, self._guild_id, name, position=position, nsfw=nsfw
        )
        return channel_id

    def add_role(self, name: str, permissions: int = 0) -> int:
        """Add a guild role above the existing ones; return its id (announce by connecting)."""
        role_id = snowflake()
        self._roles[role_id] = p.role_object(role_id, name, permissions, position=len(self._roles))
        return role_id

    def add_member(self, username: str, *, roles: Iterable[int] = ()) -> int:
        """Add a guild member with ``roles``; return the user id."""
        user_id = snowflake()
        self._users[user_id] = p.user_object(user_id, username)
        self.set_roles(user_id, roles)
        return user_id

    def add_user(self, username: str) -> int:
        """Add a user who is not in the guild (e.g. for a USER option); return the id."""
        user_id = snowflake()
        self._users[user_id] = p.user_object(user_id, username)
        return user_id

    def set_roles(self, user_id: int, roles: Iterable[int]) -> None:
        """Replace a member's roles (``bot_user_id`` for the bot); adds the user to the guild."""
        role_ids = [int(r) for r in roles if int(r) != self._guild_id]
        unknown = [r for r in role_ids if r not in self._roles]
        if unknown or user_id not in self._users:
            raise ValueError(f"unknown role(s) {unknown} or user {user_id}")
        self._member_roles[user_id] = role_ids

    def set_overwrite(
        self, channel_id: int, target_id: int, *, allow: int = 0, deny: int = 0
    ) -> None:
        """Set (replace) the channel overwrite of a role or member; 0/0 removes it.

        ``target_id`` is a role id (incl. ``everyone_role_id``) or a user id.
        """
        channel = self._channels[channel_id]
        overwrites = [o for o in channel["permission_overwrites"] if int(o["id"]) != target_id]
        if allow or deny:
            kind = 0 if target_id in self._roles else 1
            overwrites.append(
                {"id": str(target_id), "type": kind, "allow": str(allow), "deny": str(deny)}
            )
        channel["permission_overwrites"] = overwrites

    def deny_bot(self, channel_id: int, permissions: int) -> None:
        """Deny the bot ``permissions`` in a channel (a member overwrite on the bot user)."""
        allow, deny = self._overwrite_bits(channel_id, self._bot_user_id)
        self.set_overwrite(
            channel_id, self._bot_user_id, allow=allow & ~permissions, deny=deny | permissions
        )

    def hide_channel_from_bot(self, channel_id: int) -> None:
        """Deny the bot VIEW_CHANNEL in a channel (it can still be invoked there)."""
        self.deny_bot(channel_id, p.VIEW_CHANNEL)

    def deny_channel_post(self, channel_id: int) -> None:
        """Deny SEND_MESSAGES for @everyone in a channel: channel posts then get 403/50013."""
        self.set_overwrite(channel_id, self._guild_id, deny=p.SEND_MESSAGES)

    def allow_channel_post(self, channel_id: int) -> None:
        """Undo ``deny_channel_post`` (drops the @everyone overwrite)."""
        self.set_overwrite(channel_id, self._guild_id)

    def permissions_in(self, channel_id: int, user_id: int) -> int:
        """A member's computed permissions in a guild channel (roles, overwrites, implicit)."""
        channel = self._channels[channel_id]
        if channel["type"] == 1:  # DM: no guild permissions apply
            return p.DEFAULT_APP_PERMISSIONS
        roles = self._member_roles.get(user_id, [])
        base = p.base_permissions(
            [int(self._roles[r]["permissions"]) for r in (self._guild_id, *roles)],
            owner=user_id == self._owner_id,
        )
        return p.channel_permissions(
            base,
            channel["permission_overwrites"],
            guild_id=self._guild_id,
            member_id=user_id,
            member_roles=roles,
        )

    def bot_permissions(self, channel_id: int) -> int:
        """The bot's computed permissions in a guild channel."""
        return self.permissions_in(channel_id, self._bot_user_id)

    def _overwrite_bits(self, channel_id: int, target_id: int) -> tuple[int, int]:
        for ow in self._channels[channel_id]["permission_overwrites"]:
            if int(ow["id"]) == target_id:
                return int(ow["allow"]), int(ow["deny"])
        return 0, 0

    def delete_channel(self, channel_id: int) -> None:
        """Make channel routes answer 404/10003 (no CHANNEL_DELETE is dispatched)."""
        self._deleted_channels.add(channel_id)

    def expire_token(self, token: str) -> None:
        """Make every later webhook call with this interaction token fail 401/50027."""
        self._expired_tokens.add(token)

    def fail_next(
        self,
        method: str,
        path_regex: str,
        status: int,
        body: dict[str, Any] | None = None,
        times: int = 1,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer the next ``times`` matching requests with ``status``.

        ``path_regex`` must match the whole path without ``/api/v10``; ``method`` may be "*".
        A 429 gets ``Via: 1.1 google`` and a rate-limit body unless given.
        """
        hdrs = dict(headers or {})
        if status == 429:
            hdrs.setdefault("Via", "1.1 google")
            body = body or {
                "message": "You are being rate limited.",
                "retry_after": 0.05,
                "global": False,
            }
        self._faults.append(
            _Fault(
                method=method.upper(),
                pattern=re.compile(path_regex),
                status=status,
                body=body if body is not None else {"code": 0, "message": f"{status}: injected"},
                headers=hdrs,
                remaining=times,
            )
        )

    def add_attachment(
        self,
        filename: str,
        data: bytes,
        content_type: str | None = None,
        *,
        width: int | None = None,
        height: int | None = None,
        channel_id: int | None = None,
    ) -> dict[str, Any]:
        """Store bytes on the fake CDN and return a user-upload attachment object."""
        attachment_id = snowflake()
        url = self._cdn_put(attachment_id, filename, data, content_type, channel_id)
        attachment = p.attachment_object(
            attachment_id=attachment_id,
            filename=filename,
            size=len(data),
            url=url,
            content_type=content_type,
            width=width,
            height=height,
            ephemeral=True,
        )
        self._attachment_objects[attachment["id"]] = attachment
        return attachment

    def _cdn_put(
        self,
        attachment_id: int,
        filename: str,
        data: bytes,
        content_type: str | None,
        channel_id: int | None = None,
    ) -> str:
        """Serve ``data`` as a channel attachment; return its signed URL (valid 24 h)."""
        channel_id = channel_id or self._channel_id
        now = int(time.time())
        expires_at = now + 24 * 3600
        signature = secrets.token_hex(32)
        path = f"{CDN_PREFIX}/attachments/{channel_id}/{attachment_id}/{filename}"
        self._cdn[attachment_id] = _CdnFile({path}, data, content_type, signature, expires_at)
        return f"{self.base_url}{path}?ex={expires_at:x}&is={now:x}&hm={signature}&"

    def image_embed(
        self,
        data: bytes,
        *,
        width: int,
        height: int,
        filename: str = "image.png",
        content_type: str = "image/png",
        url: str | None = None,
        unfurl: bool = False,
    ) -> dict[str, Any]:
        """An embed showing an image: ``image.url``, ``image.proxy_url``, width and height.

        ``proxy_url`` (Discord's media proxy) is served by the fake CDN, and so is ``url``
        unless given. ``unfurl=True`` gives the shape Discord makes for an image link a
        user pastes (``type: "image"``, the picture in ``thumbnail``) instead of a rich
        embed's ``image``.
        """
        media_id = snowflake()
        proxy_path = f"{CDN_PREFIX}/external/{media_id}/{filename}"
        origin_path = f"{CDN_PREFIX}/origin/{media_id}/{filename}"
        self._cdn[media_id] = _CdnFile({proxy_path, origin_path}, data, content_type, None, 2**62)
        media = {
            "url": url or self.base_url + origin_path,
            "proxy_url": self.base_url + proxy_path,
            "width": width,
            "height": height,
            "content_type": content_type,
        }
        if unfurl:
            return {"type": "image", "url": media["url"], "thumbnail": media}
        return {"type": "rich", "image": media}

    def add_user_message(
        self,
        channel_id: int | None = None,
        *,
        author_id: int | None = None,
        username: str = "alice",
        content: str = "",
        attachments: Iterable[dict[str, Any]] = (),
        embeds: Iterable[dict[str, Any]] = (),
    ) -> dict[str, Any]:
        """Put a message by a user (a guild member) in ``messages``; return it.

        ``attachments`` are ``add_attachment`` objects (served by the fake CDN), ``embeds``
        e.g. ``image_embed`` ones. The bot hears of it only through REST (no MESSAGE_CREATE)
        or as the target of a message command.
        """
        channel_id = channel_id or self._channel_id
        author = self._invoker(author_id, username, None)
        mentions, mention_roles, everyone = p.resolve_mentions(
            content, None, default_parse=PARSE_ALL, known_users=self._users
        )
        message = p.message_object(
            message_id=snowflake(),
            channel_id=channel_id,
            guild_id=self._guild_id,
            author=author,
            content=content,
            embeds=[copy.deepcopy(e) for e in embeds],
            attachments=[{k: v for k, v in a.items() if k != "ephemeral"} for a in attachments],
            mentions=mentions,
            mention_roles=mention_roles,
            mention_everyone=everyone,
        )
        self.messages[int(message["id"])] = message
        return message

    def make_interaction(
        self,
        name: str,
        options: Iterable[dict[str, Any]] = (),
        *,
        user_id: int | None = None,
        username: str = "alice",
        attachments: Iterable[dict[str, Any]] = (),
        app_permissions: int | None = None,
        channel_id: int | None = None,
        attachment_size_limit: int = 10 * 1024 * 1024,
        locale: str = "en-US",
        member_roles: Iterable[int] | None = None,
        member_permissions: int | None = None,
        guild_locale: str = "en-US",
    ) -> dict[str, Any]:
        """Build (and register) the ``d`` of an INTERACTION_CREATE for a chat-input command.

        ``options`` may nest (``subcommand(...)``); USER/CHANNEL/ROLE/MENTIONABLE/ATTACHMENT
        options get their ``data.resolved`` entries filled in (attachments from
        ``add_attachment``, or pass the objects in ``attachments``). The invoking user joins
        the guild; ``member_roles`` replaces their roles (``None`` keeps them, new users have
        none). ``member_permissions``/``app_permissions`` default to what Discord computes
        in the channel: the member's roles and overwrites, and the bot's plus the
        ATTACH_FILES/EMBED_LINKS apps always have for responses (research A4). ``locale``
        is the user's client language, ``guild_locale`` the server's (also ``guild.locale``).
        """
        channel_id = channel_id or self._channel_id
        user = self._invoker(user_id, username, member_roles)
        options = list(options)
        command_id, command_guild_id = self._command_ref(name)
        resolved = self._resolve_options(options, list(attachments), channel_id, user)
        interaction = self._new_interaction(channel_id, user, attachment_size_limit)
        data = p.command_data(
            command_id=command_id,
            name=name,
            guild_id=command_guild_id,
            options=options,
            resolved=resolved,
        )
        return self._interaction_create(
            interaction, user, data, member_permissions, app_permissions, locale, guild_locale
        )

    def make_component_interaction(
        self,
        message_id: int,
        custom_id: str,
        *,
        user_id: int | None = None,
        username: str = "alice",
        member_permissions: int | None = None,
        member_roles: Iterable[int] | None = None,
        channel_id: int | None = None,
        values: Iterable[str] | None = None,
        app_permissions: int | None = None,
        attachment_size_limit: int = 10 * 1024 * 1024,
        locale: str = "en-US",
        guild_locale: str = "en-US",
    ) -> dict[str, Any]:
        """Build (and register) the INTERACTION_CREATE of a press on a component of a message.

        The message must be live in ``messages`` (channel post, interaction response or
        followup, ephemeral too) and carry an enabled component with ``custom_id``;
        ``values`` is for select menus. The user defaults to whoever invoked the interaction
        that produced the message (the only one who sees an ephemeral message), else a new
        user. Permissions default as in ``make_interaction``.
        """
        message = self.messages.get(message_id)
        if message is None:
            raise ValueError(f"no live message {message_id}")
        component = next(
            (
                c
                for c in p.iter_components(message["components"])
                if c.get("custom_id") == custom_id
            ),
            None,
        )
        if component is None or component.get("disabled"):
            raise ValueError(f"message {message_id} has no enabled component {custom_id!r}")
        channel_id = channel_id or int(message["channel_id"])
        if user_id is None:
            user_id = next(
                (i.user_id for i in self._interactions.values() if message_id in i.message_ids),
                None,
            )
        user = self._invoker(user_id, username, member_roles)
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": component["type"]}
        if values is not None:
            data["values"] = list(values)
        interaction = self._new_interaction(
            channel_id,
            user,
            attachment_size_limit,
            kind=p.INTERACTION_MESSAGE_COMPONENT,
            message_id=message_id,
            response_type=p.MESSAGE_TYPE_REPLY,
        )
        return self._interaction_create(
            interaction, user, data, member_permissions, app_permissions, locale, guild_locale
        )

    def make_autocomplete_interaction(
        self,
        name: str,
        options: Iterable[dict[str, Any]],
        *,
        focused: str,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Build (and register) an APPLICATION_COMMAND_AUTOCOMPLETE (type 4) for ``name``.

        ``options`` are what the user has typed so far (nested in ``subcommand`` as
        needed); the option named ``focused`` is flagged ``focused: true`` and its value
        sent as the partial text (a string, whatever the option's type). Other keywords are
        those of ``make_interaction``. Only callback 8 may answer; read it with ``choices_of``.
        """
        options = copy.deepcopy(list(options))
        target = next((o for o in p.leaf_options(options) if o["name"] == focused), None)
        if target is None:
            raise ValueError(f"no option {focused!r} to focus")
        target.update(focused=True, value=str(target["value"]))
        d = self.make_interaction(name, options, **kwargs)
        d["type"] = p.INTERACTION_AUTOCOMPLETE
        self._interactions[int(d["id"])].kind = p.INTERACTION_AUTOCOMPLETE
        return d

    def make_message_command_interaction(
        self,
        name: str,
        target_message_id: int,
        *,
        user_id: int | None = None,
        username: str = "alice",
        member_roles: Iterable[int] | None = None,
        member_permissions: int | None = None,
        app_permissions: int | None = None,
        attachment_size_limit: int = 10 * 1024 * 1024,
        locale: str = "en-US",
        guild_locale: str = "en-US",
    ) -> dict[str, Any]:
        """Build (and register) a right-click "Apps > ``name``" on a live message (type 3).

        ``data.target_id`` names the message and ``data.resolved.messages`` holds it, as
        discord.py expects; the interaction happens in the message's channel. Responses are
        CONTEXT_MENU_COMMAND (23) messages. Permissions default as in ``make_interaction``.
        """
        target = self.messages.get(target_message_id)
        if target is None:
            raise ValueError(f"no live message {target_message_id}")
        channel_id = int(target["channel_id"])
        user = self._invoker(user_id, username, member_roles)
        command_id, command_guild_id = self._command_ref(name, p.MESSAGE_COMMAND)
        data: dict[str, Any] = {
            "id": str(command_id),
            "name": name,
            "type": p.MESSAGE_COMMAND,
            "target_id": target["id"],
            "resolved": {"messages": {target["id"]: copy.deepcopy(target)}},
        }
        if command_guild_id is not None:
            data["guild_id"] = str(command_guild_id)
        interaction = self._new_interaction(
            channel_id,
            user,
            attachment_size_limit,
            response_type=p.MESSAGE_TYPE_CONTEXT_MENU_COMMAND,
        )
        return self._interaction_create(
            interaction, user, data, member_permissions, app_permissions, locale, guild_locale
        )

    def make_modal_submit_interaction(
        self,
        interaction: dict[str, Any],
        values: dict[str, p.ModalValue],
        *,
        username: str = "alice",
        member_permissions: int | None = None,
        app_permissions: int | None = None,
        attachment_size_limit: int = 10 * 1024 * 1024,
        locale: str = "en-US",
        guild_locale: str = "en-US",
    ) -> dict[str, Any]:
        """Build (and register) the MODAL_SUBMIT (type 5) of the modal ``interaction`` opened.

        ``values`` maps input ``custom_id`` to the text typed (a list of values for selects,
        of ``add_attachment`` objects for file uploads); inputs left out submit their
        prefilled value. ``data.components`` mirror the modal as Discord sends them (see
        ``discord_payloads.modal_submit_components``, which raises ``ValueError`` for what
        the client would not submit). Opened from a component, the submit carries the
        component's ``message`` and may also be answered with callbacks 6 and 7.
        """
        opener = self._interactions.get(int(interaction["id"]))
        if opener is None or opener.modal is None:
            raise ValueError("that interaction was not answered with a modal")
        modal = opener.modal
        data: dict[str, Any] = {
            "custom_id": modal["custom_id"],
            "components": p.modal_submit_components(modal["components"], values),
        }
        uploads = p.modal_attachments(values)
        if uploads:
            data["resolved"] = {"attachments": {a["id"]: a for a in uploads}}
        user = self._invoker(opener.user_id, username, None)
        submit = self._new_interaction(
            opener.channel_id,
            user,
            attachment_size_limit,
            kind=p.INTERACTION_MODAL_SUBMIT,
            message_id=opener.message_id,
            response_type=opener.response_type,
            opened_by=opener,
        )
        return self._interaction_create(
            submit, user, data, member_permissions, app_permissions, locale, guild_locale
        )

    # Option builders (pure; ``make_interaction`` fills ``data.resolved`` for them).
    option = staticmethod(p.option)
    subcommand = staticmethod(p.subcommand)

    @staticmethod
    def string_option(name: str, value: str) -> dict[str, Any]:
        """A STRING (3) option."""
        return p.option(name, p.STRING, value)

    @staticmethod
    def integer_option(name: str, value: int) -> dict[str, Any]:
        """An INTEGER (4) option."""
        return p.option(name, p.INTEGER, value)

    @staticmethod
    def boolean_option(name: str, value: bool) -> dict[str, Any]:
        """A BOOLEAN (5) option."""
        return p.option(name, p.BOOLEAN, value)

    @staticmethod
    def user_option(name: str, user_id: int) -> dict[str, Any]:
        """A USER (6) option (resolved to the user, plus the member if in the guild)."""
        return p.option(name, p.USER, user_id)

    @staticmethod
    def channel_option(name: str, channel_id: int) -> dict[str, Any]:
        """A CHANNEL (7) option (resolved with the invoker's permissions in that channel)."""
        return p.option(name, p.CHANNEL, channel_id)

    @staticmethod
    def role_option(name: str, role_id: int) -> dict[str, Any]:
        """A ROLE (8) option."""
        return p.option(name, p.ROLE, role_id)

    @staticmethod
    def mentionable_option(name: str, target_id: int) -> dict[str, Any]:
        """A MENTIONABLE (9) option: a user or role id."""
        return p.option(name, p.MENTIONABLE, target_id)

    @staticmethod
    def attachment_option(name: str, attachment: dict[str, Any]) -> dict[str, Any]:
        """An ATTACHMENT (11) option for an ``add_attachment`` object."""
        return p.option(name, p.ATTACHMENT, attachment["id"])

    def _invoker(
        self, user_id: int | None, username: str, member_roles: Iterable[int] | None
    ) -> dict[str, Any]:
        """The invoking user, made a guild member (with ``member_roles`` if given)."""
        user_id = user_id or snowflake()
        user = self._users.setdefault(user_id, p.user_object(user_id, username))
        if member_roles is not None:
            self.set_roles(user_id, member_roles)
        else:
            self._member_roles.setdefault(user_id, [])
        return user

    def _invoker_member(
        self, user: dict[str, Any], channel_id: int, permissions: int | None
    ) -> dict[str, Any]:
        user_id = int(user["id"])
        if permissions is None:
            permissions = self.permissions_in(channel_id, user_id)
        return p.member_object(
            user, permissions=permissions, roles=self._member_roles.get(user_id, [])
        )

    def _app_permissions(self, channel_id: int, given: int | None) -> int:
        if given is not None:
            return given
        return self.bot_permissions(channel_id) | p.ATTACH_FILES | p.EMBED_LINKS

    def _resolve_options(
        self,
        options: list[dict[str, Any]],
        attachments: list[dict[str, Any]],
        channel_id: int,
        invoker: dict[str, Any],
    ) -> dict[str, dict[str, Any]]:
        """Build ``data.resolved`` for the object options in ``options``.

        Members and channels carry computed permissions: a member's in the invoking
        channel, a channel's for the invoking user (as Discord does).
        """
        resolved: dict[str, dict[str, Any]] = {
            "users": {},
            "members": {},
            "roles": {},
            "channels": {},
            "attachments": {a["id"]: a for a in attachments},
        }
        for opt in p.leaf_options(options):
            kind, ref = opt["type"], str(opt.get("value"))
            if kind == p.MENTIONABLE:
                kind = p.ROLE if int(ref) in self._roles else p.USER
            if kind == p.USER:
                self._resolve_user(resolved, int(ref), channel_id)
            elif kind == p.ROLE:
                resolved["roles"][ref] = self._known(self._roles, int(ref), "role")
            elif kind == p.CHANNEL:
                channel = self._known(self._channels, int(ref), "channel")
                perms = self.permissions_in(int(ref), int(invoker["id"]))
                resolved["channels"][ref] = p.resolved_channel(channel, perms)
            elif kind == p.ATTACHMENT and ref not in resolved["attachments"]:
                resolved["attachments"][ref] = self._known(
                    self._attachment_objects, ref, "attachment"
                )
        return resolved

    def _resolve_user(
        self, resolved: dict[str, dict[str, Any]], user_id: int, channel_id: int
    ) -> None:
        resolved["users"][str(user_id)] = self._known(self._users, user_id, "user")
        if user_id in self._member_roles:
            member = p.member_object(self._users[user_id], roles=self._member_roles[user_id])
            resolved["members"][str(user_id)] = p.resolved_member(
                member, self.permissions_in(channel_id, user_id)
            )

    @staticmethod
    def _known(table: dict[Any, dict[str, Any]], key: Any, what: str) -> dict[str, Any]:
        if key not in table:
            raise ValueError(f"unknown {what} {key}: add it to the fake first")
        return table[key]

    def _new_interaction(
        self, channel_id: int, user: dict[str, Any], attachment_size_limit: int, **kw: Any
    ) -> _Interaction:
        """Register a new interaction by `user` in the channel (`kw`: its kind, message…)."""
        return self._register(
            _Interaction(
                id=snowflake(),
                token=secrets.token_urlsafe(96),
                channel_id=channel_id,
                attachment_size_limit=attachment_size_limit,
                user_id=int(user["id"]),
                **kw,
            )
        )

    def _interaction_create(
        self,
        interaction: _Interaction,
        user: dict[str, Any],
        data: dict[str, Any],
        member_permissions: int | None,
        app_permissions: int | None,
        locale: str,
        guild_locale: str,
    ) -> dict[str, Any]:
        """The INTERACTION_CREATE ``d`` of a registered interaction, with the message its
        component or modal was on (if any)."""
        channel_id = interaction.channel_id
        message = self.messages.get(interaction.message_id or 0)
        return p.interaction_create(
            interaction_id=interaction.id,
            application_id=self._application_id,
            token=interaction.token,
            guild_id=self._guild_id,
            channel=dict(self._channels[channel_id]),
            member=self._invoker_member(user, channel_id, member_permissions),
            app_permissions=self._app_permissions(channel_id, app_permissions),
            data=data,
            attachment_size_limit=interaction.attachment_size_limit,
            locale=locale,
            guild_locale=guild_locale,
            interaction_type=interaction.kind,
            message=copy.deepcopy(message) if message is not None else None,
        )

    def _register(self, interaction: _Interaction) -> _Interaction:
        self._interactions[interaction.id] = interaction
        self._by_token[interaction.token] = interaction
        return interaction

    @staticmethod
    def token_of(interaction: dict[str, Any]) -> str:
        """The interaction token of an INTERACTION_CREATE ``d``."""
        return str(interaction["token"])

    async def send_interaction(self, d: dict[str, Any]) -> dict[str, Any]:
        """Dispatch INTERACTION_CREATE (waiting up to 10 s for a live session).

        The 3 s ack clock starts when the event is sent.
        """
        async with asyncio.timeout(10.0):
            await self.connected.wait()
        interaction = self._interactions.get(int(d["id"]))
        if interaction is None:  # hand-built payload: register it
            message = d.get("message")
            interaction = self._register(
                _Interaction(
                    id=int(d["id"]),
                    token=d["token"],
                    channel_id=int(d["channel"]["id"]),
                    attachment_size_limit=int(d["attachment_size_limit"]),
                    kind=int(d["type"]),
                    user_id=int(d["member"]["user"]["id"]) if "member" in d else None,
                    message_id=int(message["id"]) if message else None,
                    response_type=p.MESSAGE_TYPE_REPLY
                    if message
                    else p.MESSAGE_TYPE_CHAT_INPUT_COMMAND,
                )
            )
        interaction.sent_at = time.monotonic()
        await self._dispatch("INTERACTION_CREATE", d)
        return d

    async def push_guild_update(self) -> None:
        """Announce setup changes made after the bot connected, as Discord's events would.

        Dispatches GUILD_ROLE_CREATE/UPDATE for every role, CHANNEL_CREATE/UPDATE for every
        guild text channel (overwrites included) and GUILD_MEMBER_UPDATE for every member.
        """
        async with asyncio.timeout(10.0):
            await self.connected.wait()
        guild_id = str(self._guild_id)
        for role_id, role in self._roles.items():
            event = "GUILD_ROLE_UPDATE" if role_id in self._announced else "GUILD_ROLE_CREATE"
            await self._dispatch(event, {"guild_id": guild_id, "role": dict(role)})
        for channel_id, channel in self._channels.items():
            if channel["type"] != 0 or channel_id in self._deleted_channels:
                continue
            event = "CHANNEL_UPDATE" if channel_id in self._announced else "CHANNEL_CREATE"
            await self._dispatch(event, copy.deepcopy(channel))
        for user_id, roles in self._member_roles.items():
            member = p.member_object(
                self._users[user_id],
                roles=roles,
                joined_at=self._bot_joined_at if user_id == self._bot_user_id else None,
            )
            await self._dispatch("GUILD_MEMBER_UPDATE", {"guild_id": guild_id, **member})
        self._announced = set(self._roles) | set(self._channels)

    async def disconnect_gateway(self, code: int = 4000) -> None:
        """Close the live gateway socket with ``code`` (4000 lets dpy RESUME)."""
        conn = self._conn
        if conn is None:
            raise RuntimeError("no live gateway connection")
        self._conn = None
        self.connected.clear()
        await conn.ws.close(code=code, message=b"fake disconnect")

    # ------------------------------------------------------------------ inspection

    def requests_to(self, method: str, path_regex: str) -> list[RecordedRequest]:
        """Recorded requests whose method matches ("*" = any) and whole path matches."""
        pattern = re.compile(path_regex)
        return [r for r in self.requests if method in ("*", r.method) and pattern.fullmatch(r.path)]

    def channel_messages(self, channel_id: int | None = None) -> list[dict[str, Any]]:
        """Live messages (any origin) in one channel, or in all channels, oldest first."""
        return [
            m
            for m in self.messages.values()
            if channel_id is None or int(m["channel_id"]) == channel_id
        ]

    def upload_of(self, attachment: dict[str, Any] | int | str) -> RecordedFile:
        """The uploaded file behind a stored message attachment (object or id)."""
        attachment_id = int(attachment["id"] if isinstance(attachment, dict) else attachment)
        return self._uploads[attachment_id]

    def original_response(self, interaction: dict[str, Any]) -> dict[str, Any] | None:
        """The live original response message of an INTERACTION_CREATE ``d``, if any."""
        registered = self._interactions.get(int(interaction["id"]))
        if registered is None or registered.original_id is None:
            return None
        return self.messages.get(registered.original_id)

    def choices_of(self, interaction: dict[str, Any]) -> list[dict[str, Any]] | None:
        """The autocomplete choices the bot answered an autocomplete interaction with."""
        registered = self._interactions.get(int(interaction["id"]))
        return registered.choices if registered is not None else None

    def modal_of(self, interaction: dict[str, Any]) -> dict[str, Any] | None:
        """The modal (``custom_id``, ``title``, numbered ``components``) the bot answered with."""
        registered = self._interactions.get(int(interaction["id"]))
        return registered.modal if registered is not None else None

    @staticmethod
    def buttons_of(message: dict[str, Any]) -> list[dict[str, Any]]:
        """Every button on a message dict (see ``discord_payloads.buttons_of``)."""
        return p.buttons_of(message)

    def callbacks(self) -> list[RecordedRequest]:
        """Recorded interaction callback requests."""
        return self.requests_to("POST", r"/interactions/\d+/[^/]+/callback")

    def webhook_edits(self) -> list[RecordedRequest]:
        """Recorded PATCHes of interaction/webhook messages (incl. @original)."""
        return self.requests_to("PATCH", r"/webhooks/\d+/[^/]+/messages/[^/]+")

    async def wait_for_request(
        self,
        predicate: Callable[[RecordedRequest], bool],
        timeout: float = 10.0,  # noqa: ASYNC109 - part of the fake's public API
    ) -> RecordedRequest:
        """Return the first recorded request matching ``predicate``, waiting if needed."""

        async def _wait() -> RecordedRequest:
            async with self._cond:
                return await self._cond.wait_for(
                    lambda: next((r for r in self.requests if predicate(r)), None)
                )

        try:
            return await asyncio.wait_for(_wait(), timeout)
        except TimeoutError:
            recent = "\n".join(f"  {r.method} {r.path} -> {r.status}" for r in self.requests[-20:])
            raise TimeoutError(
                f"no matching request within {timeout}s; last requests:\n{recent or '  (none)'}"
            ) from None

    # ------------------------------------------------------------------ HTTP plumbing

    def _build_routes(self) -> list[_Route]:
        def r(method: str, regex: str, handler: Handler, **kw: Any) -> _Route:
            return _Route(method, re.compile(regex), handler, **kw)

        hook = r"/webhooks/(?P<app>\d+)/(?P<token>[^/]+)"
        wh_msg = "/webhooks/{webhook_id}/{webhook_token}/messages/"
        return [
            r("GET", r"/users/@me", self._get_me),
            r("GET", r"/users/(?P<uid>\d+)", self._get_user),
            r("POST", r"/users/@me/channels", self._create_dm),
            r("GET", r"/oauth2/applications/@me", self._get_application),
            r("GET", r"/gateway", self._get_gateway, auth=False),
            r("GET", r"/gateway/bot", self._get_gateway_bot),
            r(
                "PUT",
                r"/applications/(?P<app>\d+)/commands",
                self._put_commands,
                spec_path="/applications/{application_id}/commands",
            ),
            r("GET", r"/applications/(?P<app>\d+)/commands", self._get_commands),
            r(
                "PUT",
                r"/applications/(?P<app>\d+)/guilds/(?P<gid>\d+)/commands",
                self._put_commands,
                spec_path="/applications/{application_id}/guilds/{guild_id}/commands",
            ),
            r(
                "GET",
                r"/applications/(?P<app>\d+)/guilds/(?P<gid>\d+)/commands",
                self._get_commands,
            ),
            r(
                "POST",
                r"/interactions/(?P<iid>\d+)/(?P<token>[^/]+)/callback",
                self._interaction_callback,
                auth=False,
                spec_path=CALLBACK_SPEC_PATH,
            ),
            r(
                "POST",
                hook,
                self._execute_webhook,
                auth=False,
                spec_path="/webhooks/{webhook_id}/{webhook_token}",
            ),
            r("GET", hook + r"/messages/(?P<mid>@original|\d+)", self._get_wh_msg, auth=False),
            r(
                "PATCH",
                hook + r"/messages/(?P<mid>@original)",
                self._edit_wh_msg,
                auth=False,
                spec_path=wh_msg + "@original",
            ),
            r(
                "PATCH",
                hook + r"/messages/(?P<mid>\d+)",
                self._edit_wh_msg,
                auth=False,
                spec_path=wh_msg + "{message_id}",
            ),
            r(
                "DELETE",
                hook + r"/messages/(?P<mid>@original|\d+)",
                self._delete_wh_msg,
                auth=False,
            ),
            r("GET", r"/channels/(?P<cid>\d+)", self._get_channel),
            r(
                "POST",
                r"/channels/(?P<cid>\d+)/messages",
                self._create_channel_message,
                spec_path="/channels/{channel_id}/messages",
            ),
            r("GET", r"/channels/(?P<cid>\d+)/messages/(?P<mid>\d+)", self._get_channel_message),
            r(
                "PATCH",
                r"/channels/(?P<cid>\d+)/messages/(?P<mid>\d+)",
                self._edit_channel_message,
                spec_path="/channels/{channel_id}/messages/{message_id}",
            ),
            r(
                "DELETE",
                r"/channels/(?P<cid>\d+)/messages/(?P<mid>\d+)",
                self._delete_channel_message,
            ),
            r(
                "GET",
                CDN_PREFIX
                + r"/(?:attachments/(?P<cid>\d+)|external|origin)/(?P<aid>\d+)/(?P<filename>[^/]+)",
                self._cdn_get,
                auth=False,
                api=False,
            ),
        ]

    def _match(
        self, method: str, path: str, api: bool
    ) -> tuple[_Route | None, re.Match[str] | None, bool]:
        """Return (route, match, path_known) for a request."""
        path_known = False
        for route in self._routes:
            if route.api != api:
                continue
            m = route.pattern.fullmatch(path)
            if m is None:
                continue
            path_known = True
            if route.method == method:
                return route, m, True
        return None, None, path_known

    async def _record(self, record: RecordedRequest) -> None:
        async with self._cond:
            self.requests.append(record)
            self._cond.notify_all()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        """Single entry point for REST and CDN: parse, record, validate, route."""
        api = request.path.startswith(API_PREFIX + "/")
        path = request.path.removeprefix(API_PREFIX) if api else request.path
        record = RecordedRequest(
            method=request.method,
            path=path,
            query=dict(request.query),
            headers=dict(request.headers),
            json=None,
            files=[],
            status=0,
            at=time.monotonic(),
        )
        try:
            await self._read_body(request, record)
            route, match, path_known = self._match(request.method, path, api)
            if route is not None and route.spec_path is not None:
                for error in self._schemas.validate(route.method, route.spec_path, record.json):
                    self.violations.append(f"{request.method} {path}: {error}")
            response = self._injected_fault(request.method, path)
            if response is None:
                if route is None or match is None:
                    if path_known:
                        raise DiscordError(405, 0, "405: Method Not Allowed")
                    raise _not_found()
                if route.auth and request.headers.get("Authorization") != f"Bot {self.token}":
                    raise DiscordError(401, 0, "401: Unauthorized")
                response = await route.handler(_Call(request, match, record))
        except DiscordError as exc:
            response = json_response(exc.body, status=exc.status)
            record.response = exc.body
        except ConnectionResetError:
            # The client hung up mid-request (say, the bot was stopped during an upload): it
            # breaks no rule of the API, and the answer has no one to reach.
            return web.Response(status=400)
        except Exception as exc:  # a bug in the fake: answer 500 and make tests notice
            _log.exception("fake Discord failed on %s %s", request.method, path)
            self.violations.append(f"{request.method} {path}: FAKE SERVER ERROR {exc!r}")
            record.response = {"code": 0, "message": "500: Internal Server Error"}
            response = json_response(record.response, status=500)
        record.status = response.status
        await self._record(record)
        return response

    async def _read_body(self, request: web.Request, record: RecordedRequest) -> None:
        """Parse a JSON or multipart body into ``record`` (file parts are streamed)."""
        if request.content_type == "multipart/form-data":
            reader = await request.multipart()
            async for part in reader:
                if not isinstance(part, BodyPartReader):
                    continue
                if part.name == "payload_json" and part.filename is None:
                    record.json = self._parse_json(await part.text())
                elif part.filename is not None or (part.name or "").startswith("files["):
                    record.files.append(await self._stream_file(part, self.keep_file_bytes))
            return
        raw = await request.read()
        if raw and request.content_type == "application/json":
            record.json = self._parse_json(raw.decode())

    @staticmethod
    def _parse_json(text: str) -> Any:
        try:
            return json.loads(text)
        except ValueError:
            raise DiscordError(400, 50109, "The request body contains invalid JSON.") from None

    @staticmethod
    async def _stream_file(part: BodyPartReader, keep: int) -> RecordedFile:
        digest = hashlib.sha256()
        size = 0
        kept: bytearray | None = bytearray()
        head = b""
        while chunk := await part.read_chunk(CHUNK):
            digest.update(chunk)
            size += len(chunk)
            if len(head) < HEAD_BYTES:
                head += chunk[: HEAD_BYTES - len(head)]
            if kept is not None:
                kept += chunk
                if len(kept) > keep:
                    kept = None
        return RecordedFile(
            part.name or "",
            part.filename,
            size,
            digest.hexdigest(),
            head,
            content_type=part.headers.get("Content-Type"),
            data=bytes(kept) if kept is not None else None,
        )

    def _injected_fault(self, method: str, path: str) -> web.Response | None:
        if (
            self.random_fault_rate > 0
            and self.random_fault_paths.fullmatch(path)
            and self.random.random() < self.random_fault_rate
        ):
            status = self.random.choice(self.random_fault_statuses)
            return json_response({"code": 0, "message": f"{status}: injected"}, status=status)
        for fault in self._faults:
            if fault.method in ("*", method) and fault.pattern.fullmatch(path):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
                return json_response(fault.body, status=fault.status, headers=fault.headers)
        return None

    @staticmethod
    def _ok(call: _Call, data: Any, status: int = 200) -> web.Response:
        call.record.response = data
        return json_response(data, status=status)

    @staticmethod
    def _check_upload(call: _Call, limit: int) -> None:
        if any(f.size > limit for f in call.files):
            raise DiscordError(413, 40005, "Request entity too large")

    # ------------------------------------------------------------------ users / app / gateway

    def _me(self) -> dict[str, Any]:
        return {**self._bot_user, "verified": True, "mfa_enabled": False, "flags": 0}

    async def _get_me(self, call: _Call) -> web.Response:
        return self._ok(call, self._me())

    async def _get_user(self, call: _Call) -> web.Response:
        user = self._users.get(call.int_param("uid"))
        if user is None:
            raise DiscordError(404, 10013, "Unknown User")
        return self._ok(call, user)

    async def _get_application(self, call: _Call) -> web.Response:
        owner = self._users[self._owner_id]
        return self._ok(call, p.application_object(self._application_id, owner, self._bot_user))

    async def _get_gateway(self, call: _Call) -> web.Response:
        return self._ok(call, {"url": self.gateway_url})

    async def _get_gateway_bot(self, call: _Call) -> web.Response:
        limit = {"total": 1000, "remaining": 999, "reset_after": 14_400_000, "max_concurrency": 1}
        return self._ok(call, {"url": self.gateway_url, "shards": 1, "session_start_limit": limit})

    async def _create_dm(self, call: _Call) -> web.Response:
        recipient_id = int((call.body or {}).get("recipient_id", 0))
        recipient = self._users.get(recipient_id)
        if recipient is None:
            raise DiscordError(400, 50033, "Invalid Recipient(s)")
        for channel in self._channels.values():
            if channel["type"] == 1 and channel["recipients"][0]["id"] == recipient["id"]:
                return self._ok(call, channel)
        channel_id = snowflake()
        self._channels[channel_id] = p.dm_channel(channel_id, recipient)
        return self._ok(call, self._channels[channel_id])

    # ------------------------------------------------------------------ application commands

    def _command_ref(
        self, name: str, command_type: int = p.CHAT_INPUT_COMMAND
    ) -> tuple[int, int | None]:
        """(command id, guild id or None) of a registered command, else a fresh id."""
        for scope in (self._guild_id, None):
            for cmd in self._commands.get(scope, []):
                if cmd["name"] == name and cmd.get("type", 1) == command_type:
                    return int(cmd["id"]), scope
        return snowflake(), None

    def _scope(self, call: _Call) -> int | None:
        if call.int_param("app") != self._application_id:
            raise DiscordError(403, 50001, "Missing Access")
        gid = call.match.groupdict().get("gid")
        if gid is not None and int(gid) != self._guild_id:
            raise DiscordError(403, 50001, "Missing Access")
        return int(gid) if gid is not None else None

    async def _put_commands(self, call: _Call) -> web.Response:
        scope = self._scope(call)
        if not isinstance(call.body, list):
            raise DiscordError(400, 50035, "Invalid Form Body")
        old_ids = {(c["name"], c.get("type", 1)): c["id"] for c in self._commands.get(scope, [])}
        echoed = []
        for cmd in call.body:
            if cmd.get("type") in (2, 3) and (cmd.get("description") or cmd.get("options")):
                # User and message commands take neither (docs application-commands.mdx).
                raise DiscordError(400, 50035, "Invalid Form Body")
            if bad := p.unknown_locales(cmd):
                self.violations.extend(f"PUT {call.record.path}: not a locale: {b}" for b in bad)
                raise DiscordError(400, 50035, "Invalid Form Body")
            out = {
                "type": 1,
                "description": "",
                "options": [],
                "nsfw": False,
                "default_member_permissions": None,
                **cmd,
            }
            perms = out["default_member_permissions"]
            out["default_member_permissions"] = None if perms is None else str(perms)
            out["id"] = old_ids.get((out["name"], out["type"])) or str(snowflake())
            out["application_id"] = str(self._application_id)
            out["version"] = str(snowflake())
            if scope is not None:
                out["guild_id"] = str(scope)
            echoed.append(out)
        self._commands[scope] = echoed
        self._last_command_scope = scope
        return self._ok(call, echoed)

    async def _get_commands(self, call: _Call) -> web.Response:
        return self._ok(call, self._commands.get(self._scope(call), []))

    # ------------------------------------------------------------------ messages

    def _build_attachments(
        self,
        channel_id: int,
        body: dict[str, Any],
        files: list[RecordedFile],
        existing: list[dict[str, Any]],
    ) -> list[dict[str, Any]]:
        """Resolve ``attachments`` (kept ids + ``files[n]`` references) like Discord does."""
        uploads = {f.field: f for f in files}
        used: set[str] = set()
        result: list[dict[str, Any]] = []
        entries = body.get("attachments")
        if entries is None:
            result = list(existing)
            entries = []
        kept = {a["id"]: a for a in existing}
        for entry in entries:
            ref = str(entry.get("id"))
            if ref in kept:
                result.append(kept[ref])
            elif (upload := uploads.get(f"files[{ref}]")) is not None:
                result.append(self._uploaded(channel_id, upload, entry))
                used.add(upload.field)
        result.extend(self._uploaded(channel_id, f, {}) for f in files if f.field not in used)
        return result

    def _uploaded(
        self, channel_id: int, upload: RecordedFile, entry: dict[str, Any]
    ) -> dict[str, Any]:
        attachment_id = snowflake()
        filename = entry.get("filename") or upload.filename or "unknown"
        content_type = mimetypes.guess_type(filename)[0]
        self._uploads[attachment_id] = upload
        if upload.data is not None:
            url = self._cdn_put(attachment_id, filename, upload.data, content_type, channel_id)
        else:  # not kept: the URL has the right shape but the CDN answers 404
            url = f"{self.cdn_base}/attachments/{channel_id}/{attachment_id}/{filename}"
        return p.attachment_object(
            attachment_id=attachment_id,
            filename=filename,
            size=upload.size,
            url=url,
            content_type=content_type,
            description=entry.get("description"),
        )

    def _forget_message(self, message: dict[str, Any]) -> None:
        """Delete a message; its attachments leave the CDN with it."""
        del self.messages[int(message["id"])]
        for attachment in message["attachments"]:
            self._cdn.pop(int(attachment["id"]), None)

    def _new_message(
        self,
        *,
        channel_id: int,
        body: dict[str, Any],
        files: list[RecordedFile],
        default_parse: frozenset[str],
        message_type: int = p.MESSAGE_TYPE_DEFAULT,
        extra_flags: int = 0,
        webhook: bool = False,
        interaction: _Interaction | None = None,
    ) -> dict[str, Any]:
        content = body.get("content") or ""
        mentions, mention_roles, everyone = p.resolve_mentions(
            content,
            body.get("allowed_mentions"),
            default_parse=default_parse,
            known_users=self._users,
        )
        channel = self._channels.get(channel_id, {})
        message = p.message_object(
            message_id=snowflake(),
            channel_id=channel_id,
            guild_id=int(channel["guild_id"]) if channel.get("guild_id") else None,
            author=self._bot_user,
            content=content,
            embeds=body.get("embeds"),
            attachments=self._build_attachments(channel_id, body, files, []),
            components=p.numbered_components(body.get("components")),
            flags=(body.get("flags") or 0) | extra_flags,
            message_type=message_type,
            tts=bool(body.get("tts")),
            nonce=body.get("nonce"),
            mentions=mentions,
            mention_roles=mention_roles,
            mention_everyone=everyone,
            webhook_id=self._application_id if webhook else None,
            application_id=self._application_id if webhook else None,
            message_reference=self._reference_to(interaction),
            interaction_metadata=self._interaction_metadata(interaction),
        )
        self.messages[int(message["id"])] = message
        return message

    def _reference_to(self, interaction: _Interaction | None) -> dict[str, Any] | None:
        """A component's response replies to the message the component is on."""
        if interaction is None or interaction.message_id is None:
            return None
        return {
            "type": 0,
            "message_id": str(interaction.message_id),
            "channel_id": str(interaction.channel_id),
            "guild_id": str(self._guild_id),
        }

    def _interaction_metadata(self, interaction: _Interaction | None) -> dict[str, Any] | None:
        """``interaction_metadata`` of a message created by an interaction response/followup."""
        if interaction is None or interaction.user_id not in self._users:
            return None
        meta: dict[str, Any] = {
            "id": str(interaction.id),
            "type": interaction.kind,
            "user": self._users[interaction.user_id],
            "authorizing_integration_owners": {"0": str(self._guild_id)},
        }
        if interaction.original_id is not None:
            meta["original_response_message_id"] = str(interaction.original_id)
        if interaction.opened_by is not None:
            meta["triggering_interaction_metadata"] = self._interaction_metadata(
                interaction.opened_by
            )
        elif interaction.message_id is not None:
            meta["interacted_message_id"] = str(interaction.message_id)
        return meta

    def _edit_message(
        self,
        message: dict[str, Any],
        body: dict[str, Any],
        files: list[RecordedFile],
        default_parse: frozenset[str],
    ) -> dict[str, Any]:
        was_loading = bool(message["flags"] & p.FLAG_LOADING)
        for key in ("content", "embeds", "components"):
            if key in body:
                message[key] = (
                    body[key] if body[key] is not None else ([] if key != "content" else "")
                )
        message["components"] = p.numbered_components(message["components"])
        if "flags" in body and body["flags"] is not None:
            # EPHEMERAL cannot be changed by an edit.
            message["flags"] = (body["flags"] & ~p.FLAG_EPHEMERAL) | (
                message["flags"] & p.FLAG_EPHEMERAL
            )
        message["flags"] &= ~p.FLAG_LOADING
        before = {a["id"] for a in message["attachments"]}
        message["attachments"] = self._build_attachments(
            int(message["channel_id"]), body, files, message["attachments"]
        )
        for dropped in before - {a["id"] for a in message["attachments"]}:
            self._cdn.pop(int(dropped), None)  # an attachment an edit drops is deleted
        # An edit without allowed_mentions re-parses with the defaults (docs message.mdx).
        mentions, roles, everyone = p.resolve_mentions(
            message["content"],
            body.get("allowed_mentions"),
            default_parse=default_parse,
            known_users=self._users,
        )
        message.update(mentions=mentions, mention_roles=roles, mention_everyone=everyone)
        if not was_loading:
            message["edited_timestamp"] = p.now_iso()
        return message

    @staticmethod
    def _is_empty(message: dict[str, Any]) -> bool:
        return not (
            message["content"]
            or message["embeds"]
            or message["attachments"]
            or message["components"]
        )

    # ------------------------------------------------------------------ channels

    def _live_channel(self, call: _Call) -> int:
        """A channel the bot can see: 404/10003 if gone, 403/50001 without VIEW_CHANNEL."""
        channel_id = call.int_param("cid")
        if channel_id in self._deleted_channels or channel_id not in self._channels:
            raise DiscordError(404, 10003, "Unknown Channel")
        if not self.bot_permissions(channel_id) & p.VIEW_CHANNEL:
            raise DiscordError(403, 50001, "Missing Access")
        return channel_id

    def _require(self, channel_id: int, needed: int) -> None:
        if self.bot_permissions(channel_id) & needed != needed:
            raise DiscordError(403, 50013, "Missing Permissions")

    def _channel_message(self, call: _Call) -> dict[str, Any]:
        channel_id = self._live_channel(call)
        message = self.messages.get(call.int_param("mid"))
        if message is None or int(message["channel_id"]) != channel_id:
            raise _unknown_message()
        return message

    async def _get_channel(self, call: _Call) -> web.Response:
        return self._ok(call, self._channels[self._live_channel(call)])

    async def _create_channel_message(self, call: _Call) -> web.Response:
        channel_id = self._live_channel(call)
        body = call.body or {}
        self._require(channel_id, p.SEND_MESSAGES)
        if call.files:
            self._require(channel_id, p.ATTACH_FILES)
        if body.get("embeds"):
            self._require(channel_id, p.EMBED_LINKS)
        self._check_upload(call, self.upload_limit_bytes)
        nonce = body.get("nonce")
        now = time.monotonic()
        if nonce is not None and body.get("enforce_nonce"):
            seen = self._nonces.get((channel_id, str(nonce)))
            if (
                seen is not None
                and now - seen[1] <= self.nonce_window_s
                and seen[0] in self.messages
            ):
                return self._ok(call, self.messages[seen[0]])
        if not (
            body.get("content")
            or body.get("embeds")
            or call.files
            or body.get("components")
            or body.get("sticker_ids")
            or body.get("poll")
        ):
            raise DiscordError(400, 50006, "Cannot send an empty message")
        message = self._new_message(
            channel_id=channel_id, body=body, files=call.files, default_parse=PARSE_ALL
        )
        if nonce is not None:
            self._nonces[(channel_id, str(nonce))] = (int(message["id"]), now)
        return self._ok(call, message)

    async def _get_channel_message(self, call: _Call) -> web.Response:
        return self._ok(call, self._channel_message(call))

    async def _edit_channel_message(self, call: _Call) -> web.Response:
        message = self._channel_message(call)
        if call.files:
            self._require(int(message["channel_id"]), p.ATTACH_FILES)
        self._check_upload(call, self.upload_limit_bytes)
        return self._ok(call, self._edit_message(message, call.body or {}, call.files, PARSE_ALL))

    async def _delete_channel_message(self, call: _Call) -> web.Response:
        self._forget_message(self._channel_message(call))
        return web.Response(status=204)

    # ------------------------------------------------------------------ interactions / webhooks

    async def _interaction_callback(self, call: _Call) -> web.Response:
        interaction = self._interactions.get(call.int_param("iid"))
        if (
            interaction is None
            or interaction.token != call.match["token"]
            or interaction.sent_at is None
        ):
            raise DiscordError(404, 10062, "Unknown interaction")
        if interaction.acked:
            raise DiscordError(400, 40060, "Interaction has already been acknowledged.")
        if time.monotonic() - interaction.sent_at > self.ack_deadline_s:
            raise DiscordError(404, 10062, "Unknown interaction")
        self._check_upload(call, interaction.attachment_size_limit)
        body = call.body or {}
        callback_type = int(body.get("type") or 0)
        if callback_type not in interaction.allowed_callbacks():
            raise DiscordError(400, 50035, "Invalid Form Body")
        data = body.get("data") or {}
        if callback_type == 9:
            return self._open_modal(call, interaction, data)
        if callback_type == 8:
            return self._autocomplete_result(call, interaction, data)
        if callback_type in (6, 7):
            message = self._update_component_message(call, interaction, callback_type, data)
        else:
            message = self._response_message(call, interaction, callback_type, data)
        interaction.acked = True
        interaction.original_id = int(message["id"])
        interaction.message_ids.add(interaction.original_id)
        if not _truthy(call.request.query.get("with_response")):
            return web.Response(status=204)
        return self._ok(call, self._callback_response(interaction, callback_type, message))

    def _open_modal(
        self, call: _Call, interaction: _Interaction, data: dict[str, Any]
    ) -> web.Response:
        """Callback 9: keep the modal (Discord refuses an invalid one with 50035)."""
        if self._schemas.validate("POST", CALLBACK_SPEC_PATH, call.body):
            raise DiscordError(400, 50035, "Invalid Form Body")
        modal = {**data, "components": p.numbered_components(data["components"])}
        components = p.iter_components(modal["components"])
        inputs = [c["custom_id"] for c in components if "custom_id" in c]
        if len(inputs) != len(set(inputs)):
            raise DiscordError(400, 50035, "Invalid Form Body")
        interaction.modal = modal
        interaction.acked = True
        return self._no_message_callback(call, interaction)

    def _autocomplete_result(
        self, call: _Call, interaction: _Interaction, data: dict[str, Any]
    ) -> web.Response:
        """Callback 8: keep the choices (at most 25, names 1-100 characters, else 50035)."""
        if self._schemas.validate("POST", CALLBACK_SPEC_PATH, call.body):
            raise DiscordError(400, 50035, "Invalid Form Body")
        interaction.choices = [c for c in data.get("choices") or [] if c is not None]
        interaction.acked = True
        return self._no_message_callback(call, interaction)

    def _no_message_callback(self, call: _Call, interaction: _Interaction) -> web.Response:
        """Answer a callback that creates no message (modal, autocomplete choices)."""
        if not _truthy(call.request.query.get("with_response")):
            return web.Response(status=204)
        summary = {"id": str(interaction.id), "type": interaction.kind}
        return self._ok(call, {"interaction": {**summary, "activity_instance_id": None}})

    def _response_message(
        self, call: _Call, interaction: _Interaction, callback_type: int, data: dict[str, Any]
    ) -> dict[str, Any]:
        """Create the message of a type 4 (message) or 5 (deferred, loading) callback."""
        if callback_type == 5:
            data = {"flags": data.get("flags") or 0}
        message = self._new_message(
            channel_id=interaction.channel_id,
            body=data,
            files=call.files if callback_type == 4 else [],
            default_parse=PARSE_USERS,
            message_type=interaction.response_type,
            extra_flags=p.FLAG_LOADING if callback_type == 5 else 0,
            webhook=True,
            interaction=interaction,
        )
        if callback_type == 4 and self._is_empty(message):
            del self.messages[int(message["id"])]
            raise DiscordError(400, 50006, "Cannot send an empty message")
        return message

    def _update_component_message(
        self, call: _Call, interaction: _Interaction, callback_type: int, data: dict[str, Any]
    ) -> dict[str, Any]:
        """Type 6 acks silently, type 7 edits the message the component is on."""
        message = self.messages.get(interaction.message_id or 0)
        if message is None:
            raise _unknown_message()
        if callback_type == 7:
            self._edit_message(message, data, call.files, PARSE_USERS)
        return message

    def _callback_response(
        self, interaction: _Interaction, callback_type: int, message: dict[str, Any]
    ) -> dict[str, Any]:
        """The ``with_response`` body (InteractionCallbackResponse in the OpenAPI spec)."""
        summary: dict[str, Any] = {
            "id": str(interaction.id),
            "type": interaction.kind,
            "activity_instance_id": None,
        }
        if callback_type != 6:
            summary.update(
                response_message_id=message["id"],
                response_message_loading=callback_type == 5,
                response_message_ephemeral=bool(message["flags"] & p.FLAG_EPHEMERAL),
            )
        out: dict[str, Any] = {"interaction": summary}
        if callback_type in (4, 7):
            out["resource"] = {"type": callback_type, "message": message}
        return out

    def _webhook_interaction(self, call: _Call) -> _Interaction:
        """Resolve the interaction behind an application webhook route, enforcing expiry."""
        if call.int_param("app") != self._application_id:
            raise DiscordError(404, 10015, "Unknown Webhook")
        token = call.match["token"]
        interaction = self._by_token.get(token)
        if token in self._expired_tokens or interaction is None or interaction.sent_at is None:
            raise _invalid_webhook_token()
        age = time.monotonic() - interaction.sent_at
        # Unacknowledged after the ack window, or older than 15 min: the token is dead (A1).
        if age > self.token_lifetime_s or (not interaction.acked and age > self.ack_deadline_s):
            raise _invalid_webhook_token()
        return interaction

    def _webhook_message(self, call: _Call, interaction: _Interaction) -> dict[str, Any]:
        ref = call.match["mid"]
        message_id = interaction.original_id if ref == "@original" else int(ref)
        if (
            message_id is None
            or message_id not in interaction.message_ids
            or message_id not in self.messages
        ):
            raise _unknown_message()
        return self.messages[message_id]

    async def _execute_webhook(self, call: _Call) -> web.Response:
        interaction = self._webhook_interaction(call)
        if not interaction.acked:
            raise DiscordError(404, 10015, "Unknown Webhook")
        self._check_upload(call, interaction.attachment_size_limit)
        body = call.body or {}
        original = self.messages.get(interaction.original_id or 0)
        if original is not None and original["flags"] & p.FLAG_LOADING:
            # Deprecated but live behaviour: the first followup after a defer edits the
            # loading message instead of creating a new one (docs receiving-and-responding).
            message = self._edit_message(original, body, call.files, PARSE_USERS)
        else:
            message = self._new_message(
                channel_id=interaction.channel_id,
                body=body,
                files=call.files,
                default_parse=PARSE_USERS,
                webhook=True,
                interaction=interaction,
            )
            if self._is_empty(message):
                del self.messages[int(message["id"])]
                raise DiscordError(400, 50006, "Cannot send an empty message")
            interaction.message_ids.add(int(message["id"]))
        if not _truthy(call.request.query.get("wait")):
            return web.Response(status=204)
        return self._ok(call, message)

    async def _get_wh_msg(self, call: _Call) -> web.Response:
        interaction = self._webhook_interaction(call)
        return self._ok(call, self._webhook_message(call, interaction))

    async def _edit_wh_msg(self, call: _Call) -> web.Response:
        interaction = self._webhook_interaction(call)
        message = self._webhook_message(call, interaction)
        self._check_upload(call, interaction.attachment_size_limit)
        return self._ok(call, self._edit_message(message, call.body or {}, call.files, PARSE_USERS))

    async def _delete_wh_msg(self, call: _Call) -> web.Response:
        interaction = self._webhook_interaction(call)
        self._forget_message(self._webhook_message(call, interaction))
        return web.Response(status=204)

    # ------------------------------------------------------------------ CDN

    async def _cdn_get(self, call: _Call) -> web.Response:
        stored = self._cdn.get(call.int_param("aid"))
        query = call.request.query
        if (
            stored is None
            or call.request.path not in stored.paths
            or (
                stored.signature is not None
                and (
                    query.get("hm") != stored.signature
                    or int(query.get("ex", "0"), 16) < time.time()
                )
            )
        ):
            return web.Response(status=404, text="This content is no longer available.")
        data = stored.data
        headers = {"Accept-Ranges": "bytes"}
        content_type = stored.content_type or "application/octet-stream"
        range_header = call.request.headers.get("Range")
        if range_header is None:
            return web.Response(body=data, content_type=content_type, headers=headers)
        m = re.fullmatch(r"bytes=(\d*)-(\d*)", range_header.strip())
        total = len(data)
        if m is None or (not m[1] and not m[2]):
            return web.Response(status=416, headers={"Content-Range": f"bytes */{total}"})
        if m[1]:
            start, end = int(m[1]), min(int(m[2]) if m[2] else total - 1, total - 1)
        else:
            start, end = max(total - int(m[2]), 0), total - 1
        if start >= total or start > end:
            return web.Response(status=416, headers={"Content-Range": f"bytes */{total}"})
        headers["Content-Range"] = f"bytes {start}-{end}/{total}"
        return web.Response(
            status=206, body=data[start : end + 1], content_type=content_type, headers=headers
        )

    # ------------------------------------------------------------------ gateway

    async def _gateway(self, request: web.Request) -> web.StreamResponse:
        """Gateway socket: HELLO, heartbeats, IDENTIFY -> READY/GUILD_CREATE, RESUME."""
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        await self._record(
            RecordedRequest(
                "GET",
                request.path,
                dict(request.query),
                dict(request.headers),
                None,
                [],
                101,
                time.monotonic(),
            )
        )
        conn = _GatewayConn(ws)
        self._sockets.add(ws)
        try:
            await self._send(
                conn, {"op": 10, "d": {"heartbeat_interval": 41250}, "s": None, "t": None}
            )
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    continue
                try:
                    payload = json.loads(msg.data)
                except ValueError:
                    await ws.close(code=4002, message=b"Error while decoding payload.")
                    break
                await self._on_gateway_payload(conn, payload)
        finally:
            self._sockets.discard(ws)
            if self._conn is conn:
                self._conn = None
                self.connected.clear()
        return ws

    async def _send(self, conn: _GatewayConn, payload: dict[str, Any]) -> None:
        async with conn.lock:
            await conn.ws.send_str(json.dumps(payload))

    async def _dispatch(
        self, event: str, d: dict[str, Any], conn: _GatewayConn | None = None
    ) -> None:
        """Send a DISPATCH with the session's next sequence number."""
        conn = conn or self._conn
        if conn is None or conn.session is None:
            raise RuntimeError("no live gateway session")
        async with conn.lock:
            conn.session.seq += 1
            payload = {"op": 0, "t": event, "s": conn.session.seq, "d": d}
            await conn.ws.send_str(json.dumps(payload))

    async def _on_gateway_payload(self, conn: _GatewayConn, payload: dict[str, Any]) -> None:
        op, d = payload.get("op"), payload.get("d")
        if op == 1:
            await self._send(conn, {"op": 11, "d": None, "s": None, "t": None})
        elif op == 2:
            await self._identify(conn, d or {})
        elif op == 6:
            await self._resume(conn, d or {})
        elif op == 8:
            members = [self._bot_member()]
            chunk = {
                "guild_id": str(self._guild_id),
                "members": members,
                "chunk_index": 0,
                "chunk_count": 1,
                "not_found": [],
                "presences": [],
            }
            if (d or {}).get("nonce") is not None:
                chunk["nonce"] = d["nonce"]
            await self._dispatch("GUILD_MEMBERS_CHUNK", chunk, conn)
        elif op not in (3, 4):
            await conn.ws.close(code=4001, message=b"Unknown opcode.")

    async def _identify(self, conn: _GatewayConn, d: dict[str, Any]) -> None:
        if d.get("token") != self.token:
            await conn.ws.close(code=4004, message=b"Authentication failed.")
            return
        if conn.session is not None:
            await conn.ws.close(code=4005, message=b"Already authenticated.")
            return
        self.identify_count += 1
        conn.session = _Session(secrets.token_hex(16))
        conn.intents = int(d.get("intents") or 0)
        self._sessions[conn.session.session_id] = conn.session
        ready: dict[str, Any] = {
            "v": 10,
            "user": self._me(),
            "guilds": [{"id": str(self._guild_id), "unavailable": True}],
            "session_id": conn.session.session_id,
            "session_type": "normal",
            "resume_gateway_url": self.gateway_url,
            "application": {"id": str(self._application_id), "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
            "auth": {},
            "user_settings": {},
        }
        if d.get("shard") is not None:
            ready["shard"] = d["shard"]
        self._conn = conn
        await self._dispatch("READY", ready, conn)
        await self._dispatch("GUILD_CREATE", self._guild_payload(), conn)
        self.connected.set()

    async def _resume(self, conn: _GatewayConn, d: dict[str, Any]) -> None:
        if d.get("token") != self.token:
            await conn.ws.close(code=4004, message=b"Authentication failed.")
            return
        session = self._sessions.get(str(d.get("session_id")))
        if session is None:
            await self._send(conn, {"op": 9, "d": False, "s": None, "t": None})
            return
        self.resume_count += 1
        conn.session = session
        self._conn = conn
        await self._dispatch("RESUMED", {}, conn)  # d must be a dict: dpy writes into it
        self.connected.set()

    def _bot_member(self) -> dict[str, Any]:
        return p.member_object(
            self._bot_user,
            joined_at=self._bot_joined_at,
            roles=self._member_roles[self._bot_user_id],
        )

    def _guild_payload(self) -> dict[str, Any]:
        channels = [
            copy.deepcopy(c)
            for cid, c in self._channels.items()
            if c["type"] == 0 and cid not in self._deleted_channels
        ]
        for channel in channels:
            channel.pop("guild_id", None)  # GUILD_CREATE channels omit guild_id
        members = [
            p.member_object(self._users[uid], roles=roles)
            for uid, roles in self._member_roles.items()
            if uid != self._bot_user_id
        ]
        self._announced = set(self._roles) | set(self._channels)
        guild = p.guild_create(
            guild_id=self._guild_id,
            owner_id=self._owner_id,
            bot_member=self._bot_member(),
            channels=channels,
            roles=[dict(r) for r in sorted(self._roles.values(), key=lambda r: r["position"])],
            members=members,
        )
        guild["premium_tier"] = self.premium_tier
        return guild
