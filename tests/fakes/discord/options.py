"""A command interaction's ``d``, its options and what Discord resolves for them.

The pure builders (``option``, ``subcommand``, ``interaction_create``...) and the
part of ``FakeDiscord`` that offers them and fills ``data.resolved``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from tests.fakes.discord.constants import (
    ATTACH_FILES,
    ATTACHMENT,
    BOOLEAN,
    CHANNEL,
    EMBED_LINKS,
    INTEGER,
    INTERACTION_APPLICATION_COMMAND,
    MENTIONABLE,
    ROLE,
    STRING,
    SUB_COMMAND,
    SUB_COMMAND_GROUP,
    USER,
)
from tests.fakes.discord.payloads import member_object, snowflake, user_object


def interaction_create(
    *,
    interaction_id: int,
    application_id: int,
    token: str,
    guild_id: int,
    channel: dict[str, Any],
    member: dict[str, Any],
    app_permissions: int,
    data: dict[str, Any],
    attachment_size_limit: int,
    locale: str,
    guild_locale: str = "en-US",
    interaction_type: int = INTERACTION_APPLICATION_COMMAND,
    message: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Build the ``d`` of an INTERACTION_CREATE in a guild (``message`` for components)."""
    d: dict[str, Any] = {
        "id": str(interaction_id),
        "application_id": str(application_id),
        "type": interaction_type,
        "token": token,
        "version": 1,
        "guild_id": str(guild_id),
        "guild": {"id": str(guild_id), "locale": guild_locale, "features": []},
        "channel_id": channel["id"],
        "channel": channel,
        "member": member,
        "app_permissions": str(app_permissions),
        "locale": locale,
        "guild_locale": guild_locale,
        "entitlements": [],
        "authorizing_integration_owners": {"0": str(guild_id)},
        "context": 0,
        "attachment_size_limit": attachment_size_limit,
        "data": data,
    }
    if message is not None:
        d["message"] = message
    return d


def command_data(
    *,
    command_id: int,
    name: str,
    guild_id: int | None,
    options: list[dict[str, Any]],
    resolved: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    """Build the ``data`` of a chat-input command interaction (``resolved`` only if non-empty)."""
    data: dict[str, Any] = {"id": str(command_id), "name": name, "type": 1}
    if options:
        data["options"] = options
    if guild_id is not None:
        data["guild_id"] = str(guild_id)
    resolved = {kind: entries for kind, entries in resolved.items() if entries}
    if resolved:
        data["resolved"] = resolved
    return data


# ---------------------------------------------------------------- command options


def option(name: str, option_type: int, value: Any) -> dict[str, Any]:
    """One leaf option as Discord sends it (snowflake values are strings)."""
    if option_type in (USER, CHANNEL, ROLE, MENTIONABLE, ATTACHMENT):
        value = str(value)
    return {"name": name, "type": option_type, "value": value}


def subcommand(*path: str, options: Iterable[dict[str, Any]] = ()) -> list[dict[str, Any]]:
    """Options of ``/cmd sub`` (``path=("sub",)``) or ``/cmd group sub`` (``("group", "sub")``).

    Returns the top-level ``options`` list for a command interaction.
    """
    if len(path) not in (1, 2):
        raise ValueError("subcommand path is (sub,) or (group, sub)")
    node: dict[str, Any] = {"name": path[-1], "type": SUB_COMMAND, "options": list(options)}
    if len(path) == 2:
        node = {"name": path[0], "type": SUB_COMMAND_GROUP, "options": [node]}
    return [node]


def leaf_options(options: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Yield the value-carrying options, descending into (sub)command groups."""
    for opt in options:
        if opt["type"] in (SUB_COMMAND, SUB_COMMAND_GROUP):
            yield from leaf_options(opt.get("options") or [])
        else:
            yield opt


def resolved_channel(channel: dict[str, Any], permissions: int) -> dict[str, Any]:
    """A channel as it appears in ``data.resolved.channels`` (with the invoker's permissions)."""
    keys = ("id", "type", "name", "guild_id", "position", "nsfw", "topic", "parent_id", "flags")
    out = {k: channel[k] for k in (*keys, "rate_limit_per_user", "last_message_id") if k in channel}
    out["permissions"] = str(permissions)
    return out


def resolved_member(member: dict[str, Any], permissions: int) -> dict[str, Any]:
    """A member as it appears in ``data.resolved.members``: no ``user``, with ``permissions``."""
    out = {k: v for k, v in member.items() if k not in ("user", "deaf", "mute")}
    out["permissions"] = str(permissions)
    return out


class Options:
    """Option builders, the invoking member and ``data.resolved`` (a part of ``FakeDiscord``)."""

    # Option builders (pure; ``make_interaction`` fills ``data.resolved`` for them).
    option = staticmethod(option)
    subcommand = staticmethod(subcommand)

    @staticmethod
    def string_option(name: str, value: str) -> dict[str, Any]:
        """A STRING (3) option."""
        return option(name, STRING, value)

    @staticmethod
    def integer_option(name: str, value: int) -> dict[str, Any]:
        """An INTEGER (4) option."""
        return option(name, INTEGER, value)

    @staticmethod
    def boolean_option(name: str, value: bool) -> dict[str, Any]:
        """A BOOLEAN (5) option."""
        return option(name, BOOLEAN, value)

    @staticmethod
    def user_option(name: str, user_id: int) -> dict[str, Any]:
        """A USER (6) option (resolved to the user, plus the member if in the guild)."""
        return option(name, USER, user_id)

    @staticmethod
    def channel_option(name: str, channel_id: int) -> dict[str, Any]:
        """A CHANNEL (7) option (resolved with the invoker's permissions in that channel)."""
        return option(name, CHANNEL, channel_id)

    @staticmethod
    def role_option(name: str, role_id: int) -> dict[str, Any]:
        """A ROLE (8) option."""
        return option(name, ROLE, role_id)

    @staticmethod
    def mentionable_option(name: str, target_id: int) -> dict[str, Any]:
        """A MENTIONABLE (9) option: a user or role id."""
        return option(name, MENTIONABLE, target_id)

    @staticmethod
    def attachment_option(name: str, attachment: dict[str, Any]) -> dict[str, Any]:
        """An ATTACHMENT (11) option for an ``add_attachment`` object."""
        return option(name, ATTACHMENT, attachment["id"])

    def _invoker(
        self, user_id: int | None, username: str, member_roles: Iterable[int] | None
    ) -> dict[str, Any]:
        """The invoking user, made a guild member (with ``member_roles`` if given)."""
        user_id = user_id or snowflake()
        user = self._users.setdefault(user_id, user_object(user_id, username))
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
        return member_object(
            user, permissions=permissions, roles=self._roles_in(self.guild_of(channel_id), user_id)
        )

    def _app_permissions(self, channel_id: int, given: int | None) -> int:
        if given is not None:
            return given
        return self.bot_permissions(channel_id) | ATTACH_FILES | EMBED_LINKS

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
        for opt in leaf_options(options):
            kind, ref = opt["type"], str(opt.get("value"))
            if kind == MENTIONABLE:
                kind = ROLE if int(ref) in self._roles else USER
            if kind == USER:
                self._resolve_user(resolved, int(ref), channel_id)
            elif kind == ROLE:
                resolved["roles"][ref] = self._known(self._roles, int(ref), "role")
            elif kind == CHANNEL:
                channel = self._known(self._channels, int(ref), "channel")
                perms = self.permissions_in(int(ref), int(invoker["id"]))
                resolved["channels"][ref] = resolved_channel(channel, perms)
            elif kind == ATTACHMENT and ref not in resolved["attachments"]:
                resolved["attachments"][ref] = self._known(
                    self._attachment_objects, ref, "attachment"
                )
        return resolved

    def _resolve_user(
        self, resolved: dict[str, dict[str, Any]], user_id: int, channel_id: int
    ) -> None:
        resolved["users"][str(user_id)] = self._known(self._users, user_id, "user")
        if user_id in self._member_roles:
            roles = self._roles_in(self.guild_of(channel_id), user_id)
            member = member_object(self._users[user_id], roles=roles)
            resolved["members"][str(user_id)] = resolved_member(
                member, self.permissions_in(channel_id, user_id)
            )

    @staticmethod
    def _known(table: dict[Any, dict[str, Any]], key: Any, what: str) -> dict[str, Any]:
        if key not in table:
            raise ValueError(f"unknown {what} {key}: add it to the fake first")
        return table[key]
