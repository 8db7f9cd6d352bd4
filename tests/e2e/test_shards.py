"""Sharding end to end: `python -m bot` with SHARD_COUNT/SHARD_IDS against a fake Discord that
serves several shards (tests/fakes/test_fake_discord_shards.py describes it).

Several processes of one bot need the shared PostgreSQL (one SQLite file has one writer), so
the tests here run one process; the fake's own tests cover several clusters at once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import aiohttp

from tests.e2e.conftest import BotRunner, animate_interaction, is_clip_post, wait_until
from tests.e2e.test_operations import free_port, wait_until_async
from tests.fakes.discord import FakeDiscord

#: Discord's window for `max_concurrency` IDENTIFYs (the fake enforces it like Discord).
IDENTIFY_WINDOW_S = 5.0


async def _animate_in(discord: FakeDiscord, guild_id: int) -> dict[str, object]:
    """Send /animate in a guild's channel; return the interaction once its clip is posted."""
    channel = discord.general_channel_of(guild_id)
    interaction = animate_interaction(discord, channel_id=channel)
    await discord.send_interaction(interaction)
    await discord.wait_for_request(is_clip_post(channel), 20)
    return interaction


async def test_one_process_running_every_shard_paces_identifies_and_answers_in_each(
    runner: BotRunner, discord_fake: FakeDiscord
) -> None:
    by_shard = discord_fake.use_shards(2, max_concurrency=1)

    bot = await runner.start(SHARD_COUNT="2")

    zero, one = (discord_fake.identifies_of(shard) for shard in (0, 1))
    assert [(i.shard, i.accepted) for i in (*zero, *one)] == [((0, 2), True), ((1, 2), True)]
    assert one[0].at - zero[0].at >= IDENTIFY_WINDOW_S  # one bucket: 5 s apart, never refused
    for shard_id, (guild_id,) in by_shard.items():
        interaction = await _animate_in(discord_fake, guild_id)
        received = discord_fake.interaction(int(str(interaction["id"]))).received_by
        assert received == (shard_id, discord_fake.session_of(shard_id))
    await wait_until(lambda: [j["state"] for j in runner.jobs()] == ["delivered", "delivered"])
    assert sorted(j["guild_id"] for j in runner.jobs()) == sorted(discord_fake.guild_ids)
    assert "shard 1 identifying (bucket identify-bucket-0)" in bot.log_text()


async def test_a_process_running_one_shard_of_two_serves_that_shards_guilds(
    runner: BotRunner, discord_fake: FakeDiscord
) -> None:
    by_shard = discord_fake.use_shards(2, max_concurrency=2)

    await runner.start(SHARD_COUNT="2", SHARD_IDS="1")

    assert [(i.shard, i.accepted) for i in discord_fake.identifies] == [((1, 2), True)]
    created = [d.guild_id for d in discord_fake.dispatches if d.event == "GUILD_CREATE"]
    assert created == by_shard[1]
    await _animate_in(discord_fake, by_shard[1][0])
    await wait_until(lambda: [j["state"] for j in runner.jobs()] == ["delivered"])
    (job,) = runner.jobs()
    assert job["guild_id"] == by_shard[1][0]


async def test_shards_in_different_buckets_identify_together(
    runner: BotRunner, discord_fake: FakeDiscord
) -> None:
    discord_fake.use_shards(2, max_concurrency=2)

    await runner.start(SHARD_COUNT="2")

    zero, one = (discord_fake.identifies_of(shard)[0] for shard in (0, 1))
    assert (zero.accepted, one.accepted) == (True, True)
    assert abs(one.at - zero.at) < IDENTIFY_WINDOW_S / 2


async def test_shard_ids_that_do_not_fit_stop_the_start_in_one_line(
    runner: BotRunner, discord_fake: FakeDiscord
) -> None:
    bot = await runner.run_to_end(SHARD_COUNT="2", SHARD_IDS="0,2")

    output = bot.log_text()
    assert bot.process.returncode not in (0, None)
    assert "SHARD_IDS: 2 outside 0..1 (SHARD_COUNT is 2)" in output
    assert "Traceback" not in output
    assert discord_fake.identify_count == 0


async def test_check_names_the_shards_beside_discords_recommendation(
    runner: BotRunner, discord_fake: FakeDiscord
) -> None:
    discord_fake.use_shards(4, max_concurrency=2)

    checked = await runner.run_to_end("check", SHARD_COUNT="4", SHARD_IDS="2,3")

    output = checked.log_text().splitlines()
    assert checked.process.returncode == 0, output
    assert (
        "ok      sharding: 2 of 4 shard(s) in this process: 2, 3 "
        "(Discord recommends 4; 2 may identify per 5 s)"
    ) in output


async def test_healthz_wants_every_shard_of_the_process_connected(
    runner: BotRunner, discord_fake: FakeDiscord
) -> None:
    discord_fake.use_shards(2, max_concurrency=2)
    port = free_port()
    await runner.start(SHARD_COUNT="2", METRICS_PORT=str(port))
    async with aiohttp.ClientSession() as http:

        async def health() -> int:
            async with http.get(f"http://127.0.0.1:{port}/healthz") as answer:
                return answer.status

        assert await health() == 200
        discord_fake.refuse_gateway = True  # shard 1 cannot come back for now
        await discord_fake.disconnect_gateway(shard_id=1)
        await wait_until_async(lambda: _is(health, 503), 10)
        assert discord_fake.shard_connected(0).is_set()

        discord_fake.refuse_gateway = False
        await wait_until_async(lambda: _is(health, 200), 30)


async def _is(health: Callable[[], Awaitable[int]], status: int) -> bool:
    return await health() == status
