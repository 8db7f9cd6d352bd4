"""What a result's remix buttons say (Regenerate, Edit prompt, Continue, Loop, GIF), and the note on
a clip made from another, as `Text` rendered in the reader's language. Cancel and Delete are the
job engine's, in `bot.jobs.messages`.

The wording lives in the catalogues (`bot/i18n/locales/<language>.toml`, section `[buttons]`);
this module names each message and gathers its values.
"""

from __future__ import annotations

from bot.i18n.format import mib
from bot.i18n.text import Text
from bot.jobs.model import REMIX_KINDS, JobKind

REGENERATE_LABEL = Text("buttons.regenerate")
EDIT_LABEL = Text("buttons.edit")
CONTINUE_LABEL = Text("buttons.continue")
LOOP_LABEL = Text("buttons.loop")
EDIT_MODAL_TITLE = Text("buttons.edit_title")
EDIT_MODAL_FIELD = Text("buttons.edit_field")
BUTTON_NOT_YOURS = Text("buttons.not_yours")
SOURCE_GONE = Text("buttons.source_gone")
CLIP_GONE = Text("buttons.clip_gone")
CLIP_UNREADABLE = Text("buttons.clip_unreadable")
CONTINUE_FRAME = Text("buttons.continue_frame")
BUTTON_FAILED = Text("buttons.failed")
FIELD_FROM = Text("result.field_from")
FINAL_LABEL = Text("draft.final_label")
NOT_A_DRAFT = Text("draft.not_a_draft")
DRAFT_IMAGES_GONE = Text("draft.images_gone")


def numbered(number: int, label: str) -> Text:
    """A button of one of a group's clips: "#2 Regenerate"."""
    return Text("variations.button", number=number, label=label)


GIF_LABEL = Text("buttons.gif")
GIF_NOT_YOURS = Text("buttons.gif_not_yours")
GIF_CLIP_GONE = Text("buttons.gif_clip_gone")
GIF_FAILED = Text("buttons.gif_failed")


def gif_too_big(limit_bytes: int) -> Text:
    """No GIF of the clip fits the channel's upload limit."""
    return Text("buttons.gif_too_big", limit=mib(limit_bytes))


def gif_posted(link: str) -> Text:
    """Where the GIF went (told to the presser alone)."""
    return Text("buttons.gif_posted", link=link)


def made_from(kind: JobKind, parent_id: int, link: str | None) -> Text:
    """The result's note of the clip it was made from, e.g. "Continued from job #12"."""
    verb = kind.value if kind in REMIX_KINDS else "other"
    if link is None:
        return Text(f"buttons.from.{verb}", job=parent_id)
    return Text(f"buttons.from_link.{verb}", job=parent_id, link=link)
