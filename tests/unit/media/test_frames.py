"""The last-frame extractor on real mp4s made with PyAV (their last frame is white)."""

from __future__ import annotations

import io
import random
from pathlib import Path

import av
import pytest

from bot.media.frames import Frame, FrameError, fit_sides, last_frame
from tests.fakes.clips import make_mp4

LIMITS = {"min_side": 300, "max_side": 6000, "max_bytes": 30_000_000}


def grey_levels(frame: Frame) -> bytes:
    """The decoded image's pixels as 8-bit grey levels."""
    with av.open(io.BytesIO(frame.data)) as container:
        (image,) = list(container.decode(video=0))
        assert (image.width, image.height) == (frame.width, frame.height)
        grey = image.reformat(format="gray")
        return bytes(grey.planes[0])[: frame.width]  # first row, without padding


def write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "clip.mp4"
    path.write_bytes(data)
    return path


def test_the_last_frame_is_taken_as_a_png_at_the_clips_size(tmp_path: Path) -> None:
    frame = last_frame(write(tmp_path, make_mp4(640, 480, 2.0)), **LIMITS)

    assert (frame.content_type, frame.filename) == ("image/png", "last-frame.png")
    assert frame.data.startswith(b"\x89PNG\r\n\x1a\n")
    assert (frame.width, frame.height) == (640, 480)
    assert min(grey_levels(frame)) >= 250  # white, not the black first frame


def test_a_clip_smaller_than_the_apis_minimum_is_scaled_up(tmp_path: Path) -> None:
    frame = last_frame(write(tmp_path, make_mp4(320, 240)), **LIMITS)

    assert (frame.width, frame.height) == (400, 300)
    assert min(grey_levels(frame)) >= 250


def noise_mp4(width: int, height: int) -> bytes:
    """A one-frame mp4 of random noise: its PNG is far bigger than its JPEG."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
        video = container.add_stream("libx264", rate=12)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        pixels = random.Random(0).randbytes(width * height * 4)
        container.mux(video.encode(av.VideoFrame.from_bytes(pixels, width, height, format="rgba")))
        container.mux(video.encode())
    return buffer.getvalue()


def test_a_frame_too_big_as_png_is_sent_as_jpeg(tmp_path: Path) -> None:
    cap = 400_000
    path = write(tmp_path, noise_mp4(640, 480))
    assert len(last_frame(path, min_side=300, max_side=6000, max_bytes=10**8).data) > cap

    frame = last_frame(path, min_side=300, max_side=6000, max_bytes=cap)

    assert frame.content_type == "image/jpeg"
    assert frame.data.startswith(b"\xff\xd8\xff")
    assert len(frame.data) <= cap
    assert (frame.width, frame.height) == (640, 480)


def test_a_clip_whose_last_packet_is_damaged_gives_the_last_good_frame(tmp_path: Path) -> None:
    data = bytearray(make_mp4(640, 480, 2.0))
    with av.open(io.BytesIO(bytes(data))) as container:
        packets = [p for p in container.demux(video=0) if p.size]
    last = packets[-1]
    assert last.pos is not None
    data[last.pos : last.pos + last.size] = b"\xff" * last.size

    frame = last_frame(write(tmp_path, bytes(data)), **LIMITS)

    assert (frame.width, frame.height) == (640, 480)


def test_a_file_that_is_not_a_video_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FrameError):
        last_frame(write(tmp_path, b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 100), **LIMITS)


def test_sides_are_fitted_into_range_keeping_the_aspect_ratio() -> None:
    assert fit_sides(1920, 1080, 300, 6000) == (1920, 1080)
    assert fit_sides(320, 240, 300, 6000) == (400, 300)
    assert fit_sides(8000, 4000, 300, 6000) == (6000, 3000)
