"""History, show and notify-on-completion end to end: `/animate-history` and its page buttons,
`/animate-show` of one's own and of someone else's job, and the mention on result posts with
`/animate-notify` to turn it off."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.i18n.format import dollars, jump_url
from bot.storage.store import SqlStore
from tests import factories
from tests.e2e.conftest import (
    BotProcess,
    BotRunner,
    animate_interaction,
    is_clip_post,
    wait_until,
)
from tests.english import english
from tests.fakes.discord import FakeDiscord, RecordedRequest
from tests.fakes.fake_vibedream import MODERATION_ERROR, FakeVibedream

EPHEMERAL = 1 << 6
ALICE, BOB = 1001, 1002


async def answer_to(discord: FakeDiscord, interaction: dict[str, Any]) -> dict[str, Any]:
    """Send an interaction and return the body of the bot's callback."""
    await discord.send_interaction(interaction)
    callback = await discord.wait_for_request(
        lambda r: r.method == "POST" and r.path.startswith(f"/interactions/{interaction['id']}/")
    )
    assert callback.status in (200, 204), callback.status
    assert isinstance(callback.json, dict)
    return callback.json


async def deliver(
    discord: FakeDiscord, runner: BotRunner, user_id: int, prompt: str, *, count: int
) -> RecordedRequest:
    """Run /animate as `user_id` and return the clip post, once the job is recorded as done."""
    interaction = animate_interaction(discord, user_id=user_id, prompt=prompt)
    await discord.send_interaction(interaction)
    post = await discord.wait_for_request(
        lambda r: is_clip_post(discord.channel_id)(r) and prompt in str(r.json), 20
    )
    await wait_until(lambda: sum(j["notified"] for j in runner.jobs()) == count, 20)
    return post


def jump(discord: FakeDiscord, message_id: int) -> str:
    return jump_url(discord.guild_id, discord.channel_id, message_id)


# /animate-history --------------------------------------------------------------------------------


async def test_history_lists_the_callers_jobs_with_status_settings_and_jump_links(
    bot: BotProcess, runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    video_api.fail_prompts_containing = {"forbidden": MODERATION_ERROR}
    post = await deliver(discord_fake, runner, ALICE, "a cat turns its head", count=1)
    await discord_fake.send_interaction(
        animate_interaction(discord_fake, user_id=ALICE, prompt="forbidden dance")
    )
    await wait_until(lambda: len(runner.jobs()) == 2)  # its id comes before Bob's
    await deliver(discord_fake, runner, BOB, "bob's own clip", count=3)
    delivered, failed, bobs = runner.jobs()

    answer = await answer_to(
        discord_fake, discord_fake.make_interaction("animate-history", user_id=ALICE)
    )

    assert answer["type"] == 4
    assert answer["data"]["flags"] == EPHEMERAL
    (embed,) = answer["data"]["embeds"]
    text = embed["description"]
    first, second = text.split("\n\n")  # newest first
    assert first.startswith(f"**#{failed['id']}** ❌ failed · <t:")
    assert "Why: The video service said:" in first
    assert second.startswith(f"**#{delivered['id']}** ✅ delivered · <t:")
    assert f"[open]({jump(discord_fake, int(post.response['id']))})" in second
    assert f"seed {delivered['seed']}" in second
    assert "`seedance-1.5-pro-i2v` · 5 s · 720p · aspect auto" in second
    assert "a cat turns its head" in second
    assert f"#{bobs['id']}" not in text
    assert embed["footer"]["text"] == "1–2 of 2, newest first"
    assert answer["data"].get("components", []) == []  # one page: no buttons


async def seed_finished_jobs(
    runner: BotRunner, count: int, *, user_id: int = ALICE, prompt: str = "clip number {i}"
) -> list[int]:
    """Store `count` delivered jobs, as earlier runs of the bot would have left them."""
    start = datetime.now(UTC) - timedelta(days=1)
    ids = []
    async with await SqlStore.open(runner.db_path) as store:
        for i in range(count):
            at = start + timedelta(minutes=i)
            new = factories.new_job(
                user_id, now=at, guild_id=runner.discord.guild_id, prompt=prompt.format(i=i)
            )
            job = await factories.admit(store, new, at)
            await factories.deliver(store, job.id, 900_000 + i, "file", at)
            ids.append(job.id)
    return ids


def ids_in(embed: dict[str, Any]) -> list[int]:
    return [int(i) for i in re.findall(r"^\*\*#(\d+)\*\*", embed["description"], re.MULTILINE)]


async def test_history_pages_turn_with_buttons_that_survive_a_restart(
    runner: BotRunner, discord_fake: FakeDiscord
) -> None:
    ids = await seed_finished_jobs(runner, 12)
    first_bot = await runner.start()
    listing = discord_fake.make_interaction("animate-history", user_id=ALICE)
    await answer_to(discord_fake, listing)
    message = discord_fake.original_response(listing)
    assert message is not None
    assert ids_in(message["embeds"][0]) == ids[::-1][:10]
    newer, older = discord_fake.buttons_of(message)
    assert (newer["label"], newer.get("disabled")) == (english.HISTORY_NEWER, True)
    assert (older["label"], older.get("disabled", False)) == (
        english.HISTORY_OLDER,
        False,
    )

    await first_bot.stop()
    await runner.start()
    press = discord_fake.make_component_interaction(
        int(message["id"]), older["custom_id"], user_id=ALICE
    )
    answer = await answer_to(discord_fake, press)

    assert answer["type"] == 7  # the same message, turned to the next page
    page = discord_fake.messages[int(message["id"])]
    assert ids_in(page["embeds"][0]) == ids[1::-1]
    assert page["embeds"][0]["footer"]["text"] == "11–12 of 12, newest first"
    seeded_post = jump_url(discord_fake.guild_id, 777, 900_000)  # the factory's channel
    assert f"[open]({seeded_post})" in page["embeds"][0]["description"]
    newer, older = discord_fake.buttons_of(page)
    assert older.get("disabled") is True
    back = discord_fake.make_component_interaction(
        int(message["id"]), newer["custom_id"], user_id=ALICE
    )
    await answer_to(discord_fake, back)
    assert ids_in(discord_fake.messages[int(message["id"])]["embeds"][0]) == ids[::-1][:10]


async def test_a_page_button_shows_the_presser_only_their_own_jobs(
    runner: BotRunner, discord_fake: FakeDiscord
) -> None:
    await seed_finished_jobs(runner, 12)
    await runner.start()
    listing = discord_fake.make_interaction("animate-history", user_id=ALICE)
    await answer_to(discord_fake, listing)
    message = discord_fake.original_response(listing)
    assert message is not None
    _, older = discord_fake.buttons_of(message)

    # Bob replays Alice's custom id (say, from a client that lets him): he sees his own, none.
    press = discord_fake.make_component_interaction(
        int(message["id"]), older["custom_id"], user_id=BOB
    )
    await answer_to(discord_fake, press)

    page = discord_fake.messages[int(message["id"])]
    assert page["content"] == english.NO_HISTORY
    assert page["embeds"] == []


async def test_history_with_no_jobs_says_how_to_start(
    bot: BotProcess, discord_fake: FakeDiscord
) -> None:
    answer = await answer_to(discord_fake, discord_fake.make_interaction("animate-history"))

    assert answer["type"] == 4
    assert answer["data"]["content"] == english.NO_HISTORY
    assert answer["data"]["flags"] == EPHEMERAL
    assert not answer["data"].get("embeds")


# /animate-show -----------------------------------------------------------------------------------


def show(discord: FakeDiscord, user_id: int, job: str) -> dict[str, Any]:
    return discord.make_interaction(
        "animate-show", [discord.string_option("job", job)], user_id=user_id
    )


async def test_show_gives_the_details_of_an_own_job_with_its_live_clip_link(
    bot: BotProcess, runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    post = await deliver(discord_fake, runner, ALICE, "a cat turns its head", count=1)
    (job,) = runner.jobs()

    answer = await answer_to(discord_fake, show(discord_fake, ALICE, f"#{job['id']}"))

    assert answer["type"] == 4
    assert answer["data"]["flags"] == EPHEMERAL
    (embed,) = answer["data"]["embeds"]
    assert embed["title"] == f"Job #{job['id']} · ✅ delivered"
    assert embed["description"] == "a cat turns its head"
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert f"seed {job['seed']}" in fields["Settings"]
    assert fields["Cost"] == dollars(video_api.cost_cents)
    assert "Requested <t:" in fields["Times"]
    assert "Generated in " in fields["Times"]
    assert fields["Post"] == jump(discord_fake, int(post.response["id"]))
    expires = int(job["completed_at"] + 24 * 3600)
    assert fields["Clip"] == english.clip_link(
        job["output_url"], datetime.fromtimestamp(expires, UTC)
    )


async def test_show_of_a_failed_job_gives_the_reason(
    bot: BotProcess, runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    video_api.fail_prompts_containing = {"forbidden": MODERATION_ERROR}
    await discord_fake.send_interaction(
        animate_interaction(discord_fake, user_id=ALICE, prompt="forbidden dance")
    )
    await wait_until(lambda: bool(runner.jobs()) and runner.jobs()[0]["notified"] == 1, 20)
    (job,) = runner.jobs()

    answer = await answer_to(discord_fake, show(discord_fake, ALICE, str(job["id"])))

    (embed,) = answer["data"]["embeds"]
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["Why it failed"] == job["error"]
    assert "Post" not in fields
    assert "Clip" not in fields


async def test_show_of_someone_elses_job_or_of_nonsense_is_not_found(
    bot: BotProcess, runner: BotRunner, discord_fake: FakeDiscord
) -> None:
    await deliver(discord_fake, runner, ALICE, "alice's secret clip", count=1)
    (job,) = runner.jobs()

    for typed in (str(job["id"]), "999999", "a cat"):
        answer = await answer_to(discord_fake, show(discord_fake, BOB, typed))
        assert answer["type"] == 4
        assert answer["data"]["flags"] == EPHEMERAL
        assert answer["data"]["content"] == english.JOB_NOT_FOUND
        assert "embeds" not in answer["data"] or not answer["data"]["embeds"]


async def typed_in_show(discord: FakeDiscord, user_id: int, typed: str) -> list[dict[str, Any]]:
    """What the bot offers while `user_id` types `typed` in `/animate-show job:`."""
    interaction = discord.make_autocomplete_interaction(
        "animate-show", [discord.string_option("job", typed)], focused="job", user_id=user_id
    )
    answer = await answer_to(discord, interaction)
    assert answer["type"] == 8
    choices = discord.choices_of(interaction)
    assert choices is not None
    return list(choices)


async def test_show_autocomplete_offers_the_callers_own_jobs_filtered_by_what_is_typed(
    runner: BotRunner, discord_fake: FakeDiscord
) -> None:
    (dog,) = await seed_finished_jobs(runner, 1, prompt="a dog wags its tail")
    ids = await seed_finished_jobs(runner, 30, prompt="a cat turns its head, take {i}")
    (bobs,) = await seed_finished_jobs(runner, 1, user_id=BOB, prompt="bob's cat")
    await runner.start()

    newest = await typed_in_show(discord_fake, ALICE, "")
    assert [int(c["value"]) for c in newest] == ids[::-1][:25]
    assert newest[0]["name"] == f"#{ids[-1]} · ✅ · a cat turns its head, take 29"
    assert all(len(c["name"]) <= 100 for c in newest)

    cats = await typed_in_show(discord_fake, ALICE, "CAT turns")
    assert cats == newest
    dogs = await typed_in_show(discord_fake, ALICE, "dog")
    assert dogs == [{"name": f"#{dog} · ✅ · a dog wags its tail", "value": str(dog)}]

    by_id = await typed_in_show(discord_fake, ALICE, f"#{ids[12]}")
    assert [int(c["value"]) for c in by_id] == [ids[12]]
    assert await typed_in_show(discord_fake, ALICE, str(bobs)) == []  # not Alice's


# Notify on completion ----------------------------------------------------------------------------


def notify(discord: FakeDiscord, user_id: int, mention: bool | None = None) -> dict[str, Any]:
    options = [] if mention is None else [discord.boolean_option("mention", mention)]
    return discord.make_interaction("animate-notify", options, user_id=user_id)


async def test_clip_post_mentions_the_requester_and_nobody_else(
    bot: BotProcess, runner: BotRunner, discord_fake: FakeDiscord
) -> None:
    bob = discord_fake.add_member("bob")
    role = discord_fake.add_role("artists")
    prompt = f"@everyone <@{bob}> <@&{role}> a cat turns its head"

    post = await deliver(discord_fake, runner, ALICE, prompt, count=1)

    assert post.json["content"] == f"<@{ALICE}>"
    mentions = post.json["allowed_mentions"]
    assert mentions["parse"] == []
    assert [int(u) for u in mentions["users"]] == [ALICE]
    assert set(mentions) <= {"parse", "users", "replied_user"}
    assert not mentions.get("replied_user")
    message = discord_fake.messages[int(post.response["id"])]
    assert [int(u["id"]) for u in message["mentions"]] == [ALICE]
    assert message["mention_roles"] == []
    assert message["mention_everyone"] is False


async def test_after_opting_out_the_clip_is_posted_without_a_mention(
    bot: BotProcess, runner: BotRunner, discord_fake: FakeDiscord
) -> None:
    shown = await answer_to(discord_fake, notify(discord_fake, ALICE))
    assert shown["data"]["content"] == english.notify_setting(True)
    assert shown["data"]["flags"] == EPHEMERAL

    changed = await answer_to(discord_fake, notify(discord_fake, ALICE, mention=False))
    assert changed["data"]["content"] == english.notify_changed(False)
    post = await deliver(discord_fake, runner, ALICE, "a quiet clip", count=1)

    assert post.json.get("content") is None  # no text, and no "..." either
    assert post.json["allowed_mentions"] == {"parse": []}
    assert discord_fake.messages[int(post.response["id"])]["mentions"] == []
    shown = await answer_to(discord_fake, notify(discord_fake, ALICE))
    assert shown["data"]["content"] == english.notify_setting(False)
    # Bob did not opt out: his clip still mentions him.
    bobs = await deliver(discord_fake, runner, BOB, "bob's clip", count=2)
    assert bobs.json["content"] == f"<@{BOB}>"


async def test_opting_out_while_a_job_runs_applies_to_its_post(
    bot: BotProcess, runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    video_api.hold()
    await discord_fake.send_interaction(
        animate_interaction(discord_fake, user_id=ALICE, prompt="slow clip")
    )
    await wait_until(lambda: bool(runner.jobs()) and runner.jobs()[0]["state"] == "submitted")

    await answer_to(discord_fake, notify(discord_fake, ALICE, mention=False))
    video_api.release()
    post = await discord_fake.wait_for_request(is_clip_post(discord_fake.channel_id), 20)

    assert post.json.get("content") is None  # no text, and no "..." either
    assert post.json["allowed_mentions"] == {"parse": []}
