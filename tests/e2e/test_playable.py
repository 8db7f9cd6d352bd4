"""Every posted clip plays everywhere: H.264, yuv420p, index first ("faststart"), checked on the
bytes the fake Discord received, whatever format the fake video API served."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import av
import pytest

from bot.media.playable import ClipFormat, probe_format
from tests.e2e.conftest import (
    BotProcess,
    BotRunner,
    animate_interaction,
    is_clip_post,
    wait_until,
)
from tests.fakes.clips import make_mp4, top_level_boxes, video_format
from tests.fakes.discord import FakeDiscord, RecordedRequest
from tests.fakes.fake_vibedream import FakeVibedream

PLAYABLE = ClipFormat("h264", "yuv420p", faststart=True)


async def post_clip(discord: FakeDiscord, api: FakeVibedream, clip: bytes) -> RecordedRequest:
    api.clip_data = clip
    await discord.send_interaction(animate_interaction(discord))
    return await discord.wait_for_request(is_clip_post(discord.channel_id), 60)


def posted_format(post: RecordedRequest, tmp_path: Path) -> tuple[bytes, ClipFormat]:
    """The posted clip's bytes and format, as the bot reads it; checked against a reading
    independent of the bot (the box order walked here, FFmpeg's codec and pixel format)."""
    upload = post.files[0]
    assert str(upload.filename).endswith(".mp4")
    assert upload.data is not None
    path = tmp_path / "posted.mp4"
    path.write_bytes(upload.data)
    seen = probe_format(path)
    boxes = top_level_boxes(upload.data)
    assert seen.faststart == (boxes.index("moov") < boxes.index("mdat"))
    assert (seen.codec, seen.pix_fmt) == video_format(upload.data)
    return upload.data, seen


async def test_a_clip_that_plays_everywhere_is_posted_byte_for_byte(
    bot: BotProcess,
    runner: BotRunner,
    discord_fake: FakeDiscord,
    video_api: FakeVibedream,
    tmp_path: Path,
) -> None:
    made = make_mp4(320, 240, 1.0, audio=True)

    post = await post_clip(discord_fake, video_api, made)

    data, _ = posted_format(post, tmp_path)
    assert data == made
    await wait_until(lambda: "clip untouched" in bot.log_text())
    await wait_until(lambda: runner.jobs()[0]["delivered_as"] == "file")
    assert list(runner.download_dir.iterdir()) == []


@pytest.mark.parametrize(
    ("served", "treatment"),
    [
        ({"faststart": False}, "remuxed"),
        ({"pix_fmt": "yuv444p"}, "re-encoded"),
        ({"codec": "mpeg4"}, "re-encoded"),
    ],
    ids=["moov-last", "yuv444p", "mpeg4"],
)
async def test_a_clip_that_would_not_play_everywhere_is_posted_in_a_format_that_does(
    bot: BotProcess,
    runner: BotRunner,
    discord_fake: FakeDiscord,
    video_api: FakeVibedream,
    tmp_path: Path,
    served: dict[str, Any],
    treatment: str,
) -> None:
    made = make_mp4(320, 240, 1.0, audio=True, **served)

    post = await post_clip(discord_fake, video_api, made)

    data, posted = posted_format(post, tmp_path)
    assert posted == PLAYABLE
    assert data != made
    with av.open(io.BytesIO(data)) as clip:
        assert sum(1 for _ in clip.decode(video=0)) == 12  # every frame is there
    job_id = runner.jobs()[0]["id"]
    await wait_until(lambda: f"job {job_id}: clip {treatment}" in bot.log_text())
    await wait_until(lambda: runner.jobs()[0]["delivered_as"] == "file")
    assert list(runner.download_dir.iterdir()) == []
