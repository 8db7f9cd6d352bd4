"""The last frame of an mp4 as an image the video API accepts (for Continue). Blocking: run it
in a thread (`asyncio.to_thread`)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import av
import av.error
from av.video.frame import VideoFrame

log = logging.getLogger(__name__)


class FrameError(Exception):
    """The clip has no decodable video frame."""


@dataclass(frozen=True, slots=True)
class Frame:
    """An encoded still image."""

    data: bytes
    width: int
    height: int
    content_type: str
    filename: str


def last_frame(path: Path, *, min_side: int, max_side: int, max_bytes: int) -> Frame:
    """Decode the clip's last frame and encode it as PNG (JPEG if the PNG is over `max_bytes`),
    scaled so each side is within `min_side`..`max_side`. Raises FrameError."""
    frame = _decode_last(path)
    width, height = fit_sides(frame.width, frame.height, min_side, max_side)
    png = _encode(frame, "png", "rgb24", width, height)
    if len(png) <= max_bytes:
        return Frame(png, width, height, "image/png", "last-frame.png")
    jpeg = _encode(frame, "mjpeg", "yuvj420p", width, height)
    if len(jpeg) > max_bytes:
        raise FrameError(f"the frame is {len(jpeg)} bytes even as JPEG")
    return Frame(jpeg, width, height, "image/jpeg", "last-frame.jpg")


def _decode_last(path: Path) -> VideoFrame:
    """The last frame that decodes; packets that do not (a damaged tail) are skipped."""
    last: VideoFrame | None = None
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise FrameError("the file has no video stream")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for packet in container.demux(stream):
                try:
                    for frame in packet.decode():
                        last = frame
                except av.error.FFmpegError as exc:
                    log.info("skipping a video packet that does not decode: %s", exc)
    except av.error.FFmpegError as exc:
        if last is None:
            raise FrameError(f"cannot read the clip: {exc}") from exc
        log.info("the clip ends in damaged data (%s); using the last good frame", exc)
    if last is None:
        raise FrameError("the clip has no decodable frame")
    return last


def fit_sides(width: int, height: int, min_side: int, max_side: int) -> tuple[int, int]:
    """The size, keeping the aspect ratio, that puts both sides in range where possible
    (even numbers, as encoders like)."""
    scale = 1.0
    if min(width, height) < min_side:
        scale = min_side / min(width, height)
    if max(width, height) * scale > max_side:
        scale = max_side / max(width, height)
    return _even(width * scale), _even(height * scale)


def _even(value: float) -> int:
    return max(2, round(value / 2) * 2)


def _encode(frame: VideoFrame, codec: str, pix_fmt: str, width: int, height: int) -> bytes:
    context = av.CodecContext.create(codec, "w")
    context.width, context.height, context.pix_fmt = width, height, pix_fmt  # type: ignore[attr-defined]
    context.time_base = frame.time_base or context.time_base
    image = frame.reformat(width=width, height=height, format=pix_fmt)
    packets = context.encode(image) + context.encode(None)  # type: ignore[attr-defined]
    return b"".join(bytes(packet) for packet in packets)
