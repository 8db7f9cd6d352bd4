"""The `media` workload of `python -m bench`: what a remux, a re-encode and a GIF of one clip
cost the bot, each measured in a fresh process of its own so its peak RSS is its own.

The clip is made here with PyAV, like the API's largest (by default 12 s of 1920x1080 at 24 fps,
a detailed picture panning, with sound, at a high bitrate; see `bench.reencode.make_source`):
once in H.264 yuv420p with the index last (which delivery remuxes) and once in H.264 yuv444p
(which delivery re-encodes). The GIF is the GIF button's, at the default 10 MiB upload limit.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from bench.procstats import MiB, peak_rss_mib
from bench.reencode import make_source

OPERATIONS = ("remux", "re-encode", "gif")


@dataclass(frozen=True, slots=True)
class MediaResult:
    """One operation on the clip, as its own process saw it."""

    operation: str
    source_mib: float
    wall_s: float
    cpu_s: float
    #: VmHWM once Python, PyAV and the bot's media modules are loaded, before the work...
    base_rss_mib: float
    #: ... and at the end of it.
    peak_rss_mib: float
    output: str


@dataclass(frozen=True, slots=True)
class ClipSpec:
    """The clip the workload makes."""

    width: int = 1920
    height: int = 1080
    seconds: float = 12.0
    fps: int = 24

    def __str__(self) -> str:
        return f"{self.seconds:g} s {self.height}p"


def media(workdir: Path, clip: ClipSpec, *, limit_bytes: int = 10 * MiB) -> list[MediaResult]:
    """Make the two source clips, then time each operation in a new process."""
    workdir.mkdir(parents=True, exist_ok=True)
    context = multiprocessing.get_context("spawn")  # a fork would carry this process's memory
    sources = {"yuv420p": workdir / "moov-last.mp4", "yuv444p": workdir / "yuv444p.mp4"}
    with ProcessPoolExecutor(2, mp_context=context) as pool:
        made = [
            pool.submit(make_source, path, clip.width, clip.height, clip.seconds, clip.fps, pix)
            for pix, path in sources.items()
        ]
        for future in made:
            future.result()
    jobs = (
        ("remux", sources["yuv420p"]),
        ("re-encode", sources["yuv444p"]),
        ("gif", sources["yuv420p"]),
    )
    results = []
    for operation, source in jobs:
        # One process per operation (max_tasks_per_child=1), one at a time: clean figures.
        with ProcessPoolExecutor(1, mp_context=context, max_tasks_per_child=1) as pool:
            future = pool.submit(measure, operation, source, workdir, limit_bytes)
            results.append(future.result())
    return results


def measure(operation: str, source: Path, workdir: Path, limit_bytes: int) -> MediaResult:
    """Run one operation the way the bot does (same functions, same worker-thread code path
    minus the event loop) and report its cost. Runs in a fresh process."""
    from bot.media.gif import make_gif  # noqa: PLC0415 - loaded before the baseline is taken
    from bot.media.playable import probe_format, remux_faststart  # noqa: PLC0415
    from bot.media.transcode import reencode_file  # noqa: PLC0415

    probe_format(source)  # also loads FFmpeg's demuxers and decoders
    base = peak_rss_mib(os.getpid())
    cpu0, wall0 = _cpu_s(), time.perf_counter()
    made: Path | None
    if operation == "remux":
        made = remux_faststart(source, directory=workdir)
    elif operation == "re-encode":
        made = reencode_file(source, directory=workdir)
    else:
        gif = make_gif(source, limit_bytes, directory=workdir)
        made = gif.path if gif is not None else None
    wall, cpu = time.perf_counter() - wall0, _cpu_s() - cpu0
    peak = peak_rss_mib(os.getpid())
    if operation == "gif":
        output = (
            f"{gif.size_bytes / MiB:.1f} MiB GIF at {gif.width}x{gif.height}, {gif.seconds:g} s, "
            f"attempt {gif.attempts}"
            if gif is not None
            else "no GIF fits"
        ) + f" (limit {limit_bytes / MiB:g} MiB)"
    else:
        assert made is not None
        output = f"{made.stat().st_size / MiB:.1f} MiB, {probe_format(made)}"
    if made is not None:
        made.unlink()
    return MediaResult(
        operation=operation,
        source_mib=source.stat().st_size / MiB,
        wall_s=wall,
        cpu_s=cpu,
        base_rss_mib=base,
        peak_rss_mib=peak,
        output=output,
    )


def _cpu_s() -> float:
    """User + system time of this process, all its threads (x264's too)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
