"""Interaction callbacks (types 4-9) and what the bot answered with."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests.fakes.discord.components import iter_components, numbered_components
from tests.fakes.discord.constants import FLAG_EPHEMERAL, FLAG_LOADING
from tests.fakes.discord.http import Call, DiscordError, truthy, unknown_message
from tests.fakes.discord.messages import PARSE_USERS

if TYPE_CHECKING:
    from tests.fakes.discord.interactions import Interaction

CALLBACK_SPEC_PATH = "/interactions/{interaction_id}/{interaction_token}/callback"


class Callbacks:
    """``POST /interactions/{id}/{token}/callback`` (a part of ``FakeDiscord``)."""

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

    async def _interaction_callback(self, call: Call) -> web.Response:
        interaction = self._callback_interaction(call)
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
        if not truthy(call.request.query.get("with_response")):
            return web.Response(status=204)
        return self._ok(call, self._callback_response(interaction, callback_type, message))

    def _open_modal(
        self, call: Call, interaction: Interaction, data: dict[str, Any]
    ) -> web.Response:
        """Callback 9: keep the modal (Discord refuses an invalid one with 50035)."""
        if self._schemas.validate("POST", CALLBACK_SPEC_PATH, call.body):
            raise DiscordError(400, 50035, "Invalid Form Body")
        modal = {**data, "components": numbered_components(data["components"])}
        components = iter_components(modal["components"])
        inputs = [c["custom_id"] for c in components if "custom_id" in c]
        if len(inputs) != len(set(inputs)):
            raise DiscordError(400, 50035, "Invalid Form Body")
        interaction.modal = modal
        interaction.acked = True
        return self._no_message_callback(call, interaction)

    def _autocomplete_result(
        self, call: Call, interaction: Interaction, data: dict[str, Any]
    ) -> web.Response:
        """Callback 8: keep the choices (at most 25, names 1-100 characters, else 50035)."""
        if self._schemas.validate("POST", CALLBACK_SPEC_PATH, call.body):
            raise DiscordError(400, 50035, "Invalid Form Body")
        interaction.choices = [c for c in data.get("choices") or [] if c is not None]
        interaction.acked = True
        return self._no_message_callback(call, interaction)

    def _no_message_callback(self, call: Call, interaction: Interaction) -> web.Response:
        """Answer a callback that creates no message (modal, autocomplete choices)."""
        if not truthy(call.request.query.get("with_response")):
            return web.Response(status=204)
        summary = {"id": str(interaction.id), "type": interaction.kind}
        return self._ok(call, {"interaction": {**summary, "activity_instance_id": None}})

    def _response_message(
        self, call: Call, interaction: Interaction, callback_type: int, data: dict[str, Any]
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
            extra_flags=FLAG_LOADING if callback_type == 5 else 0,
            webhook=True,
            interaction=interaction,
        )
        if callback_type == 4 and self._is_empty(message):
            del self.messages[int(message["id"])]
            raise DiscordError(400, 50006, "Cannot send an empty message")
        return message

    def _update_component_message(
        self, call: Call, interaction: Interaction, callback_type: int, data: dict[str, Any]
    ) -> dict[str, Any]:
        """Type 6 acks silently, type 7 edits the message the component is on."""
        message = self.messages.get(interaction.message_id or 0)
        if message is None:
            raise unknown_message()
        if callback_type == 7:
            self._edit_message(message, data, call.files, PARSE_USERS)
        return message

    def _callback_response(
        self, interaction: Interaction, callback_type: int, message: dict[str, Any]
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
                response_message_ephemeral=bool(message["flags"] & FLAG_EPHEMERAL),
            )
        out: dict[str, Any] = {"interaction": summary}
        if callback_type in (4, 7):
            out["resource"] = {"type": callback_type, "message": message}
        return out
