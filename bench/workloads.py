"""The live workloads: a burst of /animate calls, jobs in flight at scale, one big clip."""

from __future__ import annotations

import asyncio
import math
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench.big_database import build
from bench.procstats import MiB, cpu_seconds, peak_rss_mib
from bench.world import World, world
from tests.fakes.discord import RecordedRequest
from tests.fakes.harness import is_clip_post

_CALLBACK = re.compile(r"/interactions/(\d+)/[^/]+/callback")
_CLIP_NAME = re.compile(r"animate-(\d+)\.mp4")
_FINISHED = "notified = 1"


@dataclass(frozen=True)
class BurstResult:
    """What one burst of /animate calls measured."""

    jobs: int
    delivered: int
    ack_s: list[float]
    delivery_lag_s: list[float]
    status_requests: int
    baseline_requests: int
    progress_edits: int
    waiting_edits: int  # of those, edits showing Queued or Sending (before the API has the job)
    discord_requests: int
    peak_rss_mib: float
    cpu_s: float
    wall_s: float


@dataclass(frozen=True)
class ScaleResult:
    """Jobs held in flight at the API: memory and CPU while the bot follows them."""

    in_flight: int
    intake_s: float
    intake_cpu_s: float
    window_s: float
    window_cpu_s: float
    window_polls: int
    peak_rss_mib: float


@dataclass(frozen=True)
class BigClipResult:
    """Peak memory before and after delivering one big clip."""

    clip_mib: int
    delivered_as: str
    peak_before_mib: float
    peak_after_mib: float
    small_cpu_s: float
    big_cpu_s: float

    @property
    def cpu_per_mib_s(self) -> float:
        """CPU one more MiB of clip costs (download + upload), from the two jobs' difference."""
        return max(0.0, self.big_cpu_s - self.small_cpu_s) / max(1, self.clip_mib - 1)


def _settings(scale: float, **extra: str) -> dict[str, str]:
    """The bot's polling defaults on the bench's time scale, plus what a workload raises."""
    return {
        "POLL_INTERVAL_S": f"{2.0 * scale:g}",
        "POLL_MAX_INTERVAL_S": f"{10.0 * scale:g}",
        **extra,
    }


def _estimate(w: World, low_s: float, high_s: float) -> None:
    """The API answers `estimatedTime` "low-high s" and finishes at a random point inside it."""
    w.api.estimated_time = f"{low_s:g}-{high_s:g}s"
    w.api.completion_delay_range_s = (low_s, high_s)


def _first_by(
    requests: list[RecordedRequest], pattern: re.Pattern[str], on: str
) -> dict[int, float]:
    first: dict[int, float] = {}
    for r in requests:
        m = pattern.search(
            r.path if on == "path" else (r.files[0].filename or "") if r.files else ""
        )
        if m is not None:
            first.setdefault(int(m[1]), r.at)
    return first


async def burst(
    workdir: Path, *, jobs: int, scale: float, clip_bytes: int, history_jobs: int = 0
) -> BurstResult:
    """`jobs` users call /animate at once; every job is followed until its clip is posted.

    With `history_jobs`, the database starts with that many finished jobs (see
    `bench.big_database.build`), so the progress messages use an ETA learned from them.
    """
    low, high = 60 * scale, 120 * scale
    settings = _settings(scale, MAX_JOBS_IN_FLIGHT=str(jobs))
    async with world(workdir, **settings) as w:
        _estimate(w, low, high)
        w.api.clip_bytes = clip_bytes
        new = "id > 0"
        if history_jobs:
            db = w.runner.db_path
            await build(db, jobs=history_jobs, users=100, guilds=10, now=datetime.now(UTC))
            new = f"id > {w.count('1')}"
        bot = await w.runner.start()
        pid = bot.process.pid
        events = w.interactions(jobs)
        cpu_before = cpu_seconds(pid)
        sent_at = await w.send_all(events)
        await w.wait_for_jobs(f"{_FINISHED} AND {new}", jobs, timeout_s=high + 120)
        wall = time.monotonic() - sent_at
        cpu = cpu_seconds(pid) - cpu_before
        peak = peak_rss_mib(pid)
        acks = _first_by(w.discord.callbacks(), _CALLBACK, "path")
        ack_s = [acks[int(e["id"])] - sent_at for e in events if int(e["id"]) in acks]
        lag_s, baseline = _delivery_lags(w, scale)
        status = sum(1 for r in w.api.requests if r.route == "status")
        edit_texts = [str((r.json or {}).get("content", "")) for r in w.discord.webhook_edits()]
        edits = len(edit_texts)
        waiting = sum(t.startswith(("⏳ **Queued**", "📨 **Sending**")) for t in edit_texts)
        discord_requests = len(w.discord.requests)
        delivered = w.count(f"state = 'delivered' AND {new}")
        await bot.stop()
    return BurstResult(
        jobs,
        delivered,
        ack_s,
        lag_s,
        status,
        baseline,
        edits,
        waiting,
        discord_requests,
        peak,
        cpu,
        wall,
    )


def _delivery_lags(w: World, scale: float) -> tuple[list[float], int]:
    """Lag from each clip's `completedAt` to its upload reaching Discord, and the number of
    status requests polling every second (on the bench's time scale) would have made."""
    posts = [r for r in w.discord.requests if is_clip_post(w.discord.channel_id)(r)]
    uploads = _first_by(posts, _CLIP_NAME, "file")
    job_of = dict(w.runner.db().execute("SELECT prediction_id, id FROM jobs").fetchall())
    lags, baseline = [], 0
    for prediction in w.api.predictions.values():
        if prediction.completed_at is None:
            continue
        took = (prediction.completed_at - prediction.created_at).total_seconds()
        baseline += max(1, math.ceil(took / scale))
        uploaded = uploads.get(job_of.get(prediction.id, -1))
        if uploaded is not None:
            lags.append(uploaded + w.wall_offset_s - prediction.completed_at.timestamp())
    return lags, baseline


async def scale(workdir: Path, *, in_flight: int, scale: float, window_s: float) -> ScaleResult:
    """Hold `in_flight` jobs at the API and watch the bot follow them for `window_s`."""
    settings = _settings(
        scale,
        MAX_JOBS_IN_FLIGHT=str(in_flight),
        JOB_TIMEOUT_S="3600",
    )
    async with world(workdir, **settings) as w:
        # The low end passes early in the window, so the bot is polling, its busiest phase.
        _estimate(w, window_s / 4, window_s / 2)
        w.api.hold()  # completed only after the measurement (never, here)
        bot = await w.runner.start()
        pid = bot.process.pid
        cpu_before = cpu_seconds(pid)
        sent_at = await w.send_all(w.interactions(in_flight))
        await w.wait_for_jobs("state = 'submitted'", in_flight, timeout_s=120 + in_flight / 5)
        intake_s = time.monotonic() - sent_at
        cpu_intake = cpu_seconds(pid) - cpu_before
        polls_before = sum(1 for r in w.api.requests if r.route == "status")
        await asyncio.sleep(window_s)
        window_cpu = cpu_seconds(pid) - cpu_before - cpu_intake
        polls = sum(1 for r in w.api.requests if r.route == "status") - polls_before
        peak = peak_rss_mib(pid)
        await bot.stop()
    return ScaleResult(in_flight, intake_s, cpu_intake, window_s, window_cpu, polls, peak)


async def big_clip(workdir: Path, *, clip_mib: int) -> BigClipResult:
    """Deliver a 1 MiB clip (warm-up), then a `clip_mib` one, to a server that allows it."""
    limit = max(100, clip_mib + 1) * MiB
    async with world(workdir, MAX_CLIP_BYTES=str(limit)) as w:
        w.discord.premium_tier = 3  # 100 MiB uploads
        w.discord.upload_limit_bytes = limit
        w.api.estimated_time, w.api.completion_delay_s = "1-2s", 1.0
        bot = await w.runner.start()
        pid = bot.process.pid
        small_cpu = await _deliver_one(w, pid, 1, limit)
        peak_before = peak_rss_mib(pid)
        big_cpu = await _deliver_one(w, pid, clip_mib, limit)
        peak_after = peak_rss_mib(pid)
        row = w.runner.db().execute("SELECT delivered_as FROM jobs ORDER BY id DESC").fetchone()
        await bot.stop()
    return BigClipResult(clip_mib, str(row[0]), peak_before, peak_after, small_cpu, big_cpu)


async def _deliver_one(w: World, pid: int, clip_mib: int, upload_limit: int) -> float:
    """Have one job deliver a `clip_mib` clip; return the CPU seconds the bot spent on it."""
    w.api.clip_bytes = clip_mib * MiB
    finished = w.count(_FINISHED)
    cpu_before = cpu_seconds(pid)
    await w.send_all(w.interactions(1, attachment_size_limit=upload_limit))
    await w.wait_for_jobs(_FINISHED, finished + 1, timeout_s=120)
    return cpu_seconds(pid) - cpu_before
