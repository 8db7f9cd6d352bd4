"""Saved defaults: what fills an option a member leaves out, and which saved value may stand.

Precedence, for every option of a new job (`bot.jobs.request.resolve_settings` applies it):
the value typed > the member's saved default on this server > the server's default > the
bot's setting (`DEFAULT_*`) > the model's own. A level whose value the server's video model
does not make is passed over (the model may have changed since it was saved). A server's locks
bound the result: a typed value above one is refused; a default above one is lowered to the
largest value the model makes within it (the post and the progress message show what was used).

Pure: no I/O. The stored levels are `OptionDefaults` (`bot.jobs.model`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal, TypeVar, get_args

from bot.errors import UserError
from bot.jobs import request_messages as messages
from bot.jobs.model import MAX_VARIATIONS, NO_DEFAULTS, NO_LOCKS, OptionDefaults, OptionLocks
from bot.video.model import VideoModel

T = TypeVar("T")
#: A duration (seconds) or a resolution: the two options a server may lock.
V = TypeVar("V", int, str)

#: The options a member or a server may give a default for.
DefaultName = Literal["duration", "resolution", "aspect_ratio", "camera_fixed", "generate_audio"]
DEFAULT_NAMES: tuple[DefaultName, ...] = get_args(DefaultName)
#: The options a server may lock a maximum of.
LockName = Literal["duration", "resolution"]
LOCK_NAMES: tuple[LockName, ...] = get_args(LockName)


@dataclass(frozen=True, slots=True)
class DefaultLayers:
    """The levels between what was typed and the bot's own settings, and the server's locks."""

    #: The member's saved defaults on this server (`/animate-settings`).
    member: OptionDefaults = NO_DEFAULTS
    #: The server's defaults (`/animate-admin defaults`).
    server: OptionDefaults = NO_DEFAULTS
    locks: OptionLocks = NO_LOCKS
    #: The member's saved number of variations (None: none saved). The `variations` option,
    #: when left out, takes this, else 1 (see `variations`).
    variations: int | None = None


NO_LAYERS = DefaultLayers()


def variations(typed: int | None, layers: DefaultLayers) -> int:
    """How many clips a job makes: typed > the member's saved default > 1."""
    if typed is not None:
        return typed
    return layers.variations if layers.variations is not None else 1


def first_offered(candidates: Sequence[T | None], offered: Sequence[T], model_default: T) -> T:
    """The first candidate the model makes (the levels in precedence order), else its own."""
    for value in candidates:
        if value is not None and value in offered:
            return value
    return model_default


def first_set(*candidates: bool | None) -> bool | None:
    """The first level that says yes or no."""
    return next((value for value in candidates if value is not None), None)


def rank(value: int | str) -> int:
    """How a duration or a resolution compares with a lock: seconds, or a resolution's
    height in pixels ("720p" -> 720)."""
    if isinstance(value, int):
        return value
    digits = value.lower().removesuffix("p")
    return int(digits) if digits.isdigit() else 0


def within_lock(value: V, offered: Sequence[V], lock: V | None, name: LockName, model: str) -> V:
    """A default lowered to the lock: the largest value the model makes within it. Raises
    UserError when the model makes nothing within it."""
    if allowed_under(value, lock):
        return value
    allowed = [v for v in offered if allowed_under(v, lock)]
    if not allowed:
        raise UserError(messages.locked_out(model, name, lock))
    return max(allowed, key=rank)


def check_typed_lock(value: V, lock: V | None, name: LockName) -> None:
    """Refuse a typed value above the server's lock."""
    if not allowed_under(value, lock):
        raise UserError(messages.over_lock(name, value, lock))


def allowed_under(value: int | str, lock: int | str | None) -> bool:
    """Whether a value is within the server's lock (also: which the options suggest)."""
    return lock is None or rank(value) <= rank(lock)


# Checking a default before it is saved ------------------------------------------------------------

#: What a form or an admin gives to clear a saved default ("follow the next level").
CLEAR = "default"


def parse_default(
    name: DefaultName, value: str, model: VideoModel, locks: OptionLocks
) -> int | str | bool | None:
    """A default as typed or chosen (`CLEAR` clears it), checked against what the server's
    model makes and the server's locks. Raises UserError naming what it takes."""
    value = value.strip()
    if value == CLEAR:
        return None
    offered = model.options
    if name == "duration":
        allowed = [str(d) for d in offered.durations_s]
        if value not in allowed:
            raise UserError(messages.model_value(model.id, name, value, ", ".join(allowed)))
        check_typed_lock(int(value), locks.max_duration_s, "duration")
        return int(value)
    if name == "resolution":
        _check_choice(model, name, value, offered.resolutions)
        check_typed_lock(value, locks.max_resolution, "resolution")
        return value
    if name == "aspect_ratio":
        _check_choice(model, name, value, offered.aspect_ratios)
        return value
    flag = _flag(value)
    if name == "camera_fixed" and not offered.camera_fixed:
        raise UserError(messages.model_lacks(model.id, name))
    if name == "generate_audio" and not offered.audio:
        raise UserError(messages.model_fixed_audio(model.id, offered.defaults.generate_audio))
    return flag


def parse_lock(name: LockName, value: str, model: VideoModel) -> int | str | None:
    """A locked maximum as an admin typed it (`none` lifts it), one the model makes."""
    value = value.strip().lower()
    if value in ("none", CLEAR):
        return None
    if name == "duration":
        return int(parse_default("duration", value, model, NO_LOCKS) or 0)
    return str(parse_default("resolution", value, model, NO_LOCKS))


def parse_variations(value: str) -> int | None:
    """A saved number of variations, 1 to `MAX_VARIATIONS` (`CLEAR` clears it)."""
    value = value.strip()
    if value == CLEAR:
        return None
    if not value.isascii() or not value.isdigit() or not 1 <= int(value) <= MAX_VARIATIONS:
        raise UserError(messages.variations_range(MAX_VARIATIONS))
    return int(value)


def _check_choice(model: VideoModel, name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        if allowed == ("auto",):  # the model picks it itself: it has no such option
            raise UserError(messages.model_lacks(model.id, name))
        raise UserError(messages.model_value(model.id, name, value, ", ".join(allowed)))


def _flag(value: str) -> bool:
    if value in ("on", "true"):
        return True
    if value in ("off", "false"):
        return False
    raise UserError(messages.on_or_off())


def with_default(defaults: OptionDefaults, name: DefaultName, value: object) -> OptionDefaults:
    """`defaults` with one option's default replaced (None clears it)."""
    field = "duration_s" if name == "duration" else name
    changes: dict[str, Any] = {field: value}
    return replace(defaults, **changes)
