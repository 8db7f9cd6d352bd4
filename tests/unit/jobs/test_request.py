"""validate and resolve_settings: defaults from Settings, explicit values, range checks."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from pydantic import SecretStr

from bot.errors import UserError
from bot.jobs import request_messages as messages
from bot.jobs.model import GenerationSettings
from bot.jobs.request import AnimateRequest, ValidatedRequest, resolve_settings, validate
from bot.settings import Settings
from bot.video.seedance import SEEDANCE_1_5_PRO
from tests.factories import IMAGE

LAST_IMAGE = replace(IMAGE, url="https://cdn.example.com/cat-end.png", filename="cat-end.png")
REQUEST = AnimateRequest(prompt="The cat blinks", image=IMAGE)


def settings(**overrides: Any) -> Settings:
    """Settings from arguments only (no .env file)."""
    return Settings(
        discord_token=SecretStr("x"),
        vibedream_api_key=SecretStr("y"),
        _env_file=None,
        **overrides,  # type: ignore[call-arg]
    )


#: Defaults that differ from the built-in ones, so a test sees they came from Settings.
CUSTOM_DEFAULTS = settings(
    default_duration_s=8,
    default_resolution="1080p",
    default_aspect_ratio="9:16",
    default_camera_fixed=True,
    default_generate_audio=True,
)


def refusal(request: AnimateRequest, config: Settings = CUSTOM_DEFAULTS) -> str:
    with pytest.raises(UserError) as caught:
        validate(request, config, SEEDANCE_1_5_PRO)
    return caught.value.user_message.render()


# Defaults and explicit values ------------------------------------------------------------------


def test_options_left_out_take_the_configured_defaults() -> None:
    resolved = resolve_settings(REQUEST, CUSTOM_DEFAULTS, SEEDANCE_1_5_PRO)

    assert replace(resolved, seed=0) == GenerationSettings(
        duration_s=8,
        resolution="1080p",
        aspect_ratio="9:16",
        camera_fixed=True,
        seed=0,
        generate_audio=True,
    )


def test_explicit_options_are_kept_even_when_false() -> None:
    request = replace(
        REQUEST,
        duration_s=12,
        resolution="480p",
        aspect_ratio="21:9",
        camera_fixed=False,
        seed=1000,
        generate_audio=False,
    )

    assert resolve_settings(request, CUSTOM_DEFAULTS, SEEDANCE_1_5_PRO) == GenerationSettings(
        duration_s=12,
        resolution="480p",
        aspect_ratio="21:9",
        camera_fixed=False,
        seed=1000,
        generate_audio=False,
    )


def test_without_a_seed_a_random_one_in_range_is_chosen() -> None:
    seeds = [resolve_settings(REQUEST, CUSTOM_DEFAULTS, SEEDANCE_1_5_PRO).seed for _ in range(300)]

    assert all(1 <= seed <= 1000 for seed in seeds)
    assert len(set(seeds)) > 100  # random, not a fixed default


@pytest.mark.parametrize(("duration_s", "seed"), [(4, 1), (12, 1000)])
def test_values_at_the_limits_are_accepted(duration_s: int, seed: int) -> None:
    resolved = resolve_settings(
        replace(REQUEST, duration_s=duration_s, seed=seed), settings(), SEEDANCE_1_5_PRO
    )

    assert (resolved.duration_s, resolved.seed) == (duration_s, seed)


def test_validate_returns_the_cleaned_prompt_images_and_resolved_settings() -> None:
    request = replace(REQUEST, prompt="  The cat blinks \n", last_image=LAST_IMAGE, seed=42)

    validated = validate(request, CUSTOM_DEFAULTS, SEEDANCE_1_5_PRO)

    assert validated == ValidatedRequest(
        prompt="The cat blinks",
        image=IMAGE,
        last_image=LAST_IMAGE,
        settings=GenerationSettings(
            duration_s=8,
            resolution="1080p",
            aspect_ratio="9:16",
            camera_fixed=True,
            seed=42,
            generate_audio=True,
        ),
    )


# Out-of-range values ---------------------------------------------------------------------------


@pytest.mark.parametrize("duration_s", [0, 3, 13, -5])
def test_duration_out_of_range_is_refused_naming_the_allowed_range(duration_s: int) -> None:
    message = refusal(replace(REQUEST, duration_s=duration_s))

    allowed = messages.seconds_range(4, 12)
    assert message == messages.value_out_of_range("duration", duration_s, allowed).render()
    assert "4–12 seconds" in message


@pytest.mark.parametrize("seed", [0, 1001, -1])
def test_seed_out_of_range_is_refused_naming_the_allowed_range(seed: int) -> None:
    message = refusal(replace(REQUEST, seed=seed))

    assert message == messages.value_out_of_range("seed", seed, "1–1000").render()


def test_unknown_resolution_is_refused_listing_the_allowed_ones() -> None:
    message = refusal(replace(REQUEST, resolution="4k"))

    assert "`resolution`" in message
    assert "4k" in message
    assert "480p, 720p, 1080p" in message


def test_unknown_aspect_ratio_is_refused_listing_the_allowed_ones() -> None:
    message = refusal(replace(REQUEST, aspect_ratio="2:1"))

    assert "`aspect_ratio`" in message
    assert "2:1" in message
    assert "16:9, 9:16, 1:1, 4:3, 3:4, 21:9, auto" in message


# Prompt and images -----------------------------------------------------------------------------


@pytest.mark.parametrize("prompt", ["", "   ", "\n\t "])
def test_blank_prompt_is_refused(prompt: str) -> None:
    assert refusal(replace(REQUEST, prompt=prompt)) == messages.PROMPT_EMPTY.render()


def test_prompt_longer_than_the_configured_limit_is_refused() -> None:
    message = refusal(replace(REQUEST, prompt="x" * 11), settings(prompt_max_chars=10))

    assert message == messages.prompt_too_long(11, 10).render()


def test_unacceptable_image_is_refused_naming_the_image() -> None:
    message = refusal(replace(REQUEST, image=replace(IMAGE, content_type="image/bmp")))

    assert "`image`" in message


def test_unacceptable_last_image_is_refused_naming_the_last_image() -> None:
    tiny = replace(LAST_IMAGE, width=100, height=100)

    message = refusal(replace(REQUEST, last_image=tiny))

    assert "`last_image`" in message
    assert "100×100 px" in message


def test_image_limits_come_from_the_settings() -> None:
    config = settings(image_max_bytes=IMAGE.size_bytes - 1)

    message = refusal(REQUEST, config)

    assert "Please attach a smaller image" in message
    validate(REQUEST, settings(image_max_bytes=IMAGE.size_bytes), SEEDANCE_1_5_PRO)
