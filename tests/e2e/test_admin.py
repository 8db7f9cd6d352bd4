"""/animate-admin end to end: registration, who may use it, channel and role rules, blocks,
the audit trail and `view`, the moderation log, and the usage report with its CSV."""

from __future__ import annotations

import asyncio
import csv
import io
from typing import Any

from bot.jobs.model import JobState
from bot.members.model import UsageTotals
from tests.e2e.admin_tools import (
    ADMIN_PERMISSIONS,
    admin,
    admin_command,
    animate_outcome,
    audit_rows,
    block,
    callback_of,
    fields_of,
    guild_config,
    reply_of,
    user_jobs,
    wait_all_notified,
)
from tests.e2e.conftest import BotProcess, BotRunner, animate_interaction, wait_until
from tests.english import english
from tests.fakes.discord import FakeDiscord
from tests.fakes.discord.constants import (
    ATTACH_FILES,
    EVERYONE_PERMISSIONS,
    FLAG_EPHEMERAL,
    MANAGE_GUILD,
    MANAGE_MESSAGES,
    SEND_MESSAGES,
    STRING,
    SUB_COMMAND,
    SUB_COMMAND_GROUP,
)
from tests.fakes.fake_vibedream import MODERATION_ERROR, FakeVibedream


def is_progress(text: str) -> bool:
    """An accepted job's first progress line (queued, being sent, or already generating)."""
    return text.startswith(("⏳ **Queued**", "🎬 **Generating**", english.SUBMITTING))


# Registration and who may use it ------------------------------------------------------------------


async def test_admin_group_is_registered_for_manage_server_in_servers_only(
    bot: BotProcess, discord_fake: FakeDiscord
) -> None:
    commands = {c["name"]: c for c in discord_fake.commands}
    group = commands["animate-admin"]

    assert group["default_member_permissions"] == str(MANAGE_GUILD) == "32"
    assert group["contexts"] == [0]  # server channels only
    assert group.get("dm_permission") is False
    tree = {
        o["name"]: (o["type"], [s["name"] for s in o.get("options", []) if s["type"] == 1])
        for o in group["options"]
    }
    assert tree == {
        "view": (SUB_COMMAND, []),
        "channels": (SUB_COMMAND_GROUP, ["allow", "remove", "all", "nsfw-only"]),
        "roles": (SUB_COMMAND_GROUP, ["allow", "remove", "everyone"]),
        "block": (SUB_COMMAND, []),
        "unblock": (SUB_COMMAND, []),
        "limit": (SUB_COMMAND, []),
        "mod-log": (SUB_COMMAND, []),
        "defaults": (SUB_COMMAND, []),
        "lock": (SUB_COMMAND, []),
        "model": (SUB_COMMAND, []),
        "models": (SUB_COMMAND, []),
        "usage": (SUB_COMMAND, []),
        "cancel": (SUB_COMMAND, []),
    }
    # Every option of every subcommand says what it is for (Discord shows the text as is).
    leaves = [
        option
        for sub in group["options"]
        for leaf in ([sub] if sub["type"] == SUB_COMMAND else sub.get("options", []))
        for option in leaf.get("options", [])
    ]
    assert leaves
    assert all(o["description"] and o["description"] != "…" for o in leaves)
    limit = {o["name"]: o for o in group["options"]}["limit"]
    (name, value) = limit["options"]
    assert [c["value"] for c in name["choices"]] == [
        "daily",
        "monthly",
        "cooldown",
        "in_flight",
        "monthly_spend",
        "variations",
    ]
    assert value["type"] == STRING


async def test_member_without_manage_server_is_refused_by_the_bot(
    bot: BotProcess, runner: BotRunner, discord_fake: FakeDiscord
) -> None:
    member = discord_fake.add_member("mallory")
    attempts = [
        admin_command(
            discord_fake,
            "channels",
            "all",
            user_id=member,
            member_permissions=EVERYONE_PERMISSIONS,
        ),
        admin_command(
            discord_fake,
            "limit",
            options=[
                discord_fake.string_option("name", "daily"),
                discord_fake.string_option("value", "0"),
            ],
            user_id=member,
            member_permissions=EVERYONE_PERMISSIONS | MANAGE_MESSAGES,
        ),
    ]
    for d in attempts:
        await discord_fake.send_interaction(d)
        callback = await callback_of(discord_fake, d)
        assert callback.json["type"] == 4
        assert callback.json["data"]["flags"] == FLAG_EPHEMERAL
        assert callback.json["data"]["content"] == english.ADMIN_ONLY

    assert guild_config(runner) is None
    assert audit_rows(runner) == []


# Where --------------------------------------------------------------------------------------------


async def test_channel_allowlist_and_nsfw_only(
    runner: BotRunner, discord_fake: FakeDiscord
) -> None:
    studio = discord_fake.add_channel("studio")
    after_dark = discord_fake.add_channel("after-dark", nsfw=True)
    hidden = discord_fake.add_channel("staff")
    discord_fake.hide_channel_from_bot(hidden)
    no_post = discord_fake.add_channel("announcements")
    discord_fake.deny_bot(no_post, SEND_MESSAGES)
    no_files = discord_fake.add_channel("text-only")
    discord_fake.deny_bot(no_files, ATTACH_FILES)
    await runner.start()
    general = discord_fake.channel_id

    saved = await admin(
        discord_fake,
        "channels",
        "allow",
        options=[discord_fake.channel_option("channel", studio)],
    )
    assert saved["content"] == english.CONFIG_SAVED
    assert fields_of(saved)["Channels"] == f"<#{studio}>"

    refused = await animate_outcome(discord_fake, animate_interaction(discord_fake))
    assert refused == english.channel_not_allowed([studio])
    accepted = await animate_outcome(
        discord_fake, animate_interaction(discord_fake, channel_id=studio)
    )
    assert is_progress(accepted)
    await wait_all_notified(runner, 1)
    assert runner.jobs()[0]["channel_id"] == studio

    for channel, lacking, shown in (
        (hidden, ["view_channel"], "**View Channel**"),
        (no_post, ["send_messages"], "**Send Messages**"),
        (no_files, ["attach_files"], "**Attach Files**"),
    ):
        reply = await admin(
            discord_fake,
            "channels",
            "allow",
            options=[discord_fake.channel_option("channel", channel)],
        )
        assert reply["content"] == english.channel_unusable(channel, lacking)
        assert shown in reply["content"]
        assert "embeds" not in reply or reply["embeds"] == []
    assert guild_config(runner) == {
        **(guild_config(runner) or {}),
        "channel_ids": [studio],
    }

    everywhere = await admin(discord_fake, "channels", "all")
    assert fields_of(everywhere)["Channels"] == english.EVERY_CHANNEL
    assert is_progress(await animate_outcome(discord_fake, animate_interaction(discord_fake)))

    nsfw = await admin(
        discord_fake,
        "channels",
        "nsfw-only",
        options=[discord_fake.boolean_option("enabled", True)],
    )
    assert fields_of(nsfw)["Channels"] == f"{english.EVERY_CHANNEL}\n{english.AGE_RESTRICTED_ONLY}"
    refused = await animate_outcome(discord_fake, animate_interaction(discord_fake))
    assert refused == english.NSFW_ONLY
    accepted = await animate_outcome(
        discord_fake, animate_interaction(discord_fake, channel_id=after_dark)
    )
    assert is_progress(accepted)
    await wait_all_notified(runner, 3)
    assert [j["channel_id"] for j in runner.jobs()] == [studio, general, after_dark]
    owner = discord_fake.owner_id
    assert audit_rows(runner) == [
        (owner, "channel-allow", f"<#{studio}>"),
        (owner, "channels-all", english.EVERY_CHANNEL),
        (owner, "nsfw-only", "on"),
    ]


# Who ----------------------------------------------------------------------------------------------


async def test_role_rule_admits_only_members_with_an_allowed_role(
    runner: BotRunner, discord_fake: FakeDiscord
) -> None:
    artists = discord_fake.add_role("Artists")
    painter = discord_fake.add_member("painter", roles=[artists])
    visitor = discord_fake.add_member("visitor")
    await runner.start()

    saved = await admin(
        discord_fake, "roles", "allow", options=[discord_fake.role_option("role", artists)]
    )
    assert fields_of(saved)["Roles"] == f"<@&{artists}>"

    refused = await animate_outcome(
        discord_fake, animate_interaction(discord_fake, user_id=visitor)
    )
    assert refused == english.role_required([artists])
    accepted = await animate_outcome(
        discord_fake, animate_interaction(discord_fake, user_id=painter)
    )
    assert is_progress(accepted)

    everyone = await admin(discord_fake, "roles", "everyone")
    assert fields_of(everyone)["Roles"] == english.EVERYONE
    accepted = await animate_outcome(
        discord_fake, animate_interaction(discord_fake, user_id=visitor)
    )
    assert is_progress(accepted)
    await wait_all_notified(runner, 2)
    assert [j["user_id"] for j in runner.jobs()] == [painter, visitor]


async def test_block_unblock_audit_trail_and_view(
    bot: BotProcess, runner: BotRunner, discord_fake: FakeDiscord
) -> None:
    troll = discord_fake.add_member("troll")
    moderator = discord_fake.add_member("moderator")
    reason = "posting <@&1> and spam"

    blocked = await block(discord_fake, troll, reason, user_id=moderator)
    assert blocked["content"] == english.blocked_member(troll, reason)
    assert blocked["allowed_mentions"]["parse"] == []

    refused = await animate_outcome(discord_fake, animate_interaction(discord_fake, user_id=troll))
    assert refused == english.blocked(reason)
    limited = await admin(
        discord_fake,
        "limit",
        options=[
            discord_fake.string_option("name", "daily"),
            discord_fake.string_option("value", "7"),
        ],
        user_id=moderator,
    )
    assert limited["content"] == english.CONFIG_SAVED

    view = await admin(discord_fake, "view")
    assert view["content"] == english.CONFIG_TITLE
    fields = fields_of(view)
    assert fields["Channels"] == english.EVERY_CHANNEL
    assert fields["Roles"] == english.EVERYONE
    assert fields["Moderation log"] == english.OFF
    assert fields["Blocked members"] == f"<@{troll}> — {reason}"
    labels = english.LIMIT_LABELS
    assert fields["Limits"].splitlines() == [
        f"{labels['daily']}: **7**",
        f"{labels['monthly']}: **unlimited** (default)",
        f"{labels['cooldown']}: **unlimited** (default)",
        f"{labels['in_flight']}: **unlimited** (default)",
        f"{labels['monthly_spend']}: **unlimited** (default)",
        f"{labels['variations']}: **4** (default)",
    ]
    changes = fields["Recent changes"].splitlines()
    assert [line.split("> ", 1)[1] for line in changes] == [
        f"<@{moderator}> limit-daily: 7",
        f"<@{moderator}> block: <@{troll}>: {reason}",
    ]

    lifted = await admin(
        discord_fake, "unblock", options=[discord_fake.user_option("member", troll)]
    )
    assert lifted["content"] == english.unblocked_member(troll)
    again = await admin(
        discord_fake, "unblock", options=[discord_fake.user_option("member", troll)]
    )
    assert again["content"] == english.not_blocked(troll)
    accepted = await animate_outcome(discord_fake, animate_interaction(discord_fake, user_id=troll))
    assert is_progress(accepted)
    await wait_all_notified(runner, 1)

    assert audit_rows(runner) == [
        (moderator, "block", f"<@{troll}>: {reason}"),
        (moderator, "limit-daily", "7"),
        (discord_fake.owner_id, "unblock", f"<@{troll}>"),
    ]
    view = await admin(discord_fake, "view")
    assert fields_of(view)["Blocked members"] == english.NO_BLOCKS
    assert len(fields_of(view)["Recent changes"].splitlines()) == 3


# Moderation log -----------------------------------------------------------------------------------


async def test_moderation_log_posts_each_job_and_edits_it_to_the_result(
    runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    mod_log = discord_fake.add_channel("mod-log")
    no_post = discord_fake.add_channel("announcements")
    discord_fake.deny_bot(no_post, SEND_MESSAGES)
    await runner.start()
    video_api.fail_prompts_containing = {"forbidden": MODERATION_ERROR}
    alice = discord_fake.add_member("alice")

    refused = await admin(
        discord_fake, "mod-log", options=[discord_fake.channel_option("channel", no_post)]
    )
    assert refused["content"] == english.channel_unusable(no_post, ["send_messages"])
    saved = await admin(
        discord_fake, "mod-log", options=[discord_fake.channel_option("channel", mod_log)]
    )
    assert fields_of(saved)["Moderation log"] == f"<#{mod_log}>"

    video_api.hold()
    prompt = "@everyone the cat waves at <@&123>"
    await animate_outcome(
        discord_fake, animate_interaction(discord_fake, user_id=alice, prompt=prompt)
    )
    post = await discord_fake.wait_for_request(
        lambda r: r.method == "POST" and r.path == f"/channels/{mod_log}/messages"
    )
    assert post.status == 200
    assert post.json["allowed_mentions"]["parse"] == []
    (job,) = runner.jobs()
    (button,) = discord_fake.buttons_of(post.json)
    assert button["custom_id"] == f"animate:cancel:{job['id']}"
    (embed,) = post.json["embeds"]
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["Requested by"] == f"<@{alice}>"
    assert fields["Channel"] == f"<#{discord_fake.channel_id}>"
    assert fields["Result"] == "In progress"
    assert "@everyone the cat waves" in embed["description"]
    assert embed["thumbnail"]["url"] == job["image_url"]
    assert embed["footer"]["text"] == f"Job #{job['id']}"
    assert f"seed {job['seed']}" in fields["Settings"]
    await wait_until(lambda: len(video_api.predictions) == 1)
    await wait_until(lambda: runner.jobs()[0]["mod_log_message_id"] is not None)
    (prediction_id,) = video_api.predictions
    video_api.complete_now(prediction_id)

    await wait_until(lambda: runner.jobs()[0]["state"] == "delivered")
    entry_id = runner.jobs()[0]["mod_log_message_id"]
    clip_id = runner.jobs()[0]["message_id"]

    def entry() -> dict[str, Any]:
        return discord_fake.messages[entry_id]

    link = english.jump_url(discord_fake.guild_id, discord_fake.channel_id, clip_id)
    await wait_until(lambda: link in str(entry()["embeds"]))
    (edited,) = entry()["embeds"]
    fields = {f["name"]: f["value"] for f in edited["fields"]}
    assert fields["Result"] == f"[Posted clip]({link})"
    assert fields["Cost"] == english.dollars(video_api.cost_cents)
    assert edited["title"] == f"Job #{job['id']} · {english.MOD_LOG_STATES[JobState.DELIVERED]}"
    assert discord_fake.buttons_of(entry()) == []
    assert entry()["mentions"] == []
    assert entry()["mention_roles"] == []
    assert entry()["mention_everyone"] is False


async def test_moderation_log_shows_failures_and_can_be_turned_off(
    runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    mod_log = discord_fake.add_channel("mod-log")
    await runner.start()
    video_api.fail_prompts_containing = {"forbidden": MODERATION_ERROR}
    alice = discord_fake.add_member("alice")
    await admin(discord_fake, "mod-log", options=[discord_fake.channel_option("channel", mod_log)])

    await animate_outcome(
        discord_fake, animate_interaction(discord_fake, user_id=alice, prompt="forbidden dance")
    )
    await wait_all_notified(runner, 1)
    await wait_until(lambda: runner.jobs()[0]["mod_log_message_id"] is not None)
    entry_id = runner.jobs()[0]["mod_log_message_id"]
    await wait_until(lambda: MODERATION_ERROR in str(discord_fake.messages[entry_id]["embeds"]))
    assert discord_fake.buttons_of(discord_fake.messages[entry_id]) == []

    off = await admin(discord_fake, "mod-log")
    assert fields_of(off)["Moderation log"] == english.OFF
    before = len(discord_fake.channel_messages(mod_log))
    await animate_outcome(discord_fake, animate_interaction(discord_fake, user_id=alice))
    await wait_all_notified(runner, 2)
    await asyncio.sleep(0.5)  # room for a stray moderation-log post after delivery
    assert runner.jobs()[1]["mod_log_message_id"] is None
    assert len(discord_fake.channel_messages(mod_log)) == before
    assert [a[1:] for a in audit_rows(runner)] == [
        ("mod-log", f"<#{mod_log}>"),
        ("mod-log", english.OFF),
    ]


# Reports ------------------------------------------------------------------------------------------


async def test_usage_report_totals_top_users_and_a_defused_csv(
    bot: BotProcess, runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    video_api.fail_prompts_containing = {"forbidden": MODERATION_ERROR}
    alice, bob = discord_fake.add_member("alice"), discord_fake.add_member("bob")
    prompts = [
        (alice, '=HYPERLINK("http://evil") the cat blinks'),
        (alice, "+1 the cat jumps"),
        (bob, "forbidden dance"),
    ]
    for user, prompt in prompts:
        await animate_outcome(
            discord_fake, animate_interaction(discord_fake, user_id=user, prompt=prompt)
        )
    await wait_all_notified(runner, 3)
    cost = video_api.cost_cents

    d = admin_command(
        discord_fake,
        "usage",
        options=[
            discord_fake.string_option("period", "month"),
            discord_fake.boolean_option("csv", True),
        ],
        member_permissions=ADMIN_PERMISSIONS,
    )
    await discord_fake.send_interaction(d)
    callback = await callback_of(discord_fake, d)
    assert (callback.json["type"], callback.json["data"]["flags"]) == (5, FLAG_EPHEMERAL)
    followup = await discord_fake.wait_for_request(
        lambda r: (
            r.method == "POST"
            and r.path.startswith(f"/webhooks/{discord_fake.application_id}/{d['token']}")
            and r.status == 200
        )
    )
    message = followup.response
    assert message["flags"] & FLAG_EPHEMERAL
    (embed,) = message["embeds"]
    assert embed["title"] == f"{english.SERVER_USAGE_TITLE} · {english.REPORT_PERIODS['month']}"
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    totals = UsageTotals(succeeded=2, failed=1, video_seconds=10, cost_cents=3 * cost)
    assert fields["Totals"] == english.server_totals(totals)
    assert fields["Totals"].startswith("3 jobs: 2 succeeded, 1 failed, 0 cancelled\n")
    alice_totals = UsageTotals(succeeded=2, video_seconds=10, cost_cents=2 * cost)
    bob_totals = UsageTotals(failed=1, cost_cents=cost)
    assert fields["Top members"].splitlines() == [
        english.top_user(alice, alice_totals),
        english.top_user(bob, bob_totals),
    ]
    assert fields["Top members"].splitlines()[1].startswith(f"<@{bob}> — 1 clip, 0 s")

    (attachment,) = message["attachments"]
    assert attachment["filename"] == f"animate-{discord_fake.guild_id}-month.csv"
    rows = list(csv.reader(io.StringIO(discord_fake.upload_of(attachment).data.decode())))
    assert rows[0] == [
        "job_id",
        "created_at_utc",
        "user_id",
        "channel_id",
        "state",
        "model",
        "duration_s",
        "resolution",
        "aspect_ratio",
        "seed",
        "generate_audio",
        "cost_usd",
        "prompt",
        "error",
    ]
    jobs = runner.jobs()
    assert [r[0] for r in rows[1:]] == [str(j["id"]) for j in jobs]
    assert [r[2] for r in rows[1:]] == [str(alice), str(alice), str(bob)]
    assert [r[4] for r in rows[1:]] == ["delivered", "delivered", "failed"]
    assert [r[5] for r in rows[1:]] == ["seedance-1.5-pro-i2v"] * 3
    assert [r[11] for r in rows[1:]] == [f"{cost / 100:.2f}"] * 3
    assert [r[12] for r in rows[1:]] == ["'" + prompts[0][1], "'" + prompts[1][1], prompts[2][1]]
    assert MODERATION_ERROR in rows[3][13]
    by_model = f"`seedance-1.5-pro-i2v` — 3 clips, 10 s, {english.dollars(3 * cost)}"
    assert fields["By video model"] == by_model

    plain = admin_command(
        discord_fake, "usage", options=[discord_fake.string_option("period", "day")]
    )
    await discord_fake.send_interaction(plain)
    followup = await discord_fake.wait_for_request(
        lambda r: (
            r.method == "POST"
            and r.path.startswith(f"/webhooks/{discord_fake.application_id}/{plain['token']}")
            and r.status == 200
        )
    )
    assert followup.response["attachments"] == []
    assert "3 jobs" in followup.response["embeds"][0]["fields"][0]["value"]
    assert user_jobs(runner, bob)[0]["state"] == "failed"


# Cancel as a moderator ----------------------------------------------------------------------------


async def test_admin_cancel_stops_a_job_and_frees_its_slot(
    bot: BotProcess, runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    alice = discord_fake.add_member("alice")
    await admin(
        discord_fake,
        "limit",
        options=[
            discord_fake.string_option("name", "in_flight"),
            discord_fake.string_option("value", "1"),
        ],
    )
    video_api.hold()
    assert is_progress(
        await animate_outcome(discord_fake, animate_interaction(discord_fake, user_id=alice))
    )
    await wait_until(lambda: runner.jobs()[0]["state"] == "submitted")
    job_id = runner.jobs()[0]["id"]

    reply = await admin(
        discord_fake, "cancel", options=[discord_fake.integer_option("job", job_id)]
    )
    assert reply["content"] == english.cancel_done(job_id)
    await wait_until(lambda: bool(runner.jobs()[0]["notified"]))
    assert runner.jobs()[0]["state"] == "cancelled"
    assert runner.jobs()[0]["cancelled_by"] == discord_fake.owner_id
    again = await admin(
        discord_fake, "cancel", options=[discord_fake.integer_option("job", job_id)]
    )
    assert again["content"] == english.cannot_cancel(JobState.CANCELLED)
    missing = await admin(discord_fake, "cancel", options=[discord_fake.integer_option("job", 999)])
    assert missing["content"] == english.NO_SUCH_JOB

    # Its slot is free, and /usage no longer counts it as in progress.
    video_api.release()
    assert is_progress(
        await animate_outcome(discord_fake, animate_interaction(discord_fake, user_id=alice))
    )
    await wait_until(lambda: runner.jobs()[-1]["state"] == "delivered")
    usage = discord_fake.make_interaction("usage", user_id=alice)
    await discord_fake.send_interaction(usage)
    fields = fields_of(await reply_of(discord_fake, usage))
    assert "In progress" not in fields
    cost = 2 * video_api.cost_cents  # the API charged the cancelled job when it took it
    assert fields["All time"] == english.usage_totals(
        UsageTotals(succeeded=1, video_seconds=5, cost_cents=cost, cancelled=1)
    )
    assert fields["All time"].startswith("2 generations (1 succeeded, 0 failed, 1 cancelled)")
    assert [j["state"] for j in runner.jobs()] == ["cancelled", "delivered"]
    posts = discord_fake.requests_to("POST", f"/channels/{discord_fake.channel_id}/messages")
    assert [r.status for r in posts] == [200]  # the second job's clip only


async def test_configuration_survives_a_restart(
    runner: BotRunner, discord_fake: FakeDiscord
) -> None:
    studio = discord_fake.add_channel("studio")
    troll = discord_fake.add_member("troll")
    first = await runner.start()
    await admin(
        discord_fake, "channels", "allow", options=[discord_fake.channel_option("channel", studio)]
    )
    await block(discord_fake, troll, "spam")
    before = fields_of(await admin(discord_fake, "view"))
    await first.stop()

    await runner.start()

    assert fields_of(await admin(discord_fake, "view")) == before
    refused = await animate_outcome(discord_fake, animate_interaction(discord_fake, user_id=troll))
    assert refused == english.blocked("spam")
    refused = await animate_outcome(discord_fake, animate_interaction(discord_fake))
    assert refused == english.channel_not_allowed([studio])
    assert runner.jobs() == []


async def test_view_lists_the_last_ten_changes_and_counts_the_rest(
    bot: BotProcess, runner: BotRunner, discord_fake: FakeDiscord
) -> None:
    members = [discord_fake.add_member(f"member{i}") for i in range(12)]
    for i, member in enumerate(members):
        await block(discord_fake, member, f"reason {i}")

    fields = fields_of(await admin(discord_fake, "view"))

    blocked = fields["Blocked members"].splitlines()
    assert len(blocked) == 11
    assert blocked[-1] == english.more_lines(2)
    changes = fields["Recent changes"].splitlines()
    assert len(changes) == 10
    assert changes[0].endswith(f"block: <@{members[-1]}>: reason 11")  # newest first
    assert changes[-1].endswith(f"block: <@{members[2]}>: reason 2")
    assert len(audit_rows(runner)) == 12
