"""The bot owns the job engine's lifetime: extensions come and go, the engine keeps running."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import SecretStr

from bot.bot import EXTENSIONS, AnimateBot
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
    """A MetaStore in memory."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    async def get_meta(self, key: str) -> str | None:
        return self.values.get(key)

    async def set_meta(self, key: str, value: str) -> None:
        self.values[key] = value


@pytest.fixture
async def bot(monkeypatch: pytest.MonkeyPatch) -> Any:
    engine = Lifecycle()
    animate = AnimateBot(
        settings=SETTINGS,
        jobs=engine,  # type: ignore[arg-type]
        admin=object(),  # type: ignore[arg-type]
        store=Meta(),
        history=object(),  # type: ignore[arg-type]
        remix=object(),  # type: ignore[arg-type]
        forms=object(),  # type: ignore[arg-type]
        members=object(),  # type: ignore[arg-type]
        defaults=object(),  # type: ignore[arg-type]
        retention=Retention(engine.calls),  # type: ignore[arg-type]
        notifier=lambda _bot: object(),  # type: ignore[arg-type,return-value]
    )

    async def no_sync(*args: object, **kwargs: object) -> list[object]:
        return []  # Discord's API is the boundary here: nothing is uploaded in a unit test

    monkeypatch.setattr(animate.tree, "sync", no_sync)
    return animate


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
