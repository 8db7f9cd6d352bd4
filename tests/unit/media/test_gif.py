"""GIFs of clips, scaled and trimmed to fit a limit, on real files made with PyAV."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import av
import pytest

from bot.media.files import DownloadedClip
from bot.media.gif import (
    FPS,
    MAX_SECONDS,
    MAX_WIDTH_PX,
    MIN_SECONDS,
    MIN_WIDTH_PX,
    GifFailedError,
    GifMaker,
    GifPlan,
    first_plan,
    make_gif,
    next_plan,
)
from bot.media.playable import TranscodeAbortedError
from tests.fakes.clips import make_mp4

BIG = 50 * 1024 * 1024


def write(tmp_path: Path, data: bytes, name: str = "clip.mp4") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def read_gif(path: Path) -> tuple[int, int, int]:
    """Width, height and number of frames, as a viewer decodes them."""
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        frames = sum(1 for _ in container.decode(video))
        return video.codec_context.width, video.codec_context.height, frames


# Planning ----------------------------------------------------------------------------------


def test_first_plan_is_at_most_480_wide_and_8_seconds_keeping_the_aspect() -> None:
    assert first_plan(1920, 1080, 12.0) == GifPlan(MAX_WIDTH_PX, 270, MAX_SECONDS)
    assert first_plan(320, 240, 2.0) == GifPlan(320, 240, 2.0)  # never scaled up


def test_a_gif_too_big_is_made_narrower_first() -> None:
    plan = GifPlan(480, 270, 8.0)

    smaller = next_plan(plan, 1920, 1080, ratio=0.5)

    assert smaller is not None
    assert MIN_WIDTH_PX <= smaller.width < 480 * 0.71
    assert smaller.seconds == 8.0


def test_at_the_narrowest_a_gif_is_trimmed_and_below_a_second_it_cannot_fit() -> None:
    narrow = GifPlan(MIN_WIDTH_PX, 90, 8.0)

    trimmed = next_plan(narrow, 1920, 1080, ratio=0.5)
    hopeless = next_plan(narrow, 1920, 1080, ratio=0.01)

    assert trimmed is not None
    assert trimmed.width == MIN_WIDTH_PX
    assert MIN_SECONDS <= trimmed.seconds < 8.0 * 0.5
    assert hopeless is None


# Making ------------------------------------------------------------------------------------


def test_a_gif_loops_and_has_ten_frames_a_second(tmp_path: Path) -> None:
    source = write(tmp_path, make_mp4(640, 480, 2.0, 24))

    result = make_gif(source, BIG, directory=tmp_path)

    assert result is not None
    data = result.path.read_bytes()
    assert data.startswith(b"GIF89a")
    assert b"NETSCAPE2.0" in data  # the loop extension
    assert read_gif(result.path) == (480, 360, 2 * FPS)
    assert (result.size_bytes, result.attempts) == (len(data), 1)


def test_a_long_clip_is_trimmed_to_its_first_seconds(tmp_path: Path) -> None:
    source = write(tmp_path, make_mp4(160, 120, MAX_SECONDS + 2, 12))

    result = make_gif(source, BIG, directory=tmp_path)

    assert result is not None
    assert read_gif(result.path)[2] == MAX_SECONDS * FPS


def test_a_gif_over_the_limit_is_made_smaller_until_it_fits(tmp_path: Path) -> None:
    source = write(tmp_path, make_mp4(400, 224, 1.0, 12, noise=True))
    first = make_gif(source, BIG, directory=tmp_path)
    assert first is not None
    limit = first.size_bytes // 3

    result = make_gif(source, limit, directory=tmp_path)

    assert result is not None
    assert result.size_bytes <= limit
    assert result.attempts > 1
    assert read_gif(result.path)[0] < first.width


def test_a_gif_that_cannot_fit_gives_none_and_leaves_no_file(tmp_path: Path) -> None:
    source = write(tmp_path, make_mp4(480, 270, 1.0, 12, noise=True))
    work = tmp_path / "work"
    work.mkdir()

    assert make_gif(source, 10_000, directory=work) is None
    assert list(work.iterdir()) == []


def test_an_aborted_gif_stops_and_leaves_no_file(tmp_path: Path) -> None:
    source = write(tmp_path, make_mp4(320, 240, 1.0))
    work = tmp_path / "work"
    work.mkdir()
    abort = threading.Event()
    abort.set()

    with pytest.raises(TranscodeAbortedError):
        make_gif(source, BIG, directory=work, abort=abort)
    assert list(work.iterdir()) == []


# The async front ---------------------------------------------------------------------------


def maker(tmp_path: Path, timeout_s: float = 60, slots: int = 1) -> GifMaker:
    return GifMaker(slots=asyncio.Semaphore(slots), timeout_s=timeout_s, directory=tmp_path)


async def test_the_maker_gives_a_gif_or_none_when_none_fits(tmp_path: Path) -> None:
    source = write(tmp_path, make_mp4(160, 120, 1.0, noise=True))
    clip = DownloadedClip(source, source.stat().st_size)

    made = await maker(tmp_path).make(clip, BIG)
    assert made is not None
    assert made.path.is_file()
    assert await maker(tmp_path).make(clip, 2_000) is None


async def test_the_maker_fails_clearly_on_an_unreadable_clip_or_past_its_time_limit(
    tmp_path: Path,
) -> None:
    broken = write(tmp_path, b"\x00\x00\x00\x18ftypisom" + bytes(1000), "broken.mp4")
    good = write(tmp_path, make_mp4(320, 240, 1.0))
    work = tmp_path / "work"
    work.mkdir()

    with pytest.raises(GifFailedError):
        await maker(work).make(DownloadedClip(broken, 1012), BIG)
    with pytest.raises(GifFailedError):
        await maker(work, timeout_s=1e-9).make(DownloadedClip(good, 1), BIG)
    assert list(work.iterdir()) == []


async def test_the_maker_waits_for_a_slot_held_by_another_conversion(tmp_path: Path) -> None:
    source = write(tmp_path, make_mp4(160, 120, 1.0))
    slots = asyncio.Semaphore(1)
    gifs = GifMaker(slots=slots, timeout_s=60, directory=tmp_path)

    await slots.acquire()  # a re-encode holds the only slot
    task = asyncio.create_task(gifs.make(DownloadedClip(source, 1), BIG))
    await asyncio.sleep(0.2)
    assert not task.done()
    slots.release()

    assert await task is not None
