"""Cancel end to end: the button on the progress message and the moderation log, who may press
it, what a cancelled job leaves behind, restarts, and `/animate-admin cancel`."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from typing import Any

from bot.jobs.model import JobState
from tests.e2e.conftest import (
    BotRunner,
    animate_interaction,
    is_clip_post,
    progress_texts,
    wait_until,
)
from tests.english import english
from tests.fakes.discord import FakeDiscord, RecordedRequest
from tests.fakes.discord.constants import MANAGE_MESSAGES
from tests.fakes.fake_vibedream import FakeVibedream

EPHEMERAL = 1 << 6


def cancel_id(job_id: int) -> str:
    return f"animate:cancel:{job_id}"


def job_row(runner: BotRunner, job_id: int) -> Any:
    return next(row for row in runner.jobs() if row["id"] == job_id)


def state_of(runner: BotRunner, job_id: int) -> str:
    return str(job_row(runner, job_id)["state"])


def job_id_for(runner: BotRunner, prompt: str) -> int | None:
    return next((int(row["id"]) for row in runner.jobs() if row["prompt"] == prompt), None)


def custom_ids(message: dict[str, Any] | None) -> list[str]:
    if message is None:
        return []
    return [str(b.get("custom_id")) for b in FakeDiscord.buttons_of(message)]


def submitted_prompts(api: FakeVibedream) -> list[str]:
    return [
        str(r.json["prompt"]) for r in api.submits if r.status == 200 and isinstance(r.json, dict)
    ]


def prediction_of(runner: BotRunner, job_id: int) -> str:
    prediction = job_row(runner, job_id)["prediction_id"]
    assert prediction is not None
    return str(prediction)


def clip_posts(discord: FakeDiscord) -> list[RecordedRequest]:
    return [r for r in discord.requests if is_clip_post(discord.channel_id)(r)]


async def start_job(
    discord: FakeDiscord, runner: BotRunner, prompt: str, *, button: bool = True, **kwargs: Any
) -> tuple[dict[str, Any], int]:
    """Send /animate; return the interaction once its job row exists and (with `button`, for a
    job that cannot finish meanwhile) its message shows a Cancel button."""
    interaction = animate_interaction(discord, prompt=prompt, **kwargs)
    await discord.send_interaction(interaction)
    await wait_until(lambda: job_id_for(runner, prompt) is not None)
    job_id = job_id_for(runner, prompt)
    assert job_id is not None
    if not button:
        return interaction, job_id
    await wait_until(
        lambda: cancel_id(job_id) in custom_ids(discord.original_response(interaction))
    )
    return interaction, job_id


async def press(
    discord: FakeDiscord, message_id: int, custom_id: str, **kwargs: Any
) -> dict[str, Any]:
    """Press a button and return the body of the bot's answer to the press."""
    press = discord.make_component_interaction(message_id, custom_id, **kwargs)
    await discord.send_interaction(press)
    answer = await discord.wait_for_request(
        lambda r: r.method == "POST" and r.path.startswith(f"/interactions/{press['id']}/"), 10
    )
    assert answer.status in (200, 204), answer.status
    assert isinstance(answer.json, dict)
    return answer.json


def assert_ephemeral_reply(answer: dict[str, Any], text: str) -> None:
    assert answer["type"] == 4
    assert answer["data"]["content"] == text
    assert answer["data"]["flags"] & EPHEMERAL


def original_id(discord: FakeDiscord, interaction: dict[str, Any]) -> int:
    message = discord.original_response(interaction)
    assert message is not None
    return int(message["id"])


async def admin_command(
    discord: FakeDiscord, sub: str, options: list[dict[str, Any]], **kwargs: Any
) -> dict[str, Any]:
    """Run `/animate-admin <sub>` as the server owner; return the bot's first answer."""
    interaction = discord.make_interaction(
        "animate-admin", discord.subcommand(sub, options=options), user_id=discord.owner_id
    )
    await discord.send_interaction(interaction)
    answer = await discord.wait_for_request(
        lambda r: r.method == "POST" and r.path.startswith(f"/interactions/{interaction['id']}/"),
        10,
    )
    assert isinstance(answer.json, dict)
    return answer.json


# The button on the progress message -----------------------------------------------------------


async def test_progress_message_offers_cancel_while_running_and_drops_it_when_done(
    runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    await runner.start()
    video_api.hold()
    interaction, job_id = await start_job(discord_fake, runner, "the cat blinks")
    await wait_until(lambda: state_of(runner, job_id) == "submitted")
    await wait_until(
        lambda: any("Generating" in t for t in progress_texts(discord_fake, interaction))
    )
    message = discord_fake.original_response(interaction)
    assert message is not None
    assert message["flags"] & EPHEMERAL
    assert custom_ids(message) == [cancel_id(job_id)]

    video_api.release()
    await wait_until(lambda: state_of(runner, job_id) == "delivered")
    await wait_until(lambda: "Done" in progress_texts(discord_fake, interaction)[-1])
    assert custom_ids(discord_fake.original_response(interaction)) == []


async def test_requester_cancels_a_queued_job_which_is_never_submitted(
    runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    await runner.start(max_jobs_in_flight="1")
    video_api.hold()
    _, first = await start_job(discord_fake, runner, "first runs")
    await wait_until(lambda: state_of(runner, first) == "submitted")
    second_interaction, second = await start_job(discord_fake, runner, "second waits")
    _, third = await start_job(discord_fake, runner, "third waits")
    assert state_of(runner, second) == "queued"
    assert job_row(runner, second)["reserved_cents"] > 0

    requester = int(second_interaction["member"]["user"]["id"])
    answer = await press(
        discord_fake, original_id(discord_fake, second_interaction), cancel_id(second)
    )

    assert_ephemeral_reply(answer, english.cancel_done(second))
    await wait_until(lambda: state_of(runner, second) == "cancelled")
    row = job_row(runner, second)
    assert row["cancelled_by"] == requester
    assert row["reserved_cents"] == 0
    assert row["cost_cents"] == 0
    cancelled_text = english.cancelled(requester, requester)
    await wait_until(lambda: progress_texts(discord_fake, second_interaction)[-1] == cancelled_text)
    assert custom_ids(discord_fake.original_response(second_interaction)) == []

    # When the running job ends, the third (not the cancelled second) takes its slot.
    video_api.complete_now(prediction_of(runner, first))
    await wait_until(lambda: state_of(runner, third) == "submitted")
    assert submitted_prompts(video_api) == ["first runs", "third waits"]
    assert state_of(runner, second) == "cancelled"
    assert progress_texts(discord_fake, second_interaction)[-1] == cancelled_text


async def test_cancelling_a_generating_job_frees_its_slot_and_never_posts_it(
    runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    await runner.start(max_jobs_in_flight="1")
    video_api.hold()
    first_interaction, first = await start_job(discord_fake, runner, "first is cancelled")
    await wait_until(lambda: state_of(runner, first) == "submitted")
    _, second = await start_job(discord_fake, runner, "second gets the slot")

    answer = await press(
        discord_fake, original_id(discord_fake, first_interaction), cancel_id(first)
    )

    assert_ephemeral_reply(answer, english.cancel_done(first))
    await wait_until(lambda: state_of(runner, second) == "submitted")  # the slot is free
    video_api.complete_now(prediction_of(runner, first))
    video_api.complete_now(prediction_of(runner, second))
    await wait_until(lambda: state_of(runner, second) == "delivered")
    (post,) = clip_posts(discord_fake)
    assert f"Job #{second} " in post.json["embeds"][0]["footer"]["text"]
    row = job_row(runner, first)
    assert row["state"] == "cancelled"
    assert row["cost_cents"] == video_api.cost_cents  # what the API charged
    assert row["reserved_cents"] == 0
    assert row["message_id"] is None


# Who may press it ------------------------------------------------------------------------------


async def test_moderator_cancels_from_the_moderation_log(
    runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    log_channel = discord_fake.add_channel("animate-log")
    moderators = discord_fake.add_role("moderators", MANAGE_MESSAGES)
    moderator = discord_fake.add_member("mod", roles=[moderators])
    await runner.start()
    answer = await admin_command(
        discord_fake, "mod-log", [discord_fake.channel_option("channel", log_channel)]
    )
    assert answer["data"]["content"] == english.CONFIG_SAVED
    video_api.hold()
    interaction, job_id = await start_job(discord_fake, runner, "watched by mods")
    await wait_until(lambda: job_row(runner, job_id)["mod_log_message_id"] is not None)
    entry_id = int(job_row(runner, job_id)["mod_log_message_id"])
    entry = discord_fake.messages[entry_id]
    assert int(entry["channel_id"]) == log_channel
    assert custom_ids(entry) == [cancel_id(job_id)]

    answer = await press(discord_fake, entry_id, cancel_id(job_id), user_id=moderator)

    assert_ephemeral_reply(answer, english.cancel_done(job_id))
    await wait_until(lambda: state_of(runner, job_id) == "cancelled")
    assert job_row(runner, job_id)["cancelled_by"] == moderator
    await wait_until(lambda: "Cancelled" in discord_fake.messages[entry_id]["embeds"][0]["title"])
    entry = discord_fake.messages[entry_id]
    assert custom_ids(entry) == []
    assert f"<@{moderator}>" in str(entry["embeds"][0]["fields"])
    requester = int(interaction["member"]["user"]["id"])
    await wait_until(
        lambda: (
            progress_texts(discord_fake, interaction)[-1] == english.cancelled(moderator, requester)
        )
    )


async def test_mod_log_entry_loses_its_button_once_the_clip_is_posted(
    runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    log_channel = discord_fake.add_channel("animate-log")
    await runner.start()
    await admin_command(
        discord_fake, "mod-log", [discord_fake.channel_option("channel", log_channel)]
    )

    _, job_id = await start_job(discord_fake, runner, "posted and logged", button=False)

    await wait_until(lambda: state_of(runner, job_id) == "delivered")
    await wait_until(lambda: job_row(runner, job_id)["mod_log_message_id"] is not None)
    entry_id = int(job_row(runner, job_id)["mod_log_message_id"])
    await wait_until(lambda: "Delivered" in discord_fake.messages[entry_id]["embeds"][0]["title"])
    entry = discord_fake.messages[entry_id]
    assert custom_ids(entry) == []
    assert "Posted clip" in str(entry["embeds"][0]["fields"])
    assert len(discord_fake.channel_messages(log_channel)) == 1


async def test_another_member_cannot_cancel_someone_elses_job(
    runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    stranger = discord_fake.add_member("stranger")
    await runner.start()
    video_api.hold()
    interaction, job_id = await start_job(discord_fake, runner, "mine alone")
    await wait_until(lambda: state_of(runner, job_id) == "submitted")

    # Discord would not show them an ephemeral message; the press is forged, so the bot's own
    # check is what refuses it.
    answer = await press(
        discord_fake, original_id(discord_fake, interaction), cancel_id(job_id), user_id=stranger
    )

    assert_ephemeral_reply(answer, english.CANCEL_NOT_ALLOWED)
    row = job_row(runner, job_id)
    assert row["state"] == "submitted"
    assert row["cancelled_by"] is None
    video_api.release()
    await wait_until(lambda: state_of(runner, job_id) == "delivered")
    assert len(clip_posts(discord_fake)) == 1


# Restarts -------------------------------------------------------------------------------------


async def test_cancel_button_works_after_a_crash_and_restart(
    runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    first_bot = await runner.start()
    video_api.hold()
    interaction, job_id = await start_job(discord_fake, runner, "survives a crash")
    await wait_until(lambda: state_of(runner, job_id) == "submitted")
    await first_bot.kill()
    await runner.start()

    answer = await press(discord_fake, original_id(discord_fake, interaction), cancel_id(job_id))

    assert_ephemeral_reply(answer, english.cancel_done(job_id))
    await wait_until(lambda: state_of(runner, job_id) == "cancelled")
    video_api.complete_now(prediction_of(runner, job_id))
    requester = int(interaction["member"]["user"]["id"])
    await wait_until(
        lambda: (
            progress_texts(discord_fake, interaction)[-1] == english.cancelled(requester, requester)
        )
    )
    await asyncio.sleep(0.5)  # room for a stray poll to find the clip and post it
    assert clip_posts(discord_fake) == []
    assert state_of(runner, job_id) == "cancelled"


async def test_pressing_cancel_on_a_delivered_job_says_it_already_finished(
    runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    first_bot = await runner.start()
    video_api.hold()
    interaction, job_id = await start_job(discord_fake, runner, "finishes first")
    await wait_until(lambda: state_of(runner, job_id) == "submitted")
    # Built while the button is still there, sent after the job is done (a late press).
    late = discord_fake.make_component_interaction(
        original_id(discord_fake, interaction), cancel_id(job_id)
    )
    await first_bot.stop(signal.SIGTERM)
    await runner.start()
    video_api.release()
    await wait_until(lambda: state_of(runner, job_id) == "delivered")

    await discord_fake.send_interaction(late)
    answer = await discord_fake.wait_for_request(
        lambda r: r.method == "POST" and r.path.startswith(f"/interactions/{late['id']}/"), 10
    )

    assert isinstance(answer.json, dict)
    assert_ephemeral_reply(answer.json, english.cannot_cancel(JobState.DELIVERED))
    assert state_of(runner, job_id) == "delivered"
    assert len(clip_posts(discord_fake)) == 1


# /animate-admin cancel ------------------------------------------------------------------------


async def test_admin_cancels_a_job_by_number(
    runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    await runner.start()
    video_api.hold()
    interaction, job_id = await start_job(discord_fake, runner, "stopped by an admin")

    answer = await admin_command(
        discord_fake, "cancel", [discord_fake.integer_option("job", job_id)]
    )

    assert_ephemeral_reply(answer, english.cancel_done(job_id))
    await wait_until(lambda: state_of(runner, job_id) == "cancelled")
    assert job_row(runner, job_id)["cancelled_by"] == discord_fake.owner_id
    requester = int(interaction["member"]["user"]["id"])
    await wait_until(
        lambda: (
            progress_texts(discord_fake, interaction)[-1]
            == english.cancelled(discord_fake.owner_id, requester)
        )
    )


async def test_admin_cancel_refuses_unknown_jobs_and_other_servers_jobs(
    runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    await runner.start()
    video_api.hold()
    _, job_id = await start_job(discord_fake, runner, "ours")
    await wait_until(lambda: state_of(runner, job_id) == "submitted")
    # A job another server started on the same bot (same database).
    with contextlib.closing(runner.db()) as db, db:
        columns = [r["name"] for r in db.execute("PRAGMA table_info(jobs)") if r["name"] != "id"]
        listed = ", ".join(columns)
        changed = {"guild_id": "guild_id + 1", "prediction_id": "NULL", "nonce": "nonce || 'x'"}
        picked = ", ".join(changed.get(c, c) for c in columns)
        cursor = db.execute(
            f"INSERT INTO jobs ({listed}) SELECT {picked} FROM jobs WHERE id = ?", (job_id,)
        )
        foreign = cursor.lastrowid
    assert foreign is not None

    for unknown in (foreign, job_id + 1000):
        answer = await admin_command(
            discord_fake, "cancel", [discord_fake.integer_option("job", unknown)]
        )
        assert_ephemeral_reply(answer, english.NO_SUCH_JOB)
    assert state_of(runner, foreign) == job_row(runner, job_id)["state"]
    assert job_row(runner, foreign)["cancelled_by"] is None
