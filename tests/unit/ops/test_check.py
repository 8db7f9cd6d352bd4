"""`python -m bot check`: each check's verdict and what it tells the operator to do."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from pydantic import SecretStr

from bot.ops.check import (
    Result,
    application_check,
    database_check,
    host_checks,
    main,
    shard_check,
    video_key_check,
)
from bot.ops.discord_rest import DiscordApplication, GatewayBot, InstallParams, PartialGuild
from bot.settings import DATABASE_URL_FORMS, Settings
from bot.storage.database import migrations
from bot.storage.store import SqlStore
from tests.fakes.fake_vibedream import FakeVibedream
from tests.fakes.secret_scan import SCAN

LATEST = max(number for number, _ in migrations())


def settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "discord_token": SecretStr("discord-token"),
        "vibedream_api_key": SecretStr("video-key"),
        **overrides,
    }
    return Settings(**values, _env_file=None)  # type: ignore[call-arg]


def test_a_result_is_one_line_led_by_its_verdict() -> None:
    assert Result("database", True, "fine").line() == "ok      database: fine"
    assert Result("database", False, "fix it").line() == "PROBLEM database: fix it"


def test_the_default_hosts_are_sane() -> None:
    assert all(result.ok for result in host_checks(settings()))


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            {"vibedream_output_hosts": "https://assets.vibedream.ai/outputs"},
            "VIBEDREAM_OUTPUT_HOSTS holds https://assets.vibedream.ai/outputs: give bare host",
        ),
        ({"vibedream_output_hosts": "*.vibedream.ai"}, "VIBEDREAM_OUTPUT_HOSTS holds *.vib"),
        (
            {"vibedream_output_hosts": "cdn.example.com"},
            "VIBEDREAM_OUTPUT_HOSTS lacks assets.vibedream.ai",
        ),
        ({"discord_cdn_hosts": " , "}, "DISCORD_CDN_HOSTS is empty"),
        (
            {"vibedream_output_require_https": False},
            "VIBEDREAM_OUTPUT_REQUIRE_HTTPS is off with the real API",
        ),
    ],
)
def test_host_lists_that_would_refuse_every_clip_or_let_anything_in_are_problems(
    overrides: dict[str, Any], expected: str
) -> None:
    problems = [r.detail for r in host_checks(settings(**overrides)) if not r.ok]

    assert len(problems) == 1
    assert problems[0].startswith(expected)


def test_a_test_server_s_own_hosts_need_not_be_the_real_ones() -> None:
    local = settings(
        vibedream_api_url="http://127.0.0.1:8000/api/v1",
        vibedream_output_hosts="127.0.0.1",
        vibedream_output_require_https=False,
    )

    assert all(result.ok for result in host_checks(local))


def application(**fields: Any) -> DiscordApplication:
    return DiscordApplication(id=5, name="Animate", **fields)


def test_an_application_set_up_as_the_readme_says_passes() -> None:
    result = application_check(application())

    assert result.ok
    assert "no privileged intent needed" in result.detail


def test_an_interactions_endpoint_would_take_the_commands_away() -> None:
    result = application_check(application(interactions_endpoint_url="https://example.com/i"))

    assert not result.ok
    assert result.detail.startswith("remove the Interactions Endpoint URL")


def test_a_default_install_link_without_a_scope_or_permission_says_which() -> None:
    install = InstallParams(scopes=["bot"], permissions=str(1024 + 2048))

    result = application_check(application(install_params=install))

    assert not result.ok
    assert "add the scope(s) applications.commands" in result.detail
    assert "add Embed Links, Attach Files, Send Messages in Threads" in result.detail


def test_privileged_intents_are_mentioned_but_not_a_problem() -> None:
    result = application_check(application(flags=1 << 19))

    assert result.ok
    assert "message content switched on" in result.detail


def test_a_server_where_the_bot_lacks_a_permission_names_it() -> None:
    everything = 1024 | 2048 | (1 << 14) | (1 << 15) | (1 << 38)

    assert PartialGuild(id=1, name="g", permissions=everything).missing_permissions() == []
    assert PartialGuild(id=1, name="g", permissions=8).missing_permissions() == []  # admin
    lacking = PartialGuild(id=1, name="g", permissions=everything & ~(1 << 15))
    assert lacking.missing_permissions() == ["Attach Files"]


async def test_a_database_not_made_yet_is_fine_where_it_can_be_made(tmp_path: Path) -> None:
    result = await database_check(settings(database_url=f"sqlite:///{tmp_path}/data/bot.db"))

    assert result.ok
    assert result.detail == (
        f"{tmp_path}/data/bot.db will be created at the first start ({LATEST} migrations)"
    )
    assert not (tmp_path / "data").exists()  # nothing written


async def test_an_up_to_date_database_gives_its_version(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    async with await SqlStore.open(path):
        pass

    result = await database_check(settings(database_url=f"sqlite:///{path}"))

    assert result == Result(
        "database", True, f"{path} answers, schema version {LATEST}; no migration pending"
    )


async def test_an_older_database_lists_the_migrations_the_start_will_apply(
    tmp_path: Path,
) -> None:
    path = tmp_path / "bot.db"
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {LATEST - 2}")
    before = path.read_bytes()

    result = await database_check(settings(database_url=f"sqlite:///{path}"))

    assert result.ok
    assert result.detail.endswith(
        f"schema version {LATEST - 2}; 2 migration(s) pending, applied at the next start: "
        f"{LATEST - 1:04d}, {LATEST:04d}"
    )
    assert path.read_bytes() == before  # read-only


async def test_a_database_from_a_newer_bot_is_a_problem(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {LATEST + 1}")

    result = await database_check(settings(database_url=f"sqlite:///{path}"))

    assert not result.ok
    assert "written by a newer bot" in result.detail


async def test_a_database_url_that_is_neither_sqlite_nor_postgresql_is_a_problem() -> None:
    result = await database_check(settings(database_url="mysql://bot:pw-never-shown@db/bot"))

    assert result == Result(
        "database",
        False,
        f"DATABASE_URL (mysql://bot:***@db/bot) must look like {DATABASE_URL_FORMS}: "
        "it is neither sqlite:/// nor postgresql://",
    )


#: A PostgreSQL password in DATABASE_URL: never in check's output (the test server trusts all).
PG_PASSWORD = "pg-password-for-check"
SCAN.add_secret("DATABASE_URL password (check)", PG_PASSWORD)


async def test_a_postgresql_database_answers_with_its_schema_version_and_a_masked_url(
    empty_postgresql: str,
) -> None:
    url = empty_postgresql.replace("postgres@", f"postgres:{PG_PASSWORD}@")
    before = await database_check(settings(database_url=url))
    async with await SqlStore.open(url):
        pass
    after = await database_check(settings(database_url=url))

    masked = url.replace(PG_PASSWORD, "***")
    numbers = [number for number, _ in migrations("postgresql")]
    newest = numbers[-1]
    assert before == Result(
        "database",
        True,
        f"{masked} answers, schema version 0; {len(numbers)} migration(s) pending, applied at "
        f"the next start: {', '.join(f'{n:04d}' for n in numbers)}",
    )
    assert after == Result(
        "database", True, f"{masked} answers, schema version {newest}; no migration pending"
    )
    SCAN.scan_text("check output", before.line() + after.line())


async def test_a_postgresql_server_that_cannot_be_reached_is_a_problem_without_the_password(
    tmp_path: Path,
) -> None:
    url = f"postgresql://bot:{PG_PASSWORD}@/bot?host={tmp_path}&port=1"

    result = await database_check(settings(database_url=url))

    assert not result.ok
    assert result.detail.startswith(f"cannot use postgresql://bot:***@/bot?host={tmp_path}")
    assert PG_PASSWORD not in result.line()


async def test_the_video_key_is_checked_without_a_submit(
    http: aiohttp.ClientSession, fake_api: FakeVibedream
) -> None:
    good = settings(
        vibedream_api_url=fake_api.base_url, vibedream_api_key=SecretStr(fake_api.api_key)
    )
    bad = settings(vibedream_api_url=fake_api.base_url, vibedream_api_key=SecretStr("nope"))

    accepted = await video_key_check(http, good)
    refused = await video_key_check(http, bad)

    assert accepted.ok
    assert not refused.ok
    assert refused.detail.startswith("the video API refused VIBEDREAM_API_KEY")
    assert fake_api.submits == []


@pytest.mark.parametrize(
    ("shards", "detail"),
    [
        ({"shard_count": 3}, "all of 3 shard(s) in this process: 0, 1, 2"),
        ({"shard_count": 4, "shard_ids": "3,1"}, "2 of 4 shard(s) in this process: 1, 3"),
    ],
)
def test_the_shards_this_process_runs_are_named(shards: dict[str, Any], detail: str) -> None:
    gateway = GatewayBot.model_validate(
        {"shards": 2, "session_start_limit": {"max_concurrency": 1}}
    )

    result = shard_check(settings(**shards), gateway)

    assert result == Result(
        "sharding", True, f"{detail} (Discord recommends 2; 1 may identify per 5 s)"
    )


def test_shard_ids_without_a_count_is_a_settings_problem_in_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env here
    monkeypatch.setenv("DISCORD_TOKEN", "discord-token")
    monkeypatch.setenv("VIBEDREAM_API_KEY", "video-key")
    monkeypatch.setenv("SHARD_IDS", "0,1")

    status = main()

    assert status == 1
    assert capsys.readouterr().out == (
        "PROBLEM settings: SHARD_IDS: needs SHARD_COUNT, the bot's total number of shards\n"
    )
