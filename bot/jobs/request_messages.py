"""What is wrong with a request, and the "Animate this image" form that makes one, as `Text`
rendered in the reader's language: the refusals `bot.jobs.request` and the intake give before
anything is downloaded or charged.

The wording lives in the catalogues (`bot/i18n/locales/<language>.toml`, sections `[input]` and
`[context]`); this module names each message and gathers its values.
"""

from __future__ import annotations

from bot.i18n.common import permission_list
from bot.i18n.format import mib
from bot.i18n.text import Text

# Where a request may come from ------------------------------------------------------------------

GUILD_ONLY = Text("input.guild_only")


def missing_permissions(flags: list[str]) -> Text:
    return Text("input.missing_permissions", names=permission_list(flags))


# The prompt and the options ---------------------------------------------------------------------

PROMPT_EMPTY = Text("input.prompt_empty")


def option_name(name: str) -> Text:
    """/animate's option `name` as the reader's client shows it (`last_image`: `dernière_image`)."""
    return Text(f"command.animate.option.{name}")


def prompt_too_long(length: int, limit: int) -> Text:
    return Text("input.prompt_too_long", length=length, limit=limit)


def seconds_range(low: int, high: int) -> Text:
    return Text("input.seconds_range", low=low, high=high)


def seconds_list(values: str) -> Text:
    return Text("input.seconds_list", values=values)


def model_value(model: str, name: str, value: object, allowed: str | Text) -> Text:
    """A value the server's model does not take, and what it takes."""
    return Text(
        "input.model_value", model=model, name=option_name(name), value=value, allowed=allowed
    )


def model_lacks(model: str, name: str) -> Text:
    """An option the server's model does not have at all."""
    return Text("input.model_lacks", model=model, name=option_name(name))


def variations_out_of_range(count: int, maximum: int) -> Text:
    return Text(
        "input.variations_out_of_range",
        name=option_name("variations"),
        count=count,
        maximum=maximum,
    )


DRAFT_WITH_AUDIO = Text("input.draft_with_audio")
DRAFT_WITH_VARIATIONS = Text("input.draft_with_variations")


def model_fixed_audio(model: str, always: bool) -> Text:
    name = option_name("generate_audio")
    if always:
        return Text("input.model_always_audio", model=model, name=name)
    return Text("input.model_never_audio", model=model, name=name)


def over_lock(name: str, value: object, lock: object) -> Text:
    """A typed value above the server's locked maximum."""
    return Text("input.over_lock", name=option_name(name), value=value, lock=lock)


def locked_out(model: str, name: str, lock: object) -> Text:
    """The server's model makes nothing within the server's locked maximum."""
    return Text("input.locked_out", model=model, name=option_name(name), lock=lock)


def variations_range(high: int) -> Text:
    return Text("input.variations_range", high=high)


def on_or_off() -> Text:
    return Text("input.on_or_off")


def duration_not_a_number(allowed: Text) -> Text:
    return Text("input.duration_not_a_number", allowed=allowed)


# The images -------------------------------------------------------------------------------------


def not_an_image(label: str, detail: Text) -> Text:
    return Text("input.not_an_image", label=option_name(label), detail=detail)


def declared_type(declared: str) -> Text:
    return Text("input.declared_type", type=declared)


NOT_RECOGNISED = Text("input.not_recognised")
NO_DIMENSIONS = Text("input.no_dimensions")
EMPTY_FILE = Text("input.empty_file")
NO_IMAGE_DATA = Text("input.no_image_data")


def cut_off(size: int) -> Text:
    return Text("input.cut_off", count=size)


def image_too_big(label: str, size: int, limit: int) -> Text:
    return Text("input.image_too_big", label=option_name(label), size=mib(size), limit=mib(limit))


def image_side_out_of_range(label: str, width: int, height: int, low: int, high: int) -> Text:
    return Text(
        "input.image_side_out_of_range",
        label=option_name(label),
        width=width,
        height=height,
        low=low,
        high=high,
    )


def image_aspect_out_of_range(label: str, width: int, height: int, low: float, high: float) -> Text:
    return Text(
        "input.image_aspect_out_of_range",
        label=option_name(label),
        width=width,
        height=height,
        ratio=f"{width / height:.2f}",
        low=f"{low:g}",
        high=f"{high:g}",
    )


def image_unreadable(label: str) -> Text:
    return Text("input.image_unreadable", label=option_name(label))


# The "Animate this image" form ------------------------------------------------------------------

FORM_TITLE = Text("context.form_title")
FORM_PROMPT_LABEL = Text("context.prompt_label")
FORM_PROMPT_PLACEHOLDER = Text("context.prompt_placeholder")
FORM_DURATION_LABEL = Text("context.duration_label")


def form_duration_placeholder(default: int, allowed: Text) -> Text:
    return Text("context.duration_placeholder", default=default, allowed=allowed)


NO_IMAGE_IN_MESSAGE = Text("context.no_image")
FORM_EXPIRED = Text("context.form_expired")
