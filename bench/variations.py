"""Variations against single jobs: the delivery lag and CPU of 4-variation jobs next to the
same number of clips asked for one by one."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from bench.procstats import cpu_seconds
from bench.world import World, world
from tests.fakes.harness import is_clip_post

_CLIP_NAME = re.compile(r"animate-(\d+)\.mp4")
_FINISHED = "notified = 1"
VARIATIONS = 4


@dataclass(frozen=True)
class PhaseResult:
    """One phase: clips asked for as groups of four, or one by one."""

    clips: int
    posts: int
    #: Each clip's `completedAt` to the upload carrying it (a variation waits for its group).
    lag_s: list[float]
    #: A group's last `completedAt` to its post (for single jobs, the same as `lag_s`).
    last_lag_s: list[float]
    cpu_s: float


@dataclass(frozen=True)
class VariationsResult:
    """`groups` 4-variation jobs, then 4 x `groups` single jobs, under the same API timing."""

    groups: int
    grouped: PhaseResult
    single: PhaseResult


async def variations(
    workdir: Path, *, groups: int, scale: float, clip_bytes: int
) -> VariationsResult:
    """`groups` users each ask for 4 variations at once; then 4 x `groups` users each ask for
    one clip at once. Both phases run on one bot with the same API estimate."""
    clips = groups * VARIATIONS
    settings = {
        "POLL_INTERVAL_S": f"{2.0 * scale:g}",
        "POLL_MAX_INTERVAL_S": f"{10.0 * scale:g}",
        "MAX_JOBS_IN_FLIGHT": str(clips),
        "MAX_JOBS_IN_FLIGHT_PER_USER": str(VARIATIONS),
        "DEFAULT_USER_IN_FLIGHT_LIMIT": str(VARIATIONS),
    }
    low, high = 8 * scale, 16 * scale
    async with world(workdir, **settings) as w:
        w.api.estimated_time = f"{low:g}-{high:g}s"
        w.api.completion_delay_range_s = (low, high)
        w.api.clip_bytes = clip_bytes
        bot = await w.runner.start()
        pid = bot.process.pid
        grouped = await _phase(w, pid, groups, VARIATIONS, timeout_s=high + 120)
        single = await _phase(w, pid, clips, 1, timeout_s=high + 120)
        await bot.stop()
    return VariationsResult(groups, grouped, single)


async def _phase(w: World, pid: int, users: int, each: int, *, timeout_s: float) -> PhaseResult:
    done_before = w.count(_FINISHED)
    first_new = w.count("1") + 1
    extra = {"variations": each} if each > 1 else None
    cpu_before = cpu_seconds(pid)
    await w.send_all(w.interactions(users, extra=extra))
    await w.wait_for_jobs(_FINISHED, done_before + users * each, timeout_s)
    cpu = cpu_seconds(pid) - cpu_before
    rows = w.runner.db().execute(
        "SELECT id, prediction_id, COALESCE(group_id, id) FROM jobs WHERE id >= ?", (first_new,)
    )
    uploads = _uploads(w)
    made = {p.id: p.completed_at.timestamp() for p in w.api.predictions.values() if p.completed_at}
    lags: list[float] = []
    groups: dict[int, tuple[float, float]] = {}  # group -> (last made, posted)
    for job_id, prediction_id, group_id in rows.fetchall():
        if job_id not in uploads or prediction_id not in made:
            continue
        posted = uploads[job_id] + w.wall_offset_s
        lags.append(posted - made[prediction_id])
        last, _ = groups.get(group_id, (0.0, posted))
        groups[group_id] = (max(last, made[prediction_id]), posted)
    last_lags = [posted - last for last, posted in groups.values()]
    return PhaseResult(users * each, len(groups), lags, last_lags, cpu)


def _uploads(w: World) -> dict[int, float]:
    """When each clip's upload reached Discord (a group's post carries several)."""
    found: dict[int, float] = {}
    for r in w.discord.requests:
        if not is_clip_post(w.discord.channel_id)(r):
            continue
        for file in r.files:
            if (m := _CLIP_NAME.search(file.filename or "")) is not None:
                found.setdefault(int(m[1]), r.at)
    return found
