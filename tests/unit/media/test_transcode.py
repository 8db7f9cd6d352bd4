"""Re-encoding clips to fit an upload limit, on real mp4 files made with PyAV."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from pathlib import Path

import av
import pytest

from bot.media.files import DownloadedClip
from bot.media.playable import TranscodeAbortedError
from bot.media.transcode import (
    MIN_BITS_PER_PIXEL,
    ClipFitter,
    ClipInfo,
    fit_file,
    plan_fit,
    probe,
)
from tests.fakes.clips import make_mp4

WIDTH, HEIGHT, SECONDS, FPS = 640, 360, 3.0, 24


@pytest.fixture(scope="module")
def noisy_clip() -> bytes:
    """A clip that compresses badly (about 7 MB for 3 s), with a soundtrack."""
    return make_mp4(WIDTH, HEIGHT, SECONDS, FPS, noise=True, audio=True)


@pytest.fixture
def source(tmp_path: Path, noisy_clip: bytes) -> Path:
    path = tmp_path / "clip.mp4"
    path.write_bytes(noisy_clip)
    return path


@pytest.fixture
def clip(source: Path) -> DownloadedClip:
    return DownloadedClip(source, source.stat().st_size)


def read_mp4(path: Path) -> tuple[int, int, float, list[str]]:
    """Width, height and duration of the video, and the audio codecs, as a player sees them."""
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        frames = sum(1 for _ in container.decode(video))  # every frame decodes
        assert frames == round(SECONDS * FPS)
        assert video.duration is not None
        duration = float(video.duration * video.time_base)
        audio = [stream.codec_context.name for stream in container.streams.audio]
        return video.codec_context.width, video.codec_context.height, duration, audio


# Planning ----------------------------------------------------------------------------------


def info(seconds: float = 12.0, width: int = 1920, height: int = 1080) -> ClipInfo:
    return ClipInfo(duration_s=seconds, width=width, height=height, fps=24.0, has_audio=True)


def test_a_roomy_limit_keeps_the_resolution_and_only_lowers_the_bitrate() -> None:
    plan = plan_fit(info(), 25 * 1024 * 1024)

    assert plan is not None
    assert (plan.width, plan.height) == (1920, 1080)
    total_bits = (plan.video_bitrate + plan.audio_bitrate) * 12
    assert total_bits <= 25 * 1024 * 1024 * 8


def test_a_tight_limit_scales_the_picture_down_keeping_its_shape() -> None:
    plan = plan_fit(info(), 2 * 1024 * 1024)

    assert plan is not None
    assert plan.height < 1080
    assert plan.width % 2 == 0
    assert plan.height % 2 == 0
    assert plan.width / plan.height == pytest.approx(16 / 9, rel=0.02)
    per_pixel = plan.video_bitrate / (plan.width * plan.height * 24)
    assert per_pixel >= MIN_BITS_PER_PIXEL * 0.95


def test_a_limit_too_small_for_the_clip_has_no_plan() -> None:
    assert plan_fit(info(), 200 * 1024) is None


def test_a_clip_without_sound_spends_nothing_on_audio() -> None:
    silent = ClipInfo(duration_s=5, width=1280, height=720, fps=24, has_audio=False)

    plan = plan_fit(silent, 8 * 1024 * 1024)

    assert plan is not None
    assert plan.audio_bitrate == 0


def test_probe_reads_a_real_clip(source: Path) -> None:
    assert probe(source) == ClipInfo(
        duration_s=SECONDS, width=WIDTH, height=HEIGHT, fps=FPS, has_audio=True
    )


# Encoding ----------------------------------------------------------------------------------


def test_a_clip_over_the_limit_is_re_encoded_under_it_at_full_size(
    source: Path, tmp_path: Path
) -> None:
    limit = source.stat().st_size // 3

    result = fit_file(source, limit, directory=tmp_path)

    assert result is not None
    assert result.size_bytes == result.path.stat().st_size <= limit
    width, height, duration, audio = read_mp4(result.path)
    assert (width, height) == (WIDTH, HEIGHT)
    assert duration == pytest.approx(SECONDS, abs=0.1)
    assert audio == ["aac"]


def test_a_tight_limit_gives_a_smaller_picture_that_fits(source: Path, tmp_path: Path) -> None:
    result = fit_file(source, 150_000, directory=tmp_path)

    assert result is not None
    assert result.size_bytes <= 150_000
    width, height, _, _ = read_mp4(result.path)
    assert height < HEIGHT
    assert width / height == pytest.approx(WIDTH / HEIGHT, rel=0.02)


def test_a_clip_that_cannot_fit_gives_none_and_leaves_no_file(source: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()

    assert fit_file(source, 20_000, directory=work) is None
    assert list(work.iterdir()) == []


def test_a_corrupt_clip_raises_and_leaves_no_file(tmp_path: Path, noisy_clip: bytes) -> None:
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(noisy_clip[:64] + b"\x00" * 4096)
    work = tmp_path / "work"
    work.mkdir()

    with pytest.raises((av.FFmpegError, IndexError, ValueError)):
        fit_file(broken, 100_000, directory=work)
    assert list(work.iterdir()) == []


def test_passing_the_deadline_aborts_and_removes_the_partial_file(
    source: Path, tmp_path: Path
) -> None:
    work = tmp_path / "work"
    work.mkdir()

    with pytest.raises(TranscodeAbortedError):
        fit_file(source, 1_000_000, directory=work, deadline=time.monotonic() - 1)
    assert list(work.iterdir()) == []


def test_setting_abort_stops_the_encode(source: Path, tmp_path: Path) -> None:
    abort = threading.Event()
    abort.set()

    with pytest.raises(TranscodeAbortedError):
        fit_file(source, 1_000_000, directory=tmp_path, abort=abort)


# The async front ---------------------------------------------------------------------------


def fitter(tmp_path: Path, concurrency: int = 1, timeout_s: float = 120) -> ClipFitter:
    return ClipFitter(concurrency=concurrency, timeout_s=timeout_s, directory=tmp_path)


async def test_fitter_returns_a_clip_that_remembers_its_old_size(
    clip: DownloadedClip, tmp_path: Path
) -> None:
    limit = clip.size_bytes // 3

    fitted = await fitter(tmp_path).fit(clip, limit)

    assert fitted is not None
    assert fitted.size_bytes <= limit
    assert fitted.reencoded_from == clip.size_bytes
    assert clip.path.is_file()  # the caller owns the original
    fitted.discard()


async def test_fitter_turns_a_corrupt_clip_into_none(tmp_path: Path) -> None:
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypisom" + b"\x00" * 10_000)

    assert await fitter(tmp_path).fit(DownloadedClip(broken, 10_012), 5_000) is None


async def test_fitter_switched_off_gives_none(clip: DownloadedClip, tmp_path: Path) -> None:

    assert await fitter(tmp_path, concurrency=0).fit(clip, clip.size_bytes // 2) is None


async def test_fitter_over_its_time_limit_gives_none(clip: DownloadedClip, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()

    slow = ClipFitter(concurrency=1, timeout_s=1e-9, directory=work)

    assert await slow.fit(clip, clip.size_bytes // 2) is None
    assert list(work.iterdir()) == []


async def test_fitter_runs_at_most_its_concurrency_at_once(
    clip: DownloadedClip, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    running, peak = 0, 0
    lock = threading.Lock()
    real_fit = fit_file

    def counting_fit(*args: object, **kwargs: object) -> object:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        try:
            return real_fit(*args, **kwargs)  # type: ignore[arg-type]
        finally:
            with lock:
                running -= 1

    monkeypatch.setattr("bot.media.transcode.fit_file", counting_fit)
    one = fitter(tmp_path, concurrency=1)

    results = await asyncio.gather(*(one.fit(clip, clip.size_bytes // 2) for _ in range(3)))

    assert peak == 1
    assert all(r is not None for r in results)
    for result in results:
        assert result is not None
        result.discard()


async def wait_for(condition: Callable[[], bool], within_s: float = 10.0) -> None:
    """Poll `condition` until it holds; fail the test after `within_s` (a safety net only)."""
    deadline = time.monotonic() + within_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {within_s} s")
        await asyncio.sleep(0.01)


async def test_a_fit_cancelled_after_its_thread_finished_leaves_no_file(
    clip: DownloadedClip, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    encoded, release = threading.Event(), threading.Event()
    real_fit = fit_file

    def fit_then_hold(*args: object, **kwargs: object) -> object:
        result = real_fit(*args, **kwargs)  # type: ignore[arg-type]
        encoded.set()
        release.wait(10)  # done, but not yet handed back: the caller is cancelled meanwhile
        return result

    monkeypatch.setattr("bot.media.transcode.fit_file", fit_then_hold)
    one = ClipFitter(concurrency=1, timeout_s=120, directory=work)
    task = asyncio.create_task(one.fit(clip, clip.size_bytes // 2))
    await wait_for(encoded.is_set)
    assert len(list(work.iterdir())) == 1  # the re-encoded copy

    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    release.set()

    await wait_for(lambda: list(work.iterdir()) == [])


async def test_a_cancelled_fit_keeps_its_slot_until_its_thread_ends(
    clip: DownloadedClip, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first_running, release = threading.Event(), threading.Event()
    started_after_release: list[bool] = []
    real_fit = fit_file

    def fit(*args: object, **kwargs: object) -> object:
        if not first_running.is_set():
            first_running.set()
            release.wait(10)  # a thread that does not notice the abort at once
            return None
        started_after_release.append(release.is_set())
        return real_fit(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr("bot.media.transcode.fit_file", fit)
    one = fitter(tmp_path, concurrency=1)
    first = asyncio.create_task(one.fit(clip, clip.size_bytes // 2))
    await wait_for(first_running.is_set)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first

    second = asyncio.create_task(one.fit(clip, clip.size_bytes // 2))
    await asyncio.sleep(0.2)  # room for a wrongly freed slot to start the second thread
    release.set()
    fitted = await second

    assert started_after_release == [True]
    assert fitted is not None
    fitted.discard()
