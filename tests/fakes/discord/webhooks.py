"""Followups: the interaction webhook's messages (execute, get, edit, delete)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests.fakes.discord.constants import FLAG_LOADING
from tests.fakes.discord.http import Call, DiscordError, truthy, unknown_message
from tests.fakes.discord.messages import PARSE_USERS

if TYPE_CHECKING:
    from tests.fakes.discord.interactions import Interaction


class Webhooks:
    """``/webhooks/{app}/{token}[/messages/{id}]`` (a part of ``FakeDiscord``)."""

    def _webhook_message(self, call: Call, interaction: Interaction) -> dict[str, Any]:
        ref = call.match["mid"]
        message_id = interaction.original_id if ref == "@original" else int(ref)
        if (
            message_id is None
            or message_id not in interaction.message_ids
            or message_id not in self.messages
        ):
            raise unknown_message()
        return self.messages[message_id]

    async def _execute_webhook(self, call: Call) -> web.Response:
        interaction = self._webhook_interaction(call)
        if not interaction.acked:
            raise DiscordError(404, 10015, "Unknown Webhook")
        self._check_upload(call, interaction.attachment_size_limit)
        body = call.body or {}
        original = self.messages.get(interaction.original_id or 0)
        if original is not None and original["flags"] & FLAG_LOADING:
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
        if not truthy(call.request.query.get("wait")):
            return web.Response(status=204)
        return self._ok(call, message)

    async def _get_wh_msg(self, call: Call) -> web.Response:
        interaction = self._webhook_interaction(call)
        return self._ok(call, self._webhook_message(call, interaction))

    async def _edit_wh_msg(self, call: Call) -> web.Response:
        interaction = self._webhook_interaction(call)
        message = self._webhook_message(call, interaction)
        self._check_upload(call, interaction.attachment_size_limit)
        return self._ok(call, self._edit_message(message, call.body or {}, call.files, PARSE_USERS))

    async def _delete_wh_msg(self, call: Call) -> web.Response:
        interaction = self._webhook_interaction(call)
        self._forget_message(self._webhook_message(call, interaction))
        return web.Response(status=204)
