"""Small builders shared by the unit tests."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from bot.jobs.model import (
    TRANSITIONS,
    GenerationSettings,
    ImageInput,
    Job,
    JobChange,
    JobState,
    Lease,
    NewJob,
    Origin,
)
from bot.storage import JobStore
from bot.video.seedance import SEEDANCE_1_5_PRO

#: Typical settings of one job: 5 s, 720p, adaptive aspect ratio, seed 7.
SETTINGS = GenerationSettings(
    duration_s=5,
    resolution="720p",
    aspect_ratio="auto",
    camera_fixed=False,
    seed=7,
    generate_audio=False,
)

#: The lease a store test's process takes its jobs with.
LEASE = Lease("test-process", 30.0)

#: A valid 1024x768 PNG attachment as Discord describes it.
IMAGE = ImageInput(
    url="https://cdn.example.com/cat.png",
    filename="cat.png",
    size_bytes=500_000,
    content_type="image/png",
    width=1024,
    height=768,
)


def new_job(
    user_id: int,
    *,
    now: datetime,
    guild_id: int = 555,
    duration_s: int = 5,
    prompt: str = "The cat blinks",
    last_image_url: str | None = None,
    nonce: str = "00112233aabbccdd",
    model: str = SEEDANCE_1_5_PRO.id,
    settings: GenerationSettings | None = None,
) -> NewJob:
    """A job as /animate hands it to the store, its interaction token valid from `now`."""
    return NewJob(
        model=model,
        origin=Origin(
            guild_id=guild_id,
            channel_id=777,
            user_id=user_id,
            application_id=999,
            interaction_token=f"token-of-{user_id}",
            interaction_expires_at=now + timedelta(minutes=15),
            upload_limit_bytes=10 * 1024 * 1024,
        ),
        prompt=prompt,
        image_url="https://cdn.example.com/cat.png",
        last_image_url=last_image_url,
        settings=settings or replace(SETTINGS, duration_s=duration_s),
        nonce=nonce,
    )


def job_as_stored(new: NewJob, *, job_id: int = 1, created_at: datetime) -> Job:
    """A queued job as the store would return `new`, without a store (for pure functions)."""
    return Job(
        id=job_id,
        state=JobState.QUEUED,
        origin=new.origin,
        prompt=new.prompt,
        image_url=new.image_url,
        last_image_url=new.last_image_url,
        model=new.model,
        settings=new.settings,
        nonce=new.nonce,
        created_at=created_at,
    )


#: The states a job passes through when all goes well, in order.
HAPPY_PATH = (
    JobState.QUEUED,
    JobState.CLAIMED,
    JobState.SUBMITTING,
    JobState.SUBMITTED,
    JobState.COMPLETED,
    JobState.DELIVERING,
    JobState.DELIVERED,
)


async def admit(store: JobStore, new: NewJob, now: datetime, *, reserve_cents: int = 0) -> Job:
    """Admit a job with nothing in the way (no limit applies)."""
    job = await store.admit(new, now, reserve_cents=reserve_cents, cooldown_s=0, decide=_allow)
    assert isinstance(job, Job)
    return job


def _allow(_usage: object) -> None:
    return None


async def move_to(
    store: JobStore,
    job_id: int,
    state: JobState,
    change: JobChange = JobChange(),  # noqa: B008 - frozen
) -> Job:
    """Move a job to `state` by legal moves: along the happy path up to it, or (FAILED,
    CANCELLED) straight from where it is; `change` goes with the last move."""
    current = await store.job_state(job_id)
    assert current is not None
    if state in HAPPY_PATH and current in HAPPY_PATH:
        for step in HAPPY_PATH[HAPPY_PATH.index(current) + 1 : HAPPY_PATH.index(state)]:
            assert await store.move(job_id, step) is not None
    moved = await store.move(job_id, state, change)
    assert moved is not None, f"job {job_id} may not move from {current} to {state}"
    return moved


async def delivered_job(
    store: JobStore,
    took_s: float,
    *,
    resolution: str = "720p",
    duration_s: int = 5,
    at: datetime,
    failed: bool = False,
    model: str = SEEDANCE_1_5_PRO.id,
) -> None:
    """A finished job of `model` with these settings that took `took_s` from its submit to
    the clip."""
    new = new_job(1001, now=at, duration_s=duration_s, model=model)
    new = replace(new, settings=replace(new.settings, resolution=resolution))
    job = await admit(store, new, at)
    await move_to(
        store,
        job.id,
        JobState.SUBMITTED,
        JobChange(
            prediction_id=f"pred-{job.id}",
            cost_cents=29,
            reserved_cents=0,
            estimate_s=(60.0, 120.0),
            submitted_at=at,
        ),
    )
    done_at = at + timedelta(seconds=took_s)
    await move_to(
        store,
        job.id,
        JobState.COMPLETED,
        JobChange(output_url="https://assets.example/x.mp4", completed_at=done_at),
    )
    if failed:
        await move_to(
            store,
            job.id,
            JobState.FAILED,
            JobChange(error="The clip could not be posted.", finished_at=done_at, reserved_cents=0),
        )
    else:
        await move_to(
            store,
            job.id,
            JobState.DELIVERED,
            JobChange(
                message_id=1,
                delivered_as="file",
                finished_at=done_at,
                notified=True,
                drop_token=True,
            ),
        )


# The engine's writes, as the tests make them -------------------------------------------------


async def record(
    store: JobStore,
    job_id: int,
    state: JobState,
    change: JobChange = JobChange(),  # noqa: B008 - frozen
) -> Job:
    """Take a job to `state` by the shortest legal path, `change` written with the last move;
    a job that cannot get there (it ended: a cancelled job stays cancelled) gets the facts
    alone, as the engine records a step that lost the race."""
    current = await store.job_state(job_id)
    assert current is not None
    path = legal_path(current, state)
    if not path:
        return await store.update(job_id, change)
    for step in path[:-1]:
        assert await store.move(job_id, step) is not None
    moved = await store.move(job_id, state, change)
    assert moved is not None
    return moved


def legal_path(start: JobState, goal: JobState) -> list[JobState]:
    """The states after `start` on a shortest legal path to `goal` (empty if none, or if the
    job is there already)."""
    paths: dict[JobState, list[JobState]] = {start: []}
    frontier = [start]
    while frontier:
        state = frontier.pop(0)
        if state == goal:
            return paths[state]
        for following in sorted(TRANSITIONS[state]):
            if following not in paths:
                paths[following] = [*paths[state], following]
                frontier.append(following)
    return []


async def submit(
    store: JobStore,
    job_id: int,
    prediction_id: str,
    cost_cents: int,
    estimate_s: tuple[float, float] | None,
    now: datetime,
) -> Job:
    """The API accepted the job: the cost is settled, the reservation released."""
    return await record(
        store,
        job_id,
        JobState.SUBMITTED,
        JobChange(
            prediction_id=prediction_id,
            cost_cents=cost_cents,
            reserved_cents=0,
            estimate_s=estimate_s,
            submitted_at=now,
        ),
    )


async def complete(
    store: JobStore, job_id: int, output_url: str, cost_cents: int | None, now: datetime
) -> Job:
    """The API made the clip (`cost_cents` None keeps the cost known so far)."""
    change = JobChange(output_url=output_url, cost_cents=cost_cents, completed_at=now)
    return await record(store, job_id, JobState.COMPLETED, change)


async def deliver(
    store: JobStore, job_id: int, message_id: int | None, delivered_as: str, now: datetime
) -> Job:
    """The clip is posted: the job is finished and its requester told."""
    change = JobChange(
        message_id=message_id,
        delivered_as=delivered_as,
        finished_at=now,
        notified=True,
        drop_token=True,
    )
    return await record(store, job_id, JobState.DELIVERED, change)


async def fail(
    store: JobStore, job_id: int, error: str, cost_cents: int | None, now: datetime
) -> Job:
    """The job failed (`cost_cents` None keeps the cost known so far); any reservation is
    released, and the requester is still to be told."""
    change = JobChange(error=error, cost_cents=cost_cents, reserved_cents=0, finished_at=now)
    return await record(store, job_id, JobState.FAILED, change)


async def told(store: JobStore, job_id: int) -> Job:
    """The requester was told how the job ended: it leaves the open set."""
    return await store.update(job_id, JobChange(notified=True, drop_token=True))
