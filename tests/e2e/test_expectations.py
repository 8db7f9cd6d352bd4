"""Honest expectations end to end: a job waiting to be sent already shows what it will cost and
when it should be ready, learned from the bot's own history once there is some."""

from __future__ import annotations

import re
import statistics
import time
from typing import Any

from tests.e2e.conftest import BotRunner, animate_interaction, progress_texts, wait_until
from tests.fakes.discord import FakeDiscord
from tests.fakes.fake_vibedream import FakeVibedream

QUEUED = "⏳ **Queued**"


async def queue_behind_a_held_job(
    runner: BotRunner, discord: FakeDiscord, api: FakeVibedream, **options: Any
) -> tuple[dict[str, Any], float, str]:
    """Hold one job at the API so the next one waits (MAX_JOBS_IN_FLIGHT=1); return the waiting
    job's interaction, when it was sent, and its first progress text."""
    submits = len(api.submits)
    api.hold()
    await discord.send_interaction(animate_interaction(discord, prompt="held at the API"))
    await wait_until(lambda: len(api.submits) == submits + 1)
    waiting = animate_interaction(discord, prompt="waits its turn", extra=options)
    sent_at = time.time()
    await discord.send_interaction(waiting)
    await wait_until(lambda: any(t.startswith(QUEUED) for t in progress_texts(discord, waiting)))
    text = next(t for t in progress_texts(discord, waiting) if t.startswith(QUEUED))
    assert len(api.submits) == submits + 1, "the waiting job was not sent"
    assert runner.jobs()[-1]["state"] == "queued"
    return waiting, sent_at, text


def ready_at(text: str) -> int:
    match = re.search(r"ready <t:(\d+):R> at the earliest", text)
    assert match is not None, text
    return int(match[1])


async def test_without_history_for_its_settings_a_waiting_job_shows_the_listed_price_and_usual_time(
    runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    await runner.start(max_jobs_in_flight="1", expected_cost_cents="137")

    # The held job (5 s) shows the API's price for 5 s clips; nothing is known about 8 s ones.
    _, sent_at, text = await queue_behind_a_held_job(runner, discord_fake, video_api, duration=8)

    assert "Expected cost **from $0.29**" in text  # the documented "from $0.29/run"
    assert "the video service usually takes 60–120 s" in text
    assert sent_at + 120 - 1 <= ready_at(text) <= time.time() + 120
    assert runner.jobs()[-1]["reserved_cents"] == 137  # what the spending cap counts meanwhile


async def test_a_waiting_job_shows_the_learned_price_and_eta_before_it_is_sent(
    runner: BotRunner, discord_fake: FakeDiscord, video_api: FakeVibedream
) -> None:
    await runner.start(max_jobs_in_flight="1", expected_cost_cents="137")
    video_api.cost_cents = 42
    for n in range(3):
        await discord_fake.send_interaction(animate_interaction(discord_fake, prompt=f"clip {n}"))
        await wait_until(lambda n=n: [j["state"] for j in runner.jobs()].count("delivered") > n)
    median = statistics.median(j["completed_at"] - j["submitted_at"] for j in runner.jobs())

    _, sent_at, text = await queue_behind_a_held_job(runner, discord_fake, video_api)

    assert "Expected cost **$0.42**" in text  # what the API charged for these settings
    assert "the median of the last 3 clips at 5 s 720p" in text
    assert int(sent_at + median) - 1 <= ready_at(text) <= time.time() + median
    assert runner.jobs()[-1]["reserved_cents"] == 42
