"""The GIF button on a result post, through the real bot process, the fake Discord and the fake
API: a looping GIF of the clip, made locally and posted once as a reply, for the requester
only, and refused clearly when none fits the channel's upload limit."""

from __future__ import annotations

import io
from typing import Any

import av

from tests.e2e.conftest import BotRunner, wait_until
from tests.e2e.test_buttons import deliver, press, reply_to
from tests.english import english
from tests.fakes.clips import make_mp4
from tests.fakes.discord import FakeDiscord, RecordedRequest
from tests.fakes.discord.constants import FLAG_EPHEMERAL
from tests.fakes.fake_vibedream import FakeVibedream


def gif_posts(discord: FakeDiscord) -> list[RecordedRequest]:
    return [
        r
        for r in discord.requests_to("POST", rf"/channels/{discord.channel_id}/messages")
        if any(str(f.filename).endswith(".gif") for f in r.files)
    ]


def gif_messages(discord: FakeDiscord) -> list[dict[str, Any]]:
    return [
        m
        for m in discord.messages.values()
        if any(a["filename"].endswith(".gif") for a in m["attachments"])
    ]


async def test_the_requester_gets_a_looping_gif_posted_as_a_reply_pinging_no_one(
    bot: Any, runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    video_api.clip_data = make_mp4(640, 480, 2.0)
    post = await deliver(runner, discord_fake)
    job = runner.jobs()[0]

    pressed = await press(discord_fake, post, "gif")
    text = await reply_to(discord_fake, pressed)

    (request,) = gif_posts(discord_fake)
    assert request.status == 200
    (upload,) = request.files
    assert upload.filename == f"animate-{job['id']}.gif"
    assert upload.data is not None
    assert upload.data.startswith(b"GIF89a")
    assert b"NETSCAPE2.0" in upload.data  # the loop extension: it plays forever
    with av.open(io.BytesIO(upload.data)) as gif:
        video = gif.streams.video[0]
        assert video.codec_context.width == 480  # scaled down from 640
        assert sum(1 for _ in gif.decode(video)) == 20  # 2 s at 10 frames a second
    assert str(request.json["message_reference"]["message_id"]) == post["id"]
    assert request.json["allowed_mentions"] == {"parse": [], "replied_user": False}
    assert request.json["nonce"] == f"{job['nonce']}-gif"
    (message,) = gif_messages(discord_fake)
    link = english.jump_url(discord_fake.guild_id, discord_fake.channel_id, int(message["id"]))
    assert text == english.gif_posted(link)
    assert discord_fake.original_response(pressed)["flags"] & FLAG_EPHEMERAL
    assert len(video_api.submits) == 1  # made here: no API call, nothing charged
    assert list(runner.download_dir.iterdir()) == []


async def test_a_second_press_posts_no_second_gif(
    bot: Any, runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    video_api.clip_data = make_mp4(320, 240, 1.0)
    post = await deliver(runner, discord_fake)

    first = await press(discord_fake, post, "gif")
    await reply_to(discord_fake, first)
    second = await press(discord_fake, post, "gif")
    await reply_to(discord_fake, second)

    one, again = gif_posts(discord_fake)
    assert one.json["nonce"] == again.json["nonce"]
    assert len(gif_messages(discord_fake)) == 1  # the nonce made the second post return the first


async def test_a_stranger_is_refused_privately_and_nothing_is_posted(
    bot: Any, runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    video_api.clip_data = make_mp4(320, 240, 1.0)
    post = await deliver(runner, discord_fake)
    bob = discord_fake.add_member("bob")

    pressed = await press(discord_fake, post, "gif", user_id=bob, username="bob")

    assert await reply_to(discord_fake, pressed) == english.GIF_NOT_YOURS
    assert discord_fake.original_response(pressed)["flags"] & FLAG_EPHEMERAL
    assert gif_posts(discord_fake) == []


async def test_a_gif_that_cannot_fit_the_upload_limit_is_refused_clearly(
    bot: Any, runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    video_api.clip_data = make_mp4(640, 480, 2.0, noise=True)
    post = await deliver(runner, discord_fake)
    limit = 20 * 1024  # a noisy picture at 160 px for a second is far more than this

    pressed = await press(discord_fake, post, "gif", attachment_size_limit=limit)

    assert await reply_to(discord_fake, pressed) == english.gif_too_big(limit)
    assert gif_posts(discord_fake) == []
    await wait_until(lambda: list(runner.download_dir.iterdir()) == [])
