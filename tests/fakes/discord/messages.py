"""Messages: a user's (``add_user_message``) and the bot's, as Discord creates, edits and
deletes them (attachments, mentions, components, interaction metadata).
"""

from __future__ import annotations

import copy
import mimetypes
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from tests.fakes.discord.components import buttons_of, numbered_components
from tests.fakes.discord.constants import FLAG_EPHEMERAL, FLAG_LOADING, MESSAGE_TYPE_DEFAULT
from tests.fakes.discord.payloads import (
    attachment_object,
    message_object,
    now_iso,
    resolve_mentions,
    snowflake,
)
from tests.fakes.discord.recording import RecordedFile

if TYPE_CHECKING:
    from tests.fakes.discord.interactions import Interaction

PARSE_ALL = frozenset({"users", "roles", "everyone"})
PARSE_USERS = frozenset({"users"})


class Messages:
    """The live messages and how they change (a part of ``FakeDiscord``)."""

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
        mentions, mention_roles, everyone = resolve_mentions(
            content, None, default_parse=PARSE_ALL, known_users=self._users
        )
        message = message_object(
            message_id=snowflake(),
            channel_id=channel_id,
            guild_id=self.guild_of(channel_id),
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

    @staticmethod
    def buttons_of(message: dict[str, Any]) -> list[dict[str, Any]]:
        """Every button on a message dict (see ``components.buttons_of``)."""
        return buttons_of(message)

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
        return attachment_object(
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
        message_type: int = MESSAGE_TYPE_DEFAULT,
        extra_flags: int = 0,
        webhook: bool = False,
        interaction: Interaction | None = None,
    ) -> dict[str, Any]:
        content = body.get("content") or ""
        mentions, mention_roles, everyone = resolve_mentions(
            content,
            body.get("allowed_mentions"),
            default_parse=default_parse,
            known_users=self._users,
        )
        channel = self._channels.get(channel_id, {})
        message = message_object(
            message_id=snowflake(),
            channel_id=channel_id,
            guild_id=int(channel["guild_id"]) if channel.get("guild_id") else None,
            author=self._bot_user,
            content=content,
            embeds=body.get("embeds"),
            attachments=self._build_attachments(channel_id, body, files, []),
            components=numbered_components(body.get("components")),
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

    def _reference_to(self, interaction: Interaction | None) -> dict[str, Any] | None:
        """A component's response replies to the message the component is on."""
        if interaction is None or interaction.message_id is None:
            return None
        return {
            "type": 0,
            "message_id": str(interaction.message_id),
            "channel_id": str(interaction.channel_id),
            "guild_id": str(self.guild_of(interaction.channel_id)),
        }

    def _interaction_metadata(self, interaction: Interaction | None) -> dict[str, Any] | None:
        """``interaction_metadata`` of a message created by an interaction response/followup."""
        if interaction is None or interaction.user_id not in self._users:
            return None
        meta: dict[str, Any] = {
            "id": str(interaction.id),
            "type": interaction.kind,
            "user": self._users[interaction.user_id],
            "authorizing_integration_owners": {"0": str(self.guild_of(interaction.channel_id))},
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
        was_loading = bool(message["flags"] & FLAG_LOADING)
        for key in ("content", "embeds", "components"):
            if key in body:
                message[key] = (
                    body[key] if body[key] is not None else ([] if key != "content" else "")
                )
        message["components"] = numbered_components(message["components"])
        if "flags" in body and body["flags"] is not None:
            # EPHEMERAL cannot be changed by an edit.
            message["flags"] = (body["flags"] & ~FLAG_EPHEMERAL) | (
                message["flags"] & FLAG_EPHEMERAL
            )
        message["flags"] &= ~FLAG_LOADING
        before = {a["id"] for a in message["attachments"]}
        message["attachments"] = self._build_attachments(
            int(message["channel_id"]), body, files, message["attachments"]
        )
        for dropped in before - {a["id"] for a in message["attachments"]}:
            self._cdn.pop(int(dropped), None)  # an attachment an edit drops is deleted
        # An edit without allowed_mentions re-parses with the defaults (docs message.mdx).
        mentions, roles, everyone = resolve_mentions(
            message["content"],
            body.get("allowed_mentions"),
            default_parse=default_parse,
            known_users=self._users,
        )
        message.update(mentions=mentions, mention_roles=roles, mention_everyone=everyone)
        if not was_loading:
            message["edited_timestamp"] = now_iso()
        return message

    @staticmethod
    def _is_empty(message: dict[str, Any]) -> bool:
        return not (
            message["content"]
            or message["embeds"]
            or message["attachments"]
            or message["components"]
        )
