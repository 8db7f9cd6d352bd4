"""Small builders shared by the unit tests."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from bot.models import GenerationSettings, ImageInput, NewJob, Origin

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
