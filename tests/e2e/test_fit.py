"""Clips over the channel's upload limit: re-encoded to fit, or posted as an expiring link."""

from __future__ import annotations

import io
import os
import struct
import zlib

import av

from tests.e2e.conftest import (
    BotProcess,
    BotRunner,
    animate_interaction,
    is_clip_post,
    wait_until,
)
from tests.fakes.clips import make_mp4
from tests.fakes.discord import FakeDiscord, RecordedRequest
from tests.fakes.fake_vibedream import FakeVibedream
from tests.fakes.harness import png_bytes

LIMIT = 600 * 1024  # a small upload limit, so a small noisy clip is over it


async def test_a_clip_over_the_upload_limit_is_re_encoded_and_uploaded(
    bot: BotProcess, runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    video_api.clip_data = make_mp4(480, 360, 2, 12, noise=True, audio=True)
    assert len(video_api.clip_data) > 2 * LIMIT
    discord_fake.upload_limit_bytes = LIMIT  # the fake refuses anything bigger with a 413
    discord_fake.keep_file_bytes = LIMIT

    await discord_fake.send_interaction(
        animate_interaction(discord_fake, attachment_size_limit=LIMIT)
    )
    post = await discord_fake.wait_for_request(is_clip_post(discord_fake.channel_id), 60)

    upload, source = post.files  # the clip, and its source image for the post's buttons
    assert source.filename == "source-first.png"
    assert upload.data is not None
    assert upload.size <= LIMIT
    with av.open(io.BytesIO(upload.data)) as clip:
        video = clip.streams.video[0]
        assert sum(1 for _ in clip.decode(video)) == 24  # every frame is there and decodes
        assert [s.codec_context.name for s in clip.streams.audio] == ["aac"]
    (embed,) = post.json["embeds"]
    assert "fit this server's upload limit" in str(embed["fields"])
    await wait_until(lambda: runner.jobs()[0]["delivered_as"] == "file")
    assert list(runner.download_dir.iterdir()) == []  # the original and the copy are gone


async def test_a_clip_that_cannot_fit_is_posted_as_a_link_with_its_expiry(
    bot: BotProcess, runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    video_api.clip_data = make_mp4(480, 360, 2, 12, noise=True, audio=True)
    tiny = 16 * 1024  # no bitrate fits 2 s of video in this
    discord_fake.upload_limit_bytes = tiny

    await discord_fake.send_interaction(
        animate_interaction(discord_fake, attachment_size_limit=tiny)
    )
    post = await discord_fake.wait_for_request(
        lambda r: (
            r.method == "POST"
            and r.path == f"/channels/{discord_fake.channel_id}/messages"
            and r.status == 200
        ),
        60,
    )

    assert [f.filename for f in post.files] == ["source-first.png"]  # no clip
    (embed,) = post.json["embeds"]
    (prediction,) = video_api.predictions.values()
    assert embed["url"] == prediction.outputs[0]
    assert "expires <t:" in str(embed["fields"])
    await wait_until(lambda: runner.jobs()[0]["delivered_as"] == "link")
    assert list(runner.download_dir.iterdir()) == []


def big_png(extra_bytes: int) -> bytes:
    """A real PNG carrying `extra_bytes` of noise in a private ancillary chunk (decoders skip
    it), so it is as large as a test needs."""
    png = png_bytes(512, 512)
    body = b"prIv" + os.urandom(extra_bytes)
    chunk = struct.pack(">I", extra_bytes) + body + struct.pack(">I", zlib.crc32(body))
    return png[:-12] + chunk + png[-12:]  # before IEND


def channel_posts(discord: FakeDiscord) -> list[RecordedRequest]:
    return discord.requests_to("POST", rf"/channels/{discord.channel_id}/messages")


async def test_a_clip_refused_as_too_large_for_its_source_image_is_posted_without_it(
    bot: BotProcess, runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    video_api.clip_bytes = 4 * 1024
    source = big_png(40 * 1024)
    discord_fake.upload_limit_bytes = 20 * 1024  # the clip fits the channel, its source not
    image = discord_fake.add_attachment("cat.png", source, "image/png", width=512, height=512)

    await discord_fake.send_interaction(animate_interaction(discord_fake, image=image))
    await wait_until(lambda: bool(runner.jobs()) and runner.jobs()[0]["notified"] == 1, 30)

    job = runner.jobs()[0]
    assert (job["state"], job["delivered_as"]) == ("delivered", "file")
    refused, posted = channel_posts(discord_fake)
    assert refused.status == 413
    assert [f.filename for f in refused.files] == [f"animate-{job['id']}.mp4", "source-first.png"]
    assert [f.filename for f in posted.files] == [f"animate-{job['id']}.mp4"]
    assert posted.status == 200
    assert list(runner.download_dir.iterdir()) == []


async def test_a_link_post_refused_as_too_large_for_its_source_image_is_posted_without_it(
    bot: BotProcess, runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    video_api.clip_bytes = 200 * 1024  # over the upload limit, and no video to re-encode
    limit = 100 * 1024
    discord_fake.upload_limit_bytes = 20 * 1024  # the channel refuses the source image
    image = discord_fake.add_attachment(
        "cat.png", big_png(40 * 1024), "image/png", width=512, height=512
    )

    await discord_fake.send_interaction(
        animate_interaction(discord_fake, image=image, attachment_size_limit=limit)
    )
    await wait_until(lambda: bool(runner.jobs()) and runner.jobs()[0]["notified"] == 1, 30)

    job = runner.jobs()[0]
    assert (job["state"], job["delivered_as"]) == ("delivered", "link")
    refused, posted = channel_posts(discord_fake)
    assert refused.status == 413
    assert [f.filename for f in refused.files] == ["source-first.png"]
    assert (posted.status, posted.files) == (200, [])
    (embed,) = posted.json["embeds"]
    assert embed["url"] == job["output_url"]
    assert list(runner.download_dir.iterdir()) == []
