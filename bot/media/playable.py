"""What makes a clip play everywhere, and the cheap ways to get there. Discord-free.

Discord's phone apps play a clip inline only when it is H.264 in `yuv420p` with the `moov` box
(the index) before the `mdat` box (the frames): "faststart", so a player can start before the
whole file is in. Checking costs no decoding: the box order is read from the box headers, the
codec and pixel format from the container's stream parameters. A clip that only lacks
faststart is remuxed (packets copied, nothing re-encoded); the re-encode itself, for another
codec or pixel format, is `bot.media.transcode.reencode_file`.
"""

from __future__ import annotations

import enum
import math
import struct
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import av

PLAYABLE_CODEC = "h264"
PLAYABLE_PIX_FMT = "yuv420p"
#: The mp4 muxer option that writes the index first (a second pass at the end of the write).
FASTSTART = {"movflags": "+faststart"}
#: Top-level boxes read before giving up on finding `moov` or `mdat` (a real file has < 10).
_MAX_BOXES = 64


class TranscodeAbortedError(Exception):
    """A conversion passed its time limit or was called off."""


class Treatment(enum.StrEnum):
    """What was done to a clip before it was posted (logged per job)."""

    UNTOUCHED = "untouched"  # already H.264 yuv420p faststart: the bytes as made
    REMUXED = "remuxed"  # the same packets, index moved to the front
    REENCODED = "re-encoded"  # decoded and encoded to H.264 yuv420p faststart
    AS_MADE = "posted as made"  # could not be read or converted: better than no clip


@dataclass(frozen=True, slots=True)
class ClipFormat:
    """The parts of a clip's format that decide whether it plays everywhere."""

    codec: str
    pix_fmt: str | None
    faststart: bool

    @property
    def playable(self) -> bool:
        """True when the clip plays inline as it is."""
        return self.faststart and not self.needs_reencode

    @property
    def needs_reencode(self) -> bool:
        """True when only decoding and encoding again can make it playable."""
        return self.codec != PLAYABLE_CODEC or self.pix_fmt != PLAYABLE_PIX_FMT

    def __str__(self) -> str:
        order = "faststart" if self.faststart else "moov after mdat"
        return f"{self.codec} {self.pix_fmt or '?'} {order}"


def moov_first(path: Path) -> bool:
    """True when the file's `moov` box comes before its `mdat` box, read from box headers only
    (a few bytes per box, whatever the file's size). False when `mdat` comes first or either
    is missing."""
    with path.open("rb") as file:
        for _ in range(_MAX_BOXES):
            box = _next_box(file)
            if box is None:
                return False
            kind, body_size = box
            if kind == b"moov":
                return True
            if kind == b"mdat" or body_size is None:
                return False
            file.seek(body_size, 1)
    return False


def _next_box(file: BinaryIO) -> tuple[bytes, int | None] | None:
    """The next top-level box's type and body size (None: it runs to the end of the file);
    None at the end of the file or on a malformed header."""
    header = file.read(8)
    if len(header) < 8:
        return None
    size, kind = struct.unpack(">I4s", header)
    if size == 0:
        return kind, None
    if size == 1:  # a 64-bit size follows the type
        large = file.read(8)
        if len(large) < 8:
            return None
        (size,) = struct.unpack(">Q", large)
        return (kind, size - 16) if size >= 16 else None
    return (kind, size - 8) if size >= 8 else None


def probe_format(path: Path) -> ClipFormat:
    """The clip's video codec, pixel format and box order, without decoding a frame.
    Raises av.FFmpegError (or IndexError: no video stream) for a file it cannot read."""
    faststart = moov_first(path)
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        pix_fmt = video.codec_context.format
        return ClipFormat(
            codec=video.codec_context.name,
            pix_fmt=pix_fmt.name if pix_fmt is not None else None,
            faststart=faststart,
        )


def remux_faststart(
    source: Path,
    *,
    directory: Path | None = None,
    deadline: float = math.inf,
    abort: threading.Event | None = None,
) -> Path:
    """A new mp4 with `source`'s video and audio packets copied as they are and the index
    first. Memory stays flat: packets go one at a time, and the muxer moves the index on
    disk. Raises av.FFmpegError, TranscodeAbortedError past `deadline` (a `time.monotonic()`
    value) or once `abort` is set; the new file is deleted unless returned."""
    target = temp_path("remux-", ".mp4", directory)
    try:
        with (
            av.open(str(source)) as src,
            av.open(str(target), "w", format="mp4", options=FASTSTART) as out,
        ):
            streams = [s for s in src.streams if s.type in ("video", "audio")]
            copies = {s.index: out.add_stream_from_template(s) for s in streams}
            for packet in src.demux(*streams):
                if (abort is not None and abort.is_set()) or time.monotonic() > deadline:
                    raise TranscodeAbortedError
                if packet.dts is None:  # the demuxer's end-of-stream marker
                    continue
                packet.stream = copies[packet.stream.index]
                out.mux(packet)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return target


def temp_path(prefix: str, suffix: str, directory: Path | None) -> Path:
    """A new empty file's path in `directory` (the system's temporary directory if None)."""
    with tempfile.NamedTemporaryFile(
        prefix=prefix, suffix=suffix, dir=directory, delete=False
    ) as file:
        return Path(file.name)
