"""Logs for machines: one JSON object per line, the job id where there is one, no secret."""

from __future__ import annotations

import json
import logging
import sys

from pydantic import SecretStr

from bot.ops.logs import MASK, JsonFormatter, ShortReconnects, TextFormatter, secrets_of
from bot.settings import Settings, database_password

SECRETS = ("discord-secret", "video-secret")


def record(message: str, *args: object, name: str = "bot.jobs.generation") -> logging.LogRecord:
    return logging.LogRecord(name, logging.INFO, __file__, 1, message, args, None)


def test_a_json_line_holds_time_level_logger_message_and_the_job() -> None:
    line = JsonFormatter(SECRETS).format(record("job %d: queued -> claimed", 42))

    entry = json.loads(line)
    assert "\n" not in line
    assert set(entry) == {"time", "level", "logger", "message", "job_id"}
    assert entry["time"].endswith("+00:00")
    assert (entry["level"], entry["logger"]) == ("INFO", "bot.jobs.generation")
    assert (entry["message"], entry["job_id"]) == ("job 42: queued -> claimed", 42)


def test_a_line_about_no_job_has_no_job_id() -> None:
    entry = json.loads(JsonFormatter(SECRETS).format(record("synced %d commands", 7)))

    assert "job_id" not in entry


def test_a_traceback_is_one_string_in_the_one_line() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        crashed = logging.LogRecord(
            "bot", logging.ERROR, __file__, 1, "job 3: crashed", None, sys.exc_info()
        )

    line = JsonFormatter(SECRETS).format(crashed)

    assert line.count("\n") == 0
    assert "ValueError: boom" in json.loads(line)["exception"]


def test_secrets_are_masked_in_either_format() -> None:
    leaky = record("header was Bot %s and Bearer %s", *SECRETS)

    for formatter in (JsonFormatter(SECRETS), TextFormatter(SECRETS)):
        line = formatter.format(leaky)
        assert not any(secret in line for secret in SECRETS)
        assert line.count(MASK) == 2


def test_a_failed_gateway_reconnect_is_one_line() -> None:
    try:
        raise ConnectionRefusedError("refused")
    except ConnectionRefusedError:
        reconnect = logging.LogRecord(
            "discord.client",
            logging.ERROR,
            __file__,
            1,
            "Attempting a reconnect in %.2fs",
            (1.5,),
            sys.exc_info(),
        )

    ShortReconnects().filter(reconnect)
    line = TextFormatter(SECRETS).format(reconnect)

    assert "\n" not in line
    assert line.endswith("Attempting a reconnect in 1.50s after: ConnectionRefusedError: refused")


def test_a_handlers_bug_logged_by_discord_keeps_its_traceback() -> None:
    try:
        raise KeyError("a bug in on_interaction")
    except KeyError:
        bug = logging.LogRecord(
            "discord.client",
            logging.ERROR,
            __file__,
            1,
            "Ignoring exception in %s",
            ("on_interaction",),
            sys.exc_info(),
        )

    ShortReconnects().filter(bug)
    line = TextFormatter(SECRETS).format(bug)

    assert "Traceback (most recent call last)" in line
    assert "KeyError: 'a bug in on_interaction'" in line


def test_placeholder_values_too_short_to_be_secrets_are_not_masked() -> None:
    line = TextFormatter(("x", "y")).format(record("applying database migration 0011"))

    assert line.endswith("applying database migration 0011")
    assert MASK not in line


def test_every_line_names_the_process_in_either_format() -> None:
    # Several processes on one database: merged logs must say which one wrote each line.
    line = record("job %d: queued -> claimed", 42)

    entry = json.loads(JsonFormatter(SECRETS, "bot-2").format(line))
    text = TextFormatter(SECRETS, "bot-2").format(line)

    assert (entry["process"], entry["job_id"]) == ("bot-2", 42)
    # Before the level, so a line still ends "LEVEL logger: message" as before.
    assert " [bot-2] INFO     bot.jobs.generation: job 42: queued -> claimed" in text


def test_the_database_password_is_among_the_secrets_masked() -> None:
    settings = Settings(
        discord_token=SecretStr("discord-secret"),
        vibedream_api_key=SecretStr("video-secret"),
        database_url="postgresql://bot:p%40ss-word-42@db.example:5432/bot",
        _env_file=None,  # type: ignore[call-arg]
    )
    by_parameter = "postgresql://bot@/bot?host=/run/postgresql&password=another-pw-77"

    assert secrets_of(settings) == ["discord-secret", "video-secret", "p@ss-word-42"]
    assert database_password(by_parameter) == "another-pw-77"
    assert database_password("postgresql://bot@db.example/bot") is None
    assert database_password("sqlite:///data/bot.db") is None
    line = TextFormatter(secrets_of(settings)).format(record("connecting with %s", "p@ss-word-42"))
    assert "p@ss-word-42" not in line
