"""Right-click → Apps → "Animate this image": the form, then the same job as /animate."""

from __future__ import annotations

import contextlib
from typing import Any

from tests.e2e.conftest import (
    BotProcess,
    BotRunner,
    is_clip_post,
    png_bytes,
    progress_texts,
    wait_until,
)
from tests.fakes.discord import FakeDiscord
from tests.fakes.fake_vibedream import FakeVibedream

MENU = "Animate this image"
MODAL_RESPONSE = 9


async def open_form(discord: FakeDiscord, message: dict[str, Any]) -> dict[str, Any]:
    """Right-click the message; returns the interaction once the bot answered with its form."""
    interaction = discord.make_message_command_interaction(MENU, int(message["id"]))
    await discord.send_interaction(interaction)
    await wait_until(lambda: discord.modal_of(interaction) is not None)
    return interaction


def private_answer(discord: FakeDiscord, interaction: dict[str, Any]) -> str:
    """The text of the bot's ephemeral answer to `interaction` ("" if none yet): its reply, or
    the latest edit of its deferred ("thinking") reply."""
    for call in discord.callbacks():
        if interaction["id"] in call.path and call.json and call.json.get("type") in (4, 5):
            data = call.json["data"]
            assert data["flags"] & 64  # only the user sees it
            if call.json["type"] == 4:
                return str(data.get("content"))
            return (progress_texts(discord, interaction) or [""])[-1]
    return ""


def forms_stored(runner: BotRunner) -> int:
    with contextlib.closing(runner.db()) as db:
        (count,) = db.execute("SELECT COUNT(*) FROM open_forms").fetchone()
    return int(count)


async def test_an_attached_image_is_animated_through_the_form(
    bot: BotProcess, runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    image = discord_fake.add_attachment(
        "gulls.png", png_bytes(640, 480), "image/png", width=640, height=480
    )
    message = discord_fake.add_user_message(content="look!", attachments=[image])

    opener = await open_form(discord_fake, message)
    modal = discord_fake.modal_of(opener)
    assert modal is not None
    assert modal["title"] == MENU
    submit = discord_fake.make_modal_submit_interaction(
        opener, {"prompt": "the gulls take off", "duration": "8"}
    )
    await discord_fake.send_interaction(submit)
    await discord_fake.wait_for_request(is_clip_post(discord_fake.channel_id), 20)

    (sent,) = [r.json for r in video_api.submits if r.status == 200]
    assert sent["image"] == image["url"]
    assert sent["prompt"] == "the gulls take off"
    assert sent["duration"] == 8
    await wait_until(lambda: runner.jobs()[0]["state"] == "delivered")
    assert runner.jobs()[0]["kind"] == "context"  # how it was started, as the history shows it


async def test_a_pasted_image_link_is_fetched_through_the_media_proxy(
    bot: BotProcess, runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    embed = discord_fake.image_embed(
        png_bytes(800, 600),
        width=800,
        height=600,
        filename="harbour.png",
        url="https://example.com/harbour.png",
        unfurl=True,
    )
    message = discord_fake.add_user_message(
        content="https://example.com/harbour.png", embeds=[embed]
    )

    opener = await open_form(discord_fake, message)
    submit = discord_fake.make_modal_submit_interaction(opener, {"prompt": "boats bob gently"})
    await discord_fake.send_interaction(submit)
    await discord_fake.wait_for_request(is_clip_post(discord_fake.channel_id), 20)

    (sent,) = [r.json for r in video_api.submits if r.status == 200]
    assert sent["image"] == embed["thumbnail"]["proxy_url"]
    assert "example.com" not in sent["image"]
    assert runner.jobs()[0]["duration_s"] == 5  # left empty: the default


async def test_a_message_without_an_image_is_answered_at_once_without_a_form(
    bot: BotProcess, runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    message = discord_fake.add_user_message(content="no pictures here")
    interaction = discord_fake.make_message_command_interaction(MENU, int(message["id"]))

    await discord_fake.send_interaction(interaction)
    await wait_until(lambda: private_answer(discord_fake, interaction) != "")

    assert "no image" in private_answer(discord_fake, interaction)
    assert discord_fake.modal_of(interaction) is None
    assert runner.jobs() == []
    assert video_api.submits == []


async def test_a_bad_duration_in_the_form_is_refused_privately_and_costs_nothing(
    bot: BotProcess, runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    image = discord_fake.add_attachment(
        "cat.png", png_bytes(512, 512), "image/png", width=512, height=512
    )
    message = discord_fake.add_user_message(attachments=[image])

    for typed, expected in (("20", "cannot take `duration` 20"), ("ab", "whole number")):
        opener = await open_form(discord_fake, message)
        submit = discord_fake.make_modal_submit_interaction(
            opener, {"prompt": "the cat blinks", "duration": typed}
        )
        await discord_fake.send_interaction(submit)
        await wait_until(lambda s=submit: private_answer(discord_fake, s) != "")
        assert expected in private_answer(discord_fake, submit)

    assert runner.jobs() == []
    assert video_api.submits == []


async def test_a_form_opened_before_a_restart_still_starts_the_job_once(
    bot: BotProcess, runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    image = discord_fake.add_attachment(
        "cat.png", png_bytes(512, 512), "image/png", width=512, height=512
    )
    opener = await open_form(discord_fake, discord_fake.add_user_message(attachments=[image]))
    await wait_until(lambda: forms_stored(runner) == 1)  # written just after the form is shown
    assert await bot.stop() == 0
    await runner.start()

    submit = discord_fake.make_modal_submit_interaction(opener, {"prompt": "the cat blinks"})
    await discord_fake.send_interaction(submit)
    await wait_until(lambda: bool(runner.jobs()) and runner.jobs()[0]["state"] == "delivered", 20)
    (job,) = runner.jobs()
    assert (job["kind"], job["prompt"]) == ("context", "the cat blinks")
    assert video_api.submits[0].json["image"] == image["url"]

    # The same form sent again (a double submit, say) finds nothing: one job per form.
    again = discord_fake.make_modal_submit_interaction(opener, {"prompt": "the cat blinks"})
    await discord_fake.send_interaction(again)
    await wait_until(lambda: private_answer(discord_fake, again) != "")
    assert "Animate this image** again" in private_answer(discord_fake, again)
    assert len(runner.jobs()) == 1


async def test_a_pasted_image_over_the_size_limit_is_refused_before_anything_is_charged(
    runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    # An embed says nothing of its size; the bot learns it from the proxy's Content-Range.
    await runner.start(IMAGE_MAX_BYTES=str(1024 * 1024))
    big = png_bytes(800, 600) + bytes(2 * 1024 * 1024)
    embed = discord_fake.image_embed(big, width=800, height=600, filename="huge.png")
    message = discord_fake.add_user_message(embeds=[embed])

    opener = await open_form(discord_fake, message)
    submit = discord_fake.make_modal_submit_interaction(opener, {"prompt": "boats bob gently"})
    await discord_fake.send_interaction(submit)
    await wait_until(lambda: "MiB" in str(discord_fake.original_response(submit)))

    answer = str(discord_fake.original_response(submit))
    assert "The `image` image is 2.0 MiB; the limit is 1.0 MiB" in answer
    assert runner.jobs() == []
    assert video_api.submits == []
