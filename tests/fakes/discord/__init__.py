"""Loopback fake of Discord (REST API, CDN and gateway) for black-box tests of a dpy 2.7 bot.

An unmodified ``discord.py`` client talks to it once ``discord.http.Route.BASE`` is set to
``fake.api_url`` and ``DiscordWebSocket.DEFAULT_GATEWAY`` to ``yarl.URL(fake.gateway_url)``.
Behaviour follows shared/research/discord-platform.md (sections A-C, E): exact
``application/json`` content type, 200 + body for ``with_response`` callbacks, 3 s ack window,
interaction-token expiry (401/50027), upload limits (413/40005), nonce dedupe, 429 with ``Via``.

Observing: ``fake.requests`` records every HTTP request (paths without ``/api/v10``; CDN paths
keep ``/cdn``; the gateway upgrade is ``GET /gateway`` with status 101). Bodies of the
message/command routes are validated against Discord's OpenAPI request schemas; problems go
to ``fake.violations`` (so does any internal error of the fake, answered with a 500), as
do ``*_localizations`` keys that are not Discord locales (answered 400/50035).
``fake.messages`` holds live messages by id (``add_user_message`` adds a user's, with
``add_attachment`` files and ``image_embed`` embeds the fake CDN serves).

Guild model: roles (``add_role``), members with roles (``add_member``, ``set_roles``; the bot
too), channel permission overwrites (``set_overwrite``, ``deny_bot``, ``hide_channel_from_bot``).
GUILD_CREATE carries all of them, so discord.py's ``permissions_for(guild.me)`` agrees with the
fake, which enforces the bot's computed permissions on channel routes (403 50001/50013) and
derives ``app_permissions`` and ``member.permissions`` of interactions from them.

Sharding: ``use_shards(count, max_concurrency=…)`` adds plain guilds (``add_guild``) so each
shard has some; each IDENTIFY then names its shard and gets that shard's guilds, interactions
go to their guild's shard, IDENTIFYs too soon in their bucket get INVALID_SESSION (see
``gateway`` and ``tests/fakes/test_fake_discord_shards.py``).

Interactions: chat-input commands (``make_interaction``; options built with ``subcommand``,
``user_option``, ``channel_option``, ``role_option``... get ``data.resolved`` filled in) and
button/select presses on known messages (``make_component_interaction``), with callback
types 4, 5 and, for components, 6 and 7. Commands and components may open a modal
(callback 9, kept for ``modal_of``); ``make_modal_submit_interaction`` submits it (type 5,
answered with 4, 5 or, from a component, 6 and 7). Message context-menu commands
(``make_message_command_interaction``) target a live message; autocompletes
(``make_autocomplete_interaction``) take only callback 8, kept for ``choices_of``.

Not modelled: rate-limit buckets (only injected 429s), gateway MESSAGE_* events and
unprompted CHANNEL_*/ROLE_*/MEMBER_* events (setup changes reach the bot via GUILD_CREATE, or
via ``push_guild_update()`` once it is connected),
event replay on RESUME, zlib/zstd compression (dpy accepts plain text frames), threads.
Uploaded files are kept in memory up to ``keep_file_bytes`` (``upload_of``) and served by
the fake CDN at signed URLs (``?ex=&is=&hm=``, as ``add_attachment`` files) until their
message is deleted; bigger uploads are hashed, not kept, and their URLs answer 404.

Where things are. ``FakeDiscord`` (``fake.py``: its state and route table) is put together
from one part per concern, each a class in its own module:

- ``server`` (start, stop, the one entry point every request goes through), ``recording``
  (``requests``, ``wait_for_request``), ``http`` (errors, routes), ``faults`` (``fail_next``,
  random faults), ``rules`` (3 s ack, token expiry, upload limits, nonces, channel permissions);
- ``guild`` (ids, channels, roles, members, permissions), ``interactions`` (``make_*``),
  ``options`` (option builders, ``data.resolved``), ``gateway`` (socket, READY, RESUME,
  ``send_interaction``, ``push_guild_update``);
- REST routes by resource: ``users`` (users, DMs, application), ``commands``, ``channels``,
  ``messages`` (how messages are made and edited), ``callbacks``, ``webhooks`` (followups),
  ``cdn``;
- pure payloads: ``constants`` (permission bits, types, flags, locales), ``payloads`` (users,
  members, channels, roles, guild, messages), ``permissions``, ``components``; ``schemas``
  validates request bodies against ``request_schemas.json`` (made by ``extract_schemas.py``).
"""

from __future__ import annotations

from tests.fakes.discord.components import buttons_of, iter_components
from tests.fakes.discord.fake import FakeDiscord
from tests.fakes.discord.payloads import snowflake
from tests.fakes.discord.recording import RecordedFile, RecordedRequest

__all__ = [
    "FakeDiscord",
    "RecordedFile",
    "RecordedRequest",
    "buttons_of",
    "iter_components",
    "snowflake",
]
