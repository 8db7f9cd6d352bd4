"""ProgressReporter with a recording notifier and a real SQLite store."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.i18n.text import Join
from bot.jobs import messages
from bot.jobs.expectations import Eta, EtaBasis, Forecast
from bot.jobs.model import Job, JobChange, JobState, NewJob, Origin
from bot.jobs.notifier import ProgressGoneError
from bot.jobs.progress import ProgressReporter
from bot.jobs.scheduler import Scheduler
from bot.media.files import DownloadedClip
from bot.storage.store import SqlStore
from bot.video.seedance import SEEDANCE_1_5_PRO
from tests import factories
from tests.factories import SETTINGS, delivered_job, new_job


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
    notifier: RecordingNotifier, store: SqlStore, scheduler: Scheduler, clock: Clock
) -> ProgressReporter:
    return ProgressReporter(
        notifier=notifier, store=store, scheduler=scheduler, now=clock, interval_s=5.0
    )


@pytest.fixture
async def job(store: SqlStore) -> Job:
    new = NewJob(
        model=SEEDANCE_1_5_PRO.id,
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
    return await factories.admit(store, new, T0)


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
    store: SqlStore,
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
    reporter: ProgressReporter, store: SqlStore, job: Job
) -> None:
    await store.update(job.id, JobChange(drop_token=True))
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

    nothing_learned = Forecast(
        None,  # no earlier job shows the price of these settings
        Eta(120.0, EtaBasis.DOCS),
        ready_at=T0 + timedelta(seconds=120),
        late_at=T0 + timedelta(seconds=132),
    )
    expected = messages.queued(1, nothing_learned, job).render()
    assert notifier.edits == [(job.id, expected)]
    assert len(scheduler) == 1  # and it keeps following


# expectations ----------------------------------------------------------------------------------


async def learn(store: SqlStore, *took_s: float) -> None:
    """Jobs with the test job's settings, delivered an hour before it."""
    for took in took_s:
        await delivered_job(store, took, at=T0 - timedelta(hours=1))


async def admitted(store: SqlStore, reserve_cents: int) -> Job:
    """A queued job that reserved `reserve_cents`, as `JobService.accept` admits one."""
    job = await store.admit(
        new_job(1001, now=T0), T0, reserve_cents=reserve_cents, cooldown_s=0, decide=lambda _: None
    )
    assert isinstance(job, Job)
    return job


async def test_a_queued_job_shows_its_reserved_cost_and_a_ready_time_learned_from_history(
    reporter: ProgressReporter, notifier: RecordingNotifier, store: SqlStore
) -> None:
    await learn(store, 60, 70, 80, 90, 400)  # median 80
    job = await admitted(store, reserve_cents=58)

    await reporter._tick(job.id)

    ((_, text),) = notifier.edits
    assert text.startswith("⏳ **Queued**")
    assert "Expected cost **$0.58**" in text
    assert f"ready <t:{int(T0.timestamp()) + 80}:R> at the earliest" in text
    assert "median of the last 5 clips at 5 s 720p" in text


async def test_a_waiting_job_is_not_edited_just_because_the_clock_moved(
    reporter: ProgressReporter, notifier: RecordingNotifier, clock: Clock, job: Job
) -> None:
    await reporter._tick(job.id)
    clock.now += timedelta(seconds=10)
    await reporter._tick(job.id)
    clock.now += timedelta(seconds=60)  # now the promised time is clearly off
    await reporter._tick(job.id)

    first, second = (text for _, text in notifier.edits)
    assert f"<t:{int(T0.timestamp()) + 120}:R>" in first
    assert f"<t:{int(T0.timestamp()) + 70 + 120}:R>" in second


async def test_a_job_being_sent_shows_the_cost_and_ready_time_too(
    reporter: ProgressReporter, notifier: RecordingNotifier, store: SqlStore
) -> None:
    job = await admitted(store, reserve_cents=100)
    await factories.record(store, job.id, JobState.SUBMITTING)

    await reporter._tick(job.id)

    ((_, text),) = notifier.edits
    assert text.startswith(messages.SUBMITTING.render())
    # Nothing shows the price of these settings yet: the documented one, not the reservation.
    assert "Expected cost **from $0.29**" in text
    assert f"<t:{int(T0.timestamp()) + 120}:R>" in text


async def test_once_a_job_with_its_settings_was_charged_a_waiting_job_shows_its_reservation(
    reporter: ProgressReporter, notifier: RecordingNotifier, store: SqlStore
) -> None:
    await learn(store, 90)  # charged 29 cents; `accept` reserves the most recently charged
    job = await admitted(store, reserve_cents=29)
    await factories.record(store, job.id, JobState.SUBMITTING)

    await reporter._tick(job.id)

    ((_, text),) = notifier.edits
    assert "Expected cost **$0.29**" in text
    assert "from $" not in text


async def test_a_generating_job_fills_its_bar_against_the_learned_eta(
    reporter: ProgressReporter,
    notifier: RecordingNotifier,
    clock: Clock,
    store: SqlStore,
    job: Job,
) -> None:
    await learn(store, 60, 60, 60)
    await factories.submit(store, job.id, "pred-1", 29, (30.0, 120.0), T0)
    clock.now = T0 + timedelta(seconds=36)  # 3/5 of the learned 60 s; under 2/5 of 120 s

    await reporter._tick(job.id)

    ((_, text),) = notifier.edits
    assert "`███░░`" in text
    assert f"expected <t:{int(T0.timestamp()) + 60}:R>" in text
    assert "cost $0.29" in text


async def test_a_generating_job_past_its_eta_says_it_is_late_once(
    reporter: ProgressReporter,
    notifier: RecordingNotifier,
    clock: Clock,
    store: SqlStore,
    job: Job,
) -> None:
    await learn(store, 90, 90, 90)
    await factories.submit(store, job.id, "pred-1", 29, (60.0, 120.0), T0)
    # Past the learned 90 s, but not late until past the API's 120 s as well.
    for elapsed_s in (100, 115, 121, 140, 200):
        clock.now = T0 + timedelta(seconds=elapsed_s)
        await reporter._tick(job.id)

    texts = [text for _, text in notifier.edits]
    assert ["taking longer than usual" in text for text in texts] == [False, True]
    assert all(f"expected <t:{int(T0.timestamp()) + 90}:R>" in text for text in texts)
