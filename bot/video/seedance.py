"""Seedance 1.5 Pro image-to-video: its documented parameters, limits, price and time.

This module is the one place that knows the model's options: the slash command, the settings
and the validation all read their allowed values from here.
"""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field

MODEL_ID = "seedance-1.5-pro-i2v"

Resolution = Literal["480p", "720p", "1080p"]
AspectRatio = Literal["16:9", "9:16", "1:1", "4:3", "3:4", "21:9", "auto"]
RESOLUTIONS: tuple[str, ...] = get_args(Resolution)
ASPECT_RATIOS: tuple[str, ...] = get_args(AspectRatio)

DURATION_MIN_S, DURATION_MAX_S = 4, 12
SEED_MIN, SEED_MAX = 1, 1000
Duration = Annotated[int, Field(ge=DURATION_MIN_S, le=DURATION_MAX_S)]
Seed = Annotated[int, Field(ge=SEED_MIN, le=SEED_MAX)]

#: The documented generation time ("Video output ~60-120s"), until the API or our own history
#: says better.
DOCUMENTED_ESTIMATE_S = (60.0, 120.0)
#: The documented price, a floor ("from $0.29/run"): the docs give no price table. A job is
#: shown to cost "from" this until an earlier job with its settings shows the price; what is
#: reserved against a spending cap meanwhile is the `EXPECTED_COST_CENTS` setting.
LISTED_PRICE_CENTS = 29


class GenerateRequest(BaseModel):
    """Body of `POST /models/seedance-1.5-pro-i2v/generate`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    prompt: Annotated[str, Field(min_length=1)]
    image: AnyHttpUrl
    last_image: AnyHttpUrl | None = None
    duration: Duration
    resolution: Resolution
    aspect_ratio: AspectRatio
    camera_fixed: bool
    seed: Seed
    generate_audio: bool

    def to_json(self) -> dict[str, object]:
        """Return the JSON body, omitting `last_image` when there is none."""
        return self.model_dump(mode="json", exclude_none=True)
