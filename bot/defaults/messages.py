"""What saved defaults say: `/animate-settings` (a member's own) and the server's defaults and
locks in `/animate-admin`, as `Text` rendered in the reader's language.

The wording lives in the catalogues (`bot/i18n/locales/<language>.toml`, section `[settings]`);
this module names each message and gathers its values.
"""

from __future__ import annotations

from bot.i18n.format import lines
from bot.i18n.text import Join, Text
from bot.jobs.messages import defaults_line, settings_line
from bot.jobs.model import GenerationSettings, OptionDefaults, OptionLocks
from bot.members.model import MemberDefaults

# The member's form ------------------------------------------------------------------------------


def summary(
    model: str,
    saved: MemberDefaults,
    server: OptionDefaults,
    locks: OptionLocks,
    effective: GenerationSettings | None,
    mention_on_done: bool,
) -> Text:
    """The form's text: what the member saved, the server's defaults and locks, what a clip
    with nothing typed gets now, and the mention."""
    parts: list[Text | str] = [Text("settings.title", model=model)]
    mine = defaults_line(saved.options)
    if saved.variations is not None:
        count = Text("settings.variations", count=saved.variations)
        mine = count if mine is None else Join([mine, count], sep=" · ")
    parts.append(Text("settings.yours", values=mine) if mine else Text("settings.yours_none"))
    theirs = defaults_line(server)
    if theirs is not None:
        parts.append(Text("settings.server", values=theirs))
    if (locked := locks_line(locks)) is not None:
        parts.append(Text("settings.locks", values=locked))
    if effective is None:
        parts.append(Text("settings.effective_none"))
    else:
        parts.append(Text("settings.effective", settings=settings_line(model, effective)))
    parts.append(Text("settings.mention_on") if mention_on_done else Text("settings.mention_off"))
    parts.append(Text("settings.hint"))
    return lines(parts)


def locks_line(locks: OptionLocks) -> Text | None:
    """A server's locked maximums; None when it has none."""
    parts: list[Text | str] = []
    if locks.max_duration_s is not None:
        parts.append(Text("settings.max_duration", value=locks.max_duration_s))
    if locks.max_resolution is not None:
        parts.append(Text("settings.max_resolution", value=locks.max_resolution))
    return Join(parts, sep=" · ") if parts else None


#: Select labels: `<option>: follow the default`, and `<option>: <value>`.
def choice_default(name: str) -> Text:
    return Text(f"settings.{name}_default")


def choice_value(name: str, value: object) -> Text:
    return Text(f"settings.{name}_value", value=value)


CAMERA_LABELS = {
    None: Text("settings.camera_default"),
    True: Text("settings.camera_still"),
    False: Text("settings.camera_moving"),
}
AUDIO_LABELS = {
    None: Text("settings.audio_default"),
    True: Text("settings.audio_on"),
    False: Text("settings.audio_off"),
}
MENTION_LABELS = {
    True: Text("settings.mention_button_on"),
    False: Text("settings.mention_button_off"),
}
RESET_LABEL = Text("settings.reset")

# The server's (in /animate-admin) -----------------------------------------------------------------

NO_SERVER_DEFAULTS = Text("settings.no_server_defaults")
FIELD_DEFAULTS = Text("settings.field_defaults")


def server_defaults(defaults: OptionDefaults, locks: OptionLocks) -> Text:
    """A server's defaults and locks, for `/animate-admin view`."""
    parts: list[Text | str] = [defaults_line(defaults) or NO_SERVER_DEFAULTS]
    if (locked := locks_line(locks)) is not None:
        parts.append(Text("settings.locks", values=locked))
    return lines(parts)
