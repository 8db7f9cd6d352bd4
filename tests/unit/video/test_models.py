"""Every model of the catalogue against its documentation (`shared/reference/vibedream-models.md`;
Seedance 1.5 Pro has its own file, `test_seedance.py`): the documented example body built from
the declaration, the parameters it refuses, and every body the bot can build accepted by the
fake API's schema for that model (written from the documents, not from the declarations)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import pytest
from pydantic import ValidationError

from bot.jobs.model import GenerationSettings
from bot.video.catalogue import MODELS
from bot.video.grok import GROK_IMAGINE
from bot.video.hailuo import HAILUO_PRO
from bot.video.model import Certainty, VideoModel
from bot.video.seedance import SEEDANCE_1_5_PRO
from bot.video.veo import VEO_3, VEO_3_1_FAST
from bot.video.vidu import VIDU_Q3
from bot.video.wan import WAN_SPICY
from tests.fakes.fake_vibedream import validate_submit

PROMPT = "A beautiful sunset over mountains with golden light"
IMAGE = "https://example.com/your-image.jpg"


@dataclass(frozen=True)
class Documented:
    """A model's documented example body, the bot's options that produce it, and the
    parameters of the example the bot never sends (it has no option for them)."""

    model: VideoModel
    example: dict[str, Any]
    settings: GenerationSettings
    not_sent: frozenset[str] = field(default_factory=frozenset)


def settings(**values: Any) -> GenerationSettings:
    base: dict[str, Any] = {
        "duration_s": 5,
        "resolution": "720p",
        "aspect_ratio": "auto",
        "camera_fixed": None,
        "seed": None,
        "generate_audio": False,
    }
    return GenerationSettings(**(base | values))


DOCUMENTED = [
    Documented(
        VEO_3_1_FAST,
        {
            "image": IMAGE,
            "prompt": PROMPT,
            "negative_prompt": "blurry, low quality, distorted...",
            "aspect_ratio": "16:9",
            "duration": "8",
            "resolution": "1080p",
            "generate_audio": True,
            "seed": 0,
        },
        settings(
            duration_s=8, resolution="1080p", aspect_ratio="16:9", seed=0, generate_audio=True
        ),
        frozenset({"negative_prompt"}),
    ),
    Documented(
        VEO_3,
        {
            "prompt": PROMPT,
            "image": IMAGE,
            "aspect_ratio": "16:9",
            "duration": 1,
            "resolution": "720p",
            "generate_audio": False,
            "negative_prompt": "your negative_prompt here",
            "seed": 0,
        },
        settings(duration_s=1, aspect_ratio="16:9", seed=0),
        frozenset({"negative_prompt"}),
    ),
    Documented(
        VIDU_Q3,
        {
            "prompt": PROMPT,
            "image": IMAGE,
            "resolution": "540p",
            "duration": 1,
            "movement_amplitude": "auto",
            "generate_audio": False,
            "bgm": False,
            "seed": 0,
        },
        settings(duration_s=1, resolution="540p", seed=0),
        frozenset({"movement_amplitude"}),
    ),
    Documented(
        GROK_IMAGINE,
        {
            "image": IMAGE,
            "prompt": PROMPT,
            "duration": 6,
            "aspect_ratio": "16:9",
            "resolution": "720p",
        },
        settings(duration_s=6, aspect_ratio="16:9", generate_audio=True),
    ),
    Documented(
        HAILUO_PRO,
        {"prompt": PROMPT, "image": IMAGE, "enable_prompt_expansion": False},
        settings(resolution="1080p"),
    ),
    Documented(
        WAN_SPICY,
        {
            "image": IMAGE,
            "prompt": PROMPT,
            "resolution": "480p",
            "duration": 5,
            "seed": 0,
            "enable_safety_checker": False,
        },
        settings(resolution="480p", seed=0),
        # Left to the service's default rather than turned off (see bot/video/wan.py).
        frozenset({"enable_safety_checker"}),
    ),
]
IDS = [d.model.id for d in DOCUMENTED]


def test_every_model_but_seedance_has_its_documented_example_here() -> None:
    assert {d.model.id for d in DOCUMENTED} == set(MODELS) - {SEEDANCE_1_5_PRO.id}


@pytest.mark.parametrize("documented", DOCUMENTED, ids=IDS)
def test_the_declaration_builds_the_documented_example_body(documented: Documented) -> None:
    body = documented.model.request_body(PROMPT, IMAGE, None, documented.settings)

    expected = {k: v for k, v in documented.example.items() if k not in documented.not_sent}
    assert body == expected


@pytest.mark.parametrize("documented", DOCUMENTED, ids=IDS)
def test_the_documented_example_body_is_accepted_as_it_is(documented: Documented) -> None:
    params = documented.model.Params.model_validate(documented.example)

    assert params.model_dump(mode="json", exclude_none=True) == documented.example


def test_veo_3_1_fast_sends_its_duration_as_a_string_and_veo_3_an_integer() -> None:
    fast = VEO_3_1_FAST.request_body(
        PROMPT, IMAGE, None, settings(duration_s=6, aspect_ratio="9:16")
    )
    veo3 = VEO_3.request_body(PROMPT, IMAGE, None, settings(duration_s=8, aspect_ratio="9:16"))

    assert fast["duration"] == "6"
    assert veo3["duration"] == 8


def test_vidu_silences_both_sound_and_background_music() -> None:
    loud = VIDU_Q3.request_body(PROMPT, IMAGE, None, settings(generate_audio=True))
    quiet = VIDU_Q3.request_body(PROMPT, IMAGE, None, settings(generate_audio=False))

    assert (loud["generate_audio"], loud["bgm"]) == (True, True)
    assert (quiet["generate_audio"], quiet["bgm"]) == (False, False)


@pytest.mark.parametrize(
    ("model", "changes"),
    [
        (VEO_3_1_FAST, {"duration": 8}),  # an integer where the example has the string
        (VEO_3_1_FAST, {"duration": "5"}),
        (VEO_3_1_FAST, {"aspect_ratio": "1:1"}),
        (VEO_3_1_FAST, {"last_image": IMAGE}),  # not in vibedream's example
        (VEO_3, {"duration": "8"}),
        (VEO_3, {"resolution": "480p"}),
        (VIDU_Q3, {"duration": 17}),
        (VIDU_Q3, {"aspect_ratio": "16:9"}),
        (VIDU_Q3, {"movement_amplitude": "huge"}),
        (GROK_IMAGINE, {"seed": 1}),
        (GROK_IMAGINE, {"resolution": "1080p"}),
        (GROK_IMAGINE, {"duration": 16}),
        (HAILUO_PRO, {"duration": 5}),
        (HAILUO_PRO, {"resolution": "1080p"}),
        (WAN_SPICY, {"duration": 6}),
        (WAN_SPICY, {"resolution": "1080p"}),
        (WAN_SPICY, {"seed": -2}),
    ],
    ids=str,
)
def test_values_outside_the_documentation_are_refused(
    model: VideoModel, changes: dict[str, object]
) -> None:
    example = next(d.example for d in DOCUMENTED if d.model is model)

    with pytest.raises(ValidationError):
        model.Params.model_validate(example | changes)


@pytest.mark.parametrize("model", [m for m in MODELS.values() if not m.options.end_frame])
def test_a_model_without_an_end_frame_never_sends_one(model: VideoModel) -> None:
    with pytest.raises(ValueError, match="takes no end frame"):
        model.request_body(PROMPT, IMAGE, IMAGE, settings(**_defaults(model)))


def _defaults(model: VideoModel) -> dict[str, Any]:
    d = model.options.defaults
    return {
        "duration_s": d.duration_s,
        "resolution": d.resolution,
        "aspect_ratio": d.aspect_ratio,
        "generate_audio": d.generate_audio,
        "seed": model.options.seeds[0] if model.options.seeds else None,
        "camera_fixed": False if model.options.camera_fixed else None,
    }


def _offered_settings(model: VideoModel) -> list[GenerationSettings]:
    o = model.options
    seeds = [o.seeds[0], o.seeds[-1]] if o.seeds else [None]
    cameras: list[bool | None] = [False, True] if o.camera_fixed else [None]
    sounds = [False, True] if o.audio else [o.defaults.generate_audio]
    return [
        GenerationSettings(d, r, a, c, s, g)
        for d, r, a, c, s, g in itertools.product(
            o.durations_s, o.resolutions, o.aspect_ratios, cameras, seeds, sounds
        )
    ]


@pytest.mark.parametrize("model", list(MODELS.values()), ids=list(MODELS))
def test_every_offered_combination_makes_a_body_the_fake_api_accepts(model: VideoModel) -> None:
    last = IMAGE if model.options.end_frame else None
    for offered in _offered_settings(model):
        body = model.request_body(PROMPT, IMAGE, last, offered)
        assert validate_submit(body, model.id) == [], (offered, body)


@pytest.mark.parametrize("model", list(MODELS.values()), ids=list(MODELS))
def test_the_models_own_defaults_are_among_its_options(model: VideoModel) -> None:
    o = model.options
    assert o.defaults.duration_s in o.durations_s
    assert o.defaults.resolution in o.resolutions
    assert o.defaults.aspect_ratio in o.aspect_ratios
    assert list(o.durations_s) == sorted(o.durations_s)


def test_only_seedance_is_declared_from_its_whole_schema() -> None:
    documented = [m.id for m in MODELS.values() if m.certainty is Certainty.DOCUMENTED]

    assert documented == [SEEDANCE_1_5_PRO.id]


@pytest.mark.parametrize(
    ("model", "cents", "estimate"),
    [
        (VEO_3_1_FAST, 88, (60.0, 180.0)),  # the example answer: 88 cents, "60-180s"
        (VEO_3, 132, (60.0, 120.0)),  # "from $1.32/run", "~60-120s"
        (GROK_IMAGINE, 31, (30.0, 120.0)),  # "from $0.31/run", "~30-120s"
        (HAILUO_PRO, 54, (60.0, 120.0)),  # "from $0.54/run"; no wait documented
        (WAN_SPICY, 17, (5.0, 15.0)),  # "from $0.17/run", "~5-15s"
        (VIDU_Q3, 75, (60.0, 120.0)),  # not on the page: $0.15/s upstream for 5 s
    ],
)
def test_each_model_is_priced_and_timed_as_documented(
    model: VideoModel, cents: int, estimate: tuple[float, float]
) -> None:
    assert (model.listed_price_cents, model.documented_estimate_s) == (cents, estimate)
