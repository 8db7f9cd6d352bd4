"""Video models end to end: a server's choice of model, options following it, a retired model,
`VIBEDREAM_MODEL`, the model shown everywhere, and a database of the last release upgraded."""

from __future__ import annotations

import contextlib
import sqlite3
from typing import Any

from bot.jobs import messages as job_messages
from bot.jobs.model import JobState
from bot.video.catalogue import MODELS
from tests.e2e.admin_tools import (
    ADMIN_PERMISSIONS,
    admin,
    animate_outcome,
    callback_of,
    fields_of,
    reply_of,
)
from tests.e2e.conftest import (
    INTEGER,
    STRING,
    BotProcess,
    BotRunner,
    animate_interaction,
    png_bytes,
    wait_until,
)
from tests.english import english
from tests.fakes.discord import FakeDiscord
from tests.fakes.fake_vibedream import FakeVibedream, validate_submit
from tests.unit.storage.test_sqlite import last_release_database

SEEDANCE, VEO = "seedance-1.5-pro-i2v", "veo3.1-fast"


async def choose(discord: FakeDiscord, model: str) -> dict[str, Any]:
    """`/animate-admin model model:<model>`; its reply."""
    return await admin(discord, "model", options=[discord.string_option("model", model)])


def is_progress(text: str) -> bool:
    return text.startswith(("⏳", "📨", "🎬"))


def log_lines(bot: BotProcess, needle: str) -> list[str]:
    return [line for line in bot.log_text().splitlines() if needle in line]


async def test_a_server_on_each_model_gets_a_clip_with_a_body_the_api_accepts(
    runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    after_dark = discord_fake.add_channel("after-dark", nsfw=True)
    await runner.start()
    await admin(
        discord_fake,
        "channels",
        "nsfw-only",
        options=[discord_fake.boolean_option("enabled", True)],
    )

    for count, model in enumerate(MODELS.values(), start=1):
        reply = await choose(discord_fake, model.id)
        assert reply["content"] == english.model_saved(model, False)
        assert fields_of(reply)["Video model"].startswith(f"**{model.id}** — from $")
        outcome = await animate_outcome(
            discord_fake, animate_interaction(discord_fake, channel_id=after_dark)
        )
        assert is_progress(outcome), (model.id, outcome)
        await wait_until(lambda n=count: len(runner.jobs()) == n and runner.jobs()[-1]["notified"])
        job = runner.jobs()[-1]
        assert (job["model"], job["state"]) == (model.id, "delivered")
        (submit,) = video_api.submits_to(model.id)
        assert submit.status == 200
        assert validate_submit(submit.json, model.id) == []

    assert len(video_api.submits) == len(MODELS)


async def test_an_option_the_servers_model_lacks_is_refused_with_no_submit(
    bot: BotProcess, runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    await choose(discord_fake, VEO)
    last = discord_fake.add_attachment(
        "end.png", png_bytes(512, 512), "image/png", width=512, height=512
    )

    for kwargs, expected in (
        ({"extra": {"duration": 5}}, "cannot take `duration` 5; it takes 4, 6, 8 seconds"),
        ({"extra": {"camera_fixed": True}}, "has no `camera_fixed` option"),
        ({"extra": {"aspect_ratio": "auto"}}, "it takes 16:9, 9:16"),
        ({"last_image": last}, "has no `last_image` option"),
    ):
        d = animate_interaction(discord_fake, **kwargs)
        await discord_fake.send_interaction(d)
        callback = await callback_of(discord_fake, d)
        assert callback.json["type"] == 4
        assert callback.json["data"]["flags"] & 64
        assert "**veo3.1-fast**" in callback.json["data"]["content"]
        assert expected in callback.json["data"]["content"]

    assert video_api.submits == []
    assert runner.jobs() == []


async def test_autocomplete_offers_what_the_servers_model_makes(
    bot: BotProcess, discord_fake: FakeDiscord
) -> None:
    async def suggested(option: str, typed: str) -> list[Any]:
        kind = INTEGER if option == "duration" else STRING
        d = discord_fake.make_autocomplete_interaction(
            "animate", [{"name": option, "type": kind, "value": typed}], focused=option
        )
        await discord_fake.send_interaction(d)
        await callback_of(discord_fake, d)
        return [c["value"] for c in discord_fake.choices_of(d) or []]

    assert await suggested("resolution", "") == ["480p", "720p", "1080p"]
    await choose(discord_fake, VEO)

    assert await suggested("duration", "") == [4, 6, 8]
    assert await suggested("resolution", "") == ["720p", "1080p"]
    assert await suggested("aspect_ratio", "9") == ["16:9", "9:16"]


async def test_the_admin_sees_each_models_price_and_options_before_choosing(
    bot: BotProcess, runner: BotRunner, discord_fake: FakeDiscord
) -> None:
    d = discord_fake.make_autocomplete_interaction(
        "animate-admin",
        discord_fake.subcommand("model", options=[discord_fake.string_option("model", "veo")]),
        focused="model",
        member_permissions=ADMIN_PERMISSIONS,
        user_id=discord_fake.owner_id,
    )
    await discord_fake.send_interaction(d)
    await callback_of(discord_fake, d)
    choices = discord_fake.choices_of(d) or []

    names = {c["value"]: c["name"] for c in choices}
    assert list(names) == ["veo3.1-fast", "veo3-i2v", "default"]
    assert names["veo3.1-fast"].startswith("veo3.1-fast · from $0.88 · 4, 6, 8 s · 720p, 1080p")
    assert all(len(name) <= 100 for name in names.values())

    listing = await admin(discord_fake, "models")
    (embed,) = listing["embeds"]
    shown = {f["name"].split(" · ")[0]: f["value"] for f in embed["fields"]}
    assert list(shown) == list(MODELS)
    assert english.MODEL_CURRENT in shown[SEEDANCE]
    assert english.MODEL_BOT_DEFAULT in shown[SEEDANCE]
    assert english.MODEL_NOT_OFFERED in shown["wan-2.2-spicy"]  # not an nsfw-only server
    refused = await choose(discord_fake, "wan-2.2-spicy")
    assert "relaxed content rules" in refused["content"]
    with contextlib.closing(runner.db()) as db:
        audit = db.execute("SELECT action, detail FROM guild_audit").fetchall()
    assert audit == []  # the refused choice changed nothing


async def test_switching_a_servers_model_changes_its_next_job_only(
    bot: BotProcess, runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    video_api.hold()
    assert is_progress(await animate_outcome(discord_fake, animate_interaction(discord_fake)))
    await wait_until(lambda: len(video_api.predictions) == 1)

    await choose(discord_fake, VEO)
    video_api.release()
    assert is_progress(await animate_outcome(discord_fake, animate_interaction(discord_fake)))
    await wait_until(lambda: [j["state"] for j in runner.jobs()] == ["delivered", "delivered"])

    assert [j["model"] for j in runner.jobs()] == [SEEDANCE, VEO]
    assert [r.path.split("/")[-2] for r in video_api.submits] == [SEEDANCE, VEO]
    with contextlib.closing(runner.db()) as db:
        (row,) = db.execute("SELECT action, detail FROM guild_audit").fetchall()
    assert tuple(row) == ("model", f"{SEEDANCE} -> {VEO}")


async def test_a_retired_default_model_fails_jobs_plainly_at_no_cost_and_the_bot_stays_up(
    runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    mod_log = discord_fake.add_channel("mod-log")
    bot = await runner.start()
    await admin(discord_fake, "mod-log", options=[discord_fake.channel_option("channel", mod_log)])
    video_api.retired.add(SEEDANCE)

    d = animate_interaction(discord_fake)
    await animate_outcome(discord_fake, d)
    await wait_until(lambda: bool(runner.jobs()) and runner.jobs()[0]["notified"])
    (job,) = runner.jobs()
    assert job["state"] == JobState.FAILED
    assert (job["cost_cents"], job["reserved_cents"]) == (0, 0)
    told = job_messages.honest(job_messages.MODEL_UNAVAILABLE, 0, None, None).render()
    assert job["error"] == told
    assert told.endswith(english.NOT_CHARGED)
    failure = english.failed(told)
    await wait_until(
        lambda: any(
            failure in str((r.json or {}).get("content"))
            for r in discord_fake.webhook_edits()
            if d["token"] in r.path
        )
    )
    # The moderation log's entry says so, once.
    await wait_until(lambda: runner.jobs()[0]["mod_log_message_id"] is not None)
    entry_id = runner.jobs()[0]["mod_log_message_id"]
    await wait_until(
        lambda: english.MODEL_UNAVAILABLE in str(discord_fake.messages[entry_id]["embeds"])
    )
    entries = discord_fake.requests_to("POST", f"/channels/{mod_log}/messages")
    assert len(entries) == 1
    # One clear line in the bot's log, naming the model.
    assert len([line for line in log_lines(bot, SEEDANCE) if "unavailable" in line]) == 1

    # The next request is refused at once, with no API call.
    refused = await animate_outcome(discord_fake, animate_interaction(discord_fake))
    assert refused == english.model_unavailable_now(SEEDANCE)
    assert len(video_api.submits) == 1

    # The bot is up, and an admin's switch to another model works at once.
    assert bot.process.returncode is None
    await choose(discord_fake, VEO)
    assert is_progress(await animate_outcome(discord_fake, animate_interaction(discord_fake)))
    await wait_until(lambda: runner.jobs()[-1]["state"] == "delivered")
    assert runner.jobs()[-1]["model"] == VEO


async def test_vibedream_model_switches_the_bots_default(
    runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    await runner.start(vibedream_model="grok-imagine-video-i2v")

    assert is_progress(await animate_outcome(discord_fake, animate_interaction(discord_fake)))
    await wait_until(lambda: bool(runner.jobs()) and runner.jobs()[0]["state"] == "delivered")

    assert runner.jobs()[0]["model"] == "grok-imagine-video-i2v"
    (submit,) = video_api.submits_to("grok-imagine-video-i2v")
    assert "seed" not in submit.json  # Grok takes none
    assert runner.jobs()[0]["cost_cents"] == 31


async def test_the_model_shows_in_the_caption_the_log_history_and_usage(
    runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    mod_log = discord_fake.add_channel("mod-log")
    alice = discord_fake.add_member("alice")
    await runner.start()
    await admin(discord_fake, "mod-log", options=[discord_fake.channel_option("channel", mod_log)])
    await choose(discord_fake, VEO)

    await animate_outcome(discord_fake, animate_interaction(discord_fake, user_id=alice))
    await wait_until(lambda: bool(runner.jobs()) and runner.jobs()[0]["state"] == "delivered")

    post = discord_fake.requests_to("POST", f"/channels/{discord_fake.channel_id}/messages")[-1]
    (embed,) = post.json["embeds"]
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["Settings"].startswith("`veo3.1-fast` · 8 s · 720p · aspect 16:9 · seed ")
    assert embed["footer"]["text"].endswith("· Veo 3.1 Fast")
    await wait_until(
        lambda: any(
            "`veo3.1-fast`" in str(r.json)
            for r in discord_fake.requests
            if f"/channels/{mod_log}/messages" in r.path and r.json
        )
    )
    history = discord_fake.make_interaction("animate-history", user_id=alice)
    await discord_fake.send_interaction(history)
    (listed,) = (await reply_of(discord_fake, history))["embeds"]
    assert "`veo3.1-fast` · 8 s" in listed["description"]
    usage = discord_fake.make_interaction("usage", user_id=alice)
    await discord_fake.send_interaction(usage)
    (report,) = (await reply_of(discord_fake, usage))["embeds"]
    assert "`veo3.1-fast` 8 s 720p" in report["description"]


async def test_a_database_of_the_last_release_upgrades_with_every_old_job_on_seedance(
    runner: BotRunner, discord_fake: FakeDiscord
) -> None:
    runner.db_path.parent.mkdir(parents=True, exist_ok=True)
    last_release_database(runner.db_path)
    with contextlib.closing(sqlite3.connect(runner.db_path)) as db:
        before = db.execute("SELECT id, duration_s, resolution FROM jobs ORDER BY id").fetchall()

    await runner.start()

    jobs = runner.jobs()
    assert [(j["id"], j["duration_s"], j["resolution"]) for j in jobs] == before
    assert len(jobs) >= 8  # jobs in every state the last release could leave
    assert {j["model"] for j in jobs} == {SEEDANCE}
