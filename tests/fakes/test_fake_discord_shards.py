"""The fake Discord serves several gateway shards as Discord does, to unmodified discord.py.

How a test uses it (multi-process tests start `python -m bot` processes against one fake):

- ``fake.use_shards(count, max_concurrency=1, guilds_per_shard=1)`` before anything connects:
  ``GET /gateway/bot`` then answers ``shards: count`` and that ``max_concurrency``, and every
  shard gets guilds (``fake.add_guild(shard_id)`` adds one more; the main guild, ``guild_id``,
  counts for its own shard). It returns ``{shard_id: [guild ids]}``; ``fake.guilds_on_shard``,
  ``fake.shard_of(guild_id)`` (``(guild_id >> 22) % count``) and ``fake.guild_ids`` say the same.
- A guild's channel is ``fake.general_channel_of(guild_id)``; an interaction in that guild is
  ``fake.make_interaction(name, ..., channel_id=fake.general_channel_of(guild_id))`` (every
  ``make_*`` takes the guild of its channel), and ``fake.send_interaction(d)`` dispatches it on
  the live session of that guild's shard, waiting up to 10 s for one.
- Each IDENTIFY must carry ``shard: [shard_id, count]`` (an unsharded one is closed with 4011,
  a shard that does not fit, or another count, with 4010) and gets READY and GUILD_CREATE
  for its shard's guilds only. More than one IDENTIFY per bucket
  (``shard_id % max_concurrency``) within ``fake.identify_window_s`` (5 s, as Discord) is
  answered with INVALID_SESSION (op 9); unsharded IDENTIFYs are not paced.
- A bot process runs shards with ``runner.start(SHARD_COUNT="3", SHARD_IDS="0")`` (the
  harness waits for each of its shards to connect).
- Observing: ``fake.identifies`` (every IDENTIFY: ``shard``, ``at`` monotonic, ``accepted``,
  ``session_id``; ``identifies_of(shard_id)``), ``fake.dispatches`` (every DISPATCH: ``event``,
  ``shard_id``, ``session_id``, ``guild_id``), ``interaction.received_by`` (shard, session) of
  a registered interaction (``fake.interaction(id)``), ``fake.session_of(shard_id)``,
  ``fake.shard_connected(shard_id)`` (an event set while it has a live session) and
  ``fake.connected`` (set while every shard has one). ``disconnect_gateway(code, shard_id=)``
  drops one shard's socket.

Unsharded (the default, one shard): exactly the behaviour of before; extra guilds added with
``add_guild()`` all go to the one session. Guilds besides the main one are plain: @everyone,
one "general" channel, every member of the main guild as a member without roles.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import discord
import pytest
import yarl
from discord.ext import commands

from tests.fakes.discord import FakeDiscord
from tests.fakes.test_fake_discord import command_outcome, raw_json


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        yield server


class UnpacedBot(commands.AutoShardedBot):
    """discord.py's sharded bot without its 5 s sleep between its own IDENTIFYs."""

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        return None


@contextlib.asynccontextmanager
async def sharded_bots(
    fake: FakeDiscord,
    clusters: list[list[int] | None],
    bot_class: type[commands.AutoShardedBot] = UnpacedBot,
) -> AsyncIterator[list[commands.AutoShardedBot]]:
    """Unmodified dpy AutoShardedBots, one per cluster (its shard ids; None: all), started
    together, past on_ready."""
    old_base = discord.http.Route.BASE
    old_gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    discord.http.Route.BASE = fake.api_url
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)
    clients = [
        bot_class(
            command_prefix="!",
            intents=discord.Intents(guilds=True),
            shard_count=fake.shard_count,
            shard_ids=shard_ids,
            guild_ready_timeout=0.1,
        )
        for shard_ids in clusters
    ]
    readies = [asyncio.Event() for _ in clients]
    for client, ready in zip(clients, readies, strict=True):
        client.add_listener(_setter(ready), "on_ready")
    runners = [asyncio.create_task(client.start(fake.token)) for client in clients]
    try:
        waiter = asyncio.gather(*(ready.wait() for ready in readies))
        await asyncio.wait({*runners, waiter}, timeout=20, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        await asyncio.gather(waiter, return_exceptions=True)
        for runner in runners:
            if runner.done():
                runner.result()
        assert all(ready.is_set() for ready in readies), "a bot did not become ready"
        yield clients
    finally:
        for client in clients:
            await client.close()
        await asyncio.wait(set(runners), timeout=5)
        for runner in runners:  # a start cut short by the close ends with an error: expected
            if runner.done() and not runner.cancelled():
                runner.exception()
        discord.http.Route.BASE = old_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old_gateway


def _setter(event: asyncio.Event) -> Callable[[], Awaitable[None]]:
    async def on_ready() -> None:
        event.set()

    return on_ready


@contextlib.asynccontextmanager
async def sharded_bot(
    fake: FakeDiscord, shard_ids: list[int] | None = None
) -> AsyncIterator[commands.AutoShardedBot]:
    """One unmodified dpy AutoShardedBot running `shard_ids` (all by default)."""
    async with sharded_bots(fake, [shard_ids]) as (client,):
        yield client


@contextlib.asynccontextmanager
async def raw_gateway(fake: FakeDiscord) -> AsyncIterator[aiohttp.ClientWebSocketResponse]:
    """A bare gateway socket past HELLO."""
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(fake.gateway_url) as ws,
    ):
        hello = await ws.receive_json(timeout=5)
        assert hello["op"] == 10
        yield ws


async def identify(ws: aiohttp.ClientWebSocketResponse, token: str, shard: Any = None) -> None:
    d: dict[str, Any] = {"token": token, "intents": 1, "properties": {}}
    if shard is not None:
        d["shard"] = shard
    await ws.send_str(json.dumps({"op": 2, "d": d}))


async def next_payload(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    """The next JSON payload, or {"close": code} when the fake closed the socket."""
    msg = await ws.receive(timeout=5)
    if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING):
        return {"close": ws.close_code if msg.data is None else msg.data}
    payload: dict[str, Any] = json.loads(msg.data)
    return payload


async def ready_guilds(ws: aiohttp.ClientWebSocketResponse) -> tuple[dict[str, Any], list[int]]:
    """READY's `d` and the ids of the GUILD_CREATEs that follow it (until the socket idles)."""
    ready = await next_payload(ws)
    assert ready.get("t") == "READY", ready
    created = []
    with contextlib.suppress(TimeoutError):
        while True:
            msg = await ws.receive_json(timeout=0.3)
            assert msg["t"] == "GUILD_CREATE"
            created.append(int(msg["d"]["id"]))
    return ready["d"], created


# Guilds and shards ------------------------------------------------------------------------------


async def test_use_shards_gives_every_shard_guilds_that_route_to_it(fake: FakeDiscord) -> None:
    by_shard = fake.use_shards(3, max_concurrency=1, guilds_per_shard=2)

    assert sorted(by_shard) == [0, 1, 2]
    for shard_id, guilds in by_shard.items():
        assert len(guilds) == 2
        assert all((guild >> 22) % 3 == shard_id for guild in guilds)
    assert sorted(g for guilds in by_shard.values() for g in guilds) == sorted(fake.guild_ids)
    assert fake.guild_id in by_shard[fake.shard_of(fake.guild_id)]
    assert len(set(fake.guild_ids)) == 6


async def test_gateway_bot_reports_the_shards_and_max_concurrency(fake: FakeDiscord) -> None:
    _, _, before = await raw_json("GET", f"{fake.api_url}/gateway/bot", token=fake.token)
    fake.use_shards(4, max_concurrency=2)

    _, _, after = await raw_json("GET", f"{fake.api_url}/gateway/bot", token=fake.token)

    assert (before["shards"], before["session_start_limit"]["max_concurrency"]) == (1, 1)
    assert (after["shards"], after["session_start_limit"]["max_concurrency"]) == (4, 2)
    assert after["url"] == fake.gateway_url


async def test_other_guilds_list_among_the_bots_guilds_with_their_own_permissions(
    fake: FakeDiscord,
) -> None:
    other = fake.add_guild(name="Second")

    _, _, guilds = await raw_json("GET", f"{fake.api_url}/users/@me/guilds", token=fake.token)

    assert [int(g["id"]) for g in guilds] == [fake.guild_id, other]
    assert guilds[1]["name"] == "Second"
    channel = fake.general_channel_of(other)
    assert fake.guild_of(channel) == other
    assert fake.bot_permissions(channel) == fake.bot_permissions(fake.channel_id)


# The gateway's rules ----------------------------------------------------------------------------


async def test_each_identify_gets_ready_and_guild_create_for_its_shards_guilds_only(
    fake: FakeDiscord,
) -> None:
    by_shard = fake.use_shards(2, max_concurrency=2, guilds_per_shard=2)

    async with raw_gateway(fake) as zero, raw_gateway(fake) as one:
        await identify(zero, fake.token, [0, 2])
        ready0, created0 = await ready_guilds(zero)
        await identify(one, fake.token, [1, 2])
        ready1, created1 = await ready_guilds(one)

    assert ready0["shard"] == [0, 2]
    assert ready1["shard"] == [1, 2]
    assert [int(g["id"]) for g in ready0["guilds"]] == created0 == by_shard[0]
    assert [int(g["id"]) for g in ready1["guilds"]] == created1 == by_shard[1]
    assert [(i.shard, i.accepted) for i in fake.identifies] == [((0, 2), True), ((1, 2), True)]


async def test_without_sharding_one_session_gets_every_guild(fake: FakeDiscord) -> None:
    other = fake.add_guild()

    async with raw_gateway(fake) as ws:
        await identify(ws, fake.token)
        ready, created = await ready_guilds(ws)

    assert "shard" not in ready
    assert created == [fake.guild_id, other]


@pytest.mark.parametrize(
    ("shard", "code"),
    [(None, 4011), ([2, 2], 4010), ([0, 3], 4010), ([-1, 2], 4010), ("0,2", 4010)],
    ids=["unsharded", "id too high", "wrong count", "negative", "not a pair"],
)
async def test_an_identify_that_does_not_fit_the_shards_is_closed_as_discord_does(
    fake: FakeDiscord, shard: Any, code: int
) -> None:
    fake.use_shards(2)

    async with raw_gateway(fake) as ws:
        await identify(ws, fake.token, shard)
        closed = await next_payload(ws)

    assert closed == {"close": code}
    assert fake.identify_count == 0


async def test_an_identify_too_soon_in_its_bucket_gets_invalid_session(fake: FakeDiscord) -> None:
    fake.use_shards(3, max_concurrency=2)  # buckets: {0, 2} and {1}
    fake.identify_window_s = 1.5

    async with raw_gateway(fake) as zero, raw_gateway(fake) as one, raw_gateway(fake) as two:
        await identify(zero, fake.token, [0, 3])
        await ready_guilds(zero)
        await identify(one, fake.token, [1, 3])  # another bucket: at once is fine
        await ready_guilds(one)
        await identify(two, fake.token, [2, 3])  # shard 0's bucket, too soon
        refused = await next_payload(two)
        await asyncio.sleep(fake.identifies[0].at + 1.5 - time.monotonic())
        await identify(two, fake.token, [2, 3])
        accepted, _ = await ready_guilds(two)

    assert refused == {"op": 9, "d": False, "s": None, "t": None}
    assert accepted["shard"] == [2, 3]
    assert [(i.shard_id, i.accepted) for i in fake.identifies] == [
        (0, True),
        (1, True),
        (2, False),
        (2, True),
    ]
    first, _, _, last = fake.identifies
    assert last.at - first.at >= 1.5


async def test_unsharded_identifies_are_not_paced(fake: FakeDiscord) -> None:
    # One unsharded bot restarting at once stays as fast as before sharding existed.
    for _ in range(2):
        async with raw_gateway(fake) as ws:
            await identify(ws, fake.token)
            await ready_guilds(ws)

    assert [i.accepted for i in fake.identifies] == [True, True]


# With discord.py ---------------------------------------------------------------------------------


async def test_a_sharded_dpy_bot_gets_each_interaction_on_its_guilds_shard(
    fake: FakeDiscord,
) -> None:
    by_shard = fake.use_shards(2, max_concurrency=2)

    async with sharded_bot(fake) as bot:
        assert sorted(g.id for g in bot.guilds) == sorted(fake.guild_ids)
        for shard_id, (guild_id,) in by_shard.items():
            guild = bot.get_guild(guild_id)
            assert guild is not None
            assert guild.shard_id == shard_id
            outcome = command_outcome(
                bot, f"where{shard_id}", lambda i: i.response.send_message(str(i.guild_id))
            )
            d = fake.make_interaction(
                f"where{shard_id}", channel_id=fake.general_channel_of(guild_id)
            )
            await fake.send_interaction(d)
            await asyncio.wait_for(outcome, 10)
            assert fake.interaction(int(d["id"])).received_by == (
                shard_id,
                fake.session_of(shard_id),
            )

    answers = [c.json["data"]["content"] for c in fake.callbacks()]
    assert answers == [str(by_shard[0][0]), str(by_shard[1][0])]
    creates = [(d.guild_id, d.shard_id) for d in fake.dispatches if d.event == "GUILD_CREATE"]
    assert sorted(creates) == sorted((g, s) for s, (g,) in by_shard.items())


async def test_two_clusters_each_receive_only_their_own_shards_interactions(
    fake: FakeDiscord,
) -> None:
    by_shard = fake.use_shards(2, max_concurrency=2)
    heard: dict[int, list[int]] = {0: [], 1: []}
    all_heard = asyncio.Event()

    async with sharded_bot(fake, [0]) as zero, sharded_bot(fake, [1]) as one:
        for shard_id, bot in ((0, zero), (1, one)):
            assert [g.id for g in bot.guilds] == by_shard[shard_id]

            async def on_interaction(i: discord.Interaction, shard_id: int = shard_id) -> None:
                heard[shard_id].append(i.guild_id or 0)
                if len(heard[0]) + len(heard[1]) == 3:
                    all_heard.set()

            bot.add_listener(on_interaction, "on_interaction")
        assert fake.connected.is_set()
        for guild_id in (by_shard[1][0], by_shard[0][0], by_shard[1][0]):
            channel = fake.general_channel_of(guild_id)
            await fake.send_interaction(fake.make_interaction("x", channel_id=channel))
        await asyncio.wait_for(all_heard.wait(), 5)

    assert heard == {0: [by_shard[0][0]], 1: [by_shard[1][0], by_shard[1][0]]}


async def test_dpy_clusters_that_identify_together_are_told_invalid_session(
    fake: FakeDiscord,
) -> None:
    """Why the bot paces IDENTIFYs itself: discord.py only spaces the shards of one process,
    so two processes identify at once; Discord (and the fake) refuses the one too soon in the
    bucket, and discord.py tries it again 5 s later."""
    fake.use_shards(2, max_concurrency=1)

    async with sharded_bots(fake, [[0], [1]], commands.AutoShardedBot) as clusters:
        assert [len(bot.shards) for bot in clusters] == [1, 1]

    first, refused, again = fake.identifies
    assert (first.accepted, refused.accepted, again.accepted) == (True, False, True)
    assert refused.shard_id == again.shard_id != first.shard_id
    assert again.at - first.at >= fake.identify_window_s


async def test_dropping_one_shard_resumes_it_while_the_other_stays(fake: FakeDiscord) -> None:
    fake.use_shards(2, max_concurrency=2)

    async with sharded_bot(fake):
        session = fake.session_of(1)
        await fake.disconnect_gateway(4000, shard_id=1)
        assert not fake.connected.is_set()
        assert fake.shard_connected(0).is_set()
        await asyncio.wait_for(fake.shard_connected(1).wait(), 10)

        assert fake.connected.is_set()
        assert fake.session_of(1) == session
        assert (fake.identify_count, fake.resume_count) == (2, 1)
