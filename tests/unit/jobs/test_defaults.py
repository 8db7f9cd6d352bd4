"""Saved defaults: the precedence `resolve_settings` applies at every level (typed > member >
server > bot > model), the server's locks, and the checks on a default before it is saved."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import SecretStr

from bot.errors import UserError
from bot.jobs import request_messages as messages
from bot.jobs.defaults import (
    DefaultLayers,
    parse_default,
    parse_lock,
    parse_variations,
    variations,
)
from bot.jobs.model import NO_LOCKS, OptionDefaults, OptionLocks
from bot.jobs.request import AnimateRequest, resolve_settings
from bot.settings import Settings
from bot.video.hailuo import HAILUO_PRO
from bot.video.seedance import SEEDANCE_1_5_PRO
from bot.video.veo import VEO_3_1_FAST
from tests.factories import IMAGE

BOT = Settings(
    discord_token=SecretStr("x"),
    vibedream_api_key=SecretStr("y"),
    _env_file=None,  # type: ignore[call-arg]
)  # DEFAULT_DURATION_S=5, DEFAULT_RESOLUTION=720p, aspect auto, camera moving, no audio
NOTHING_TYPED = AnimateRequest(prompt="The cat blinks", image=IMAGE)
MEMBER = OptionDefaults(
    duration_s=8, resolution="1080p", aspect_ratio="9:16", camera_fixed=True, generate_audio=True
)
SERVER = OptionDefaults(
    duration_s=6, resolution="480p", aspect_ratio="1:1", camera_fixed=False, generate_audio=False
)


def resolved(
    typed: AnimateRequest = NOTHING_TYPED, model: Any = SEEDANCE_1_5_PRO, **layers: Any
) -> tuple[object, ...]:
    s = resolve_settings(typed, BOT, model, DefaultLayers(**layers))
    return (s.duration_s, s.resolution, s.aspect_ratio, s.camera_fixed, s.generate_audio)


def test_with_no_saved_defaults_the_bot_settings_decide() -> None:
    assert resolved() == (5, "720p", "auto", False, False)


def test_the_server_default_is_above_the_bot_setting() -> None:
    assert resolved(server=SERVER) == (6, "480p", "1:1", False, False)


def test_the_member_default_is_above_the_server_default() -> None:
    assert resolved(member=MEMBER, server=SERVER) == (8, "1080p", "9:16", True, True)


def test_a_typed_option_is_above_every_default() -> None:
    typed = AnimateRequest(
        prompt="p",
        image=IMAGE,
        duration_s=4,
        resolution="720p",
        aspect_ratio="16:9",
        camera_fixed=False,
        generate_audio=False,
    )

    assert resolved(typed, member=MEMBER, server=SERVER) == (4, "720p", "16:9", False, False)


def test_each_option_falls_through_to_the_first_level_that_sets_it() -> None:
    member = OptionDefaults(duration_s=10)
    server = OptionDefaults(resolution="1080p", generate_audio=True)

    assert resolved(member=member, server=server) == (10, "1080p", "auto", False, True)


def test_a_level_the_model_does_not_make_is_passed_over() -> None:
    # Saved on Seedance; the server now runs Veo 3.1 Fast (4/6/8 s, 16:9 or 9:16, 720p/1080p).
    member = OptionDefaults(duration_s=10, aspect_ratio="1:1", camera_fixed=True)
    server = OptionDefaults(duration_s=6)

    s = resolve_settings(NOTHING_TYPED, BOT, VEO_3_1_FAST, DefaultLayers(member, server))

    assert (s.duration_s, s.aspect_ratio, s.camera_fixed) == (6, "16:9", None)


def test_a_model_that_decides_the_sound_ignores_saved_audio_defaults() -> None:
    s = resolve_settings(NOTHING_TYPED, BOT, HAILUO_PRO, DefaultLayers(member=MEMBER))

    assert (s.duration_s, s.resolution, s.generate_audio) == (5, "1080p", False)


def test_a_default_above_the_lock_is_lowered_to_the_largest_value_within_it() -> None:
    locks = OptionLocks(max_duration_s=7, max_resolution="720p")

    assert resolved(member=MEMBER, locks=locks)[:2] == (7, "720p")
    assert resolved(server=SERVER, locks=locks)[:2] == (6, "480p")  # within: untouched


def test_the_lock_lowers_the_bot_setting_too() -> None:
    assert resolved(locks=OptionLocks(max_duration_s=4, max_resolution="480p"))[:2] == (4, "480p")


def test_a_typed_value_above_the_lock_is_refused_naming_the_lock() -> None:
    typed = AnimateRequest(prompt="p", image=IMAGE, resolution="1080p")
    locks = OptionLocks(max_resolution="720p")

    with pytest.raises(UserError) as caught:
        resolved(typed, locks=locks)

    assert caught.value.user_message == messages.over_lock("resolution", "1080p", "720p")


def test_a_lock_the_model_has_nothing_within_refuses_the_job() -> None:
    with pytest.raises(UserError) as caught:
        resolved(model=HAILUO_PRO, locks=OptionLocks(max_resolution="720p"))

    assert caught.value.user_message == messages.locked_out(HAILUO_PRO.id, "resolution", "720p")


def test_variations_typed_over_saved_over_one() -> None:
    assert variations(None, DefaultLayers()) == 1
    assert variations(None, DefaultLayers(variations=3)) == 3
    assert variations(2, DefaultLayers(variations=3)) == 2


# Checking a default before it is saved ----------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "saved"),
    [
        ("duration", "8", 8),
        ("resolution", "1080p", "1080p"),
        ("aspect_ratio", "9:16", "9:16"),
        ("camera_fixed", "on", True),
        ("generate_audio", "off", False),
        ("duration", "default", None),
    ],
)
def test_a_default_the_model_makes_is_kept(name: Any, value: str, saved: object) -> None:
    assert parse_default(name, value, SEEDANCE_1_5_PRO, NO_LOCKS) == saved


@pytest.mark.parametrize(
    ("name", "value", "refusal"),
    [
        ("duration", "5", messages.model_value(VEO_3_1_FAST.id, "duration", "5", "4, 6, 8")),
        (
            "resolution",
            "480p",
            messages.model_value(VEO_3_1_FAST.id, "resolution", "480p", "720p, 1080p"),
        ),
        ("camera_fixed", "on", messages.model_lacks(VEO_3_1_FAST.id, "camera_fixed")),
        ("generate_audio", "maybe", messages.on_or_off()),
    ],
)
def test_a_default_the_model_does_not_make_is_refused_naming_what_it_takes(
    name: Any, value: str, refusal: object
) -> None:
    with pytest.raises(UserError) as caught:
        parse_default(name, value, VEO_3_1_FAST, NO_LOCKS)

    assert caught.value.user_message == refusal


def test_a_default_above_the_lock_is_refused_when_saved() -> None:
    with pytest.raises(UserError) as caught:
        parse_default("duration", "10", SEEDANCE_1_5_PRO, OptionLocks(max_duration_s=8))

    assert caught.value.user_message == messages.over_lock("duration", 10, 8)


def test_a_lock_is_a_value_the_model_makes_or_none() -> None:
    assert parse_lock("duration", "8", SEEDANCE_1_5_PRO) == 8
    assert parse_lock("resolution", "720p", SEEDANCE_1_5_PRO) == "720p"
    assert parse_lock("resolution", "none", SEEDANCE_1_5_PRO) is None
    with pytest.raises(UserError):
        parse_lock("duration", "7", VEO_3_1_FAST)


@pytest.mark.parametrize("value", ["0", "5", "two", "-1", "²"])
def test_variations_outside_one_to_four_are_refused(value: str) -> None:
    with pytest.raises(UserError) as caught:
        parse_variations(value)

    assert caught.value.user_message == messages.variations_range(4)


def test_variations_one_to_four_or_default_are_kept() -> None:
    assert [parse_variations(v) for v in ("1", "4", "default")] == [1, 4, None]
