"""One timer loop for every job: polls and progress edits are keyed deadlines in a heap."""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
from collections.abc import Awaitable, Callable, Hashable

log = logging.getLogger(__name__)

Callback = Callable[[], Awaitable[None]]


class Scheduler:
    """Runs callbacks at deadlines from a single task, whatever the number of jobs.

    Scheduling a key that is already pending replaces its deadline. Due callbacks run as
    tracked tasks, at most `max_concurrency` at once, so a burst of due polls cannot flood the
    API or the event loop.
    """

    def __init__(self, *, max_concurrency: int = 32) -> None:
        self._heap: list[tuple[float, int, Hashable]] = []
        self._pending: dict[Hashable, tuple[int, Callback]] = {}
        self._counter = itertools.count()
        self._wake = asyncio.Event()
        self._slots = asyncio.Semaphore(max_concurrency)
        self._tasks: set[asyncio.Task[None]] = set()
        self._runner: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the timer loop."""
        if self._runner is None:
            self._runner = asyncio.create_task(self._run(), name="scheduler")

    async def stop(self) -> None:
        """Cancel the loop and every running callback."""
        tasks = [t for t in (self._runner, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._runner = None

    @property
    def running(self) -> bool:
        """True while the timer loop runs (the health check asks)."""
        return self._runner is not None and not self._runner.done()

    def call_at(self, key: Hashable, when: float, callback: Callback) -> None:
        """Run `callback` at loop time `when`, replacing any pending deadline for `key`."""
        seq = next(self._counter)
        self._pending[key] = (seq, callback)
        heapq.heappush(self._heap, (when, seq, key))
        self._wake.set()

    def call_later(self, key: Hashable, delay_s: float, callback: Callback) -> None:
        """Run `callback` after `delay_s` seconds, replacing any pending deadline for `key`."""
        self.call_at(key, asyncio.get_running_loop().time() + max(0.0, delay_s), callback)

    def cancel(self, key: Hashable) -> None:
        """Forget a pending deadline, if any."""
        self._pending.pop(key, None)

    def __len__(self) -> int:
        return len(self._pending)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._pending

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self._wake.clear()
            self._drop_stale()
            if not self._heap:
                await self._wake.wait()
                continue
            delay = self._heap[0][0] - loop.time()
            if delay > 0:
                # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow the
                # cancellation from stop() when a wake-up lands at the same moment.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(delay):
                        await self._wake.wait()
                continue
            _, _seq, key = heapq.heappop(self._heap)
            _, callback = self._pending.pop(key)
            await self._slots.acquire()
            task = asyncio.create_task(self._invoke(key, callback))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _drop_stale(self) -> None:
        """Pop heap entries that were replaced or cancelled."""
        while self._heap:
            _, seq, key = self._heap[0]
            entry = self._pending.get(key)
            if entry is not None and entry[0] == seq:
                return
            heapq.heappop(self._heap)

    async def _invoke(self, key: Hashable, callback: Callback) -> None:
        try:
            await callback()
        except Exception:
            log.exception("scheduled task %r failed", key)
        finally:
            self._slots.release()
