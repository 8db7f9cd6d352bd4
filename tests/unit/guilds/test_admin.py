"""GuildAdmin on a real store: every change applied and audited, limits, blocks, reports and
the CSV export (with spreadsheet formulas defused)."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.errors import UserError
from bot.guilds import messages
from bot.guilds.admin import GuildAdmin
from bot.jobs.model import Job, NewJob, Origin
from bot.settings import Settings
from bot.storage.store import SqlStore
from bot.video.grok import GROK_IMAGINE
from bot.video.seedance import SEEDANCE_1_5_PRO
from bot.video.veo import VEO_3_1_FAST
from tests import factories
from tests.factories import SETTINGS

NOW = datetime(2026, 5, 20, 12, 0, tzinfo=UTC)
GUILD, OTHER_GUILD = 555, 556
ADMIN, ALICE, BOB = 1, 1001, 1002


def settings() -> Settings:
    return Settings(
        discord_token=SecretStr("x"),
        vibedream_api_key=SecretStr("y"),
        default_user_daily_limit=10,
        default_user_cooldown_s=30,
        _env_file=None,  # type: ignore[call-arg]
    )


@pytest.fixture
def admin(store: SqlStore) -> GuildAdmin:
    return GuildAdmin(settings=settings(), store=store, now=lambda: NOW)


async def add_job(
    store: SqlStore,
    *,
    user_id: int = ALICE,
    guild_id: int = GUILD,
    prompt: str = "a cat",
    at: datetime = NOW,
    model: str = SEEDANCE_1_5_PRO.id,
) -> Job:
    new = NewJob(
        model=model,
        origin=Origin(
            guild_id=guild_id,
            channel_id=777,
            user_id=user_id,
            application_id=999,
            interaction_token="t",
            interaction_expires_at=at + timedelta(minutes=15),
            upload_limit_bytes=10 * 1024 * 1024,
        ),
        prompt=prompt,
        image_url="https://cdn.example.com/cat.png",
        last_image_url=None,
        settings=SETTINGS,
        nonce="n",
    )
    job = await store.admit(new, at, reserve_cents=100, cooldown_s=0, decide=lambda _: None)
    assert isinstance(job, Job)
    return job


async def actions(store: SqlStore) -> list[tuple[int, str, str]]:
    """The audit trail, oldest first."""
    return [(e.actor_id, e.action, e.detail) for e in reversed(await store.audit_log(GUILD, 100))]


# Changes and their audit trail ---------------------------------------------------------------


async def test_every_change_is_applied_and_audited(admin: GuildAdmin, store: SqlStore) -> None:
    await admin.allow_channel(GUILD, ADMIN, 10)
    await admin.allow_channel(GUILD, ADMIN, 11)
    await admin.remove_channel(GUILD, ADMIN, 10)
    await admin.set_nsfw_only(GUILD, ADMIN, True)
    await admin.allow_role(GUILD, ADMIN, 20)
    await admin.allow_role(GUILD, ADMIN, 21)
    await admin.remove_role(GUILD, ADMIN, 21)
    await admin.set_mod_log(GUILD, ADMIN, 30)
    config = await admin.set_limit(GUILD, ADMIN, "daily", "5")

    assert config.channel_ids == frozenset({11})
    assert config.nsfw_only
    assert config.role_ids == frozenset({20})
    assert config.mod_log_channel_id == 30
    assert config.limits == {"daily": 5}
    assert await store.guild_config(GUILD) == config
    trail = await actions(store)
    assert [a for _, a, _ in trail] == [
        "channel-allow",
        "channel-allow",
        "channel-remove",
        "nsfw-only",
        "role-allow",
        "role-allow",
        "role-remove",
        "mod-log",
        "limit-daily",
    ]
    assert all(actor == ADMIN for actor, _, _ in trail)
    assert trail[2][2] == "<#10>"
    assert trail[6][2] == "<@&21>"
    assert trail[7][2] == "<#30>"


async def test_clearing_lists_and_the_mod_log_is_audited(
    admin: GuildAdmin, store: SqlStore
) -> None:
    await admin.allow_channel(GUILD, ADMIN, 10)
    await admin.allow_role(GUILD, ADMIN, 20)
    await admin.set_mod_log(GUILD, ADMIN, 30)

    await admin.allow_all_channels(GUILD, ADMIN)
    await admin.allow_everyone(GUILD, ADMIN)
    config = await admin.set_mod_log(GUILD, ADMIN, None)

    assert config.channel_ids == frozenset()
    assert config.role_ids == frozenset()
    assert config.mod_log_channel_id is None
    assert [(a, d) for _, a, d in await actions(store)][-3:] == [
        ("channels-all", "every channel"),
        ("roles-everyone", "everyone"),
        ("mod-log", "off"),
    ]


async def test_changes_stay_on_their_own_server(admin: GuildAdmin, store: SqlStore) -> None:
    await admin.allow_channel(GUILD, ADMIN, 10)

    assert (await store.guild_config(OTHER_GUILD)).channel_ids == frozenset()
    assert await store.audit_log(OTHER_GUILD, 10) == []


# Limits ----------------------------------------------------------------------------------------


async def test_set_limit_number_unlimited_zero_and_back_to_default(
    admin: GuildAdmin, store: SqlStore
) -> None:
    assert (await admin.overview(GUILD)).limits.daily == 10  # the bot's default

    await admin.set_limit(GUILD, ADMIN, "daily", "unlimited")
    overview = await admin.overview(GUILD)
    assert overview.config.limits == {"daily": None}
    assert overview.limits.daily is None

    await admin.set_limit(GUILD, ADMIN, "daily", "0")
    assert (await admin.overview(GUILD)).limits.daily == 0

    await admin.set_limit(GUILD, ADMIN, "cooldown", "5m")
    assert (await admin.overview(GUILD)).limits.cooldown == 300

    await admin.set_limit(GUILD, ADMIN, "daily", "default")
    overview = await admin.overview(GUILD)
    assert "daily" not in overview.config.limits
    assert overview.limits.daily == 10
    assert overview.limits.cooldown == 300

    trail = await actions(store)
    assert [a for _, a, _ in trail] == ["limit-daily"] * 2 + ["limit-cooldown", "limit-daily"]
    assert trail[-1][2] == "default"
    assert trail[0][2] == "unlimited"  # the audit trail is kept in English
    assert trail[1][2] == "0 (blocked)"


async def test_a_refused_limit_value_changes_nothing(admin: GuildAdmin, store: SqlStore) -> None:
    with pytest.raises(UserError) as refused:
        await admin.set_limit(GUILD, ADMIN, "monthly_spend", "lots")

    assert refused.value.user_message == messages.bad_limit_value("monthly_spend", "lots")
    assert await store.audit_log(GUILD, 10) == []
    assert (await store.guild_config(GUILD)).limits == {}


# Blocks ----------------------------------------------------------------------------------------


async def test_block_and_unblock_are_audited_and_shown(admin: GuildAdmin, store: SqlStore) -> None:
    block = await admin.block(GUILD, ADMIN, BOB, "  posting\n  spam   again ")

    assert block.reason == "posting spam again"
    assert block.blocked_at == NOW
    overview = await admin.overview(GUILD)
    assert [b.user_id for b in overview.blocks] == [BOB]
    assert await admin.unblock(GUILD, ADMIN, BOB)
    assert not await admin.unblock(GUILD, ADMIN, BOB)
    trail = await actions(store)
    assert [a for _, a, _ in trail] == ["block", "unblock"]
    assert "posting spam again" in trail[0][2]
    assert (await admin.overview(GUILD)).blocks == ()


async def test_block_reason_is_bounded_and_an_empty_one_reads_as_no_reason_given(
    admin: GuildAdmin,
) -> None:
    empty = await admin.block(GUILD, ADMIN, BOB, "   ")
    assert empty.reason == ""
    assert "Reason: no reason given" in messages.blocked(empty.reason).render()
    assert "Raison : aucune raison donnée" in messages.blocked(empty.reason).render("fr")
    assert len((await admin.block(GUILD, ADMIN, ALICE, "x" * 5000)).reason) == 300


async def test_overview_shows_the_last_ten_changes_newest_first(admin: GuildAdmin) -> None:
    for channel in range(12):
        await admin.allow_channel(GUILD, ADMIN, 100 + channel)

    changes = (await admin.overview(GUILD)).recent_changes

    assert [c.detail for c in changes] == [f"<#{100 + c}>" for c in range(11, 1, -1)]


# Reports and CSV ----------------------------------------------------------------------------------


async def test_usage_periods(admin: GuildAdmin, store: SqlStore) -> None:
    await add_job(store, at=NOW - timedelta(hours=1))  # today
    await add_job(store, at=NOW - timedelta(days=3))  # this month
    await add_job(store, at=NOW - timedelta(days=40))  # earlier

    day, month, ever = [await admin.usage(GUILD, p) for p in ("day", "month", "all")]

    assert [r.totals.cost_cents for r in (day, month, ever)] == [100, 200, 300]
    assert day.since == datetime(2026, 5, 20, tzinfo=UTC)
    assert month.since == datetime(2026, 5, 1, tzinfo=UTC)
    assert ever.since is None


async def test_export_csv_lists_the_periods_jobs_with_formulas_defused(
    admin: GuildAdmin, store: SqlStore, tmp_path: Path
) -> None:
    plain = await add_job(store, prompt='a cat, with a comma and "quotes"\nover two lines')
    risky = [
        await add_job(store, user_id=BOB, prompt=p)
        for p in ('=HYPERLINK("http://x")', "+1+1", "-2", "@SUM(A1)", "\tx", "\ry", "  =1+1")
    ]
    failed = await add_job(store, prompt="fails")
    await factories.fail(store, failed.id, "=cmd|' /C calc'!A0", 29, NOW)
    await add_job(store, prompt="old", at=NOW - timedelta(days=40))
    await add_job(store, prompt="elsewhere", guild_id=OTHER_GUILD)
    path = tmp_path / "export.csv"

    count = await admin.export_csv(GUILD, "month", path)

    with path.open(newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    assert count == len(rows) == 9
    assert [int(r["job_id"]) for r in rows] == [plain.id, *(j.id for j in risky), failed.id]
    first = rows[0]
    assert first["prompt"] == plain.prompt  # commas, quotes and newlines survive quoting
    assert first["user_id"] == str(ALICE)
    assert first["channel_id"] == "777"
    assert first["state"] == "queued"
    assert first["cost_usd"] == "1.00"  # still reserved
    assert first["created_at_utc"] == "2026-05-20T12:00:00+00:00"
    assert (first["duration_s"], first["resolution"], first["seed"]) == ("5", "720p", "7")
    assert first["model"] == "seedance-1.5-pro-i2v"
    for row, job in zip(rows[1:8], risky, strict=True):
        assert row["prompt"] == "'" + job.prompt
    last = rows[-1]
    assert (last["state"], last["cost_usd"]) == ("failed", "0.29")
    assert last["error"] == "'=cmd|' /C calc'!A0"
    assert last["prompt"] == "fails"


async def test_export_csv_of_an_empty_period_has_just_the_header(
    admin: GuildAdmin, tmp_path: Path
) -> None:
    path = tmp_path / "empty.csv"

    assert await admin.export_csv(GUILD, "day", path) == 0

    with path.open(newline="", encoding="utf-8") as file:
        (header,) = list(csv.reader(file))
    assert header[:3] == ["job_id", "created_at_utc", "user_id"]


async def test_the_report_shows_what_each_model_made_and_cost(
    admin: GuildAdmin, store: SqlStore
) -> None:
    await add_job(store)
    await add_job(store, model="veo3-i2v")
    await add_job(store, model="veo3-i2v", user_id=BOB)

    report = await admin.usage(GUILD, "month")

    assert [(m.model, m.totals.cost_cents) for m in report.by_model] == [
        ("veo3-i2v", 200),
        ("seedance-1.5-pro-i2v", 100),
    ]


# Which video model -------------------------------------------------------------------------------


async def test_a_chosen_model_is_saved_and_recorded_in_the_audit_trail(admin: GuildAdmin) -> None:
    chosen = await admin.set_model(GUILD, ADMIN, "veo3.1-fast")

    overview = await admin.overview(GUILD)
    assert chosen.id == overview.model.id == "veo3.1-fast"
    (entry,) = overview.recent_changes
    assert (entry.actor_id, entry.action) == (ADMIN, "model")
    assert entry.detail == "seedance-1.5-pro-i2v -> veo3.1-fast"
    assert (await admin.overview(OTHER_GUILD)).model.id == "seedance-1.5-pro-i2v"


async def test_default_goes_back_to_the_bots_model(admin: GuildAdmin) -> None:
    await admin.set_model(GUILD, ADMIN, "veo3.1-fast")

    chosen = await admin.set_model(GUILD, ADMIN, "default")

    assert chosen.id == "seedance-1.5-pro-i2v"
    assert (await admin.overview(GUILD)).config.model is None


async def test_an_unknown_model_is_refused_listing_those_offered(admin: GuildAdmin) -> None:
    with pytest.raises(UserError) as caught:
        await admin.set_model(GUILD, ADMIN, "sora-2")

    text = caught.value.user_message.render()
    assert "`sora-2`" in text
    assert "veo3.1-fast" in text
    assert "wan-2.2-spicy" not in text  # not offered to a server open to every channel
    assert (await admin.overview(GUILD)).recent_changes == ()


async def test_the_relaxed_model_needs_a_server_limited_to_age_restricted_channels(
    admin: GuildAdmin,
) -> None:
    with pytest.raises(UserError) as caught:
        await admin.set_model(GUILD, ADMIN, "wan-2.2-spicy")
    assert caught.value.user_message == messages.model_needs_nsfw_only("wan-2.2-spicy")

    await admin.set_nsfw_only(GUILD, ADMIN, True)
    chosen = await admin.set_model(GUILD, ADMIN, "wan-2.2-spicy")

    assert chosen.id == "wan-2.2-spicy"
    models = await admin.models(GUILD)
    assert models.current.id == "wan-2.2-spicy"
    assert models.bot_default.id == "seedance-1.5-pro-i2v"


async def test_the_models_listing_has_the_whole_catalogue_and_what_this_server_may_choose(
    admin: GuildAdmin,
) -> None:
    models = await admin.models(GUILD)

    assert len(models.catalogue) == 7
    assert [m.id for m in models.catalogue if m not in models.offered] == ["wan-2.2-spicy"]
    assert models.current is models.bot_default


def test_a_models_summary_shows_its_price_and_options() -> None:
    assert messages.model_summary(VEO_3_1_FAST).render() == (
        "from $0.88 · 4, 6, 8 s · 720p, 1080p · aspect 16:9, 9:16 · sound on request, seed"
    )
    assert messages.model_summary(GROK_IMAGINE).render().endswith("· always with sound")
