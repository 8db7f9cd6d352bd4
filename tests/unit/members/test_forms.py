"""The context menu's parts below Discord: open forms (on a real database, each backend),
reading a submitted form, finding the image."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy as sa

from bot.errors import UserError
from bot.jobs.model import ImageInput
from bot.jobs.request import parse_duration
from bot.members.forms import FORM_TTL, OpenForms, form_key
from bot.storage import schema
from bot.storage.store import SqlStore
from bot.video.seedance import SEEDANCE_1_5_PRO
from cogs.context_menu import first_image
from cogs.support.intake import form_values

IMAGE = ImageInput(
    url="https://cdn.discordapp.com/attachments/1/2/cat.png",
    filename="cat.png",
    size_bytes=1000,
    content_type="image/png",
    width=512,
    height=512,
)
ALICE, BOB = 1001, 1002


async def test_an_open_form_gives_its_image_once_to_the_user_who_opened_it(
    store: SqlStore,
) -> None:
    forms = OpenForms(store)
    key = form_key()
    await forms.open(key, ALICE, IMAGE)

    assert len(key) < 80  # fits a custom id with its prefix
    assert await forms.take(key, BOB) is None
    assert await forms.take(key, ALICE) == IMAGE
    assert await forms.take(key, ALICE) is None
    assert await forms.take("never-opened", ALICE) is None


async def test_an_open_form_outlives_a_restart(
    reopen: Callable[[], AbstractAsyncContextManager[SqlStore]],
) -> None:
    key = form_key()
    async with reopen() as before:
        await OpenForms(before).open(key, ALICE, IMAGE)

    async with reopen() as after:
        assert await OpenForms(after).take(key, ALICE) == IMAGE


async def test_forms_expire_after_their_time_and_are_then_dropped(store: SqlStore) -> None:
    now = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    forms = OpenForms(store, now=lambda: now)
    in_time, too_late, closed = form_key(), form_key(), form_key()
    for key in (in_time, too_late, closed):
        await forms.open(key, ALICE, IMAGE)

    now += FORM_TTL - timedelta(seconds=1)
    assert await forms.take(in_time, ALICE) == IMAGE
    now += timedelta(seconds=2)
    await forms.open(form_key(), BOB, IMAGE)  # opening (or sending) a form sweeps the expired
    assert await forms.take(too_late, ALICE) is None

    assert await open_forms(store) == [BOB]


async def test_forget_drops_the_members_open_forms(store: SqlStore) -> None:
    forms = OpenForms(store)
    await forms.open(form_key(), ALICE, IMAGE)
    await forms.open(form_key(), BOB, IMAGE)

    await store.redact_user(ALICE)

    assert await open_forms(store) == [BOB]


async def open_forms(store: SqlStore) -> list[int]:
    """Who the forms left in the database were opened by."""
    forms = schema.open_forms.c
    found = await store.database.rows(sa.select(forms.user_id).order_by(forms.user_id))
    return [user for (user,) in found]


def test_form_values_read_action_rows_and_labels() -> None:
    rows = [
        {"type": 1, "components": [{"type": 4, "custom_id": "prompt", "value": "waves"}]},
        {"type": 18, "component": {"type": 4, "custom_id": "duration", "value": "8"}},
    ]

    assert form_values(rows) == {"prompt": "waves", "duration": "8"}


@pytest.mark.parametrize(("text", "seconds"), [("", None), ("  ", None), ("8", 8), ("12s", 12)])
def test_durations_typed_into_the_form(text: str, seconds: int | None) -> None:
    assert parse_duration(text, SEEDANCE_1_5_PRO) == seconds


@pytest.mark.parametrize("text", ["five", "-3", "4.5", "٣"])
def test_a_duration_that_is_not_a_whole_number_is_refused(text: str) -> None:
    with pytest.raises(UserError) as refused:
        parse_duration(text, SEEDANCE_1_5_PRO)
    message = refused.value.user_message.render()
    assert message == "`duration` must be a whole number of seconds; allowed: 4–12 seconds."


def attachment(filename: str, content_type: str | None) -> Any:
    return SimpleNamespace(
        url=f"https://cdn.example/{filename}",
        filename=filename,
        size=2000,
        content_type=content_type,
        width=600,
        height=400,
    )


def picture(url: str | None = None, proxy_url: str | None = None) -> Any:
    return SimpleNamespace(url=url, proxy_url=proxy_url, width=800, height=600)


def message(attachments: list[Any] = [], embeds: list[Any] = []) -> Any:  # noqa: B006
    return SimpleNamespace(attachments=attachments, embeds=embeds)


def test_the_first_image_attachment_is_used_not_other_files() -> None:
    found = first_image(
        message([attachment("notes.txt", "text/plain"), attachment("cat.webp", "image/webp")])
    )

    assert found is not None
    assert found.url == "https://cdn.example/cat.webp"
    assert (found.content_type, found.width, found.height) == ("image/webp", 600, 400)


def test_an_embed_image_is_fetched_through_discords_media_proxy() -> None:
    embed = SimpleNamespace(
        image=picture(),
        thumbnail=picture(
            "https://example.com/pics/dog.jpg",
            "https://images-ext-1.discordapp.net/external/abc/https/example.com/pics/dog.jpg",
        ),
    )

    found = first_image(message(embeds=[embed]))

    assert found is not None
    assert found.url.startswith("https://images-ext-1.discordapp.net/")
    assert found.filename == "dog.jpg"


def test_a_message_without_an_image_has_none() -> None:
    text_only = SimpleNamespace(image=picture(), thumbnail=picture())

    assert first_image(message([attachment("a.txt", "text/plain")], [text_only])) is None
