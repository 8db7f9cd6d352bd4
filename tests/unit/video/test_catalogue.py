"""The known video models and the `VIBEDREAM_MODEL` setting that picks one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from bot.__main__ import main
from bot.settings import Settings
from bot.video.catalogue import (
    DEFAULT_MODEL,
    DURATION_BOUNDS_S,
    MODELS,
    SEED_BOUNDS,
    UnknownModelError,
    configured_model,
    model_by_id,
    offered_models,
)
from bot.video.seedance import SEEDANCE_1_5_PRO
from bot.video.veo import VEO_3_1_FAST


def settings(**overrides: Any) -> Settings:
    """Settings from arguments only (no .env file)."""
    return Settings(
        discord_token=SecretStr("x"),
        vibedream_api_key=SecretStr("y"),
        _env_file=None,
        **overrides,  # type: ignore[call-arg]
    )


def refusal(**overrides: Any) -> tuple[tuple[str, ...], str]:
    with pytest.raises(ValidationError) as caught:
        settings(**overrides)
    (error,) = caught.value.errors()
    return tuple(map(str, error["loc"])), error["msg"]


KNOWN = (
    "grok-imagine-video-i2v, i2v-pro, seedance-1.5-pro-i2v, veo3-i2v, veo3.1-fast, "
    "vidu-q3-i2v, wan-2.2-spicy"
)


def test_models_are_known_by_their_api_id() -> None:
    assert list(MODELS) == [
        "seedance-1.5-pro-i2v",
        "veo3.1-fast",
        "veo3-i2v",
        "vidu-q3-i2v",
        "grok-imagine-video-i2v",
        "i2v-pro",
        "wan-2.2-spicy",
    ]
    assert all(model.id == model_id for model_id, model in MODELS.items())
    assert model_by_id("seedance-1.5-pro-i2v") is SEEDANCE_1_5_PRO


def test_only_wan_spicy_has_relaxed_content_rules() -> None:
    assert [m.id for m in MODELS.values() if m.relaxed_content] == ["wan-2.2-spicy"]


def test_the_default_model_is_seedance_1_5_pro_and_a_known_one() -> None:
    assert DEFAULT_MODEL is SEEDANCE_1_5_PRO
    assert MODELS[DEFAULT_MODEL.id] is DEFAULT_MODEL


def test_an_unknown_id_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(UnknownModelError, match=r"'veo4'; known: grok-imagine-video-i2v, "):
        model_by_id("veo4")


def test_without_the_setting_the_default_model_is_used() -> None:
    config = settings()

    assert config.vibedream_model == "seedance-1.5-pro-i2v"
    assert configured_model(config) is SEEDANCE_1_5_PRO


def test_the_setting_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIBEDREAM_MODEL", "veo3.1-fast")

    assert configured_model(settings()) is VEO_3_1_FAST


def test_an_unknown_model_is_a_configuration_error_naming_the_known_ones() -> None:
    assert refusal(vibedream_model="seedance-2") == (
        ("vibedream_model",),
        f"Value error, unknown video model 'seedance-2'; known: {KNOWN}",
    )


def test_a_relaxed_content_model_cannot_be_the_bots_default() -> None:
    location, message = refusal(vibedream_model="wan-2.2-spicy")

    assert location == ("vibedream_model",)
    assert "relaxed content rules" in message


def test_every_model_is_offered_to_admins_by_default() -> None:
    assert offered_models(settings()) == tuple(MODELS.values())


def test_the_offered_models_come_from_the_setting_and_always_include_the_bots_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VIBEDREAM_MODELS", " veo3-i2v , i2v-pro")

    assert [m.id for m in offered_models(settings())] == [
        "seedance-1.5-pro-i2v",
        "veo3-i2v",
        "i2v-pro",
    ]


def test_an_empty_list_of_offered_models_means_all(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIBEDREAM_MODELS", "")

    assert offered_models(settings()) == tuple(MODELS.values())


def test_an_unknown_offered_model_is_a_configuration_error() -> None:
    location, message = refusal(vibedream_models="veo3-i2v,sora-2")

    assert location == ("vibedream_models",)
    assert "unknown video model 'sora-2'" in message


def test_the_catalogue_bounds_span_every_model() -> None:
    assert DURATION_BOUNDS_S == (1, 16)
    assert SEED_BOUNDS == (1, 1000)


# The defaults must be values some model offers (a model lacking one uses its own), refused in
# the words a Literal or a range gave before the model was a setting.


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"default_duration_s": 0}, "Input should be greater than or equal to 1"),
        ({"default_duration_s": 17}, "Input should be less than or equal to 16"),
        ({"default_resolution": "4k"}, "Input should be '480p', '720p', '1080p' or '540p'"),
        (
            {"default_aspect_ratio": "2:1"},
            "Input should be '16:9', '9:16', '1:1', '4:3', '3:4', '21:9', 'auto', '3:2' or '2:3'",
        ),
    ],
)
def test_a_default_no_model_offers_is_refused(overrides: dict[str, object], expected: str) -> None:
    assert refusal(**overrides) == ((next(iter(overrides)),), expected)


def test_defaults_the_model_offers_are_kept() -> None:
    config = settings(default_duration_s=12, default_resolution="1080p", default_aspect_ratio="1:1")

    assert (config.default_duration_s, config.default_resolution, config.default_aspect_ratio) == (
        12,
        "1080p",
        "1:1",
    )


def test_the_bot_refuses_to_start_with_an_unknown_model_in_one_line_without_secrets(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env file here
    monkeypatch.setenv("DISCORD_TOKEN", "discord-secret-token")
    monkeypatch.setenv("VIBEDREAM_API_KEY", "vibedream-secret-key")
    monkeypatch.setenv("VIBEDREAM_MODEL", "nope")

    with pytest.raises(SystemExit) as stopped:
        main()

    message = str(stopped.value.code)
    assert message == (
        "Configuration error (see .env.example): "
        f"VIBEDREAM_MODEL: Value error, unknown video model 'nope'; known: {KNOWN}"
    )
    assert "secret" not in message
