"""Smoke runs of the benchmark and the soak at tiny sizes, so neither can rot.

They check that every workload runs and reports, and the soak's correctness figures; never
timings (the machines are noisy; speed claims belong in the benchmark's own output).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.fakes.harness import REPO_ROOT
from tests.postgres_server import PostgresMissingError, binaries


def _run(*argv: str, timeout_s: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *argv],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


def _figure(output: str, label: str) -> str:
    match = re.search(rf"^{re.escape(label)}\s+(.+)$", output, re.MULTILINE)
    assert match is not None, f"{label!r} missing from:\n{output}"
    return match[1].strip()


def test_bench_runs_every_workload_at_tiny_size() -> None:
    result = _run(
        "-m", "bench",
        "--only", "burst,scale,bigclip,history,variations,media",  # cluster: its own test
        "--burst", "3", "--time-scale", "0.02", "--scale-levels", "2",
        "--scale-window", "2", "--big-clip-mib", "3",
        "--history-jobs", "2000", "--history-users", "50", "--samples", "10",
        "--variations-groups", "2",
        "--media-seconds", "1", "--media-height", "120",
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert re.search(r"\| jobs delivered +\| 3/3 ", out), out
    assert "ack latency, 3 calls at once" in out
    assert "2 jobs in flight: peak RSS" in out
    assert "peak RSS rise delivering a 3 MiB clip (as file)" in out
    assert re.search(r"\| admin usage report, all time .*, 2,000 jobs +\| [0-9.]+ ms", out), out
    assert "USING INDEX jobs_by_user_time" in out, "the /usage query plans are printed"
    assert re.search(r"\| ETA history .*, 2,000 jobs +\| [0-9.]+ ms", out), out
    assert "USING COVERING INDEX jobs_by_eta_settings" in out, "the ETA query plan is printed"
    purge = r"\| daily retention purge .*, 2,000 jobs +\| [0-9.]+ ms .*\(the first one"
    assert re.search(purge, out), out
    assert "time scale 0.02" in out, "the settings used are printed"
    assert re.search(r"\| bot CPU per clip, 2 x 4 variations +\| [0-9.]+ ms", out), out
    assert re.search(r"\| bot CPU per clip, 8 single jobs +\| [0-9.]+ ms", out), out
    for operation in ("remux (index last", "re-encode (H.264 yuv444p", "GIF button"):
        row = rf"\| {re.escape(operation)}.*1 s 120p clip .*\| peak RSS \d+ MiB"
        assert re.search(row, out), out
    assert "remux made: " in out
    assert "h264 yuv420p faststart" in out, "what the remux and re-encode made is printed"


def test_bench_cluster_workload_runs_at_tiny_size() -> None:
    try:
        binaries()
    except PostgresMissingError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the PostgreSQL tests: {exc}")
        pytest.skip(str(exc))

    result = _run(
        "-m", "bench", "--only", "cluster",
        "--cluster-burst", "4", "--cluster-admission", "5", "--cluster-warmup", "2",
        "--cluster-idle", "1", "--time-scale", "0.05",
        "--job-lease-s", "2", "--job-poll-s", "0.5",
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    out = result.stdout
    for config in ("3 processes, PostgreSQL", "1 process, PostgreSQL", "1 process, SQLite"):
        assert re.search(rf"\| ack latency, 4 calls at once, {config} +\| [0-9.]+ ms", out), out
        assert re.search(rf"\| jobs delivered, {config} +\| 4/4 ", out), out
        assert re.search(rf"\| bot CPU per job .*, {config} +\| [0-9.]+ ms", out), out
    for config in ("3 processes, PostgreSQL", "1 process, PostgreSQL"):
        assert re.search(rf"\| database statements per job, {config} +\| [0-9.]+ ", out), out
        assert re.search(rf"\| PostgreSQL server CPU per job, {config} +\| [0-9.]+ ms", out), out
        connections = rf"\| bots' PostgreSQL connections in the burst, {config} +\| \d+ open "
        assert re.search(connections, out), out
    assert "database statements per job, 1 process, SQLite" not in out
    assert re.search(r"\| idle: database statements per second per process.* \| [0-9.]+ ", out)
    assert re.search(r"\| admission, 5 calls at once .*-> ack +\| [0-9.]+ ms", out), out
    takeover = re.search(
        r"takeover after SIGKILL, (\d+) jobs held by bench-\d \((\d+) takeover", out
    )
    assert takeover is not None, out
    assert int(takeover[1]) > 0
    assert takeover[1] == takeover[2], "one takeover log line per job taken over"
    assert re.search(r"\| after the takeover: .* \| 5/5 +\| 5 posts; 5 submits ", out), out
    assert "JOB_LEASE_S=2, JOB_POLL_S=0.5" in out, "the settings used are printed"
    assert "most frequent statements per job, 3 processes, PostgreSQL:" in out


def test_soak_loses_and_duplicates_nothing_at_tiny_size() -> None:
    result = _run(
        "-m", "bench.soak",
        "--jobs", "40", "--users", "10", "--open-max", "10", "--fault-rate", "0.05",
    )  # fmt: skip

    out = result.stdout
    assert result.stderr == "" or "Traceback" not in result.stderr, result.stderr
    accepted = int(_figure(out, "jobs accepted"))
    delivered = int(_figure(out, "delivered"))
    failed = int(_figure(out, "failed with a user message"))
    assert accepted > 0
    assert _figure(out, "lost (must be 0)") == "0"
    assert _figure(out, "duplicated (must be 0)") == "0"
    assert delivered + failed == accepted
    assert _figure(out, "restarts:").count("after") == 2
