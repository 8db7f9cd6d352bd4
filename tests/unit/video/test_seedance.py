"""Seedance 1.5 Pro's declaration against its documentation
(`shared/seeds/seedance-1.5-pro-i2v-api.txt`): the parameters it takes, the body it builds."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from pydantic import ValidationError

from bot.jobs.model import GenerationSettings
from bot.video.seedance import SEEDANCE_1_5_PRO

# The documented ranges and choices, written out here so the declaration is checked against
# the page rather than against itself.
DOCUMENTED_DURATIONS_S = range(4, 13)
DOCUMENTED_RESOLUTIONS = ("480p", "720p", "1080p")
DOCUMENTED_ASPECT_RATIOS = ("16:9", "9:16", "1:1", "4:3", "3:4", "21:9", "auto")
DOCUMENTED_SEEDS = range(-1, 1001)

PROMPT = "The cat turns its head and blinks"
IMAGE_URL = "https://cdn.example.com/cat.png?ex=65a1b2c3&is=65a06143&hm=ab12&"
LAST_IMAGE_URL = "https://cdn.example.com/cat-end.png"
SETTINGS = GenerationSettings(
    duration_s=6,
    resolution="720p",
    aspect_ratio="16:9",
    camera_fixed=True,
    seed=42,
    generate_audio=False,
)
#: The documented example body (its placeholder URLs and its own option values).
EXAMPLE = {
    "prompt": "A beautiful sunset over mountains with golden light",
    "image": "https://example.com/your-image.jpg",
    "last_image": "https://example.com/your-last_image.jpg",
    "duration": 4,
    "resolution": "480p",
    "aspect_ratio": "16:9",
    "camera_fixed": False,
    "seed": -1,
    "generate_audio": False,
}


def params(**changes: Any) -> object:
    return SEEDANCE_1_5_PRO.Params.model_validate(EXAMPLE | changes)


# The declaration ---------------------------------------------------------------------------


def test_the_model_is_named_priced_and_timed_as_documented() -> None:
    model = SEEDANCE_1_5_PRO

    assert model.id == "seedance-1.5-pro-i2v"
    assert model.listed_price_cents == 29  # "from $0.29/run"
    assert model.documented_estimate_s == (60.0, 120.0)  # "~60-120s"


def test_the_documented_example_body_is_accepted_as_it_is() -> None:
    body = SEEDANCE_1_5_PRO.Params.model_validate(EXAMPLE).model_dump(mode="json")

    assert body == EXAMPLE


def test_only_prompt_and_image_are_required() -> None:
    minimal = {"prompt": "waves", "image": "https://example.com/a.png"}

    assert (
        SEEDANCE_1_5_PRO.Params.model_validate(minimal).model_dump(mode="json", exclude_none=True)
        == minimal
    )


@pytest.mark.parametrize("duration", DOCUMENTED_DURATIONS_S)
def test_every_documented_duration_is_accepted(duration: int) -> None:
    params(duration=duration)


@pytest.mark.parametrize("resolution", DOCUMENTED_RESOLUTIONS)
def test_every_documented_resolution_is_accepted(resolution: str) -> None:
    params(resolution=resolution)


@pytest.mark.parametrize("aspect_ratio", DOCUMENTED_ASPECT_RATIOS)
def test_every_documented_aspect_ratio_is_accepted(aspect_ratio: str) -> None:
    params(aspect_ratio=aspect_ratio)


def test_every_documented_seed_is_accepted() -> None:
    for seed in DOCUMENTED_SEEDS:
        params(seed=seed)


@pytest.mark.parametrize(
    "changes",
    [
        {"duration": 3},
        {"duration": 13},
        {"duration": 4.5},
        {"seed": -2},
        {"seed": 1001},
        {"resolution": "4k"},
        {"resolution": "720P"},
        {"aspect_ratio": "2:1"},
        {"aspect_ratio": "adaptive"},  # the text-to-video sibling's word, not this model's
        {"camera_fixed": "sometimes"},
        {"prompt": ""},
        {"image": "not a url"},
        {"last_image": "ftp://example.com/a.png"},
        {"fixed_camera": True},  # unknown: the sibling's name for camera_fixed
    ],
)
def test_values_outside_the_documentation_are_refused(changes: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        params(**changes)


@pytest.mark.parametrize("required", ["prompt", "image"])
def test_a_body_without_a_required_parameter_is_refused(required: str) -> None:
    with pytest.raises(ValidationError):
        SEEDANCE_1_5_PRO.Params.model_validate({k: v for k, v in EXAMPLE.items() if k != required})


# The options the bot offers ----------------------------------------------------------------


def test_the_bot_offers_every_documented_option_value_but_lets_no_seed_be_random() -> None:
    offered = SEEDANCE_1_5_PRO.options

    assert offered.durations_s == DOCUMENTED_DURATIONS_S
    assert offered.resolutions == DOCUMENTED_RESOLUTIONS
    assert offered.aspect_ratios == DOCUMENTED_ASPECT_RATIOS
    assert offered.seeds == range(1, 1001)  # never -1: each clip's seed is known
    assert (offered.end_frame, offered.audio, offered.camera_fixed) == (True, True, True)


def test_every_offered_value_makes_a_valid_body() -> None:
    offered = SEEDANCE_1_5_PRO.options
    for changes in (
        *({"duration_s": d} for d in offered.durations_s),
        *({"resolution": r} for r in offered.resolutions),
        *({"aspect_ratio": a} for a in offered.aspect_ratios),
        *({"seed": s} for s in offered.seeds),
    ):
        settings = replace(SETTINGS, **changes)  # type: ignore[arg-type]
        SEEDANCE_1_5_PRO.request_body(PROMPT, IMAGE_URL, LAST_IMAGE_URL, settings)


# The request body --------------------------------------------------------------------------


def test_the_body_carries_every_option_under_its_documented_name() -> None:
    body = SEEDANCE_1_5_PRO.request_body(PROMPT, IMAGE_URL, LAST_IMAGE_URL, SETTINGS)

    assert body == {
        "prompt": "The cat turns its head and blinks",
        "image": "https://cdn.example.com/cat.png?ex=65a1b2c3&is=65a06143&hm=ab12&",
        "last_image": "https://cdn.example.com/cat-end.png",
        "duration": 6,
        "resolution": "720p",
        "aspect_ratio": "16:9",
        "camera_fixed": True,
        "seed": 42,
        "generate_audio": False,
    }
    assert list(body) == list(EXAMPLE)  # in the documented order


def test_the_body_omits_last_image_when_there_is_none() -> None:
    body = SEEDANCE_1_5_PRO.request_body(PROMPT, IMAGE_URL, None, SETTINGS)

    assert "last_image" not in body
    assert body["image"] == IMAGE_URL


def test_a_value_the_model_does_not_take_never_becomes_a_body() -> None:
    with pytest.raises(ValidationError):
        SEEDANCE_1_5_PRO.request_body(PROMPT, IMAGE_URL, None, replace(SETTINGS, resolution="4k"))
