"""validate and resolve_settings: defaults from Settings, explicit values, range checks; the
input rules under them: clean_prompt, check_image and check_image_bytes."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from pydantic import SecretStr

from bot.errors import UserError
from bot.jobs import request_messages as messages
from bot.jobs.model import GenerationSettings, ImageInput
from bot.jobs.request import (
    AnimateRequest,
    ImageRules,
    ValidatedRequest,
    check_image,
    check_image_bytes,
    clean_prompt,
    resolve_settings,
    validate,
)
from bot.media.files import SNIFF_BYTES
from bot.settings import Settings
from bot.video.catalogue import MODELS
from bot.video.grok import GROK_IMAGINE
from bot.video.hailuo import HAILUO_PRO
from bot.video.model import VideoModel
from bot.video.seedance import SEEDANCE_1_5_PRO
from bot.video.veo import VEO_3, VEO_3_1_FAST
from bot.video.vidu import VIDU_Q3
from bot.video.wan import WAN_SPICY
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
        model="seedance-1.5-pro-i2v",
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
    expected = messages.model_value("seedance-1.5-pro-i2v", "duration", duration_s, allowed)
    assert message == expected.render()
    assert "4–12 seconds" in message
    assert "**seedance-1.5-pro-i2v**" in message


@pytest.mark.parametrize("seed", [0, 1001, -1])
def test_seed_out_of_range_is_refused_naming_the_allowed_range(seed: int) -> None:
    message = refusal(replace(REQUEST, seed=seed))

    assert message == messages.model_value("seedance-1.5-pro-i2v", "seed", seed, "1–1000").render()


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


# clean_prompt ----------------------------------------------------------------------------------


def test_clean_prompt_strips_surrounding_whitespace() -> None:
    assert clean_prompt("  \n The cat blinks \t", 100) == "The cat blinks"


@pytest.mark.parametrize("prompt", ["", "   ", "\n\t ", "\u200b\u200d", " \ufeff\u2060 "])
def test_empty_prompt_is_refused_with_an_example(prompt: str) -> None:
    with pytest.raises(UserError) as caught:
        clean_prompt(prompt, 100)

    assert caught.value.user_message == messages.PROMPT_EMPTY
    assert "Describe what should happen" in caught.value.user_message.render()


def test_prompt_with_zero_width_characters_around_words_is_kept_as_is() -> None:
    assert clean_prompt("the\u200bcat", 100) == "the\u200bcat"


def test_prompt_of_exactly_the_limit_is_accepted() -> None:
    assert clean_prompt("x" * 100, 100) == "x" * 100


def test_prompt_over_the_limit_is_refused_naming_length_and_limit() -> None:
    with pytest.raises(UserError) as caught:
        clean_prompt("x" * 101, 100)

    assert "101 characters" in caught.value.user_message.render()
    assert "shorten it to at most 100" in caught.value.user_message.render()


def test_prompt_limit_counts_after_stripping() -> None:
    assert clean_prompt("   " + "x" * 100 + "   ", 100) == "x" * 100


# check_image -----------------------------------------------------------------------------------

RULES = ImageRules(
    max_bytes=30_000_000, min_side_px=300, max_side_px=6000, min_aspect=0.4, max_aspect=2.5
)


def image_refusal(image: ImageInput, label: str = "image") -> str:
    with pytest.raises(UserError) as caught:
        check_image(image, RULES, label)
    return caught.value.user_message.render()


def test_ordinary_image_is_accepted() -> None:
    check_image(IMAGE, RULES, "image")


@pytest.mark.parametrize(
    "content_type", ["image/jpeg", "image/png", "image/gif", "image/webp", "IMAGE/PNG"]
)
def test_each_accepted_content_type_passes(content_type: str) -> None:
    check_image(replace(IMAGE, content_type=content_type), RULES, "image")


def test_content_type_parameters_are_ignored() -> None:
    check_image(replace(IMAGE, content_type="image/jpeg; charset=binary"), RULES, "image")


def test_other_content_type_is_refused_naming_it_and_the_accepted_formats() -> None:
    message = image_refusal(replace(IMAGE, content_type="image/bmp", filename="cat.bmp"))

    assert "`image/bmp`" in message
    assert "Please attach a JPEG, PNG, GIF or WebP image" in message


@pytest.mark.parametrize("filename", ["cat.JPG", "cat.jpeg", "cat.png", "a.b.gif", "cat.webp"])
def test_without_content_type_the_extension_decides(filename: str) -> None:
    check_image(replace(IMAGE, content_type=None, filename=filename), RULES, "image")


@pytest.mark.parametrize("filename", ["cat.bmp", "cat", "png"])
def test_without_content_type_an_unknown_extension_is_refused(filename: str) -> None:
    message = image_refusal(replace(IMAGE, content_type=None, filename=filename))

    assert "is not a recognised image" in message


def test_refusal_names_the_attachment() -> None:
    message = image_refusal(replace(IMAGE, content_type="text/plain"), label="last_image")

    assert "`last_image`" in message


def test_image_of_exactly_the_size_limit_is_accepted() -> None:
    check_image(replace(IMAGE, size_bytes=RULES.max_bytes), RULES, "image")


def test_image_over_the_size_limit_is_refused_asking_for_a_smaller_one() -> None:
    message = image_refusal(replace(IMAGE, size_bytes=RULES.max_bytes + 1))

    assert "the limit is 28.6 MiB" in message
    assert "Please attach a smaller image" in message


@pytest.mark.parametrize(("width", "height"), [(None, 768), (1024, None), (0, 768)])
def test_image_without_dimensions_is_refused(width: int | None, height: int | None) -> None:
    message = image_refusal(replace(IMAGE, width=width, height=height))

    assert "has no readable dimensions" in message


@pytest.mark.parametrize(("width", "height"), [(300, 300), (300, 600), (6000, 6000), (6000, 3000)])
def test_sides_at_the_limits_are_accepted(width: int, height: int) -> None:
    check_image(replace(IMAGE, width=width, height=height), RULES, "image")


@pytest.mark.parametrize(("width", "height"), [(299, 400), (400, 299), (6001, 3000), (3000, 6001)])
def test_side_outside_the_limits_is_refused_asking_to_resize(width: int, height: int) -> None:
    message = image_refusal(replace(IMAGE, width=width, height=height))

    assert f"{width}×{height} px" in message
    assert "between 300 and 6000 px" in message
    assert "Please resize it" in message


@pytest.mark.parametrize(("width", "height"), [(400, 1000), (1000, 400), (600, 1500)])
def test_aspect_ratios_at_the_limits_are_accepted(width: int, height: int) -> None:
    check_image(replace(IMAGE, width=width, height=height), RULES, "image")


@pytest.mark.parametrize(("width", "height"), [(399, 1000), (1001, 400)])
def test_aspect_ratio_outside_the_limits_is_refused_asking_to_crop(width: int, height: int) -> None:
    message = image_refusal(replace(IMAGE, width=width, height=height))

    assert "ratios between 0.4 and 2.5" in message
    assert "Please crop it" in message


# check_image_bytes -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "start", [b"\xff\xd8\xff\xe0\x00\x10JFIF", b"\x89PNG\r\n\x1a\n\x00\x00", b"GIF89a\x01\x00"]
)
def test_image_bytes_of_an_accepted_format_pass(start: bytes) -> None:
    check_image_bytes(start.ljust(SNIFF_BYTES, b"\x00"), "image")  # a full head, as fetched


def test_empty_file_is_refused_as_empty() -> None:
    with pytest.raises(UserError) as caught:
        check_image_bytes(b"", "image")

    assert "`image` attachment is empty" in caught.value.user_message.render()


def test_image_shorter_than_any_real_image_is_refused_as_cut_off() -> None:
    with pytest.raises(UserError) as caught:
        check_image_bytes(b"\x89PNG\r\n\x1a\n\x00", "image")  # the whole file: 9 bytes

    assert "`image` attachment is cut off after 9 bytes" in caught.value.user_message.render()


def test_non_image_bytes_are_refused_naming_the_attachment() -> None:
    with pytest.raises(UserError) as caught:
        check_image_bytes(b"<!DOCTYPE html><html>", "last_image")

    message = caught.value.user_message.render()
    assert "`last_image` attachment does not contain image data" in message
    assert "Please attach a JPEG, PNG, GIF or WebP image" in message


# Options follow the model ------------------------------------------------------------------------


def model_refusal(request: AnimateRequest, model: VideoModel) -> str:
    with pytest.raises(UserError) as caught:
        validate(request, settings(), model)
    return caught.value.user_message.render()


@pytest.mark.parametrize(
    ("model", "duration_s", "allowed"),
    [
        (VEO_3_1_FAST, 5, "4, 6, 8 seconds"),
        (WAN_SPICY, 6, "5, 8 seconds"),
        (HAILUO_PRO, 6, "5 seconds"),
        (VIDU_Q3, 17, "1–16 seconds"),
    ],
)
def test_a_duration_the_model_does_not_make_is_refused_naming_what_it_makes(
    model: VideoModel, duration_s: int, allowed: str
) -> None:
    message = model_refusal(replace(REQUEST, duration_s=duration_s), model)

    assert f"**{model.id}**" in message
    assert allowed in message
    assert "Nothing was charged" in message


@pytest.mark.parametrize("model", [VEO_3_1_FAST, VEO_3, VIDU_Q3, GROK_IMAGINE, HAILUO_PRO])
def test_an_end_frame_is_refused_by_a_model_that_takes_none(model: VideoModel) -> None:
    message = model_refusal(replace(REQUEST, last_image=LAST_IMAGE), model)

    assert message == messages.model_lacks(model.id, "last_image").render()


def test_a_still_camera_is_refused_by_a_model_without_one_but_a_moving_one_is_fine() -> None:
    message = model_refusal(replace(REQUEST, camera_fixed=True), VEO_3_1_FAST)

    assert message == messages.model_lacks(VEO_3_1_FAST.id, "camera_fixed").render()
    moving = resolve_settings(replace(REQUEST, camera_fixed=False), settings(), VEO_3_1_FAST)
    assert moving.camera_fixed is None  # the model has no such switch: nothing is sent


@pytest.mark.parametrize("model", [VIDU_Q3, HAILUO_PRO, WAN_SPICY])
def test_an_aspect_ratio_is_refused_as_no_option_by_a_model_that_picks_its_own(
    model: VideoModel,
) -> None:
    message = model_refusal(replace(REQUEST, aspect_ratio="16:9"), model)

    assert message == messages.model_lacks(model.id, "aspect_ratio").render()
    assert resolve_settings(replace(REQUEST, aspect_ratio="auto"), settings(), model)


def test_a_seed_is_refused_by_a_model_that_takes_none() -> None:
    message = model_refusal(replace(REQUEST, seed=7), GROK_IMAGINE)

    assert message == messages.model_lacks(GROK_IMAGINE.id, "seed").render()
    assert resolve_settings(REQUEST, settings(), GROK_IMAGINE).seed is None


def test_sound_a_model_cannot_change_is_refused_saying_what_it_does() -> None:
    silent = model_refusal(replace(REQUEST, generate_audio=True), HAILUO_PRO)
    loud = model_refusal(replace(REQUEST, generate_audio=False), GROK_IMAGINE)

    assert silent == messages.model_fixed_audio(HAILUO_PRO.id, always=False).render()
    assert loud == messages.model_fixed_audio(GROK_IMAGINE.id, always=True).render()
    assert resolve_settings(REQUEST, settings(), GROK_IMAGINE).generate_audio is True


def test_a_resolution_the_model_does_not_make_is_refused_listing_its_own() -> None:
    message = model_refusal(replace(REQUEST, resolution="1080p"), WAN_SPICY)

    assert "480p, 720p" in message
    assert "**wan-2.2-spicy**" in message


def test_defaults_a_model_lacks_fall_back_to_its_own() -> None:
    # The bot's defaults (5 s, 720p, auto, no sound): Veo 3.1 Fast has neither 5 s nor auto.
    veo = resolve_settings(REQUEST, settings(), VEO_3_1_FAST)
    hailuo = resolve_settings(REQUEST, settings(), HAILUO_PRO)

    assert (veo.duration_s, veo.resolution, veo.aspect_ratio) == (8, "720p", "16:9")
    assert (hailuo.duration_s, hailuo.resolution, hailuo.aspect_ratio) == (5, "1080p", "auto")
    assert (hailuo.seed, hailuo.camera_fixed, hailuo.generate_audio) == (None, None, False)


def test_defaults_a_model_offers_are_the_bots() -> None:
    resolved = resolve_settings(REQUEST, settings(default_duration_s=6), VEO_3_1_FAST)

    assert resolved.duration_s == 6


@pytest.mark.parametrize("model", list(MODELS.values()), ids=list(MODELS))
def test_every_model_resolves_a_bare_request_into_a_body_it_accepts(model: VideoModel) -> None:
    validated = validate(REQUEST, settings(), model)

    assert validated.model == model.id
    body = model.request_body("a dog", IMAGE.url, None, validated.settings)
    assert body["image"] == IMAGE.url


# Variations and drafts --------------------------------------------------------------------------


def test_a_draft_runs_cheap_and_keeps_the_typed_options_for_its_final() -> None:
    request = replace(REQUEST, draft=True, resolution="1080p", duration_s=8, seed=42)

    validated = validate(request, settings(), SEEDANCE_1_5_PRO)

    assert validated.final_settings is not None
    final = validated.final_settings
    assert (final.resolution, final.duration_s, final.seed) == ("1080p", 8, 42)
    draft = validated.settings
    assert (draft.resolution, draft.duration_s, draft.generate_audio) == ("480p", 4, False)
    assert draft.seed == 42


def test_a_draft_asking_for_sound_is_refused() -> None:
    with pytest.raises(UserError) as refused:
        validate(replace(REQUEST, draft=True, generate_audio=True), settings(), SEEDANCE_1_5_PRO)

    assert refused.value.user_message == messages.DRAFT_WITH_AUDIO


def test_a_draft_of_several_variations_is_refused() -> None:
    with pytest.raises(UserError) as refused:
        validate(replace(REQUEST, draft=True, variations=2), settings(), SEEDANCE_1_5_PRO)

    assert refused.value.user_message == messages.DRAFT_WITH_VARIATIONS


def test_variations_are_counted_and_a_plain_request_is_one_and_no_draft() -> None:
    assert validate(replace(REQUEST, variations=4), settings(), SEEDANCE_1_5_PRO).variations == 4
    plain = validate(REQUEST, settings(), SEEDANCE_1_5_PRO)
    assert (plain.variations, plain.final_settings) == (1, None)
