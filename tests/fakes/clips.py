"""Real, small mp4 clips for the fakes to serve, made with PyAV (the bot's own video library).

By default a clip is what plays everywhere (H.264, yuv420p, index first: "faststart"); a test
asks for one that is not (`faststart=False`, `pix_fmt="yuv444p"`, `codec="mpeg4"`) to check
that the bot makes it so.
"""

from __future__ import annotations

import functools
import io
import math
import random
import struct
import tempfile
from fractions import Fraction
from pathlib import Path

import av
from av.audio.stream import AudioStream
from av.container import OutputContainer

_RATE = 44100


@functools.cache
def make_mp4(
    width: int = 320,
    height: int = 240,
    seconds: float = 1.0,
    fps: int = 12,
    *,
    noise: bool = False,
    audio: bool = False,
    faststart: bool = True,
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
) -> bytes:
    """An mp4 (H.264 yuv420p faststart unless told otherwise) fading from black to white, or of
    random noise (which compresses badly, for a big file); with a 440 Hz AAC soundtrack when
    `audio`. The last frame is white."""
    if faststart:  # the muxer moves the index in a second pass over a real file
        with tempfile.TemporaryDirectory() as directory:
            path = Path(directory) / "clip.mp4"
            with av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"}) as out:
                _write(out, width, height, seconds, fps, noise, audio, codec, pix_fmt)
            return path.read_bytes()
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as out:
        _write(out, width, height, seconds, fps, noise, audio, codec, pix_fmt)
    return buffer.getvalue()


def top_level_boxes(data: bytes) -> list[str]:
    """The mp4's top-level box types in file order (e.g. `["ftyp", "moov", "mdat"]`): read
    here independently of the bot, so tests can check what the bot says of a file."""
    boxes, at = [], 0
    while at + 8 <= len(data):
        size, kind = struct.unpack_from(">I4s", data, at)
        if size == 1:
            (size,) = struct.unpack_from(">Q", data, at + 8)
        boxes.append(kind.decode("latin-1"))
        if size < 8:
            break
        at += size
    return boxes


def video_format(data: bytes) -> tuple[str, str | None]:
    """The video codec and pixel format of an mp4, as FFmpeg reports them."""
    with av.open(io.BytesIO(data)) as container:
        context = container.streams.video[0].codec_context
        return context.name, context.format.name if context.format else None


def _write(
    container: OutputContainer,
    width: int,
    height: int,
    seconds: float,
    fps: int,
    noise: bool,
    audio: bool,
    codec: str,
    pix_fmt: str,
) -> None:
    rng = random.Random(0)
    video = container.add_stream(codec, rate=fps)
    video.width, video.height, video.pix_fmt = width, height, pix_fmt
    sound = container.add_stream("aac", rate=_RATE) if audio else None
    frames = max(1, round(seconds * fps))
    for index in range(frames):
        if noise and index < frames - 1:
            pixels = rng.randbytes(width * height * 4)
        else:
            level = 255 * index // max(1, frames - 1)
            pixels = bytes([level]) * (width * height * 4)
        frame = av.VideoFrame.from_bytes(pixels, width, height, format="rgba")
        container.mux(video.encode(frame))
    container.mux(video.encode())
    if sound is not None:
        _add_tone(container, sound, seconds)


def _add_tone(container: OutputContainer, stream: AudioStream, seconds: float) -> None:
    samples = 1024
    for start in range(0, int(_RATE * seconds), samples):
        phase = (2 * math.pi * 440 * (start + i) / _RATE for i in range(samples))
        values = (int(6000 * math.sin(p)) for p in phase)
        frame = av.AudioFrame(format="s16", layout="mono", samples=samples)
        frame.planes[0].update(struct.pack(f"<{samples}h", *values))
        frame.sample_rate = _RATE
        frame.pts = start
        frame.time_base = Fraction(1, _RATE)
        container.mux(stream.encode(frame))
    container.mux(stream.encode())
