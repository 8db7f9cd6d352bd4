"""Scheduler: keyed deadlines run by one timer loop.

Deadlines in the past make callbacks due at once, so no test waits on the clock. A callback
scheduled last (the "sentinel") tells when everything due before it has been started.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from bot.jobs.scheduler import Scheduler

WAIT_S = 5.0  # safety net only: a broken scheduler fails the test instead of hanging it


@pytest.fixture
async def scheduler() -> AsyncIterator[Scheduler]:
    scheduler = Scheduler(max_concurrency=1)
    yield scheduler
    await scheduler.stop()


class Log:
    """Records which callbacks ran, in order."""

    def __init__(self) -> None:
        self.ran: list[str] = []
        self.sentinel_ran = asyncio.Event()

    def callback(self, name: str) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            self.ran.append(name)

        return run

    async def sentinel(self) -> None:
        self.sentinel_ran.set()

    async def wait_for_sentinel(self) -> None:
        async with asyncio.timeout(WAIT_S):
            await self.sentinel_ran.wait()


def now() -> float:
    return asyncio.get_running_loop().time()


async def test_callbacks_run_in_deadline_order(scheduler: Scheduler) -> None:
    log = Log()
    t = now()
    scheduler.call_at("c", t - 1, log.callback("c"))
    scheduler.call_at("a", t - 3, log.callback("a"))
    scheduler.call_at("b", t - 2, log.callback("b"))
    scheduler.call_at("sentinel", t - 0.5, log.sentinel)

    scheduler.start()
    await log.wait_for_sentinel()

    assert log.ran == ["a", "b", "c"]


async def test_future_deadline_waits_for_its_time(scheduler: Scheduler) -> None:
    log = Log()
    scheduler.call_at("later", now() + 3600, log.callback("later"))
    scheduler.call_at("sentinel", now() - 1, log.sentinel)

    scheduler.start()
    await log.wait_for_sentinel()

    assert log.ran == []
    assert len(scheduler) == 1


async def test_call_later_runs_the_callback(scheduler: Scheduler) -> None:
    log = Log()
    scheduler.start()

    scheduler.call_later("sentinel", 0, log.sentinel)

    await log.wait_for_sentinel()
    assert len(scheduler) == 0


async def test_scheduling_a_pending_key_again_replaces_its_deadline(scheduler: Scheduler) -> None:
    log = Log()
    t = now()
    scheduler.call_at("poll", t - 2, log.callback("poll-early"))
    scheduler.call_at("poll", t + 3600, log.callback("poll-late"))
    scheduler.call_at("sentinel", t - 1, log.sentinel)

    scheduler.start()
    await log.wait_for_sentinel()

    assert log.ran == []  # the early deadline is gone, the late one not yet due
    assert len(scheduler) == 1


async def test_a_key_scheduled_twice_runs_once(scheduler: Scheduler) -> None:
    log = Log()
    t = now()
    scheduler.call_at("poll", t - 3, log.callback("first"))
    scheduler.call_at("poll", t - 2, log.callback("second"))
    scheduler.call_at("sentinel", t - 1, log.sentinel)

    scheduler.start()
    await log.wait_for_sentinel()

    assert log.ran == ["second"]


async def test_cancelled_callback_does_not_run(scheduler: Scheduler) -> None:
    log = Log()
    t = now()
    scheduler.call_at("poll", t - 2, log.callback("poll"))
    scheduler.call_at("sentinel", t - 1, log.sentinel)

    scheduler.cancel("poll")
    scheduler.start()
    await log.wait_for_sentinel()

    assert log.ran == []


async def test_cancelling_an_unknown_key_is_harmless(scheduler: Scheduler) -> None:
    scheduler.cancel("never-scheduled")

    assert len(scheduler) == 0


async def test_a_failing_callback_does_not_stop_later_ones(
    scheduler: Scheduler, caplog: pytest.LogCaptureFixture
) -> None:
    log = Log()

    async def explode() -> None:
        raise RuntimeError("boom")

    t = now()
    scheduler.call_at("bad", t - 2, explode)
    scheduler.call_at("sentinel", t - 1, log.sentinel)

    with caplog.at_level(logging.ERROR, logger="bot.jobs.scheduler"):
        scheduler.start()
        await log.wait_for_sentinel()

    logged = [r for r in caplog.records if r.name == "bot.jobs.scheduler" and r.exc_info]
    assert [(r.getMessage(), r.exc_info[0]) for r in logged] == [  # type: ignore[index]
        ("scheduled task 'bad' failed", RuntimeError)
    ]


async def test_len_counts_pending_keys(scheduler: Scheduler) -> None:
    t = now()
    noop = Log().callback("noop")
    scheduler.call_at("a", t + 3600, noop)
    scheduler.call_at("b", t + 3600, noop)
    scheduler.call_at("b", t + 7200, noop)  # replaced, still one key
    scheduler.call_at("c", t + 3600, noop)
    scheduler.cancel("c")

    assert len(scheduler) == 2


async def test_len_drops_keys_once_they_ran(scheduler: Scheduler) -> None:
    log = Log()
    t = now()
    scheduler.call_at("a", t - 2, log.callback("a"))
    scheduler.call_at("sentinel", t - 1, log.sentinel)

    scheduler.start()
    await log.wait_for_sentinel()

    assert len(scheduler) == 0


async def test_stop_cancels_a_running_callback(scheduler: Scheduler) -> None:
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def long_running() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    scheduler.call_at("long", now() - 1, long_running)
    scheduler.start()
    async with asyncio.timeout(WAIT_S):
        await started.wait()

    await scheduler.stop()

    assert cancelled.is_set()


async def test_stop_returns_even_when_a_deadline_was_just_added() -> None:
    # On Python 3.11 a wake-up racing the cancellation once made the runner swallow it.
    async def noop() -> None:
        return None

    scheduler = Scheduler()
    scheduler.start()
    scheduler.call_later("far", 60, noop)
    await asyncio.sleep(0.05)
    scheduler.call_later("other", 30, noop)

    await asyncio.wait_for(scheduler.stop(), 2)
