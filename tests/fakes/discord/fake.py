"""``FakeDiscord``: the parts of the fake put together, its state, and its route table."""

from __future__ import annotations

import asyncio
import random
import re
from typing import Any

from aiohttp import web

from tests.fakes.discord.callbacks import CALLBACK_SPEC_PATH, Callbacks
from tests.fakes.discord.cdn import Cdn, CdnFile
from tests.fakes.discord.channels import Channels
from tests.fakes.discord.commands import Commands
from tests.fakes.discord.constants import EVERYONE_PERMISSIONS
from tests.fakes.discord.faults import Fault, Faults
from tests.fakes.discord.gateway import Gateway
from tests.fakes.discord.guild import GuildSetup, OtherGuild
from tests.fakes.discord.http import CDN_PREFIX, Handler, Route
from tests.fakes.discord.interactions import Interaction, Interactions
from tests.fakes.discord.messages import Messages
from tests.fakes.discord.options import Options
from tests.fakes.discord.payloads import now_iso, role_object, snowflake, user_object
from tests.fakes.discord.recording import RecordedFile, RecordedRequest, Recording
from tests.fakes.discord.rules import Rules
from tests.fakes.discord.schemas import RequestSchemas, default_schemas
from tests.fakes.discord.server import Server
from tests.fakes.discord.users import Users
from tests.fakes.discord.webhooks import Webhooks


class FakeDiscord(
    Server,
    Recording,
    GuildSetup,
    Interactions,
    Options,
    Gateway,
    Users,
    Commands,
    Channels,
    Messages,
    Callbacks,
    Webhooks,
    Cdn,
    Rules,
    Faults,
):
    """In-process Discord stand-in: one main guild (more for sharding), one bot user, text
    channels, interactions."""

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
        self._init_gateway()
        self._schemas = schemas or default_schemas()
        self._application_id = snowflake()
        self._bot_user_id = snowflake()
        self._owner_id = snowflake()
        self._guild_id = snowflake()
        self._bot_user = user_object(self._bot_user_id, "FakeBot", bot=True)
        self._users: dict[int, dict[str, Any]] = {
            self._bot_user_id: self._bot_user,
            self._owner_id: user_object(self._owner_id, "owner"),
        }
        self._bot_joined_at = now_iso()
        self._roles: dict[int, dict[str, Any]] = {
            self._guild_id: role_object(self._guild_id, "@everyone", EVERYONE_PERMISSIONS)
        }
        #: Guild members (user id -> role ids); users not in here are not in the guild.
        self._member_roles: dict[int, list[int]] = {self._bot_user_id: [], self._owner_id: []}
        self._other_guilds: dict[int, OtherGuild] = {}
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
        self._interactions: dict[int, Interaction] = {}
        self._by_token: dict[str, Interaction] = {}
        self._expired_tokens: set[str] = set()
        self._faults: list[Fault] = []
        self._cdn: dict[int, CdnFile] = {}
        self._sockets: set[web.WebSocketResponse] = set()
        self._cond = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._routes = self._build_routes()

    def _build_routes(self) -> list[Route]:
        def r(method: str, regex: str, handler: Handler, **kw: Any) -> Route:
            return Route(method, re.compile(regex), handler, **kw)

        hook = r"/webhooks/(?P<app>\d+)/(?P<token>[^/]+)"
        wh_msg = "/webhooks/{webhook_id}/{webhook_token}/messages/"
        return [
            r("GET", r"/users/@me", self._get_me),
            r("GET", r"/users/@me/guilds", self._get_my_guilds),
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
