"""ProgressReporter with a recording notifier and a real SQLite store."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from bot import messages
from bot.i18n import Join
from bot.media import DownloadedClip
from bot.models import Job, NewJob, Origin
from bot.notifier import ProgressGoneError
from bot.progress import ProgressReporter
from bot.scheduler import Scheduler
from bot.store import SqliteStore
from tests.factories import SETTINGS


def _text(line: str) -> Join:
    """A message that renders as `line` in any language."""
    return Join((line,))


T0 = datetime(2025, 3, 15, 10, 0, 0, tzinfo=UTC)
EXPIRES_AT = T0 + timedelta(minutes=15)
WAIT_S = 5.0  # safety net only


class RecordingNotifier:
    """Records progress edits; `answers` decides the next ones (True, False or an exception)."""

    def __init__(self) -> None:
        self.edits: list[tuple[int, str]] = []
        self.answers: list[bool | Exception] = []
        self.edited = asyncio.Event()

    async def edit_progress(self, job: Job, text: str, *, cancellable: bool = False) -> bool:
        await asyncio.sleep(0)  # a real edit is a request: other tasks run meanwhile
        answer = self.answers.pop(0) if self.answers else True
        if isinstance(answer, Exception):
            raise answer
        if answer:
            self.edits.append((job.id, text))
            self.edited.set()
        return answer

    async def post_clip(self, job: Job, clip: DownloadedClip) -> int:
        raise AssertionError("ProgressReporter never posts clips")

    async def post_link(self, job: Job, expires_at: datetime) -> int:
        raise AssertionError("ProgressReporter never posts links")

    async def post_failure(self, job: Job, text: str) -> None:
        raise AssertionError("ProgressReporter never posts failures")


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def notifier() -> RecordingNotifier:
    return RecordingNotifier()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def scheduler() -> AsyncIterator[Scheduler]:
    scheduler = Scheduler(max_concurrency=1)
    yield scheduler
    await scheduler.stop()


@pytest.fixture
def reporter(
    notifier: RecordingNotifier, store: SqliteStore, scheduler: Scheduler, clock: Clock
) -> ProgressReporter:
    return ProgressReporter(
        notifier=notifier, store=store, scheduler=scheduler, now=clock, interval_s=5.0
    )


@pytest.fixture
async def job(store: SqliteStore) -> Job:
    new = NewJob(
        origin=Origin(
            guild_id=555,
            channel_id=777,
            user_id=1001,
            application_id=999,
            interaction_token="token-1001",
            interaction_expires_at=EXPIRES_AT,
            upload_limit_bytes=10 * 1024 * 1024,
        ),
        prompt="The cat blinks",
        image_url="https://cdn.example.com/cat.png",
        last_image_url=None,
        settings=SETTINGS,
        nonce="00112233aabbccdd",
    )
    created = await store.create_job(new, T0, max_open_per_user=10)
    assert created is not None
    return created


# show ------------------------------------------------------------------------------------------


async def test_identical_text_is_edited_in_only_once(
    reporter: ProgressReporter, notifier: RecordingNotifier, job: Job
) -> None:
    assert await reporter.show(job, _text("one"))
    assert await reporter.show(job, _text("one"))
    assert await reporter.show(job, _text("two"))
    assert await reporter.show(job, _text("two"))

    assert notifier.edits == [(job.id, "one"), (job.id, "two")]


async def test_concurrent_identical_texts_are_edited_in_only_once(
    reporter: ProgressReporter, notifier: RecordingNotifier, job: Job
) -> None:
    results = await asyncio.gather(*(reporter.show(job, _text("same")) for _ in range(5)))

    assert results == [True] * 5
    assert notifier.edits == [(job.id, "same")]


async def test_nothing_replaces_a_final_text_that_is_being_shown(
    reporter: ProgressReporter, notifier: RecordingNotifier, job: Job
) -> None:
    # Both start together; the final one takes the message first.
    final = asyncio.create_task(reporter.show(job, _text("done"), final=True))
    later = asyncio.create_task(reporter.show(job, _text("still generating")))

    assert await final
    await later

    assert notifier.edits == [(job.id, "done")]


async def test_nothing_replaces_a_final_text_once_shown(
    reporter: ProgressReporter, notifier: RecordingNotifier, job: Job
) -> None:
    assert await reporter.show(job, _text("done"), final=True)

    await reporter.show(job, _text("still generating"))

    assert notifier.edits == [(job.id, "done")]


async def test_final_text_holds_even_after_the_job_is_forgotten(
    reporter: ProgressReporter, notifier: RecordingNotifier, job: Job
) -> None:
    assert await reporter.show(job, _text("failed"), final=True)
    reporter.forget(job.id)

    await reporter.show(job, _text("Queued — position 0"))  # a refresh that raced the failure

    assert notifier.edits == [(job.id, "failed")]


async def test_failed_edit_is_not_remembered_so_the_same_text_is_tried_again(
    reporter: ProgressReporter, notifier: RecordingNotifier, job: Job
) -> None:
    notifier.answers = [False]

    assert not await reporter.show(job, _text("one"))
    assert await reporter.show(job, _text("one"))

    assert notifier.edits == [(job.id, "one")]


async def test_gone_message_clears_the_stored_token_and_stops_following(
    reporter: ProgressReporter,
    notifier: RecordingNotifier,
    scheduler: Scheduler,
    store: SqliteStore,
    job: Job,
) -> None:
    reporter.follow(job.id)
    notifier.answers = [ProgressGoneError("token expired")]

    assert not await reporter.show(job, _text("one"))

    stored = await store.get_job(job.id)
    assert stored is not None
    assert stored.origin.interaction_token == ""
    assert ("progress", job.id) not in scheduler
    assert not reporter.can_edit(stored)


async def test_show_without_a_usable_token_edits_nothing(
    reporter: ProgressReporter, notifier: RecordingNotifier, clock: Clock, job: Job
) -> None:
    clock.now = EXPIRES_AT

    assert not await reporter.show(job, _text("one"))

    assert notifier.edits == []


# can_edit --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("before_expiry_s", "expected"), [(600, True), (31, True), (30, False), (0, False), (-5, False)]
)
async def test_token_is_given_up_30_seconds_before_it_expires(
    reporter: ProgressReporter, clock: Clock, job: Job, before_expiry_s: int, expected: bool
) -> None:
    clock.now = EXPIRES_AT - timedelta(seconds=before_expiry_s)

    assert reporter.can_edit(job) is expected


async def test_a_job_without_a_token_cannot_be_edited(
    reporter: ProgressReporter, store: SqliteStore, job: Job
) -> None:
    await store.forget_token(job.id)
    stored = await store.get_job(job.id)
    assert stored is not None

    assert not reporter.can_edit(stored)


# follow and forget -----------------------------------------------------------------------------


async def test_follow_schedules_a_refresh_and_forget_cancels_it(
    reporter: ProgressReporter, scheduler: Scheduler, job: Job
) -> None:
    reporter.follow(job.id)
    reporter.follow(job.id)  # following twice keeps one refresh
    assert len(scheduler) == 1

    reporter.forget(job.id)

    assert len(scheduler) == 0


async def test_final_text_stops_following(
    reporter: ProgressReporter, scheduler: Scheduler, job: Job
) -> None:
    reporter.follow(job.id)

    assert await reporter.show(job, _text("done"), final=True)

    assert ("progress", job.id) not in scheduler


async def test_a_followed_queued_job_shows_its_queue_position(
    reporter: ProgressReporter, notifier: RecordingNotifier, scheduler: Scheduler, job: Job
) -> None:
    scheduler.start()

    reporter.follow(job.id, 0)
    await asyncio.wait_for(notifier.edited.wait(), WAIT_S)

    assert notifier.edits == [(job.id, messages.queued(1).render())]
    assert len(scheduler) == 1  # and it keeps following
