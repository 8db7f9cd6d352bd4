"""Channel routes: the channel, and posting, reading, editing and deleting its messages."""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from tests.fakes.discord.constants import ATTACH_FILES, EMBED_LINKS, SEND_MESSAGES
from tests.fakes.discord.http import Call, DiscordError, unknown_message
from tests.fakes.discord.messages import PARSE_ALL


class Channels:
    """``/channels/{id}[/messages[/{id}]]`` (a part of ``FakeDiscord``)."""

    def _channel_message(self, call: Call) -> dict[str, Any]:
        channel_id = self._live_channel(call)
        message = self.messages.get(call.int_param("mid"))
        if message is None or int(message["channel_id"]) != channel_id:
            raise unknown_message()
        return message

    async def _get_channel(self, call: Call) -> web.Response:
        return self._ok(call, self._channels[self._live_channel(call)])

    async def _create_channel_message(self, call: Call) -> web.Response:
        channel_id = self._live_channel(call)
        body = call.body or {}
        self._require(channel_id, SEND_MESSAGES)
        if call.files:
            self._require(channel_id, ATTACH_FILES)
        if body.get("embeds"):
            self._require(channel_id, EMBED_LINKS)
        self._check_upload(call, self.upload_limit_bytes)
        now = time.monotonic()
        if (earlier := self._nonce_replay(channel_id, body, now)) is not None:
            return self._ok(call, earlier)
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
        self._remember_nonce(channel_id, body, message, now)
        return self._ok(call, message)

    async def _get_channel_message(self, call: Call) -> web.Response:
        return self._ok(call, self._channel_message(call))

    async def _edit_channel_message(self, call: Call) -> web.Response:
        message = self._channel_message(call)
        if call.files:
            self._require(int(message["channel_id"]), ATTACH_FILES)
        self._check_upload(call, self.upload_limit_bytes)
        return self._ok(call, self._edit_message(message, call.body or {}, call.files, PARSE_ALL))

    async def _delete_channel_message(self, call: Call) -> web.Response:
        self._forget_message(self._channel_message(call))
        return web.Response(status=204)
