"""Blocking work (decoding, encoding) in worker threads, a few at a time. Discord-free."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


async def run_in_slot(
    slots: asyncio.Semaphore,
    work: Callable[[], T],
    *,
    abort: threading.Event | None = None,
    orphaned: Callable[[T], None] | None = None,
) -> T:
    """Run `work` in a worker thread while holding one of `slots`.

    A thread cannot be stopped from outside, so a caller cancelled meanwhile leaves it running:
    `abort` is set (for `work` to notice), the slot stays taken until the thread really ends,
    and a result it still returns goes to `orphaned` (to delete a file it made, say).
    """
    await slots.acquire()
    try:
        run = functools.partial(contextvars.copy_context().run, work)
        future = asyncio.get_running_loop().run_in_executor(None, run)
    except BaseException:
        slots.release()
        raise
    future.add_done_callback(lambda _: slots.release())
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        if abort is not None:
            abort.set()
        future.add_done_callback(lambda done: _orphan(done, orphaned))
        raise


def _orphan(done: asyncio.Future[T], orphaned: Callable[[T], None] | None) -> None:
    if done.cancelled() or done.exception() is not None:  # also marks the error as seen
        return
    if orphaned is not None:
        orphaned(done.result())
