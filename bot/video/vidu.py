"""Vidu Q3 image to video (`vidu-q3-i2v`, reference note §2.4): vibedream's example body, with
the ranges and defaults of the same endpoint on Runpod (same id, same names)."""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from pydantic import AnyHttpUrl, Field

from bot.jobs.model import GenerationSettings
from bot.video.model import ModelDefaults, ModelOptions, ModelParams, VideoModel

Resolution = Literal["540p", "720p", "1080p"]
DURATIONS_S = range(1, 17)


class ViduQ3Params(ModelParams):
    """Body of `POST /models/vidu-q3-i2v/generate`. No aspect ratio (the clip follows the
    image) and no end frame."""

    prompt: Annotated[str, Field(min_length=1)]
    image: AnyHttpUrl
    resolution: Resolution | None = None
    duration: Annotated[int, Field(strict=True, ge=DURATIONS_S[0], le=DURATIONS_S[-1])] | None = (
        None
    )
    movement_amplitude: Literal["auto", "small", "medium", "large"] | None = None
    generate_audio: bool | None = None
    bgm: bool | None = None
    seed: Annotated[int, Field(strict=True)] | None = None


class ViduQ3(VideoModel):
    """Vidu Q3: 1-16 s, its shape follows the image."""

    id = "vidu-q3-i2v"
    name = "Vidu Q3 Image-to-Video"
    Params = ViduQ3Params
    #: Not in the stored page; upstream charges $0.15 a second, so 75 cents for 5 s.
    listed_price_cents = 75
    #: The example answer is cut off after "6"; 60-120 s is a guess in line with the others.
    documented_estimate_s = (60.0, 120.0)
    options = ModelOptions(
        durations_s=DURATIONS_S,
        resolutions=get_args(Resolution),
        aspect_ratios=("auto",),
        seeds=range(1, 1001),
        end_frame=False,
        audio=True,
        camera_fixed=False,
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
        """A job's values under Vidu's names. Sound and background music both default to on
        upstream, so the audio option sets both: a silent clip sends `false` for each."""
        return {
            "prompt": prompt,
            "image": image_url,
            "resolution": settings.resolution,
            "duration": settings.duration_s,
            "generate_audio": settings.generate_audio,
            "bgm": settings.generate_audio,
            "seed": settings.seed,
        }


VIDU_Q3 = ViduQ3()
