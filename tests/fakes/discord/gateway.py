"""The gateway socket: HELLO, heartbeats, IDENTIFY (with its shard) -> READY and
GUILD_CREATE, RESUME, member chunks, and the events a test pushes.
"""

from __future__ import annotations

import asyncio
import copy
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from tests.fakes.discord.constants import MESSAGE_TYPE_CHAT_INPUT_COMMAND, MESSAGE_TYPE_REPLY
from tests.fakes.discord.interactions import Interaction
from tests.fakes.discord.payloads import guild_create, member_object
from tests.fakes.discord.recording import RecordedRequest


@dataclass
class Session:
    session_id: str
    seq: int = 0


@dataclass
class GatewayConn:
    ws: web.WebSocketResponse
    session: Session | None = None
    intents: int = 0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class Gateway:
    """The gateway side of the fake (a part of ``FakeDiscord``)."""

    #: While set, the gateway refuses every connection with HTTP 503 (Discord unreachable).
    refuse_gateway: bool = False

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
            member = member_object(
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
            if self._conn is conn:
                self._conn = None
                self.connected.clear()
        return ws

    async def _send(self, conn: GatewayConn, payload: dict[str, Any]) -> None:
        async with conn.lock:
            await conn.ws.send_str(json.dumps(payload))

    async def _dispatch(
        self, event: str, d: dict[str, Any], conn: GatewayConn | None = None
    ) -> None:
        """Send a DISPATCH with the session's next sequence number."""
        conn = conn or self._conn
        if conn is None or conn.session is None:
            raise RuntimeError("no live gateway session")
        async with conn.lock:
            conn.session.seq += 1
            payload = {"op": 0, "t": event, "s": conn.session.seq, "d": d}
            await conn.ws.send_str(json.dumps(payload))

    async def _on_gateway_payload(self, conn: GatewayConn, payload: dict[str, Any]) -> None:
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

    async def _identify(self, conn: GatewayConn, d: dict[str, Any]) -> None:
        if d.get("token") != self.token:
            await conn.ws.close(code=4004, message=b"Authentication failed.")
            return
        if conn.session is not None:
            await conn.ws.close(code=4005, message=b"Already authenticated.")
            return
        self.identify_count += 1
        conn.session = Session(secrets.token_hex(16))
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
        self._conn = conn
        await self._dispatch("RESUMED", {}, conn)  # d must be a dict: dpy writes into it
        self.connected.set()

    def _bot_member(self) -> dict[str, Any]:
        return member_object(
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
            member_object(self._users[uid], roles=roles)
            for uid, roles in self._member_roles.items()
            if uid != self._bot_user_id
        ]
        self._announced = set(self._roles) | set(self._channels)
        guild = guild_create(
            guild_id=self._guild_id,
            owner_id=self._owner_id,
            bot_member=self._bot_member(),
            channels=channels,
            roles=[dict(r) for r in sorted(self._roles.values(), key=lambda r: r["position"])],
            members=members,
        )
        guild["premium_tier"] = self.premium_tier
        return guild
