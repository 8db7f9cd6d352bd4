"""Google Veo on vibedream: `veo3.1-fast` and `veo3-i2v` (reference note §2.2, §2.3).

vibedream's pages give only the example bodies; the choices below come from the same models on
other hosts (Veo 3.1 Fast: 4/6/8 s, 16:9 or 9:16, 720p or 1080p; Veo 3: 8 s clips).
"""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from pydantic import AnyHttpUrl, Field

from bot.jobs.model import GenerationSettings
from bot.video.model import ModelDefaults, ModelOptions, ModelParams, VideoModel

AspectRatio = Literal["16:9", "9:16"]
Resolution = Literal["720p", "1080p"]
#: Upstream seeds are unsigned 32-bit; the bot offers 1-1000 like every model.
Seed = Annotated[int, Field(strict=True, ge=0, le=2**32 - 1)]


class Veo31FastParams(ModelParams):
    """Body of `POST /models/veo3.1-fast/generate`. `duration` is a **string** in vibedream's
    example (`"8"`), unlike its sibling's; `last_image` is not in vibedream's example, so the
    bot does not send one."""

    image: AnyHttpUrl
    prompt: Annotated[str, Field(min_length=1, max_length=2000)]
    negative_prompt: str | None = None
    aspect_ratio: AspectRatio | None = None
    duration: Literal["4", "6", "8"] | None = None
    resolution: Resolution | None = None
    generate_audio: bool | None = None
    seed: Seed | None = None


class Veo31Fast(VideoModel):
    """Veo 3.1 Fast: 4, 6 or 8 s, sound on request."""

    id = "veo3.1-fast"
    name = "Veo 3.1 Fast"
    Params = Veo31FastParams
    #: The page's headline price is not in the stored copy; its example answer says 88 cents.
    listed_price_cents = 88
    #: The example answer's `estimatedTime`, "60-180s".
    documented_estimate_s = (60.0, 180.0)
    options = ModelOptions(
        durations_s=(4, 6, 8),
        resolutions=get_args(Resolution),
        aspect_ratios=get_args(AspectRatio),
        seeds=range(1, 1001),
        end_frame=False,
        audio=True,
        camera_fixed=False,
        defaults=ModelDefaults(
            duration_s=8, resolution="720p", aspect_ratio="16:9", generate_audio=False
        ),
    )

    def params(
        self,
        prompt: str,
        image_url: str,
        last_image_url: str | None,
        settings: GenerationSettings,
    ) -> dict[str, object]:
        """A job's values under Veo 3.1 Fast's names; its duration as a string."""
        return {
            "image": image_url,
            "prompt": prompt,
            "aspect_ratio": settings.aspect_ratio,
            "duration": str(settings.duration_s),
            "resolution": settings.resolution,
            "generate_audio": settings.generate_audio,
            "seed": settings.seed,
        }


class Veo3Params(ModelParams):
    """Body of `POST /models/veo3-i2v/generate`. `duration` is an integer; the example's `1`
    is not a length Veo 3 makes upstream (8 s), so the bot sends 8."""

    prompt: Annotated[str, Field(min_length=1)]
    image: AnyHttpUrl
    aspect_ratio: AspectRatio | None = None
    duration: Annotated[int, Field(strict=True, ge=1, le=8)] | None = None
    resolution: Resolution | None = None
    generate_audio: bool | None = None
    negative_prompt: str | None = None
    seed: Seed | None = None


class Veo3(VideoModel):
    """Veo 3 image to video: 8 s clips, sound on request."""

    id = "veo3-i2v"
    name = "Google Veo3"
    Params = Veo3Params
    listed_price_cents = 132  # "from $1.32/run"
    documented_estimate_s = (60.0, 120.0)  # "~60-120s"
    options = ModelOptions(
        durations_s=(8,),
        resolutions=get_args(Resolution),
        aspect_ratios=get_args(AspectRatio),
        seeds=range(1, 1001),
        end_frame=False,
        audio=True,
        camera_fixed=False,
        defaults=ModelDefaults(
            duration_s=8, resolution="720p", aspect_ratio="16:9", generate_audio=False
        ),
    )

    def params(
        self,
        prompt: str,
        image_url: str,
        last_image_url: str | None,
        settings: GenerationSettings,
    ) -> dict[str, object]:
        """A job's values under Veo 3's names."""
        return {
            "prompt": prompt,
            "image": image_url,
            "aspect_ratio": settings.aspect_ratio,
            "duration": settings.duration_s,
            "resolution": settings.resolution,
            "generate_audio": settings.generate_audio,
            "seed": settings.seed,
        }


VEO_3_1_FAST = Veo31Fast()
VEO_3 = Veo3()
