"""Builders for Discord API / gateway payloads, shaped the way discord.py 2.7 parses them.

Field choices follow the research note (shared/research/discord-platform.md, E2-E4) and
discord.py's own ``data[...]`` accesses; every id is a current-time snowflake.
"""

from __future__ import annotations

import copy
import re
import threading
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

DISCORD_EPOCH_MS = 1_420_070_400_000

# Permission bits (docs developers/topics/permissions.mdx).
CREATE_INSTANT_INVITE = 1 << 0
KICK_MEMBERS = 1 << 1
BAN_MEMBERS = 1 << 2
ADMINISTRATOR = 1 << 3
MANAGE_CHANNELS = 1 << 4
MANAGE_GUILD = 1 << 5
ADD_REACTIONS = 1 << 6
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
SEND_TTS_MESSAGES = 1 << 12
MANAGE_MESSAGES = 1 << 13
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
MENTION_EVERYONE = 1 << 17
USE_EXTERNAL_EMOJIS = 1 << 18
CONNECT = 1 << 20
SPEAK = 1 << 21
CHANGE_NICKNAME = 1 << 26
MANAGE_ROLES = 1 << 28
USE_APPLICATION_COMMANDS = 1 << 31
MANAGE_THREADS = 1 << 34
CREATE_PUBLIC_THREADS = 1 << 35
SEND_MESSAGES_IN_THREADS = 1 << 38
MODERATE_MEMBERS = 1 << 40
#: Every permission bit (the value of discord.py 2.7's ``Permissions.all()``).
ALL_PERMISSIONS = ((1 << 53) - 1) & ~(1 << 47)
#: The bits that apply inside a channel (discord.py 2.7's ``Permissions.all_channel()``);
#: the rest (kick, ban, manage guild, nickname...) are guild-wide.
ALL_CHANNEL_PERMISSIONS = 0x1E64FDB3F7FF51

#: Default ``app_permissions`` of a fake interaction.
DEFAULT_APP_PERMISSIONS = (
    VIEW_CHANNEL | SEND_MESSAGES | ATTACH_FILES | EMBED_LINKS | READ_MESSAGE_HISTORY
)
#: Permissions of the fake guild's @everyone role (a typical community-server set).
EVERYONE_PERMISSIONS = (
    CREATE_INSTANT_INVITE
    | ADD_REACTIONS
    | VIEW_CHANNEL
    | SEND_MESSAGES
    | EMBED_LINKS
    | ATTACH_FILES
    | READ_MESSAGE_HISTORY
    | USE_EXTERNAL_EMOJIS
    | CONNECT
    | SPEAK
    | CHANGE_NICKNAME
    | USE_APPLICATION_COMMANDS
    | CREATE_PUBLIC_THREADS
    | SEND_MESSAGES_IN_THREADS
)

# Message types / flags used by the fake.
MESSAGE_TYPE_DEFAULT = 0
MESSAGE_TYPE_REPLY = 19
MESSAGE_TYPE_CHAT_INPUT_COMMAND = 20
MESSAGE_TYPE_CONTEXT_MENU_COMMAND = 23
FLAG_EPHEMERAL = 1 << 6
FLAG_LOADING = 1 << 7

# Interaction types and application command option types.
INTERACTION_APPLICATION_COMMAND = 2
INTERACTION_MESSAGE_COMPONENT = 3
INTERACTION_AUTOCOMPLETE = 4
INTERACTION_MODAL_SUBMIT = 5
# Application command types.
CHAT_INPUT_COMMAND = 1
MESSAGE_COMMAND = 3
SUB_COMMAND = 1
SUB_COMMAND_GROUP = 2
STRING = 3
INTEGER = 4
BOOLEAN = 5
USER = 6
CHANNEL = 7
ROLE = 8
MENTIONABLE = 9
NUMBER = 10
ATTACHMENT = 11
# Component types (docs components/reference.mdx).
ACTION_ROW = 1
#: Component types that carry a ``custom_id`` the bot can be called back with.
BUTTON = 2
TEXT_INPUT = 4
TEXT_DISPLAY = 10
LABEL = 18
FILE_UPLOAD = 19
#: String, user, role, mentionable and channel selects.
SELECTS = frozenset({3, 5, 6, 7, 8})

#: Discord's locales (the spec's ``AvailableLocalesEnum``): the only keys ``*_localizations``
#: dicts may have.
LOCALES = frozenset(
    (  # noqa: SIM905 - a word list reads better than 34 one-line strings
        "ar bg cs da de el en-GB en-US es-419 es-ES fi fr he hi hr hu id it ja ko lt nl no pl "
        "pt-BR ro ru sv-SE th tr uk vi zh-CN zh-TW"
    ).split()
)

_snowflake_lock = threading.Lock()
_last_snowflake = 0


def snowflake() -> int:
    """Return a fresh, strictly increasing snowflake for the current time."""
    global _last_snowflake  # noqa: PLW0603 - process-wide monotonic counter
    candidate = (int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22
    with _snowflake_lock:
        _last_snowflake = max(candidate, _last_snowflake + 1)
        return _last_snowflake


def snowflake_time(value: int) -> datetime:
    """Return the UTC creation time encoded in a snowflake."""
    return datetime.fromtimestamp(((value >> 22) + DISCORD_EPOCH_MS) / 1000, tz=UTC)


def iso(dt: datetime) -> str:
    """Format a datetime the way Discord does (ISO 8601 with offset)."""
    return dt.isoformat()


def now_iso() -> str:
    """Return the current UTC time in Discord's timestamp format."""
    return iso(datetime.now(UTC))


def user_object(user_id: int, username: str, *, bot: bool = False) -> dict[str, Any]:
    """Build a user object (discord.py needs id, username, discriminator, avatar)."""
    user: dict[str, Any] = {
        "id": str(user_id),
        "username": username,
        "discriminator": "0",
        "global_name": None if bot else username.title(),
        "avatar": None,
        "public_flags": 0,
    }
    if bot:
        user["bot"] = True
    return user


def member_object(
    user: dict[str, Any],
    *,
    permissions: int | None = None,
    joined_at: str | None = None,
    roles: Iterable[int] = (),
) -> dict[str, Any]:
    """Build a guild member object (discord.py needs user, roles, flags)."""
    member: dict[str, Any] = {
        "user": user,
        "roles": [str(r) for r in roles],
        "flags": 0,
        "joined_at": joined_at or "2024-01-01T00:00:00+00:00",
        "nick": None,
        "avatar": None,
        "premium_since": None,
        "pending": False,
        "deaf": False,
        "mute": False,
    }
    if permissions is not None:
        member["permissions"] = str(permissions)
    return member


def guild_text_channel(
    channel_id: int,
    guild_id: int,
    name: str,
    *,
    position: int = 0,
    nsfw: bool = False,
    overwrites: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Build a guild text channel object (type 0)."""
    return {
        "id": str(channel_id),
        "type": 0,
        "guild_id": str(guild_id),
        "name": name,
        "position": position,
        "permission_overwrites": list(overwrites or []),
        "nsfw": nsfw,
        "topic": None,
        "parent_id": None,
        "rate_limit_per_user": 0,
        "last_message_id": None,
        "flags": 0,
    }


def dm_channel(channel_id: int, recipient: dict[str, Any]) -> dict[str, Any]:
    """Build a DM channel object (type 1)."""
    return {
        "id": str(channel_id),
        "type": 1,
        "recipients": [recipient],
        "last_message_id": None,
        "flags": 0,
    }


def role_object(role_id: int, name: str, permissions: int, *, position: int = 0) -> dict[str, Any]:
    """Build a role object."""
    return {
        "id": str(role_id),
        "name": name,
        "permissions": str(permissions),
        "position": position,
        "color": 0,
        "hoist": False,
        "managed": False,
        "mentionable": False,
        "flags": 0,
    }


def guild_create(
    *,
    guild_id: int,
    owner_id: int,
    bot_member: dict[str, Any],
    channels: list[dict[str, Any]],
    everyone_permissions: int = EVERYONE_PERMISSIONS,
    roles: list[dict[str, Any]] | None = None,
    members: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Build the GUILD_CREATE ``d`` for the fake guild (not owned by the bot).

    ``roles`` must include @everyone (id = guild id) when given; ``members`` are extra
    members besides the bot.
    """
    if roles is None:
        roles = [role_object(guild_id, "@everyone", everyone_permissions)]
    all_members = [bot_member, *(members or [])]
    return {
        "id": str(guild_id),
        "name": "Fake Guild",
        "icon": None,
        "unavailable": False,
        "owner_id": str(owner_id),
        "member_count": max(2, len(all_members)),
        "large": False,
        "roles": roles,
        "channels": channels,
        "threads": [],
        "members": all_members,
        "voice_states": [],
        "presences": [],
        "emojis": [],
        "stickers": [],
        "features": [],
        "premium_tier": 0,
        "preferred_locale": "en-US",
        "joined_at": bot_member["joined_at"],
        "system_channel_id": None,
        "afk_channel_id": None,
        "afk_timeout": 300,
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "mfa_level": 0,
        "nsfw_level": 0,
        "application_id": None,
    }


def application_object(app_id: int, owner: dict[str, Any], bot: dict[str, Any]) -> dict[str, Any]:
    """Build the GET /oauth2/applications/@me body (no interactions_endpoint_url)."""
    return {
        "id": str(app_id),
        "name": "Fake App",
        "description": "",
        "icon": None,
        "bot_public": True,
        "bot_require_code_grant": False,
        "owner": owner,
        "team": None,
        "verify_key": "0" * 64,
        "flags": 0,
        "summary": "",
        "bot": bot,
    }


def attachment_object(
    *,
    attachment_id: int,
    filename: str,
    size: int,
    url: str,
    content_type: str | None = None,
    width: int | None = None,
    height: int | None = None,
    ephemeral: bool = False,
    description: str | None = None,
) -> dict[str, Any]:
    """Build an attachment object; ``content_type`` is omitted when unknown (it is optional)."""
    att: dict[str, Any] = {
        "id": str(attachment_id),
        "filename": filename,
        "size": size,
        "url": url,
        "proxy_url": url,
        "width": width,
        "height": height,
    }
    if content_type is not None:
        att["content_type"] = content_type
    if description is not None:
        att["description"] = description
    if ephemeral:
        att["ephemeral"] = True
    return att


_USER_MENTION = re.compile(r"<@!?(\d+)>")
_ROLE_MENTION = re.compile(r"<@&(\d+)>")


def resolve_mentions(
    content: str,
    allowed_mentions: dict[str, Any] | None,
    *,
    default_parse: frozenset[str],
    known_users: dict[int, dict[str, Any]],
) -> tuple[list[dict[str, Any]], list[str], bool]:
    """Apply Discord's allowed_mentions rules; return (mentions, mention_roles, everyone).

    Permissions (e.g. MENTION_EVERYONE) are not checked: ``mention_everyone`` says
    whether Discord *would* ping @everyone/@here if the sender were allowed to.
    """
    if allowed_mentions is None:
        parse, users, roles = set(default_parse), set(), set()
    else:
        parse = set(allowed_mentions.get("parse") or [])
        users = {str(u) for u in allowed_mentions.get("users") or []}
        roles = {str(r) for r in allowed_mentions.get("roles") or []}
    mentioned_users = [
        uid
        for uid in dict.fromkeys(_USER_MENTION.findall(content))
        if "users" in parse or uid in users
    ]
    mentions = [
        known_users.get(int(uid)) or user_object(int(uid), f"user{uid}") for uid in mentioned_users
    ]
    mention_roles = [
        rid
        for rid in dict.fromkeys(_ROLE_MENTION.findall(content))
        if "roles" in parse or rid in roles
    ]
    everyone = "everyone" in parse and ("@everyone" in content or "@here" in content)
    return mentions, mention_roles, everyone


def message_object(
    *,
    message_id: int,
    channel_id: int,
    guild_id: int | None,
    author: dict[str, Any],
    content: str = "",
    embeds: list[dict[str, Any]] | None = None,
    attachments: list[dict[str, Any]] | None = None,
    components: list[dict[str, Any]] | None = None,
    flags: int = 0,
    message_type: int = MESSAGE_TYPE_DEFAULT,
    tts: bool = False,
    nonce: str | int | None = None,
    mentions: list[dict[str, Any]] | None = None,
    mention_roles: list[str] | None = None,
    mention_everyone: bool = False,
    webhook_id: int | None = None,
    application_id: int | None = None,
    message_reference: dict[str, Any] | None = None,
    interaction_metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Build a message object with every field discord.py's Message parser reads."""
    msg: dict[str, Any] = {
        "id": str(message_id),
        "type": message_type,
        "content": content,
        "channel_id": str(channel_id),
        "author": author,
        "attachments": list(attachments or []),
        "embeds": list(embeds or []),
        "mentions": list(mentions or []),
        "mention_roles": list(mention_roles or []),
        "mention_everyone": mention_everyone,
        "components": list(components or []),
        "flags": flags,
        "timestamp": iso(snowflake_time(message_id)),
        "edited_timestamp": None,
        "pinned": False,
        "tts": tts,
    }
    if guild_id is not None:
        msg["guild_id"] = str(guild_id)
    if nonce is not None:
        msg["nonce"] = nonce
    if webhook_id is not None:
        msg["webhook_id"] = str(webhook_id)
    if application_id is not None:
        msg["application_id"] = str(application_id)
    if message_reference is not None:
        msg["message_reference"] = message_reference
    if interaction_metadata is not None:
        msg["interaction_metadata"] = interaction_metadata
    return msg


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


# ---------------------------------------------------------------- permissions


def base_permissions(role_permissions: Iterable[int], *, owner: bool = False) -> int:
    """Guild-level permissions from @everyone plus the member's roles (owner/admin: all)."""
    perms = 0
    for value in role_permissions:
        perms |= value
    if owner or perms & ADMINISTRATOR:
        return ALL_PERMISSIONS
    return perms


def channel_permissions(
    base: int,
    overwrites: Iterable[dict[str, Any]],
    *,
    guild_id: int,
    member_id: int,
    member_roles: Iterable[int],
) -> int:
    """Apply a channel's overwrites (@everyone, roles, member) and the implicit denials.

    Same order as Discord (docs topics/permissions.mdx) and discord.py's ``permissions_for``:
    no VIEW_CHANNEL denies every channel permission (guild-wide ones stay); no SEND_MESSAGES
    also removes TTS, @everyone mentions, embeds and files.
    """
    if base & ADMINISTRATOR or base == ALL_PERMISSIONS:
        return ALL_PERMISSIONS
    by_id = {int(o["id"]): o for o in overwrites}
    perms = base
    everyone = by_id.get(guild_id)
    if everyone is not None:
        perms = (perms & ~int(everyone["deny"])) | int(everyone["allow"])
    allow = deny = 0
    for role_id in member_roles:
        ow = by_id.get(role_id)
        if ow is not None and ow["type"] == 0:
            allow |= int(ow["allow"])
            deny |= int(ow["deny"])
    perms = (perms & ~deny) | allow
    mine = by_id.get(member_id)
    if mine is not None and mine["type"] == 1:
        perms = (perms & ~int(mine["deny"])) | int(mine["allow"])
    if not perms & VIEW_CHANNEL:
        return perms & ~ALL_CHANNEL_PERMISSIONS
    if not perms & SEND_MESSAGES:
        perms &= ~(SEND_TTS_MESSAGES | MENTION_EVERYONE | EMBED_LINKS | ATTACH_FILES)
    return perms


# ---------------------------------------------------------------- components


def iter_components(components: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Yield every component, depth first (rows, containers, accessories, label children)."""
    for comp in components:
        yield comp
        yield from iter_components(comp.get("components") or [])
        for key in ("accessory", "component"):  # section accessory, label child
            if isinstance(comp.get(key), dict):
                yield from iter_components([comp[key]])


def numbered_components(components: Iterable[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """Copy of ``components`` where each one without an ``id`` gets a unique one, like Discord."""
    result = copy.deepcopy(list(components or []))
    used = {c["id"] for c in iter_components(result) if isinstance(c.get("id"), int)}
    next_id = 1
    for comp in iter_components(result):
        if comp.get("id") is None:
            while next_id in used:
                next_id += 1
            comp["id"] = next_id
            used.add(next_id)
    return result


def buttons_of(message: dict[str, Any]) -> list[dict[str, Any]]:
    """Every button on a message (each a dict with ``custom_id``/``label``/``style``...)."""
    return [c for c in iter_components(message.get("components") or []) if c["type"] == BUTTON]


# ---------------------------------------------------------------- modals

ModalValue = str | list[str] | list[dict[str, Any]]


def modal_submit_components(
    components: Iterable[dict[str, Any]], values: dict[str, ModalValue]
) -> list[dict[str, Any]]:
    """Mirror a modal's (numbered) components as MODAL_SUBMIT ``data.components``.

    Action rows come back as rows of ``{type, id, custom_id, value}``, labels as
    ``{type: 18, id, component: {...}}`` and text displays as ``{type: 10, id}`` (docs
    components/reference.mdx). A text input the user leaves alone submits its prefilled
    ``value`` (or ""); what the Discord client would refuse to submit raises ``ValueError``:
    a missing required text, a length outside min/max, a value for no input.
    """
    unused = set(values)

    def field(comp: dict[str, Any]) -> dict[str, Any]:
        custom_id = comp["custom_id"]
        unused.discard(custom_id)
        out = {"type": comp["type"], "id": comp["id"], "custom_id": custom_id}
        given = values.get(custom_id)
        if comp["type"] == TEXT_INPUT:
            out["value"] = _text_input_value(comp, given)
        elif comp["type"] in SELECTS or comp["type"] == FILE_UPLOAD:
            if given is None or isinstance(given, str):
                raise ValueError(f"{custom_id!r} takes a list of values")
            out["values"] = [v["id"] if isinstance(v, dict) else str(v) for v in given]
        else:
            raise ValueError(f"the fake cannot submit component type {comp['type']}")
        return out

    def mirror(comp: dict[str, Any]) -> dict[str, Any]:
        if comp["type"] == ACTION_ROW:
            rows = [field(c) for c in comp["components"]]
            return {"type": ACTION_ROW, "id": comp["id"], "components": rows}
        if comp["type"] == LABEL:
            return {"type": LABEL, "id": comp["id"], "component": field(comp["component"])}
        return {"type": comp["type"], "id": comp["id"]}

    mirrored = [mirror(c) for c in components]
    if unused:
        raise ValueError(f"the modal has no input {sorted(unused)}")
    return mirrored


def _text_input_value(comp: dict[str, Any], given: ModalValue | None) -> str:
    """The text a user submits in a text input, checked as the Discord client checks it."""
    text = (comp.get("value") or "") if given is None else given
    if not isinstance(text, str):
        raise ValueError(f"{comp['custom_id']!r} takes a string")
    required = comp.get("required")
    if text == "" and (required is None or required):
        raise ValueError(f"{comp['custom_id']!r} is required")
    low, high = comp.get("min_length") or 0, comp.get("max_length") or 4000
    if text and not low <= len(text) <= high:
        raise ValueError(f"{comp['custom_id']!r} must be {low}-{high} characters")
    return text


def modal_attachments(values: dict[str, ModalValue]) -> list[dict[str, Any]]:
    """Attachment objects given as file-upload values (they go to ``data.resolved``)."""
    lists = [given for given in values.values() if isinstance(given, list)]
    return [v for given in lists for v in given if isinstance(v, dict)]


# ---------------------------------------------------------------- localizations


def unknown_locales(command: dict[str, Any]) -> list[str]:
    """Paths of ``*_localizations`` keys in a command (options, choices) that are no locale."""
    found: list[str] = []

    def visit(node: dict[str, Any], path: str) -> None:
        for key in ("name_localizations", "description_localizations"):
            for locale in node.get(key) or {}:
                if locale not in LOCALES:
                    found.append(f"{path}.{key}.{locale}")
        for child in ("options", "choices"):
            for index, item in enumerate(node.get(child) or []):
                visit(item, f"{path}.{child}[{index}]")

    visit(command, command.get("name", "?"))
    return found
