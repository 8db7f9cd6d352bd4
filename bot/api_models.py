"""Typed payloads of the Seedance 1.5 Pro image-to-video API, and its documented limits.

This module is the one place that knows the model's options: the slash command, the settings
and the validation all read their allowed values from here.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal, get_args

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field

MODEL_ID = "seedance-1.5-pro-i2v"

Resolution = Literal["480p", "720p", "1080p"]
AspectRatio = Literal["16:9", "9:16", "1:1", "4:3", "3:4", "21:9", "auto"]
RESOLUTIONS: tuple[str, ...] = get_args(Resolution)
ASPECT_RATIOS: tuple[str, ...] = get_args(AspectRatio)

DURATION_MIN_S, DURATION_MAX_S = 4, 12
#: Our ceiling on prompt length (the API documents none); fits one Discord message.
PROMPT_MAX_CHARS = 2000
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

#: Documented values of `status`; others are read as "still processing".
PredictionStatus = Literal["processing", "completed", "failed"]


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


class _ApiModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)


class SubmitResponse(_ApiModel):
    """What the API answers to a submit: the prediction id and its estimate and price."""

    id: str = Field(min_length=1)
    status: str = "processing"  # only the id matters: with it, the job exists and is charged
    status_url: str | None = Field(None, alias="statusUrl")
    estimated_time: str | None = Field(None, alias="estimatedTime")
    cost_cents: int = Field(0, alias="costCents", ge=0)
    created_at: datetime | None = Field(None, alias="createdAt")

    def estimate_s(self) -> tuple[float, float] | None:
        """Parse `estimatedTime` ("60-120s", "90s") into (low, high) seconds."""
        return parse_estimate(self.estimated_time)


class Prediction(_ApiModel):
    """What `GET /predictions/{id}` answers."""

    id: str
    status: PredictionStatus | str
    outputs: list[str] | None = None
    error: str | None = None
    cost_cents: int | None = Field(None, alias="costCents", ge=0)
    created_at: datetime | None = Field(None, alias="createdAt")
    completed_at: datetime | None = Field(None, alias="completedAt")


_ESTIMATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:-\s*(\d+(?:\.\d+)?))?\s*s?\s*$")


def parse_estimate(text: str | None) -> tuple[float, float] | None:
    """Parse an estimate such as "60-120s" into (60.0, 120.0); None when absent or unreadable."""
    if not text or not (match := _ESTIMATE.match(text)):
        return None
    low = float(match.group(1))
    high = float(match.group(2) or low)
    return (min(low, high), max(low, high))
