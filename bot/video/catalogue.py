"""The video models the bot knows, by their id in the API, and the one it is set to use."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING

from bot.video.model import VideoModel
from bot.video.seedance import SEEDANCE_1_5_PRO

if TYPE_CHECKING:
    from bot.settings import Settings

MODELS: Mapping[str, VideoModel] = MappingProxyType({m.id: m for m in (SEEDANCE_1_5_PRO,)})
#: The model used unless `VIBEDREAM_MODEL` names another. Whatever is fixed before the settings
#: are read (discord.py reads /animate's ranges and choices at import) follows this one.
DEFAULT_MODEL: VideoModel = SEEDANCE_1_5_PRO

#: The default model's listed price and documented time, for the places that show them with no
#: model at hand yet: the progress texts (`bot.i18n.messages`) and the ETA they explain
#: (`bot.jobs.expectations`). With a second model these come from the job's own.
LISTED_PRICE_CENTS = DEFAULT_MODEL.listed_price_cents
DOCUMENTED_ESTIMATE_S = DEFAULT_MODEL.documented_estimate_s


class UnknownModelError(ValueError):
    """No known model has this id."""


def model_by_id(model_id: str) -> VideoModel:
    """The model with this id; raises UnknownModelError naming the known ids."""
    try:
        return MODELS[model_id]
    except KeyError:
        known = ", ".join(sorted(MODELS))
        raise UnknownModelError(f"unknown video model {model_id!r}; known: {known}") from None


def configured_model(settings: Settings) -> VideoModel:
    """The model `VIBEDREAM_MODEL` names (checked when the settings are read)."""
    return model_by_id(settings.vibedream_model)
