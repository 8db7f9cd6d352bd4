"""Harness shared by the end-to-end tests and the benchmark: the real bot process against the
fake Discord and the fake video API, and builders for the events they exchange."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import re
import signal
import sqlite3
import struct
import sys
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg

from tests.fakes.discord import FakeDiscord, RecordedRequest
from tests.fakes.fake_vibedream import FakeVibedream

REPO_ROOT = Path(__file__).resolve().parents[2]
DISCORD_TOKEN = "fake-discord-token-e2e"
API_KEY = "fake-vibedream-key-e2e"
ATTACHMENT, STRING, INTEGER, BOOLEAN = 11, 3, 4, 5


def png_bytes(width: int, height: int) -> bytes:
    """A real (tiny, grey) PNG image of the given size."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


class BotProcess:
    """One running `python -m bot`."""

    def __init__(self, process: asyncio.subprocess.Process, log_path: Path) -> None:
        self.process = process
        self.log_path = log_path

    def log_text(self) -> str:
        """Everything the process has logged so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    async def stop(self, sig: int = signal.SIGTERM, timeout_s: float = 15.0) -> int:
        """Send `sig` and wait for the exit code."""
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(sig)
        return await asyncio.wait_for(self.process.wait(), timeout_s)

    async def kill(self) -> None:
        """SIGKILL: no chance to clean up, as in a crash."""
        await self.stop(signal.SIGKILL)


class BotRunner:
    """Starts bot processes wired to the fakes, each sharing the same database: a SQLite file
    in the test's folder, or the PostgreSQL database `database_url` names."""

    def __init__(
        self,
        tmp_path: Path,
        discord: FakeDiscord,
        api: FakeVibedream,
        database_url: str | None = None,
    ) -> None:
        self.tmp_path = tmp_path
        self.discord = discord
        self.api = api
        self.db_path = tmp_path / "data" / "bot.db"
        self.database_url = database_url or f"sqlite:///{self.db_path}"
        self.download_dir = tmp_path / "downloads"
        self.download_dir.mkdir()
        self.processes: list[BotProcess] = []
        #: Processes launched so far: each gets its own log file, even when launched together.
        self._launched = 0
        self.env: dict[str, str] = {
            "DISCORD_TOKEN": DISCORD_TOKEN,
            "DISCORD_API_URL": discord.api_url,
            "VIBEDREAM_API_KEY": API_KEY,
            "VIBEDREAM_API_URL": api.base_url,
            "VIBEDREAM_OUTPUT_HOSTS": api.assets_host,
            "VIBEDREAM_OUTPUT_REQUIRE_HTTPS": "false",
            "DATABASE_URL": self.database_url,
            "DOWNLOAD_DIR": str(self.download_dir),
            "POLL_INTERVAL_S": "0.2",
            "POLL_MAX_INTERVAL_S": "1",
            "PROGRESS_EDIT_INTERVAL_S": "0.5",
            "API_BACKOFF_MAX_S": "0.5",
            "API_TIMEOUT_S": "5",
            "DELIVERY_RETRY_BASE_S": "0.2",
            # Server limits are off unless a test sets them (empty means unlimited).
            "DEFAULT_USER_DAILY_LIMIT": "",
            "DEFAULT_USER_MONTHLY_LIMIT": "",
            "DEFAULT_USER_COOLDOWN_S": "",
            "DEFAULT_USER_IN_FLIGHT_LIMIT": "",
            "DEFAULT_GUILD_MONTHLY_SPEND_USD": "",
        }

    async def launch(self, *args: str, **overrides: str) -> BotProcess:
        """Start `python -m bot *args` with the runner's settings (`env`, which a test may
        change) and `overrides`; its output goes to a log file the secret scan reads."""
        env = {
            "PATH": os.environ.get("PATH", ""),
            "PYTHONPATH": str(REPO_ROOT),
            "PYTHONUNBUFFERED": "1",
            **self.env,
            **{k.upper(): v for k, v in overrides.items()},
        }
        log_path = self.tmp_path / f"bot-{self._launched}.log"
        self._launched += 1  # before the await: another launch may run meanwhile
        with log_path.open("wb") as log_file:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                *args,
                cwd=self.tmp_path,
                env=env,
                stdout=log_file,
                stderr=asyncio.subprocess.STDOUT,
            )
        bot = BotProcess(process, log_path)
        self.processes.append(bot)
        return bot

    async def run_to_end(self, *args: str, timeout_s: float = 30.0, **overrides: str) -> BotProcess:
        """Run `python -m bot *args` until it exits by itself (a failed start, `check`)."""
        bot = await self.launch(*args, **overrides)
        await asyncio.wait_for(bot.process.wait(), timeout_s)
        return bot

    async def start(self, **overrides: str) -> BotProcess:
        """Start a bot and wait until it has identified on the fake gateway: every shard it
        runs (`SHARD_COUNT`, `SHARD_IDS`), or its one connection when unsharded."""
        identified = self.discord.identify_count
        shards = self._shards_of({**self.env, **{k.upper(): v for k, v in overrides.items()}})
        bot = await self.launch(**overrides)
        process = bot.process

        def connected() -> bool:
            if shards is None:
                return self.discord.identify_count > identified and self.discord.connected.is_set()
            return self.discord.identify_count >= identified + len(shards) and all(
                self.discord.shard_connected(shard).is_set() for shard in shards
            )

        try:
            async with asyncio.timeout(20 + 6 * len(shards or ())):  # 5 s between IDENTIFYs
                while not connected():
                    if process.returncode is not None:
                        raise RuntimeError(f"bot exited early:\n{bot.log_text()}")
                    await asyncio.sleep(0.05)
        except TimeoutError:
            raise RuntimeError(f"bot did not connect:\n{bot.log_text()}") from None
        return bot

    @staticmethod
    def _shards_of(env: dict[str, str]) -> list[int] | None:
        """The shards a process with `env` runs (None: unsharded)."""
        if not env.get("SHARD_COUNT"):
            return None
        if env.get("SHARD_IDS"):
            return [int(part) for part in env["SHARD_IDS"].split(",")]
        return list(range(int(env["SHARD_COUNT"])))

    async def stop_all(self) -> None:
        """Kill whatever is still running."""
        for bot in self.processes:
            if bot.process.returncode is None:
                await bot.kill()

    @property
    def on_postgresql(self) -> bool:
        """Whether the bots share a PostgreSQL database (else a SQLite file)."""
        return self.database_url.startswith("postgresql://")

    def db(self) -> sqlite3.Connection:
        """Open the bot's SQLite database (read it as an admin would)."""
        assert not self.on_postgresql, "a SQLite-only test: use query() on every backend"
        connection = sqlite3.connect(self.db_path)
        connection.row_factory = sqlite3.Row
        return connection

    def query(self, sql: str, *params: Any) -> list[dict[str, Any]]:
        """Run `sql` (`?` placeholders; written for both SQLite and PostgreSQL) on the bots'
        database, committed; its rows by column name."""
        if not self.on_postgresql:
            with contextlib.closing(self.db()) as db, db:
                return [dict(row) for row in db.execute(sql, params).fetchall()]
        numbered = iter(range(1, sql.count("?") + 1))
        sql = re.sub(r"\?", lambda _: f"${next(numbered)}", sql)
        with concurrent.futures.ThreadPoolExecutor(1) as thread:  # the test's loop is busy
            return thread.submit(
                asyncio.run, _postgresql_rows(self.database_url, sql, params)
            ).result()

    def jobs(self) -> list[dict[str, Any]]:
        """Every job row, oldest first, with the seed read out of the model's parameters."""
        seed = (
            "(params::jsonb ->> 'seed')::bigint"
            if self.on_postgresql
            else "json_extract(params, '$.seed')"
        )
        return self.query(f"SELECT *, {seed} AS seed FROM jobs ORDER BY id")


async def _postgresql_rows(url: str, sql: str, params: tuple[Any, ...]) -> list[dict[str, Any]]:
    connection = await asyncpg.connect(url)
    try:
        return [dict(row) for row in await connection.fetch(sql, *params)]
    finally:
        await connection.close()


def animate_interaction(
    discord: FakeDiscord,
    *,
    prompt: str = "the cat slowly turns its head and blinks",
    image: dict[str, Any] | None = None,
    last_image: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """Build an /animate INTERACTION_CREATE with a valid 512x512 PNG unless told otherwise."""
    if image is None:
        image = discord.add_attachment(
            "cat.png", png_bytes(512, 512), "image/png", width=512, height=512
        )
    options: list[dict[str, Any]] = [
        {"name": "image", "type": ATTACHMENT, "value": image["id"]},
        {"name": "prompt", "type": STRING, "value": prompt},
    ]
    attachments = [image]
    if last_image is not None:
        options.append({"name": "last_image", "type": ATTACHMENT, "value": last_image["id"]})
        attachments.append(last_image)
    types = {bool: BOOLEAN, int: INTEGER, str: STRING}
    for name, value in (extra or {}).items():
        options.append({"name": name, "type": types[type(value)], "value": value})
    return discord.make_interaction("animate", options, attachments=attachments, **kwargs)


def is_clip_post(channel_id: int) -> Callable[[RecordedRequest], bool]:
    """Matches a successful message post with a file in the channel."""
    return lambda r: (
        r.method == "POST"
        and r.path == f"/channels/{channel_id}/messages"
        and bool(r.files)
        and r.status == 200
    )


def progress_texts(discord: FakeDiscord, interaction: dict[str, Any]) -> list[str]:
    """Contents the bot put on the interaction's original response, in order."""
    token = interaction["token"]
    return [
        str((r.json or {}).get("content"))
        for r in discord.webhook_edits()
        if token in r.path and r.json is not None and r.json.get("content") is not None
    ]


async def wait_until(predicate: Callable[[], bool], timeout_s: float = 15.0) -> None:
    """Poll a condition on the fakes or the database until it holds."""
    async with asyncio.timeout(timeout_s):
        while not predicate():  # noqa: ASYNC110 - the state lives in another process
            await asyncio.sleep(0.05)
