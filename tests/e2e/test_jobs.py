"""Job lifecycle end to end: failures, retries, size limits, expiry, restarts, mentions."""

from __future__ import annotations

import asyncio
import signal

from tests.e2e.conftest import (
    API_KEY,
    DISCORD_TOKEN,
    BotProcess,
    BotRunner,
    animate_interaction,
    is_clip_post,
    progress_texts,
    wait_until,
)
from tests.fakes.discord import FakeDiscord, RecordedRequest
from tests.fakes.fake_vibedream import MODERATION_ERROR, FakeVibedream

MiB = 1024 * 1024


def clip_posts(discord: FakeDiscord) -> list[RecordedRequest]:
    return [r for r in discord.requests if is_clip_post(discord.channel_id)(r)]


def channel_posts(discord: FakeDiscord) -> list[RecordedRequest]:
    path = f"/channels/{discord.channel_id}/messages"
    return [r for r in discord.requests if r.method == "POST" and r.path == path]


async def test_moderation_failure_tells_the_user_the_api_reason(
    bot: BotProcess, runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    video_api.fail_prompts_containing = {"forbidden": MODERATION_ERROR}
    interaction = animate_interaction(discord_fake, prompt="something forbidden")

    await discord_fake.send_interaction(interaction)
    await wait_until(
        lambda: any("could not be made" in t for t in progress_texts(discord_fake, interaction))
    )

    final = progress_texts(discord_fake, interaction)[-1]
    assert MODERATION_ERROR in final
    assert clip_posts(discord_fake) == []
    (job,) = runner.jobs()
    assert job["state"] == "failed"
    assert job["cost_cents"] == video_api.cost_cents  # what the API charged, nothing more


async def test_rate_limits_and_server_errors_are_retried_to_one_clip(
    bot: BotProcess, runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    video_api.fail_next("submit", 429, retry_after=0.3)
    video_api.fail_next("submit", 503, retry_after=0.2)
    video_api.fail_next("status", 502, times=2)
    video_api.fail_next("asset", 500, times=2)

    await discord_fake.send_interaction(animate_interaction(discord_fake))
    await discord_fake.wait_for_request(is_clip_post(discord_fake.channel_id), 20)

    assert [r.status for r in video_api.submits] == [429, 503, 200]
    assert len(video_api.predictions) == 1
    await wait_until(lambda: runner.jobs()[0]["state"] == "delivered")
    assert len(clip_posts(discord_fake)) == 1


async def test_clip_over_the_upload_limit_is_posted_as_an_expiring_link(
    bot: BotProcess, runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    video_api.clip_bytes = 11 * MiB  # over the 10 MiB of an unboosted server

    await discord_fake.send_interaction(animate_interaction(discord_fake))
    post = await discord_fake.wait_for_request(
        lambda r: r in channel_posts(discord_fake) and r.status == 200, 20
    )

    # No clip: only its source image, which the post's buttons reuse.
    assert [f.filename for f in post.files] == ["source-first.png"]
    (embed,) = post.json["embeds"]
    (prediction,) = video_api.predictions.values()
    assert embed["url"] == prediction.outputs[0]
    assert "expires <t:" in str(embed["fields"])
    await wait_until(lambda: runner.jobs()[0]["delivered_as"] == "link")
    assert list(runner.download_dir.iterdir()) == []  # nothing of it was kept


async def test_upload_refused_as_too_large_falls_back_to_a_link(
    bot: BotProcess, runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    discord_fake.upload_limit_bytes = 32 * 1024  # Discord says no even though we expected yes
    video_api.clip_bytes = 64 * 1024

    await discord_fake.send_interaction(animate_interaction(discord_fake))
    await wait_until(lambda: any(r.status == 413 for r in channel_posts(discord_fake)))
    link = await discord_fake.wait_for_request(
        lambda r: r in channel_posts(discord_fake) and r.status == 200, 20
    )

    # With its source image, again without it, then as a link (with it: the clip was the problem).
    tried = [[f.filename for f in r.files] for r in channel_posts(discord_fake)]
    clip = f"animate-{runner.jobs()[0]['id']}.mp4"
    assert tried == [[clip, "source-first.png"], [clip], ["source-first.png"]]
    assert "expires <t:" in str(link.json["embeds"])
    await wait_until(lambda: runner.jobs()[0]["delivered_as"] == "link")


async def test_job_outliving_its_interaction_token_is_still_delivered_in_the_channel(
    bot: BotProcess, runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    video_api.hold()
    interaction = animate_interaction(discord_fake)
    await discord_fake.send_interaction(interaction)
    await video_api.wait_for(lambda: len(video_api.predictions) == 1)

    discord_fake.expire_token(interaction["token"])
    await wait_until(lambda: any(r.status == 401 for r in discord_fake.webhook_edits()))
    (prediction_id,) = video_api.predictions
    video_api.complete_now(prediction_id)

    await discord_fake.wait_for_request(is_clip_post(discord_fake.channel_id), 20)
    await wait_until(lambda: runner.jobs()[0]["state"] == "delivered")
    # Once the token was known dead the bot stopped using it.
    assert sum(r.status == 401 for r in discord_fake.webhook_edits()) == 1


async def test_restart_while_generating_delivers_the_clip_exactly_once(
    bot: BotProcess, runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    video_api.hold()
    await discord_fake.send_interaction(animate_interaction(discord_fake))
    await video_api.wait_for(lambda: len(video_api.predictions) == 1)
    await wait_until(lambda: runner.jobs()[0]["state"] == "submitted")

    await bot.kill()
    (prediction_id,) = video_api.predictions
    video_api.complete_now(prediction_id)
    await runner.start()

    await discord_fake.wait_for_request(is_clip_post(discord_fake.channel_id), 20)
    await wait_until(lambda: runner.jobs()[0]["state"] == "delivered")
    await asyncio.sleep(0.5)
    assert len(clip_posts(discord_fake)) == 1
    assert len(video_api.submits) == 1


async def test_restart_right_after_the_upload_does_not_post_twice(
    bot: BotProcess, runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    await discord_fake.send_interaction(animate_interaction(discord_fake))
    await discord_fake.wait_for_request(is_clip_post(discord_fake.channel_id), 20)
    await wait_until(lambda: runner.jobs()[0]["state"] == "delivered")
    await bot.kill()
    with runner.db() as db:  # as if the process died before recording the upload
        db.execute("UPDATE jobs SET state = 'delivering', message_id = NULL, notified = 0")

    await runner.start()
    await wait_until(lambda: len(clip_posts(discord_fake)) == 2)  # the bot did try again...
    await wait_until(lambda: runner.jobs()[0]["state"] == "delivered")

    stored = [
        m for m in discord_fake.channel_messages(discord_fake.channel_id) if m.get("attachments")
    ]
    assert len(stored) == 1  # ...but the nonce made Discord return the first message
    assert runner.jobs()[0]["message_id"] == int(stored[0]["id"])


async def test_restart_while_a_submit_is_on_the_wire_never_sends_it_twice(
    bot: BotProcess, runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    video_api.submit_answer_delay_s = 60  # the API took the job; its answer is slow
    await discord_fake.send_interaction(animate_interaction(discord_fake))
    await video_api.wait_for(lambda: len(video_api.predictions) == 1)
    assert runner.jobs()[0]["state"] == "submitting"  # recorded before the request went out

    await bot.kill()
    await runner.start()
    await wait_until(lambda: runner.jobs()[0]["notified"] == 1)

    assert len(video_api.submits) == 1
    assert runner.jobs()[0]["state"] == "failed"
    assert "not re-sent" in runner.jobs()[0]["error"]


async def test_everyone_in_a_prompt_never_pings(
    bot: BotProcess, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    interaction = animate_interaction(discord_fake, prompt="@everyone @here <@123> dance")
    await discord_fake.send_interaction(interaction)
    await discord_fake.wait_for_request(is_clip_post(discord_fake.channel_id), 20)
    await wait_until(lambda: any("Done" in t for t in progress_texts(discord_fake, interaction)))

    bodies = [
        r.json
        for r in discord_fake.requests
        if r.method in ("POST", "PATCH")
        and isinstance(r.json, dict)
        and ("content" in r.json or "embeds" in r.json)
    ]
    assert bodies
    requester = int(interaction["member"]["user"]["id"])
    only_requester = {"parse": [], "users": [requester]}  # the clip post, to notify them
    for body in bodies:
        assert body.get("allowed_mentions") in ({"parse": []}, only_requester), body
    assert all(not m.get("mention_everyone") for m in discord_fake.messages.values())
    mentioned = {int(u["id"]) for m in discord_fake.messages.values() for u in m["mentions"]}
    assert mentioned == {requester}


async def test_jobs_over_the_in_flight_cap_wait_in_order(
    runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    await runner.start(max_jobs_in_flight="1")
    video_api.hold()
    first = animate_interaction(discord_fake, prompt="first")
    second = animate_interaction(discord_fake, prompt="second")
    await discord_fake.send_interaction(first)
    await video_api.wait_for(lambda: len(video_api.predictions) == 1)
    await discord_fake.send_interaction(second)
    await wait_until(lambda: any("position 1" in t for t in progress_texts(discord_fake, second)))
    await asyncio.sleep(0.5)
    assert len(video_api.predictions) == 1  # the second one waits

    video_api.complete_now(next(iter(video_api.predictions)))
    await video_api.wait_for(lambda: len(video_api.predictions) == 2)
    assert [s.json["prompt"] for s in video_api.submits] == ["first", "second"]


async def test_sigterm_shuts_down_cleanly_and_keeps_the_job(
    bot: BotProcess, runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    video_api.hold()
    await discord_fake.send_interaction(animate_interaction(discord_fake))
    await wait_until(lambda: runner.jobs() and runner.jobs()[0]["state"] == "submitted")

    assert await bot.stop(signal.SIGTERM, timeout_s=10) == 0
    assert runner.jobs()[0]["state"] == "submitted"

    await runner.start()  # and the next run finishes it
    (prediction_id,) = video_api.predictions
    video_api.complete_now(prediction_id)
    await discord_fake.wait_for_request(is_clip_post(discord_fake.channel_id), 20)
    assert len(video_api.submits) == 1


async def test_logs_never_contain_secrets(
    bot: BotProcess, runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    interaction = animate_interaction(discord_fake)
    await discord_fake.send_interaction(interaction)
    await discord_fake.wait_for_request(is_clip_post(discord_fake.channel_id), 20)
    await wait_until(lambda: runner.jobs()[0]["state"] == "delivered")
    await bot.stop()

    log = bot.log_text()
    assert "delivered" in log
    for secret in (API_KEY, DISCORD_TOKEN, interaction["token"]):
        assert secret not in log
    assert "Traceback" not in log


async def test_a_key_the_api_stops_accepting_tells_the_user_the_service_is_unavailable(
    runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    # A key refused at start stops the start (tests/e2e/test_operations.py); this one is
    # revoked while the bot runs.
    bot = await runner.start()
    video_api.api_key = "not-the-right-key"
    interaction = animate_interaction(discord_fake)
    await discord_fake.send_interaction(interaction)
    await wait_until(
        lambda: any("unavailable" in t for t in progress_texts(discord_fake, interaction))
    )

    (job,) = runner.jobs()
    assert (job["state"], job["cost_cents"]) == ("failed", 0)
    assert [r.status for r in video_api.submits] == [401]  # a 401 is not retried
    await bot.stop()
    assert "check VIBEDREAM_API_KEY" in bot.log_text()  # and the secret scan reads the log


async def test_unreadable_status_answers_are_retried(
    bot: BotProcess, runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    video_api.malformed_next("status", times=2)

    await discord_fake.send_interaction(animate_interaction(discord_fake))
    await discord_fake.wait_for_request(is_clip_post(discord_fake.channel_id), 20)

    await wait_until(lambda: runner.jobs()[0]["state"] == "delivered")
    assert len(video_api.submits) == 1


async def test_submit_answered_with_a_gateway_error_is_not_sent_again(
    bot: BotProcess, runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    video_api.fail_next("submit", 502)  # the API may have created the prediction anyway
    interaction = animate_interaction(discord_fake)

    await discord_fake.send_interaction(interaction)
    await wait_until(lambda: runner.jobs() and runner.jobs()[0]["notified"] == 1)

    assert len(video_api.submits) == 1
    assert "not re-sent" in progress_texts(discord_fake, interaction)[-1]


async def test_a_job_failing_at_submit_frees_its_slot_for_the_next(
    runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    await runner.start(max_jobs_in_flight="1")
    video_api.fail_next("submit", 400)
    await discord_fake.send_interaction(animate_interaction(discord_fake, prompt="first"))
    await discord_fake.send_interaction(animate_interaction(discord_fake, prompt="second"))

    await discord_fake.wait_for_request(is_clip_post(discord_fake.channel_id), 20)
    await wait_until(lambda: runner.jobs()[1]["state"] == "delivered")

    assert [r.status for r in video_api.submits] == [400, 200]
    assert runner.jobs()[0]["state"] == "failed"


async def test_restart_while_waiting_out_a_rate_limit_requeues_the_job(
    bot: BotProcess, runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    video_api.fail_next("submit", 429, retry_after=60)
    await discord_fake.send_interaction(animate_interaction(discord_fake))
    await wait_until(lambda: len(video_api.submits) == 1)
    await wait_until(lambda: runner.jobs()[0]["state"] == "claimed")  # nothing on the wire

    await bot.kill()
    await runner.start()

    await discord_fake.wait_for_request(is_clip_post(discord_fake.channel_id), 20)
    assert [r.status for r in video_api.submits] == [429, 200]


async def test_delivery_survives_a_longer_outage_of_the_clip_host(
    bot: BotProcess, runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    video_api.fail_next("asset", 503, times=4)

    await discord_fake.send_interaction(animate_interaction(discord_fake))
    await discord_fake.wait_for_request(is_clip_post(discord_fake.channel_id), 30)

    assert [r.status for r in video_api.requests if r.route == "asset"] == [503] * 4 + [200]
    await wait_until(lambda: runner.jobs()[0]["state"] == "delivered")


async def test_a_user_with_too_many_open_jobs_is_told_to_wait(
    runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    await runner.start(max_jobs_queued_per_user="1")
    video_api.hold()
    await discord_fake.send_interaction(animate_interaction(discord_fake, user_id=77))
    await video_api.wait_for(lambda: len(video_api.predictions) == 1)

    second = animate_interaction(discord_fake, user_id=77)
    await discord_fake.send_interaction(second)
    await wait_until(
        lambda: any("already have 1" in t for t in progress_texts(discord_fake, second))
    )

    assert len(runner.jobs()) == 1
    assert len(video_api.submits) == 1


async def test_a_job_stuck_processing_is_timed_out(
    runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    await runner.start(job_timeout_s="1")
    video_api.hold()
    interaction = animate_interaction(discord_fake)

    await discord_fake.send_interaction(interaction)
    await wait_until(
        lambda: any("too long" in t for t in progress_texts(discord_fake, interaction))
    )

    assert runner.jobs()[0]["state"] == "failed"


async def test_a_failure_after_the_token_expired_is_told_in_the_channel_without_a_ping(
    bot: BotProcess, runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    video_api.hold()
    interaction = animate_interaction(discord_fake, user_id=4242)
    await discord_fake.send_interaction(interaction)
    await video_api.wait_for(lambda: len(video_api.predictions) == 1)
    discord_fake.expire_token(interaction["token"])
    await wait_until(lambda: any(r.status == 401 for r in discord_fake.webhook_edits()))

    (prediction_id,) = video_api.predictions
    video_api.complete_now(prediction_id, error=MODERATION_ERROR)
    notice = await discord_fake.wait_for_request(
        lambda r: r in channel_posts(discord_fake) and r.status == 200, 20
    )

    assert "<@4242>" in notice.json["content"]
    assert MODERATION_ERROR in notice.json["content"]
    assert notice.json["allowed_mentions"] == {"parse": []}
    await wait_until(lambda: runner.jobs()[0]["notified"] == 1)
