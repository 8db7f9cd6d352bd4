"""WAN 2.2 Spicy (`wan-2.2-spicy`, reference note §2.7): Wan 2.2 image to video with relaxed
content rules. Offered only to servers limited to age-restricted channels, never by default.

The bot leaves `enable_safety_checker` out (the service's own default) rather than turning the
filter off as vibedream's example does.
"""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from pydantic import AnyHttpUrl, Field

from bot.jobs.model import GenerationSettings
from bot.video.model import ModelDefaults, ModelOptions, ModelParams, VideoModel

Resolution = Literal["480p", "720p"]


class WanSpicyParams(ModelParams):
    """Body of `POST /models/wan-2.2-spicy/generate`: 5 or 8 s (Wan 2.2 upstream)."""

    image: AnyHttpUrl
    prompt: Annotated[str, Field(min_length=1)]
    resolution: Resolution | None = None
    duration: Literal[5, 8] | None = None
    seed: Annotated[int, Field(strict=True, ge=-1)] | None = None
    enable_safety_checker: bool | None = None


class WanSpicy(VideoModel):
    """Wan 2.2 Spicy: 5 or 8 s, no sound; the shape follows the image."""

    id = "wan-2.2-spicy"
    name = "WAN 2.2 Spicy"
    Params = WanSpicyParams
    listed_price_cents = 17  # "from $0.17/run"
    documented_estimate_s = (5.0, 15.0)  # "~5-15s"
    relaxed_content = True
    options = ModelOptions(
        durations_s=(5, 8),
        resolutions=get_args(Resolution),
        aspect_ratios=("auto",),
        seeds=range(1, 1001),
        end_frame=False,
        audio=False,
        camera_fixed=False,
        defaults=ModelDefaults(
            duration_s=5, resolution="480p", aspect_ratio="auto", generate_audio=False
        ),
    )

    def params(
        self,
        prompt: str,
        image_url: str,
        last_image_url: str | None,
        settings: GenerationSettings,
    ) -> dict[str, object]:
        """A job's values under Wan's names."""
        return {
            "image": image_url,
            "prompt": prompt,
            "resolution": settings.resolution,
            "duration": settings.duration_s,
            "seed": settings.seed,
        }


WAN_SPICY = WanSpicy()
