"""A looping GIF of a clip, scaled and trimmed to fit an upload limit, with PyAV. Discord-free.

Each GIF frame gets its own 256-colour palette (FFmpeg's `palettegen`/`paletteuse`, one frame
at a time, so memory stays flat). A GIF's size grows with its area and its number of frames:
an attempt over the limit is given up as soon as the file passes it, and the next one is
narrower (down to `MIN_WIDTH_PX`) and then shorter (down to `MIN_SECONDS`) by what the last
one over-shot. Past that, the clip cannot make a GIF that fits.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
from av.filter import Graph
from av.video.stream import VideoStream

from bot.media.files import DownloadedClip
from bot.media.playable import TranscodeAbortedError, temp_path
from bot.media.threads import run_in_slot
from bot.settings import Settings

log = logging.getLogger(__name__)

FPS = 10
MAX_WIDTH_PX = 480
MIN_WIDTH_PX = 160
#: A GIF is a moment, not the clip: longer clips are trimmed to their first seconds.
MAX_SECONDS = 8.0
MIN_SECONDS = 1.0
MAX_ATTEMPTS = 4
#: Each retry aims this much lower than what the previous attempt over-shot by.
RETRY_MARGIN = 0.85
_TIME_BASE = Fraction(1, 100)  # GIF frame delays are in hundredths of a second


class GifFailedError(Exception):
    """No GIF was made: the clip could not be read, or it took too long."""


@dataclass(frozen=True, slots=True)
class GifPlan:
    """The size and length of one attempt."""

    width: int
    height: int
    seconds: float


@dataclass(frozen=True, slots=True)
class GifResult:
    """A GIF that fits, and what it took."""

    path: Path
    size_bytes: int
    width: int
    height: int
    seconds: float
    attempts: int


def first_plan(width: int, height: int, duration_s: float) -> GifPlan:
    """The first attempt: at most `MAX_WIDTH_PX` wide (never wider than the clip), at most
    `MAX_SECONDS` long."""
    gif_width = min(MAX_WIDTH_PX, width)
    return _sized(gif_width, width, height, min(duration_s, MAX_SECONDS))


def next_plan(plan: GifPlan, clip_width: int, clip_height: int, ratio: float) -> GifPlan | None:
    """The attempt after one that came out `1 / ratio` times too big: narrower first, then
    shorter; None when even the narrowest, shortest GIF would not fit."""
    ratio *= RETRY_MARGIN
    width = plan.width * math.sqrt(ratio)
    seconds = plan.seconds
    if width < MIN_WIDTH_PX:
        seconds *= ratio * (plan.width / MIN_WIDTH_PX) ** 2
        width = min(MIN_WIDTH_PX, plan.width)
    if seconds < MIN_SECONDS:
        return None
    return _sized(width, clip_width, clip_height, seconds)


def _sized(width: float, clip_width: int, clip_height: int, seconds: float) -> GifPlan:
    even_width = max(2, int(width) // 2 * 2)
    height = max(2, round(even_width * clip_height / clip_width) // 2 * 2)
    return GifPlan(even_width, height, seconds)


def make_gif(
    source: Path,
    limit_bytes: int,
    *,
    directory: Path | None = None,
    deadline: float = math.inf,
    abort: threading.Event | None = None,
) -> GifResult | None:
    """A looping GIF of `source` of at most `limit_bytes`; None when none fits. Raises
    TranscodeAbortedError past `deadline` (a `time.monotonic()` value) or once `abort` is set,
    av.FFmpegError for a clip it cannot read. A file it made is deleted unless returned."""
    with av.open(str(source)) as container:
        video = container.streams.video[0]
        width, height = video.codec_context.width, video.codec_context.height
        duration = _duration_s(container.duration, video)
    plan: GifPlan | None = first_plan(width, height, duration)
    stop = abort or threading.Event()
    for attempt in range(1, MAX_ATTEMPTS + 1):
        if plan is None:
            return None
        target = temp_path("gif-", ".gif", directory)
        try:
            written = _encode(source, target, plan, limit_bytes, deadline, stop)
        except BaseException:
            target.unlink(missing_ok=True)
            raise
        if written.fits:
            size = target.stat().st_size
            return GifResult(target, size, plan.width, plan.height, plan.seconds, attempt)
        target.unlink(missing_ok=True)
        log.info(
            "GIF at %dx%d, %.1f s: about %d bytes, over %d; trying smaller",
            *(plan.width, plan.height, plan.seconds, written.estimate_bytes, limit_bytes),
        )
        plan = next_plan(plan, width, height, limit_bytes / written.estimate_bytes)
    return None


@dataclass(frozen=True, slots=True)
class _Written:
    fits: bool
    estimate_bytes: int  # the whole GIF's size, estimated from the part written when stopped


def _encode(
    source: Path,
    target: Path,
    plan: GifPlan,
    limit_bytes: int,
    deadline: float,
    abort: threading.Event,
) -> _Written:
    """Write the GIF, giving up as soon as the file passes `limit_bytes`."""
    planned = max(1, round(plan.seconds * FPS))
    done = 0
    with (
        av.open(str(source)) as src,
        av.open(str(target), "w", format="gif", options={"loop": "0"}) as out,
    ):
        video = src.streams.video[0]
        stream = out.add_stream("gif", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = plan.width, plan.height, "pal8"
        stream.time_base = stream.codec_context.time_base = _TIME_BASE
        graph = _palette_graph(video, plan)
        for frame in _sampled(src.decode(video), plan.seconds):
            if abort.is_set() or time.monotonic() > deadline:
                raise TranscodeAbortedError
            graph.push(frame)
            for paletted in _pulled(graph):
                paletted.pts, paletted.time_base = done * 100 // FPS, _TIME_BASE
                out.mux(stream.encode(paletted))
                done += 1
            size = target.stat().st_size
            if size > limit_bytes:
                return _Written(False, size * planned // max(done, 1))
        out.mux(stream.encode())
    size = target.stat().st_size
    return _Written(size <= limit_bytes, size)


def _palette_graph(video: VideoStream, plan: GifPlan) -> Graph:
    """scale -> split -> (palettegen per frame, paletteuse with each new palette) -> out."""
    graph = Graph()
    source = graph.add_buffer(template=video)
    scale = graph.add("scale", f"{plan.width}:{plan.height}:flags=bicubic")
    split = graph.add("split")
    palette = graph.add("palettegen", "stats_mode=single")
    use = graph.add("paletteuse", "new=1:dither=bayer:bayer_scale=3")
    sink = graph.add("buffersink")
    source.link_to(scale)
    scale.link_to(split)
    split.link_to(palette, 0, 0)
    split.link_to(use, 1, 0)
    palette.link_to(use, 0, 1)
    use.link_to(sink)
    graph.configure()
    return graph


def _sampled(frames: Iterator[av.VideoFrame], seconds: float) -> Iterator[av.VideoFrame]:
    """The frames at `FPS` (dropping the ones between), up to `seconds` into the clip."""
    start: float | None = None
    next_at = 0.0
    for frame in frames:
        at = frame.time or 0.0
        start = at if start is None else start
        at -= start
        if at >= seconds:
            return
        if at + 1e-6 >= next_at:
            next_at += 1 / FPS
            yield frame


def _pulled(graph: Graph) -> Iterator[av.VideoFrame]:
    while True:
        try:
            frame = graph.vpull()
        except (av.BlockingIOError, av.EOFError):
            return
        yield frame


def _duration_s(container_duration: int | None, video: VideoStream) -> float:
    if video.duration is not None and video.time_base is not None:
        return float(video.duration * video.time_base)
    if container_duration is not None:
        return container_duration / av.time_base
    raise ValueError("the clip does not say how long it is")


class GifMaker:
    """Runs `make_gif` in worker threads, sharing the re-encodes' slots, under a time limit."""

    @classmethod
    def from_settings(cls, settings: Settings, *, slots: asyncio.Semaphore) -> GifMaker:
        """The maker the settings describe, holding `slots` (the re-encodes') while it works."""
        return cls(slots=slots, timeout_s=settings.gif_timeout_s, directory=settings.download_dir)

    def __init__(
        self, *, slots: asyncio.Semaphore, timeout_s: float, directory: Path | None
    ) -> None:
        self._slots = slots
        self._timeout_s = timeout_s
        self._directory = directory

    async def make(self, clip: DownloadedClip, limit_bytes: int) -> GifResult | None:
        """A GIF of `clip` under `limit_bytes`, or None when none fits. Raises GifFailedError
        when the clip cannot be read or the time limit passed."""
        abort = threading.Event()

        def work() -> GifResult | None:
            deadline = time.monotonic() + self._timeout_s  # from the start, not the wait
            return make_gif(
                clip.path, limit_bytes, directory=self._directory, deadline=deadline, abort=abort
            )

        try:
            return await run_in_slot(self._slots, work, abort=abort, orphaned=_remove)
        except TranscodeAbortedError as exc:
            raise GifFailedError(f"took longer than {self._timeout_s:g} s") from exc
        except (av.FFmpegError, IndexError, OSError, ValueError) as exc:
            raise GifFailedError(repr(exc)) from exc


def _remove(result: GifResult | None) -> None:
    if result is not None:
        result.path.unlink(missing_ok=True)
