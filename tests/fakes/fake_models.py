"""The image-to-video models the fake video API serves, each with its own body schema, as
vibedream documents them (`shared/reference/vibedream-models.md`; Seedance 1.5 Pro's whole
page in `shared/seeds/seedance-1.5-pro-i2v-api.txt`).

Written out here from the documents, not taken from the bot's declarations, so a test against
the fake checks the bot against the documents. Where vibedream's page gives only an example
body, the ranges are those the reference note gives from the same model on other hosts.

Undocumented: every model is strict in the same way as the original fake: unknown keys,
`null` for optional fields, a float for an integer field and a blank prompt are refused.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from urllib.parse import urlsplit

Check = Callable[[object], bool]


def is_int(value: object) -> bool:
    """An integer, and not JSON `true`/`false` (a Python bool is an int subclass)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_http_url(value: object) -> bool:
    """A public http(s) URL."""
    if not isinstance(value, str):
        return False
    parts = urlsplit(value)
    return parts.scheme in {"http", "https"} and bool(parts.hostname)


def _int_in(low: int, high: int) -> tuple[Check, str]:
    return (
        lambda v: is_int(v) and low <= v <= high,  # type: ignore[operator]
        f"an integer between {low} and {high}",
    )


def _one_of(*values: object) -> tuple[Check, str]:
    shown = ", ".join(str(v) for v in values)
    # `True == 1` in Python: compare types too, so `1` is not a string choice and so on.
    return (lambda v: any(type(v) is type(c) and v == c for c in values), f"one of {shown}")


def _bool() -> tuple[Check, str]:
    return (lambda v: isinstance(v, bool), "a boolean")


def _text() -> tuple[Check, str]:
    return (lambda v: isinstance(v, str), "a string")


def _url() -> tuple[Check, str]:
    return (is_http_url, "a public http(s) URL")


@dataclass(frozen=True)
class FakeModel:
    """One model: its id and name, its parameters (checks by name), the required ones, and
    what its example submit answer says it costs."""

    id: str
    name: str
    params: Mapping[str, tuple[Check, str]]
    cost_cents: int
    required: frozenset[str] = field(default=frozenset({"prompt", "image"}))

    def validate(self, body: object) -> list[str]:
        """Every violation of this model's schema in a submit body (empty when valid)."""
        if not isinstance(body, dict):
            return ["Request body must be a JSON object"]
        errors = [f"Unknown parameter: {key}" for key in sorted(set(body) - set(self.params))]
        for name in sorted(self.required - set(body)):
            errors.append(f"{name} is required")
        if "prompt" in body and (not isinstance(body["prompt"], str) or not body["prompt"].strip()):
            errors.append("prompt must be a non-empty string")
        for name, (check, expected) in self.params.items():
            if name in body and name != "prompt" and not check(body[name]):
                errors.append(f"{name} must be {expected}")
        return errors


_PROMPT = _text()
MODELS: Mapping[str, FakeModel] = MappingProxyType(
    {
        m.id: m
        for m in (
            FakeModel(
                "seedance-1.5-pro-i2v",
                "Seedance 1.5 Pro Image to Video",
                {
                    "prompt": _PROMPT,
                    "image": _url(),
                    "last_image": _url(),
                    "duration": _int_in(4, 12),
                    "resolution": _one_of("480p", "720p", "1080p"),
                    "aspect_ratio": _one_of("16:9", "9:16", "1:1", "4:3", "3:4", "21:9", "auto"),
                    "camera_fixed": _bool(),
                    "seed": _int_in(-1, 1000),
                    "generate_audio": _bool(),
                },
                cost_cents=29,
            ),
            FakeModel(
                "veo3.1-fast",
                "Veo 3.1 Fast",
                {
                    "image": _url(),
                    "prompt": _PROMPT,
                    "negative_prompt": _text(),
                    "aspect_ratio": _one_of("16:9", "9:16"),
                    "duration": _one_of("4", "6", "8"),  # a string in vibedream's example
                    "resolution": _one_of("720p", "1080p"),
                    "generate_audio": _bool(),
                    "seed": _int_in(0, 2**32 - 1),
                },
                cost_cents=88,
            ),
            FakeModel(
                "veo3-i2v",
                "Google Veo3",
                {
                    "prompt": _PROMPT,
                    "image": _url(),
                    "aspect_ratio": _one_of("16:9", "9:16"),
                    "duration": _int_in(1, 8),
                    "resolution": _one_of("720p", "1080p"),
                    "generate_audio": _bool(),
                    "negative_prompt": _text(),
                    "seed": _int_in(0, 2**32 - 1),
                },
                cost_cents=132,
            ),
            FakeModel(
                "vidu-q3-i2v",
                "Vidu Q3 Image-to-Video",
                {
                    "prompt": _PROMPT,
                    "image": _url(),
                    "resolution": _one_of("540p", "720p", "1080p"),
                    "duration": _int_in(1, 16),
                    "movement_amplitude": _one_of("auto", "small", "medium", "large"),
                    "generate_audio": _bool(),
                    "bgm": _bool(),
                    "seed": _int_in(-(2**31), 2**31 - 1),
                },
                cost_cents=75,
            ),
            FakeModel(
                "grok-imagine-video-i2v",
                "Grok Imagine Video",
                {
                    "image": _url(),
                    "prompt": _PROMPT,
                    "duration": _int_in(1, 15),
                    "aspect_ratio": _one_of("16:9", "9:16", "1:1", "4:3", "3:4", "3:2", "2:3"),
                    "resolution": _one_of("480p", "720p"),
                },
                cost_cents=31,
            ),
            FakeModel(
                "i2v-pro",
                "MiniMax Hailuo 2.3 Pro",
                {"prompt": _PROMPT, "image": _url(), "enable_prompt_expansion": _bool()},
                cost_cents=54,
            ),
            FakeModel(
                "wan-2.2-spicy",
                "WAN 2.2 Spicy",
                {
                    "image": _url(),
                    "prompt": _PROMPT,
                    "resolution": _one_of("480p", "720p"),
                    "duration": _one_of(5, 8),
                    "seed": _int_in(-1, 2**31 - 1),
                    "enable_safety_checker": _bool(),
                },
                cost_cents=17,
            ),
        )
    }
)
