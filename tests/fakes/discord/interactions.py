"""Interactions a test makes: chat-input and message commands, component presses,
autocompletes and modal submits, each registered so its callbacks can be checked.
"""

from __future__ import annotations

import copy
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.discord.components import (
    ModalValue,
    iter_components,
    modal_attachments,
    modal_submit_components,
)
from tests.fakes.discord.constants import (
    INTERACTION_APPLICATION_COMMAND,
    INTERACTION_AUTOCOMPLETE,
    INTERACTION_MESSAGE_COMPONENT,
    INTERACTION_MODAL_SUBMIT,
    MESSAGE_COMMAND,
    MESSAGE_TYPE_CHAT_INPUT_COMMAND,
    MESSAGE_TYPE_CONTEXT_MENU_COMMAND,
    MESSAGE_TYPE_REPLY,
)
from tests.fakes.discord.options import command_data, interaction_create, leaf_options
from tests.fakes.discord.payloads import snowflake


@dataclass
class Interaction:
    id: int
    token: str
    channel_id: int
    attachment_size_limit: int
    kind: int = INTERACTION_APPLICATION_COMMAND
    user_id: int | None = None
    #: For a component interaction: the message the component is on.
    message_id: int | None = None
    sent_at: float | None = None
    #: The shard and session whose gateway connection it was dispatched on.
    received_by: tuple[int, str] | None = None
    acked: bool = False
    original_id: int | None = None
    message_ids: set[int] = field(default_factory=set)
    #: Type of the messages its responses create (reply, slash or context-menu command).
    response_type: int = MESSAGE_TYPE_CHAT_INPUT_COMMAND
    #: The modal it was answered with (callback 9), components numbered like Discord does.
    modal: dict[str, Any] | None = None
    #: For a modal submit: the interaction that opened the modal.
    opened_by: Interaction | None = None
    #: For an autocomplete: the choices the bot answered with (callback 8).
    choices: list[dict[str, Any]] | None = None

    def allowed_callbacks(self) -> tuple[int, ...]:
        """Callback types Discord accepts for this kind of interaction."""
        if self.kind == INTERACTION_AUTOCOMPLETE:
            return (8,)
        on_message = (6, 7) if self.message_id is not None else ()
        if self.kind == INTERACTION_MODAL_SUBMIT:
            return (4, 5, *on_message)
        return (4, 5, *on_message, 9)


class Interactions:
    """Building INTERACTION_CREATE payloads (a part of ``FakeDiscord``).

    ``send_interaction`` (in ``gateway``) dispatches them and starts the 3 s ack clock.
    """

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
        data = command_data(
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
            (c for c in iter_components(message["components"]) if c.get("custom_id") == custom_id),
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
            kind=INTERACTION_MESSAGE_COMPONENT,
            message_id=message_id,
            response_type=MESSAGE_TYPE_REPLY,
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
        target = next((o for o in leaf_options(options) if o["name"] == focused), None)
        if target is None:
            raise ValueError(f"no option {focused!r} to focus")
        target.update(focused=True, value=str(target["value"]))
        d = self.make_interaction(name, options, **kwargs)
        d["type"] = INTERACTION_AUTOCOMPLETE
        self._interactions[int(d["id"])].kind = INTERACTION_AUTOCOMPLETE
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
        command_id, command_guild_id = self._command_ref(name, MESSAGE_COMMAND)
        data: dict[str, Any] = {
            "id": str(command_id),
            "name": name,
            "type": MESSAGE_COMMAND,
            "target_id": target["id"],
            "resolved": {"messages": {target["id"]: copy.deepcopy(target)}},
        }
        if command_guild_id is not None:
            data["guild_id"] = str(command_guild_id)
        interaction = self._new_interaction(
            channel_id,
            user,
            attachment_size_limit,
            response_type=MESSAGE_TYPE_CONTEXT_MENU_COMMAND,
        )
        return self._interaction_create(
            interaction, user, data, member_permissions, app_permissions, locale, guild_locale
        )

    def make_modal_submit_interaction(
        self,
        interaction: dict[str, Any],
        values: dict[str, ModalValue],
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
        ``components.modal_submit_components``, which raises ``ValueError`` for what
        the client would not submit). Opened from a component, the submit carries the
        component's ``message`` and may also be answered with callbacks 6 and 7.
        """
        opener = self._interactions.get(int(interaction["id"]))
        if opener is None or opener.modal is None:
            raise ValueError("that interaction was not answered with a modal")
        modal = opener.modal
        data: dict[str, Any] = {
            "custom_id": modal["custom_id"],
            "components": modal_submit_components(modal["components"], values),
        }
        uploads = modal_attachments(values)
        if uploads:
            data["resolved"] = {"attachments": {a["id"]: a for a in uploads}}
        user = self._invoker(opener.user_id, username, None)
        submit = self._new_interaction(
            opener.channel_id,
            user,
            attachment_size_limit,
            kind=INTERACTION_MODAL_SUBMIT,
            message_id=opener.message_id,
            response_type=opener.response_type,
            opened_by=opener,
        )
        return self._interaction_create(
            submit, user, data, member_permissions, app_permissions, locale, guild_locale
        )

    def _new_interaction(
        self, channel_id: int, user: dict[str, Any], attachment_size_limit: int, **kw: Any
    ) -> Interaction:
        """Register a new interaction by `user` in the channel (`kw`: its kind, message…)."""
        return self._register(
            Interaction(
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
        interaction: Interaction,
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
        return interaction_create(
            interaction_id=interaction.id,
            application_id=self._application_id,
            token=interaction.token,
            guild_id=self.guild_of(channel_id),
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

    def interaction(self, interaction_id: int) -> Interaction:
        """A registered interaction (what the fake knows of it: acks, shard that got it…)."""
        return self._interactions[interaction_id]

    def _register(self, interaction: Interaction) -> Interaction:
        self._interactions[interaction.id] = interaction
        self._by_token[interaction.token] = interaction
        return interaction

    @staticmethod
    def token_of(interaction: dict[str, Any]) -> str:
        """The interaction token of an INTERACTION_CREATE ``d``."""
        return str(interaction["token"])
