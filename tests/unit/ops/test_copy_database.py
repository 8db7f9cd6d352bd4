"""`python -m bot copy-database`: a SQLite database made through the store, copied into an
empty PostgreSQL one, reads back the same through the PostgreSQL store."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.guilds.model import AuditEntry, Block, GuildConfig
from bot.jobs.model import ImageInput, JobKind, JobState, OptionDefaults
from bot.members.model import MemberDefaults
from bot.ops import copy_database
from bot.settings import DatabaseUrl
from bot.storage.store import SqlStore
from bot.video.seedance import SEEDANCE_1_5_PRO
from tests import factories
from tests.fakes.secret_scan import SCAN

pytestmark = pytest.mark.usefixtures("postgres_server")

T0 = datetime(2026, 11, 3, 10, 0, tzinfo=UTC)
GUILD, OTHER_GUILD = 555, 556
ALICE, BOB, ADMIN = 1001, 1002, 9
IMAGE = ImageInput(
    url="https://cdn.discordapp.com/attachments/1/2/cat.png",
    filename="cat.png",
    size_bytes=1000,
    content_type="image/png",
    width=512,
    height=512,
)
#: The target's password: it must not show in the summary (the test server trusts anyone).
PASSWORD = "pg-password-never-shown"
SCAN.add_secret("DATABASE_URL password (copy-database)", PASSWORD)


def with_password(url: str) -> str:
    return url.replace("postgresql://postgres@", f"postgresql://postgres:{PASSWORD}@")


async def fill(store: SqlStore) -> None:
    """One of everything the bot keeps, made the way the bot makes it."""
    delivered = await factories.admit(store, factories.new_job(ALICE, now=T0), T0)
    await factories.move_to(store, delivered.id, JobState.CLAIMED)
    await factories.submit(store, delivered.id, "pred-1", 80, (30.0, 60.0), T0)
    await factories.complete(store, delivered.id, "https://out/1.mp4", None, T0)
    await factories.deliver(store, delivered.id, 777, "file", T0 + timedelta(minutes=1))
    child = factories.new_job(ALICE, now=T0, prompt="again")
    child = dataclasses.replace(child, kind=JobKind.REGENERATE, parent_job_id=delivered.id)
    await factories.admit(store, child, T0 + timedelta(hours=1), reserve_cents=100)
    failed = await factories.admit(store, factories.new_job(BOB, now=T0), T0)
    await factories.fail(store, failed.id, "refused", 0, T0)
    await factories.told(store, failed.id)
    other = factories.new_job(BOB, now=T0, guild_id=OTHER_GUILD)
    cancelled = await factories.admit(store, other, T0)
    await store.cancel_job(cancelled.id, ADMIN, T0)
    await store.update_guild_config(
        GUILD,
        lambda config: config.model_copy(update={"mod_log_channel_id": 4321}),
        AuditEntry(ADMIN, "limit", "daily 7", T0),
    )
    await store.block_user(GUILD, Block(BOB, "spam", ADMIN, T0))
    await store.set_mention_on_done(ALICE, False, T0)
    saved = MemberDefaults(options=OptionDefaults(duration_s=8, resolution="1080p"), variations=2)
    await store.set_member_defaults(GUILD, ALICE, saved, T0)
    await store.save_form("form-1", BOB, IMAGE, T0 + timedelta(days=3650), T0)
    await store.set_meta("command_tree_hash", "abc")


async def everything(store: SqlStore) -> dict[str, Any]:
    """What the bot reads back: quotas, history, reports, configuration, preferences."""
    return {
        "jobs": [await store.get_job(i) for i in range(1, 6)],
        "quota": await store.quota_usage(GUILD, ALICE, T0 + timedelta(hours=2), 30),
        "history": await store.history_page(GUILD, ALICE, size=5, before=None, after=None),
        "usage": await store.usage_report(ALICE, T0 + timedelta(hours=2)),
        "guild": await store.guild_usage(GUILD, None),
        "config": await store.guild_config(GUILD),
        "audit": await store.audit_log(GUILD, 10),
        "blocks": await store.blocks(GUILD),
        "mention": await store.mention_on_done(ALICE),
        "defaults": await store.member_defaults(GUILD, ALICE),
        "meta": await store.get_meta("command_tree_hash"),
        "expected cost": await store.expected_cost(SEEDANCE_1_5_PRO.id, factories.SETTINGS),
    }


async def test_a_copy_reads_back_the_same_through_the_postgresql_store(
    tmp_path: Path, empty_postgresql: str
) -> None:
    source = tmp_path / "bot.db"
    async with await SqlStore.open(source) as sqlite:
        await fill(sqlite)
        before = await everything(sqlite)
    assert before["config"] == GuildConfig(mod_log_channel_id=4321)

    copied = await copy_database.copy_database(
        DatabaseUrl.parse(f"sqlite:///{source}"), DatabaseUrl.parse(empty_postgresql)
    )

    assert copied.rows == {
        "jobs": 4,
        "meta": 1,
        "guild_config": 1,
        "guild_blocks": 1,
        "guild_audit": 2,
        "user_prefs": 1,
        "open_forms": 1,
        "member_defaults": 1,
    }
    async with await SqlStore.open(empty_postgresql) as postgresql:
        assert await everything(postgresql) == before
        assert await postgresql.take_form("form-1", BOB, T0) == IMAGE
        # Ids go on from where SQLite's ended.
        assert (await factories.admit(postgresql, factories.new_job(BOB, now=T0), T0)).id == 5


def filled_sqlite(tmp_path: Path) -> Path:
    """A SQLite database with a row in every table (`fill`), for the command line's tests."""
    source = tmp_path / "bot.db"

    async def filled() -> None:
        async with await SqlStore.open(source) as sqlite:
            await fill(sqlite)

    asyncio.run(filled())
    return source


def test_the_command_refuses_a_database_that_is_not_empty_and_masks_the_password(
    tmp_path: Path, empty_postgresql: str, capsys: pytest.CaptureFixture[str]
) -> None:
    source = filled_sqlite(tmp_path)
    args = ["--from", f"sqlite:///{source}", "--to", with_password(empty_postgresql)]

    assert copy_database.main(args) == 0
    first = capsys.readouterr()
    assert copy_database.main(args) == 2
    second = capsys.readouterr()

    assert "copied 12 rows in 8 tables" in first.out
    assert "postgres:***@" in first.out
    assert "is not empty (table " in second.err
    for text in (first.out, first.err, second.out, second.err):
        SCAN.scan_text("copy-database output", text)
        assert PASSWORD not in text


def test_the_command_copies_only_from_sqlite_into_postgresql(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert copy_database.main(["--from", "postgresql://h/a", "--to", "postgresql://h/b"]) == 2
    assert "copies a SQLite database (--from) into PostgreSQL (--to)" in capsys.readouterr().err


def test_the_target_may_come_from_the_environment_and_an_unreachable_one_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    source = filled_sqlite(tmp_path)
    # Nothing listens there: refused at once.
    unreachable = f"postgresql://bot:{PASSWORD}@127.0.0.1:9/bot"
    monkeypatch.setenv(copy_database.TARGET_VARIABLE, unreachable)

    assert copy_database.main(["--from", f"sqlite:///{source}"]) == 2

    told = capsys.readouterr()
    assert told.err.startswith("copy-database: ")
    assert told.err.count("\n") == 1
    assert "Traceback" not in told.err
    assert PASSWORD not in told.err + told.out
