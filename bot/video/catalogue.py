"""The video models the bot knows, by their id in the API; the one it uses by default and the
ones server admins may choose from (`VIBEDREAM_MODEL`, `VIBEDREAM_MODELS`).

To add a model: declare it in a module of this package (a `VideoModel` subclass, see
`bot.video.seedance`), list it in `MODELS` below, give it a unit test building its documented
example body, and a row in the README's catalogue table.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING

from bot.video.grok import GROK_IMAGINE
from bot.video.hailuo import HAILUO_PRO
from bot.video.model import VideoModel
from bot.video.seedance import SEEDANCE_1_5_PRO
from bot.video.veo import VEO_3, VEO_3_1_FAST
from bot.video.vidu import VIDU_Q3
from bot.video.wan import WAN_SPICY

if TYPE_CHECKING:
    from bot.settings import Settings

MODELS: Mapping[str, VideoModel] = MappingProxyType(
    {
        m.id: m
        for m in (
            SEEDANCE_1_5_PRO,
            VEO_3_1_FAST,
            VEO_3,
            VIDU_Q3,
            GROK_IMAGINE,
            HAILUO_PRO,
            WAN_SPICY,
        )
    }
)
#: The model used unless `VIBEDREAM_MODEL` names another.
DEFAULT_MODEL: VideoModel = SEEDANCE_1_5_PRO

#: What /animate's options may span across the catalogue (Discord reads an option's range when
#: the command is declared, before any server's model is known); each value is then checked
#: against the server's model, which the options' autocomplete also follows.
DURATION_BOUNDS_S = (
    min(m.options.durations_s[0] for m in MODELS.values()),
    max(m.options.durations_s[-1] for m in MODELS.values()),
)
SEED_BOUNDS = (
    min(m.options.seeds[0] for m in MODELS.values() if m.options.seeds),
    max(m.options.seeds[-1] for m in MODELS.values() if m.options.seeds),
)


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


def offered_models(settings: Settings) -> tuple[VideoModel, ...]:
    """The models server admins may choose from, in catalogue order: `VIBEDREAM_MODELS` (all
    by default), and always the bot's own."""
    chosen = set(settings.vibedream_models or MODELS) | {settings.vibedream_model}
    return tuple(m for m in MODELS.values() if m.id in chosen)
