"""`python -m bench.reencode`: how long fitting one clip to an upload limit takes.

Makes a clip like the API's largest (12 s, 1080p, 24 fps, a detailed picture panning, with
sound, at a high bitrate), then re-encodes it with `bot.media.transcode.fit_file` to the default
10 MiB limit and prints wall time, CPU time, sizes and the bot's peak RSS rise while it ran.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import random
import resource
import struct
import tempfile
import time
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av

from bench.procstats import machine
from bot.media.transcode import fit_file

_RATE = 48000
MiB = 1024 * 1024


def make_source(
    path: Path, width: int, height: int, seconds: float, fps: int, pix_fmt: str = "yuv420p"
) -> None:
    """A panning random texture (hard to compress, like a detailed scene) with a tone, in
    H.264 of `pix_fmt`, the index last (as the mp4 muxer writes it unless told otherwise)."""
    rng = random.Random(1)
    pad = 8 * round(seconds * fps)
    texture = [rng.randbytes((width + pad) * 4) for _ in range(height + pad)]
    with av.open(str(path), "w", format="mp4") as out:
        video = out.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, pix_fmt
        video.bit_rate = 25_000_000
        video.options = {"preset": "ultrafast"}
        audio = out.add_stream("aac", rate=_RATE)
        for index in range(round(seconds * fps)):
            dx, dy = 4 * index, 2 * index
            rows = (row[dx * 4 : (dx + width) * 4] for row in texture[dy : dy + height])
            frame = av.VideoFrame.from_bytes(b"".join(rows), width, height, format="rgba")
            out.mux(video.encode(frame))
        out.mux(video.encode())
        samples = 1024
        for start in range(0, int(_RATE * seconds), samples):
            values = (
                int(6000 * math.sin(2 * math.pi * 440 * (start + i) / _RATE))
                for i in range(samples)
            )
            frame = av.AudioFrame(format="s16", layout="mono", samples=samples)
            frame.planes[0].update(struct.pack(f"<{samples}h", *values))
            frame.sample_rate, frame.pts, frame.time_base = _RATE, start, Fraction(1, _RATE)
            out.mux(audio.encode(frame))
        out.mux(audio.encode())


def main(argv: Sequence[str] | None = None) -> None:
    """Run the measurement and print the figures."""
    parser = argparse.ArgumentParser(prog="python -m bench.reencode", description=__doc__)
    parser.add_argument("--width", type=int, default=1920)
    parser.add_argument("--height", type=int, default=1080)
    parser.add_argument("--seconds", type=float, default=12.0)
    parser.add_argument("--fps", type=int, default=24)
    parser.add_argument("--limit-mib", type=float, default=10.0)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-reencode-") as folder:
        work = Path(folder)
        source = work / "source.mp4"
        # Made in a child process, so the peak RSS below is the re-encode's own.
        maker = multiprocessing.Process(
            target=make_source, args=(source, args.width, args.height, args.seconds, args.fps)
        )
        maker.start()
        maker.join()
        limit = int(args.limit_mib * MiB)
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        cpu0, wall0 = time.process_time(), time.perf_counter()
        result = fit_file(source, limit, directory=work)
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"machine: {machine()}")
        print(
            f"source: {args.width}x{args.height}, {args.seconds:g} s at {args.fps} fps, "
            f"{source.stat().st_size / MiB:.1f} MiB; limit {args.limit_mib:g} MiB"
        )
        if result is None:
            print("result: cannot fit")
        else:
            print(
                f"result: {result.size_bytes / MiB:.2f} MiB at {result.width}x{result.height}, "
                f"attempt {result.attempts}"
            )
        print(f"wall time {wall:.1f} s, CPU time {cpu:.1f} s")
        print(f"peak RSS {rss_before:.0f} -> {rss_after:.0f} MiB")


if __name__ == "__main__":
    main()
