"""The gateway socket: HELLO, heartbeats, IDENTIFY (with its shard) -> READY and
GUILD_CREATE, RESUME, member chunks, and the events a test pushes.

Sharding (``use_shards``) follows Discord's gateway documentation: a session IDENTIFYs with
``shard: [shard_id, num_shards]`` and receives the events of the guilds with
``(guild_id >> 22) % num_shards == shard_id`` (events without a guild go to shard 0); at most
``max_concurrency`` IDENTIFYs per 5 s, one per bucket ``shard_id % max_concurrency``, and one
that comes too soon is answered with INVALID_SESSION (op 9, ``d: false``). An IDENTIFY without
``shard`` is the one session of an unsharded bot: it gets every guild, and is refused (close
4011, "Sharding required") when the fake serves several shards. Simplifications: the fake
requires its own ``shard_count`` in every IDENTIFY (close 4010, "Invalid shard", otherwise;
Discord would route by another count, refusing only one too small for the bot's guilds), and a
second session of a live shard replaces the first as the one that receives its events.
"""

from __future__ import annotations

import asyncio
import copy
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import WSMsgType, web

from tests.fakes.discord.constants import MESSAGE_TYPE_CHAT_INPUT_COMMAND, MESSAGE_TYPE_REPLY
from tests.fakes.discord.interactions import Interaction
from tests.fakes.discord.payloads import guild_create, member_object
from tests.fakes.discord.recording import RecordedRequest


@dataclass
class Session:
    session_id: str
    #: The shard it serves (0 when unsharded).
    shard_id: int = 0
    seq: int = 0


@dataclass
class GatewayConn:
    ws: web.WebSocketResponse
    session: Session | None = None
    intents: int = 0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


@dataclass(frozen=True)
class Identify:
    """One IDENTIFY as the fake saw it."""

    #: ``[shard_id, num_shards]`` as sent, or None (unsharded).
    shard: tuple[int, int] | None
    #: When it arrived (``time.monotonic()``).
    at: float
    #: False when it came too soon in its bucket and was answered with INVALID_SESSION.
    accepted: bool
    #: The session it opened (None if refused).
    session_id: str | None

    @property
    def shard_id(self) -> int:
        """Its shard (0 when unsharded)."""
        return self.shard[0] if self.shard else 0


@dataclass(frozen=True)
class Dispatched:
    """One DISPATCH the fake sent, and the session (of which shard) that carried it."""

    event: str
    shard_id: int
    session_id: str
    #: The guild it is about (its ``guild_id``, or a GUILD_CREATE's ``id``), if any.
    guild_id: int | None


class Gateway:
    """The gateway side of the fake (a part of ``FakeDiscord``)."""

    #: While set, the gateway refuses every connection with HTTP 503 (Discord unreachable).
    refuse_gateway: bool = False

    def _init_gateway(self) -> None:
        self.identify_count = 0
        self.resume_count = 0
        #: Set while every shard (the one connection, unsharded) has a live session.
        self.connected = asyncio.Event()
        #: Shards the bot must run (``use_shards``): ``GET /gateway/bot``'s ``shards``, the
        #: count IDENTIFY must name, and the routing of guild events.
        self.shard_count = 1
        #: IDENTIFYs allowed per ``identify_window_s``, one per bucket ``shard_id % this``.
        self.max_concurrency = 1
        self.identify_window_s = 5.0
        #: Every IDENTIFY, in order (accepted or answered with INVALID_SESSION).
        self.identifies: list[Identify] = []
        #: Every DISPATCH sent, with the shard and session that carried it.
        self.dispatches: list[Dispatched] = []
        self._sessions: dict[str, Session] = {}
        #: Live sessions by shard id (0 when unsharded).
        self._conns: dict[int, GatewayConn] = {}
        self._shard_ready: dict[int, asyncio.Event] = {}

    def shard_connected(self, shard_id: int) -> asyncio.Event:
        """Set while ``shard_id`` (0 when unsharded) has a live session."""
        return self._shard_ready.setdefault(shard_id, asyncio.Event())

    def session_of(self, shard_id: int) -> str | None:
        """The session id of the live connection of ``shard_id``, if one is live."""
        conn = self._conns.get(shard_id)
        return conn.session.session_id if conn is not None and conn.session else None

    def identifies_of(self, shard_id: int) -> list[Identify]:
        """The IDENTIFYs of one shard, in order."""
        return [i for i in self.identifies if i.shard_id == shard_id]

    async def send_interaction(self, d: dict[str, Any]) -> dict[str, Any]:
        """Dispatch INTERACTION_CREATE on the session of its guild's shard (waiting up to
        10 s for that session); the interaction records which shard and session got it.

        The 3 s ack clock starts when the event is sent.
        """
        shard_id = self.shard_of(int(d["guild_id"])) if d.get("guild_id") else 0
        async with asyncio.timeout(10.0):
            await self.shard_connected(shard_id).wait()
        interaction = self._interactions.get(int(d["id"]))
        if interaction is None:  # hand-built payload: register it
            message = d.get("message")
            interaction = self._register(
                Interaction(
                    id=int(d["id"]),
                    token=d["token"],
                    channel_id=int(d["channel"]["id"]),
                    attachment_size_limit=int(d["attachment_size_limit"]),
                    kind=int(d["type"]),
                    user_id=int(d["member"]["user"]["id"]) if "member" in d else None,
                    message_id=int(message["id"]) if message else None,
                    response_type=MESSAGE_TYPE_REPLY
                    if message
                    else MESSAGE_TYPE_CHAT_INPUT_COMMAND,
                )
            )
        interaction.sent_at = time.monotonic()
        conn = self._conns[shard_id]
        assert conn.session is not None
        interaction.received_by = (shard_id, conn.session.session_id)
        await self._dispatch("INTERACTION_CREATE", d, conn)
        return d

    async def push_guild_update(self) -> None:
        """Announce setup changes of the main guild made after the bot connected, as
        Discord's events would (on the main guild's shard).

        Dispatches GUILD_ROLE_CREATE/UPDATE for every role, CHANNEL_CREATE/UPDATE for every
        guild text channel (overwrites included) and GUILD_MEMBER_UPDATE for every member.
        """
        async with asyncio.timeout(10.0):
            await self.shard_connected(self.shard_of(self._guild_id)).wait()
        guild_id = str(self._guild_id)
        for role_id, role in self._roles.items():
            event = "GUILD_ROLE_UPDATE" if role_id in self._announced else "GUILD_ROLE_CREATE"
            await self._dispatch(event, {"guild_id": guild_id, "role": dict(role)})
        for channel in self._guild_channels(self._guild_id):
            channel_id = int(channel["id"])
            if channel_id in self._deleted_channels:
                continue
            event = "CHANNEL_UPDATE" if channel_id in self._announced else "CHANNEL_CREATE"
            await self._dispatch(event, copy.deepcopy(channel))
        for user_id, roles in self._member_roles.items():
            member = member_object(
                self._users[user_id],
                roles=roles,
                joined_at=self._bot_joined_at if user_id == self._bot_user_id else None,
            )
            await self._dispatch("GUILD_MEMBER_UPDATE", {"guild_id": guild_id, **member})
        self._announced = set(self._roles) | set(self._channels)

    async def disconnect_gateway(self, code: int = 4000, *, shard_id: int | None = None) -> None:
        """Close the live gateway socket of ``shard_id`` (default: the main guild's shard)
        with ``code`` (4000 lets dpy RESUME)."""
        shard_id = self.shard_of(self._guild_id) if shard_id is None else shard_id
        conn = self._conns.pop(shard_id, None)
        if conn is None:
            raise RuntimeError(f"no live gateway connection for shard {shard_id}")
        self._shard_gone(shard_id)
        await conn.ws.close(code=code, message=b"fake disconnect")

    async def _gateway(self, request: web.Request) -> web.StreamResponse:
        """Gateway socket: HELLO, heartbeats, IDENTIFY -> READY/GUILD_CREATE, RESUME."""
        if self.refuse_gateway:
            await self._record(
                RecordedRequest(
                    "GET", request.path, dict(request.query), {}, None, [], 503, time.monotonic()
                )
            )
            return web.Response(status=503, text="gateway unavailable")
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
        conn = GatewayConn(ws)
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
            shard_id = conn.session.shard_id if conn.session else None
            if shard_id is not None and self._conns.get(shard_id) is conn:
                del self._conns[shard_id]
                self._shard_gone(shard_id)
        return ws

    def _shard_gone(self, shard_id: int) -> None:
        self.shard_connected(shard_id).clear()
        self.connected.clear()

    def _shard_live(self, shard_id: int, conn: GatewayConn) -> None:
        self._conns[shard_id] = conn
        self.shard_connected(shard_id).set()
        if all(i in self._conns for i in range(self.shard_count)):
            self.connected.set()

    async def _send(self, conn: GatewayConn, payload: dict[str, Any]) -> None:
        async with conn.lock:
            await conn.ws.send_str(json.dumps(payload))

    async def _dispatch(
        self, event: str, d: dict[str, Any], conn: GatewayConn | None = None
    ) -> None:
        """Send a DISPATCH with the session's next sequence number (by default on the main
        guild's shard)."""
        conn = conn or self._conns.get(self.shard_of(self._guild_id))
        if conn is None or conn.session is None:
            raise RuntimeError("no live gateway session")
        guild = d.get("guild_id") or (d.get("id") if event == "GUILD_CREATE" else None)
        async with conn.lock:
            conn.session.seq += 1
            payload = {"op": 0, "t": event, "s": conn.session.seq, "d": d}
            await conn.ws.send_str(json.dumps(payload))
        self.dispatches.append(
            Dispatched(
                event,
                conn.session.shard_id,
                conn.session.session_id,
                int(guild) if guild else None,
            )
        )

    async def _on_gateway_payload(self, conn: GatewayConn, payload: dict[str, Any]) -> None:
        op, d = payload.get("op"), payload.get("d")
        if op == 1:
            await self._send(conn, {"op": 11, "d": None, "s": None, "t": None})
        elif op == 2:
            await self._identify(conn, d or {})
        elif op == 6:
            await self._resume(conn, d or {})
        elif op == 8:
            guild_id = int((d or {}).get("guild_id") or self._guild_id)
            members = [self._bot_member(guild_id)]
            chunk = {
                "guild_id": str(guild_id),
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

    async def _identify(self, conn: GatewayConn, d: dict[str, Any]) -> None:
        if d.get("token") != self.token:
            await conn.ws.close(code=4004, message=b"Authentication failed.")
            return
        if conn.session is not None:
            await conn.ws.close(code=4005, message=b"Already authenticated.")
            return
        shard = await self._shard_of_identify(conn, d.get("shard"))
        if shard is False:
            return  # closed
        now = time.monotonic()
        if shard is not None and self._too_soon(shard[0], now):
            self.identifies.append(Identify(shard, now, accepted=False, session_id=None))
            await self._send(conn, {"op": 9, "d": False, "s": None, "t": None})
            return
        shard_id = shard[0] if shard else 0
        self.identify_count += 1
        conn.session = Session(secrets.token_hex(16), shard_id)
        conn.intents = int(d.get("intents") or 0)
        self._sessions[conn.session.session_id] = conn.session
        self.identifies.append(Identify(shard, now, True, conn.session.session_id))
        guilds = self.guilds_on_shard(shard_id) if shard else self.guild_ids
        ready: dict[str, Any] = {
            "v": 10,
            "user": self._me(),
            "guilds": [{"id": str(g), "unavailable": True} for g in guilds],
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
        if shard is not None:
            ready["shard"] = list(shard)
        self._conns[shard_id] = conn
        await self._dispatch("READY", ready, conn)
        for guild_id in guilds:
            await self._dispatch("GUILD_CREATE", self._guild_payload(guild_id), conn)
        self._shard_live(shard_id, conn)

    async def _shard_of_identify(
        self, conn: GatewayConn, shard: Any
    ) -> tuple[int, int] | Literal[False] | None:
        """The IDENTIFY's ``[shard_id, num_shards]`` (None: unsharded), or False after
        closing the socket as Discord does: 4010 for a shard that does not fit the fake's
        ``shard_count``, 4011 for an unsharded session when several shards are served."""
        if shard is None:
            if self.shard_count > 1:
                await conn.ws.close(code=4011, message=b"Sharding required.")
                return False
            return None
        valid = (
            isinstance(shard, list)
            and len(shard) == 2
            and all(isinstance(part, int) for part in shard)
            and shard[1] == self.shard_count
            and 0 <= shard[0] < shard[1]
        )
        if not valid:
            await conn.ws.close(code=4010, message=b"Invalid shard.")
            return False
        return (shard[0], shard[1])

    def _too_soon(self, shard_id: int, now: float) -> bool:
        """Whether an IDENTIFY of ``shard_id`` now breaks ``max_concurrency``: another of its
        bucket was accepted less than ``identify_window_s`` ago."""
        bucket = shard_id % self.max_concurrency
        return any(
            i.accepted
            and i.shard is not None
            and i.shard_id % self.max_concurrency == bucket
            and now - i.at < self.identify_window_s
            for i in self.identifies
        )

    async def _resume(self, conn: GatewayConn, d: dict[str, Any]) -> None:
        if d.get("token") != self.token:
            await conn.ws.close(code=4004, message=b"Authentication failed.")
            return
        session = self._sessions.get(str(d.get("session_id")))
        if session is None:
            await self._send(conn, {"op": 9, "d": False, "s": None, "t": None})
            return
        self.resume_count += 1
        conn.session = session
        self._conns[session.shard_id] = conn
        await self._dispatch("RESUMED", {}, conn)  # d must be a dict: dpy writes into it
        self._shard_live(session.shard_id, conn)

    def _bot_member(self, guild_id: int | None = None) -> dict[str, Any]:
        return member_object(
            self._bot_user,
            joined_at=self._bot_joined_at,
            roles=self._roles_in(guild_id or self._guild_id, self._bot_user_id),
        )

    def _guild_payload(self, guild_id: int | None = None) -> dict[str, Any]:
        guild_id = guild_id or self._guild_id
        main = guild_id == self._guild_id
        channels = [
            copy.deepcopy(c)
            for c in self._guild_channels(guild_id)
            if int(c["id"]) not in self._deleted_channels
        ]
        for channel in channels:
            channel.pop("guild_id", None)  # GUILD_CREATE channels omit guild_id
        members = [
            member_object(self._users[uid], roles=self._roles_in(guild_id, uid))
            for uid in self._member_roles
            if uid != self._bot_user_id
        ]
        if main:
            self._announced = set(self._roles) | set(self._channels)
            roles = [dict(r) for r in sorted(self._roles.values(), key=lambda r: r["position"])]
        else:
            roles = [dict(self._everyone_of(guild_id))]
        guild = guild_create(
            guild_id=guild_id,
            owner_id=self._owner_id,
            bot_member=self._bot_member(guild_id),
            channels=channels,
            roles=roles,
            members=members,
        )
        guild["premium_tier"] = self.premium_tier
        if not main:
            guild["name"] = self._other_guilds[guild_id].name
        return guild
