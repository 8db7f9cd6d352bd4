"""Small builders shared by the unit tests."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from bot.jobs.model import GenerationSettings, ImageInput, NewJob, Origin
from bot.storage.store import SqliteStore
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
) -> NewJob:
    """A job as /animate hands it to the store, its interaction token valid from `now`."""
    return NewJob(
        model=SEEDANCE_1_5_PRO.id,
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
        settings=replace(SETTINGS, duration_s=duration_s),
        nonce=nonce,
    )


async def delivered_job(
    store: SqliteStore,
    took_s: float,
    *,
    resolution: str = "720p",
    duration_s: int = 5,
    at: datetime,
    failed: bool = False,
) -> None:
    """A finished job with these settings that took `took_s` from its submit to the clip."""
    new = new_job(1001, now=at, duration_s=duration_s)
    new = replace(new, settings=replace(new.settings, resolution=resolution))
    job = await store.create_job(new, at, max_open_per_user=1000)
    assert job is not None
    await store.mark_submitted(job.id, f"pred-{job.id}", 29, (60.0, 120.0), at)
    done_at = at + timedelta(seconds=took_s)
    await store.mark_completed(job.id, "https://assets.example/x.mp4", None, done_at)
    if failed:
        await store.mark_failed(job.id, "The clip could not be posted.", None, done_at)
    else:
        await store.mark_delivered(job.id, 1, "file", done_at)
