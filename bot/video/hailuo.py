"""MiniMax Hailuo 2.3 Pro (`i2v-pro`, reference note §2.6): only a prompt, an image and
`enable_prompt_expansion`; upstream the clip is always 5 s at 1080p."""

from __future__ import annotations

from typing import Annotated

from pydantic import AnyHttpUrl, Field

from bot.jobs.model import GenerationSettings
from bot.video.model import ModelDefaults, ModelOptions, ModelParams, VideoModel


class HailuoProParams(ModelParams):
    """Body of `POST /models/i2v-pro/generate`."""

    prompt: Annotated[str, Field(min_length=1)]
    image: AnyHttpUrl
    enable_prompt_expansion: bool | None = None


class HailuoPro(VideoModel):
    """Hailuo 2.3 Pro: one length, one size, no sound; the shape follows the image."""

    id = "i2v-pro"
    name = "MiniMax Hailuo 2.3 Pro"
    Params = HailuoProParams
    listed_price_cents = 54  # "from $0.54/run"
    #: The page's "~5 seconds" is the clip's length, not the wait: no wait is documented.
    documented_estimate_s = (60.0, 120.0)
    options = ModelOptions(
        durations_s=(5,),
        resolutions=("1080p",),
        aspect_ratios=("auto",),
        seeds=None,
        end_frame=False,
        audio=False,
        camera_fixed=False,
        defaults=ModelDefaults(
            duration_s=5, resolution="1080p", aspect_ratio="auto", generate_audio=False
        ),
    )

    def params(
        self,
        prompt: str,
        image_url: str,
        last_image_url: str | None,
        settings: GenerationSettings,
    ) -> dict[str, object]:
        """The prompt goes as the member wrote it: the service is not asked to rewrite it."""
        return {"prompt": prompt, "image": image_url, "enable_prompt_expansion": False}


HAILUO_PRO = HailuoPro()
