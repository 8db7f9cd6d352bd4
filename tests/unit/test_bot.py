"""The bot owns the job engine's lifetime: extensions come and go, the engine keeps running."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import SecretStr

import bot.bot as bot_module
from bot.bot import EXTENSIONS, AnimateBot, ShardedAnimateBot, bot_class
from bot.i18n.translator import CatalogueTranslator
from bot.settings import Settings

SETTINGS = Settings(discord_token=SecretStr("x"), vibedream_api_key=SecretStr("y"), _env_file=None)


class Lifecycle:
    """Records when the engine and the retention purge start and stop."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.stop_error: Exception | None = None

    async def start(self, notifier: object) -> None:  # JobService.start
        self.calls.append("jobs.start")

    async def stop(self) -> None:  # JobService.stop
        self.calls.append("jobs.stop")
        if self.stop_error is not None:
            raise self.stop_error


class Retention:
    def __init__(self, calls: list[str]) -> None:
        self.calls = calls

    def start(self) -> None:
        self.calls.append("retention.start")

    async def stop(self) -> None:
        self.calls.append("retention.stop")


class Meta:
    """A MetaStore in memory, with the bot-wide locks of a one-process bot (one asyncio lock
    per name, as the SQLite store has)."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    @contextlib.asynccontextmanager
    async def hold_lock(self, name: str) -> AsyncIterator[None]:
        async with self._locks.setdefault(name, asyncio.Lock()):
            yield

    @contextlib.asynccontextmanager
    async def try_lock(self, name: str) -> AsyncIterator[bool]:
        lock = self._locks.setdefault(name, asyncio.Lock())
        if lock.locked():
            yield False
            return
        async with lock:
            yield True

    async def get_meta(self, key: str) -> str | None:
        return self.values.get(key)

    async def set_meta(self, key: str, value: str) -> None:
        self.values[key] = value


def build(
    monkeypatch: pytest.MonkeyPatch,
    *,
    settings: Settings = SETTINGS,
    store: Meta | None = None,
    uploads: list[int] | None = None,
) -> Any:
    """A bot on `store` whose command uploads are counted in `uploads`."""
    engine = Lifecycle()
    animate = bot_class(settings)(
        settings=settings,
        jobs=engine,  # type: ignore[arg-type]
        admin=object(),  # type: ignore[arg-type]
        store=store or Meta(),
        history=object(),  # type: ignore[arg-type]
        remix=object(),  # type: ignore[arg-type]
        forms=object(),  # type: ignore[arg-type]
        members=object(),  # type: ignore[arg-type]
        defaults=object(),  # type: ignore[arg-type]
        retention=Retention(engine.calls),  # type: ignore[arg-type]
        notifier=lambda _bot: object(),  # type: ignore[arg-type,return-value]
    )

    async def no_sync(*args: object, **kwargs: object) -> list[object]:
        # Discord's API is the boundary here: nothing is uploaded in a unit test
        if uploads is not None:
            uploads.append(1)
            await asyncio.sleep(0.05)  # an upload takes a while: others start meanwhile
        return []

    monkeypatch.setattr(animate.tree, "sync", no_sync)
    return animate


@pytest.fixture
async def bot(monkeypatch: pytest.MonkeyPatch) -> Any:
    return build(monkeypatch)


async def test_the_engine_starts_before_the_extensions_load(bot: Any) -> None:
    await bot.setup_hook()

    assert bot.jobs.calls == ["jobs.start", "retention.start"]
    assert set(bot.extensions) == set(EXTENSIONS)
    await bot.close()


async def test_unloading_or_reloading_an_extension_never_stops_the_engine(bot: Any) -> None:
    await bot.setup_hook()

    for extension in EXTENSIONS:
        await bot.reload_extension(extension)
    await bot.unload_extension("cogs.animate")

    assert "jobs.stop" not in bot.jobs.calls
    await bot.close()


async def test_closing_stops_the_purge_then_the_engine_once(bot: Any) -> None:
    await bot.setup_hook()

    await bot.close()
    await bot.close()

    assert bot.jobs.calls == ["jobs.start", "retention.start", "retention.stop", "jobs.stop"]
    assert bot.is_closed()


async def test_the_bot_disconnects_even_if_stopping_the_engine_fails(bot: Any) -> None:
    await bot.setup_hook()
    bot.jobs.stop_error = RuntimeError("a bug in stop")

    with pytest.raises(RuntimeError):
        await bot.close()

    assert bot.is_closed()


async def test_three_processes_starting_together_upload_the_command_tree_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store, uploads = Meta(), []  # one database; the locks stand for PostgreSQL's bot-wide ones
    bots = [build(monkeypatch, store=store, uploads=uploads) for _ in range(3)]
    for each in bots:
        await each.tree.set_translator(CatalogueTranslator())
        await each.load_extension("cogs.animate")

    synced = await asyncio.gather(*(each.sync_commands_if_changed() for each in bots))

    assert uploads == [1]
    assert sorted(synced) == [False, False, True]
    for each in bots:
        await each.close()


def test_without_shard_settings_the_bot_is_the_plain_unsharded_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    plain = build(monkeypatch)

    assert type(plain) is AnimateBot
    assert plain.shard_count is None


@pytest.mark.parametrize(
    ("ids", "expected"), [(None, None), ("1", [1]), ("2,0", [0, 2])], ids=["all", "one", "two"]
)
def test_shard_settings_make_a_sharded_bot_running_those_shards(
    monkeypatch: pytest.MonkeyPatch, ids: str | None, expected: list[int] | None
) -> None:
    settings = Settings(**_required(), shard_count=3, shard_ids=ids)
    sharded = build(monkeypatch, settings=settings)

    assert isinstance(sharded, ShardedAnimateBot)
    assert sharded.shard_count == 3
    assert sharded.shard_ids == expected


def _required() -> dict[str, Any]:
    return {"discord_token": SecretStr("x"), "vibedream_api_key": SecretStr("y"), "_env_file": None}


async def _identify_times(
    monkeypatch: pytest.MonkeyPatch, max_concurrency: int, shards: list[int]
) -> list[float]:
    """When each shard's IDENTIFY hook let it through, each shard in its own process (bot)
    on one database, all starting at once; seconds from the start, in shard order."""
    monkeypatch.setattr(bot_module, "IDENTIFY_INTERVAL_S", 0.2)
    store = Meta()
    settings = SETTINGS.model_copy(update={"shard_count": len(shards)})
    start = time.monotonic()

    async def identify(shard: int) -> float:
        process = build(monkeypatch, settings=settings, store=store)

        async def limit() -> int:
            return max_concurrency

        process.max_concurrency = limit
        await process.before_identify_hook(shard, initial=True)
        return time.monotonic() - start

    return list(await asyncio.gather(*(identify(shard) for shard in shards)))


async def test_shards_of_one_bucket_identify_an_interval_apart_across_processes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    times = sorted(await _identify_times(monkeypatch, max_concurrency=1, shards=[0, 1, 2]))

    assert times[0] < 0.1
    assert times[1] - times[0] >= 0.2
    assert times[2] - times[1] >= 0.2


async def test_shards_of_different_buckets_identify_together(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    times = await _identify_times(monkeypatch, max_concurrency=2, shards=[0, 1, 2, 3])

    # buckets 0 (shards 0, 2) and 1 (shards 1, 3): one of each at once, the rest after
    assert max(times[0], times[1]) < 0.1
    assert min(times[2], times[3]) >= 0.2


def test_a_sharded_bot_counts_as_connected_only_once_every_shard_is(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sharded = build(monkeypatch, settings=Settings(**_required(), shard_count=2))

    # Before connecting there are no shards: neither reached nor open (the health probe's view).
    assert (sharded.gateway_reached(), sharded.gateway_open()) == (False, False)
