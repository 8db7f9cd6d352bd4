"""Bad /animate input gets a polite ephemeral answer and never reaches the video API."""

from __future__ import annotations

from typing import Any

import pytest
import yarl

from tests.e2e.conftest import BotProcess, animate_interaction, png_bytes, progress_texts
from tests.english import english
from tests.fakes.discord import FakeDiscord
from tests.fakes.discord.constants import ATTACH_FILES, EMBED_LINKS, SEND_MESSAGES, VIEW_CHANNEL
from tests.fakes.fake_vibedream import FakeVibedream

EPHEMERAL = 1 << 6
MiB = 1024 * 1024


def _image(discord: FakeDiscord, **overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "filename": "pic.png",
        "data": png_bytes(400, 400),
        "content_type": "image/png",
        "width": 400,
        "height": 400,
    }
    spec.update(overrides)
    attachment = discord.add_attachment(
        spec["filename"],
        spec["data"],
        spec["content_type"],
        width=spec["width"],
        height=spec["height"],
    )
    if "size" in spec:  # what Discord claims, e.g. a huge file we never download
        attachment["size"] = spec["size"]
    return attachment


CASES: dict[str, tuple[dict[str, Any], str]] = {
    "text file": (
        {
            "image": {
                "filename": "notes.txt",
                "content_type": "text/plain",
                "width": None,
                "height": None,
            }
        },
        "JPEG, PNG, GIF or WebP",
    ),
    "video file": ({"image": {"filename": "a.mp4", "content_type": "video/mp4"}}, "`video/mp4`"),
    "image over the size cap": ({"image": {"size": 31 * MiB}}, "the limit is"),
    "image too small": ({"image": {"width": 299, "height": 400}}, "between 300 and 6000 px"),
    "image too large": ({"image": {"width": 6001, "height": 3000}}, "between 300 and 6000 px"),
    "image too wide": ({"image": {"width": 1300, "height": 500}}, "between 0.4 and 2.5"),
    "empty prompt": ({"prompt": "   "}, "prompt is empty"),
    "over-long prompt": ({"prompt": "x" * 1501}, "at most 1500"),
    "duration out of range": ({"extra": {"duration": 20}}, "cannot take `duration` 20"),
    "unknown resolution": ({"extra": {"resolution": "4k"}}, "cannot take `resolution` 4k"),
    "seed out of range": ({"extra": {"seed": 5000}}, "cannot take `seed` 5000"),
    "last_image not an image": (
        {"last_image": {"filename": "x.pdf", "content_type": "application/pdf"}},
        "`last_image`",
    ),
    "missing attach permission": (
        {"app_permissions": VIEW_CHANNEL | SEND_MESSAGES | EMBED_LINKS},
        "**Attach Files**",
    ),
    "missing send permission": (
        {"app_permissions": VIEW_CHANNEL | ATTACH_FILES | EMBED_LINKS},
        "**Send Messages**",
    ),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
async def test_bad_input_is_answered_ephemerally_without_calling_the_api(
    case: str, bot: BotProcess, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    spec, expected = CASES[case]
    kwargs: dict[str, Any] = {k: v for k, v in spec.items() if k not in ("image", "last_image")}
    if "image" in spec:
        kwargs["image"] = _image(discord_fake, **spec["image"])
    if "last_image" in spec:
        kwargs["last_image"] = _image(discord_fake, **spec["last_image"])
    interaction = animate_interaction(discord_fake, **kwargs)

    await discord_fake.send_interaction(interaction)
    callback = await discord_fake.wait_for_request(
        lambda r: r.path.startswith(f"/interactions/{interaction['id']}/")
    )

    assert callback.json["type"] == 4
    assert callback.json["data"]["flags"] == EPHEMERAL
    assert expected in callback.json["data"]["content"]
    assert video_api.submits == []


async def test_file_that_is_not_really_an_image_is_refused_after_reading_its_bytes(
    bot: BotProcess, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    fake_png = _image(discord_fake, data=b"this is plain text pretending to be a png")
    interaction = animate_interaction(discord_fake, image=fake_png)

    await discord_fake.send_interaction(interaction)
    await discord_fake.wait_for_request(
        lambda r: r.method == "PATCH" and interaction["token"] in r.path
    )

    (callback,) = discord_fake.callbacks()
    assert callback.json == {"type": 5, "data": {"flags": EPHEMERAL}}
    (text,) = progress_texts(discord_fake, interaction)
    assert "does not contain image data" in text
    assert video_api.submits == []


async def test_an_attachment_link_off_discords_cdn_is_not_read(
    bot: BotProcess, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    image = _image(discord_fake)
    path = yarl.URL(image["url"]).path
    # The fake's own CDN under another name: reading it would show up as a request.
    image["url"] = image["url"].replace("127.0.0.1", "localhost")
    interaction = animate_interaction(discord_fake, image=image)

    await discord_fake.send_interaction(interaction)
    await discord_fake.wait_for_request(
        lambda r: r.method == "PATCH" and interaction["token"] in r.path
    )

    (text,) = progress_texts(discord_fake, interaction)
    assert text == english.image_unreadable("image")
    assert [r for r in discord_fake.requests if r.path == path] == []
    assert video_api.submits == []
