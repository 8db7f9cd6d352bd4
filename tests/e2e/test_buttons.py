"""Buttons on every result post, through the real bot process, the fake Discord and the fake API:
Regenerate, Edit prompt, Continue, Loop and Delete, who may press them, the quota at the press,
and a restart between the post and the press."""

from __future__ import annotations

from typing import Any

from bot.models import JobKind
from tests.e2e.conftest import (
    BotRunner,
    animate_interaction,
    wait_until,
)
from tests.english import english
from tests.fakes import discord_payloads as p
from tests.fakes.clips import make_mp4
from tests.fakes.fake_discord import FakeDiscord
from tests.fakes.fake_vibedream import FakeVibedream

ACTIONS = ("regen", "edit", "continue", "loop", "delete")


async def deliver(runner: BotRunner, discord: FakeDiscord, count: int = 1) -> dict[str, Any]:
    """Ask for a clip as alice and return its post (a live message) once the job is delivered."""
    interaction = animate_interaction(discord, prompt=f"the cat blinks {count}")
    await discord.send_interaction(interaction)
    await wait_until(lambda: len(delivered(runner)) >= count, 30)
    job = delivered(runner)[count - 1]
    return discord.messages[int(job["message_id"])]


def delivered(runner: BotRunner) -> list[Any]:
    return [job for job in runner.jobs() if job["state"] == "delivered"]


async def press(
    discord: FakeDiscord, post: dict[str, Any], action: str, **kwargs: Any
) -> dict[str, Any]:
    """Press a button of a result post, as its requester unless `user_id` says otherwise."""
    job_id = post_job_id(post)
    kwargs.setdefault("user_id", int(post["embeds"][0]["fields"][0]["value"].strip("<@>")))
    interaction = discord.make_component_interaction(
        int(post["id"]), f"animate:{action}:{job_id}", **kwargs
    )
    await discord.send_interaction(interaction)
    return interaction


def post_job_id(post: dict[str, Any]) -> int:
    (button,) = [b for b in discord_buttons(post) if b["custom_id"].startswith("animate:regen:")]
    return int(button["custom_id"].rsplit(":", 1)[1])


def discord_buttons(post: dict[str, Any]) -> list[dict[str, Any]]:
    return p.buttons_of(post)


async def reply_to(discord: FakeDiscord, interaction: dict[str, Any]) -> str:
    """The private answer to a press, once it has text."""
    found: list[str] = []

    def answered() -> bool:
        message = discord.original_response(interaction)
        found[:] = [message["content"]] if message and message["content"] else []
        return bool(found)

    await wait_until(answered)
    return found[0]


async def test_a_result_post_carries_its_buttons_and_source_image(
    bot: Any, runner: BotRunner, discord_fake: FakeDiscord
) -> None:
    post = await deliver(runner, discord_fake)

    job_id = post_job_id(post)
    assert [b["custom_id"] for b in discord_buttons(post)] == [
        f"animate:{action}:{job_id}" for action in ACTIONS
    ]
    names = [a["filename"] for a in post["attachments"]]
    assert names == [f"animate-{job_id}.mp4", "source-first.png"]
    assert post["embeds"][0]["thumbnail"]["url"] == "attachment://source-first.png"


async def test_regenerate_loop_and_edit_make_new_clips_linked_to_their_parent(
    bot: Any, runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    post = await deliver(runner, discord_fake)
    parent = runner.jobs()[0]

    await press(discord_fake, post, "regen")
    await wait_until(lambda: len(delivered(runner)) == 2, 30)
    await press(discord_fake, post, "loop")
    await wait_until(lambda: len(delivered(runner)) == 3, 30)
    opener = await press(discord_fake, post, "edit")
    await wait_until(lambda: discord_fake.modal_of(opener) is not None)
    modal = discord_fake.modal_of(opener)
    assert modal is not None
    (field,) = [c for c in p.iter_components(modal["components"]) if c["type"] == 4]
    assert field["value"] == parent["prompt"]  # pre-filled
    submit = discord_fake.make_modal_submit_interaction(
        opener, {field["custom_id"]: "the cat yawns"}
    )
    await discord_fake.send_interaction(submit)
    await wait_until(lambda: len(delivered(runner)) == 4, 30)

    regen, loop, edit = runner.jobs()[1:]
    assert [j["kind"] for j in (regen, loop, edit)] == ["regenerate", "loop", "edit"]
    assert {j["parent_job_id"] for j in (regen, loop, edit)} == {parent["id"]}
    assert regen["prompt"] == parent["prompt"]
    assert regen["seed"] != parent["seed"]
    assert loop["last_image_url"] == loop["image_url"]
    assert edit["prompt"] == "the cat yawns"
    assert edit["seed"] == parent["seed"]
    sent = [s.json for s in video_api.submits if s.json is not None]
    assert sent[-2]["last_image"] == sent[-2]["image"]  # the loop went out with both frames
    regen_post = discord_fake.messages[int(regen["message_id"])]
    link = english.jump_url(discord_fake.guild_id, parent["channel_id"], parent["message_id"])
    fields = {f["name"]: f["value"] for f in regen_post["embeds"][0]["fields"]}
    assert fields[english.FIELD_FROM] == english.made_from(JobKind.REGENERATE, parent["id"], link)


async def test_continue_starts_a_clip_from_the_last_frame(
    bot: Any, runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    video_api.clip_data = make_mp4(640, 480, 1.0)
    post = await deliver(runner, discord_fake)

    pressed = await press(discord_fake, post, "continue")
    await wait_until(lambda: len(delivered(runner)) == 2, 30)

    child = runner.jobs()[1]
    assert (child["kind"], child["parent_job_id"]) == ("continue", runner.jobs()[0]["id"])
    reply = discord_fake.original_response(pressed)
    assert reply is not None
    (frame,) = reply["attachments"]  # the last frame, uploaded so the API gets a link
    assert frame["filename"] == "last-frame.png"
    assert video_api.submits[-1].json["image"] == child["image_url"] == frame["url"]
    assert video_api.submits[-1].json.get("last_image") is None
    assert discord_fake.upload_of(frame).data is not None
    assert discord_fake.upload_of(frame).data.startswith(b"\x89PNG")


async def test_a_stranger_is_refused_politely_and_nothing_starts(
    bot: Any, runner: BotRunner, discord_fake: FakeDiscord
) -> None:
    post = await deliver(runner, discord_fake)
    bob = discord_fake.add_member("bob")

    for action in ("regen", "continue", "loop", "edit", "delete"):
        pressed = await press(discord_fake, post, action, user_id=bob, username="bob")
        text = await reply_to(discord_fake, pressed)
        expected = english.DELETE_NOT_ALLOWED if action == "delete" else english.BUTTON_NOT_YOURS
        assert text == expected
        assert discord_fake.original_response(pressed)["flags"] & p.FLAG_EPHEMERAL
    assert len(runner.jobs()) == 1
    assert int(post["id"]) in discord_fake.messages


async def test_a_moderator_deletes_a_post_and_a_second_press_is_answered_politely(
    bot: Any, runner: BotRunner, discord_fake: FakeDiscord
) -> None:
    post = await deliver(runner, discord_fake)
    mod = discord_fake.add_member("mod")

    pressed = await press(
        discord_fake,
        post,
        "delete",
        user_id=mod,
        username="mod",
        member_permissions=p.MANAGE_MESSAGES | p.VIEW_CHANNEL | p.SEND_MESSAGES,
    )

    assert await reply_to(discord_fake, pressed) == english.POST_DELETED
    assert int(post["id"]) not in discord_fake.messages
    await wait_until(lambda: runner.jobs()[0]["post_deleted_at"] is not None)


async def test_the_quota_is_checked_again_when_a_button_is_pressed(
    runner: BotRunner, discord_fake: FakeDiscord
) -> None:
    await runner.start(default_user_daily_limit="1")
    post = await deliver(runner, discord_fake)

    for action in ("regen", "continue"):
        pressed = await press(discord_fake, post, action)
        text = await reply_to(discord_fake, pressed)
        assert "daily limit of 1 clip" in text, text
    assert len(runner.jobs()) == 1


async def test_buttons_work_after_a_restart(
    runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    video_api.clip_data = make_mp4(640, 480, 1.0)
    first = await runner.start()
    post = await deliver(runner, discord_fake)
    assert await first.stop() == 0

    await runner.start()
    await press(discord_fake, post, "regen")
    await wait_until(lambda: len(delivered(runner)) == 2, 30)
    await press(discord_fake, post, "continue")
    await wait_until(lambda: len(delivered(runner)) == 3, 30)

    assert [j["kind"] for j in runner.jobs()] == ["animate", "regenerate", "continue"]


async def test_a_clip_delivered_by_dm_carries_no_buttons(
    bot: Any, runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    # A DM has no guild, so no button there could ever work: the post must not offer them.
    video_api.hold()
    interaction = animate_interaction(discord_fake)
    await discord_fake.send_interaction(interaction)
    await video_api.wait_for(lambda: len(video_api.predictions) == 1)
    (prediction_id,) = video_api.predictions
    discord_fake.expire_token(interaction["token"])  # no followup either
    discord_fake.deny_channel_post(discord_fake.channel_id)
    video_api.complete_now(prediction_id)

    await wait_until(lambda: len(delivered(runner)) == 1, 30)

    job = delivered(runner)[0]
    assert job["delivered_via"] == "dm"
    post = discord_fake.messages[int(job["message_id"])]
    assert int(post["channel_id"]) != discord_fake.channel_id
    assert post["attachments"][0]["filename"] == f"animate-{job['id']}.mp4"
    assert discord_buttons(post) == []
