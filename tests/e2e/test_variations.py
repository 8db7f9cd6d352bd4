"""Variations and drafts through the real bot process, the fake Discord and the fake API: one
post for a group of clips (also across a restart), the server's maximum, a draft's Render
final (also after a restart), and the bad input each refuses at no cost."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import pytest

from bot.jobs.model import JobKind
from tests.e2e.admin_tools import admin
from tests.e2e.conftest import BotRunner, animate_interaction, wait_until
from tests.english import english
from tests.fakes.discord import FakeDiscord, buttons_of
from tests.fakes.fake_vibedream import MODERATION_ERROR, FakeVibedream

EPHEMERAL = 1 << 6
#: Four variations made side by side: four open jobs (the default) and four at the API at once
#: (the default lets a member have 2 there; the others would wait in the queue).
ROOM_FOR_FOUR = {"default_user_in_flight_limit": "4", "max_jobs_in_flight_per_user": "4"}


def notified(runner: BotRunner) -> bool:
    jobs = runner.jobs()
    return bool(jobs) and all(job["notified"] == 1 for job in jobs)


def result_posts(discord: FakeDiscord) -> list[dict[str, Any]]:
    """Every stored message carrying a clip (as a file) in the channel."""
    return [
        m
        for m in discord.channel_messages()
        if any(a["filename"].endswith(".mp4") for a in m.get("attachments", []))
    ]


def clip_names(post: dict[str, Any]) -> list[str]:
    return [a["filename"] for a in post["attachments"] if a["filename"].endswith(".mp4")]


async def refusal(discord: FakeDiscord, interaction: dict[str, Any]) -> str:
    """The private answer to a refused /animate."""
    callback = await discord.wait_for_request(
        lambda r: r.path.startswith(f"/interactions/{interaction['id']}/")
    )
    assert callback.json["data"]["flags"] == EPHEMERAL
    return str(callback.json["data"]["content"])


# Variations ------------------------------------------------------------------------------------


async def test_four_variations_are_four_jobs_posted_once_together_with_their_seeds(
    runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    await runner.start(**ROOM_FOR_FOUR)
    await discord_fake.send_interaction(
        animate_interaction(discord_fake, extra={"variations": 4, "seed": 100})
    )
    await wait_until(lambda: notified(runner), 30)
    await asyncio.sleep(0.5)  # room for a stray second post

    jobs = runner.jobs()
    assert [j["state"] for j in jobs] == ["delivered"] * 4
    assert [j["seed"] for j in jobs] == [100, 101, 102, 103]  # typed seed, then seed+1, …
    assert {j["group_id"] for j in jobs} == {jobs[0]["id"]}
    assert len(video_api.submits) == 4
    (post,) = result_posts(discord_fake)
    assert {j["message_id"] for j in jobs} == {int(post["id"])}
    assert clip_names(post) == [f"animate-{j['id']}.mp4" for j in jobs]
    fields = [f["name"] for f in post["embeds"][0]["fields"]]
    for number, job in enumerate(jobs, 1):
        assert f"#{number} · seed {job['seed']}" in fields
    custom_ids = [b["custom_id"] for b in buttons_of(post)]
    for job in jobs:  # each clip's own buttons
        assert f"animate:regen:{job['id']}" in custom_ids
        assert f"animate:gif:{job['id']}" in custom_ids
    assert custom_ids.count(f"animate:delete:{jobs[0]['id']}") == 1


async def test_variations_without_a_seed_get_distinct_seeds(
    runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    await runner.start(**ROOM_FOR_FOUR)
    await discord_fake.send_interaction(animate_interaction(discord_fake, extra={"variations": 3}))
    await wait_until(lambda: notified(runner), 30)

    seeds = [j["seed"] for j in runner.jobs()]
    assert len(seeds) == 3
    assert len(set(seeds)) == 3


async def test_a_failed_variation_is_reported_in_the_same_post_and_not_charged(
    runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    await runner.start(**ROOM_FOR_FOUR)
    video_api.hold()
    await discord_fake.send_interaction(animate_interaction(discord_fake, extra={"variations": 2}))
    await video_api.wait_for(lambda: len(video_api.predictions) == 2)
    first, second = video_api.predictions
    video_api.complete_now(first)
    video_api.complete_now(second, error=MODERATION_ERROR)
    await wait_until(lambda: notified(runner), 30)

    made, failed = runner.jobs()
    assert (made["state"], failed["state"]) == ("delivered", "failed")
    assert failed["reserved_cents"] == 0
    (post,) = result_posts(discord_fake)
    assert failed["message_id"] == made["message_id"] == int(post["id"])
    assert clip_names(post) == [f"animate-{made['id']}.mp4"]
    lines = json.dumps(post["embeds"][0]["fields"], ensure_ascii=False)
    assert "❌" in lines
    # No post of its own for the failure (type 20: the progress message, the interaction's).
    own_posts = [m for m in discord_fake.channel_messages() if m.get("type") != 20]
    assert own_posts == [post]


async def test_a_restart_in_the_middle_of_four_variations_delivers_one_post_with_every_clip(
    runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    bot = await runner.start(**ROOM_FOR_FOUR)
    video_api.hold()
    await discord_fake.send_interaction(animate_interaction(discord_fake, extra={"variations": 4}))
    await video_api.wait_for(lambda: len(video_api.predictions) == 4)
    done = list(video_api.predictions)[:2]
    for prediction_id in done:
        video_api.complete_now(prediction_id)
    await wait_until(lambda: [j["state"] for j in runner.jobs()].count("completed") == 2, 30)

    await bot.kill()
    assert result_posts(discord_fake) == []  # the made ones waited for the others
    video_api.release()
    await runner.start(**ROOM_FOR_FOUR)
    await wait_until(lambda: notified(runner), 30)
    await asyncio.sleep(0.5)

    jobs = runner.jobs()
    assert [j["state"] for j in jobs] == ["delivered"] * 4
    assert len(video_api.submits) == 4  # none sent twice
    (post,) = result_posts(discord_fake)
    assert sorted(clip_names(post)) == sorted(f"animate-{j['id']}.mp4" for j in jobs)
    assert {j["message_id"] for j in jobs} == {int(post["id"])}


async def test_a_restart_after_the_group_post_but_before_its_bookkeeping_posts_nothing_twice(
    runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    bot = await runner.start(**ROOM_FOR_FOUR)
    await discord_fake.send_interaction(animate_interaction(discord_fake, extra={"variations": 4}))
    await wait_until(lambda: notified(runner), 30)
    await bot.kill()
    # As if it died right after the post, before any job was marked delivered.
    with contextlib.closing(runner.db()) as db, db:
        db.execute(
            "UPDATE jobs SET state = 'delivering', message_id = NULL, delivered_as = NULL,"
            " notified = 0"
        )

    await runner.start(**ROOM_FOR_FOUR)
    await wait_until(lambda: notified(runner), 30)
    await asyncio.sleep(0.5)

    (post,) = result_posts(discord_fake)
    assert {j["message_id"] for j in runner.jobs()} == {int(post["id"])}
    assert len(clip_names(post)) == 4


async def test_variations_over_the_servers_maximum_are_refused_at_no_cost(
    runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    await runner.start(**ROOM_FOR_FOUR)
    await admin(
        discord_fake,
        "limit",
        options=[
            discord_fake.string_option("name", "variations"),
            discord_fake.string_option("value", "2"),
        ],
    )
    sent = animate_interaction(discord_fake, extra={"variations": 3})
    await discord_fake.send_interaction(sent)

    await wait_until(lambda: bool(_texts(discord_fake, sent)))
    assert _texts(discord_fake, sent) == [english.variations_above_server_max(3, 2)]
    assert runner.jobs() == []
    assert video_api.submits == []


async def test_four_variations_over_the_daily_limit_are_refused_all_or_nothing(
    runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    await runner.start(**ROOM_FOR_FOUR, default_user_daily_limit="3")
    sent = animate_interaction(discord_fake, extra={"variations": 4})
    await discord_fake.send_interaction(sent)

    await wait_until(lambda: bool(_texts(discord_fake, sent)))
    assert "daily limit of 3 clips" in _texts(discord_fake, sent)[0]
    assert runner.jobs() == []
    assert video_api.submits == []


def _texts(discord: FakeDiscord, interaction: dict[str, Any]) -> list[str]:
    message = discord.original_response(interaction)
    return [message["content"]] if message and message.get("content") else []


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"variations": 5}, english.variations_out_of_range(5, 4)),
        ({"variations": 0}, english.variations_out_of_range(0, 4)),
        ({"draft": True, "generate_audio": True}, english.DRAFT_WITH_AUDIO),
        ({"draft": True, "variations": 2}, english.DRAFT_WITH_VARIATIONS),
    ],
    ids=["five", "zero", "draft with audio", "draft with variations"],
)
async def test_bad_variations_and_draft_options_are_refused_privately_at_no_cost(
    extra: dict[str, Any],
    expected: str,
    runner: BotRunner,
    discord_fake: FakeDiscord,
    video_api: FakeVibedream,
) -> None:
    await runner.start()
    sent = animate_interaction(discord_fake, extra=extra)
    await discord_fake.send_interaction(sent)

    assert await refusal(discord_fake, sent) == expected
    assert runner.jobs() == []
    assert video_api.submits == []


# Draft, then final -----------------------------------------------------------------------------


async def test_a_draft_is_cheap_and_its_render_final_after_a_restart_uses_the_typed_options(
    runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    first = await runner.start()
    await discord_fake.send_interaction(
        animate_interaction(
            discord_fake, extra={"draft": True, "resolution": "1080p", "duration": 8}
        )
    )
    await wait_until(lambda: notified(runner), 30)
    (draft,) = runner.jobs()
    assert (draft["resolution"], draft["duration_s"], draft["generate_audio"]) == ("480p", 4, 0)
    final_params = json.loads(draft["final_params"])
    assert (final_params["resolution"], final_params["duration"]) == ("1080p", 8)
    assert final_params["seed"] == draft["seed"]
    post = discord_fake.messages[int(draft["message_id"])]
    assert f"animate:final:{draft['id']}" in [b["custom_id"] for b in buttons_of(post)]
    assert await first.stop() == 0

    await runner.start()
    press = discord_fake.make_component_interaction(
        int(post["id"]), f"animate:final:{draft['id']}", user_id=draft["user_id"]
    )
    await discord_fake.send_interaction(press)
    await wait_until(lambda: len(runner.jobs()) == 2 and notified(runner), 30)

    final = runner.jobs()[1]
    assert (final["kind"], final["parent_job_id"]) == ("final", draft["id"])
    assert (final["resolution"], final["duration_s"]) == ("1080p", 8)
    assert final["seed"] == draft["seed"]
    assert final["prompt"] == draft["prompt"]
    assert final["final_params"] is None
    assert video_api.submits[-1].json["resolution"] == "1080p"
    final_post = discord_fake.messages[int(final["message_id"])]
    fields = {f["name"]: f["value"] for f in final_post["embeds"][0]["fields"]}
    link = english.jump_url(discord_fake.guild_id, draft["channel_id"], draft["message_id"])
    assert fields[english.FIELD_FROM] == english.made_from(JobKind.FINAL, draft["id"], link)
    assert fields[english.FIELD_COST] == english.draft_and_final_cost(
        draft["cost_cents"], final["cost_cents"]
    )


async def test_render_final_is_for_the_requester_only(
    runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    await runner.start()
    await discord_fake.send_interaction(animate_interaction(discord_fake, extra={"draft": True}))
    await wait_until(lambda: notified(runner), 30)
    (draft,) = runner.jobs()

    press = discord_fake.make_component_interaction(
        int(draft["message_id"]), f"animate:final:{draft['id']}", user_id=draft["user_id"] + 1
    )
    await discord_fake.send_interaction(press)
    await wait_until(lambda: bool(_texts(discord_fake, press)))

    assert _texts(discord_fake, press) == [english.BUTTON_NOT_YOURS]
    assert len(runner.jobs()) == 1


async def test_render_final_of_a_draft_whose_images_are_gone_says_so(
    runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    await runner.start()
    await discord_fake.send_interaction(animate_interaction(discord_fake, extra={"draft": True}))
    await wait_until(lambda: notified(runner), 30)
    (draft,) = runner.jobs()
    post = discord_fake.messages[int(draft["message_id"])]
    post["attachments"] = [a for a in post["attachments"] if a["filename"].endswith(".mp4")]
    with contextlib.closing(runner.db()) as db, db:  # and the stored link has expired
        db.execute("UPDATE jobs SET image_url = 'https://cdn.discordapp.com/x.png?ex=1'")

    press = discord_fake.make_component_interaction(
        int(post["id"]), f"animate:final:{draft['id']}", user_id=draft["user_id"]
    )
    await discord_fake.send_interaction(press)
    await wait_until(lambda: bool(_texts(discord_fake, press)))

    assert _texts(discord_fake, press) == [english.DRAFT_IMAGES_GONE]
    assert len(runner.jobs()) == 1
