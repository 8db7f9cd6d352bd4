"""Clips over the channel's upload limit: re-encoded to fit, or posted as an expiring link."""

from __future__ import annotations

import io

import av

from tests.e2e.conftest import (
    BotProcess,
    BotRunner,
    animate_interaction,
    is_clip_post,
    wait_until,
)
from tests.fakes.clips import make_mp4
from tests.fakes.fake_discord import FakeDiscord
from tests.fakes.fake_vibedream import FakeVibedream

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
