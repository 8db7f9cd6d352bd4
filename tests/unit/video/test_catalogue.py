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
    MODELS,
    UnknownModelError,
    configured_model,
    model_by_id,
)
from bot.video.seedance import SEEDANCE_1_5_PRO


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


def test_models_are_known_by_their_api_id() -> None:
    assert MODELS == {"seedance-1.5-pro-i2v": SEEDANCE_1_5_PRO}
    assert model_by_id("seedance-1.5-pro-i2v") is SEEDANCE_1_5_PRO


def test_the_default_model_is_seedance_1_5_pro_and_a_known_one() -> None:
    assert DEFAULT_MODEL is SEEDANCE_1_5_PRO
    assert MODELS[DEFAULT_MODEL.id] is DEFAULT_MODEL


def test_an_unknown_id_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(UnknownModelError, match=r"'veo3-i2v'; known: seedance-1\.5-pro-i2v"):
        model_by_id("veo3-i2v")


def test_without_the_setting_the_default_model_is_used() -> None:
    config = settings()

    assert config.vibedream_model == "seedance-1.5-pro-i2v"
    assert configured_model(config) is SEEDANCE_1_5_PRO


def test_the_setting_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIBEDREAM_MODEL", "seedance-1.5-pro-i2v")

    assert configured_model(settings()) is SEEDANCE_1_5_PRO


def test_an_unknown_model_is_a_configuration_error_naming_the_known_ones() -> None:
    assert refusal(vibedream_model="seedance-2") == (
        ("vibedream_model",),
        "Value error, unknown video model 'seedance-2'; known: seedance-1.5-pro-i2v",
    )


# The defaults must be values the model offers, refused in the words a Literal or a range
# gave before the model was a setting.


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"default_duration_s": 3}, "Input should be greater than or equal to 4"),
        ({"default_duration_s": 13}, "Input should be less than or equal to 12"),
        ({"default_resolution": "4k"}, "Input should be '480p', '720p' or '1080p'"),
        (
            {"default_aspect_ratio": "2:1"},
            "Input should be '16:9', '9:16', '1:1', '4:3', '3:4', '21:9' or 'auto'",
        ),
    ],
)
def test_a_default_the_model_does_not_offer_is_refused(
    overrides: dict[str, object], expected: str
) -> None:
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
        "VIBEDREAM_MODEL: Value error, unknown video model 'nope'; known: seedance-1.5-pro-i2v"
    )
    assert "secret" not in message
