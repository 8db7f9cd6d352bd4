"""/usage figures and the registered command definitions."""

from __future__ import annotations

from typing import Any

from bot.jobs.model import MAX_VARIATIONS
from tests.e2e.conftest import (
    BotProcess,
    BotRunner,
    animate_interaction,
    wait_until,
)
from tests.fakes.discord import FakeDiscord
from tests.fakes.fake_vibedream import MODERATION_ERROR, FakeVibedream

EPHEMERAL = 1 << 6
ATTACHMENT, STRING, INTEGER, BOOLEAN = 11, 3, 4, 5


async def test_usage_shows_the_callers_own_figures_ephemerally(
    bot: BotProcess, runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    alice, bob = 1001, 1002
    video_api.fail_prompts_containing = {"forbidden": MODERATION_ERROR}
    await discord_fake.send_interaction(animate_interaction(discord_fake, user_id=alice))
    await discord_fake.send_interaction(
        animate_interaction(
            discord_fake, user_id=alice, prompt="forbidden dance", extra={"duration": 8}
        )
    )
    await discord_fake.send_interaction(animate_interaction(discord_fake, user_id=bob))
    await wait_until(
        lambda: len(runner.jobs()) == 3 and all(j["notified"] for j in runner.jobs()), 20
    )

    usage = discord_fake.make_interaction("usage", user_id=alice)
    await discord_fake.send_interaction(usage)
    callback = await discord_fake.wait_for_request(
        lambda r: r.path.startswith(f"/interactions/{usage['id']}/")
    )

    assert callback.json["type"] == 4
    assert callback.json["data"]["flags"] == EPHEMERAL
    (embed,) = callback.json["data"]["embeds"]
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    for period in ("Today (UTC)", "This month", "All time"):
        assert "2 generations (1 succeeded, 1 failed)" in fields[period]
        assert "5 s of video · $0.58" in fields[period]  # failed clips yield no video
    assert embed["description"].count("\n`#") == 2  # alice's two jobs only
    assert "❌ failed" in embed["description"]
    assert "✅ delivered" in embed["description"]


async def test_commands_are_registered_with_native_option_types(
    bot: BotProcess, discord_fake: FakeDiscord
) -> None:
    commands = {c["name"]: c for c in discord_fake.commands}
    assert set(commands) == {
        "animate",
        "usage",
        "animate-admin",
        "Animate this image",
        "animate-history",
        "animate-show",
        "animate-notify",
        "animate-settings",
    }
    assert commands["animate-settings"]["contexts"] == [0]  # a member's defaults per server
    menu = commands["Animate this image"]
    assert menu["type"] == 3  # a message command: right-click a message → Apps
    assert menu["contexts"] == commands["animate"]["contexts"] == [0]  # servers only
    options = {o["name"]: o for o in commands["animate"]["options"]}
    assert list(options) == [
        "image",
        "prompt",
        "last_image",
        "duration",
        "resolution",
        "aspect_ratio",
        "camera_fixed",
        "seed",
        "generate_audio",
        "variations",
        "draft",
    ]
    assert (options["variations"]["type"], options["draft"]["type"]) == (INTEGER, BOOLEAN)
    variations = options["variations"]
    assert (variations["min_value"], variations["max_value"]) == (1, MAX_VARIATIONS)
    assert options["image"]["type"] == ATTACHMENT
    assert options["image"]["required"]
    assert options["last_image"]["type"] == ATTACHMENT
    assert options["prompt"]["type"] == STRING
    assert options["prompt"]["min_length"] == 1
    # The ranges span the catalogue; what the server's model takes is suggested by autocomplete.
    assert (options["duration"]["min_value"], options["duration"]["max_value"]) == (1, 16)
    assert (options["seed"]["min_value"], options["seed"]["max_value"]) == (1, 1000)
    for name in ("duration", "resolution", "aspect_ratio"):
        assert options[name]["autocomplete"] is True
        assert "choices" not in options[name]
    assert options["camera_fixed"]["type"] == BOOLEAN
    assert options["generate_audio"]["type"] == BOOLEAN
    assert all(o["description"] for o in options.values())
    assert commands["animate"]["contexts"] == [0]  # server channels only


async def test_commands_are_synced_only_when_they_change(
    runner: BotRunner, discord_fake: FakeDiscord
) -> None:
    first = await runner.start()
    await first.stop()
    await runner.start()

    puts = discord_fake.requests_to("PUT", r"/applications/\d+/commands")
    assert len(puts) == 1


async def test_every_option_of_every_command_is_described_in_every_language(
    bot: BotProcess, discord_fake: FakeDiscord
) -> None:
    def options_of(node: dict[str, Any]) -> list[dict[str, Any]]:
        found = []
        for option in node.get("options", []):
            if option["type"] in (1, 2):  # a subcommand (group): its options count
                found.extend(options_of(option))
            else:
                found.append(option)
        return found

    options = [o for c in discord_fake.commands for o in options_of(c)]

    assert len(options) > 20
    for option in options:
        # discord.py registers "…" for an option nobody described; Discord shows it as is.
        assert option["description"] not in ("", "…"), option["name"]
        localized = option.get("description_localizations") or {}
        assert {"fr", "de", "es-ES"} <= set(localized), option["name"]
        assert "…" not in localized.values(), option["name"]
