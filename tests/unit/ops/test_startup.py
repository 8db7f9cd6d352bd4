"""Start-up: settings problems in one line, bounded retries, and each refusal as one line."""

from __future__ import annotations

import logging
import os
import socket
import sqlite3
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from pydantic import SecretStr

from bot.__main__ import main
from bot.ops.startup import (
    EXIT_CONFIG,
    EXIT_DATA,
    EXIT_UNAVAILABLE,
    KEY_REFUSED,
    TOKEN_REFUSED,
    StartupError,
    check_video_key,
    open_store,
    retrying,
    sign_in_to_discord,
)
from bot.settings import Settings
from bot.storage.store import SqlStore
from bot.video.vibedream import VibedreamClient
from tests.fakes.fake_vibedream import FakeVibedream
from tests.fakes.secret_scan import SCAN
from tests.fakes.tiny_http import TinyServer

#: A PostgreSQL password in DATABASE_URL: never in a log line or a start-up error.
PG_PASSWORD = "pg-password-at-start"
SCAN.add_secret("DATABASE_URL password (start-up)", PG_PASSWORD)


def settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "discord_token": SecretStr("discord-token"),
        "vibedream_api_key": SecretStr("video-key"),
        "startup_attempts": 3,
        "startup_backoff_max_s": 0.01,
        **overrides,
    }
    return Settings(**values, _env_file=None)  # type: ignore[call-arg]


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    monkeypatch.chdir(tmp_path)  # no .env file here
    monkeypatch.setenv("DISCORD_TOKEN", "discord-secret-token")
    monkeypatch.setenv("VIBEDREAM_API_KEY", "vibedream-secret-key")
    return monkeypatch


@pytest.mark.parametrize("how", ["empty", "missing"])
def test_an_empty_or_missing_token_is_named_with_what_to_put_there(
    clean_env: pytest.MonkeyPatch, how: str
) -> None:
    if how == "empty":
        clean_env.setenv("DISCORD_TOKEN", "")
    else:
        clean_env.delenv("DISCORD_TOKEN")

    with pytest.raises(SystemExit) as stopped:
        main([])

    message = str(stopped.value.code)
    assert "\n" not in message
    assert message.startswith("Configuration error (see .env.example): DISCORD_TOKEN is empty")
    assert "Reset Token" in message
    assert "secret" not in message


def test_every_invalid_setting_is_named_on_the_one_line(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("VIBEDREAM_API_KEY", "")
    clean_env.setenv("METRICS_PORT", "99999")

    with pytest.raises(SystemExit) as stopped:
        main([])

    message = str(stopped.value.code)
    assert "\n" not in message
    assert "VIBEDREAM_API_KEY is empty or missing: put your video API key there" in message
    assert "METRICS_PORT: Input should be less than or equal to 65535" in message


def test_an_unknown_command_line_says_what_is_accepted() -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["chek"])

    assert stopped.value.code == (
        "usage: python -m bot [check | copy-database --to URL [--from URL]]"
    )


async def test_a_transient_failure_is_retried_with_a_line_per_attempt_then_given_up(
    caplog: pytest.LogCaptureFixture,
) -> None:
    tries: list[float] = []
    waits: list[float] = []

    async def attempt() -> None:
        tries.append(1)
        raise ConnectionError("no route")

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    with caplog.at_level(logging.WARNING), pytest.raises(StartupError) as stopped:
        await retrying(
            "Somewhere",
            attempt,
            transient=lambda exc: isinstance(exc, ConnectionError),
            settings=settings(startup_attempts=4, startup_backoff_max_s=3),
            hint="check the cable",
            sleep=sleep,
        )

    assert len(tries) == 4
    assert waits == [1.0, 2.0, 3.0]  # doubling, capped
    attempts = [r.getMessage() for r in caplog.records if "cannot be reached" in r.getMessage()]
    assert [line.split("; ")[1] for line in attempts] == [
        "attempt 1 of 4, next in 1.0 s",
        "attempt 2 of 4, next in 2.0 s",
        "attempt 3 of 4, next in 3.0 s",
    ]
    assert str(stopped.value) == (
        "Somewhere could not be reached in 4 attempts (no route); check the cable"
    )
    assert stopped.value.exit_code == EXIT_UNAVAILABLE


async def test_a_retry_that_succeeds_returns_its_result() -> None:
    tries: list[int] = []

    async def attempt() -> str:
        tries.append(1)
        if len(tries) < 2:
            raise ConnectionError("blip")
        return "there"

    async def no_wait(_: float) -> None:
        pass

    found = await retrying(
        "Somewhere",
        attempt,
        transient=lambda exc: isinstance(exc, ConnectionError),
        settings=settings(),
        hint="",
        sleep=no_wait,
    )

    assert (found, len(tries)) == ("there", 2)


async def test_a_failure_that_is_not_transient_is_not_retried() -> None:
    tries: list[int] = []

    async def attempt() -> None:
        tries.append(1)
        raise ValueError("wrong")

    with pytest.raises(ValueError, match="wrong"):
        await retrying(
            "Somewhere", attempt, transient=lambda _: False, settings=settings(), hint=""
        )
    assert len(tries) == 1


def _answering(status: int, body: dict[str, object]) -> TinyServer:
    async def handler(_: web.Request) -> web.Response:
        return web.json_response(body, status=status)

    return TinyServer(handler)


async def test_a_token_discord_refuses_stops_the_start_saying_where_to_reset_it(
    http: aiohttp.ClientSession,
) -> None:
    async with _answering(401, {"message": "401: Unauthorized", "code": 0}) as discord:
        config = settings(discord_api_url=discord.url("/api/v10"))
        with pytest.raises(StartupError) as stopped:
            await sign_in_to_discord(http, config)

    assert str(stopped.value) == TOKEN_REFUSED
    assert stopped.value.exit_code == EXIT_CONFIG
    assert [r.path for r in discord.requests] == ["/api/v10/users/@me"]  # not retried


async def test_discord_that_stays_unreachable_ends_in_one_line(
    http: aiohttp.ClientSession,
) -> None:
    async with _answering(503, {"message": "down"}) as discord:
        config = settings(discord_api_url=discord.url("/api/v10"))
        with pytest.raises(StartupError) as stopped:
            await sign_in_to_discord(http, config)

    assert len(discord.requests) == 3  # STARTUP_ATTEMPTS
    assert "could not be reached in 3 attempts (GET /users/@me answered 503)" in str(stopped.value)


async def test_a_database_folder_that_cannot_be_made_says_what_to_do(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")

    with pytest.raises(StartupError) as stopped:
        await open_store(settings(database_url=f"sqlite:///{blocker}/bot.db"))

    assert stopped.value.exit_code == EXIT_CONFIG
    assert str(stopped.value).startswith(f"cannot open the database {blocker}/bot.db (")
    assert "point DATABASE_URL at another file" in str(stopped.value)


async def test_a_database_that_is_not_sqlite_stays_a_data_error(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    path.write_bytes(b"somebody's notes " * 100)

    with pytest.raises(StartupError) as stopped:
        await open_store(settings(database_url=f"sqlite:///{path}"))

    assert stopped.value.exit_code == EXIT_DATA
    assert "not a readable SQLite database" in str(stopped.value)


async def test_a_postgresql_server_that_cannot_be_reached_is_retried_then_one_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"postgresql://bot:{PG_PASSWORD}@/bot?host={tmp_path}&port=1"

    with pytest.raises(StartupError) as stopped, caplog.at_level(logging.WARNING):
        await open_store(settings(database_url=url, startup_attempts=2))

    masked = f"postgresql://bot:***@/bot?host={tmp_path}&port=1"
    assert stopped.value.exit_code == EXIT_UNAVAILABLE
    assert str(stopped.value).startswith(f"the database {masked} could not be reached in 2 ")
    assert "check that PostgreSQL runs" in str(stopped.value)
    assert [r.getMessage().split(" cannot be reached")[0] for r in caplog.records] == [
        f"the database {masked}"
    ]
    assert PG_PASSWORD not in str(stopped.value) + caplog.text


async def test_a_postgresql_database_that_does_not_exist_is_a_configuration_error(
    empty_postgresql: str,
) -> None:
    url = empty_postgresql.replace("@/empty_", "@/no_such_db_", 1)

    with pytest.raises(StartupError) as stopped:
        await open_store(settings(database_url=url))

    assert stopped.value.exit_code == EXIT_CONFIG
    assert 'database "no_such_db_' in str(stopped.value)
    assert "does not exist" in str(stopped.value)
    assert "check DATABASE_URL's user, password and database name" in str(stopped.value)


async def test_a_refused_video_key_stops_the_start(http: aiohttp.ClientSession) -> None:
    async with FakeVibedream(api_key="the-right-key") as api:
        config = settings(vibedream_api_url=api.base_url, vibedream_api_key=SecretStr("wrong"))
        with pytest.raises(StartupError) as stopped:
            await check_video_key(VibedreamClient.from_settings(http, config), config)

    assert (str(stopped.value), stopped.value.exit_code) == (KEY_REFUSED, EXIT_CONFIG)
    assert [r.status for r in api.requests] == [401]
    assert api.predictions == {}  # nothing was made, nothing charged


async def test_an_accepted_video_key_costs_one_free_read(
    http: aiohttp.ClientSession, fake_api: FakeVibedream
) -> None:
    config = settings(
        vibedream_api_url=fake_api.base_url, vibedream_api_key=SecretStr(fake_api.api_key)
    )

    await check_video_key(VibedreamClient.from_settings(http, config), config)

    assert [(r.method, r.route, r.status) for r in fake_api.requests] == [("GET", "status", 404)]
    assert fake_api.submits == []


async def test_a_video_api_that_cannot_be_reached_does_not_stop_the_start(
    http: aiohttp.ClientSession, fake_api: FakeVibedream, caplog: pytest.LogCaptureFixture
) -> None:
    fake_api.fail_next("status", 503, times=3)
    config = settings(
        vibedream_api_url=fake_api.base_url, vibedream_api_key=SecretStr(fake_api.api_key)
    )

    with caplog.at_level(logging.WARNING):
        await check_video_key(VibedreamClient.from_settings(http, config), config)

    assert len(fake_api.requests) == 3
    assert any("starting anyway" in r.getMessage() for r in caplog.records)


async def test_a_database_another_process_keeps_locked_is_retried_then_one_line(
    tmp_path: Path,
) -> None:
    path = tmp_path / "bot.db"
    async with await SqlStore.open(path):
        pass
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA locking_mode = EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StartupError) as stopped:
            # One attempt: each waits out SQLite's 5 s busy timeout first.
            await open_store(settings(database_url=f"sqlite:///{path}", startup_attempts=1))
    finally:
        holder.close()

    assert stopped.value.exit_code == EXIT_UNAVAILABLE
    assert "could not be reached in 1 attempt (database is locked)" in str(stopped.value)
    assert "another process keeps it locked" in str(stopped.value)


def test_log_level_is_read_in_any_case_and_an_unknown_one_is_a_settings_error() -> None:
    from pydantic import SecretStr, ValidationError  # noqa: PLC0415

    from bot.settings import Settings  # noqa: PLC0415

    base = {"discord_token": SecretStr("t" * 20), "vibedream_api_key": SecretStr("k" * 20)}
    assert Settings(**base, log_level="info", _env_file=None).log_level == "INFO"
    with pytest.raises(ValidationError) as refused:
        Settings(**base, log_level="verbose", _env_file=None)
    assert [e["loc"] for e in refused.value.errors()] == [("log_level",)]


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({"SHARD_IDS": "0,1"}, "SHARD_IDS: needs SHARD_COUNT"),
        ({"SHARD_COUNT": "2", "SHARD_IDS": "0,2"}, "SHARD_IDS: 2 outside 0..1 (SHARD_COUNT is 2)"),
        ({"SHARD_COUNT": "4", "SHARD_IDS": "1,3,1"}, "SHARD_IDS: names shard 1 more than once"),
        ({"SHARD_COUNT": "2", "SHARD_IDS": "0,one"}, "SHARD_IDS.1: Input should be a valid int"),
        ({"SHARD_COUNT": "0"}, "SHARD_COUNT: Input should be greater than or equal to 1"),
    ],
    ids=["ids without count", "out of range", "twice", "not a number", "no shards"],
)
def test_shard_settings_that_do_not_fit_stop_the_start_with_one_line(
    clean_env: pytest.MonkeyPatch, env: dict[str, str], problem: str
) -> None:
    for name, value in env.items():
        clean_env.setenv(name, value)

    with pytest.raises(SystemExit) as stopped:
        main([])

    message = str(stopped.value.code)
    assert "\n" not in message
    assert message.startswith(f"Configuration error (see .env.example): {problem}")


def test_shard_ids_are_read_as_a_comma_list_in_start_order(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("SHARD_COUNT", "4")
    clean_env.setenv("SHARD_IDS", " 3, 1 ")

    read = Settings()  # type: ignore[call-arg]

    assert (read.shard_count, read.shard_ids, read.sharded) == (4, (1, 3), True)


@pytest.mark.parametrize("value", ["", "  "])
def test_a_blank_process_name_means_the_default_name(
    clean_env: pytest.MonkeyPatch, value: str
) -> None:
    clean_env.setenv("PROCESS_NAME", value)

    loaded = Settings(_env_file=None)  # type: ignore[call-arg]

    assert loaded.process_name == f"{socket.gethostname()}-{os.getpid()}"
