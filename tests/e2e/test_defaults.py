"""Saved defaults and honest failures, through the real bot process, the fake Discord and the
fake API: /animate-settings then /animate using what was saved; a server's defaults and locks;
the precedence of every level; a failed job that says what it cost and offers Edit prompt."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.jobs import messages, request_messages
from tests.e2e.admin_tools import admin, callback_of, reply_of
from tests.e2e.conftest import BotRunner, animate_interaction, progress_texts, wait_until
from tests.fakes.discord import FakeDiscord, buttons_of, iter_components
from tests.fakes.discord.constants import FLAG_EPHEMERAL
from tests.fakes.fake_vibedream import MODERATION_ERROR, FakeVibedream


async def open_settings(discord: FakeDiscord, user_id: int) -> dict[str, Any]:
    """Run /animate-settings; return its private message (live in the fake)."""
    d = discord.make_interaction("animate-settings", [], user_id=user_id)
    await discord.send_interaction(d)
    data = await reply_of(discord, d)
    assert data["flags"] & FLAG_EPHEMERAL
    message = discord.original_response(d)
    assert message is not None
    return message


async def choose(
    discord: FakeDiscord, message: dict[str, Any], name: str, value: str | None = None
) -> dict[str, Any]:
    """Pick `value` in the form's select `name` (or press its button when `value` is None);
    return the callback the bot answered with."""
    custom_id = f"animate:settings:{name}"
    values = None if value is None else [value]
    d = discord.make_component_interaction(int(message["id"]), custom_id, values=values)
    await discord.send_interaction(d)
    callback = await callback_of(discord, d)
    assert callback.status in (200, 204), callback.response
    return callback.json


def submitted(video_api: FakeVibedream) -> list[dict[str, Any]]:
    return [s.json for s in video_api.submits if s.json is not None]


async def animate(
    discord: FakeDiscord, video_api: FakeVibedream, user_id: int, **extra: Any
) -> dict[str, Any]:
    """Run /animate as `user_id` (with `extra` options typed); return the body the API got
    (the first variation's, when the member's defaults ask for several)."""
    return (await animate_all(discord, video_api, user_id, 1, **extra))[0]


async def animate_all(
    discord: FakeDiscord, video_api: FakeVibedream, user_id: int, count: int, **extra: Any
) -> list[dict[str, Any]]:
    """Run /animate as `user_id`; the bodies of the `count` submits it makes (its variations),
    once all have arrived, so the next call counts only its own."""
    before = len(video_api.submits)
    interaction = animate_interaction(discord, extra=extra or None, user_id=user_id)
    await discord.send_interaction(interaction)
    await wait_until(lambda: len(video_api.submits) >= before + count, 20)
    await asyncio.sleep(0.3)  # room for a stray extra variation to show up
    bodies = submitted(video_api)[before:]
    assert len(bodies) == count
    return bodies


async def test_saved_defaults_are_used_by_animate_and_a_typed_option_still_wins(
    bot: Any, runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    alice = discord_fake.add_member("alice")
    form = await open_settings(discord_fake, alice)
    custom_ids = [c.get("custom_id") for c in iter_components(form["components"])]
    assert "animate:settings:duration" in custom_ids
    assert "animate:settings:variations" in custom_ids

    await choose(discord_fake, form, "duration", "8")
    await choose(discord_fake, form, "resolution", "1080p")
    await choose(discord_fake, form, "variations", "3")
    answer = await choose(discord_fake, form, "camera_fixed")  # default -> still
    assert answer["type"] == 7  # the form is redrawn in place
    shown = discord_fake.messages[int(form["id"])]["content"]
    assert "8 s · 1080p · fixed camera · 3 variations" in shown

    group = await animate_all(discord_fake, video_api, alice, 3)  # the saved 3 variations
    for body in group:
        assert (body["duration"], body["resolution"], body["camera_fixed"]) == (8, "1080p", True)
    assert len({body["seed"] for body in group}) == 3
    typed = await animate_all(
        discord_fake, video_api, alice, 1, duration=5, camera_fixed=False, variations=1
    )
    assert (typed[0]["duration"], typed[0]["resolution"], typed[0]["camera_fixed"]) == (
        5,
        "1080p",
        False,
    )

    await wait_until(lambda: all(j["state"] == "delivered" for j in runner.jobs()), 30)
    with runner.db() as db:
        (variations,) = db.execute("SELECT variations FROM member_defaults").fetchone()
    assert variations == 3  # kept for the variations option
    first = runner.jobs()[0]
    post = discord_fake.messages[int(first["message_id"])]
    assert "8 s · 1080p" in str(post["embeds"])  # what the job used is on the post


async def test_a_value_the_model_does_not_make_is_refused_privately_and_not_saved(
    bot: Any, runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    alice = discord_fake.add_member("alice")
    form = await open_settings(discord_fake, alice)

    answer = await choose(discord_fake, form, "duration", "30")  # a stale or forged choice

    assert answer["type"] == 4
    assert answer["data"]["flags"] & FLAG_EPHEMERAL
    assert "cannot take" in answer["data"]["content"]
    body = await animate(discord_fake, video_api, alice)
    assert body["duration"] == 5  # the bot's DEFAULT_DURATION_S: nothing was saved


async def test_server_defaults_and_a_lock_bound_what_members_get(
    bot: Any, runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    alice = discord_fake.add_member("alice")
    member = discord_fake.add_member("bob")
    form = await open_settings(discord_fake, user_id=member)
    await choose(discord_fake, form, "duration", "10")  # saved before the lock

    await admin(
        discord_fake,
        "defaults",
        options=[
            discord_fake.string_option("name", "resolution"),
            discord_fake.string_option("value", "480p"),
        ],
    )
    view = await admin(
        discord_fake,
        "lock",
        options=[
            discord_fake.string_option("name", "duration"),
            discord_fake.string_option("value", "6"),
        ],
    )
    assert "480p" in str(view["embeds"])
    assert "at most 6 s" in str(view["embeds"])

    # Another member: the server's default resolution, the bot's duration (5, within the lock).
    body = await animate(discord_fake, video_api, alice)
    assert (body["duration"], body["resolution"]) == (5, "480p")
    # bob's saved 10 s is lowered to the lock.
    before = len(video_api.submits)
    await discord_fake.send_interaction(animate_interaction(discord_fake, user_id=member))
    await wait_until(lambda: len(video_api.submits) > before, 20)
    assert (submitted(video_api)[-1]["duration"], submitted(video_api)[-1]["resolution"]) == (
        6,
        "480p",
    )
    # A typed value above the lock is refused privately, and nothing is sent.
    sent = len(video_api.submits)
    d = animate_interaction(discord_fake, extra={"duration": 8})
    await discord_fake.send_interaction(d)
    refusal = await reply_of(discord_fake, d)
    expected = request_messages.over_lock("duration", 8, 6).render()
    assert refusal["content"] == expected
    assert len(video_api.submits) == sent
    # The form no longer offers durations above the lock, and says what bob's clips get.
    form = await open_settings(discord_fake, user_id=member)
    options = next(
        c["options"]
        for c in iter_components(form["components"])
        if c.get("custom_id") == "animate:settings:duration"
    )
    assert [o["value"] for o in options][-1] == "6"
    assert "6 s · 480p" in form["content"]
    # /animate's suggestions stop at the lock too.
    d = discord_fake.make_autocomplete_interaction(
        "animate", [{"name": "duration", "type": 4, "value": ""}], focused="duration"
    )
    await discord_fake.send_interaction(d)
    await callback_of(discord_fake, d)
    assert [c["value"] for c in discord_fake.choices_of(d) or []] == [4, 5, 6]


async def test_precedence_typed_over_member_over_server_over_bot(
    bot: Any, runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    alice = discord_fake.add_member("alice")
    assert (await animate(discord_fake, video_api, alice))["duration"] == 5  # DEFAULT_DURATION_S

    await admin(
        discord_fake,
        "defaults",
        options=[
            discord_fake.string_option("name", "duration"),
            discord_fake.string_option("value", "6"),
        ],
    )
    assert (await animate(discord_fake, video_api, alice))["duration"] == 6  # the server's

    form = await open_settings(discord_fake, alice)
    await choose(discord_fake, form, "duration", "8")
    assert (await animate(discord_fake, video_api, alice))["duration"] == 8  # the member's

    assert (await animate(discord_fake, video_api, alice, duration=4))["duration"] == 4  # typed

    await choose(discord_fake, form, "reset")
    assert (await animate(discord_fake, video_api, alice))["duration"] == 6  # the server's again


async def test_a_job_failed_for_its_prompt_says_what_it_cost_and_offers_edit_prompt(
    bot: Any, runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    video_api.fail_prompts_containing = {"explodes": MODERATION_ERROR}
    interaction = animate_interaction(discord_fake, prompt="the cat explodes")
    await discord_fake.send_interaction(interaction)
    await wait_until(lambda: [j["notified"] for j in runner.jobs()] == [1], 30)

    failed = runner.jobs()[0]
    assert failed["refused_input"] == "prompt"
    last = progress_texts(discord_fake, interaction)[-1]
    assert "The video service charged $0.29 for this attempt." in last
    assert "objected to the **prompt**" in last
    progress = discord_fake.original_response(interaction)
    assert progress is not None
    assert [b["custom_id"] for b in buttons_of(progress)] == [f"animate:edit:{failed['id']}"]

    opener = discord_fake.make_component_interaction(
        int(progress["id"]), f"animate:edit:{failed['id']}"
    )
    await discord_fake.send_interaction(opener)
    await wait_until(lambda: discord_fake.modal_of(opener) is not None)
    modal = discord_fake.modal_of(opener)
    assert modal is not None
    (field,) = [c for c in iter_components(modal["components"]) if c["type"] == 4]
    assert field["value"] == "the cat explodes"
    submit = discord_fake.make_modal_submit_interaction(
        opener, {field["custom_id"]: "the cat sits still"}
    )
    await discord_fake.send_interaction(submit)
    await wait_until(
        lambda: len(runner.jobs()) == 2 and runner.jobs()[1]["state"] == "delivered", 30
    )
    edit = runner.jobs()[1]
    assert (edit["kind"], edit["parent_job_id"], edit["prompt"]) == (
        "edit",
        failed["id"],
        "the cat sits still",
    )


async def test_a_refused_submit_says_nothing_was_charged_and_names_the_input(
    bot: Any, runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    video_api.fail_next("submit", 400, body=b'{"error": "image: could not be fetched"}')
    interaction = animate_interaction(discord_fake)
    await discord_fake.send_interaction(interaction)
    await wait_until(lambda: [j["notified"] for j in runner.jobs()] == [1], 30)

    job = runner.jobs()[0]
    assert (job["state"], job["cost_cents"], job["refused_input"]) == ("failed", 0, "image")
    last = progress_texts(discord_fake, interaction)[-1]
    assert messages.NOT_CHARGED.render() in last
    assert "objected to the **image**" in last
    progress = discord_fake.original_response(interaction)
    assert progress is not None
    assert buttons_of(progress) == []
