"""Re-encoding a clip so it fits an upload limit, or so it plays everywhere, with PyAV (FFmpeg).
Discord-free.

The plan comes from the clip's duration and the limit: the video bitrate is what the limit
leaves after headroom for the container and the soundtrack. Resolution is kept unless that
bitrate would spread too thin over the pixels, in which case the picture is scaled down just
enough. Frames are decoded and encoded one at a time from file to file, so memory stays flat
whatever the clip's size. Every file made here is H.264 `yuv420p` with the index first
(`bot.media.playable`), so it plays inline on Discord's phone apps too.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Protocol

import av
from av.audio.stream import AudioStream
from av.container import InputContainer, OutputContainer
from av.video.stream import VideoStream

from bot.media.files import DownloadedClip
from bot.media.playable import (
    FASTSTART,
    ClipFormat,
    TranscodeAbortedError,
    Treatment,
    probe_format,
    remux_faststart,
)
from bot.media.playable import temp_path as _new_path
from bot.media.threads import run_in_slot
from bot.settings import Settings

log = logging.getLogger(__name__)

#: Share of the limit left for the mp4 container's own boxes and the encoder's overshoot.
CONTAINER_HEADROOM = 0.06
AUDIO_BITRATE = 96_000
#: Below this many bits per pixel and frame, H.264 turns to mush: scale down instead.
MIN_BITS_PER_PIXEL = 0.05
#: Never scale below this height (nor below this video bitrate): a link is better then.
MIN_HEIGHT_PX = 240
MIN_VIDEO_BITRATE = 150_000
#: x264's constant quality for a clip re-encoded only to play everywhere: visually lossless.
PLAYABLE_CRF = 20
#: Each retry aims this much lower than what the previous attempt over-shot by.
RETRY_MARGIN = 0.9
_PRESET = "veryfast"


@dataclass(frozen=True, slots=True)
class ClipInfo:
    """What re-encoding needs to know about a clip."""

    duration_s: float
    width: int
    height: int
    fps: float
    has_audio: bool


@dataclass(frozen=True, slots=True)
class FitPlan:
    """Target of one encoding attempt."""

    video_bitrate: int | None  # None: constant quality (`PLAYABLE_CRF`), no bitrate target
    width: int
    height: int
    audio_bitrate: int


@dataclass(frozen=True, slots=True)
class FitResult:
    """A re-encoded clip that fits, and what it took."""

    path: Path
    size_bytes: int
    width: int
    height: int
    attempts: int


def plan_fit(info: ClipInfo, limit_bytes: int, scale: float = 1.0) -> FitPlan | None:
    """The bitrate and size to encode at so the clip fits `limit_bytes`; None if it cannot.

    `scale` (< 1 on a retry) shrinks the byte budget by what the last attempt over-shot.
    """
    budget_bits = limit_bytes * 8 * (1 - CONTAINER_HEADROOM) * scale
    audio = AUDIO_BITRATE if info.has_audio else 0
    video = int(budget_bits / max(info.duration_s, 0.1)) - audio
    if video < MIN_VIDEO_BITRATE:
        return None
    width, height = info.width, info.height
    bits_per_pixel = video / (width * height * max(info.fps, 1.0))
    if bits_per_pixel < MIN_BITS_PER_PIXEL:
        shrink = math.sqrt(bits_per_pixel / MIN_BITS_PER_PIXEL)
        width, height = _even(width * shrink), _even(height * shrink)
        if height < min(MIN_HEIGHT_PX, info.height):
            return None
    return FitPlan(video_bitrate=video, width=width, height=height, audio_bitrate=audio)


def probe(path: Path) -> ClipInfo:
    """Duration, picture size, frame rate and whether there is sound. Raises av.FFmpegError."""
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        duration = _duration_s(container, video)
        rate = video.average_rate or video.guessed_rate or Fraction(24)
        return ClipInfo(
            duration_s=duration,
            width=video.codec_context.width,
            height=video.codec_context.height,
            fps=float(rate),
            has_audio=bool(container.streams.audio),
        )


def fit_file(
    source: Path,
    limit_bytes: int,
    *,
    directory: Path | None = None,
    deadline: float = math.inf,
    abort: threading.Event | None = None,
) -> FitResult | None:
    """Re-encode `source` into a new mp4 of at most `limit_bytes`; None when it cannot fit.

    Tries once at the planned bitrate and once more, lower, if the encoder over-shot. Raises
    TranscodeAbortedError past `deadline` (a `time.monotonic()` value) or once `abort` is set,
    and av.FFmpegError for a file it cannot read. A file it made is deleted unless returned.
    """
    info = probe(source)
    scale = 1.0
    for attempt in (1, 2):
        plan = plan_fit(info, limit_bytes, scale)
        if plan is None:
            return None
        target = _temp_path(directory)
        try:
            _encode(source, target, plan, info, deadline, abort or threading.Event())
            size = target.stat().st_size
        except BaseException:
            target.unlink(missing_ok=True)
            raise
        if size <= limit_bytes:
            return FitResult(target, size, plan.width, plan.height, attempt)
        log.info("re-encoded clip is %d bytes, over %d; trying smaller", size, limit_bytes)
        target.unlink(missing_ok=True)
        scale *= limit_bytes / size * RETRY_MARGIN
    return None


def reencode_file(
    source: Path,
    *,
    directory: Path | None = None,
    deadline: float = math.inf,
    abort: threading.Event | None = None,
) -> Path:
    """Re-encode `source` at its own size (rounded to even) and constant quality into a new
    H.264 yuv420p faststart mp4. Raises TranscodeAbortedError past `deadline` or once `abort`
    is set, av.FFmpegError for a file it cannot read; the new file is deleted unless returned."""
    info = probe(source)
    audio = AUDIO_BITRATE if info.has_audio else 0
    plan = FitPlan(None, _even(info.width), _even(info.height), audio)
    target = _temp_path(directory)
    try:
        _encode(source, target, plan, info, deadline, abort or threading.Event())
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return target


@dataclass(frozen=True, slots=True)
class PlayableClip:
    """A clip ready to post, what was done to it, and the format it came in."""

    clip: DownloadedClip
    treatment: Treatment
    came_as: ClipFormat | None  # None: unreadable


class ClipFitter:
    """Runs the re-encodes (`fit_file`, `reencode_file`) and remuxes in worker threads, a few
    at a time, each under a time limit."""

    @classmethod
    def from_settings(cls, settings: Settings) -> ClipFitter:
        """The fitter the settings describe."""
        return cls(
            concurrency=settings.reencode_concurrency,
            timeout_s=settings.reencode_timeout_s,
            directory=settings.download_dir,
        )

    def __init__(self, *, concurrency: int, timeout_s: float, directory: Path | None) -> None:
        self.enabled = concurrency > 0
        #: Held by each conversion; other CPU-heavy work (GIFs) shares them, to bound the CPU.
        self.slots = asyncio.Semaphore(max(concurrency, 1))
        self._timeout_s = timeout_s
        self._directory = directory

    async def fit(self, clip: DownloadedClip, limit_bytes: int) -> DownloadedClip | None:
        """A re-encoded copy of `clip` under `limit_bytes`, or None if it cannot be made to fit
        (too long for the limit, unreadable, over the time limit, or re-encoding is off)."""
        if not self.enabled:
            return None
        abort = threading.Event()

        def work() -> FitResult | None:
            deadline = time.monotonic() + self._timeout_s  # from the start, not the wait
            return fit_file(
                clip.path, limit_bytes, directory=self._directory, deadline=deadline, abort=abort
            )

        try:
            # Cancelled, the thread stops at its next frame and removes its file; one that had
            # already finished has its result deleted; either way it keeps its slot till then.
            result = await run_in_slot(self.slots, work, abort=abort, orphaned=_remove)
        except TranscodeAbortedError:
            log.warning("re-encoding took longer than %g s; giving up", self._timeout_s)
            return None
        except (av.FFmpegError, IndexError, OSError, ValueError) as exc:
            log.warning("could not re-encode the clip: %r", exc)
            return None
        if result is None:
            return None
        log.info(
            "re-encoded a %d-byte clip to %d bytes at %dx%d (attempt %d)",
            clip.size_bytes,
            result.size_bytes,
            result.width,
            result.height,
            result.attempts,
        )
        return DownloadedClip(
            path=result.path, size_bytes=result.size_bytes, reencoded_from=clip.size_bytes
        )

    async def playable(self, clip: DownloadedClip) -> PlayableClip:
        """`clip` in a format that plays everywhere: itself when it already is (no decoding),
        a remuxed copy when it only lacks faststart, a re-encoded copy otherwise. A clip that
        cannot be read, or re-encoded (too slow, or re-encoding is off), comes back as made.
        A copy replaces `clip`'s file (deleted)."""
        try:
            came_as = await asyncio.to_thread(probe_format, clip.path)
        except (av.FFmpegError, IndexError, OSError, ValueError) as exc:
            log.warning("cannot read the clip's format: %r", exc)
            return PlayableClip(clip, Treatment.AS_MADE, None)
        if came_as.playable:
            return PlayableClip(clip, Treatment.UNTOUCHED, came_as)
        if came_as.needs_reencode:
            if not self.enabled:
                return PlayableClip(clip, Treatment.AS_MADE, came_as)
            made, treatment = await self._copy(clip, reencode_file), Treatment.REENCODED
        else:
            made, treatment = await self._copy(clip, remux_faststart), Treatment.REMUXED
        if made is None:
            return PlayableClip(clip, Treatment.AS_MADE, came_as)
        clip.discard()
        size = made.stat().st_size
        return PlayableClip(DownloadedClip(path=made, size_bytes=size), treatment, came_as)

    async def _copy(self, clip: DownloadedClip, convert: _Converter) -> Path | None:
        """Run `convert` on the clip in a worker slot, under the time limit; None on failure."""
        abort = threading.Event()

        def work() -> Path:
            deadline = time.monotonic() + self._timeout_s
            return convert(clip.path, directory=self._directory, deadline=deadline, abort=abort)

        try:
            return await run_in_slot(self.slots, work, abort=abort, orphaned=_remove_path)
        except TranscodeAbortedError:
            log.warning("converting the clip took longer than %g s; giving up", self._timeout_s)
        except (av.FFmpegError, IndexError, OSError, ValueError) as exc:
            log.warning("could not convert the clip: %r", exc)
        return None


class _Converter(Protocol):
    def __call__(
        self, source: Path, *, directory: Path | None, deadline: float, abort: threading.Event
    ) -> Path: ...


def _remove_path(path: Path) -> None:
    path.unlink(missing_ok=True)


def _remove(result: FitResult | None) -> None:
    if result is not None:
        result.path.unlink(missing_ok=True)


# Encoding -----------------------------------------------------------------------------------


def _encode(
    source: Path,
    target: Path,
    plan: FitPlan,
    info: ClipInfo,
    deadline: float,
    abort: threading.Event,
) -> None:
    with (
        av.open(str(source)) as src,
        av.open(str(target), "w", format="mp4", options=FASTSTART) as out,
    ):
        in_video = src.streams.video[0]
        in_audio = src.streams.audio[0] if src.streams.audio else None
        out_video = _video_stream(out, in_video, plan, info)
        out_audio = _audio_stream(out, in_audio, plan) if in_audio is not None else None
        resampler = (
            av.AudioResampler(format="fltp", layout="stereo", rate=out_audio.rate)
            if out_audio is not None
            else None
        )
        streams = [s for s in (in_video, in_audio) if s is not None]
        for packet in src.demux(*streams):
            if abort.is_set() or time.monotonic() > deadline:
                raise TranscodeAbortedError
            for frame in packet.decode():
                if isinstance(frame, av.VideoFrame):
                    scaled = frame.reformat(plan.width, plan.height, format="yuv420p")
                    out.mux(out_video.encode(scaled))
                elif isinstance(frame, av.AudioFrame) and resampler is not None:
                    assert out_audio is not None
                    for chunk in resampler.resample(frame):
                        out.mux(out_audio.encode(chunk))
        out.mux(out_video.encode())
        if out_audio is not None and resampler is not None:
            for chunk in resampler.resample(None):
                out.mux(out_audio.encode(chunk))
            out.mux(out_audio.encode())


def _video_stream(
    out: OutputContainer, source: VideoStream, plan: FitPlan, info: ClipInfo
) -> VideoStream:
    rate = source.average_rate or Fraction(round(info.fps))
    time_base = source.time_base or 1 / rate
    stream = out.add_stream("libx264", rate=rate)
    stream.width, stream.height, stream.pix_fmt = plan.width, plan.height, "yuv420p"
    stream.time_base = time_base
    stream.codec_context.time_base = time_base
    if plan.video_bitrate is None:
        stream.options = {"preset": _PRESET, "crf": str(PLAYABLE_CRF)}
        return stream
    stream.bit_rate = plan.video_bitrate
    # Single-pass ABR with a capped rate: x264 keeps close to the average without a first pass.
    stream.options = {
        "preset": _PRESET,
        "maxrate": str(plan.video_bitrate),
        "bufsize": str(plan.video_bitrate * 2),
    }
    return stream


def _audio_stream(out: OutputContainer, source: AudioStream, plan: FitPlan) -> AudioStream:
    rate = source.rate if source.rate in (44100, 48000) else 48000
    stream = out.add_stream("aac", rate=rate)
    stream.bit_rate = plan.audio_bitrate
    stream.layout = "stereo"
    return stream


def _duration_s(container: InputContainer, video: VideoStream) -> float:
    if video.duration is not None and video.time_base is not None:
        return float(video.duration * video.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    raise ValueError("the clip does not say how long it is")


def _even(value: float) -> int:
    return max(2, int(value) // 2 * 2)


def _temp_path(directory: Path | None) -> Path:
    return _new_path("fit-", ".mp4", directory)
