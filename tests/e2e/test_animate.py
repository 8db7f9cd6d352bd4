"""/animate end to end: the real bot process, the fake Discord and the fake video API."""

from __future__ import annotations

import asyncio

from tests.e2e.conftest import (
    BotProcess,
    BotRunner,
    animate_interaction,
    is_clip_post,
    progress_texts,
    wait_until,
)
from tests.english import english
from tests.fakes.discord import FakeDiscord
from tests.fakes.fake_vibedream import FakeVibedream

EPHEMERAL = 1 << 6


async def test_happy_path_posts_one_mp4_and_records_the_job(
    bot: BotProcess, runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    interaction = animate_interaction(discord_fake)
    await discord_fake.send_interaction(interaction)

    post = await discord_fake.wait_for_request(is_clip_post(discord_fake.channel_id), 20)

    (callback,) = discord_fake.callbacks()
    assert callback.json == {"type": 5, "data": {"flags": EPHEMERAL}}
    (submit,) = video_api.submits
    image_url = interaction["data"]["resolved"]["attachments"][
        interaction["data"]["options"][0]["value"]
    ]["url"]
    seed = submit.json["seed"]
    assert submit.json == {
        "prompt": "the cat slowly turns its head and blinks",
        "image": image_url,
        "duration": 5,
        "resolution": "720p",
        "aspect_ratio": "auto",
        "camera_fixed": False,
        "seed": seed,
        "generate_audio": False,
    }
    assert 1 <= seed <= 1000
    clip, source = post.files  # the clip, and its source image for the post's buttons
    assert source.filename == "source-first.png"
    assert source.head.startswith(b"\x89PNG")
    assert clip.filename.endswith(".mp4")
    assert clip.size == video_api.clip_bytes
    assert clip.head[4:8] == b"ftyp"
    requester = int(interaction["member"]["user"]["id"])
    # The requester is mentioned so Discord notifies them; the allowlist holds them alone.
    assert post.json["content"] == f"<@{requester}>"
    assert post.json["allowed_mentions"] == {"parse": [], "users": [requester]}
    (embed,) = post.json["embeds"]
    assert "the cat slowly turns its head and blinks" in embed["description"]
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["Requested by"] == f"<@{interaction['member']['user']['id']}>"
    assert fields["Settings"].startswith("`seedance-1.5-pro-i2v` · 5 s · 720p · aspect auto")
    assert embed["footer"]["text"].endswith("· Seedance 1.5 Pro Image to Video")
    assert f"seed {seed}" in fields["Settings"]
    assert fields["Generation time"].endswith(" s")
    await wait_until(lambda: runner.jobs()[0]["state"] == "delivered")
    (job,) = runner.jobs()
    assert job["cost_cents"] == video_api.cost_cents
    assert (job["kind"], job["parent_job_id"]) == ("animate", None)
    assert job["message_id"] == int(post.response["id"])
    await wait_until(lambda: any("Done" in t for t in progress_texts(discord_fake, interaction)))
    texts = progress_texts(discord_fake, interaction)
    assert any("Generating" in t and f"seed {seed}" in t for t in texts)
    assert "Done" in texts[-1]
    assert (
        english.jump_url(discord_fake.guild_id, discord_fake.channel_id, job["message_id"])
        in (texts[-1])
    )
    await asyncio.sleep(0.5)
    assert len([r for r in discord_fake.requests if is_clip_post(discord_fake.channel_id)(r)]) == 1
    assert list(runner.download_dir.iterdir()) == []  # clip and image deleted after upload
