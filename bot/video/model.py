"""The video model seam: what the bot knows about one model the API serves.

Every model is reached the same way (`POST /models/{id}/generate`, the same answer and the
same polling); only its parameters, its price and its time differ. A model declares those here,
once: its `Params` (a pydantic model of the documented body), how a job's options map onto
them, and the limits /animate and the checks in `bot.jobs.request` offer. The known models are
listed in `bot.video.catalogue`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

from pydantic import BaseModel

from bot.jobs.model import GenerationSettings


@dataclass(frozen=True, slots=True)
class ModelOptions:
    """The option values the bot offers for a model: /animate's ranges and choices, the
    checks on a request, and the defaults allowed in the settings."""

    #: Clip lengths in seconds (a range with a step can say "4, 6 or 8").
    durations_s: range
    resolutions: tuple[str, ...]
    aspect_ratios: tuple[str, ...]
    #: The seeds the bot offers and picks from; it always sends one, so a clip can be redone.
    seeds: range
    #: Whether the model takes an end frame (`last_image`), makes sound, and can hold the
    #: camera still.
    end_frame: bool
    audio: bool
    camera_fixed: bool


class VideoModel(ABC):
    """One model the API serves, declared by a subclass: its facts as class attributes, and
    `params`, the mapping from a job's values to its parameters."""

    #: The model's id in the API (the `{id}` of `/models/{id}/generate`), stored with each job.
    id: ClassVar[str]
    #: The documented request body: validates what `params` builds.
    Params: ClassVar[type[BaseModel]]
    #: The documented price ("from $X/run"), a floor: shown until the real price is known.
    listed_price_cents: ClassVar[int]
    #: The documented generation time as (low, high) seconds, until the API or history says
    #: better.
    documented_estimate_s: ClassVar[tuple[float, float]]
    options: ClassVar[ModelOptions]

    def request_body(
        self,
        prompt: str,
        image_url: str,
        last_image_url: str | None,
        settings: GenerationSettings,
    ) -> dict[str, object]:
        """The JSON body of a generate request; raises pydantic's ValidationError for values
        the model does not take. Optional inputs left out (None) are not sent at all."""
        params = self.Params.model_validate(
            self.params(prompt, image_url, last_image_url, settings)
        )
        return params.model_dump(mode="json", exclude_none=True)

    @abstractmethod
    def params(
        self,
        prompt: str,
        image_url: str,
        last_image_url: str | None,
        settings: GenerationSettings,
    ) -> dict[str, object]:
        """A job's values under the model's own parameter names, before validation."""
