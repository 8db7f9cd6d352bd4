"""Test doubles of the job engine's edges: a recording notifier, a store that traces every
move against the state table, a clock to move forward and a gate for the API client's sleeps."""

from __future__ import annotations

import asyncio
import itertools
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.jobs.model import (
    NO_CHANGE,
    TRANSITIONS,
    DeliveryRoute,
    Job,
    JobChange,
    JobKind,
    JobState,
    Lease,
    LeaseLostError,
)
from bot.jobs.notifier import (
    NO_EXTRAS,
    PostFailedError,
    ResultExtras,
    Variation,
)
from bot.media.files import DownloadedClip
from bot.storage.store import SqlStore


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
        #: Every group post made: its first job's id and, per variation, (job id, as a file).
        self.groups: list[tuple[int, list[tuple[int, bool]]]] = []
        self._group_messages: dict[int, int] = {}  # first job id -> message id (the nonce)
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

    async def post_group(
        self,
        leader: Job,
        variations: Sequence[Variation],
        via: DeliveryRoute = DeliveryRoute.CHANNEL,
        extras: ResultExtras = NO_EXTRAS,
        *,
        mention: bool = False,
    ) -> int:
        await asyncio.sleep(0)
        self.post_routes.append((leader.id, via))
        if via in self.route_errors:
            raise self.route_errors[via]
        if self.clip_error is not None:
            raise self.clip_error
        self.groups.append((leader.id, [(v.job.id, v.clip is not None) for v in variations]))
        # Like Discord's nonce: the same group posted again is the same message.
        return self._group_messages.setdefault(leader.id, next(self._message_ids))

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
    """The real store, noting every move of a job's state the engine asks for, and its outcome.

    Every transition is checked against `TRANSITIONS` as it happens, and at the end of each test
    (see `make_harness`) every refused move must have been a step that lost a race with a
    cancel: the engine never asks for a move the table does not allow. A fenced write refused
    because another process took the job over is not a refusal of the table: it is noted in
    `lost` (job id, state asked for) instead.
    """

    def __init__(self, inner: SqlStore, *, single_process: bool = True) -> None:
        self.inner = inner
        #: False: act as a database other processes share (several engines on one file).
        self.single_process = single_process
        self.history: defaultdict[int, list[JobState]] = defaultdict(list)
        #: (job id, state it moved from or that refused it, state asked for, whether it moved).
        self.moves: list[tuple[int, JobState | None, JobState, bool]] = []
        #: (job id, state asked for) of every move refused for a lost lease.
        self.lost: list[tuple[int, JobState]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def move(
        self, job_id: int, to: JobState, change: JobChange = NO_CHANGE, *, epoch: int | None = None
    ) -> Job | None:
        before = await self.inner.job_state(job_id)
        try:
            job = await self.inner.move(job_id, to, change, epoch=epoch)
        except LeaseLostError:
            self.lost.append((job_id, to))
            raise
        if job is None:  # the state that refused it (another task may have moved it meanwhile)
            before = await self.inner.job_state(job_id)
        self._note(job_id, before, to, job)
        return job

    async def claim_next_queued(
        self, max_in_flight: int, max_per_user: int, lease: Lease
    ) -> Job | None:
        job = await self.inner.claim_next_queued(max_in_flight, max_per_user, lease)
        if job is not None:
            self._note(job.id, JobState.QUEUED, JobState.CLAIMED, job)
        return job

    async def cancel_job(
        self, job_id: int, actor_id: int, now: datetime, lease: Lease | None = None
    ) -> Job | None:
        before = await self.inner.job_state(job_id)
        job = await self.inner.cancel_job(job_id, actor_id, now, lease)
        if job is None:
            before = await self.inner.job_state(job_id)
        self._note(job_id, before, JobState.CANCELLED, job)
        return job

    def _note(self, job_id: int, before: JobState | None, to: JobState, job: Job | None) -> None:
        self.moves.append((job_id, before, to, job is not None))
        if job is not None:
            assert before is not None
            assert to in TRANSITIONS[before], f"{before} -> {to}"
            self.history[job_id].append(job.state)

    def refused_moves_not_lost_to_a_cancel(self) -> list[tuple[int, JobState | None, JobState]]:
        """Moves the store refused although the job was not cancelled: engine bugs."""
        return [
            (job_id, before, to)
            for job_id, before, to, moved in self.moves
            if not moved and JobState.CANCELLED not in (to, before)
        ]


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


class RecordingMetrics:
    """A `JobMetrics` that keeps what the engine recorded, in order."""

    def __init__(self) -> None:
        self.events: list[tuple[str, JobKind]] = []
        self.lags_s: list[float] = []
        self.reencodes: list[tuple[float, bool]] = []

    def job_started(self, kind: JobKind) -> None:
        self.events.append(("started", kind))

    def job_delivered(self, kind: JobKind, lag_s: float) -> None:
        self.events.append(("delivered", kind))
        self.lags_s.append(lag_s)

    def job_failed(self, kind: JobKind) -> None:
        self.events.append(("failed", kind))

    def clip_reencoded(self, seconds: float, *, fitted: bool) -> None:
        self.reencodes.append((seconds, fitted))
