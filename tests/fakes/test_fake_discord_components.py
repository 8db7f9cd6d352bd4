"""Roles, permissions, object options, subcommands and components against a real dpy client."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import discord
import pytest
from discord import app_commands
from discord.ext import commands

from tests.fakes.discord import FakeDiscord, buttons_of
from tests.fakes.discord.constants import (
    ADMINISTRATOR,
    ALL_PERMISSIONS,
    ATTACH_FILES,
    EMBED_LINKS,
    EVERYONE_PERMISSIONS,
    FLAG_EPHEMERAL,
    MANAGE_GUILD,
    MANAGE_MESSAGES,
    MESSAGE_TYPE_REPLY,
    SEND_MESSAGES,
    SUB_COMMAND,
    SUB_COMMAND_GROUP,
    VIEW_CHANNEL,
)
from tests.fakes.test_fake_discord import bot, command_outcome, raw_json  # noqa: F401 - fixture

CSV = b"job,state\n1,delivered\n2,failed\n"


@dataclass(frozen=True)
class World:
    """Ids of the guild set up before the bot connects."""

    admin_role: int
    mod_role: int
    bot_role: int
    hidden: int
    no_post: int
    no_files: int
    nsfw: int
    member: int


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    """A started fake Discord (overrides the one from test_fake_discord)."""
    async with FakeDiscord() as server:
        yield server


@pytest.fixture
def world(fake: FakeDiscord) -> World:
    """Roles, a member and channels with bot overwrites, made before the bot connects."""
    admin_role = fake.add_role("Admin", ADMINISTRATOR)
    mod_role = fake.add_role("Mods", MANAGE_MESSAGES | MANAGE_GUILD)
    bot_role = fake.add_role("FakeBot", VIEW_CHANNEL | SEND_MESSAGES | MANAGE_MESSAGES)
    fake.set_roles(fake.bot_user_id, [bot_role])
    hidden = fake.add_channel("staff")
    fake.hide_channel_from_bot(hidden)
    no_post = fake.add_channel("announcements")
    fake.deny_bot(no_post, SEND_MESSAGES)
    no_files = fake.add_channel("text-only")
    fake.deny_bot(no_files, ATTACH_FILES | EMBED_LINKS)
    nsfw = fake.add_channel("after-dark", nsfw=True)
    member = fake.add_member("bob", roles=[mod_role])
    return World(admin_role, mod_role, bot_role, hidden, no_post, no_files, nsfw, member)


@pytest.fixture
async def client(world: World, bot: commands.Bot) -> commands.Bot:  # noqa: F811
    """The dpy bot, connected after ``world`` was set up."""
    return bot


def text_channel(client: commands.Bot, channel_id: int) -> discord.TextChannel:
    channel = client.get_channel(channel_id)
    assert isinstance(channel, discord.TextChannel)
    return channel


# ---------------------------------------------------------------- guild, roles, overwrites


async def test_discord_py_computes_the_same_bot_permissions_as_the_fake(
    fake: FakeDiscord, world: World, client: commands.Bot
) -> None:
    guild = client.get_guild(fake.guild_id)
    assert guild is not None
    assert [r.id for r in guild.me.roles] == [fake.everyone_role_id, world.bot_role]
    mods = guild.get_role(world.mod_role)
    assert mods is not None
    assert (mods.permissions.manage_messages, mods.permissions.administrator) == (True, False)
    # dpy drops voice bits in text channels on its own; Discord's documented algorithm doesn't.
    text_only = ~discord.Permissions.voice().value
    for channel in guild.text_channels:
        computed = fake.bot_permissions(channel.id) & text_only
        assert channel.permissions_for(guild.me).value == computed
    hidden = text_channel(client, world.hidden).permissions_for(guild.me)
    assert (hidden.view_channel, hidden.send_messages) == (False, False)
    no_post = text_channel(client, world.no_post).permissions_for(guild.me)
    assert (no_post.view_channel, no_post.send_messages, no_post.attach_files) == (
        True,
        False,
        False,
    )
    no_files = text_channel(client, world.no_files).permissions_for(guild.me)
    assert (no_files.send_messages, no_files.attach_files, no_files.embed_links) == (
        True,
        False,
        False,
    )
    assert text_channel(client, world.nsfw).is_nsfw()


async def test_channel_routes_enforce_the_bots_permissions(
    fake: FakeDiscord, world: World, client: commands.Bot
) -> None:
    with pytest.raises(discord.Forbidden) as hidden:
        await text_channel(client, world.hidden).send("psst")
    with pytest.raises(discord.Forbidden) as no_post:
        await text_channel(client, world.no_post).send("hello")
    no_files = text_channel(client, world.no_files)
    with pytest.raises(discord.Forbidden) as file_denied:
        await no_files.send(file=discord.File(io.BytesIO(b"x"), filename="x.txt"))
    with pytest.raises(discord.Forbidden) as embed_denied:
        await no_files.send(embed=discord.Embed(title="t"))
    sent = await no_files.send("plain text is fine")
    assert [e.value.code for e in (hidden, no_post, file_denied, embed_denied)] == [
        50001,
        50013,
        50013,
        50013,
    ]
    assert [m["id"] for m in fake.channel_messages()] == [str(sent.id)]


async def test_interaction_member_roles_permissions_and_nsfw_channel(
    fake: FakeDiscord, world: World, client: commands.Bot
) -> None:
    seen: list[tuple[int, list[int], int, bool]] = []

    async def body(interaction: discord.Interaction) -> None:
        assert isinstance(interaction.user, discord.Member)
        assert isinstance(interaction.channel, discord.TextChannel)
        seen.append(
            (
                interaction.permissions.value,
                [r.id for r in interaction.user.roles],
                interaction.app_permissions.value,
                interaction.channel.is_nsfw(),
            )
        )
        await interaction.response.send_message("ok", ephemeral=True)

    for name in ("plain", "admin", "owner", "given", "hidden", "mod"):
        command_outcome(client, name, body)
    sends = [
        fake.make_interaction("plain"),
        fake.make_interaction("admin", member_roles=[world.admin_role], channel_id=world.nsfw),
        fake.make_interaction("owner", user_id=fake.owner_id),
        fake.make_interaction("given", member_permissions=MANAGE_GUILD),
        fake.make_interaction("hidden", channel_id=world.hidden),
        fake.make_interaction("mod", user_id=world.member),
    ]
    for d in sends:
        await fake.send_interaction(d)
        await fake.wait_for_request(lambda r, d=d: d["id"] in r.path and r.status == 200)
    plain, admin, owner, given, hidden, mod = seen
    everyone = fake.everyone_role_id
    app_general = fake.bot_permissions(fake.channel_id) | ATTACH_FILES | EMBED_LINKS
    assert plain == (EVERYONE_PERMISSIONS, [everyone], app_general, False)
    assert (admin[0], admin[1], admin[3]) == (ALL_PERMISSIONS, [everyone, world.admin_role], True)
    assert owner[0] == ALL_PERMISSIONS
    assert given[0] == MANAGE_GUILD
    app = discord.Permissions(hidden[2])
    assert (app.view_channel, app.send_messages, app.attach_files, app.embed_links) == (
        False,
        False,
        True,
        True,
    )
    assert mod[1] == [everyone, world.mod_role]
    assert discord.Permissions(mod[0]).manage_messages
    assert fake.violations == []


# ---------------------------------------------------------------- object options, subcommands


async def test_subcommand_group_with_object_options_resolves_and_round_trips(
    fake: FakeDiscord, world: World, client: commands.Bot
) -> None:
    guild = discord.Object(fake.guild_id)
    outcome: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    admin = app_commands.Group(
        name="animate-admin",
        description="Admin",
        default_permissions=discord.Permissions(manage_guild=True),
        guild_only=True,
    )
    channels = app_commands.Group(name="channels", description="Channels", parent=admin)

    @channels.command(name="allow", description="Allow a channel")
    async def allow(interaction: discord.Interaction, channel: discord.TextChannel) -> None:
        await interaction.response.send_message("allowed", ephemeral=True)
        outcome.set_result(channel)

    @admin.command(name="block", description="Block a member")
    async def block(
        interaction: discord.Interaction,
        member: discord.Member,
        role: discord.Role,
        where: discord.TextChannel,
        reason: str,
    ) -> None:
        await interaction.response.send_message("blocked", ephemeral=True)
        outcome.set_result((member, role, where, reason))

    client.tree.add_command(admin, guild=guild)
    await client.tree.sync(guild=guild)
    (registered,) = fake.commands_for(fake.guild_id)
    assert registered["name"] == "animate-admin"
    assert registered["default_member_permissions"] == str(MANAGE_GUILD)
    assert (registered["dm_permission"], registered["contexts"]) == (False, None)
    assert [(o["name"], o["type"]) for o in registered["options"]] == [
        ("channels", SUB_COMMAND_GROUP),
        ("block", SUB_COMMAND),
    ]
    assert registered["options"][0]["options"][0]["name"] == "allow"

    allow_d = fake.make_interaction(
        "animate-admin",
        fake.subcommand("channels", "allow", options=[fake.channel_option("channel", world.nsfw)]),
    )
    assert allow_d["data"]["guild_id"] == str(fake.guild_id)
    await fake.send_interaction(allow_d)
    assert (await asyncio.wait_for(outcome, 10)).id == world.nsfw

    outcome = asyncio.get_running_loop().create_future()
    block_d = fake.make_interaction(
        "animate-admin",
        fake.subcommand(
            "block",
            options=[
                fake.user_option("member", world.member),
                fake.role_option("role", world.mod_role),
                fake.channel_option("where", world.hidden),
                fake.string_option("reason", "spam"),
            ],
        ),
        member_roles=[world.admin_role],
    )
    resolved = block_d["data"]["resolved"]
    assert set(resolved) == {"users", "members", "roles", "channels"}
    await fake.send_interaction(block_d)
    member, role, where, reason = await asyncio.wait_for(outcome, 10)
    assert isinstance(member, discord.Member)
    assert (member.id, [r.id for r in member.roles][-1]) == (world.member, world.mod_role)
    assert (role.id, role.name, reason) == (world.mod_role, "Mods", "spam")
    assert (where.id, where.name) == (world.hidden, "staff")
    # The admin invoker's permissions in the channel the bot cannot see.
    assert resolved["channels"][str(world.hidden)]["permissions"] == str(ALL_PERMISSIONS)
    assert resolved["members"][str(world.member)]["roles"] == [str(world.mod_role)]
    assert fake.violations == []


def test_unknown_option_targets_are_refused(fake: FakeDiscord) -> None:
    with pytest.raises(ValueError, match="unknown role"):
        fake.make_interaction("x", [fake.role_option("role", 1234)])
    outsider = fake.add_user("carol")
    d = fake.make_interaction("x", [fake.user_option("who", outsider)])
    assert set(d["data"]["resolved"]) == {"users"}  # not a guild member: no members entry


# ---------------------------------------------------------------- components


class Buttons(discord.ui.View):
    """Two buttons whose presses land in a queue, each answered by ``respond``."""

    def __init__(self, respond: Any) -> None:
        super().__init__(timeout=60)
        self.respond = respond
        self.pressed: asyncio.Queue[tuple[str, discord.Interaction]] = asyncio.Queue()

    @discord.ui.button(label="Retry", custom_id="retry:1", style=discord.ButtonStyle.primary)
    async def retry(self, interaction: discord.Interaction, _: discord.ui.Button[Any]) -> None:
        await self.respond(interaction)
        self.pressed.put_nowait(("retry:1", interaction))

    @discord.ui.button(label="Off", custom_id="off", disabled=True)
    async def off(self, interaction: discord.Interaction, _: discord.ui.Button[Any]) -> None:
        self.pressed.put_nowait(("off", interaction))


async def test_button_on_a_channel_post_updates_the_message_type_7(
    fake: FakeDiscord, client: commands.Bot
) -> None:
    async def update(interaction: discord.Interaction) -> None:
        await interaction.response.edit_message(content="retrying", view=None)

    view = Buttons(update)
    sent = await text_channel(client, fake.channel_id).send("job 1 failed", view=view)
    stored = fake.messages[sent.id]
    assert [(b["custom_id"], b["id"]) for b in buttons_of(stored)] == [("retry:1", 2), ("off", 3)]
    assert (stored["components"][0]["type"], stored["components"][0]["id"]) == (1, 1)
    with pytest.raises(ValueError, match="no enabled component"):
        fake.make_component_interaction(sent.id, "off")

    bob = fake.add_member("bob")
    d = fake.make_component_interaction(sent.id, "retry:1", user_id=bob)
    assert (d["type"], d["data"], d["message"]["id"]) == (
        3,
        {"custom_id": "retry:1", "component_type": 2},
        str(sent.id),
    )
    await fake.send_interaction(d)
    custom_id, interaction = await asyncio.wait_for(view.pressed.get(), 10)
    assert (custom_id, interaction.user.id, interaction.message and interaction.message.id) == (
        "retry:1",
        bob,
        sent.id,
    )
    (callback,) = fake.callbacks()
    assert (callback.json["type"], callback.status) == (7, 200)
    assert callback.response["resource"]["message"]["content"] == "retrying"
    assert (stored["content"], stored["components"]) == ("retrying", [])
    assert stored["edited_timestamp"] is not None
    url = f"{fake.api_url}/interactions/{d['id']}/{fake.token_of(d)}/callback"
    status, _, body = await raw_json("POST", url, body={"type": 6})
    assert (status, body["code"]) == (400, 40060)
    assert fake.violations == []


async def test_deferred_update_then_edit_original_edits_the_button_message(
    fake: FakeDiscord, client: commands.Bot
) -> None:
    async def defer(interaction: discord.Interaction) -> None:
        await interaction.response.defer()
        await interaction.edit_original_response(content="done", view=None)

    view = Buttons(defer)
    sent = await text_channel(client, fake.channel_id).send("job 2", view=view)
    await fake.send_interaction(fake.make_component_interaction(sent.id, "retry:1"))
    await asyncio.wait_for(view.pressed.get(), 10)
    (callback,) = fake.callbacks()
    assert (callback.json, callback.status) == ({"type": 6}, 200)
    assert "resource" not in callback.response
    (edit,) = fake.webhook_edits()
    assert edit.path.endswith("/messages/@original")
    assert fake.messages[sent.id]["content"] == "done"
    assert len(fake.messages) == 1
    assert fake.violations == []


async def test_ephemeral_reply_with_a_csv_to_a_button_on_an_ephemeral_response(
    fake: FakeDiscord, client: commands.Bot
) -> None:
    async def reply(interaction: discord.Interaction) -> None:
        await interaction.response.send_message(
            "your export",
            ephemeral=True,
            file=discord.File(io.BytesIO(CSV), filename="jobs.csv"),
        )

    view = Buttons(reply)

    async def panel(interaction: discord.Interaction) -> int:
        await interaction.response.send_message("Export?", view=view, ephemeral=True)
        return (await interaction.original_response()).id

    outcome = command_outcome(client, "panel", panel)
    invoker = fake.add_member("dana")
    await fake.send_interaction(fake.make_interaction("panel", user_id=invoker))
    panel_id = await asyncio.wait_for(outcome, 10)
    assert fake.messages[panel_id]["flags"] & FLAG_EPHEMERAL
    assert [b["custom_id"] for b in fake.buttons_of(fake.messages[panel_id])] == ["retry:1", "off"]

    d = fake.make_component_interaction(panel_id, "retry:1")
    assert d["member"]["user"]["id"] == str(invoker)  # the only one who sees the message
    assert d["message"]["flags"] & FLAG_EPHEMERAL
    await fake.send_interaction(d)
    await asyncio.wait_for(view.pressed.get(), 10)
    callback = fake.callbacks()[-1]
    assert (callback.json["type"], callback.status) == (4, 200)
    reply_msg = fake.messages[int(callback.response["resource"]["message"]["id"])]
    assert reply_msg["type"] == MESSAGE_TYPE_REPLY
    assert reply_msg["flags"] & FLAG_EPHEMERAL
    assert reply_msg["message_reference"]["message_id"] == str(panel_id)
    assert reply_msg["interaction_metadata"]["interacted_message_id"] == str(panel_id)
    (attachment,) = reply_msg["attachments"]
    assert (attachment["filename"], attachment["content_type"]) == ("jobs.csv", "text/csv")
    upload = fake.upload_of(attachment)
    assert (upload.filename, upload.data, upload.content_type) == (
        "jobs.csv",
        CSV,
        "application/octet-stream",
    )
    assert fake.violations == []


async def test_followup_file_is_recorded_and_slash_commands_cannot_update(
    fake: FakeDiscord, client: commands.Bot
) -> None:
    async def export(interaction: discord.Interaction) -> int:
        await interaction.response.defer(ephemeral=True)
        await interaction.edit_original_response(content="exporting")
        sent = await interaction.followup.send(
            "here", file=discord.File(io.BytesIO(CSV), filename="usage.csv"), ephemeral=True
        )
        return sent.id

    outcome = command_outcome(client, "export", export)
    d = await fake.send_interaction(fake.make_interaction("export"))
    followup_id = await asyncio.wait_for(outcome, 10)
    (attachment,) = fake.messages[followup_id]["attachments"]
    assert fake.upload_of(attachment["id"]).data == CSV
    original_id = fake.callbacks()[0].response["interaction"]["response_message_id"]
    meta = fake.messages[followup_id]["interaction_metadata"]
    assert (meta["type"], meta["original_response_message_id"]) == (2, original_id)

    other = fake.make_interaction("unhandled")
    await fake.send_interaction(other)
    url = f"{fake.api_url}/interactions/{other['id']}/{fake.token_of(other)}/callback"
    status, _, body = await raw_json("POST", url, body={"type": 7, "data": {"content": "x"}})
    assert (status, body["code"]) == (400, 50035)
    assert d["id"] != other["id"]


async def test_late_component_callback_gets_404_unknown_interaction(
    fake: FakeDiscord, client: commands.Bot
) -> None:
    fake.ack_deadline_s = 0.2
    failures: asyncio.Queue[BaseException] = asyncio.Queue()

    async def slow(interaction: discord.Interaction) -> None:
        await asyncio.sleep(0.4)
        try:
            await interaction.response.defer()
        except discord.HTTPException as exc:
            failures.put_nowait(exc)

    view = Buttons(slow)
    sent = await text_channel(client, fake.channel_id).send("job 3", view=view)
    await fake.send_interaction(fake.make_component_interaction(sent.id, "retry:1"))
    error = await asyncio.wait_for(failures.get(), 10)
    assert isinstance(error, discord.NotFound)
    assert error.code == 10062
    assert [c.status for c in fake.callbacks()] == [404]


async def test_changes_after_connect_reach_discord_py_via_push_guild_update(
    fake: FakeDiscord, client: commands.Bot
) -> None:
    guild = client.get_guild(fake.guild_id)
    assert guild is not None
    general = text_channel(client, fake.channel_id)
    assert general.permissions_for(guild.me).send_messages
    fake.deny_bot(fake.channel_id, SEND_MESSAGES)
    helper = fake.add_role("Helper", MANAGE_MESSAGES)
    fake.set_roles(fake.bot_user_id, [helper])
    extra = fake.add_channel("late")
    bot_updated = asyncio.ensure_future(
        client.wait_for("member_update", check=lambda _, after: after.id == fake.bot_user_id)
    )
    await fake.push_guild_update()
    await asyncio.wait_for(bot_updated, 5)  # dispatched after the role and channel events
    assert isinstance(guild.get_channel(extra), discord.TextChannel)
    assert not general.permissions_for(guild.me).send_messages
    assert [r.id for r in guild.me.roles] == [fake.everyone_role_id, helper]
    assert general.permissions_for(guild.me).value == fake.bot_permissions(fake.channel_id) & (
        ~discord.Permissions.voice().value
    )
