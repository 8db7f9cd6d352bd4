"""Working as one bot, on every backend: bot-wide locks and wake-up hints between two stores
on one database (two processes on PostgreSQL; on SQLite, one process by design, two stores
in it share them as well)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from bot.storage.store import SqlStore

Reopen = Callable[[], AbstractAsyncContextManager[SqlStore]]


async def test_try_lock_is_refused_while_another_holds_the_lock(
    store: SqlStore, reopen: Reopen
) -> None:
    async with reopen() as other:
        async with store.try_lock("purge") as mine:
            async with other.try_lock("purge") as theirs:
                assert (mine, theirs) == (True, False)
            async with other.try_lock("sync") as another_name:
                assert another_name is True
        async with other.try_lock("purge") as after_release:
            assert after_release is True


async def test_hold_lock_waits_until_the_holder_lets_go(store: SqlStore, reopen: Reopen) -> None:
    order: list[str] = []
    async with reopen() as other:
        async with store.hold_lock("identify"):
            waiter = asyncio.create_task(_hold_then_note(other, "identify", order))
            await asyncio.sleep(0.3)
            assert order == []  # still waiting
            order.append("first let go")
        await asyncio.wait_for(waiter, 10)
    assert order == ["first let go", "second held"]


async def _hold_then_note(store: SqlStore, name: str, order: list[str]) -> None:
    async with store.hold_lock(name):
        order.append("second held")


async def test_a_lock_is_free_again_when_its_block_raises(store: SqlStore, reopen: Reopen) -> None:
    async with reopen() as other:
        try:
            async with store.hold_lock("sync"):
                raise LookupError("the work failed")
        except LookupError:
            pass
        async with other.try_lock("sync") as held:
            assert held


async def test_a_notification_wakes_the_listeners_of_its_channel_only(
    store: SqlStore, reopen: Reopen
) -> None:
    woken = asyncio.Event()
    wrong: list[str] = []
    async with reopen() as other:
        await other.listen("jobs", woken.set)
        await other.listen("slots", lambda: wrong.append("slots"))

        await store.notify("jobs")

        await asyncio.wait_for(woken.wait(), 10)
        await asyncio.sleep(0.1)
        assert wrong == []
