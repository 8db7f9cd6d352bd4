"""Grok Imagine Video (`grok-imagine-video-i2v`, reference note §2.5): vibedream's example
body, with xAI's and another host's ranges (1-15 s, seven shapes, 480p or 720p)."""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from pydantic import AnyHttpUrl, Field

from bot.jobs.model import GenerationSettings
from bot.video.model import ModelDefaults, ModelOptions, ModelParams, VideoModel

AspectRatio = Literal["16:9", "9:16", "1:1", "4:3", "3:4", "3:2", "2:3"]
Resolution = Literal["480p", "720p"]
DURATIONS_S = range(1, 16)


class GrokImagineParams(ModelParams):
    """Body of `POST /models/grok-imagine-video-i2v/generate`: no seed, no audio switch (the
    clip always has sound), no end frame."""

    image: AnyHttpUrl
    prompt: Annotated[str, Field(min_length=1)]
    duration: Annotated[int, Field(strict=True, ge=DURATIONS_S[0], le=DURATIONS_S[-1])] | None = (
        None
    )
    aspect_ratio: AspectRatio | None = None
    resolution: Resolution | None = None


class GrokImagine(VideoModel):
    """Grok Imagine Video: 1-15 s, always with sound."""

    id = "grok-imagine-video-i2v"
    name = "Grok Imagine Video"
    Params = GrokImagineParams
    listed_price_cents = 31  # "from $0.31/run"
    documented_estimate_s = (30.0, 120.0)  # "~30-120s"
    options = ModelOptions(
        durations_s=DURATIONS_S,
        resolutions=get_args(Resolution),
        aspect_ratios=get_args(AspectRatio),
        seeds=None,
        end_frame=False,
        audio=False,
        camera_fixed=False,
        defaults=ModelDefaults(
            duration_s=6, resolution="720p", aspect_ratio="16:9", generate_audio=True
        ),
    )

    def params(
        self,
        prompt: str,
        image_url: str,
        last_image_url: str | None,
        settings: GenerationSettings,
    ) -> dict[str, object]:
        """A job's values under Grok's names."""
        return {
            "image": image_url,
            "prompt": prompt,
            "duration": settings.duration_s,
            "aspect_ratio": settings.aspect_ratio,
            "resolution": settings.resolution,
        }


GROK_IMAGINE = GrokImagine()
