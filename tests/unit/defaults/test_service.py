"""DefaultsService on a real store: a member's defaults saved per server and checked against the
server's model and locks; the mention shared with /animate-notify; a server's defaults and
locks, audited."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import SecretStr

from bot.defaults.service import DefaultsService
from bot.errors import UserError
from bot.guilds.admin import GuildAdmin
from bot.jobs import request_messages as messages
from bot.jobs.model import OptionDefaults, OptionLocks
from bot.settings import Settings
from bot.storage.store import SqlStore
from bot.video.veo import VEO_3_1_FAST

NOW = datetime(2026, 5, 20, 12, 0, tzinfo=UTC)
GUILD, OTHER_GUILD = 555, 556
ADMIN, ALICE = 1, 1001
SETTINGS = Settings(
    discord_token=SecretStr("x"),
    vibedream_api_key=SecretStr("y"),
    _env_file=None,  # type: ignore[call-arg]
)


@pytest.fixture
def defaults(store: SqlStore) -> DefaultsService:
    return DefaultsService(settings=SETTINGS, store=store, now=lambda: NOW)


async def test_a_saved_default_shows_and_changes_what_a_clip_gets(
    defaults: DefaultsService,
) -> None:
    before = await defaults.view(GUILD, ALICE)
    after = await defaults.save(GUILD, ALICE, "duration", "8")

    assert before.effective is not None
    assert before.effective.duration_s == 5
    assert after.saved.options.duration_s == 8
    assert after.effective is not None
    assert after.effective.duration_s == 8
    assert (await defaults.view(OTHER_GUILD, ALICE)).saved.options.duration_s is None


async def test_variations_are_saved_one_to_four(defaults: DefaultsService) -> None:
    assert (await defaults.save(GUILD, ALICE, "variations", "4")).saved.variations == 4
    with pytest.raises(UserError):
        await defaults.save(GUILD, ALICE, "variations", "5")
    assert (await defaults.view(GUILD, ALICE)).saved.variations == 4


async def test_a_value_the_servers_model_does_not_make_is_refused_and_nothing_saved(
    defaults: DefaultsService, store: SqlStore
) -> None:
    await GuildAdmin(settings=SETTINGS, store=store).set_model(GUILD, ADMIN, VEO_3_1_FAST.id)

    with pytest.raises(UserError) as caught:
        await defaults.save(GUILD, ALICE, "duration", "5")

    assert caught.value.user_message == messages.model_value(
        VEO_3_1_FAST.id, "duration", "5", "4, 6, 8"
    )
    assert (await defaults.view(GUILD, ALICE)).saved.options == OptionDefaults()


async def test_a_value_above_the_servers_lock_is_refused(defaults: DefaultsService) -> None:
    await defaults.set_server_lock(GUILD, ADMIN, "resolution", "720p")

    with pytest.raises(UserError) as caught:
        await defaults.save(GUILD, ALICE, "resolution", "1080p")

    assert caught.value.user_message == messages.over_lock("resolution", "1080p", "720p")


async def test_reset_clears_every_saved_default_but_not_the_mention(
    defaults: DefaultsService, store: SqlStore
) -> None:
    await defaults.save(GUILD, ALICE, "camera_fixed", "on")
    await defaults.set_mention(GUILD, ALICE, False)

    shown = await defaults.reset(GUILD, ALICE)

    assert shown.saved.options == OptionDefaults()
    assert shown.mention_on_done is False
    assert await store.mention_on_done(ALICE) is False  # the one preference /animate-notify reads


async def test_server_defaults_and_locks_are_stored_and_audited(
    defaults: DefaultsService, store: SqlStore
) -> None:
    await defaults.set_server_default(GUILD, ADMIN, "resolution", "480p")
    config = await defaults.set_server_lock(GUILD, ADMIN, "duration", "6")

    assert config.defaults == OptionDefaults(resolution="480p")
    assert config.locks == OptionLocks(max_duration_s=6)
    assert [(a.action, a.detail) for a in await store.audit_log(GUILD, 5)] == [
        ("lock-duration", "6"),
        ("default-resolution", "480p"),
    ]
    with pytest.raises(UserError):
        await defaults.set_server_default(GUILD, ADMIN, "duration", "8")  # above the lock
