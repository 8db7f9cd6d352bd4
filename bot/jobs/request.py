"""Checks on /animate input that cost nothing: they run before any download or API call."""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TypeVar

from bot.errors import UserError
from bot.i18n.text import Text
from bot.jobs import request_messages as messages
from bot.jobs.defaults import (
    NO_LAYERS,
    DefaultLayers,
    check_typed_lock,
    first_offered,
    first_set,
    within_lock,
)
from bot.jobs.defaults import variations as variations_wanted
from bot.jobs.model import MAX_VARIATIONS, GenerationSettings, ImageInput
from bot.media.files import IMAGE_CONTENT_TYPES, SNIFF_BYTES, sniff_image
from bot.settings import Settings
from bot.video.model import VideoModel

T = TypeVar("T")

#: The image types the API takes, by file extension (for a file that declares no type).
IMAGE_TYPES_BY_EXTENSION = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".gif": "image/gif",
    ".webp": "image/webp",
}


@dataclass(frozen=True, slots=True)
class AnimateRequest:
    """/animate as the user filled it in; None means "use the default"."""

    prompt: str
    image: ImageInput
    last_image: ImageInput | None = None
    duration_s: int | None = None
    resolution: str | None = None
    aspect_ratio: str | None = None
    camera_fixed: bool | None = None
    seed: int | None = None
    generate_audio: bool | None = None
    #: How many clips to make, each with its own seed (None: one).
    variations: int | None = None
    #: A cheap preview first; the options given are then the Render final's.
    draft: bool = False


@dataclass(frozen=True, slots=True)
class ValidatedRequest:
    """A request that passed every check that needs no I/O, with defaults applied."""

    prompt: str
    image: ImageInput
    last_image: ImageInput | None
    #: The video model it was checked against (its id), which makes the clip.
    model: str
    settings: GenerationSettings
    #: How many clips (variations) to make from it, each a job of its own.
    variations: int = 1
    #: A draft's: the settings its Render final will be made with (None: not a draft).
    final_settings: GenerationSettings | None = None
    #: The member typed the seed: variations then take seed, seed+1, … (how it was typed, not
    #: what the request is: left out of comparisons)
    seed_typed: bool = field(default=False, compare=False)


@dataclass(frozen=True, slots=True)
class ImageRules:
    """What the model accepts as an input image."""

    max_bytes: int
    min_side_px: int
    max_side_px: int
    min_aspect: float
    max_aspect: float

    @classmethod
    def from_settings(cls, settings: Settings) -> ImageRules:
        """Read the limits from settings."""
        return cls(
            max_bytes=settings.image_max_bytes,
            min_side_px=settings.image_min_side_px,
            max_side_px=settings.image_max_side_px,
            min_aspect=settings.image_min_aspect,
            max_aspect=settings.image_max_aspect,
        )


def validate(
    request: AnimateRequest,
    settings: Settings,
    model: VideoModel,
    layers: DefaultLayers = NO_LAYERS,
) -> ValidatedRequest:
    """Check a request against the model's and the bot's limits, and fill what was left out
    from the member's, the server's and the bot's defaults (`layers`); raises UserError."""
    rules = ImageRules.from_settings(settings)
    prompt = clean_prompt(request.prompt, settings.prompt_max_chars)
    check_image(request.image, rules, "image")
    if request.last_image is not None:
        check_end_frame(model, has_end_frame=True)
        check_image(request.last_image, rules, "last_image")
    # A draft is one clip: a saved default of several variations does not make it several.
    count = check_variations(
        request.variations if request.draft else variations_wanted(request.variations, layers)
    )
    job_settings = resolve_settings(request, settings, model, layers)
    final: GenerationSettings | None = None
    if request.draft:
        check_draft(request, count)
        final, job_settings = job_settings, draft_settings(job_settings, model)
    return ValidatedRequest(
        prompt=prompt,
        image=request.image,
        last_image=request.last_image,
        model=model.id,
        settings=job_settings,
        variations=count,
        final_settings=final,
        seed_typed=request.seed is not None,
    )


def check_variations(variations: int | None) -> int:
    """How many clips a request asks for: 1 to `MAX_VARIATIONS` (a server's own maximum is
    checked at admission). Raises UserError."""
    count = 1 if variations is None else variations
    if not 1 <= count <= MAX_VARIATIONS:
        raise UserError(messages.variations_out_of_range(count, MAX_VARIATIONS))
    return count


def check_draft(request: AnimateRequest, count: int) -> None:
    """Refuse options a draft contradicts: sound (a draft is silent) and several variations
    (a draft is one preview whose Render final makes the clip)."""
    if request.generate_audio:
        raise UserError(messages.DRAFT_WITH_AUDIO)
    if count > 1:
        raise UserError(messages.DRAFT_WITH_VARIATIONS)


def draft_settings(final: GenerationSettings, model: VideoModel) -> GenerationSettings:
    """A cheap preview of `final` on `model`, from the options the model declares: its
    smallest resolution (480p where offered), its shortest duration, no sound where it can be
    left out; the same seed, shape and camera, so the final follows the preview."""
    offered = model.options
    audio = False if offered.audio else offered.defaults.generate_audio
    return replace(
        final,
        duration_s=min(offered.durations_s),
        resolution=_smallest(offered.resolutions),
        generate_audio=audio,
    )


#: The resolution a draft asks for when the model offers it.
DRAFT_RESOLUTION = "480p"


def _smallest(resolutions: tuple[str, ...]) -> str:
    if DRAFT_RESOLUTION in resolutions:
        return DRAFT_RESOLUTION

    def height(value: str) -> int:
        digits = "".join(c for c in value if c.isdigit())
        return int(digits) if digits else 1 << 30

    return min(resolutions, key=height)


def resolve_settings(
    r: AnimateRequest,
    defaults: Settings,
    model: VideoModel,
    layers: DefaultLayers = NO_LAYERS,
) -> GenerationSettings:
    """The one place a job's options are decided. Check every value the member typed against
    what `model` offers and the server's locks (a refusal names what it takes), and fill in
    the rest by precedence: the member's saved default > the server's default > the bot's
    setting > the model's own, passing over a level the model does not make, and lowering a
    default above a lock to it (`bot.jobs.defaults`); a random seed when none is given."""
    offered = model.options
    member, server, locks = layers.member, layers.server, layers.locks
    if r.duration_s is None:
        duration = first_offered(
            (member.duration_s, server.duration_s, defaults.default_duration_s),
            offered.durations_s,
            offered.defaults.duration_s,
        )
        duration = within_lock(
            duration, offered.durations_s, locks.max_duration_s, "duration", model.id
        )
    elif r.duration_s in offered.durations_s:
        check_typed_lock(r.duration_s, locks.max_duration_s, "duration")
        duration = r.duration_s
    else:
        allowed = seconds_allowed(offered.durations_s)
        raise UserError(messages.model_value(model.id, "duration", r.duration_s, allowed))
    resolution = _choice(
        model,
        "resolution",
        r.resolution,
        (member.resolution, server.resolution, defaults.default_resolution),
        offered.resolutions,
    )
    if r.resolution is None:
        resolution = within_lock(
            resolution, offered.resolutions, locks.max_resolution, "resolution", model.id
        )
    else:
        check_typed_lock(resolution, locks.max_resolution, "resolution")
    return GenerationSettings(
        duration_s=duration,
        resolution=resolution,
        aspect_ratio=_choice(
            model,
            "aspect_ratio",
            r.aspect_ratio,
            (member.aspect_ratio, server.aspect_ratio, defaults.default_aspect_ratio),
            offered.aspect_ratios,
        ),
        camera_fixed=_camera(r, defaults, model, layers),
        seed=_seed(r, model),
        generate_audio=_audio(r, defaults, model, layers),
    )


def default_duration_s(defaults: Settings, model: VideoModel) -> int:
    """The length a job on `model` gets when the member gives none."""
    offered = model.options
    return _default(defaults.default_duration_s, offered.durations_s, offered.defaults.duration_s)


def check_end_frame(model: VideoModel, has_end_frame: bool) -> None:
    """Refuse an end frame (`last_image`, a Loop) the model cannot take."""
    if has_end_frame and not model.options.end_frame:
        raise UserError(messages.model_lacks(model.id, "last_image"))


#: The one choice of a model that decides an option itself (say, the aspect ratio from the image).
_ONLY_ITS_OWN = "auto"


def _default(bot_default: T, offered: Sequence[T], model_default: T) -> T:
    return bot_default if bot_default in offered else model_default


def _choice(
    model: VideoModel,
    name: str,
    value: str | None,
    levels: tuple[str | None, ...],
    allowed: tuple[str, ...],
) -> str:
    """`value` if the model offers it; when left out, the first level the model offers."""
    if value is None:
        model_default = str(getattr(model.options.defaults, name))
        return first_offered(levels, allowed, model_default)
    if value not in allowed:
        if allowed == (_ONLY_ITS_OWN,):  # the model picks it itself: it has no such option
            raise UserError(messages.model_lacks(model.id, name))
        raise UserError(messages.model_value(model.id, name, value, ", ".join(allowed)))
    return value


def _camera(
    r: AnimateRequest, defaults: Settings, model: VideoModel, layers: DefaultLayers
) -> bool | None:
    if not model.options.camera_fixed:
        if r.camera_fixed:  # asking for a still camera from a model that cannot hold one
            raise UserError(messages.model_lacks(model.id, "camera_fixed"))
        return None  # saved defaults do not apply to an option the model lacks
    return first_set(
        r.camera_fixed,
        layers.member.camera_fixed,
        layers.server.camera_fixed,
        defaults.default_camera_fixed,
    )


def _seed(r: AnimateRequest, model: VideoModel) -> int | None:
    seeds = model.options.seeds
    if seeds is None:
        if r.seed is not None:
            raise UserError(messages.model_lacks(model.id, "seed"))
        return None
    if r.seed is None:
        return random.choice(seeds)
    if r.seed not in seeds:
        allowed = f"{seeds[0]}–{seeds[-1]}"
        raise UserError(messages.model_value(model.id, "seed", r.seed, allowed))
    return r.seed


def _audio(r: AnimateRequest, defaults: Settings, model: VideoModel, layers: DefaultLayers) -> bool:
    fixed = model.options.defaults.generate_audio
    if not model.options.audio:
        if r.generate_audio is not None and r.generate_audio != fixed:
            raise UserError(messages.model_fixed_audio(model.id, fixed))
        return fixed  # the model decides: saved defaults do not apply
    chosen = first_set(
        r.generate_audio,
        layers.member.generate_audio,
        layers.server.generate_audio,
        defaults.default_generate_audio,
    )
    return bool(chosen)


def parse_duration(text: str, model: VideoModel) -> int | None:
    """A duration typed into a form: None when left empty, else whole seconds (the range is
    checked with every other setting). Raises UserError for anything that is not a number."""
    text = text.strip().removesuffix("s").strip()
    if not text:
        return None
    if not text.isascii() or not text.isdigit():
        allowed = seconds_allowed(model.options.durations_s)
        raise UserError(messages.duration_not_a_number(allowed))
    return int(text)


def seconds_allowed(durations_s: Sequence[int]) -> Text:
    """The clip lengths a model offers: a range for a run of lengths, else each one."""
    low, high = durations_s[0], durations_s[-1]
    if len(durations_s) == high - low + 1 and len(durations_s) > 2:
        return messages.seconds_range(low, high)
    return messages.seconds_list(", ".join(str(d) for d in durations_s))


def clean_prompt(prompt: str, max_chars: int) -> str:
    """Return the prompt without surrounding whitespace, or raise if empty or too long."""
    text = prompt.strip()
    # Zero-width and other format characters show nothing: a prompt of only those is empty.
    if not any(unicodedata.category(c) != "Cf" and not c.isspace() for c in text):
        raise UserError(messages.PROMPT_EMPTY)
    if len(text) > max_chars:
        raise UserError(messages.prompt_too_long(len(text), max_chars))
    return text


def check_image(image: ImageInput, rules: ImageRules, label: str) -> None:
    """Raise UserError if Discord's description of the attachment rules it out."""
    declared = (image.content_type or "").split(";")[0].strip().lower()
    if not declared:
        declared = IMAGE_TYPES_BY_EXTENSION.get(_extension(image.filename), "")
    if declared not in IMAGE_CONTENT_TYPES:
        kind = messages.declared_type(declared) if declared else messages.NOT_RECOGNISED
        raise UserError(messages.not_an_image(label, kind))
    if image.size_bytes > rules.max_bytes:
        raise UserError(messages.image_too_big(label, image.size_bytes, rules.max_bytes))
    if not image.width or not image.height:
        raise UserError(messages.not_an_image(label, messages.NO_DIMENSIONS))
    w, h = image.width, image.height
    if not all(rules.min_side_px <= side <= rules.max_side_px for side in (w, h)):
        raise UserError(
            messages.image_side_out_of_range(label, w, h, rules.min_side_px, rules.max_side_px)
        )
    if not rules.min_aspect <= w / h <= rules.max_aspect:
        raise UserError(
            messages.image_aspect_out_of_range(label, w, h, rules.min_aspect, rules.max_aspect)
        )


def check_image_bytes(head: bytes, label: str) -> None:
    """Raise UserError unless the file's first bytes are an accepted image format.

    Any accepted format passes even if the declared type differs (a PNG named `.jpg`): the
    API reads the bytes, not the name.
    """
    if not head:
        raise UserError(messages.not_an_image(label, messages.EMPTY_FILE))
    if sniff_image(head) is None:
        raise UserError(messages.not_an_image(label, messages.NO_IMAGE_DATA))
    if len(head) < SNIFF_BYTES:
        # `head` is the whole file when shorter than asked, and no real image is this small.
        raise UserError(messages.not_an_image(label, messages.cut_off(len(head))))


def _extension(filename: str) -> str:
    dot = filename.rfind(".")
    return filename[dot:].lower() if dot >= 0 else ""
