"""The fake Discord works with an unmodified discord.py 2.7.1 ``commands.Bot`` in-process."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import discord
import pytest
import yarl
from discord.ext import commands

from tests.fakes.discord import FakeDiscord, RecordedRequest
from tests.fakes.discord.extract_schemas import DEFAULT_SPEC, ROUTES, extract
from tests.fakes.discord.schemas import SCHEMA_FILE, RequestSchemas

CLIP = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40
IMAGE = b"\x89PNG\r\n\x1a\n" + b"\x01" * 500


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    """A started fake Discord."""
    async with FakeDiscord() as server:
        yield server


@pytest.fixture
async def bot(fake: FakeDiscord) -> AsyncIterator[commands.Bot]:
    """An unmodified dpy Bot logged into the fake and past on_ready."""
    async with fake_bot(fake) as client:
        yield client


@contextlib.asynccontextmanager
async def fake_bot(fake: FakeDiscord) -> AsyncIterator[commands.Bot]:
    """Log an unmodified dpy Bot into `fake` and wait for on_ready."""
    old_base = discord.http.Route.BASE
    old_gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    discord.http.Route.BASE = fake.api_url
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)
    client = commands.Bot(
        command_prefix="!",
        intents=discord.Intents.default(),
        guild_ready_timeout=0.1,
        allowed_mentions=discord.AllowedMentions.none(),
    )
    ready = asyncio.Event()

    async def on_ready() -> None:
        ready.set()

    client.add_listener(on_ready, "on_ready")
    runner = asyncio.create_task(client.start(fake.token))
    try:
        waiter = asyncio.create_task(ready.wait())
        await asyncio.wait({runner, waiter}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        if runner.done():
            runner.result()  # surface the startup error
        assert ready.is_set(), "bot did not become ready"
        yield client
    finally:
        await client.close()
        await asyncio.wait({runner}, timeout=5)
        discord.http.Route.BASE = old_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old_gateway


def command_outcome(
    bot: commands.Bot, name: str, body: Callable[[discord.Interaction], Awaitable[Any]]
) -> asyncio.Future[Any]:
    """Register a global slash command ``name`` whose result/exception lands in a future."""
    outcome: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    async def callback(interaction: discord.Interaction) -> None:
        try:
            outcome.set_result(await body(interaction))
        except Exception as exc:  # the test inspects it
            outcome.set_exception(exc)

    bot.tree.add_command(
        discord.app_commands.Command(name=name, description=name, callback=callback)
    )
    return outcome


async def raw_json(
    method: str, url: str, *, token: str | None = None, body: Any = None
) -> tuple[int, str, Any]:
    """Make one HTTP call outside discord.py; return (status, content type, JSON)."""
    headers = {"Authorization": f"Bot {token}"} if token else {}
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, url, headers=headers, json=body) as resp,
    ):
        return resp.status, resp.headers["Content-Type"], await resp.json(content_type=None)


async def test_bot_logs_in_and_caches_guild_and_channel(
    fake: FakeDiscord, bot: commands.Bot
) -> None:
    guild = bot.get_guild(fake.guild_id)
    assert guild is not None
    channel = bot.get_channel(fake.channel_id)
    assert isinstance(channel, discord.TextChannel)
    assert channel.name == "general"
    assert bot.user is not None
    assert bot.user.id == fake.bot_user_id
    assert bot.application_id == fake.application_id
    assert channel.permissions_for(guild.me).send_messages
    assert fake.identify_count == 1
    assert fake.connected.is_set()
    me = fake.requests_to("GET", "/users/@me")[0]
    assert me.headers["Authorization"] == f"Bot {fake.token}"


async def test_wrong_rest_token_gets_401_with_exact_json_content_type(fake: FakeDiscord) -> None:
    status, content_type, body = await raw_json("GET", f"{fake.api_url}/users/@me", token="nope")
    assert (status, body) == (401, {"code": 0, "message": "401: Unauthorized"})
    assert content_type == "application/json"


async def test_the_bot_s_guilds_carry_its_server_wide_permissions(fake: FakeDiscord) -> None:
    everyone = fake.role(fake.everyone_role_id)

    status, _, guilds = await raw_json("GET", f"{fake.api_url}/users/@me/guilds", token=fake.token)

    assert status == 200
    assert [(g["id"], g["name"]) for g in guilds] == [(str(fake.guild_id), "Fake Guild")]
    assert guilds[0]["permissions"] == everyone["permissions"]


async def test_application_overrides_change_what_the_application_says(fake: FakeDiscord) -> None:
    fake.application_overrides = {"interactions_endpoint_url": "https://example.com/i"}

    _, _, application = await raw_json(
        "GET", f"{fake.api_url}/oauth2/applications/@me", token=fake.token
    )

    assert application["interactions_endpoint_url"] == "https://example.com/i"
    assert application["id"] == str(fake.application_id)


async def test_a_refused_gateway_answers_503_and_is_recorded(fake: FakeDiscord) -> None:
    fake.refuse_gateway = True
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(fake.gateway_url)

    assert refused.value.status == 503
    assert [(r.path, r.status) for r in fake.requests] == [("/gateway", 503)]
    assert fake.identify_count == 0


async def test_identify_with_wrong_token_is_closed_with_4004(fake: FakeDiscord) -> None:
    async with aiohttp.ClientSession() as session, session.ws_connect(fake.gateway_url) as ws:
        hello = await ws.receive_json()
        assert hello["op"] == 10
        await ws.send_json({"op": 2, "d": {"token": "wrong", "intents": 0, "properties": {}}})
        msg = await ws.receive()
        assert msg.type is aiohttp.WSMsgType.CLOSE
        assert ws.close_code == 4004
    assert fake.identify_count == 0


async def test_unknown_route_is_404_and_recorded(fake: FakeDiscord) -> None:
    url = f"{fake.api_url}/guilds/{fake.guild_id}/bans"
    status, _, body = await raw_json("GET", url, token=fake.token)
    assert (status, body) == (404, {"code": 0, "message": "404: Not Found"})
    assert [r.status for r in fake.requests_to("GET", r"/guilds/\d+/bans")] == [404]


async def test_tree_sync_is_echoed_with_ids_and_stored(
    fake: FakeDiscord, bot: commands.Bot
) -> None:
    guild = discord.Object(fake.guild_id)

    @bot.tree.command(name="render", description="Render a clip", guild=guild)
    async def render(
        interaction: discord.Interaction, image: discord.Attachment, prompt: str
    ) -> None:
        await interaction.response.send_message(prompt)

    synced = await bot.tree.sync(guild=guild)
    assert [c.name for c in synced] == ["render"]
    assert synced[0].id == int(fake.commands[0]["id"])
    assert [o["type"] for o in fake.commands_for(fake.guild_id)[0]["options"]] == [11, 3]
    assert fake.violations == []


async def test_slash_command_flow_is_recorded_and_spec_valid(
    fake: FakeDiscord, bot: commands.Bot
) -> None:
    async def render(interaction: discord.Interaction) -> bytes:
        await interaction.response.defer(thinking=True)
        image = interaction.namespace.image
        data = await image.read()
        await interaction.edit_original_response(content="Rendering…")
        await interaction.followup.send("Queued as job 1")
        assert isinstance(interaction.channel, discord.TextChannel)
        await interaction.channel.send(
            "Done @everyone", file=discord.File(io.BytesIO(CLIP), filename="clip.mp4")
        )
        return data

    outcome: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    @bot.tree.command(name="render", description="Render a clip")
    async def render_cmd(
        interaction: discord.Interaction, image: discord.Attachment, prompt: str
    ) -> None:
        try:
            outcome.set_result(await render(interaction))
        except Exception as exc:
            outcome.set_exception(exc)

    att = fake.add_attachment("cat.png", IMAGE, "image/png", width=512, height=512)
    options = [
        {"name": "image", "type": 11, "value": att["id"]},
        {"name": "prompt", "type": 3, "value": "make it rain"},
    ]
    await fake.send_interaction(fake.make_interaction("render", options, attachments=[att]))
    downloaded = await asyncio.wait_for(outcome, 10)

    assert downloaded == IMAGE
    (callback,) = fake.callbacks()
    assert (callback.json["type"], callback.status) == (5, 200)
    (edit,) = fake.webhook_edits()
    assert edit.path.endswith("/messages/@original")
    assert edit.json["content"] == "Rendering…"
    assert edit.json["allowed_mentions"] == {"parse": []}
    (followup,) = fake.requests_to("POST", r"/webhooks/\d+/[^/]+")
    assert followup.json["content"] == "Queued as job 1"
    (post,) = fake.requests_to("POST", r"/channels/\d+/messages")
    assert post.json["content"] == "Done @everyone"
    assert post.json["allowed_mentions"] == {"parse": []}
    assert post.json["attachments"] == [{"id": 0, "filename": "clip.mp4"}]
    (upload,) = post.files
    assert (upload.field, upload.filename, upload.size) == ("files[0]", "clip.mp4", len(CLIP))
    assert upload.sha256 == hashlib.sha256(CLIP).hexdigest()
    assert upload.head == CLIP[:64]
    stored = fake.messages[int(post.response["id"])]
    assert stored["mention_everyone"] is False
    assert stored["attachments"][0]["size"] == len(CLIP)
    assert fake.violations == []


async def test_first_followup_after_defer_replaces_the_loading_message(
    fake: FakeDiscord, bot: commands.Bot
) -> None:
    async def body(interaction: discord.Interaction) -> tuple[int, int]:
        await interaction.response.defer()
        followup = await interaction.followup.send("result", wait=True)
        original = await interaction.original_response()
        return followup.id, original.id

    outcome = command_outcome(bot, "quick", body)
    await fake.send_interaction(fake.make_interaction("quick", []))
    followup_id, original_id = await asyncio.wait_for(outcome, 10)
    assert followup_id == original_id
    assert fake.messages[original_id]["content"] == "result"
    assert not fake.messages[original_id]["flags"] & 128  # LOADING cleared


async def test_cdn_serves_attachment_ranges_with_206(fake: FakeDiscord) -> None:
    att = fake.add_attachment("cat.png", IMAGE, "image/png", width=1, height=1)
    async with aiohttp.ClientSession() as session:
        async with session.get(att["url"], headers={"Range": "bytes=0-7"}) as resp:
            assert resp.status == 206
            assert resp.headers["Content-Range"] == f"bytes 0-7/{len(IMAGE)}"
            assert await resp.read() == IMAGE[:8]
        unsigned = att["url"].split("?")[0]
        async with session.get(unsigned) as resp:
            assert resp.status == 404


async def test_same_nonce_twice_stores_one_message_with_same_id(
    fake: FakeDiscord, bot: commands.Bot
) -> None:
    channel = bot.get_channel(fake.channel_id)
    assert isinstance(channel, discord.TextChannel)
    first = await channel.send("clip ready", nonce="job-42")
    second = await channel.send("clip ready", nonce="job-42")
    assert first.id == second.id
    assert len(fake.channel_messages(fake.channel_id)) == 1
    assert fake.requests_to("POST", r"/channels/\d+/messages")[0].json["enforce_nonce"] is True


async def test_upload_over_limit_raises_http_413(fake: FakeDiscord, bot: commands.Bot) -> None:
    fake.upload_limit_bytes = 1024
    channel = bot.get_channel(fake.channel_id)
    assert isinstance(channel, discord.TextChannel)
    with pytest.raises(discord.HTTPException) as info:
        await channel.send(file=discord.File(io.BytesIO(b"x" * 1025), filename="big.mp4"))
    assert (info.value.status, info.value.code) == (413, 40005)
    assert fake.channel_messages() == []


async def test_denied_channel_post_raises_forbidden_50013(
    fake: FakeDiscord, bot: commands.Bot
) -> None:
    fake.deny_channel_post(fake.channel_id)
    channel = bot.get_channel(fake.channel_id)
    assert isinstance(channel, discord.TextChannel)
    with pytest.raises(discord.Forbidden) as info:
        await channel.send("hello")
    assert info.value.code == 50013


async def test_deleted_channel_fetch_raises_unknown_channel(
    fake: FakeDiscord, bot: commands.Bot
) -> None:
    fake.delete_channel(fake.channel_id)
    with pytest.raises(discord.NotFound) as info:
        await bot.fetch_channel(fake.channel_id)
    assert info.value.code == 10003


async def test_dm_to_a_user_creates_a_dm_channel_message(
    fake: FakeDiscord, bot: commands.Bot
) -> None:
    user_id = int(fake.make_interaction("noop", [], username="bob")["member"]["user"]["id"])
    user = await bot.fetch_user(user_id)
    message = await user.send("your clip is ready")
    assert isinstance(message.channel, discord.DMChannel)
    (dm_request,) = fake.requests_to("POST", "/users/@me/channels")
    assert dm_request.json == {"recipient_id": user_id}
    assert fake.channel_messages(message.channel.id)[0]["content"] == "your clip is ready"


async def test_injected_429_is_retried_transparently(fake: FakeDiscord, bot: commands.Bot) -> None:
    fake.fail_next("POST", r"/channels/\d+/messages", 429)
    channel = bot.get_channel(fake.channel_id)
    assert isinstance(channel, discord.TextChannel)
    message = await channel.send("after a rate limit")
    statuses = [r.status for r in fake.requests_to("POST", r"/channels/\d+/messages")]
    assert statuses == [429, 200]
    assert [m["id"] for m in fake.channel_messages()] == [str(message.id)]


async def test_expired_token_edit_raises_401_50027(fake: FakeDiscord, bot: commands.Bot) -> None:
    gate = asyncio.Event()

    async def body(interaction: discord.Interaction) -> None:
        await interaction.response.defer()
        await gate.wait()
        await interaction.edit_original_response(content="too late")

    outcome = command_outcome(bot, "slow", body)
    d = await fake.send_interaction(fake.make_interaction("slow", []))
    await fake.wait_for_request(lambda r: r.path.endswith("/callback") and r.status == 200)
    fake.expire_token(fake.token_of(d))
    gate.set()
    with pytest.raises(discord.HTTPException) as info:
        await asyncio.wait_for(outcome, 10)
    assert (info.value.status, info.value.code) == (401, 50027)


async def test_late_callback_gets_404_unknown_interaction(
    fake: FakeDiscord, bot: commands.Bot
) -> None:
    fake.ack_deadline_s = 0.2

    async def body(interaction: discord.Interaction) -> None:
        await asyncio.sleep(0.4)
        await interaction.response.defer()

    outcome = command_outcome(bot, "sluggish", body)
    await fake.send_interaction(fake.make_interaction("sluggish", []))
    with pytest.raises(discord.NotFound) as info:
        await asyncio.wait_for(outcome, 10)
    assert info.value.code == 10062
    assert [c.status for c in fake.callbacks()] == [404]


async def test_second_callback_gets_400_already_acknowledged(
    fake: FakeDiscord, bot: commands.Bot
) -> None:
    outcome = command_outcome(bot, "ack", lambda i: i.response.defer())
    d = await fake.send_interaction(fake.make_interaction("ack", []))
    await asyncio.wait_for(outcome, 10)
    url = f"{fake.api_url}/interactions/{d['id']}/{fake.token_of(d)}/callback"
    status, _, body = await raw_json("POST", url, body={"type": 5})
    assert (status, body["code"]) == (400, 40060)


async def test_gateway_disconnect_resumes_and_still_delivers_interactions(
    fake: FakeDiscord, bot: commands.Bot
) -> None:
    await fake.disconnect_gateway(4000)
    await asyncio.wait_for(fake.connected.wait(), 10)
    assert (fake.resume_count, fake.identify_count) == (1, 1)
    outcome = command_outcome(bot, "after", lambda i: i.response.send_message("still here"))
    await fake.send_interaction(fake.make_interaction("after", []))
    await asyncio.wait_for(outcome, 10)
    (callback,) = fake.callbacks()
    assert (callback.status, callback.json["data"]["content"]) == (200, "still here")


async def test_spec_violation_is_recorded_without_failing_the_request(
    fake: FakeDiscord,
) -> None:
    url = f"{fake.api_url}/channels/{fake.channel_id}/messages"
    body = {"content": "x", "embeds": [{"title": "t"}] * 11}
    status, _, _ = await raw_json("POST", url, token=fake.token, body=body)
    assert status == 200
    assert len(fake.violations) == 1
    assert "embeds" in fake.violations[0]


async def test_wait_for_request_timeout_lists_recent_requests(fake: FakeDiscord) -> None:
    await raw_json("GET", f"{fake.api_url}/users/@me", token=fake.token)

    def never(_: RecordedRequest) -> bool:
        return False

    with pytest.raises(TimeoutError, match=r"GET /users/@me -> 200"):
        await fake.wait_for_request(never, timeout=0.1)


def test_vendored_schemas_cover_the_validated_routes() -> None:
    assert set(RequestSchemas().routes()) == set(ROUTES)


def test_vendored_schemas_match_a_fresh_extraction() -> None:
    if not DEFAULT_SPEC.exists():
        pytest.skip(f"spec not available at {DEFAULT_SPEC}")
    raw = Path(DEFAULT_SPEC).read_bytes()
    fresh = extract(json.loads(raw), hashlib.sha256(raw).hexdigest())
    assert json.loads(SCHEMA_FILE.read_text(encoding="utf-8")) == fresh


def test_spec_accepts_integer_snowflakes_but_not_garbage_ids() -> None:
    schemas = RequestSchemas()
    route = ("POST", "/channels/{channel_id}/messages")
    assert schemas.validate(*route, {"content": "x", "sticker_ids": [1]}) == []
    (error,) = schemas.validate(*route, {"content": "x", "sticker_ids": ["abc"]})
    assert "sticker_ids" in error


async def test_premium_tier_raises_the_guild_upload_limit() -> None:
    async with FakeDiscord() as fake:
        fake.premium_tier = 3
        async with fake_bot(fake) as client:
            guild = client.get_guild(fake.guild_id)
            assert guild is not None
            assert guild.filesize_limit == 100 * 1024 * 1024


async def test_random_faults_hit_only_the_chosen_paths_unprocessed(fake: FakeDiscord) -> None:
    fake.random_fault_rate = 1.0
    fake.random_fault_statuses = (503,)
    post = f"{fake.api_url}/channels/{fake.channel_id}/messages"

    status, _, _ = await raw_json("POST", post, token=fake.token, body={"content": "hi"})
    me, _, _ = await raw_json("GET", f"{fake.api_url}/users/@me", token=fake.token)

    assert (status, me) == (503, 200)
    assert fake.channel_messages(fake.channel_id) == []
