"""Seedance 1.5 Pro image-to-video (`seedance-1.5-pro-i2v`), as documented
(`shared/seeds/seedance-1.5-pro-i2v-api.txt`): its parameters, price, time and options."""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from pydantic import AnyHttpUrl, Field

from bot.jobs.model import GenerationSettings
from bot.video.model import Certainty, ModelDefaults, ModelOptions, ModelParams, VideoModel

Resolution = Literal["480p", "720p", "1080p"]
AspectRatio = Literal["16:9", "9:16", "1:1", "4:3", "3:4", "21:9", "auto"]
#: Documented as 4 to 12, step 1.
DURATIONS_S = range(4, 13)
#: Documented as -1 to 1000, step 1; -1 asks the API to pick one.
SEEDS = range(-1, 1001)


class SeedanceParams(ModelParams):
    """Body of `POST /models/seedance-1.5-pro-i2v/generate`. Only `prompt` and `image` are
    required; the docs give no defaults, and an absent option is not sent."""

    prompt: Annotated[str, Field(min_length=1)]
    image: AnyHttpUrl
    last_image: AnyHttpUrl | None = None
    duration: Annotated[int, Field(ge=DURATIONS_S[0], le=DURATIONS_S[-1])] | None = None
    resolution: Resolution | None = None
    aspect_ratio: AspectRatio | None = None
    camera_fixed: bool | None = None
    seed: Annotated[int, Field(ge=SEEDS[0], le=SEEDS[-1])] | None = None
    generate_audio: bool | None = None


class Seedance15Pro(VideoModel):
    """Seedance 1.5 Pro: the bot's model since its first release; every option maps 1:1."""

    id = "seedance-1.5-pro-i2v"
    name = "Seedance 1.5 Pro Image to Video"
    Params = SeedanceParams
    certainty = Certainty.DOCUMENTED
    #: "from $0.29/run": the docs give no price table per duration or resolution.
    listed_price_cents = 29
    #: "Video output ~60-120s".
    documented_estimate_s = (60.0, 120.0)
    options = ModelOptions(
        durations_s=DURATIONS_S,
        resolutions=get_args(Resolution),
        aspect_ratios=get_args(AspectRatio),
        # The bot never sends -1 ("random"): every clip's seed is known, shown and reusable.
        seeds=range(1, SEEDS[-1] + 1),
        end_frame=True,
        audio=True,
        camera_fixed=True,
        # The docs give no defaults: these are the bot's own since its first release.
        defaults=ModelDefaults(
            duration_s=5, resolution="720p", aspect_ratio="auto", generate_audio=False
        ),
    )

    def params(
        self,
        prompt: str,
        image_url: str,
        last_image_url: str | None,
        settings: GenerationSettings,
    ) -> dict[str, object]:
        """A job's values under Seedance's parameter names."""
        return {
            "prompt": prompt,
            "image": image_url,
            "last_image": last_image_url,
            "duration": settings.duration_s,
            "resolution": settings.resolution,
            "aspect_ratio": settings.aspect_ratio,
            "camera_fixed": settings.camera_fixed,
            "seed": settings.seed,
            "generate_audio": settings.generate_audio,
        }


SEEDANCE_1_5_PRO = Seedance15Pro()
