"""Checks on /animate input that cost nothing: they run before any download or API call."""

from __future__ import annotations

from dataclasses import dataclass

from bot import messages
from bot.errors import UserError
from bot.media import IMAGE_CONTENT_TYPES, sniff_image
from bot.models import ImageInput
from bot.settings import Settings

_EXTENSIONS = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".gif": "image/gif",
    ".webp": "image/webp",
}


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


def clean_prompt(prompt: str, max_chars: int) -> str:
    """Return the prompt without surrounding whitespace, or raise if empty or too long."""
    text = prompt.strip()
    if not text:
        raise UserError(messages.PROMPT_EMPTY)
    if len(text) > max_chars:
        raise UserError(messages.prompt_too_long(len(text), max_chars))
    return text


def check_image(image: ImageInput, rules: ImageRules, label: str) -> None:
    """Raise UserError if Discord's description of the attachment rules it out."""
    declared = (image.content_type or "").split(";")[0].strip().lower()
    if not declared:
        declared = _EXTENSIONS.get(_extension(image.filename), "")
    if declared not in IMAGE_CONTENT_TYPES:
        kind = f"is `{declared}`" if declared else "is not a recognised image"
        raise UserError(messages.not_an_image(label, kind))
    if image.size_bytes > rules.max_bytes:
        raise UserError(messages.image_too_big(label, image.size_bytes, rules.max_bytes))
    if not image.width or not image.height:
        raise UserError(messages.not_an_image(label, "has no readable dimensions"))
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
    if sniff_image(head) is None:
        raise UserError(messages.not_an_image(label, "does not contain image data"))


def _extension(filename: str) -> str:
    dot = filename.rfind(".")
    return filename[dot:].lower() if dot >= 0 else ""
