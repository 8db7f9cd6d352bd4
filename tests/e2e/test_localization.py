"""Every user sees the bot in their own language: commands, refusals, progress, results."""

from __future__ import annotations

from typing import Any

from bot.i18n.text import Text, catalogue
from bot.jobs import messages, request_messages
from bot.jobs.model import JobState, RefusedInput
from tests.e2e.admin_tools import admin, block
from tests.e2e.conftest import (
    BotProcess,
    BotRunner,
    animate_interaction,
    progress_texts,
    wait_until,
)
from tests.fakes.discord import FakeDiscord
from tests.fakes.discord.constants import SEND_MESSAGES, VIEW_CHANNEL
from tests.fakes.fake_vibedream import MODERATION_ERROR, FakeVibedream

#: Discord's locales for the catalogue's languages (Spanish has two).
DISCORD_LOCALES = {"fr": "fr", "de": "de", "es-ES": "es", "es-419": "es"}


def fr(text: Text) -> str:
    return text.render("fr")


async def test_commands_are_registered_in_every_catalogue_language(
    bot: BotProcess, discord_fake: FakeDiscord
) -> None:
    commands = {c["name"]: c for c in discord_fake.commands}
    cat = catalogue()
    animate = commands["animate"]
    for locale, lang in DISCORD_LOCALES.items():
        assert animate["name_localizations"][locale] == cat.get(lang, "command.animate.name")
        described = cat.get(lang, "command.animate.description")
        assert animate["description_localizations"][locale] == described
        menu_name = cat.get(lang, "command.context.name")
        assert commands["Animate this image"]["name_localizations"][locale] == menu_name
    assert animate["name_localizations"]["fr"] != "animate"
    options = {o["name"]: o for o in animate["options"]}
    assert set(options) >= {"image", "prompt", "duration", "seed"}  # the API's names stay
    assert options["prompt"]["name_localizations"]["de"] == cat.get(
        "de", "command.animate.option.prompt"
    )
    seed = options["seed"]["description_localizations"]["es-ES"]
    assert "{" not in seed  # the range is filled in, in every language
    assert "1000" in seed
    admin_group = commands["animate-admin"]
    admin_fr = admin_group["description_localizations"]["fr"]
    assert admin_fr == Text("command.admin.description").render("fr")
    assert "/animer " in admin_fr  # the command as French clients list it
    assert "en-US" not in animate["name_localizations"]  # English is the default itself


async def test_a_refusal_is_in_the_language_of_the_user(
    bot: BotProcess, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    d = animate_interaction(discord_fake, app_permissions=VIEW_CHANNEL | SEND_MESSAGES, locale="de")
    await discord_fake.send_interaction(d)
    callback = await discord_fake.wait_for_request(
        lambda r: r.path.startswith(f"/interactions/{d['id']}/")
    )

    content = callback.json["data"]["content"]
    assert content == request_messages.missing_permissions(["attach_files", "embed_links"]).render(
        "de"
    )
    assert "**Dateien anhängen**" in content  # Discord's own German name of the permission
    assert video_api.submits == []


async def test_messages_name_commands_as_the_readers_client_lists_them(
    bot: BotProcess, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    registered = {c["name"]: c for c in discord_fake.commands}
    troll = discord_fake.add_member("troll")
    await block(discord_fake, troll, "spam")
    notify = registered["animate-notify"]
    (mention,) = notify["options"]

    for locale in DISCORD_LOCALES:
        d = animate_interaction(discord_fake, user_id=troll, locale=locale)
        await discord_fake.send_interaction(d)
        await wait_until(lambda d=d: bool(progress_texts(discord_fake, d)))
        (refusal,) = progress_texts(discord_fake, d)
        listed = registered["animate"]["name_localizations"][locale]
        assert f"`/{listed}`" in refusal
        assert "/animate" not in refusal

        setting = discord_fake.make_interaction("animate-notify", user_id=troll, locale=locale)
        await discord_fake.send_interaction(setting)
        answer = await discord_fake.wait_for_request(
            lambda r, s=setting: r.path.startswith(f"/interactions/{s['id']}/")
        )
        listed = notify["name_localizations"][locale]
        option = mention["name_localizations"][locale]
        assert f"`/{listed} {option}:False`" in answer.json["data"]["content"]
    assert video_api.submits == []


async def test_a_french_users_job_speaks_french_and_the_log_speaks_the_servers_language(
    runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    mod_log = discord_fake.add_channel("mod-log")
    await runner.start()
    await admin(discord_fake, "mod-log", options=[discord_fake.channel_option("channel", mod_log)])
    video_api.fail_prompts_containing = {"forbidden": MODERATION_ERROR}
    ok = animate_interaction(discord_fake, locale="fr", guild_locale="de")
    refused = animate_interaction(
        discord_fake, locale="fr", guild_locale="de", prompt="forbidden dance"
    )
    await discord_fake.send_interaction(ok)
    await discord_fake.send_interaction(refused)
    await wait_until(lambda: len(runner.jobs()) == 2 and all(j["notified"] for j in runner.jobs()))

    delivered, failed = sorted(runner.jobs(), key=lambda j: j["state"])
    assert (delivered["state"], failed["state"]) == ("delivered", "failed")
    assert (delivered["locale"], delivered["guild_locale"]) == ("fr", "de")
    clip = discord_fake.messages[delivered["message_id"]]
    (embed,) = clip["embeds"]
    assert embed["title"] == fr(messages.RESULT_TITLE)
    assert {f["name"] for f in embed["fields"]} >= {fr(messages.FIELD_SETTINGS)}
    done_in = catalogue().template("fr", "progress.done_in")
    assert isinstance(done_in, str)
    # The post itself tells the user (so `notified`); the progress edit follows it.
    done_prefix = done_in.split("{took}")[0]
    await wait_until(
        lambda: any(t.startswith(done_prefix) for t in progress_texts(discord_fake, ok)[-1:])
    )
    reason = messages.api_failed(MODERATION_ERROR)
    told = messages.honest(reason, failed["cost_cents"], None, RefusedInput.PROMPT)
    assert failed["error"] == fr(told)
    assert progress_texts(discord_fake, refused)[-1] == fr(messages.failed(failed["error"]))

    def log_entry(job: dict[str, Any]) -> dict[str, Any]:
        return discord_fake.messages[job["mod_log_message_id"]]["embeds"][0]

    await wait_until(lambda: all(j["mod_log_message_id"] for j in runner.jobs()))
    await wait_until(
        lambda: log_entry(runner.jobs()[0])["title"].endswith(
            messages.MOD_LOG_STATES[JobState(runner.jobs()[0]["state"])].render("de")
        )
    )
    (delivered,) = [j for j in runner.jobs() if j["id"] == delivered["id"]]
    names = {f["name"] for f in log_entry(delivered)["fields"]}
    assert messages.MOD_LOG_FIELDS["requester"].render("de") in names
    assert messages.MOD_LOG_FIELDS["requester"].render("de") != "Requested by"
