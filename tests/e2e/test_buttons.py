"""Buttons on every result post, through the real bot process, the fake Discord and the fake API:
Regenerate, Edit prompt, Continue, Loop, GIF and Delete, who may press them, the quota at the
press, and a restart between the post and the press. The GIF button's own tests are in
`test_gif.py`."""

from __future__ import annotations

from typing import Any

from bot.jobs.model import JobKind
from tests.e2e.admin_tools import admin
from tests.e2e.conftest import (
    BotRunner,
    animate_interaction,
    wait_until,
)
from tests.english import english
from tests.fakes.clips import make_mp4
from tests.fakes.discord import FakeDiscord, buttons_of, iter_components
from tests.fakes.discord.constants import (
    FLAG_EPHEMERAL,
    MANAGE_MESSAGES,
    SEND_MESSAGES,
    VIEW_CHANNEL,
)
from tests.fakes.fake_vibedream import FakeVibedream

ACTIONS = ("regen", "edit", "continue", "loop", "gif", "delete")


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
    kwargs.setdefault("user_id", post_author(post))
    interaction = discord.make_component_interaction(
        int(post["id"]), f"animate:{action}:{job_id}", **kwargs
    )
    await discord.send_interaction(interaction)
    return interaction


def post_author(post: dict[str, Any]) -> int:
    """Who asked for the clip of a result post."""
    return int(post["embeds"][0]["fields"][0]["value"].strip("<@>"))


def post_job_id(post: dict[str, Any]) -> int:
    (button,) = [b for b in discord_buttons(post) if b["custom_id"].startswith("animate:regen:")]
    return int(button["custom_id"].rsplit(":", 1)[1])


def discord_buttons(post: dict[str, Any]) -> list[dict[str, Any]]:
    return buttons_of(post)


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
    (field,) = [c for c in iter_components(modal["components"]) if c["type"] == 4]
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
        assert discord_fake.original_response(pressed)["flags"] & FLAG_EPHEMERAL
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
        member_permissions=MANAGE_MESSAGES | VIEW_CHANNEL | SEND_MESSAGES,
    )

    assert await reply_to(discord_fake, pressed) == english.POST_DELETED
    assert int(post["id"]) not in discord_fake.messages
    await wait_until(lambda: runner.jobs()[0]["post_deleted_at"] is not None)


async def test_a_deleted_post_is_no_longer_linked_from_history_usage_or_the_mod_log(
    runner: BotRunner, discord_fake: FakeDiscord
) -> None:
    mod_log = discord_fake.add_channel("mod-log")
    await runner.start()
    await admin(discord_fake, "mod-log", options=[discord_fake.channel_option("channel", mod_log)])
    post = await deliver(runner, discord_fake)
    link = english.jump_url(discord_fake.guild_id, discord_fake.channel_id, int(post["id"]))
    await wait_until(lambda: runner.jobs()[0]["mod_log_message_id"] is not None)
    entry_id = runner.jobs()[0]["mod_log_message_id"]
    await wait_until(lambda: link in str(discord_fake.messages[entry_id]["embeds"]))

    pressed = await press(discord_fake, post, "delete")
    assert await reply_to(discord_fake, pressed) == english.POST_DELETED

    await wait_until(lambda: link not in str(discord_fake.messages[entry_id]["embeds"]))
    alice = post_author(post)
    for command in ("animate-history", "usage"):
        asked = discord_fake.make_interaction(command, user_id=alice)
        await discord_fake.send_interaction(asked)
        callback = await discord_fake.wait_for_request(
            lambda r, i=asked: r.method == "POST" and r.path.startswith(f"/interactions/{i['id']}/")
        )
        (embed,) = callback.json["data"]["embeds"]
        assert link not in embed["description"]
        assert "🗑️ post deleted <t:" in embed["description"]
    (entry,) = discord_fake.messages[entry_id]["embeds"]
    result = {f["name"]: f["value"] for f in entry["fields"]}["Result"]
    assert result.startswith("🗑️ post deleted <t:")


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


async def open_editor(discord: FakeDiscord, post: dict[str, Any]) -> dict[str, Any]:
    """Press Edit prompt; return the press once the bot answered it with its form."""
    opener = await press(discord, post, "edit")
    await wait_until(lambda: discord.modal_of(opener) is not None)
    return opener


def prompt_field(discord: FakeDiscord, opener: dict[str, Any]) -> dict[str, Any]:
    modal = discord.modal_of(opener)
    assert modal is not None
    (field,) = [c for c in iter_components(modal["components"]) if c["type"] == 4]
    return field


async def test_an_edit_form_opened_before_a_restart_is_submitted_after_it(
    runner: BotRunner, discord_fake: FakeDiscord
) -> None:
    first = await runner.start(prompt_max_chars="300")
    post = await deliver(runner, discord_fake)
    opener = await open_editor(discord_fake, post)
    field = prompt_field(discord_fake, opener)
    assert field["max_length"] == 300  # the server's setting, as the submit is checked against
    assert discord_fake.modal_of(opener)["custom_id"] == f"animate:edit-form:{post_job_id(post)}"
    assert await first.stop() == 0

    await runner.start(prompt_max_chars="300")
    submit = discord_fake.make_modal_submit_interaction(
        opener, {field["custom_id"]: "the cat yawns"}
    )
    await discord_fake.send_interaction(submit)
    await wait_until(lambda: len(delivered(runner)) == 2, 30)

    parent, edit = runner.jobs()
    assert (edit["kind"], edit["parent_job_id"], edit["prompt"]) == (
        "edit",
        parent["id"],
        "the cat yawns",
    )


async def test_edit_of_an_erased_prompt_is_refused_before_the_form_opens(
    bot: Any, runner: BotRunner, discord_fake: FakeDiscord
) -> None:
    post = await deliver(runner, discord_fake)
    forget = discord_fake.make_interaction(
        "usage", [discord_fake.boolean_option("forget", True)], user_id=post_author(post)
    )
    await discord_fake.send_interaction(forget)
    await wait_until(lambda: runner.jobs()[0]["redacted"] == 1)

    pressed = await press(discord_fake, post, "edit")

    assert await reply_to(discord_fake, pressed) == english.SOURCE_GONE
    assert discord_fake.modal_of(pressed) is None
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
