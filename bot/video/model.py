"""The video model seam: what the bot knows about one model the API serves.

Every model is reached the same way (`POST /models/{id}/generate`, the same answer and the
same polling); only its parameters, its price and its time differ. A model declares those here,
once: its `Params` (a pydantic model of the documented body), how a job's options map onto
them, and the options /animate and the checks in `bot.jobs.request` offer with it. The known
models are listed in `bot.video.catalogue`; correcting a model is an edit of its declaration.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar

from pydantic import BaseModel, ConfigDict

from bot.jobs.model import GenerationSettings


class Certainty(StrEnum):
    """How sure the declaration's parameters are (shown in the README's catalogue table)."""

    #: vibedream's whole schema (types, ranges, choices) was read.
    DOCUMENTED = "documented"
    #: vibedream's example body gives the names and types; ranges and choices come from the
    #: same model on another host, so vibedream may accept a different set.
    EXAMPLE_AND_UPSTREAM = "example + upstream"


@dataclass(frozen=True, slots=True)
class ModelDefaults:
    """What a job gets when neither the member nor the bot's defaults give a value the model
    offers (say, `DEFAULT_ASPECT_RATIO=auto` on a model without `auto`)."""

    duration_s: int
    resolution: str
    aspect_ratio: str
    #: Whether the clip has sound; for a model without an audio switch, what it always does.
    generate_audio: bool


@dataclass(frozen=True, slots=True)
class ModelOptions:
    """The option values the bot offers for a model: /animate's choices and their checks."""

    #: Clip lengths in seconds, ascending (a model with no duration parameter offers the one
    #: length it makes).
    durations_s: Sequence[int]
    #: Output sizes (a model with no resolution parameter offers the one it makes).
    resolutions: tuple[str, ...]
    #: Output shapes; ("auto",) alone when the model takes none and follows the image.
    aspect_ratios: tuple[str, ...]
    #: The seeds the bot offers and picks from (it always sends one, so a clip can be redone);
    #: None when the model takes no seed.
    seeds: range | None
    #: Whether the model takes an end frame, lets the member choose sound (else it is
    #: `defaults.generate_audio`), and can hold the camera still.
    end_frame: bool
    audio: bool
    camera_fixed: bool
    defaults: ModelDefaults


class ModelParams(BaseModel):
    """Base of every model's request body: frozen, and nothing undocumented goes out."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class VideoModel(ABC):
    """One model the API serves, declared by a subclass: its facts as class attributes, and
    `params`, the mapping from a job's values to its parameters."""

    #: The model's id in the API (the `{id}` of `/models/{id}/generate`), stored with each job.
    id: ClassVar[str]
    #: The model's name as vibedream's page gives it.
    name: ClassVar[str]
    #: The documented request body: validates what `params` builds.
    Params: ClassVar[type[ModelParams]]
    #: The documented price ("from $X/run", or the example answer's `costCents`), a floor:
    #: shown until the real price is known.
    listed_price_cents: ClassVar[int]
    #: The documented generation time as (low, high) seconds, until the API or history says
    #: better.
    documented_estimate_s: ClassVar[tuple[float, float]]
    options: ClassVar[ModelOptions]
    certainty: ClassVar[Certainty] = Certainty.EXAMPLE_AND_UPSTREAM
    #: Relaxed content rules: offered only to servers limited to age-restricted channels, and
    #: never the bot's default.
    relaxed_content: ClassVar[bool] = False

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.id}>"

    def request_body(
        self,
        prompt: str,
        image_url: str,
        last_image_url: str | None,
        settings: GenerationSettings,
    ) -> dict[str, object]:
        """The JSON body of a generate request; raises pydantic's ValidationError for values
        the model does not take (ValueError for an end frame it cannot take). Optional inputs
        left out (None) are not sent at all."""
        if last_image_url is not None and not self.options.end_frame:
            raise ValueError(f"{self.id} takes no end frame")
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
