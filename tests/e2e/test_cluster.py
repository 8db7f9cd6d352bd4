"""Several bot processes on one PostgreSQL database (issue 12), end to end: real `python -m bot`
processes, each running one gateway shard of the fake Discord, sharing one real PostgreSQL.

What is proven here: each process IDENTIFYs its own shard, paced bot-wide, and the commands are
uploaded once; an interaction reaches only its server's shard; a process SIGKILLed with a job
at each state is taken over by the survivors once its lease runs out, every job finished once
(at most one submit, at most one clip post, a submit on the wire failed as "outcome unknown");
the in-flight and open-job caps hold across processes; a paused process that wakes after
losing its lease changes nothing; three processes starting together on an empty database all
come up. Leases are short here (`JOB_LEASE_S` 2 s) so that takeovers come quickly.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import signal
from collections import Counter
from typing import Any

import pytest

from bot.storage.database import migrations
from tests.e2e.admin_tools import animate_outcome, wait_all_notified
from tests.e2e.conftest import BotProcess, BotRunner, animate_interaction, wait_until
from tests.e2e.test_faults import (
    KILL_POINTS,
    _arrange,
    _undo_faults,
    all_notified,
    clip_messages,
    job,
)
from tests.e2e.test_limits import is_progress
from tests.e2e.test_shards import IDENTIFY_WINDOW_S
from tests.english import english
from tests.fakes.discord import FakeDiscord
from tests.fakes.fake_vibedream import FakeVibedream
from tests.fakes.secret_scan import SCAN

PG_PASSWORD = "pg-password-of-the-cluster-bots"
SCAN.add_secret("DATABASE_URL password (cluster e2e)", PG_PASSWORD)

#: Short leases and sweeps, so that a takeover comes within a few seconds.
LEASES = {"job_lease_s": "2", "job_poll_s": "0.3"}
NAMES = ("alpha", "beta", "gamma")
TAKEOVER = re.compile(r"job (\d+): lease of (\S+) expired; taken over by (\S+) in state")
LOST = "lost its lease to another process"


@pytest.fixture
def e2e_database_url(empty_postgresql: str) -> str:
    """A fresh, empty PostgreSQL database the test's processes share (each test's processes
    migrate it as they start), with a password the secret scan watches for."""
    return empty_postgresql.replace("postgres@", f"postgres:{PG_PASSWORD}@", 1)


# Helpers ---------------------------------------------------------------------------------------


async def start_cluster(runner: BotRunner, shard_count: int, **settings: str) -> list[BotProcess]:
    """Start one process per shard (`NAMES[shard]`, `SHARD_IDS=shard`) at the same moment;
    return them once each has identified."""
    return list(
        await asyncio.gather(
            *(
                runner.start(
                    shard_count=str(shard_count),
                    shard_ids=str(shard),
                    process_name=NAMES[shard],
                    **LEASES,
                    **settings,
                )
                for shard in range(shard_count)
            )
        )
    )


def process_named(bots: list[BotProcess], name: str) -> BotProcess:
    return bots[NAMES.index(name)]


def takeovers(bots: list[BotProcess]) -> list[tuple[int, str, str]]:
    """(job id, dead process, taker) of every takeover line the processes logged."""
    return [(int(m[1]), m[2], m[3]) for bot in bots for m in TAKEOVER.finditer(bot.log_text())]


async def animate_in(
    discord: FakeDiscord, guild_id: int, prompt: str, user_id: int | None = None
) -> dict[str, Any]:
    """Send /animate in a guild's channel (as `user_id`); return the interaction."""
    interaction = animate_interaction(
        discord, prompt=prompt, channel_id=discord.general_channel_of(guild_id), user_id=user_id
    )
    await discord.send_interaction(interaction)
    return interaction


def assert_each_job_finished_once(
    runner: BotRunner, discord: FakeDiscord, api: FakeVibedream
) -> None:
    """Every job told, submitted at most once; delivered ⇒ exactly one clip post (the one it
    recorded), failed ⇒ an error and no post. Prompts must be unique per job."""
    for row in runner.jobs():
        assert row["notified"] == 1, row
        made = [p for p in api.predictions.values() if p.request["prompt"] == row["prompt"]]
        assert len(made) <= 1, f"job {row['id']} submitted {len(made)} times"
        posted = clip_messages(discord, row["id"])
        if row["state"] == "delivered":
            assert len(posted) == 1, f"job {row['id']} posted {len(posted)} times"
            assert int(posted[0]["id"]) == row["message_id"]
        else:
            assert row["state"] == "failed", row
            assert row["error"]
            assert posted == []


def most_predictions_at_once(api: FakeVibedream) -> int:
    """The most predictions the fake API had processing at one instant (a completion and a
    creation at the same millisecond count as one after the other)."""
    events = [(p.created_at, 1) for p in api.predictions.values()]
    events += [(p.completed_at, -1) for p in api.predictions.values() if p.completed_at]
    most = current = 0
    for _, step in sorted(events, key=lambda event: (event[0], event[1])):
        current += step
        most = max(most, current)
    return most


# Shards and start-up ---------------------------------------------------------------------------


async def test_three_processes_identify_their_own_shards_paced_sync_once_and_serve_their_guilds(
    runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    by_shard = discord_fake.use_shards(3, max_concurrency=1)

    bots = await start_cluster(runner, 3)

    identifies = discord_fake.identifies
    assert sorted((i.shard, i.accepted) for i in identifies) == [
        ((shard, 3), True) for shard in range(3)
    ]  # one each, none refused
    times = sorted(i.at for i in identifies)  # one bucket (max_concurrency 1): 5 s apart
    assert all(later - earlier >= IDENTIFY_WINDOW_S for earlier, later in itertools.pairwise(times))
    for shard in range(3):
        assert f"shard {shard} identifying" in bots[shard].log_text()
    await wait_until(lambda: all("application commands" in bot.log_text() for bot in bots))
    uploads = discord_fake.requests_to("PUT", r"/applications/\d+/commands")
    assert [upload.status for upload in uploads] == [200]
    synced = [bool(re.search(r"synced \d+ application commands", b.log_text())) for b in bots]
    assert synced.count(True) == 1  # the other two found its upload and did not sync

    sent = {
        shard: await animate_in(discord_fake, guild_id, f"a clip on shard {shard}")
        for shard, (guild_id,) in by_shard.items()
    }
    await wait_until(all_notified(runner), 30)

    for shard, interaction in sent.items():
        received = discord_fake.interaction(int(interaction["id"])).received_by
        assert received == (shard, discord_fake.session_of(shard))
        dispatched = [
            d.shard_id
            for d in discord_fake.dispatches
            if d.event == "INTERACTION_CREATE" and d.guild_id == by_shard[shard][0]
        ]
        assert dispatched == [shard]
    assert [j["state"] for j in runner.jobs()] == ["delivered"] * 3
    assert sorted(j["guild_id"] for j in runner.jobs()) == sorted(discord_fake.guild_ids)
    assert_each_job_finished_once(runner, discord_fake, video_api)


async def test_three_simultaneous_cold_starts_on_an_empty_database_migrate_once_and_serve(
    runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    by_shard = discord_fake.use_shards(3, max_concurrency=3)  # nothing paces the three apart
    assert runner.query("SELECT to_regclass('schema_version') AS t") == [{"t": None}]

    bots = await start_cluster(runner, 3)

    applied = Counter(
        int(number)
        for bot in bots
        for number in re.findall(r"applying database migration (\d{4})", bot.log_text())
    )
    known = [number for number, _ in migrations("postgresql")]
    assert applied == Counter(known)  # each once, by whichever process came first
    assert runner.query("SELECT version FROM schema_version") == [{"version": max(known)}]
    for shard, (guild_id,) in by_shard.items():
        await animate_in(discord_fake, guild_id, f"a clip on shard {shard}")
    await wait_until(
        lambda: [j["state"] for j in runner.jobs()] == ["delivered"] * 3 and all_notified(runner)(),
        30,
    )
    assert_each_job_finished_once(runner, discord_fake, video_api)
    assert all("Traceback" not in bot.log_text() for bot in bots)


# Takeover --------------------------------------------------------------------------------------


@pytest.mark.parametrize("point", KILL_POINTS, ids=list(KILL_POINTS))
async def test_sigkill_at_each_state_the_other_process_takes_over_and_finishes_once(
    point: str, runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    kill_point = KILL_POINTS[point]
    discord_fake.use_shards(2, max_concurrency=2)
    bots = await start_cluster(runner, 2, **kill_point.settings)
    target = await _arrange(point, runner, discord_fake, video_api)
    # Whichever process claimed the job (either may) is the one to die; the first job holds
    # it when the target is still queued.
    holder = str(job(runner, 0 if point == "queued" else target)["owner"])
    dead = process_named(bots, holder)
    (survivor,) = [bot for bot in bots if bot is not dead]

    await dead.kill()
    if kill_point.rewrite:
        runner.query(kill_point.rewrite)
    at_kill = {row["id"]: row for row in runner.jobs()}
    _undo_faults(video_api)
    await wait_until(all_notified(runner), 30)
    await asyncio.sleep(0.5)  # room for a stray second post to show up

    assert_each_job_finished_once(runner, discord_fake, video_api)
    final = job(runner, target)
    assert final["state"] == kill_point.expect
    if point == "submitting":  # on the wire when its process died: never sent again
        assert final["failure_kind"] == "submit_unknown"
        assert [p.request["prompt"] for p in video_api.predictions.values()] == ["target"]
    held = [
        row_id
        for row_id, row in at_kill.items()
        if row["owner"] == holder and not row["notified"] and row["state"] != "queued"
    ]
    assert bool(held) == (point != "delivered")  # a delivered job holds no open lease
    taker = NAMES[1 - NAMES.index(holder)]
    assert sorted(takeovers([survivor])) == [(row_id, holder, taker) for row_id in held]
    for row in runner.jobs():
        if row["id"] in held:
            assert row["epoch"] > at_kill[row["id"]]["epoch"]
    if not held:  # nothing open was left to take over: nothing changed hands
        assert [row["epoch"] for row in runner.jobs()] == [row["epoch"] for row in at_kill.values()]


async def test_three_processes_the_survivors_take_each_of_a_dead_ones_jobs_once(
    runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    by_shard = discord_fake.use_shards(3, max_concurrency=3, guilds_per_shard=2)
    bots = await start_cluster(runner, 3)
    video_api.hold()
    guilds = [guild for shard in range(3) for guild in by_shard[shard]]
    await asyncio.gather(
        *(
            animate_in(discord_fake, guild, f"clip {n}", discord_fake.add_member(f"user{n}"))
            for n, guild in enumerate(guilds)
        )
    )
    await wait_until(
        lambda: len(runner.jobs()) == 6 and all(j["state"] == "submitted" for j in runner.jobs())
    )
    owners = Counter(str(j["owner"]) for j in runner.jobs())
    holder, count = owners.most_common(1)[0]  # holds 2 or more of the 6
    dead = process_named(bots, holder)
    survivors = [bot for bot in bots if bot is not dead]
    held = sorted(j["id"] for j in runner.jobs() if j["owner"] == holder)

    await dead.kill()
    await wait_until(lambda: len(takeovers(survivors)) >= count, 15)
    video_api.release()
    await wait_until(all_notified(runner), 30)
    await asyncio.sleep(0.5)

    assert count >= 2
    taken = takeovers(survivors)
    assert sorted(job_id for job_id, _, _ in taken) == held  # each once, by one survivor
    assert {dead_one for _, dead_one, _ in taken} == {holder}
    assert {taker for _, _, taker in taken} <= set(NAMES) - {holder}
    assert [j["state"] for j in runner.jobs()] == ["delivered"] * 6
    assert len(video_api.predictions) == 6
    assert_each_job_finished_once(runner, discord_fake, video_api)


# Caps across processes -------------------------------------------------------------------------


async def test_in_flight_cap_holds_bot_wide_for_20_requests_over_three_processes(
    runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    by_shard = discord_fake.use_shards(3, max_concurrency=3, guilds_per_shard=2)
    await start_cluster(runner, 3, max_jobs_in_flight="3")
    guilds = [guild for shard in range(3) for guild in by_shard[shard]]
    users = [discord_fake.add_member(f"user{n}") for n in range(20)]
    video_api.hold()
    highest = 0
    done = asyncio.Event()

    async def watch_in_flight() -> None:
        nonlocal highest
        while not done.is_set():
            (row,) = runner.query(
                "SELECT COUNT(*) AS n FROM jobs"
                " WHERE state IN ('claimed', 'submitting', 'submitted')"
            )
            highest = max(highest, int(row["n"]))
            await asyncio.sleep(0.02)

    watcher = asyncio.create_task(watch_in_flight())
    await asyncio.gather(
        *(
            animate_in(discord_fake, guilds[n % len(guilds)], f"clip {n}", user)
            for n, user in enumerate(users)
        )
    )
    await wait_until(lambda: len(runner.jobs()) == 20 and len(video_api.predictions) == 3)
    await asyncio.sleep(1.0)  # three sweeps and polls of every process: still three
    assert len(video_api.predictions) == 3
    video_api.release()
    await wait_until(all_notified(runner), 60)
    done.set()
    await watcher

    assert highest <= 3
    assert most_predictions_at_once(video_api) <= 3
    assert len(video_api.predictions) == 20
    assert [j["state"] for j in runner.jobs()] == ["delivered"] * 20
    assert_each_job_finished_once(runner, discord_fake, video_api)


async def test_open_job_cap_of_a_member_admits_exactly_3_of_20_across_three_processes(
    runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    by_shard = discord_fake.use_shards(3, max_concurrency=3, guilds_per_shard=2)
    await start_cluster(runner, 3, max_jobs_queued_per_user="3")
    guilds = [guild for shard in range(3) for guild in by_shard[shard]]
    alice = discord_fake.add_member("alice")
    video_api.hold()  # admitted jobs stay open

    outcomes = await asyncio.gather(
        *(
            animate_outcome(
                discord_fake,
                animate_interaction(
                    discord_fake,
                    prompt=f"clip {n}",
                    channel_id=discord_fake.general_channel_of(guilds[n % len(guilds)]),
                    user_id=alice,
                ),
            )
            for n in range(20)
        )
    )

    assert sum(is_progress(text) for text in outcomes) == 3
    assert outcomes.count(english.too_many_open_jobs(3)) == 17
    video_api.release()
    await wait_all_notified(runner, 3, 30)
    assert len(video_api.predictions) == 3
    assert_each_job_finished_once(runner, discord_fake, video_api)


# A paused process ------------------------------------------------------------------------------


async def test_a_paused_process_that_wakes_after_a_takeover_changes_nothing(
    runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    discord_fake.use_shards(2, max_concurrency=2)
    bots = await start_cluster(runner, 2)
    video_api.hold()
    await animate_in(discord_fake, discord_fake.guild_id, "target")
    await wait_until(lambda: bool(runner.jobs()) and job(runner)["state"] == "submitted")
    holder = str(job(runner)["owner"])
    paused = process_named(bots, holder)
    (other,) = [bot for bot in bots if bot is not paused]
    epoch = job(runner)["epoch"]

    paused.process.send_signal(signal.SIGSTOP)
    try:
        await wait_until(lambda: bool(takeovers([other])), 15)
        video_api.release()
        await wait_until(all_notified(runner), 30)
        finished = job(runner)
        requests_before = len(video_api.requests)
    finally:
        paused.process.send_signal(signal.SIGCONT)
    await wait_until(lambda: LOST in paused.log_text(), 15)
    await asyncio.sleep(1.0)  # room for any late write or post of the woken process

    taker = NAMES[1 - NAMES.index(holder)]
    assert takeovers([other]) == [(finished["id"], holder, taker)]
    assert finished["epoch"] == epoch + 1
    assert job(runner) == finished  # its late writes changed nothing
    assert finished["state"] == "delivered"
    assert [p.request["prompt"] for p in video_api.predictions.values()] == ["target"]
    assert not any(r.route == "submit" for r in video_api.requests[requests_before:])
    assert f"job {finished['id']}: {LOST}; {holder} drops it" in paused.log_text()
    assert_each_job_finished_once(runner, discord_fake, video_api)
    assert paused.process.returncode is None  # alive and well
