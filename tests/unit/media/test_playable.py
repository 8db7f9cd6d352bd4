"""Clips that play everywhere (H.264, yuv420p, index first), checked on real mp4 files."""

from __future__ import annotations

import asyncio
import struct
import threading
from pathlib import Path

import av
import pytest

from bot.media.files import DownloadedClip
from bot.media.playable import (
    ClipFormat,
    TranscodeAbortedError,
    Treatment,
    moov_first,
    probe_format,
    remux_faststart,
)
from bot.media.transcode import ClipFitter, fit_file, reencode_file
from tests.fakes.clips import make_mp4

WIDTH, HEIGHT, SECONDS, FPS = 320, 240, 1.0, 12
GOOD = ClipFormat("h264", "yuv420p", faststart=True)


def write(tmp_path: Path, data: bytes, name: str = "clip.mp4") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def frames_and_audio(path: Path) -> tuple[int, list[str]]:
    """How many video frames decode, and the audio codecs, as a player sees them."""
    with av.open(str(path)) as container:
        frames = sum(1 for _ in container.decode(container.streams.video[0]))
        return frames, [s.codec_context.name for s in container.streams.audio]


def box(kind: bytes, body: bytes = b"") -> bytes:
    return struct.pack(">I", 8 + len(body)) + kind + body


# Reading the format ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({}, GOOD),
        ({"faststart": False}, ClipFormat("h264", "yuv420p", faststart=False)),
        ({"pix_fmt": "yuv444p"}, ClipFormat("h264", "yuv444p", faststart=True)),
        ({"codec": "mpeg4"}, ClipFormat("mpeg4", "yuv420p", faststart=True)),
    ],
)
def test_probe_reads_codec_pixel_format_and_box_order(
    tmp_path: Path, options: dict[str, object], expected: ClipFormat
) -> None:
    path = write(tmp_path, make_mp4(WIDTH, HEIGHT, SECONDS, FPS, **options))  # type: ignore[arg-type]

    assert probe_format(path) == expected


def test_only_h264_yuv420p_faststart_is_playable_as_it_is() -> None:
    assert GOOD.playable
    assert not ClipFormat("h264", "yuv420p", faststart=False).playable
    assert not ClipFormat("h264", "yuv420p", faststart=False).needs_reencode
    assert ClipFormat("h264", "yuv444p", faststart=True).needs_reencode
    assert ClipFormat("hevc", "yuv420p", faststart=True).needs_reencode


def test_box_order_is_read_from_headers_past_a_huge_mdat_without_reading_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "sparse.mp4"
    with path.open("wb") as file:
        file.write(box(b"ftyp", b"isom\x00\x00\x00\x00") + box(b"free"))
        # a 64-bit size: a 4 GiB `moov` box, of which only the header is on disk
        file.write(struct.pack(">I4sQ", 1, b"moov", 4 << 30))

    assert moov_first(path)


def test_box_order_with_mdat_first_or_no_index_is_not_faststart(tmp_path: Path) -> None:
    mdat_first = write(tmp_path, box(b"ftyp") + box(b"mdat", bytes(100)) + box(b"moov"), "a")
    no_index = write(tmp_path, box(b"ftyp") + box(b"free", bytes(10)), "b")
    garbage = write(tmp_path, b"\x00\x00\x00\x03ftyp", "c")

    assert not moov_first(mdat_first)
    assert not moov_first(no_index)
    assert not moov_first(garbage)


# Remux and re-encode -----------------------------------------------------------------------


def test_remux_moves_the_index_first_and_keeps_every_packet(tmp_path: Path) -> None:
    source = write(tmp_path, make_mp4(WIDTH, HEIGHT, SECONDS, FPS, audio=True, faststart=False))

    remuxed = remux_faststart(source, directory=tmp_path)

    assert probe_format(remuxed) == GOOD
    assert frames_and_audio(remuxed) == (12, ["aac"])
    # the same packets: the video stream's bytes are identical
    assert video_packets(remuxed) == video_packets(source)


def video_packets(path: Path) -> list[bytes]:
    with av.open(str(path)) as container:
        return [bytes(p) for p in container.demux(video=0) if p.size]


@pytest.mark.parametrize("options", [{"pix_fmt": "yuv444p"}, {"codec": "mpeg4"}])
def test_reencode_makes_h264_yuv420p_faststart_at_the_same_size(
    tmp_path: Path, options: dict[str, str]
) -> None:
    source = write(tmp_path, make_mp4(WIDTH, HEIGHT, SECONDS, FPS, audio=True, **options))  # type: ignore[arg-type]

    made = reencode_file(source, directory=tmp_path)

    assert probe_format(made) == GOOD
    assert frames_and_audio(made) == (12, ["aac"])
    with av.open(str(made)) as container:
        context = container.streams.video[0].codec_context
        assert (context.width, context.height) == (WIDTH, HEIGHT)


def test_a_clip_fitted_to_a_limit_is_playable_too(tmp_path: Path) -> None:
    source = write(tmp_path, make_mp4(WIDTH, HEIGHT, 2.0, FPS, noise=True, pix_fmt="yuv444p"))

    result = fit_file(source, source.stat().st_size // 3, directory=tmp_path)

    assert result is not None
    assert probe_format(result.path) == GOOD


def test_remux_past_its_deadline_stops_and_leaves_no_file(tmp_path: Path) -> None:
    source = write(tmp_path, make_mp4(WIDTH, HEIGHT, SECONDS, FPS, faststart=False))
    work = tmp_path / "work"
    work.mkdir()
    abort = threading.Event()
    abort.set()

    with pytest.raises(TranscodeAbortedError):
        remux_faststart(source, directory=work, abort=abort)
    assert list(work.iterdir()) == []


# The async front: what delivery calls ------------------------------------------------------


def fitter(tmp_path: Path, concurrency: int = 1, timeout_s: float = 60) -> ClipFitter:
    return ClipFitter(concurrency=concurrency, timeout_s=timeout_s, directory=tmp_path)


def downloaded(tmp_path: Path, data: bytes) -> DownloadedClip:
    path = write(tmp_path, data, "downloaded.mp4")
    return DownloadedClip(path, len(data))


async def test_a_playable_clip_is_posted_untouched(tmp_path: Path) -> None:
    data = make_mp4(WIDTH, HEIGHT, SECONDS, FPS)
    clip = downloaded(tmp_path, data)

    ready = await fitter(tmp_path).playable(clip)

    assert ready.treatment is Treatment.UNTOUCHED
    assert ready.clip == clip
    assert ready.clip.path.read_bytes() == data


async def test_a_clip_lacking_faststart_is_remuxed_and_the_original_removed(
    tmp_path: Path,
) -> None:
    clip = downloaded(tmp_path, make_mp4(WIDTH, HEIGHT, SECONDS, FPS, faststart=False))

    ready = await fitter(tmp_path).playable(clip)

    assert ready.treatment is Treatment.REMUXED
    assert ready.came_as == ClipFormat("h264", "yuv420p", faststart=False)
    assert probe_format(ready.clip.path) == GOOD
    assert ready.clip.size_bytes == ready.clip.path.stat().st_size
    assert not clip.path.exists()


@pytest.mark.parametrize("options", [{"pix_fmt": "yuv444p"}, {"codec": "mpeg4"}])
async def test_a_clip_in_another_codec_or_pixel_format_is_re_encoded(
    tmp_path: Path, options: dict[str, str]
) -> None:
    clip = downloaded(tmp_path, make_mp4(WIDTH, HEIGHT, SECONDS, FPS, **options))  # type: ignore[arg-type]

    ready = await fitter(tmp_path).playable(clip)

    assert ready.treatment is Treatment.REENCODED
    assert probe_format(ready.clip.path) == GOOD
    assert not clip.path.exists()


async def test_an_unreadable_clip_is_posted_as_made(tmp_path: Path) -> None:
    clip = downloaded(tmp_path, box(b"ftyp", b"isom") + box(b"mdat", bytes(1000)))

    ready = await fitter(tmp_path).playable(clip)

    assert (ready.treatment, ready.clip, ready.came_as) == (Treatment.AS_MADE, clip, None)


async def test_with_re_encoding_off_a_clip_is_still_remuxed_but_not_re_encoded(
    tmp_path: Path,
) -> None:
    off = fitter(tmp_path, concurrency=0)
    lacking = downloaded(tmp_path, make_mp4(WIDTH, HEIGHT, SECONDS, FPS, faststart=False))
    assert (await off.playable(lacking)).treatment is Treatment.REMUXED

    other = downloaded(tmp_path, make_mp4(WIDTH, HEIGHT, SECONDS, FPS, codec="mpeg4"))
    ready = await off.playable(other)
    assert (ready.treatment, ready.clip) == (Treatment.AS_MADE, other)


async def test_a_re_encode_over_its_time_limit_leaves_the_clip_as_made_and_no_file(
    tmp_path: Path,
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    clip = downloaded(tmp_path, make_mp4(WIDTH, HEIGHT, SECONDS, FPS, pix_fmt="yuv444p"))
    slow = ClipFitter(concurrency=1, timeout_s=1e-9, directory=work)

    ready = await slow.playable(clip)

    assert (ready.treatment, ready.clip) == (Treatment.AS_MADE, clip)
    assert clip.path.is_file()
    assert list(work.iterdir()) == []


async def test_re_encodes_share_the_fitters_slots(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    running, peak = 0, 0
    lock = threading.Lock()

    def counting(*args: object, **kwargs: object) -> object:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        try:
            return reencode_file(*args, **kwargs)  # type: ignore[arg-type]
        finally:
            with lock:
                running -= 1

    monkeypatch.setattr("bot.media.transcode.reencode_file", counting)
    one = fitter(tmp_path, concurrency=1)
    data = make_mp4(WIDTH, HEIGHT, SECONDS, FPS, codec="mpeg4")
    clips = [DownloadedClip(write(tmp_path, data, f"{i}.mp4"), len(data)) for i in range(3)]

    results = await asyncio.gather(*(one.playable(clip) for clip in clips))

    assert peak == 1
    assert [r.treatment for r in results] == [Treatment.REENCODED] * 3
