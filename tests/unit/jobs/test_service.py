"""JobService end to end below Discord: real store, real API client against the fake API, real
clip downloader, and a recording notifier in place of the Discord edge."""

from __future__ import annotations

import asyncio
import itertools
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from pydantic import SecretStr

import bot.jobs.progress
import bot.jobs.service
from bot.errors import UserError
from bot.guilds.model import AuditEntry, GuildConfig
from bot.guilds.policy import Access, Actor
from bot.i18n import messages
from bot.jobs.model import DeliveryRoute, FailureKind, ImageInput, Job, JobState, NewJob, Origin
from bot.jobs.notifier import (
    NO_EXTRAS,
    ChannelForbiddenError,
    ChannelGoneError,
    PostFailedError,
    ProgressGoneError,
    ResultExtras,
    UploadTooLargeError,
)
from bot.jobs.request import AnimateRequest
from bot.jobs.service import JobService, _generate_request
from bot.media.files import ClipDownloader, DiscordFiles, DownloadedClip
from bot.periods import next_day, next_month
from bot.remix.service import RemixService
from bot.settings import Settings
from bot.storage.store import SqlStore
from bot.video.seedance import MODEL_ID
from bot.video.vibedream import VibedreamClient
from tests import factories
from tests.factories import SETTINGS
from tests.fakes.fake_vibedream import FakeVibedream
from tests.fakes.tiny_http import TinyServer

WAIT_S = 5.0  # safety net only: every wait ends as soon as its condition holds
PNG_HEAD = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x04\x00\x00\x00\x03\x00\x08\x06"
GUILD_ID, CHANNEL_ID, OTHER_GUILD_ID, MOD_LOG_ID = 555, 777, 556, 888
ALICE, BOB, MOD = 1001, 1002, 1003
MODERATION = "Flagged by content moderation."


# Test doubles ----------------------------------------------------------------------------------


class RecordingNotifier:
    """A `JobNotifier` that records every call; set the `*_error` fields to make calls fail."""

    def __init__(self) -> None:
        self.edits: list[tuple[int, str]] = []
        self.clip_attempts: list[int] = []  # job id of every post_clip call, failed or not
        self.clips: list[tuple[int, int]] = []  # (job id, clip size) of every posted clip
        self.links: list[tuple[int, datetime]] = []
        self.mentions: dict[int, bool] = {}  # job id -> whether its last clip/link post mentioned
        self.failures: list[tuple[int, str]] = []
        self.cancellable: dict[int, bool] = {}  # job id -> whether its last edit had Cancel
        self.mod_log_posts: list[tuple[int, int]] = []  # (job id, channel id)
        self.mod_log_updates: list[tuple[int, JobState]] = []
        self.mod_log_shown: list[Job] = []  # each job as an entry update showed it
        self.edit_error: Exception | None = None
        self.clip_error: Exception | None = None
        self.failure_error: Exception | None = None
        self.post_routes: list[tuple[int, DeliveryRoute]] = []  # every clip/link post attempt
        self.failure_routes: list[DeliveryRoute] = []  # the route of every posted failure
        self.route_errors: dict[DeliveryRoute, Exception] = {}  # raised by any post that way
        self.mod_log_error: Exception | None = None
        self.mod_log_passing_failures = 0  # mod-log posts that fail with a retryable error first
        self.mod_log_attempts = 0
        self.extras: dict[int, ResultExtras] = {}  # job id -> extras of its last post
        self.source_bytes: dict[int, list[bytes]] = {}  # job id -> its posted source images
        self.deleted: list[int] = []  # job ids whose post was deleted
        self.delete_error: Exception | None = None
        self._message_ids = itertools.count(90_001)

    def texts(self, job_id: int) -> list[str]:
        """Every text successfully put on this job's progress message, in order."""
        return [text for jid, text in self.edits if jid == job_id]

    async def edit_progress(self, job: Job, text: str, *, cancellable: bool) -> bool:
        await asyncio.sleep(0)  # a real edit is a request: other tasks run meanwhile
        if self.edit_error is not None:
            raise self.edit_error
        self.edits.append((job.id, text))
        self.cancellable[job.id] = cancellable
        return True

    async def post_clip(
        self,
        job: Job,
        clip: DownloadedClip,
        via: DeliveryRoute = DeliveryRoute.CHANNEL,
        extras: ResultExtras = NO_EXTRAS,
        *,
        mention: bool = False,
    ) -> int:
        await asyncio.sleep(0)
        self.extras[job.id] = extras
        self.source_bytes[job.id] = [s.file.path.read_bytes() for s in extras.sources]
        self.clip_attempts.append(job.id)
        self.mentions[job.id] = mention
        self.post_routes.append((job.id, via))
        if via in self.route_errors:
            raise self.route_errors[via]
        if self.clip_error is not None:
            raise self.clip_error
        assert clip.path.read_bytes()[4:8] == b"ftyp"  # the downloaded mp4 is on disk
        self.clips.append((job.id, clip.size_bytes))
        return next(self._message_ids)

    async def post_link(
        self,
        job: Job,
        expires_at: datetime,
        via: DeliveryRoute = DeliveryRoute.CHANNEL,
        extras: ResultExtras = NO_EXTRAS,
        *,
        mention: bool = False,
    ) -> int:
        await asyncio.sleep(0)
        self.mentions[job.id] = mention
        self.extras[job.id] = extras
        self.post_routes.append((job.id, via))
        if via in self.route_errors:
            raise self.route_errors[via]
        self.links.append((job.id, expires_at))
        return next(self._message_ids)

    async def post_failure(
        self, job: Job, text: str, via: DeliveryRoute = DeliveryRoute.CHANNEL
    ) -> None:
        await asyncio.sleep(0)
        if via in self.route_errors:
            raise self.route_errors[via]
        if self.failure_error is not None:
            raise self.failure_error
        self.failures.append((job.id, text))
        self.failure_routes.append(via)

    async def post_mod_log(self, job: Job, channel_id: int) -> int:
        await asyncio.sleep(0)
        self.mod_log_attempts += 1
        if self.mod_log_error is not None:
            raise self.mod_log_error
        if self.mod_log_passing_failures:
            self.mod_log_passing_failures -= 1
            raise PostFailedError("503 Service Unavailable", retryable=True)
        self.mod_log_posts.append((job.id, channel_id))
        return next(self._message_ids)

    async def update_mod_log(self, job: Job) -> None:
        await asyncio.sleep(0)
        self.mod_log_updates.append((job.id, job.state))
        self.mod_log_shown.append(job)

    async def delete_post(self, job: Job) -> None:
        await asyncio.sleep(0)
        if self.delete_error is not None:
            raise self.delete_error
        self.deleted.append(job.id)


class TracingStore:
    """The real store, noting the state each write leaves a job in."""

    #: The writes that move a job (a refused move returns None and is not noted).
    _TRANSITIONS = frozenset({"claim_next_queued", "move"})

    def __init__(self, inner: SqlStore) -> None:
        self.inner = inner
        self.history: defaultdict[int, list[JobState]] = defaultdict(list)

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)
        if name not in self._TRANSITIONS:
            return attr

        async def traced(*args: Any, **kwargs: Any) -> Any:
            job = await attr(*args, **kwargs)
            if job is not None:
                self.history[job.id].append(job.state)
            return job

        return traced


class Clock:
    """Wall-clock time plus an offset the test can move forward."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)


class Sleeper:
    """Stands in for the API client's retry sleep: returns at once unless `gate` is closed."""

    def __init__(self) -> None:
        self.waits: list[float] = []
        self.entered = asyncio.Event()
        self.gate: asyncio.Event | None = None

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.entered.set()
        if self.gate is not None:
            await self.gate.wait()
        await asyncio.sleep(0)


# Harness ---------------------------------------------------------------------------------------


@dataclass
class Harness:
    """One JobService wired to the fakes; `start()` it after seeding the store if need be."""

    service: JobService
    remix: RemixService
    store: TracingStore
    api: VibedreamClient
    fake: FakeVibedream
    notifier: RecordingNotifier
    clock: Clock
    sleeper: Sleeper
    settings: Settings
    image_url: str

    async def start(self) -> None:
        self.store.history.clear()  # only what the service itself does
        await self.service.start(self.notifier)

    def origin(self, user_id: int = ALICE, *, token_ttl_s: float = 900.0, **changes: Any) -> Origin:
        fields: dict[str, Any] = {
            "guild_id": GUILD_ID,
            "channel_id": CHANNEL_ID,
            "user_id": user_id,
            "application_id": 999,
            "interaction_token": f"token-{user_id}",
            "interaction_expires_at": self.clock() + timedelta(seconds=token_ttl_s),
            "upload_limit_bytes": 10 * 1024 * 1024,
        }
        return Origin(**(fields | changes))

    async def accept(
        self,
        user_id: int = ALICE,
        *,
        prompt: str = "The cat turns its head and blinks",
        image_url: str | None = None,
        origin: Origin | None = None,
    ) -> Job:
        image = ImageInput(
            url=image_url or self.image_url,
            filename="cat.png",
            size_bytes=50_000,
            content_type="image/png",
            width=1024,
            height=768,
        )
        request = self.service.check(AnimateRequest(prompt=prompt, image=image, seed=7))
        origin = origin or self.origin(user_id)
        return await self.service.accept(request, origin, self.access(origin.user_id))

    def access(self, user_id: int = ALICE, **changes: Any) -> Access:
        fields: dict[str, Any] = {
            "guild_id": GUILD_ID,
            "user_id": user_id,
            "role_ids": frozenset(),
            "channel_ids": frozenset({CHANNEL_ID}),
            "nsfw": False,
        }
        return Access(**(fields | changes))

    async def seed(self, state: JobState, user_id: int, prompt: str, reserve: int = 0) -> Job:
        """Store a job as a previous run would have left it in `state` (before `start`)."""
        new = NewJob(
            model=MODEL_ID,
            origin=self.origin(user_id),
            prompt=prompt,
            image_url=self.image_url,
            last_image_url=None,
            settings=SETTINGS,
            nonce=f"nonce-{user_id}",
        )
        store, now = self.store.inner, self.clock()
        job = await store.admit(
            new, now, reserve_cents=reserve, cooldown_s=0, decide=lambda _: None
        )
        assert isinstance(job, Job)
        if state in (JobState.CLAIMED, JobState.SUBMITTING):
            return await factories.record(store, job.id, state)
        if state == JobState.FAILED:
            return await factories.fail(store, job.id, messages.TIMED_OUT.render(), 0, now)
        if state in (JobState.SUBMITTED, JobState.COMPLETED):
            answer = await self.api.submit(_generate_request(job))
            job = await factories.submit(
                store, job.id, answer.id, answer.cost_cents, answer.estimate_s(), now
            )
            if state == JobState.COMPLETED:
                outputs = self.fake.complete_now(answer.id).outputs
                assert outputs
                job = await factories.complete(store, job.id, outputs[0], None, now)
        assert job.state == state
        return job

    async def job(self, job_id: int) -> Job:
        job = await self.store.inner.get_job(job_id)
        assert job is not None
        return job

    async def wait_job(self, job_id: int, predicate: Callable[[Job], bool]) -> Job:
        """The job as stored, once `predicate` holds for it."""
        found: list[Job] = []

        async def check() -> bool:
            found[:] = [await self.job(job_id)]
            return predicate(found[0])

        await wait_until(check)
        return found[0]

    async def wait_state(self, job_id: int, state: JobState) -> Job:
        return await self.wait_job(job_id, lambda job: job.state == state)

    async def wait_notified(self, job_id: int) -> Job:
        """The job once it has ended and its user was told (delivered or failed)."""
        return await self.wait_job(job_id, lambda job: job.notified)

    def prediction_id_of(self, prompt: str) -> str:
        (found,) = [p.id for p in self.fake.predictions.values() if p.request["prompt"] == prompt]
        return found

    def submitted_prompts(self) -> list[str]:
        """The prompt of every submit the fake API received, faulted ones included."""
        return [r.json["prompt"] for r in self.fake.submits]


async def wait_until(
    condition: Callable[[], bool] | Callable[[], Awaitable[bool]], within: float = WAIT_S
) -> None:
    """Poll `condition` (sync or async) until it is true; fail the test after `within` s."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        result = condition()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if loop.time() >= deadline:
            pytest.fail(f"condition not met within {within} s")
        await asyncio.sleep(0.01)


@pytest.fixture
async def image_server() -> AsyncIterator[TinyServer]:
    """Serves the first bytes of a PNG at every path, as Discord's CDN would an attachment."""

    async def png(request: web.Request) -> web.Response:
        return web.Response(body=PNG_HEAD, content_type="image/png")

    async with TinyServer(png) as server:
        yield server


MakeHarness = Callable[..., Harness]


@pytest.fixture
async def make_harness(
    fake_api: FakeVibedream,
    http: aiohttp.ClientSession,
    store: SqlStore,
    image_server: TinyServer,
    tmp_path: Path,
) -> AsyncIterator[MakeHarness]:
    """Builds a harness (not started) with settings overrides; stops its service afterwards."""
    fake_api.estimated_time = "0.05-0.5s"
    fake_api.completion_delay_s = 0.05
    built: list[Harness] = []

    def build(downloader_type: type[ClipDownloader] = ClipDownloader, **overrides: Any) -> Harness:
        settings = Settings(
            **{
                "discord_token": SecretStr("x"),
                "vibedream_api_key": SecretStr(fake_api.api_key),
                "vibedream_api_url": fake_api.base_url,
                "vibedream_output_hosts": frozenset({fake_api.assets_host}),
                "vibedream_output_require_https": False,
                "poll_interval_s": 0.05,
                "poll_max_interval_s": 0.2,
                "progress_edit_interval_s": 0,
                "delivery_retry_base_s": 0.05,
                "api_backoff_max_s": 0.05,
                "api_max_retries": 2,
                "download_dir": tmp_path,
                # Server limits have their own tests; here they stay out of the way.
                "default_user_daily_limit": None,
                "default_user_monthly_limit": None,
                "default_user_cooldown_s": None,
                "default_user_in_flight_limit": None,
                "default_guild_monthly_spend_usd": None,
                "_env_file": None,
                **overrides,
            }
        )
        sleeper, clock = Sleeper(), Clock()
        api = VibedreamClient.from_settings(http, settings, sleep=sleeper)
        downloader = downloader_type.from_settings(http, settings)
        tracing = TracingStore(store)
        files = DiscordFiles(http, hosts=frozenset({"127.0.0.1"}))
        service = JobService(
            settings=settings,
            store=tracing,  # type: ignore[arg-type]  # duck-typed wrapper around SqlStore
            api=api,
            downloader=downloader,
            files=files,
            now=clock,
        )
        remix = RemixService(
            jobs=service,
            settings=settings,
            store=tracing,  # type: ignore[arg-type]
            downloader=downloader,
            files=files,
            now=clock,
        )
        harness = Harness(
            service=service,
            remix=remix,
            store=tracing,
            api=api,
            fake=fake_api,
            notifier=RecordingNotifier(),
            clock=clock,
            sleeper=sleeper,
            settings=settings,
            image_url=image_server.url("/attachments/1/2/cat.png"),
        )
        built.append(harness)
        return harness

    yield build
    for harness in built:
        if harness.sleeper.gate is not None:
            harness.sleeper.gate.set()
        await asyncio.wait_for(harness.service.stop(grace_s=1.0), WAIT_S)


@pytest.fixture
async def h(make_harness: MakeHarness) -> Harness:
    """A started harness with the default test settings."""
    harness = make_harness()
    await harness.start()
    return harness


# Happy path ------------------------------------------------------------------------------------


async def test_accepted_job_is_generated_and_posted_as_a_file(h: Harness) -> None:
    job = await h.accept()

    done = await h.wait_state(job.id, JobState.DELIVERED)

    assert done.delivered_as == "file"
    assert h.notifier.clips == [(job.id, h.fake.clip_bytes)]
    assert done.message_id is not None
    link = messages.jump_url(GUILD_ID, CHANNEL_ID, done.message_id)
    await wait_until(
        lambda: (
            messages.done(link, messages.generation_time(done)).render() in h.notifier.texts(job.id)
        )
    )
    assert h.store.history[job.id] == [
        JobState.CLAIMED,
        JobState.SUBMITTING,
        JobState.SUBMITTED,
        JobState.COMPLETED,
        JobState.DELIVERING,
        JobState.DELIVERED,
    ]


async def test_result_post_mentions_the_requester_by_default(h: Harness) -> None:
    job = await h.accept()

    await h.wait_state(job.id, JobState.DELIVERED)

    assert h.notifier.mentions == {job.id: True}


async def test_opting_out_while_a_job_runs_posts_its_result_without_a_mention(h: Harness) -> None:
    h.fake.hold()  # the clip is made only once the setting has changed
    job = await h.accept()
    await h.wait_state(job.id, JobState.SUBMITTED)
    other = await h.accept(BOB)

    await h.service.set_notify_on_done(ALICE, False)
    h.fake.release()
    await h.wait_state(job.id, JobState.DELIVERED)
    await h.wait_state(other.id, JobState.DELIVERED)

    assert h.notifier.mentions == {job.id: False, other.id: True}  # only Alice opted out
    assert await h.service.notify_on_done(ALICE) is False


async def test_link_post_follows_the_mention_setting_once_turned_back_on(h: Harness) -> None:
    await h.service.set_notify_on_done(ALICE, False)
    await h.service.set_notify_on_done(ALICE, True)
    h.fake.clip_bytes = 4096

    job = await h.accept(origin=h.origin(upload_limit_bytes=2048))
    done = await h.wait_state(job.id, JobState.DELIVERED)

    assert done.delivered_as == "link"
    assert h.notifier.mentions == {job.id: True}


async def test_a_job_sent_at_once_goes_straight_to_generating(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A long delay, so that the outcome cannot depend on how fast this machine is.
    monkeypatch.setattr(bot.jobs.service, "STEP_SHOW_DELAY_S", 30.0)
    h.fake.hold()  # it cannot be done before its first progress edit, however slow that is
    job = await h.accept()

    await wait_until(lambda: bool(h.notifier.texts(job.id)))
    (prediction_id,) = h.fake.predictions
    h.fake.complete_now(prediction_id)
    await h.wait_state(job.id, JobState.DELIVERED)
    await wait_until(lambda: any("Done" in t for t in h.notifier.texts(job.id)))

    texts = h.notifier.texts(job.id)
    assert texts[0].startswith("🎬 **Generating**")
    assert not any(t.startswith(messages.SUBMITTING.render()) for t in texts)
    assert not any(t.startswith("⏳ **Queued**") for t in texts)


async def test_a_slow_submit_shows_that_the_job_is_being_sent(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bot.jobs.service, "STEP_SHOW_DELAY_S", 0.05)
    h.sleeper.gate = asyncio.Event()
    h.fake.fail_next("submit", 429)
    job = await h.accept()
    await asyncio.wait_for(h.sleeper.entered.wait(), WAIT_S)  # the client waits to retry

    await wait_until(
        lambda: any(t.startswith(messages.SUBMITTING.render()) for t in h.notifier.texts(job.id))
    )
    h.sleeper.gate.set()
    await h.wait_state(job.id, JobState.DELIVERED)


# Intake ----------------------------------------------------------------------------------------


async def test_accept_beyond_the_per_user_open_job_cap_is_refused_and_stores_nothing(
    make_harness: MakeHarness,
) -> None:
    h = make_harness(max_jobs_queued_per_user=2)
    await h.start()
    h.fake.hold()
    await h.accept(prompt="first")
    await h.accept(prompt="second")

    with pytest.raises(UserError) as refused:
        await h.accept(prompt="third")

    assert refused.value.user_message == messages.too_many_open_jobs(2)
    usage = await h.service.usage(ALICE)
    assert [job.prompt for job in usage.recent] == ["second", "first"]


# Dispatch and submit ---------------------------------------------------------------------------


async def test_second_job_of_a_user_at_the_in_flight_cap_waits_while_another_user_goes_first(
    make_harness: MakeHarness,
) -> None:
    h = make_harness(max_jobs_in_flight_per_user=1)
    await h.start()
    h.fake.hold()
    first = await h.accept(ALICE, prompt="alice one")
    second = await h.accept(ALICE, prompt="alice two")
    other = await h.accept(BOB, prompt="bob one")

    await h.wait_state(other.id, JobState.SUBMITTED)

    assert (await h.job(first.id)).state == JobState.SUBMITTED
    assert (await h.job(second.id)).state == JobState.QUEUED
    assert sorted(h.submitted_prompts()) == ["alice one", "bob one"]
    # Once Alice's first job is done, her second one goes out.
    h.fake.complete_now(h.prediction_id_of("alice one"))
    await h.wait_state(second.id, JobState.SUBMITTED)


async def test_image_link_about_to_expire_fails_at_submit_without_calling_the_api(
    h: Harness,
) -> None:
    expires = int((h.clock() + timedelta(seconds=90)).timestamp())
    url = f"{h.image_url}?ex={expires:x}&is={expires - 86400:x}&hm=abc123&"

    job = await h.accept(image_url=url)
    failed = await h.wait_notified(job.id)

    assert failed.state == JobState.FAILED
    assert failed.error == messages.IMAGE_LINK_EXPIRED.render()
    assert failed.cost_cents == 0
    assert h.fake.submits == []
    assert messages.failed(messages.IMAGE_LINK_EXPIRED.render()).render() in h.notifier.texts(
        job.id
    )


async def test_persistent_429_on_submit_requeues_the_job_and_submits_it_once_the_api_recovers(
    h: Harness,
) -> None:
    attempts = 1 + h.settings.api_max_retries
    h.fake.fail_next("submit", 429, times=attempts)

    job = await h.accept()
    done = await h.wait_state(job.id, JobState.DELIVERED)

    history = h.store.history[job.id]
    requeued_at = history.index(JobState.QUEUED)
    assert JobState.SUBMITTING in history[:requeued_at]
    assert history[requeued_at + 1 :].count(JobState.SUBMITTED) == 1
    assert messages.SERVICE_BUSY.render() in h.notifier.texts(job.id)
    assert len(h.fake.submits) == attempts + 1
    assert list(h.fake.predictions) == [done.prediction_id]


async def test_stop_during_a_submit_retry_sends_nothing_more_and_requeues_the_job(
    h: Harness,
) -> None:
    h.sleeper.gate = asyncio.Event()
    h.fake.fail_next("submit", 429)
    job = await h.accept()
    await asyncio.wait_for(h.sleeper.entered.wait(), WAIT_S)  # the client waits to retry

    stopping = asyncio.create_task(h.service.stop(grace_s=1.0))
    await asyncio.sleep(0)  # stop() marks the service as closing before its first await
    h.sleeper.gate.set()
    await asyncio.wait_for(stopping, WAIT_S)

    assert len(h.fake.submits) == 1
    assert h.fake.predictions == {}
    assert (await h.job(job.id)).state == JobState.QUEUED


# Polling ---------------------------------------------------------------------------------------


async def test_prediction_processing_past_the_job_timeout_fails_and_tells_the_user(
    make_harness: MakeHarness,
) -> None:
    h = make_harness(job_timeout_s=60)
    await h.start()
    h.fake.hold()
    job = await h.accept()
    await h.wait_state(job.id, JobState.SUBMITTED)

    h.clock.advance(61)
    failed = await h.wait_notified(job.id)

    assert failed.state == JobState.FAILED
    assert failed.error == messages.TIMED_OUT.render()
    assert messages.failed(messages.TIMED_OUT.render()).render() in h.notifier.texts(job.id)
    assert h.notifier.failures == []  # the token still works: told in the progress message


async def test_api_unreachable_past_the_job_timeout_keeps_the_job_until_it_answers(
    make_harness: MakeHarness,
) -> None:
    h = make_harness(job_timeout_s=60)
    await h.start()
    h.fake.hold()
    job = await h.accept()
    await h.wait_state(job.id, JobState.SUBMITTED)
    polls = len([r for r in h.fake.requests if r.route == "status"])

    h.fake.fail_next("status", 503, times=4)  # the API is down...
    h.clock.advance(600)  # ...for far longer than the job timeout
    h.fake.complete_now(h.prediction_id_of(job.prompt))  # and made the clip meanwhile

    done = await h.wait_state(job.id, JobState.DELIVERED)
    assert done.error is None
    statuses = [r.status for r in h.fake.requests if r.route == "status"][polls:]
    assert statuses[:4] == [503] * 4  # every poll during the outage was past the timeout


async def test_401_while_polling_fails_the_job_as_service_unavailable(h: Harness) -> None:
    h.fake.fail_next("status", 401)

    job = await h.accept()
    failed = await h.wait_notified(job.id)

    assert failed.state == JobState.FAILED
    assert failed.error == messages.SERVICE_UNAVAILABLE.render()
    assert messages.failed(messages.SERVICE_UNAVAILABLE.render()).render() in h.notifier.texts(
        job.id
    )
    assert failed.prediction_id is not None
    assert h.fake.status_polls(failed.prediction_id) == 1  # no further polls


# Delivery --------------------------------------------------------------------------------------


async def test_clip_over_the_channel_upload_limit_is_posted_as_a_link(h: Harness) -> None:
    h.fake.clip_bytes = 4096

    job = await h.accept(origin=h.origin(upload_limit_bytes=2048))
    done = await h.wait_state(job.id, JobState.DELIVERED)

    assert done.delivered_as == "link"
    assert [job_id for job_id, _ in h.notifier.links] == [job.id]
    assert h.notifier.clip_attempts == []


async def test_clip_refused_by_the_platform_as_too_large_is_posted_as_a_link(h: Harness) -> None:
    h.notifier.clip_error = UploadTooLargeError("413 Payload Too Large")

    job = await h.accept()
    done = await h.wait_state(job.id, JobState.DELIVERED)

    assert done.delivered_as == "link"
    # With its source image, then without: the clip is the problem, so a link, which still
    # carries the source image the buttons need.
    assert h.notifier.clip_attempts == [job.id, job.id]
    assert [job_id for job_id, _ in h.notifier.links] == [job.id]
    assert [s.filename for s in h.notifier.extras[job.id].sources] == ["source-first.png"]


async def test_source_images_leave_room_for_the_request_under_the_message_cap(
    h: Harness,
) -> None:
    # The clip and the source image together stay under 25 MiB, but not with the ~1 MiB the
    # rest of the multipart request needs: the clip goes alone.
    cap = 25 * 1024 * 1024
    h.fake.clip_bytes = cap - 512 * 1024

    job = await h.accept(origin=h.origin(upload_limit_bytes=cap))
    done = await h.wait_state(job.id, JobState.DELIVERED)

    assert done.delivered_as == "file"
    assert h.notifier.extras[job.id].sources == ()


async def test_with_re_encoding_off_a_clip_over_the_limit_is_not_downloaded_in_full(
    make_harness: MakeHarness,
) -> None:
    caps: list[int | None] = []

    class CapRecorder(ClipDownloader):
        async def download(self, url: str, *, max_bytes: int | None = None) -> DownloadedClip:
            caps.append(max_bytes)
            return await super().download(url, max_bytes=max_bytes)

    h = make_harness(downloader_type=CapRecorder, reencode_concurrency=0)
    await h.start()
    h.fake.clip_bytes = 4096

    job = await h.accept(origin=h.origin(upload_limit_bytes=2048))
    done = await h.wait_state(job.id, JobState.DELIVERED)

    assert done.delivered_as == "link"
    assert caps == [2048]  # stopped at the upload limit: nothing could use the rest


async def test_delivery_failing_transiently_is_retried_then_fails_as_post_failed(
    make_harness: MakeHarness,
) -> None:
    h = make_harness(delivery_retries=2)
    await h.start()
    h.notifier.clip_error = PostFailedError("503 from Discord", retryable=True)

    job = await h.accept()
    failed = await h.wait_notified(job.id)

    assert failed.state == JobState.FAILED
    assert failed.error == messages.POST_FAILED.render()
    assert h.notifier.clip_attempts == [job.id] * 3  # the first try and two retries
    assert messages.failed(messages.POST_FAILED.render()).render() in h.notifier.texts(job.id)


async def test_delivery_failing_for_good_is_not_retried(h: Harness) -> None:
    h.notifier.clip_error = PostFailedError("403 Missing Permissions", retryable=False)

    job = await h.accept()
    failed = await h.wait_notified(job.id)

    assert failed.state == JobState.FAILED
    assert failed.error == messages.POST_FAILED.render()
    assert h.notifier.clip_attempts == [job.id]


# Failure notices -------------------------------------------------------------------------------


async def test_failure_after_the_token_expired_is_posted_in_the_channel(h: Harness) -> None:
    h.fake.fail_prompts_containing = {"forbidden": MODERATION}

    job = await h.accept(prompt="something forbidden", origin=h.origin(token_ttl_s=-60))
    failed = await h.wait_notified(job.id)

    reason = messages.api_failed(MODERATION)
    assert failed.state == JobState.FAILED
    assert h.notifier.failures == [
        (job.id, messages.failed_in_channel(ALICE, job.id, reason).render())
    ]
    assert h.notifier.edits == []


async def test_failure_whose_progress_message_is_gone_is_posted_in_the_channel(
    h: Harness,
) -> None:
    h.fake.fail_prompts_containing = {"forbidden": MODERATION}
    h.notifier.edit_error = ProgressGoneError("Unknown Webhook")

    job = await h.accept(prompt="something forbidden")
    failed = await h.wait_notified(job.id)

    reason = messages.api_failed(MODERATION)
    assert failed.state == JobState.FAILED
    assert h.notifier.failures == [
        (job.id, messages.failed_in_channel(ALICE, job.id, reason).render())
    ]


async def test_failure_notice_that_cannot_be_posted_still_ends_the_job(h: Harness) -> None:
    h.fake.fail_prompts_containing = {"forbidden": MODERATION}
    h.notifier.failure_error = PostFailedError("403 Missing Access", retryable=False)

    job = await h.accept(prompt="something forbidden", origin=h.origin(token_ttl_s=-60))
    failed = await h.wait_notified(job.id)

    assert failed.state == JobState.FAILED
    assert failed.origin.interaction_token == ""


# Progress memory -------------------------------------------------------------------------------


async def test_finished_jobs_are_dropped_from_the_progress_reporters_memory(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bot.jobs.progress, "_KEEP_FINAL_S", 0.05)
    h.fake.fail_prompts_containing = {"forbidden": MODERATION}

    delivered = await h.accept(ALICE, prompt="a cat blinks")
    failed = await h.accept(BOB, prompt="something forbidden")
    await h.wait_state(delivered.id, JobState.DELIVERED)
    await h.wait_notified(failed.id)

    reporter = h.service._reporter
    await wait_until(lambda: not reporter._shown)


# Resuming after a restart ----------------------------------------------------------------------

RESUMED_STATES = (
    JobState.QUEUED,
    JobState.CLAIMED,
    JobState.SUBMITTING,
    JobState.SUBMITTED,
    JobState.COMPLETED,
    JobState.FAILED,
)


@dataclass
class Restarted:
    """A service started on a store a previous run left with one job in each open state."""

    h: Harness
    jobs: dict[JobState, Job]
    submits_before: int  # submits made while seeding, before the service started

    def new_submits(self) -> list[str]:
        return self.h.submitted_prompts()[self.submits_before :]


@pytest.fixture
async def restarted(make_harness: MakeHarness) -> Restarted:
    h = make_harness()
    h.fake.hold()  # the seeded "submitted" job's prediction is still processing
    jobs = {
        state: await h.seed(state, user_id, f"{state} at the restart")
        for user_id, state in enumerate(RESUMED_STATES, start=2001)
    }
    submits_before = len(h.fake.submits)
    await h.start()
    return Restarted(h, jobs, submits_before)


async def test_resumed_queued_job_is_submitted(restarted: Restarted) -> None:
    job = restarted.jobs[JobState.QUEUED]

    await restarted.h.wait_state(job.id, JobState.SUBMITTED)

    assert restarted.new_submits().count(job.prompt) == 1


async def test_restart_with_nothing_but_a_queued_job_submits_it(
    make_harness: MakeHarness,
) -> None:
    # Nothing else finishes or fails to wake the dispatcher: start() itself must.
    h = make_harness()
    job = await h.seed(JobState.QUEUED, ALICE, "alone in the queue")

    await h.start()

    await h.wait_state(job.id, JobState.SUBMITTED)


async def test_resumed_claimed_job_goes_back_to_the_queue_then_is_submitted(
    restarted: Restarted,
) -> None:
    job = restarted.jobs[JobState.CLAIMED]

    await restarted.h.wait_state(job.id, JobState.SUBMITTED)

    assert restarted.h.store.history[job.id][:3] == [
        JobState.QUEUED,
        JobState.CLAIMED,
        JobState.SUBMITTING,
    ]
    assert restarted.new_submits().count(job.prompt) == 1


async def test_resumed_job_caught_mid_submit_fails_as_outcome_unknown_without_resending(
    restarted: Restarted,
) -> None:
    h, job = restarted.h, restarted.jobs[JobState.SUBMITTING]

    failed = await h.wait_notified(job.id)

    assert failed.state == JobState.FAILED
    assert failed.error == messages.SUBMIT_OUTCOME_UNKNOWN.render()
    assert messages.failed(messages.SUBMIT_OUTCOME_UNKNOWN.render()).render() in h.notifier.texts(
        job.id
    )
    # Once the dispatcher has sent the queued jobs, it is clear nothing else was (re-)sent.
    await h.wait_state(restarted.jobs[JobState.QUEUED].id, JobState.SUBMITTED)
    await h.wait_state(restarted.jobs[JobState.CLAIMED].id, JobState.SUBMITTED)
    assert sorted(restarted.new_submits()) == ["claimed at the restart", "queued at the restart"]


async def test_resumed_submitted_job_is_polled_and_delivered_without_resending(
    restarted: Restarted,
) -> None:
    h, job = restarted.h, restarted.jobs[JobState.SUBMITTED]
    assert job.prediction_id is not None
    prediction_id = job.prediction_id

    await wait_until(lambda: h.fake.status_polls(prediction_id) > 0)
    h.fake.complete_now(prediction_id)
    done = await h.wait_state(job.id, JobState.DELIVERED)

    assert done.delivered_as == "file"
    assert job.prompt not in restarted.new_submits()


async def test_resumed_completed_job_is_delivered(restarted: Restarted) -> None:
    h, job = restarted.h, restarted.jobs[JobState.COMPLETED]

    done = await h.wait_state(job.id, JobState.DELIVERED)

    assert done.delivered_as == "file"
    assert h.notifier.clips == [(job.id, h.fake.clip_bytes)]


async def test_resumed_failed_job_tells_the_user(restarted: Restarted) -> None:
    h, job = restarted.h, restarted.jobs[JobState.FAILED]

    told = await h.wait_notified(job.id)

    assert told.state == JobState.FAILED
    assert h.notifier.texts(job.id) == [messages.failed(messages.TIMED_OUT.render()).render()]


# Delivery and submit faults --------------------------------------------------------------------

FORBIDDEN = ChannelForbiddenError("403 Forbidden (error code: 50013): Missing Permissions")
GONE = ChannelGoneError("404 Not Found (error code: 10003): Unknown Channel")


async def test_clip_refused_in_the_channel_goes_out_as_an_interaction_followup(
    h: Harness,
) -> None:
    h.notifier.route_errors[DeliveryRoute.CHANNEL] = FORBIDDEN

    job = await h.accept()
    done = await h.wait_state(job.id, JobState.DELIVERED)

    assert h.notifier.post_routes == [
        (job.id, DeliveryRoute.CHANNEL),
        (job.id, DeliveryRoute.FOLLOWUP),
    ]
    assert done.delivered_via == DeliveryRoute.FOLLOWUP
    assert done.delivery_note is not None
    assert "Missing Permissions" in done.delivery_note
    assert done.failure_kind is None


async def test_clip_refused_in_the_channel_after_the_token_expired_is_sent_by_dm(
    h: Harness,
) -> None:
    h.notifier.route_errors[DeliveryRoute.CHANNEL] = FORBIDDEN

    job = await h.accept(origin=h.origin(token_ttl_s=-60))
    done = await h.wait_state(job.id, JobState.DELIVERED)

    assert h.notifier.post_routes == [(job.id, DeliveryRoute.CHANNEL), (job.id, DeliveryRoute.DM)]
    assert done.delivered_via == DeliveryRoute.DM
    assert done.delivery_note is not None
    assert "Missing Permissions" in done.delivery_note


async def test_clip_that_can_be_posted_nowhere_is_undeliverable_and_the_user_is_told(
    h: Harness,
) -> None:
    h.notifier.route_errors[DeliveryRoute.CHANNEL] = FORBIDDEN
    h.notifier.route_errors[DeliveryRoute.FOLLOWUP] = PostFailedError("401", retryable=False)
    h.notifier.route_errors[DeliveryRoute.DM] = PostFailedError("50007", retryable=False)

    job = await h.accept()
    failed = await h.wait_notified(job.id)

    assert failed.state == JobState.FAILED
    assert failed.failure_kind == FailureKind.UNDELIVERABLE
    assert [route for _, route in h.notifier.post_routes] == [
        DeliveryRoute.CHANNEL,
        DeliveryRoute.FOLLOWUP,
        DeliveryRoute.DM,
    ]
    assert failed.error is not None
    assert failed.output_url is not None
    assert failed.output_url in failed.error


async def test_deleted_channel_makes_the_job_undeliverable_and_tells_the_user_by_dm(
    h: Harness,
) -> None:
    h.notifier.route_errors[DeliveryRoute.CHANNEL] = GONE

    job = await h.accept()
    failed = await h.wait_notified(job.id)

    assert failed.state == JobState.FAILED
    assert failed.failure_kind == FailureKind.UNDELIVERABLE
    assert h.notifier.post_routes == [(job.id, DeliveryRoute.CHANNEL)]  # no followup there
    assert h.notifier.failure_routes == [DeliveryRoute.DM]
    ((job_id, text),) = h.notifier.failures
    assert job_id == job.id
    assert failed.output_url is not None
    assert failed.output_url in text


async def test_failure_notice_refused_in_the_channel_is_sent_by_dm(h: Harness) -> None:
    h.fake.fail_prompts_containing = {"forbidden": "Flagged."}
    h.notifier.route_errors[DeliveryRoute.CHANNEL] = FORBIDDEN

    job = await h.accept(prompt="something forbidden", origin=h.origin(token_ttl_s=-60))
    await h.wait_notified(job.id)

    assert h.notifier.failure_routes == [DeliveryRoute.DM]
    ((_, text),) = h.notifier.failures
    assert text == messages.failed_by_dm(job.id, messages.api_failed("Flagged.")).render()


async def test_submit_answered_by_a_gateway_error_is_recorded_as_outcome_unknown(
    h: Harness,
) -> None:
    h.fake.fail_next("submit", 502)  # a proxy error can hide a prediction that was created

    job = await h.accept()
    failed = await h.wait_notified(job.id)

    assert failed.state == JobState.FAILED
    assert failed.failure_kind == FailureKind.SUBMIT_UNKNOWN
    assert failed.error == messages.SUBMIT_OUTCOME_UNKNOWN.render()
    assert len(h.fake.submits) == 1


async def test_resumed_job_caught_mid_submit_is_recorded_as_outcome_unknown(
    make_harness: MakeHarness,
) -> None:
    h = make_harness()
    job = await h.seed(JobState.SUBMITTING, ALICE, "cut off mid-submit")

    await h.start()
    failed = await h.wait_notified(job.id)

    assert failed.failure_kind == FailureKind.SUBMIT_UNKNOWN
    assert h.fake.submits == []


async def test_no_new_job_is_accepted_once_stopping(h: Harness) -> None:
    await h.service.stop(grace_s=0.1)

    with pytest.raises(UserError) as refused:
        await h.accept()

    assert refused.value.user_message == messages.SHUTTING_DOWN
    assert await h.store.inner.open_jobs() == []


# Cancel ----------------------------------------------------------------------------------------


def actor(user_id: int, *, manages: bool = False, guild_id: int = GUILD_ID) -> Actor:
    return Actor(guild_id=guild_id, user_id=user_id, can_manage_messages=manages)


async def cancel_refusal(h: Harness, job_id: int, who: Actor) -> str:
    with pytest.raises(UserError) as refused:
        await h.service.cancel(job_id, who)
    return refused.value.user_message


async def test_requester_cancels_a_queued_job_which_is_never_submitted(
    make_harness: MakeHarness,
) -> None:
    h = make_harness(max_jobs_in_flight=1)
    await h.start()
    h.fake.hold()
    running = await h.accept(BOB, prompt="running")
    await h.wait_state(running.id, JobState.SUBMITTED)
    queued = await h.accept(ALICE, prompt="waiting")
    await wait_until(lambda: h.notifier.cancellable.get(queued.id) is True)

    cancelled = await h.service.cancel(queued.id, actor(ALICE))

    assert cancelled.state == JobState.CANCELLED
    assert cancelled.cancelled_by == ALICE
    told = await h.wait_notified(queued.id)
    assert told.state == JobState.CANCELLED
    assert h.notifier.texts(queued.id)[-1] == messages.cancelled(ALICE, ALICE).render()
    assert h.notifier.cancellable[queued.id] is False
    h.fake.complete_now(h.prediction_id_of("running"))
    await h.wait_state(running.id, JobState.DELIVERED)
    assert h.submitted_prompts() == ["running"]
    assert (await h.job(queued.id)).state == JobState.CANCELLED


async def test_cancelling_a_generating_job_frees_its_slot_and_never_posts_it(
    make_harness: MakeHarness,
) -> None:
    h = make_harness(max_jobs_in_flight=1)
    await h.start()
    h.fake.hold()
    first = await h.accept(ALICE, prompt="first")
    await h.wait_state(first.id, JobState.SUBMITTED)
    second = await h.accept(BOB, prompt="second")

    await h.service.cancel(first.id, actor(ALICE))

    await h.wait_state(second.id, JobState.SUBMITTED)
    h.fake.complete_now(h.prediction_id_of("first"))
    h.fake.complete_now(h.prediction_id_of("second"))
    await h.wait_state(second.id, JobState.DELIVERED)
    assert [job_id for job_id, _ in h.notifier.clips] == [second.id]
    stopped = await h.job(first.id)
    assert stopped.state == JobState.CANCELLED
    assert stopped.cost_cents == h.fake.cost_cents
    assert stopped.reserved_cents == 0


async def test_job_cancelled_while_its_submit_is_on_the_wire_is_never_polled_or_posted(
    h: Harness,
) -> None:
    h.fake.submit_answer_delay_s = 0.5
    job = await h.accept(ALICE, prompt="on the wire")
    await h.wait_state(job.id, JobState.SUBMITTING)

    await h.service.cancel(job.id, actor(ALICE))

    # The answer still comes back and is recorded: the API charged for it.
    charged = await h.wait_job(job.id, lambda j: j.prediction_id is not None)
    assert charged.state == JobState.CANCELLED
    assert charged.cost_cents == h.fake.cost_cents
    other = await h.accept(BOB, prompt="after")
    h.fake.submit_answer_delay_s = 0
    await h.wait_state(other.id, JobState.DELIVERED)
    assert h.fake.status_polls(charged.prediction_id or "") == 0
    assert [job_id for job_id, _ in h.notifier.clips] == [other.id]
    assert h.notifier.texts(job.id)[-1] == messages.cancelled(ALICE, ALICE).render()


async def test_job_cancelled_once_completed_is_not_posted_by_a_late_delivery_step(
    h: Harness,
) -> None:
    h.fake.hold()
    job = await h.accept(ALICE)
    await h.wait_state(job.id, JobState.SUBMITTED)
    prediction = h.fake.complete_now(h.prediction_id_of(job.prompt))
    assert prediction.outputs
    # As if a poll had just recorded the clip and its delivery step had not yet run.
    h.service._scheduler.cancel(("poll", job.id))
    await factories.complete(h.store.inner, job.id, prediction.outputs[0], None, h.clock())

    await h.service.cancel(job.id, actor(ALICE))
    await h.service._deliver(job.id)

    told = await h.wait_notified(job.id)
    assert told.state == JobState.CANCELLED
    assert told.message_id is None
    assert h.notifier.clip_attempts == []
    assert h.notifier.links == []


async def test_job_cancelled_while_its_submit_waits_to_retry_is_not_sent_again(
    h: Harness,
) -> None:
    h.sleeper.gate = asyncio.Event()
    h.fake.fail_next("submit", 429)
    job = await h.accept()
    await asyncio.wait_for(h.sleeper.entered.wait(), WAIT_S)  # the client waits to retry

    await h.service.cancel(job.id, actor(ALICE))
    h.sleeper.gate.set()

    told = await h.wait_notified(job.id)
    assert told.state == JobState.CANCELLED
    assert told.cost_cents == 0
    other = await h.accept(BOB, prompt="after")
    await h.wait_state(other.id, JobState.DELIVERED)
    assert h.submitted_prompts() == [job.prompt, "after"]  # the refused attempt, then Bob's
    assert h.fake.predictions.keys() == {(await h.job(other.id)).prediction_id}


async def test_moderator_may_cancel_someone_elses_job_and_others_may_not(h: Harness) -> None:
    h.fake.hold()
    job = await h.accept(ALICE)
    await h.wait_state(job.id, JobState.SUBMITTED)

    assert await cancel_refusal(h, job.id, actor(BOB)) == messages.CANCEL_NOT_ALLOWED
    assert (await h.job(job.id)).state == JobState.SUBMITTED

    cancelled = await h.service.cancel(job.id, actor(MOD, manages=True))

    assert cancelled.cancelled_by == MOD
    await h.wait_notified(job.id)
    assert h.notifier.texts(job.id)[-1] == messages.cancelled(MOD, ALICE).render()


async def test_cancel_from_another_server_or_of_an_unknown_job_finds_nothing(h: Harness) -> None:
    h.fake.hold()
    job = await h.accept(ALICE)

    other_server = actor(ALICE, manages=True, guild_id=OTHER_GUILD_ID)
    assert await cancel_refusal(h, job.id, other_server) == messages.NO_SUCH_JOB
    assert await cancel_refusal(h, job.id + 100, actor(ALICE)) == messages.NO_SUCH_JOB
    assert (await h.job(job.id)).cancelled_by is None


async def test_cancel_after_the_end_says_why_not(h: Harness) -> None:
    delivered = await h.accept(ALICE, prompt="done")
    await h.wait_state(delivered.id, JobState.DELIVERED)
    h.fake.hold()
    cancelled = await h.accept(ALICE, prompt="stopped")
    await h.service.cancel(cancelled.id, actor(ALICE))

    assert await cancel_refusal(h, delivered.id, actor(ALICE)) == messages.cannot_cancel(
        JobState.DELIVERED
    )
    assert await cancel_refusal(h, cancelled.id, actor(ALICE)) == messages.cannot_cancel(
        JobState.CANCELLED
    )
    assert messages.cannot_cancel(JobState.DELIVERED) != messages.cannot_cancel(JobState.CANCELLED)


async def test_resumed_cancelled_job_tells_the_user(make_harness: MakeHarness) -> None:
    h = make_harness()
    job = await h.seed(JobState.QUEUED, ALICE, "cancelled before the restart")
    await h.store.inner.cancel_job(job.id, MOD, h.clock())

    await h.start()

    await h.wait_notified(job.id)
    assert h.notifier.texts(job.id) == [messages.cancelled(MOD, ALICE).render()]
    assert h.fake.submits == []


# Moderation log ----------------------------------------------------------------------------------


async def enable_mod_log(h: Harness, channel_id: int = MOD_LOG_ID) -> None:
    await h.store.inner.update_guild_config(
        GUILD_ID,
        lambda c: c.model_copy(update={"mod_log_channel_id": channel_id}),
        AuditEntry(MOD, "mod-log", f"<#{channel_id}>", h.clock()),
    )


async def test_each_job_is_posted_to_the_mod_log_and_its_entry_follows_the_outcome(
    h: Harness,
) -> None:
    await enable_mod_log(h)
    h.fake.fail_prompts_containing = {"forbidden": MODERATION}

    delivered = await h.accept(ALICE, prompt="a cat blinks")
    failed = await h.accept(BOB, prompt="something forbidden")
    await h.wait_state(delivered.id, JobState.DELIVERED)
    await h.wait_notified(failed.id)

    await wait_until(lambda: len(h.notifier.mod_log_updates) == 2)
    assert sorted(h.notifier.mod_log_posts) == [(delivered.id, MOD_LOG_ID), (failed.id, MOD_LOG_ID)]
    assert sorted(h.notifier.mod_log_updates) == [
        (delivered.id, JobState.DELIVERED),
        (failed.id, JobState.FAILED),
    ]
    stored = await h.job(delivered.id)
    assert stored.mod_log_channel_id == MOD_LOG_ID
    assert stored.mod_log_message_id is not None


async def test_cancel_updates_the_mod_log_entry(h: Harness) -> None:
    await enable_mod_log(h)
    h.fake.hold()
    job = await h.accept(ALICE)
    await h.wait_job(job.id, lambda j: j.mod_log_message_id is not None)

    await h.service.cancel(job.id, actor(MOD, manages=True))

    await wait_until(lambda: (job.id, JobState.CANCELLED) in h.notifier.mod_log_updates)
    assert h.notifier.mod_log_updates == [(job.id, JobState.CANCELLED)]


async def test_job_cancelled_before_its_mod_log_entry_is_posted_still_shows_cancelled(
    h: Harness,
) -> None:
    await enable_mod_log(h)
    h.fake.hold()

    job = await h.accept(ALICE)
    await h.service.cancel(job.id, actor(ALICE))

    await wait_until(lambda: (job.id, JobState.CANCELLED) in h.notifier.mod_log_updates)
    assert h.notifier.mod_log_posts == [(job.id, MOD_LOG_ID)]


async def test_no_mod_log_without_a_channel(h: Harness) -> None:
    job = await h.accept(ALICE)
    await h.wait_state(job.id, JobState.DELIVERED)
    await asyncio.sleep(0.2)  # room for a stray moderation-log call after delivery

    assert h.notifier.mod_log_posts == []
    assert h.notifier.mod_log_updates == []


async def test_a_mod_log_that_cannot_be_posted_does_not_stop_the_job(h: Harness) -> None:
    await enable_mod_log(h)
    h.notifier.mod_log_error = PostFailedError("Missing Access", retryable=False)

    job = await h.accept(ALICE)

    done = await h.wait_state(job.id, JobState.DELIVERED)
    await asyncio.sleep(0.2)  # room for a stray moderation-log call after delivery
    assert done.mod_log_message_id is None
    assert h.notifier.mod_log_updates == []


# Quota, forget, retention ------------------------------------------------------------------------


async def test_quota_status_shows_what_is_left_and_when(make_harness: MakeHarness) -> None:
    h = make_harness(default_user_daily_limit=3, default_user_cooldown_s=60)
    await h.start()
    fresh = await h.service.quota_status(GUILD_ID, ALICE)
    assert (fresh.daily_left, fresh.monthly_left, fresh.ready_at) == (3, None, None)

    job = await h.accept(ALICE)
    status = await h.service.quota_status(GUILD_ID, ALICE)

    now = h.clock()
    assert status.daily_left == 2
    assert status.monthly_left is None
    assert status.ready_at == job.created_at + timedelta(seconds=60)
    assert status.daily_resets_at == next_day(now)
    assert status.monthly_resets_at == next_month(now)
    assert (await h.service.quota_status(OTHER_GUILD_ID, ALICE)).daily_left == 3
    h.clock.advance(61)
    assert (await h.service.quota_status(GUILD_ID, ALICE)).ready_at is None


async def test_quota_status_honours_the_servers_overrides(h: Harness) -> None:
    await h.store.inner.update_guild_config(
        GUILD_ID,
        lambda c: c.model_copy(update={"limits": {"daily": 0, "monthly": 7}}),
        AuditEntry(MOD, "limit", "daily", h.clock()),
    )

    status = await h.service.quota_status(GUILD_ID, ALICE)

    assert (status.daily_left, status.monthly_left) == (0, 7)
    with pytest.raises(UserError) as refused:
        await h.accept(ALICE)
    assert refused.value.user_message == messages.SWITCHED_OFF
    assert GuildConfig() == await h.store.inner.guild_config(OTHER_GUILD_ID)


async def test_forget_erases_only_the_callers_finished_jobs(h: Harness) -> None:
    mine = await h.accept(ALICE, prompt="mine")
    theirs = await h.accept(BOB, prompt="theirs")
    await h.wait_state(mine.id, JobState.DELIVERED)
    await h.wait_state(theirs.id, JobState.DELIVERED)

    assert await h.service.forget(ALICE) == 1

    erased, kept = await h.job(mine.id), await h.job(theirs.id)
    assert erased.redacted
    assert erased.prompt == ""
    assert erased.cost_cents == h.fake.cost_cents
    assert not kept.redacted
    assert kept.prompt == "theirs"
    usage = await h.service.usage(ALICE)
    assert usage.all_time.succeeded == 1


async def test_retention_purge_runs_at_start_and_erases_only_old_finished_jobs(
    make_harness: MakeHarness,
) -> None:
    h = make_harness(retention_days=30)
    h.fake.hold()
    store = h.store.inner
    old = await h.seed(JobState.FAILED, ALICE, "old failure")
    await factories.told(store, old.id)
    old_open = await h.seed(JobState.SUBMITTED, BOB, "old and still running")
    h.clock.advance(31 * 24 * 3600)
    recent = await h.seed(JobState.FAILED, 2001, "recent failure")
    await factories.told(store, recent.id)

    await h.start()

    erased = await h.wait_job(old.id, lambda j: j.redacted)
    assert erased.prompt == ""
    assert erased.state == JobState.FAILED
    assert (await h.job(recent.id)).prompt == "recent failure"
    still_running = await h.job(old_open.id)
    assert not still_running.redacted
    assert still_running.prompt == "old and still running"


async def test_no_purge_without_a_retention_period(make_harness: MakeHarness) -> None:
    h = make_harness(retention_days=None)
    old = await h.seed(JobState.FAILED, ALICE, "kept forever")
    await factories.told(h.store.inner, old.id)
    h.clock.advance(400 * 24 * 3600)

    await h.start()
    job = await h.accept(BOB)
    await h.wait_state(job.id, JobState.DELIVERED)

    assert not (await h.job(old.id)).redacted


# Review findings: money and side effects ---------------------------------------------------------


async def test_a_crashing_mod_log_post_never_resubmits_the_job(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bot.jobs.service, "_RECOVER_AFTER_S", 0.05)
    await enable_mod_log(h)
    h.notifier.mod_log_error = RuntimeError("a bug in the moderation-log post")
    h.sleeper.gate = asyncio.Event()
    h.fake.fail_next("submit", 429)  # the job holds its slot while its submit waits to retry
    job = await h.accept(ALICE)
    await asyncio.wait_for(h.sleeper.entered.wait(), WAIT_S)

    await asyncio.sleep(0.3)  # well past the recovery delay a crashed job step would get
    h.sleeper.gate.set()

    await h.wait_state(job.id, JobState.DELIVERED)
    assert len(h.fake.predictions) == 1
    assert h.notifier.clips == [(job.id, h.notifier.clips[0][1])]


async def test_a_passing_mod_log_failure_is_retried(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bot.jobs.service, "_MOD_LOG_RETRY_S", 0.05)
    await enable_mod_log(h)
    h.notifier.mod_log_passing_failures = 2

    job = await h.accept(ALICE)

    await h.wait_state(job.id, JobState.DELIVERED)
    await wait_until(lambda: (job.id, MOD_LOG_ID) in h.notifier.mod_log_posts)
    assert h.notifier.mod_log_attempts >= 3


async def test_cancel_while_the_submit_is_on_the_wire_keeps_its_possible_charge(
    make_harness: MakeHarness,
) -> None:
    h = make_harness(api_timeout_s=0.3)
    await h.start()
    h.fake.submit_answer_delay_s = 1.0  # the answer never arrives in time: outcome unknown
    job = await h.accept(ALICE, prompt="on the wire")
    await h.wait_state(job.id, JobState.SUBMITTING)

    cancelled = await h.service.cancel(job.id, actor(ALICE))

    assert cancelled.reserved_cents > 0  # it may still be charged
    settled = await h.wait_job(job.id, lambda j: j.error is not None)
    assert settled.state == JobState.CANCELLED
    assert settled.failure_kind == FailureKind.SUBMIT_UNKNOWN
    assert settled.cost_cents == cancelled.reserved_cents
    assert settled.reserved_cents == 0


async def test_cancelled_job_whose_refused_submit_is_not_retried_releases_its_reservation(
    h: Harness,
) -> None:
    h.sleeper.gate = asyncio.Event()
    h.fake.fail_next("submit", 429)
    job = await h.accept()
    await asyncio.wait_for(h.sleeper.entered.wait(), WAIT_S)

    await h.service.cancel(job.id, actor(ALICE))
    h.sleeper.gate.set()

    released = await h.wait_job(job.id, lambda j: j.notified and j.reserved_cents == 0)
    assert released.cost_cents == 0
    assert len(h.fake.predictions) == 0


async def test_job_cancelled_mid_submit_before_a_restart_is_settled_as_unknown(
    make_harness: MakeHarness,
) -> None:
    h = make_harness()
    job = await h.seed(JobState.SUBMITTING, ALICE, "cut off after its cancel", reserve=29)
    await h.store.inner.cancel_job(job.id, ALICE, h.clock())

    await h.start()

    told = await h.wait_notified(job.id)
    assert told.state == JobState.CANCELLED
    assert told.failure_kind == FailureKind.SUBMIT_UNKNOWN
    assert told.cost_cents == job.reserved_cents
    assert told.reserved_cents == 0
    assert h.fake.submits == []


async def test_retention_purge_runs_again_every_period(
    make_harness: MakeHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bot.jobs.service, "_PURGE_EVERY_S", 0.1)
    h = make_harness(retention_days=30)
    await h.start()
    job = await h.accept(ALICE, prompt="ages out after the first purge")
    await h.wait_state(job.id, JobState.DELIVERED)

    h.clock.advance(31 * 24 * 3600)

    erased = await h.wait_job(job.id, lambda j: j.redacted)
    assert erased.prompt == ""
    assert erased.cost_cents == h.fake.cost_cents


async def test_requester_is_told_elsewhere_when_a_moderator_cancels_after_their_token_expired(
    h: Harness,
) -> None:
    h.fake.hold()
    job = await h.accept(ALICE, origin=h.origin(token_ttl_s=-60))
    await h.wait_state(job.id, JobState.SUBMITTED)

    await h.service.cancel(job.id, actor(MOD, manages=True))

    await h.wait_notified(job.id)
    ((job_id, text),) = h.notifier.failures
    assert job_id == job.id
    assert messages.cancelled(MOD, ALICE).render() in text
    assert h.notifier.failure_routes == [DeliveryRoute.CHANNEL]
