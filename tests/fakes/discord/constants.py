"""Discord's numbers the fake speaks: permission bits, message, interaction, command,
option and component types, and the locales ``*_localizations`` may name."""

from __future__ import annotations

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
