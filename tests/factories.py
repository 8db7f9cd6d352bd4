"""Small builders shared by the unit tests."""

from __future__ import annotations

from bot.models import GenerationSettings, ImageInput

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
