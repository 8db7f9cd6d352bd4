"""The job engine wired to the fakes for tests: real store, real API client against the fake
API, real clip downloader, recording notifier. `make_harness` builds one; `h` is one started."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from pydantic import SecretStr

from bot.errors import UserError
from bot.guilds.model import AuditEntry
from bot.guilds.policy import Access, Actor
from bot.jobs import messages
from bot.jobs.model import (
    NO_CHANGE,
    ImageInput,
    Job,
    JobChange,
    JobState,
    Lease,
    NewJob,
    Origin,
)
from bot.jobs.notifier import (
    ChannelForbiddenError,
    ChannelGoneError,
)
from bot.jobs.posting import ResultPoster
from bot.jobs.request import AnimateRequest
from bot.jobs.runtime import JobRuntime
from bot.jobs.service import JobService
from bot.media.files import ClipDownloader, DiscordFiles
from bot.media.gif import GifMaker
from bot.media.transcode import ClipFitter
from bot.members.retention import Retention
from bot.members.usage import MemberService
from bot.remix.service import RemixService
from bot.settings import Settings
from bot.storage.store import SqlStore
from bot.video.seedance import SEEDANCE_1_5_PRO
from bot.video.vibedream import VibedreamClient
from tests import factories
from tests.factories import SETTINGS
from tests.fakes.fake_vibedream import FakeVibedream
from tests.fakes.tiny_http import TinyServer
from tests.unit.jobs.doubles import (
    Clock,
    RecordingMetrics,
    RecordingNotifier,
    Sleeper,
    TracingStore,
)

WAIT_S = 5.0  # safety net only: every wait ends as soon as its condition holds
PNG_HEAD = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x04\x00\x00\x00\x03\x00\x08\x06"
GUILD_ID, CHANNEL_ID, OTHER_GUILD_ID, MOD_LOG_ID = 555, 777, 556, 888
ALICE, BOB, MOD = 1001, 1002, 1003
MODERATION = "Flagged by content moderation."


@dataclass
class Harness:
    """One JobService wired to the fakes; `start()` it after seeding the store if need be."""

    service: JobService
    runtime: JobRuntime
    members: MemberService
    retention: Retention
    remix: RemixService
    store: TracingStore
    api: VibedreamClient
    fake: FakeVibedream
    notifier: RecordingNotifier
    metrics: RecordingMetrics
    clock: Clock
    sleeper: Sleeper
    settings: Settings
    image_url: str

    async def start(self) -> None:
        self.store.history.clear()  # only what the service itself does
        await self.service.start(self.notifier)
        self.retention.start()

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
        access: Access | None = None,
    ) -> Job:
        image = ImageInput(
            url=image_url or self.image_url,
            filename="cat.png",
            size_bytes=50_000,
            content_type="image/png",
            width=1024,
            height=768,
        )
        request = await self.service.check(
            AnimateRequest(prompt=prompt, image=image, seed=7), GUILD_ID, user_id
        )
        origin = origin or self.origin(user_id)
        access = access or self.access(origin.user_id)
        return await self.service.accept(request, origin, access)

    def access(self, user_id: int = ALICE, **changes: Any) -> Access:
        fields: dict[str, Any] = {
            "guild_id": GUILD_ID,
            "user_id": user_id,
            "role_ids": frozenset(),
            "channel_ids": frozenset({CHANNEL_ID}),
            "nsfw": False,
        }
        return Access(**(fields | changes))

    async def seed(
        self,
        state: JobState,
        user_id: int,
        prompt: str,
        reserve: int = 0,
        *,
        lease: Lease | None = None,
    ) -> Job:
        """Store a job as a previous run would have left it in `state` (before `start`); with
        `lease`, claimed under it, as the process it names would have (seed queued jobs last:
        the claim takes the oldest queued job)."""
        new = NewJob(
            model=SEEDANCE_1_5_PRO.id,
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
        # Along the shortest legal path to `state`, as the engine would have moved it.
        path = factories.legal_path(JobState.QUEUED, state)
        for step in path:
            if step == JobState.CLAIMED and lease is not None:
                claimed = await store.claim_next_queued(100, 100, lease)
                assert claimed is not None
                assert claimed.id == job.id
                job = claimed
                continue
            moved = await store.move(job.id, step, await self._seed_change(job, step, now))
            assert moved is not None
            job = moved
        assert job.state == state
        return job

    async def _seed_change(self, job: Job, step: JobState, now: datetime) -> JobChange:
        """What the engine would have written with this step of a seeded job."""
        if step == JobState.FAILED:
            return JobChange(error=messages.TIMED_OUT.render(), finished_at=now, cost_cents=0)
        if step == JobState.SUBMITTED:
            body = SEEDANCE_1_5_PRO.request_body(
                job.prompt, job.image_url, job.last_image_url, job.settings
            )
            answer = await self.api.submit(SEEDANCE_1_5_PRO.id, body)
            return JobChange(
                prediction_id=answer.id,
                cost_cents=answer.cost_cents,
                reserved_cents=0,
                estimate_s=answer.estimate_s(),
                submitted_at=now,
            )
        if step == JobState.COMPLETED:
            assert job.prediction_id is not None
            outputs = self.fake.complete_now(job.prediction_id).outputs
            assert outputs
            return JobChange(output_url=outputs[0], completed_at=now)
        return NO_CHANGE

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

    def build(
        downloader_type: type[ClipDownloader] = ClipDownloader,
        *,
        single_process: bool = True,
        **overrides: Any,
    ) -> Harness:
        """`single_process=False`: an engine on a database other processes share (several
        harnesses on the one test database are several bot processes)."""
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
        sleeper, clock, metrics = Sleeper(), Clock(), RecordingMetrics()
        api = VibedreamClient.from_settings(http, settings, sleep=sleeper)
        downloader = downloader_type.from_settings(http, settings)
        tracing = TracingStore(store, single_process=single_process)
        files = DiscordFiles(http, hosts=frozenset({"127.0.0.1"}))
        runtime = JobRuntime(
            settings=settings,
            store=tracing,  # type: ignore[arg-type]  # duck-typed wrapper around SqlStore
            now=clock,
            metrics=metrics,
        )
        fitter = ClipFitter.from_settings(settings)
        poster = ResultPoster(
            settings=settings,
            store=tracing,  # type: ignore[arg-type]
            downloader=downloader,
            files=files,
            fitter=fitter,
            now=clock,
            metrics=metrics,
        )
        service = JobService(
            runtime=runtime, api=api, model=SEEDANCE_1_5_PRO, poster=poster, files=files
        )
        remix = RemixService(
            jobs=service,
            settings=settings,
            store=tracing,  # type: ignore[arg-type]
            downloader=downloader,
            files=files,
            gifs=GifMaker.from_settings(settings, slots=fitter.slots),
            now=clock,
        )
        harness = Harness(
            service=service,
            runtime=runtime,
            members=MemberService(settings=settings, store=store, now=clock),
            retention=Retention(settings=settings, store=store, now=clock),
            remix=remix,
            store=tracing,
            api=api,
            fake=fake_api,
            notifier=RecordingNotifier(),
            metrics=metrics,
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
        await harness.retention.stop()
        await asyncio.wait_for(harness.service.stop(grace_s=1.0), WAIT_S)
    for harness in built:
        assert harness.store.refused_moves_not_lost_to_a_cancel() == []


@pytest.fixture
async def h(make_harness: MakeHarness) -> Harness:
    """A started harness with the default test settings."""
    harness = make_harness()
    await harness.start()
    return harness


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


FORBIDDEN = ChannelForbiddenError("403 Forbidden (error code: 50013): Missing Permissions")
GONE = ChannelGoneError("404 Not Found (error code: 10003): Unknown Channel")


def actor(user_id: int, *, manages: bool = False, guild_id: int = GUILD_ID) -> Actor:
    return Actor(guild_id=guild_id, user_id=user_id, can_manage_messages=manages)


async def cancel_refusal(h: Harness, job_id: int, who: Actor) -> str:
    with pytest.raises(UserError) as refused:
        await h.service.cancel(job_id, who)
    return refused.value.user_message


async def enable_mod_log(h: Harness, channel_id: int = MOD_LOG_ID) -> None:
    await h.store.inner.update_guild_config(
        GUILD_ID,
        lambda c: c.model_copy(update={"mod_log_channel_id": channel_id}),
        AuditEntry(MOD, "mod-log", f"<#{channel_id}>", h.clock()),
    )
