"""Modals, modal submits and the other creative-loop surfaces against a real dpy client."""

from __future__ import annotations

import asyncio
import io
import json
import re
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import discord
import pytest
from discord.ext import commands

from tests.fakes.discord import FakeDiscord
from tests.fakes.discord.constants import (
    ACTION_ROW,
    FLAG_EPHEMERAL,
    INTERACTION_AUTOCOMPLETE,
    INTERACTION_MODAL_SUBMIT,
    LABEL,
    LOCALES,
    MESSAGE_COMMAND,
    MESSAGE_TYPE_CONTEXT_MENU_COMMAND,
    TEXT_DISPLAY,
)
from tests.fakes.discord.extract_schemas import DEFAULT_SPEC
from tests.fakes.test_fake_discord import bot, command_outcome  # noqa: F401 - fixture


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    """A started fake Discord (overrides the one from test_fake_discord)."""
    async with FakeDiscord() as server:
        yield server


async def post_callback(fake: FakeDiscord, d: dict[str, Any], body: Any) -> tuple[int, Any]:
    """POST an interaction callback outside discord.py; return (status, JSON or None)."""
    url = f"{fake.api_url}/interactions/{d['id']}/{fake.token_of(d)}/callback"
    async with aiohttp.ClientSession() as session, session.post(url, json=body) as resp:
        return resp.status, await resp.json() if resp.status != 204 else None


# ---------------------------------------------------------------- modals


class PromptModal(discord.ui.Modal, title="Animate this image"):
    """A legacy action-row text input, a labelled one and a text display."""

    prompt: discord.ui.TextInput[Any] = discord.ui.TextInput(
        label="Prompt", custom_id="prompt", max_length=500
    )
    note = discord.ui.TextDisplay("Describe the motion.")
    style = discord.ui.Label(
        text="Style",
        description="Optional",
        component=discord.ui.TextInput(
            custom_id="style", required=False, default="cinematic", max_length=40
        ),
    )

    def __init__(self, answer: Any) -> None:
        super().__init__(custom_id="animate:modal:7", timeout=60)
        self.answer = answer
        self.submitted: asyncio.Future[tuple[str, str, discord.Interaction]] = (
            asyncio.get_running_loop().create_future()
        )

    async def on_submit(self, interaction: discord.Interaction) -> None:
        style = self.style.component
        assert isinstance(style, discord.ui.TextInput)
        await self.answer(interaction)
        self.submitted.set_result((self.prompt.value, style.value, interaction))


async def test_modal_from_a_slash_command_is_recorded_and_its_submit_parsed_by_dpy(
    fake: FakeDiscord,
    bot: commands.Bot,  # noqa: F811
) -> None:
    async def reply(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("queued", ephemeral=True)

    modal = PromptModal(reply)

    async def open_modal(interaction: discord.Interaction) -> None:
        await interaction.response.send_modal(modal)

    command_outcome(bot, "animate", open_modal)
    d = await fake.send_interaction(fake.make_interaction("animate"))
    await fake.wait_for_request(lambda r: d["id"] in r.path and r.status < 300)
    recorded = fake.modal_of(d)
    assert recorded is not None
    assert (recorded["custom_id"], recorded["title"]) == ("animate:modal:7", "Animate this image")
    row, text, label = recorded["components"]
    assert (row["type"], row["components"][0]["custom_id"]) == (ACTION_ROW, "prompt")
    assert (text["type"], label["type"], label["component"]["value"]) == (
        TEXT_DISPLAY,
        LABEL,
        "cinematic",
    )
    assert fake.original_response(d) is None  # a modal creates no message

    submit = fake.make_modal_submit_interaction(d, {"prompt": "the cat waves"})
    assert submit["type"] == INTERACTION_MODAL_SUBMIT
    assert "message" not in submit
    assert submit["data"] == {
        "custom_id": "animate:modal:7",
        "components": [
            {
                "type": 1,
                "id": row["id"],
                "components": [
                    {
                        "type": 4,
                        "id": row["components"][0]["id"],
                        "custom_id": "prompt",
                        "value": "the cat waves",
                    }
                ],
            },
            {"type": 10, "id": text["id"]},
            {
                "type": 18,
                "id": label["id"],
                "component": {
                    "type": 4,
                    "id": label["component"]["id"],
                    "custom_id": "style",
                    "value": "cinematic",
                },
            },
        ],
    }
    await fake.send_interaction(submit)
    prompt, style, interaction = await asyncio.wait_for(modal.submitted, 10)
    assert (prompt, style, interaction.user.id) == (
        "the cat waves",
        "cinematic",
        int(d["member"]["user"]["id"]),
    )
    await fake.wait_for_request(lambda r: submit["id"] in r.path and r.status == 200)
    reply_msg = fake.original_response(submit)
    assert reply_msg is not None
    assert reply_msg["flags"] & FLAG_EPHEMERAL
    meta = reply_msg["interaction_metadata"]
    assert (meta["type"], meta["triggering_interaction_metadata"]["id"]) == (5, d["id"])
    assert fake.violations == []


class EditButton(discord.ui.View):
    """A button that opens a modal; the modal's submit edits the button's message (7)."""

    def __init__(self) -> None:
        super().__init__(timeout=60)
        self.modal = PromptModal(self.update)

    async def update(self, interaction: discord.Interaction) -> None:
        await interaction.response.edit_message(content="regenerating", view=None)

    @discord.ui.button(label="Edit prompt", custom_id="animate:edit:7")
    async def edit(self, interaction: discord.Interaction, _: discord.ui.Button[Any]) -> None:
        await interaction.response.send_modal(self.modal)


async def test_modal_from_a_button_submits_with_the_message_and_may_update_it(
    fake: FakeDiscord,
    bot: commands.Bot,  # noqa: F811
) -> None:
    channel = bot.get_channel(fake.channel_id)
    assert isinstance(channel, discord.TextChannel)
    view = EditButton()
    sent = await channel.send("clip 7", view=view)
    press = await fake.send_interaction(fake.make_component_interaction(sent.id, "animate:edit:7"))
    await fake.wait_for_request(lambda r: press["id"] in r.path and r.status < 300)
    with pytest.raises(ValueError, match="'prompt' is required"):
        fake.make_modal_submit_interaction(press, {"style": "noir"})
    with pytest.raises(ValueError, match="must be 0-500 characters"):
        fake.make_modal_submit_interaction(press, {"prompt": "x" * 501})
    with pytest.raises(ValueError, match="no input"):
        fake.make_modal_submit_interaction(press, {"prompt": "ok", "seed": "1"})

    submit = fake.make_modal_submit_interaction(press, {"prompt": "slower", "style": "noir"})
    assert submit["message"]["id"] == str(sent.id)
    await fake.send_interaction(submit)
    prompt, style, interaction = await asyncio.wait_for(view.modal.submitted, 10)
    assert (prompt, style) == ("slower", "noir")
    assert interaction.message is not None
    assert interaction.message.id == sent.id
    await fake.wait_for_request(lambda r: submit["id"] in r.path and r.status == 200)
    assert (fake.messages[sent.id]["content"], fake.messages[sent.id]["components"]) == (
        "regenerating",
        [],
    )
    assert fake.violations == []


async def test_modal_callbacks_are_refused_where_discord_refuses_them(
    fake: FakeDiscord,
    bot: commands.Bot,  # noqa: F811
) -> None:
    modal = {
        "custom_id": "m",
        "title": "Prompt",
        "components": [
            {"type": 1, "components": [{"type": 4, "custom_id": "p", "style": 1, "label": "P"}]}
        ],
    }

    async def callback(d: dict[str, Any], body: dict[str, Any]) -> tuple[int, Any]:
        await fake.send_interaction(d)
        return await post_callback(fake, d, body)

    too_long = {**modal, "title": "t" * 46}
    status, answer = await callback(fake.make_interaction("a"), {"type": 9, "data": too_long})
    assert (status, answer["code"]) == (400, 50035)
    twice = {**modal, "components": modal["components"] * 2}
    status, answer = await callback(fake.make_interaction("b"), {"type": 9, "data": twice})
    assert (status, answer["code"]) == (400, 50035)
    opened = fake.make_interaction("c")
    assert await callback(opened, {"type": 9, "data": modal}) == (204, None)
    submit = fake.make_modal_submit_interaction(opened, {"p": "hello"})
    status, answer = await callback(submit, {"type": 9, "data": modal})
    assert (status, answer["code"]) == (400, 50035)  # a modal submit cannot open a modal
    status, answer = await callback(
        fake.make_modal_submit_interaction(opened, {"p": "again"}), {"type": 7, "data": {}}
    )
    assert (status, answer["code"]) == (400, 50035)  # not opened from a message
    assert len(fake.violations) == 1  # the 46-character title


# ---------------------------------------------------------------- user messages

PNG = b"\x89PNG\r\n\x1a\n" + b"\x02" * 300


async def test_user_message_with_attachment_and_image_embeds_is_fetchable_and_downloadable(
    fake: FakeDiscord,
    bot: commands.Bot,  # noqa: F811
) -> None:
    photo = fake.add_attachment("cat.png", PNG, "image/png", width=64, height=48)
    rich = fake.image_embed(PNG, width=640, height=480, filename="dog.png")
    pasted = fake.image_embed(b"GIF89a", width=8, height=8, filename="a.gif", unfurl=True)
    bob = fake.add_member("bob")
    stored = fake.add_user_message(
        author_id=bob,
        content="look <@" + str(bob) + ">",
        attachments=[photo],
        embeds=[rich, pasted],
    )
    assert fake.messages[int(stored["id"])] is stored
    assert "ephemeral" not in stored["attachments"][0]
    channel = bot.get_channel(fake.channel_id)
    assert isinstance(channel, discord.TextChannel)
    message = await channel.fetch_message(int(stored["id"]))
    assert (message.author.id, message.author.bot, message.mentions[0].id) == (bob, False, bob)
    assert await message.attachments[0].read() == PNG
    image, thumbnail = message.embeds[0].image, message.embeds[1].thumbnail
    assert (image.width, image.height, message.embeds[1].type) == (640, 480, "image")
    async with aiohttp.ClientSession() as session:
        for url, expected in (
            (image.proxy_url, PNG),
            (image.url, PNG),
            (thumbnail.proxy_url, b"GIF89a"),
        ):
            assert url is not None
            async with session.get(url) as resp:
                assert (resp.status, await resp.read()) == (200, expected)
        async with session.get(image.proxy_url.replace("dog.png", "cat.png")) as resp:
            assert resp.status == 404
    assert fake.violations == []


# ---------------------------------------------------------------- message commands


async def test_message_command_is_registered_and_invoked_on_a_user_message(
    fake: FakeDiscord,
    bot: commands.Bot,  # noqa: F811
) -> None:
    targets: asyncio.Queue[tuple[discord.Message, discord.Interaction]] = asyncio.Queue()

    @discord.app_commands.context_menu(name="Animate this image")
    async def animate_this(interaction: discord.Interaction, message: discord.Message) -> None:
        await interaction.response.send_message("on it", ephemeral=True)
        targets.put_nowait((message, interaction))

    guild = discord.Object(fake.guild_id)
    bot.tree.add_command(animate_this, guild=guild)
    await bot.tree.sync(guild=guild)
    (registered,) = fake.commands_for(fake.guild_id)
    assert (registered["type"], registered["name"], registered["description"]) == (
        MESSAGE_COMMAND,
        "Animate this image",
        "",
    )
    photo = fake.add_attachment("cat.png", PNG, "image/png", width=64, height=48)
    stored = fake.add_user_message(content="my cat", attachments=[photo])
    d = fake.make_message_command_interaction("Animate this image", int(stored["id"]))
    assert (d["data"]["type"], d["data"]["target_id"]) == (3, stored["id"])
    assert d["data"]["id"] == registered["id"]
    assert d["data"]["guild_id"] == str(fake.guild_id)
    await fake.send_interaction(d)
    message, interaction = await asyncio.wait_for(targets.get(), 10)
    assert (message.id, message.content) == (int(stored["id"]), "my cat")
    assert await message.attachments[0].read() == PNG
    assert interaction.command is not None
    assert interaction.command.name == "Animate this image"
    await fake.wait_for_request(lambda r: d["id"] in r.path and r.status == 200)
    answer = fake.original_response(d)
    assert answer is not None
    assert answer["type"] == MESSAGE_TYPE_CONTEXT_MENU_COMMAND
    with pytest.raises(ValueError, match="no live message"):
        fake.make_message_command_interaction("Animate this image", 1)
    assert fake.violations == []


async def test_message_command_with_a_description_is_refused(fake: FakeDiscord) -> None:
    url = f"{fake.api_url}/applications/{fake.application_id}/commands"
    headers = {"Authorization": f"Bot {fake.token}"}
    bad = [{"name": "Animate", "type": 3, "description": "no"}]
    async with aiohttp.ClientSession() as session, session.put(url, json=bad, headers=headers) as r:
        assert (r.status, (await r.json())["code"]) == (400, 50035)
    assert fake.commands == []


# ---------------------------------------------------------------- autocomplete


async def test_autocomplete_flags_the_focused_option_and_records_the_choices(
    fake: FakeDiscord,
    bot: commands.Bot,  # noqa: F811
) -> None:
    typed: asyncio.Queue[tuple[str, int]] = asyncio.Queue()

    async def jobs(interaction: discord.Interaction, current: str) -> list[Any]:
        typed.put_nowait((current, interaction.namespace.limit))
        return [discord.app_commands.Choice(name=f"#{n} a dog", value=str(n)) for n in (12, 11)]

    @discord.app_commands.command(name="animate-show", description="Show a job")
    @discord.app_commands.autocomplete(job=jobs)
    async def show(interaction: discord.Interaction, job: str, limit: int = 5) -> None:
        raise AssertionError("autocomplete must not run the command")

    bot.tree.add_command(show)
    d = fake.make_autocomplete_interaction(
        "animate-show",
        [fake.string_option("job", "1"), fake.integer_option("limit", 3)],
        focused="job",
    )
    assert d["type"] == INTERACTION_AUTOCOMPLETE
    assert d["data"]["options"][0] == {"name": "job", "type": 3, "value": "1", "focused": True}
    await fake.send_interaction(d)
    assert await asyncio.wait_for(typed.get(), 10) == ("1", 3)
    await fake.wait_for_request(lambda r: d["id"] in r.path and r.status < 300)
    assert fake.choices_of(d) == [
        {"name": "#12 a dog", "value": "12"},
        {"name": "#11 a dog", "value": "11"},
    ]
    with pytest.raises(ValueError, match="no option 'prompt'"):
        fake.make_autocomplete_interaction("animate-show", [], focused="prompt")
    assert fake.violations == []


async def test_autocomplete_answers_are_checked_like_discord_checks_them(
    fake: FakeDiscord,
    bot: commands.Bot,  # noqa: F811
) -> None:
    def ask() -> dict[str, Any]:
        return fake.make_autocomplete_interaction("x", [fake.string_option("q", "")], focused="q")

    many = [{"name": str(n), "value": str(n)} for n in range(26)]
    long_name = [{"name": "n" * 101, "value": "v"}]
    for choices in (many, long_name):
        d = await fake.send_interaction(ask())
        status, answer = await post_callback(fake, d, {"type": 8, "data": {"choices": choices}})
        assert (status, answer["code"]) == (400, 50035)
        assert fake.choices_of(d) is None
    d = await fake.send_interaction(ask())
    status, answer = await post_callback(fake, d, {"type": 4, "data": {"content": "hi"}})
    assert (status, answer["code"]) == (400, 50035)  # autocomplete takes only choices
    assert await post_callback(fake, d, {"type": 8, "data": {"choices": many[:25]}}) == (204, None)
    assert len(fake.choices_of(d) or []) == 25
    command = fake.make_interaction("x")
    await fake.send_interaction(command)
    status, answer = await post_callback(fake, command, {"type": 8, "data": {"choices": []}})
    assert (status, answer["code"]) == (400, 50035)  # a command cannot answer with choices
    assert len(fake.violations) == 2


# ---------------------------------------------------------------- uploads on the CDN

CLIP = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 64


class Delete(discord.ui.View):
    """A Delete button whose press lands in a queue."""

    def __init__(self) -> None:
        super().__init__(timeout=60)
        self.pressed: asyncio.Queue[discord.Interaction] = asyncio.Queue()

    @discord.ui.button(label="Delete", custom_id="clip:delete")
    async def delete(self, interaction: discord.Interaction, _: discord.ui.Button[Any]) -> None:
        await interaction.response.defer()
        self.pressed.put_nowait(interaction)


async def fetch(url: str) -> tuple[int, bytes]:
    """GET a URL outside discord.py; return (status, body)."""
    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        return resp.status, await resp.read()


async def test_files_the_bot_uploads_are_served_at_signed_urls_until_deleted(
    fake: FakeDiscord,
    bot: commands.Bot,  # noqa: F811
) -> None:
    channel = bot.get_channel(fake.channel_id)
    assert isinstance(channel, discord.TextChannel)
    view = Delete()
    post = await channel.send(file=discord.File(io.BytesIO(CLIP), filename="clip.mp4"), view=view)
    url = post.attachments[0].url
    assert re.search(r"/clip\.mp4\?ex=[0-9a-f]+&is=[0-9a-f]+&hm=[0-9a-f]{64}&$", url)
    assert await post.attachments[0].read() == CLIP
    assert await fetch(url.split("&hm=")[0]) == (404, b"This content is no longer available.")
    fetched = await channel.fetch_message(post.id)
    assert fetched.attachments[0].url == url
    press = fake.make_component_interaction(post.id, "clip:delete")
    assert press["message"]["attachments"][0]["url"] == url
    await fake.send_interaction(press)
    interaction = await asyncio.wait_for(view.pressed.get(), 10)
    edited = await interaction.edit_original_response(
        attachments=[discord.File(io.BytesIO(b"frame"), filename="frame.png")]
    )
    assert [a.filename for a in edited.attachments] == ["frame.png"]
    assert await edited.attachments[0].read() == b"frame"
    await interaction.delete_original_response()
    assert post.id not in fake.messages
    assert (await fetch(url))[0] == 404
    assert (await fetch(edited.attachments[0].url))[0] == 404
    assert fake.violations == []


async def test_ephemeral_response_and_followup_files_are_downloadable_big_ones_not_kept(
    fake: FakeDiscord,
    bot: commands.Bot,  # noqa: F811
) -> None:
    fake.keep_file_bytes = 1000

    async def reply(interaction: discord.Interaction) -> list[discord.Message]:
        await interaction.response.send_message(
            "preview",
            ephemeral=True,
            file=discord.File(io.BytesIO(b"small"), filename="a.png"),
        )
        followup = await interaction.followup.send(
            "clip",
            ephemeral=True,
            file=discord.File(io.BytesIO(CLIP), filename="clip.mp4"),
            wait=True,
        )
        second = await interaction.followup.send("x", ephemeral=True, wait=True)
        await interaction.followup.delete_message(second.id)
        return [await interaction.original_response(), followup]

    outcome = command_outcome(bot, "preview", reply)
    await fake.send_interaction(fake.make_interaction("preview"))
    original, followup = await asyncio.wait_for(outcome, 10)
    assert original.flags.ephemeral
    assert await original.attachments[0].read() == b"small"
    big = followup.attachments[0]
    assert (big.size, fake.upload_of(big.id).data) == (len(CLIP), None)
    assert (await fetch(big.url))[0] == 404
    assert [m["content"] for m in fake.channel_messages()] == ["preview", "clip"]
    assert fake.violations == []


# ---------------------------------------------------------------- localized commands


class German(discord.app_commands.Translator):
    """Translates every command string to German by prefixing it."""

    async def translate(
        self,
        string: discord.app_commands.locale_str,
        locale: discord.Locale,
        context: discord.app_commands.TranslationContextTypes,
    ) -> str | None:
        if locale is not discord.Locale.german:
            return None
        return "de-" + string.message


async def test_localized_commands_are_kept_and_interactions_carry_both_locales(
    fake: FakeDiscord,
    bot: commands.Bot,  # noqa: F811
) -> None:
    seen: asyncio.Queue[tuple[discord.Locale, discord.Locale | None]] = asyncio.Queue()

    @discord.app_commands.command(name="animate", description="Animate an image")
    @discord.app_commands.choices(quality=[discord.app_commands.Choice(name="fast", value="fast")])
    async def animate(interaction: discord.Interaction, quality: str) -> None:
        seen.put_nowait((interaction.locale, interaction.guild_locale))
        await interaction.response.send_message("ok", ephemeral=True)

    await bot.tree.set_translator(German())
    bot.tree.add_command(animate)
    await bot.tree.sync()
    (registered,) = fake.commands
    option = registered["options"][0]
    assert (registered["name_localizations"], registered["description_localizations"]) == (
        {"de": "de-animate"},
        {"de": "de-Animate an image"},
    )
    assert option["name_localizations"] == {"de": "de-quality"}
    assert option["choices"][0]["name_localizations"] == {"de": "de-fast"}

    d = fake.make_interaction(
        "animate", [fake.string_option("quality", "fast")], locale="de", guild_locale="fr"
    )
    assert (d["locale"], d["guild_locale"], d["guild"]["locale"]) == ("de", "fr", "fr")
    await fake.send_interaction(d)
    assert await asyncio.wait_for(seen.get(), 10) == (discord.Locale.german, discord.Locale.french)
    assert fake.violations == []


async def test_localizations_with_unknown_locales_or_bad_lengths_are_flagged(
    fake: FakeDiscord,
) -> None:
    url = f"{fake.api_url}/applications/{fake.application_id}/commands"
    headers = {"Authorization": f"Bot {fake.token}"}
    choice = {"name": "fast", "value": "fast", "name_localizations": {"klingon": "q"}}
    option = {"type": 3, "name": "q", "description": "d", "choices": [choice]}
    unknown = [{"name": "a", "description": "d", "options": [option]}]
    too_long = [{"name": "b", "description": "d", "name_localizations": {"de": "x" * 33}}]
    async with aiohttp.ClientSession() as session:
        async with session.put(url, json=unknown, headers=headers) as r:
            assert (r.status, (await r.json())["code"]) == (400, 50035)
        assert fake.violations == [
            f"PUT /applications/{fake.application_id}/commands: not a locale: "
            "a.options[0].choices[0].name_localizations.klingon"
        ]
        async with session.put(url, json=too_long, headers=headers) as r:
            assert r.status == 200
    assert "name_localizations" in fake.violations[1]
    assert "too long" in fake.violations[1]


def test_the_fakes_locales_are_the_specs() -> None:
    if not DEFAULT_SPEC.exists():
        pytest.skip(f"spec not available at {DEFAULT_SPEC}")
    spec = json.loads(DEFAULT_SPEC.read_text(encoding="utf-8"))
    enum = spec["components"]["schemas"]["AvailableLocalesEnum"]["oneOf"]
    assert {e["const"] for e in enum} == LOCALES
    # discord.py 2.7.1 has no Locale for Arabic and Hebrew, which Discord added later.
    assert LOCALES - {locale.value for locale in discord.Locale} == {"ar", "he"}
